#!/usr/bin/python3
"""run.py - the uplink suite: `run.py NAME` runs one test against real servers that it
starts itself on loopback (the project's receiver for IoT Hub / Event Hubs, squid
proxies, Azurite for Blob), with certificates it makes at run time.

Environment: OUTBOX_TOOL (the built tests/uplink/outbox-tool), OTSENSOR (the built
otsensor, for the end-to-end test), PCAPS_DIR, UPLINK_TEST_DIR (this folder), AZURITE_DIR (default /var/cache/otsensor/azurite: `npm install --prefix DIR
azurite`), KEEP=1 keeps the temporary directory. Exit 0 pass, 1 fail, 77 skip.

Addresses (all port 443, as on a real sensor): receiver 127.0.0.2, Azurite 127.0.0.4,
receiver with an untrusted certificate 127.0.0.5, with an expired one 127.0.0.6.
Azure names reach them through the test-only [uplink] resolve key, and through
squid's hosts_file when a proxy is in the path.

Must never: reach anything outside 127.0.0.0/8.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.environ.get("UPLINK_TEST_DIR") or os.path.dirname(os.path.abspath(__file__))
TOOL = os.environ.get("OUTBOX_TOOL", "")
OTSENSOR = os.environ.get("OTSENSOR", "")
PCAPS = os.environ.get("PCAPS_DIR") or os.path.join(HERE, "..", "..", "pcaps")
AZURITE_DIR = os.environ.get("AZURITE_DIR", "/var/cache/otsensor/azurite")
PY = "/usr/bin/python3"

HUB = "myhub.azure-devices.net"
DEVICE = "sensor-1"
DEVICE_KEY = base64.b64encode(b"otsensor-test-device-key-32bytes").decode()
EH_NS = "myns.servicebus.windows.net"
EH_NAME = "alerts"
EH_KEY_NAME = "send"
EH_KEY = "c2VuZC1wb2xpY3kta2V5LWZvci10ZXN0cw=="
BLOB_HOST = "devstoreaccount1.blob.core.windows.net"
AZ_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development account key
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

RECV_IP, AZURITE_IP, UNTRUSTED_IP, EXPIRED_IP = "127.0.0.2", "127.0.0.4", "127.0.0.5", "127.0.0.6"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("  ok: " + what, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def wait_port(ip, port, timeout=20, proc=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise Fail("server on %s:%d exited with %s" % (ip, port, proc.returncode))
        try:
            socket.create_connection((ip, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Fail("nothing listens on %s:%d after %ds" % (ip, port, timeout))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Env:
    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="otsensor-uplink-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.n = 0
        self.make_certs()

    # ---- certificates -------------------------------------------------------
    def make_certs(self):
        d = self.dir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "ca-untrusted"):
            sh(["openssl", "req", "-x509", *ec, "-keyout", f"{d}/{ca}.key", "-out", f"{d}/{ca}.pem", "-days", "3",
                "-subj", f"/CN=otsensor test {ca}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        san = ",".join(["DNS:" + h for h in (HUB, EH_NS, BLOB_HOST, "localhost")] +
                       ["IP:" + ip for ip in ("127.0.0.1", RECV_IP, AZURITE_IP, UNTRUSTED_IP, EXPIRED_IP)])
        with open(f"{d}/ext.cnf", "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        sh(["openssl", "req", "-new", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", "/CN=" + HUB])
        for name, ca in (("server", "ca"), ("server-untrusted", "ca-untrusted")):
            sh(["openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/{ca}.pem", "-CAkey", f"{d}/{ca}.key",
                "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", f"{d}/ext.cnf"])
        # expired: signed by the trusted CA, valid only in 2020 (openssl ca sets the dates)
        os.makedirs(f"{d}/ca-db", exist_ok=True)
        open(f"{d}/ca-db/index.txt", "w").close()
        with open(f"{d}/ca-db/serial", "w") as f:
            f.write("1000\n")
        with open(f"{d}/ca.cnf", "w") as f:
            f.write(f"""[ca]
