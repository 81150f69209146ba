#!/usr/bin/python3
"""test_cli.py - the otsensor command line as a user meets it: exit statuses, error
messages that name the flag/file/line at fault, truncated captures, the summary, stats
records, and the same records for any number of workers.

Must never: pass without having run the binary.
Usage: test_cli.py OTSENSOR SOURCE_ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

OTS, ROOT = sys.argv[1], sys.argv[2]
SHARED = os.path.join(ROOT, "..", "shared", "pcaps")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(*args, **kw):
    return subprocess.run([OTS, *args], capture_output=True, text=True, timeout=300, **kw)


def captures():
    """A few real captures: the demo plant and Modbus captures of the shared corpus."""
    out = []
    demo = os.path.join(ROOT, "pcaps", "demo-plant.pcap")
    if os.path.exists(demo):
        out.append(demo)
    for rel in ["ics-security-tools/ModbusTCP/ModbusTCP.pcap", "ics-security-tools/ModbusTCP/mb2.pcap",
                "ics-security-tools/bro/modbus"]:
        p = os.path.join(SHARED, rel)
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith((".pcap", ".pcapng")))[:3]
        elif os.path.exists(p):
            out.append(p)
    return out


tmp = tempfile.mkdtemp(prefix="otsensor-cli-")
try:
    caps = captures()
    check(len(caps) >= 2, "test captures found (../shared/pcaps beside the checkout)")

    # --- start-up: libcurl (and the 32 libraries it needs) is opened by the uplink when it
    # first needs it, not loaded by every command
    r = subprocess.run(["ldd", OTS], capture_output=True, text=True)
    check(r.returncode == 0 and "libcurl" not in r.stdout, "libcurl not linked (the uplink opens it): " + r.stdout)
    r = run("replay", caps[0], env=dict(os.environ, LD_DEBUG="files"))
    check(r.returncode == 0 and "libcurl" not in r.stderr, "replay without an uplink does not open libcurl")

    # --- usage errors: exit 2, naming what is wrong
    r = run()
    check(r.returncode == 2 and "no command" in r.stderr, "no command -> 2")
    r = run("replay", "--bogus", caps[0])
    check(r.returncode == 2 and "--bogus" in r.stderr, "unknown flag named, exit 2")
    r = run("replay", "--emit", "pdus,nonsense", caps[0])
    check(r.returncode == 2 and "nonsense" in r.stderr, "bad --emit item named, exit 2")
    r = run("replay", "--workers", "0", caps[0])
    check(r.returncode == 2 and "--workers" in r.stderr, "bad --workers, exit 2")
    r = run("replay")
    check(r.returncode == 2, "replay without files -> 2")
    r = run("replay", os.path.join(tmp, "missing.pcap"))
    check(r.returncode == 2 and "missing.pcap" in r.stderr, "missing capture named, exit 2")
    notpcap = os.path.join(tmp, "notes.txt")
    open(notpcap, "w").write("hello\n")
    r = run("replay", notpcap)
    check(r.returncode == 2 and "notes.txt" in r.stderr, "non-capture file named, exit 2")

    # --- configuration errors: file and line named, exit 2
    def conf(text):
        p = os.path.join(tmp, "otsensor.ini")
        open(p, "w").write(text)
        return run("replay", "--config", p, caps[0])

    r = conf("[sensor]\nname = a\nworkerz = 2\n")
    check(r.returncode == 2 and "otsensor.ini:3" in r.stderr and "workerz" in r.stderr, "unknown key: file:line")
    r = conf("[sensor]\nworkers = many\n")
    check(r.returncode == 2 and "otsensor.ini:2" in r.stderr and "many" in r.stderr, "bad value: file:line")
    r = conf("[sensor]\npin_cpus = sometimes\n")
    check(r.returncode == 2 and "otsensor.ini:2" in r.stderr and "sometimes" in r.stderr, "bad pin_cpus: file:line")
    r = conf("[sensor]\npin_cpus = true\n")
    check(r.returncode == 0 and "cannot pin" not in r.stderr, "pin_cpus = true accepted: " + r.stderr)
    r = conf("[sensor]\n[nosuch]\nkey = 1\n")
    check(r.returncode == 2 and "nosuch" in r.stderr, "unknown section named")
    r = conf("[uplink]\nmode = sideways\n")
    check(r.returncode == 2 and "sideways" in r.stderr, "bad uplink mode named")
    r = conf("[sensor]\nthis is not ini\n")
    check(r.returncode == 2 and "otsensor.ini:2" in r.stderr, "syntax error line named")
    r = run("replay", "--config", os.path.join(tmp, "nope.ini"), caps[0])
    check(r.returncode == 2 and "nope.ini" in r.stderr, "missing config named")
    r = conf("[sensor]\nname = plant-a ; inline comment\nworkers = 2\n[capture]\nbackend = pcap\n")
    check(r.returncode == 0, "valid config accepted: " + r.stderr)

    # --- truncated capture: what is readable is processed, the byte is named, exit 1
    data = open(caps[0], "rb").read()
    cut = os.path.join(tmp, "cut.pcap")
    open(cut, "wb").write(data[: len(data) * 2 // 3])
    r = run("replay", "--emit", "stats", cut)
    check(r.returncode == 1 and "at byte" in r.stderr and "cut.pcap" in r.stderr, "truncated file -> 1 with byte")
    stats = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    check(stats and stats[-1]["type"] == "stats" and stats[-1]["packets"] > 0, "truncated file still processed")
    # garbage after a good header must not hang or crash
    junk = os.path.join(tmp, "junk.pcap")
    open(junk, "wb").write(data[:24] + os.urandom(4096))
    r = run("replay", junk)
    check(r.returncode in (0, 1), "random records after the header: no crash (rc %d)" % r.returncode)

    # --- human summary
    r = run("replay", caps[0])
    check(r.returncode == 0 and "packets" in r.stdout and "PDUs" in r.stdout and "packets/s" in r.stdout,
          "human summary")

    # --- records are the same for any number of workers: PDUs, every fact (the repeat
    # cache drops the same ones), devices and alerts (the state thread merges the
    # workers' facts in capture order, so the engines decide the same things)
    def records(n):
        r = run("replay", "--workers", str(n), "--emit", "pdus,facts,devices,alerts", *caps)
        check(r.returncode == 0, "replay --workers %d: %s" % (n, r.stderr[-300:]))
        out = []
        for line in r.stdout.splitlines():
            o = json.loads(line)
            o.pop("worker", None)   # which worker: the one thing that may differ
            o.pop("flow_id", None)  # worker-local numbering
            o.pop("evidence", None) # a path under the run's temporary state directory
            out.append(json.dumps(o, sort_keys=True))
        return sorted(out)

    one = records(1)
    check(len(one) > 1000, "enough records to compare (%d)" % len(one))
    for n in (2, 3):
        other = records(n)
        same = one == other
        if not same:
            a, b = set(one), set(other)
            print("  only with 1 worker:", list(a - b)[:3])
            print("  only with %d workers:" % n, list(b - a)[:3])
        check(same, "--workers %d gives the same records as --workers 1" % n)

    # --- every record is one JSON object with a type and a timestamp
    r = run("replay", "--emit", "pdus,facts,stats", caps[0])
    lines = r.stdout.splitlines()
    ok = True
    for l in lines:
        o = json.loads(l)
        ok = ok and "type" in o and "ts" in o and o["ts"].endswith("Z")
    check(ok and lines, "JSON Lines with type and ts")
    st = json.loads(lines[-1])
    check(st["type"] == "stats" and st["pdus"].get("modbus", 0) > 0, "stats record counts PDUs per protocol")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