default_ca = test
[test]
dir = {d}/ca-db
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
certificate = {d}/ca.pem
private_key = {d}/ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = {san}
""")
        sh(["openssl", "ca", "-batch", "-config", f"{d}/ca.cnf", "-in", f"{d}/server.csr", "-out", f"{d}/server-expired.pem",
            "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext"])
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644) if os.path.isfile(os.path.join(d, f)) else None

    # ---- servers ---------------------------------------------------------------
    def start(self, cmd, ip, port, log):
        out = open(log, "a")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        wait_port(ip, port, proc=p)
        return p

    def receiver(self, ip=RECV_IP, cert="server", log="received.jsonl"):
        cmd = [PY, os.path.join(HERE, "receiver.py"), "--bind", ip, "--port", "443",
               "--cert", f"{self.dir}/{cert}.pem", "--key", f"{self.dir}/server.key",
               "--iothub-host", HUB, "--device-id", DEVICE, "--device-key", DEVICE_KEY,
               "--eventhub-host", EH_NS, "--eventhub-name", EH_NAME, "--eventhub-key-name", EH_KEY_NAME,
               "--eventhub-key", EH_KEY, "--log", f"{self.dir}/{log}", "--control", f"{self.dir}/control.json"]
        return self.start(cmd, ip, 443, f"{self.dir}/receiver.out")

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def control(self, **kw):
        self.n += 1
        kw["seq"] = self.n
        with open(f"{self.dir}/control.json.tmp", "w") as f:
            json.dump(kw, f)
        os.rename(f"{self.dir}/control.json.tmp", f"{self.dir}/control.json")

    def squid(self, name, auth=False, parent_port=None, tls=False):
        d = f"{self.dir}/squid-{name}"
        os.makedirs(d)
        os.chmod(d, 0o777)
        port = free_port()
        with open(f"{d}/hosts", "w") as f:
            f.write(f"{RECV_IP} {HUB} {EH_NS}\n{AZURITE_IP} {BLOB_HOST}\n")
        listen = (f"https_port 127.0.0.1:{port} tls-cert={self.dir}/server.pem tls-key={self.dir}/server.key"
                  if tls else f"http_port 127.0.0.1:{port}")
        conf = [listen, f"pid_filename {d}/squid.pid", f"access_log stdio:{d}/access.log",
                f"cache_log {d}/cache.log", "cache_store_log none", f"coredump_dir {d}", "cache deny all",
                "cache_mem 8 MB", f"hosts_file {d}/hosts", "shutdown_lifetime 0 seconds", "netdb_filename none",
                "logfile_rotate 0", "acl SSL_ports port 443", "acl CONNECT method CONNECT",
                "http_access deny CONNECT !SSL_ports", "http_access deny !CONNECT"]
        if auth:
            salt = base64.b64encode(os.urandom(6)).decode()[:8].replace("+", ".")
            hp = sh(["openssl", "passwd", "-apr1", "-salt", salt, "s3cret"]).stdout.strip()
            with open(f"{d}/htpasswd", "w") as f:
                f.write(f"sensor:{hp}\n")
            os.chmod(f"{d}/htpasswd", 0o644)
            conf += [f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/htpasswd",
                     "auth_param basic realm otsensor-test", "auth_param basic children 2",
                     "acl authed proxy_auth REQUIRED", "http_access allow localhost authed"]
        else:
            conf += ["http_access allow localhost"]
        conf += ["http_access deny all"]
        if parent_port:
            conf += [f"cache_peer 127.0.0.1 parent {parent_port} 0 no-query no-digest default name=next",
                     "never_direct allow all"]
        with open(f"{d}/squid.conf", "w") as f:
            f.write("\n".join(conf) + "\n")
        os.chmod(f"{d}/squid.conf", 0o644)
        self.start(["/usr/sbin/squid", "-N", "-f", f"{d}/squid.conf"], "127.0.0.1", port, f"{d}/stdout.log")
        return port, d

    def azurite(self, optional=False):
        exe = os.path.join(AZURITE_DIR, "node_modules", ".bin", "azurite-blob")
        if not os.path.exists(exe):
            exe = shutil.which("azurite-blob") or ""
        if not exe and optional:
            return None
        if not exe:
            print("SKIP: azurite is not installed: npm install --prefix %s azurite" % AZURITE_DIR)
            sys.exit(77)
        d = f"{self.dir}/azurite"
        os.makedirs(d)
        cmd = [exe, "--blobHost", AZURITE_IP, "--blobPort", "443", "--location", d, "--cert", f"{self.dir}/server.pem",
               "--key", f"{self.dir}/server.key", "--skipApiVersionCheck", "--loose", "--silent",
               "--debug", f"{d}/debug.log"]
        return self.start(cmd, AZURITE_IP, 443, f"{d}/stdout.log")

    def cleanup(self):
        for p in self.procs:
            self.stop(p, signal.SIGKILL)
        if os.environ.get("KEEP"):
            print("kept " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the sensor side ---------------------------------------------------------
    def config(self, name="uplink.ini", **kw):
        u = {"mode": "direct", "iothub_host": HUB, "device_id": DEVICE, "sas_key": DEVICE_KEY,
             "ca_file": f"{self.dir}/ca.pem", "retry_min": "1", "retry_max": "2", "drain_timeout": "60",
             "health_interval": "0", "timeout": "10"}
        resolve = kw.pop("resolve", [f"{HUB}:443:{RECV_IP}", f"{EH_NS}:443:{RECV_IP}", f"{BLOB_HOST}:443:{AZURITE_IP}"])
        for k, v in kw.items():
            if v is None:
                u.pop(k, None)
            else:
                u[k] = str(v)
        lines = ["[sensor]", "name = test sensor", "[uplink]"] + ["%s = %s" % kv for kv in u.items()]
        lines += ["resolve = " + r for r in resolve]
        path = f"{self.dir}/{name}"
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def tool(self, conf, *args, state="state", timeout=300, check_rc=True):
        r = subprocess.run([TOOL, f"{self.dir}/{state}", conf, *map(str, args)], capture_output=True, text=True,
                           timeout=timeout)
        if check_rc and r.returncode != 0:
            raise Fail("outbox-tool %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr))
        return r

    def tool_json(self, conf, *args, **kw):
        r = self.tool(conf, *args, **kw)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        return json.loads(lines[-1]), r

    def status(self, conf, state="state"):
        return json.loads(self.tool(conf, "status", "--json", state=state).stdout)

    def received(self, log="received.jsonl"):
        path = f"{self.dir}/{log}"
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]


def accepted(recs, rec_type=None):
    return [r for r in recs if r.get("id") and r.get("status") in (201, 204) and
            (rec_type is None or r.get("rec_type") == rec_type)]


def summary(recs, prefix, n):
    got = [r for r in accepted(recs, "alert") if (r.get("key") or "").startswith(prefix + "-")]
    keys = [r["key"] for r in got]
    missing = n - len(set(keys))
    dups = len(keys) - len(set(keys))
    return missing, dups, len(set(keys))


# ---- tests -----------------------------------------------------------------------

def t_sas(env):
    """SAS tokens match an independent implementation of Azure's documented scheme."""
    se = 1900000000
    res = f"{HUB}/devices/{DEVICE}"
    tok = env_tool_sas("iothub", res, DEVICE_KEY, "-", se)
    enc = urllib.parse.quote(res, safe="")
    sig = base64.b64encode(hmac.new(base64.b64decode(DEVICE_KEY), f"{enc}\n{se}".encode(), hashlib.sha256).digest()).decode()
    want = f"SharedAccessSignature sr={enc}&sig={urllib.parse.quote(sig, safe='')}&se={se}"
    check(tok == want, "IoT Hub token = HMAC-SHA256(base64-decoded key, url-encoded URI + \\n + expiry)")
    res2 = f"https://{EH_NS}/{EH_NAME}"
    tok2 = env_tool_sas("servicebus", res2, EH_KEY, EH_KEY_NAME, se)
    enc2 = urllib.parse.quote(res2, safe="")
    sig2 = base64.b64encode(hmac.new(EH_KEY.encode(), f"{enc2}\n{se}".encode(), hashlib.sha256).digest()).decode()
    want2 = f"SharedAccessSignature sr={enc2}&sig={urllib.parse.quote(sig2, safe='')}&se={se}&skn={EH_KEY_NAME}"
    check(tok2 == want2, "Event Hubs token = HMAC-SHA256(key bytes, url-encoded URI + \\n + expiry) with skn")
    sys.path.insert(0, HERE)
    import receiver
    check(receiver.check_sas(tok, [res], base64.b64decode(DEVICE_KEY), None) is None, "receiver accepts the IoT Hub token")
    bad = env_tool_sas("iothub", res, base64.b64encode(b"x" * 32).decode(), "-", se)
    check(receiver.check_sas(bad, [res], base64.b64decode(DEVICE_KEY), None) == "signature does not match",
          "receiver refuses a token made with another key")
    old = env_tool_sas("iothub", res, DEVICE_KEY, "-", 1000)
    check("expired" in receiver.check_sas(old, [res], base64.b64decode(DEVICE_KEY), None), "receiver refuses an expired token")


def env_tool_sas(flavour, res, key, kn, se):
    r = subprocess.run([TOOL, "sas", flavour, res, key, kn, str(se)], capture_output=True, text=True)
    if r.returncode:
        raise Fail("sas: " + r.stderr)
    return r.stdout.strip()


def t_outbox(env):
    """Air-gapped mode, coalescing, caps and the documented policy when full (no network)."""
    off = env.config("off.ini", mode="off")
    j, _ = env.tool_json(off, "enqueue-alerts", 10, state="s-off")
    check(j["off"] == 10 and j["queued"] == 0, "mode = off queues nothing")
    st, _ = env.tool_json(off, "stats", state="s-off")
    check(st["depth"] == 0, "mode = off keeps the outbox empty")
    s = env.status(off, state="s-off")
    check(s["state"] == "never started" and s["queue_depth"] == 0, "ctl status on an air-gapped state: queue 0")

    for name, kw, words in (("port", {"blob_url": "https://x.blob.core.windows.net:8443/c?sv=1"}, "port 8443 is not allowed"),
                            ("noproxy", {"mode": "proxy"}, "needs proxy"),
                            ("http", {"blob_url": "http://x.blob.core.windows.net/c"}, "must start with https://")):
        r = env.tool(env.config(name + ".ini", **kw), "stats", state="s-bad", check_rc=False)
        check(r.returncode == 2 and words in r.stderr, f"config refused: {r.stderr.strip()}")

    conf = env.config("tx.ini")
    env.tool(conf, "enqueue-alerts", 3, state="s-tx")
    j, _ = env.tool_json(conf, "enqueue-abort", state="s-tx")
    st, _ = env.tool_json(conf, "stats", state="s-tx")
    check(j["rc"] == 0 and st["depth"] == 3, "an outbox entry put in an aborted transaction vanishes with it")

    conf = env.config("cap.ini", outbox_max_entries=100)
    j, _ = env.tool_json(conf, "enqueue-devices", 20, 10, state="s-cap")
    st, _ = env.tool_json(conf, "stats", state="s-cap")
    check(st["depth"] == 20 and st["coalesced"] == 180, "20 devices x 10 updates coalesce to 20 entries")
    j, _ = env.tool_json(conf, "enqueue-alerts", 150, state="s-cap")
    st, _ = env.tool_json(conf, "stats", state="s-cap")
    check(st["evicted_devices"] == 20, "device updates are evicted first when full")
    check(j["queued"] == 100 and j["dropped"] == 50 and st["alerts_dropped"] == 50,
          "alerts beyond the cap are counted (100 queued, 50 counted as dropped)")
    check(st["full"] == 1 and st["depth"] == 101, "one 'outbox_full' health alert is queued beyond the cap")
    txt = env.tool(conf, "status", state="s-cap").stdout
    print(txt)
    check("OUTBOX FULL" in txt and "alerts 50" in txt, "ctl uplink status shows the full outbox and the count")


def t_iothub(env):
    """IoT Hub D2C: everything arrives once, SAS renewal, health, 401/429/503 handling."""
    env.receiver()
    conf = env.config(health_interval=1)
    env.tool(conf, "enqueue-alerts", 200, "a")
    env.tool(conf, "enqueue-devices", 20, 3)
    st, r = env.tool_json(conf, "drain")
    recs = env.received()
    missing, dups, got = summary(recs, "a", 200)
    check(missing == 0 and dups == 0, f"200 alerts delivered once each (got {got}, dups {dups})")
    devs = accepted(recs, "device")
    check(len(devs) == 20, "20 coalesced device updates delivered")
    check(all(r["type"] == "alert" and r["sensor"] == "test sensor" for r in accepted(recs, "alert")),
          "record type and sensor name travel as message properties")
    check(st["depth"] == 0, "outbox empty after drain")
    s = env.status(conf)
    check(s["state"] == "stopped" and s["last_success"] and s["queue_depth"] == 0, "status: stopped, last success set, queue 0")
    print(env.tool(conf, "status").stdout)

    # health messages and SAS renewal (3 s tokens over ~6 s of sending)
    with open(f"{env.dir}/device.key", "w") as f:
        f.write(DEVICE_KEY + "\n")
    conf2 = env.config("renew.ini", health_interval=1, sas_ttl=3, sas_key=None, sas_key_file=f"{env.dir}/device.key")
    env.tool(conf2, "raise", 30, 200, "r", state="s2")
    recs = env.received()
    missing, dups, got = summary(recs, "r", 30)
    check(missing == 0 and dups == 0, "30 alerts raised over 6 s with 3 s tokens all arrive")
    check(not [r for r in recs if r.get("status") == 401], "no token was ever refused (renewed before expiry)")
    health = [r for r in accepted(recs, "health")]
    check(len(health) >= 2, f"health messages sent on the period ({len(health)})")
    h = health[-1]["body"]
    check(all(k in h for k in ("packets", "drops", "devices", "alerts", "queue_depth", "learning", "versions")) and
          h["versions"].get("otsensor") and h["versions"].get("libcurl") and h["sensor"] == "test sensor",
          "health carries packets, drops, devices, alerts, queue depth, learning mode, versions")

    # wrong key: the receiver refuses, nothing is lost, the error is in words
    bad = env.config("bad.ini", sas_key=base64.b64encode(b"wrong-key-wrong-key-wrong-key-32").decode(), drain_timeout=3)
    env.tool(bad, "enqueue-alerts", 5, "bad", state="s3")
    st, _ = env.tool_json(bad, "drain", state="s3")
    s = env.status(bad, state="s3")
    check(st["depth"] == 5 and "401" in (s["last_error"] or ""), "wrong SAS key: HTTP 401, all 5 alerts still queued: " + str(s["last_error"]))
    missing, _, _ = summary(env.received(), "bad", 5)
    check(missing == 5, "nothing was accepted with a wrong signature")

    # 429 with Retry-After: 2 is honoured, then everything arrives
    env.control(status=429, retry_after=2, times=1)
    env.tool(conf, "enqueue-alerts", 10, "t429", state="s4")
    t0 = time.time()
    env.tool_json(conf, "drain", state="s4")
    recs = env.received()
    forced = [r for r in recs if r.get("forced") and r["status"] == 429]
    first_ok = min(r["t"] for r in accepted(recs, "alert") if r["key"].startswith("t429-"))
    check(forced and first_ok - forced[-1]["t"] >= 1.9, "429: waited %.2fs for Retry-After: 2" % (first_ok - forced[-1]["t"]))
    check(summary(recs, "t429", 10)[:2] == (0, 0), "after 429 all 10 arrive once")

    env.control(status=503, retry_after=1, times=2)
    env.tool(conf, "enqueue-alerts", 10, "t503", state="s5")
    env.tool_json(conf, "drain", state="s5")
    recs = env.received()
    check(summary(recs, "t503", 10)[:2] == (0, 0), "after two 503s all 10 arrive once")
    env.control(status=401, times=1)
    env.tool(conf, "enqueue-alerts", 10, "t401", state="s6")
    env.tool_json(conf, "drain", state="s6")
    check(summary(env.received(), "t401", 10)[:2] == (0, 0), "after a 401 (token renewed, backoff) all 10 arrive once")
    print("  took %.1fs" % (time.time() - t0))


def t_eventhubs(env):
    """Event Hubs batch send with Service Bus SAS."""
    env.receiver()
    conf = env.config(iothub_host=None, device_id=None, eventhub_namespace=EH_NS, eventhub_name=EH_NAME,
                      eventhub_key_name=EH_KEY_NAME, eventhub_key=EH_KEY, batch_max=50, health_interval=1)
    env.tool(conf, "enqueue-alerts", 500, "e")
    env.tool(conf, "enqueue-devices", 10, 2)
    st, _ = env.tool_json(conf, "drain")
    recs = env.received()
    missing, dups, got = summary(recs, "e", 500)
    check(missing == 0 and dups == 0, f"500 alerts delivered once each via Event Hubs (got {got})")
    batches = [r.get("batch", 1) for r in accepted(recs)]
    check(max(batches) == 50, "sent in batches of up to batch_max = 50")
    check(len(accepted(recs, "device")) == 10, "device updates delivered")
    env.control(status=503, retry_after=1, times=2)
    env.tool(conf, "enqueue-alerts", 60, "e503", state="s2")
    env.tool_json(conf, "drain", state="s2")
    check(summary(env.received(), "e503", 60)[:2] == (0, 0), "after 503s with Retry-After all 60 arrive once")
    bad = env.config("bad.ini", iothub_host=None, device_id=None, eventhub_namespace=EH_NS, eventhub_name=EH_NAME,
                     eventhub_key_name="listen", eventhub_key=EH_KEY, drain_timeout=3)
    env.tool(bad, "enqueue-alerts", 3, "ebad", state="s3")
    st, _ = env.tool_json(bad, "drain", state="s3")
    s = env.status(bad, state="s3")
    check(st["depth"] == 3 and "HTTP 401" in (s["last_error"] or ""), "wrong policy name: 401 in words, kept queued")


def t_tls(env):
    """Untrusted CA, expired certificate, DNS failure: refused, with the reason in words."""
    env.receiver(ip=UNTRUSTED_IP, cert="server-untrusted", log="untrusted.jsonl")
    env.receiver(ip=EXPIRED_IP, cert="server-expired", log="expired.jsonl")
    cases = [
        ("untrusted", [f"{HUB}:443:{UNTRUSTED_IP}"], "unable to get local issuer certificate"),
        ("expired", [f"{HUB}:443:{EXPIRED_IP}"], "certificate has expired"),
    ]
    for name, resolve, words in cases:
        conf = env.config(f"{name}.ini", resolve=resolve, drain_timeout=3)
        env.tool(conf, "enqueue-alerts", 3, name, state=name)
        st, _ = env.tool_json(conf, "drain", state=name)
        s = env.status(conf, state=name)
        err = s["last_error"] or ""
        print("   last error: " + err)
        check("TLS verification failure" in err and words in err, f"{name}: refused with '{words}'")
        check(st["depth"] == 3 and not env.received(f"{name}.jsonl"), f"{name}: nothing sent, 3 alerts kept")
    conf = env.config("dns.ini", iothub_host="no-such-hub.invalid", resolve=[], drain_timeout=2)
    env.tool(conf, "enqueue-alerts", 1, "dns", state="dns")
    env.tool(conf, "drain", state="dns")
    err = env.status(conf, state="dns")["last_error"] or ""
    print("   last error: " + err)
    check(err.startswith("DNS failure"), "unknown host: 'DNS failure'")
    conf = env.config("refused.ini", resolve=[f"{HUB}:443:127.0.0.9"], drain_timeout=2)
    env.tool(conf, "enqueue-alerts", 1, "ref", state="ref")
    env.tool(conf, "drain", state="ref")
    err = env.status(conf, state="ref")["last_error"] or ""
    print("   last error: " + err)
    check("connection failed" in err, "nothing listening: 'connection failed'")
    # the trusted server with tls_min = 1.3 still works (Python's server speaks 1.3)
    env.receiver()
    conf = env.config("tls13.ini", tls_min="1.3")
    env.tool(conf, "enqueue-alerts", 3, "t13", state="t13")
    env.tool(conf, "drain", state="t13")
    check(summary(env.received(), "t13", 3)[:2] == (0, 0), "tls_min = 1.3 against a TLS 1.3 server works")


def t_proxy(env):
    """squid: plain proxy, Basic auth (good and bad password), a chain of two."""
    env.receiver()
    plain_port, plain_dir = env.squid("plain")
    auth_port, auth_dir = env.squid("auth", auth=True)
    chain_port, chain_dir = env.squid("chain", parent_port=plain_port)
    no_resolve = []   # through a proxy, the proxy resolves the Azure names (its hosts_file)

    conf = env.config("plain.ini", mode="proxy", proxy=f"http://127.0.0.1:{plain_port}", resolve=no_resolve)
    env.tool(conf, "enqueue-alerts", 50, "p", state="p")
    env.tool(conf, "drain", state="p")
    check(summary(env.received(), "p", 50)[:2] == (0, 0), "through a proxy: 50 alerts arrive once")
    log = open(f"{plain_dir}/access.log").read()
    check(f"CONNECT {HUB}:443" in log, "the proxy saw CONNECT myhub.azure-devices.net:443")
    s = env.status(conf, state="p")
    check(s["proxy"] == f"http://127.0.0.1:{plain_port}/", "status names the proxy")

    # an https:// proxy: TLS to the proxy (verified against proxy_ca_file), CONNECT inside it
    tls_port, tls_dir = env.squid("tls", tls=True)
    conf = env.config("tlsproxy.ini", mode="proxy", proxy=f"https://127.0.0.1:{tls_port}",
                      proxy_ca_file=f"{env.dir}/ca.pem", resolve=no_resolve)
    env.tool(conf, "enqueue-alerts", 20, "tp", state="tp")
    env.tool(conf, "drain", state="tp")
    check(summary(env.received(), "tp", 20)[:2] == (0, 0), "through an https:// proxy: 20 alerts arrive once")
    check(f"CONNECT {HUB}:443" in open(f"{tls_dir}/access.log").read(), "the https proxy saw the CONNECT")
    conf = env.config("tlsproxy-bad.ini", mode="proxy", proxy=f"https://127.0.0.1:{tls_port}",
                      proxy_ca_file=f"{env.dir}/ca-untrusted.pem", resolve=no_resolve, drain_timeout=3)
    env.tool(conf, "enqueue-alerts", 2, "tpb", state="tpb")
    env.tool(conf, "drain", state="tpb")
    err = env.status(conf, state="tpb")["last_error"] or ""
    print("   last error: " + err)
    check(summary(env.received(), "tpb", 2)[2] == 0 and "TLS" in err, "an https proxy with an untrusted certificate is refused")

    conf = env.config("auth.ini", mode="proxy", proxy=f"http://sensor:s3cret@127.0.0.1:{auth_port}", resolve=no_resolve)
    env.tool(conf, "enqueue-alerts", 20, "au", state="au")
    env.tool(conf, "drain", state="au")
    check(summary(env.received(), "au", 20)[:2] == (0, 0), "Basic-auth proxy with the right password: 20 arrive")
    s = env.status(conf, state="au")
    check("s3cret" not in json.dumps(s), "status never shows the proxy password")
    conf = env.config("auth-bad.ini", mode="proxy", proxy=f"http://sensor:wrong@127.0.0.1:{auth_port}",
                      resolve=no_resolve, drain_timeout=3)
    env.tool(conf, "enqueue-alerts", 2, "aub", state="aub")
    env.tool(conf, "drain", state="aub")
    err = env.status(conf, state="aub")["last_error"] or ""
    print("   last error: " + err)
    check("proxy 407" in err, "wrong proxy password: 'proxy 407' in the status")

    conf = env.config("chain.ini", mode="proxy", proxy=f"http://127.0.0.1:{chain_port}", resolve=no_resolve)
    n = 1000
    env.tool(conf, "enqueue-alerts", n, "ch", state="ch")
    st, r = env.tool_json(conf, "drain", state="ch")
    el = json.loads([l for l in r.stdout.splitlines() if l.startswith('{"elapsed"')][0])["elapsed"]
    check(summary(env.received(), "ch", n)[:2] == (0, 0), f"through a chain of two squids: {n} alerts arrive once")
    check(f"CONNECT {HUB}:443" in open(f"{chain_dir}/access.log").read() and
          "_PARENT/127.0.0.1" in open(f"{chain_dir}/access.log").read(), "first squid forwarded the CONNECT to its parent")
    print(f"  FIGURE: proxy chain, IoT Hub (one request per message): {n / el:.0f} messages/s ({n} in {el:.2f}s)")
    ehconf = env.config("chain-eh.ini", mode="proxy", proxy=f"http://127.0.0.1:{chain_port}", resolve=no_resolve,
                        iothub_host=None, device_id=None, eventhub_namespace=EH_NS, eventhub_name=EH_NAME,
                        eventhub_key_name=EH_KEY_NAME, eventhub_key=EH_KEY, batch_max=100)
    n = 5000
    env.tool(ehconf, "enqueue-alerts", n, "che", state="che")
    st, r = env.tool_json(ehconf, "drain", state="che")
    el = json.loads([l for l in r.stdout.splitlines() if l.startswith('{"elapsed"')][0])["elapsed"]
    check(summary(env.received(), "che", n)[:2] == (0, 0), f"Event Hubs through the chain: {n} alerts arrive once")
    print(f"  FIGURE: proxy chain, Event Hubs batches of 100: {n / el:.0f} messages/s ({n} in {el:.2f}s)")


def t_outage(env):
    """Stop the receiver while alerts are raised, start it again: all arrive, none twice."""
    recv = env.receiver()
    conf = env.config(retry_min=1, retry_max=2, drain_timeout=90, health_interval=1)
    n = 300
    p = subprocess.Popen([TOOL, f"{env.dir}/state", conf, "raise", str(n), "20", "out"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    env.stop(recv)                        # outage: ~3 s of the 6 s of raising
    time.sleep(3)
    mid = len(set(r["key"] for r in accepted(env.received(), "alert")))
    env.receiver()
    out, err = p.communicate(timeout=200)
    sys.stderr.write(err[-2000:])
    recs = env.received()
    missing, dups, got = summary(recs, "out", n)
    print(f"  FIGURE: outage: raised {n}, delivered {got}, duplicates {dups} (delivered before/during outage {mid})")
    check(0 < mid < n, "the outage happened while alerts were being raised")
    check(missing == 0, "every alert raised across the outage arrived")
    check(dups == 0, "no alert arrived twice")
    st = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    check(st["depth"] == 0, "outbox empty at the end")


def t_restart(env):
    """kill -9 the sensor with a full outbox; after the restart everything arrives."""
    env.receiver()
    conf = env.config(drain_timeout=120, health_interval=0)
    n = 500
    env.tool(conf, "enqueue-alerts", n, "k")
    env.tool(conf, "enqueue-devices", 50, 2)
    env.control(delay_ms=15)              # slow receiver: the drain takes ~10 s
    p = subprocess.Popen([TOOL, f"{env.dir}/state", conf, "drain"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = summary(env.received(), "k", n)[2]
    st, _ = env.tool_json(conf, "stats")
    check(0 < before < n and st["depth"] > 0, f"killed mid-drain: {before} delivered, {st['depth']} still queued")
    s = env.status(conf)
    check(s["state"].startswith("not running"), "ctl status sees the killed process: " + s["state"])
    env.control(delay_ms=0)
    st, _ = env.tool_json(conf, "drain")
    recs = env.received()
    missing, dups, got = summary(recs, "k", n)
    print(f"  FIGURE: restart after kill -9: queued {n}, delivered {got}, duplicates {dups}")
    check(missing == 0 and st["depth"] == 0, "after restart every alert arrived, outbox empty")
    check(dups <= 5, "at most the last 25 ms of acknowledgements were resent (same message ids)")
    check(len(set(r["key"] for r in accepted(recs, "device"))) == 50, "all 50 devices arrived")


class ResolvedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed loopback address with the Azure host name for SNI and checks."""
    def __init__(self, host, ip, ctx):
        super().__init__(host, 443, context=ctx, timeout=10)
        self.ip = ip

    def connect(self):
        sock = socket.create_connection((self.ip, 443), 10)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def account_sas(perm="racwdl", expiry="2099-01-01T00:00:00Z", key=AZ_KEY):
    sv = "2019-12-12"
    to_sign = "\n".join([AZ_ACCOUNT, perm, "b", "sco", "", expiry, "", "https", sv, ""])
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({"sv": sv, "ss": "b", "srt": "sco", "sp": perm, "se": expiry, "spr": "https",
                                   "sig": sig})


def t_blob(env):
    """Azurite over HTTPS: evidence pcaps and inventory snapshots with Put Blob + SAS."""
    import ssl
    env.azurite()
    ctx = ssl.create_default_context(cafile=f"{env.dir}/ca.pem")
    sas = account_sas()
    c = ResolvedHTTPS(BLOB_HOST, AZURITE_IP, ctx)
    c.request("PUT", f"/evidence?restype=container&{sas}", headers={"x-ms-version": "2019-12-12", "Content-Length": "0"})
    r = c.getresponse()
    r.read()
    check(r.status == 201, f"container created in Azurite with an account SAS ({r.status})")
    pcap = f"{env.dir}/evidence.pcap"
    with open(pcap, "wb") as f:   # a pcap with one 60-byte frame
        f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        f.write((1700000000).to_bytes(4, "little") + (0).to_bytes(4, "little") + (60).to_bytes(4, "little") * 2)
        f.write(bytes(range(60)))
    conf = env.config(blob_url=f"https://{BLOB_HOST}/evidence?{sas}")
    env.receiver()
    env.tool(conf, "enqueue-evidence", "alert-000042", pcap)
    env.tool(conf, "enqueue-evidence", "alert-gone", f"{env.dir}/missing.pcap")
    env.tool(conf, "enqueue-snapshot")
    env.tool(conf, "enqueue-alerts", 5, "b")
    st, _ = env.tool_json(conf, "drain")
    check(st["depth"] == 0 and st["rejected"] == 1, "blobs sent, the evidence whose file is gone counted as rejected")
    c = ResolvedHTTPS(BLOB_HOST, AZURITE_IP, ctx)
    c.request("GET", f"/evidence/test_sensor/evidence/alert-000042.pcap?{sas}", headers={"x-ms-version": "2019-12-12"})
    r = c.getresponse()
    body = r.read()
    check(r.status == 200 and body == open(pcap, "rb").read(), "the evidence pcap in Blob Storage is byte-identical")
    check(r.getheader("x-ms-meta-recordtype") == "evidence" and r.getheader("x-ms-meta-messageid"),
          "blob metadata carries record type and message id")
    c = ResolvedHTTPS(BLOB_HOST, AZURITE_IP, ctx)
    c.request("GET", f"/evidence?restype=container&comp=list&prefix=test_sensor/inventory/&{sas}",
              headers={"x-ms-version": "2019-12-12"})
    r = c.getresponse()
    listing = r.read().decode()
    check(r.status == 200 and "test_sensor/inventory/" in listing and ".json" in listing, "inventory snapshot uploaded")
    check(summary(env.received(), "b", 5)[:2] == (0, 0), "alerts went to IoT Hub meanwhile")
    # a SAS signed with another key is refused by Azurite: the error names the status
    badsas = account_sas(key=base64.b64encode(b"k" * 64).decode())
    bad = env.config("bad.ini", blob_url=f"https://{BLOB_HOST}/evidence?{badsas}", drain_timeout=3)
    env.tool(bad, "enqueue-snapshot", state="s2")
    st, _ = env.tool_json(bad, "drain", state="s2")
    err = env.status(bad, state="s2")["last_error"] or ""
    print("   last error: " + err)
    check(st["depth"] == 1 and "HTTP 403" in err, "a bad blob SAS: HTTP 403 in words, snapshot kept")


def otsensor(*args, timeout=300):
    return subprocess.run([OTSENSOR, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def blob_get(ctx, path, sas):
    c = ResolvedHTTPS(BLOB_HOST, AZURITE_IP, ctx)
    c.request("GET", f"{path}{'&' if '?' in path else '?'}{sas}", headers={"x-ms-version": "2019-12-12"})
    r = c.getresponse()
    return r.status, r.read()


def t_replay(env):
    """End to end: `otsensor replay` with [uplink] = direct; alerts, devices, evidence, snapshot arrive; mode = off queues nothing."""
    import ssl
    if not OTSENSOR or not os.access(OTSENSOR, os.X_OK):
        raise Fail("OTSENSOR is not set to the built otsensor")
    pcap = os.path.join(PCAPS, "scenarios", "s7-stop.pcap")
    env.receiver()
    blob = env.azurite(optional=True)
    ctx = ssl.create_default_context(cafile=f"{env.dir}/ca.pem")
    sas = account_sas()
    kw = {"snapshot_interval": 3600}
    if blob:
        c = ResolvedHTTPS(BLOB_HOST, AZURITE_IP, ctx)
        c.request("PUT", f"/evidence?restype=container&{sas}", headers={"x-ms-version": "2019-12-12", "Content-Length": "0"})
        r = c.getresponse()
        r.read()
        check(r.status == 201, "Azurite container created")
        kw["blob_url"] = f"https://{BLOB_HOST}/evidence?{sas}"
    else:
        print("  note: Azurite is not installed: evidence and snapshot uploads are not checked")
    conf = env.config("replay.ini", **kw)
    state = f"{env.dir}/state"
    r = otsensor("replay", "--config", conf, "--state", state, "--learning", "off", "--emit", "alerts,devices", pcap)
    check(r.returncode == 0, f"replay with the uplink exits 0 ({r.returncode}: {r.stderr.strip()[-300:]})")
    recs = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    alerts = [x for x in recs if x.get("kind") and x.get("severity")]
    devices = [x for x in recs if not (x.get("kind") and x.get("severity")) and str(x.get("id", "")).startswith(("m-", "i-"))]
    check(alerts, f"the replay raised alerts ({len(alerts)})")
    got = env.received()
    acc = [x for x in got if x.get("id") and x.get("status") in (201, 204)]
    by_type = {}
    for x in acc:
        by_type.setdefault(x.get("type"), []).append(x)
    al = by_type.get("alert", [])
    keys = [x["key"] for x in al]
    want = {a["id"] for a in alerts}
    dups_msg = sum(1 for x in al if x.get("dup"))
    dups_key = len(keys) - len(set(keys))
    missing = want - set(keys)
    print(f"  FIGURE: replay e2e: alerts raised {len(want)}, delivered {len(set(keys) & want)}, "
          f"duplicates {max(dups_msg, dups_key)}, extra {len(set(keys) - want)}")
    check(not missing and dups_msg == 0 and dups_key == 0 and set(keys) == want,
          "every alert the replay reported arrived exactly once (by message id and alert id)")
    dv = by_type.get("device", [])
    dkeys = {x["key"] for x in dv}
    print(f"  FIGURE: replay e2e: devices {len(devices)}, device messages {len(dv)} ({len(dkeys)} devices)")
    check(devices and {d["id"] for d in devices} <= dkeys, "a device message arrived for every device in the inventory")
    check(all(x.get("sensor") == "test sensor" for x in acc), "every message names the sensor")
    st = json.loads(otsensor("ctl", "--state", state, "--json", "uplink", "status").stdout)
    print("  status: " + json.dumps(st))
    check(st["last_success"] and st["queue_depth"] == 0 and st["state"] == "stopped",
          "ctl uplink status: stopped, last success set, queue depth 0")
    if blob:
        ev = [a for a in alerts if a.get("evidence")]
        check(ev, f"alerts with evidence: {len(ev)}")
        okn = 0
        for a in ev:
            status, body = blob_get(ctx, f"/evidence/test_sensor/evidence/{a['id']}.pcap", sas)
            if status == 200 and os.path.exists(a["evidence"]) and body == open(a["evidence"], "rb").read():
                okn += 1
        print(f"  FIGURE: replay e2e: evidence files {len(ev)}, byte-identical blobs {okn}")
        check(okn == len(ev), "every evidence pcap reached Blob Storage byte-identical")
        status, listing = blob_get(ctx, "/evidence?restype=container&comp=list&prefix=test_sensor/inventory/", sas)
        check(status == 200 and b".json" in listing, "the final inventory snapshot reached Blob Storage")
        name = listing.decode().split("<Name>")[1].split("</Name>")[0]
        status, body = blob_get(ctx, "/evidence/" + name, sas)
        snap = json.loads(body)
        check(snap.get("type") == "inventory" and len(snap.get("devices", [])) == len(devices),
              f"the snapshot lists all {len(devices)} devices")

    # the same replay again on the same state: nothing is new, nothing is resent
    n_before = len(acc)
    r = otsensor("replay", "--config", conf, "--state", state, "--learning", "off", "--emit", "alerts", pcap)
    acc2 = [x for x in env.received() if x.get("id") and x.get("status") in (201, 204)]
    new_alerts = [x for x in acc2[n_before:] if x.get("type") == "alert"]
    new_devs = {x["key"] for x in acc2[n_before:] if x.get("type") == "device"}
    print(f"  FIGURE: replay again: alert messages {len(new_alerts)}, device messages for {len(new_devs)} of {len(devices)} "
          "devices (records that changed again, e.g. a model named by two identity sources)")
    check(r.returncode == 0 and not new_alerts, "replaying it again resends no alert (they fold into the stored ones)")
    check(len(new_devs) < len(devices) // 2, "and only devices whose record changed are sent again, not the inventory")

    # air-gapped: the same replay queues nothing
    off = env.config("off.ini", mode="off")
    r = otsensor("replay", "--config", off, "--state", f"{env.dir}/state-off", "--learning", "off", "--emit", "alerts", pcap)
    n_off = r.stdout.count('"severity"')
    check(r.returncode == 0 and n_off, f"mode = off: the replay still raises and stores its alerts ({n_off})")
    st = json.loads(otsensor("ctl", "--state", f"{env.dir}/state-off", "--json", "uplink", "status").stdout)
    check(st["state"] == "off" and st["queue_depth"] == 0, f"mode = off: ctl uplink status says off, queue depth 0 ({st['state']}, {st['queue_depth']})")

    # a bad [uplink] value stops the replay with exit status 2, naming the key
    bad = env.config("bad.ini", mode="proxy")
    r = otsensor("replay", "--config", bad, "--state", f"{env.dir}/state-bad", pcap)
    check(r.returncode == 2 and "needs proxy" in r.stderr, f"bad [uplink]: exit 2 ({r.returncode}: {r.stderr.strip()})")


TESTS = {"sas": t_sas, "outbox": t_outbox, "iothub": t_iothub, "eventhubs": t_eventhubs, "tls": t_tls,
         "proxy": t_proxy, "outage": t_outage, "restart": t_restart, "blob": t_blob,
         "replay": t_replay}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in TESTS:
        sys.exit("usage: run.py " + "|".join(TESTS))
    if not TOOL or not os.access(TOOL, os.X_OK):
        sys.exit("OUTBOX_TOOL is not set to the built outbox-tool")
    # meson's timeout sends SIGTERM: still stop the servers and keep the evidence
    def on_term(signum, frame):
        raise Fail("terminated (timeout?)")
    signal.signal(signal.SIGTERM, on_term)
    env = Env(name)
    print(f"uplink-{name}: {TESTS[name].__doc__}", flush=True)
    try:
        TESTS[name](env)
    except Fail as e:
        print("FAIL: %s (files in %s)" % (e, env.dir))
        os.environ["KEEP"] = "1"
        env.cleanup()
        return 1
    except Exception:
        os.environ["KEEP"] = "1"
        env.cleanup()
        raise
    env.cleanup()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
