#!/usr/bin/python3
"""receiver.py - a test stand-in for Azure IoT Hub and Event Hubs HTTPS endpoints.

Serves, over TLS on a loopback address (port 443 in the suite):
  POST /devices/{id}/messages/events?api-version=...     IoT Hub device-to-cloud
  POST /{hub}/messages                                    Event Hubs (batch or single)
It checks the SAS token in Authorization the way Azure does (HMAC-SHA256 over
"<url-encoded resource>\\n<expiry>"; IoT Hub with the base64-decoded device key,
Service Bus with the key's bytes and the policy name in skn; expiry in the future;
resource scoped to this device / hub) and answers 401 otherwise. A control file
(JSON, re-read on each request) makes it answer 401, 429 or 503 (with Retry-After)
for a number of requests. Every accepted message is appended to --log as a JSON
line (svc, id, type, sensor, t) after the response was sent; refused requests are
logged with their status, so tests can count duplicates and check retry timing.

Must never: accept a request whose signature does not verify; listen beyond loopback.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {"ctl_seq": None, "left": 0, "busy": 0}
SEEN = set()


def log(path, rec):
    rec["t"] = time.time()
    with LOCK:
        if rec.get("id"):
            rec["dup"] = rec["id"] in SEEN
            SEEN.add(rec["id"])
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def parse_sas(header):
    pre = "SharedAccessSignature "
    if not header or not header.startswith(pre):
        return None
    out = {}
    for part in header[len(pre):].split("&"):
        if "=" not in part:
            return None
        k, v = part.split("=", 1)
        out[k] = v
    return out


def check_sas(header, allowed_resources, key_bytes, key_name):
    """Returns None if valid, else the reason (the 401 body)."""
    f = parse_sas(header)
    if not f or not all(k in f for k in ("sr", "sig", "se")):
        return "malformed SharedAccessSignature"
    sr = urllib.parse.unquote(f["sr"])
    norm = sr.lower()
    if norm.startswith("https://"):
        norm = norm[8:]
    if norm.rstrip("/") not in [r.lower() for r in allowed_resources]:
        return "token scope %s does not cover this resource" % sr
    try:
        se = int(f["se"])
    except ValueError:
        return "bad expiry"
    if se <= time.time():
        return "token expired (se=%d, now=%d)" % (se, int(time.time()))
    if key_name is not None and urllib.parse.unquote(f.get("skn", "")) != key_name:
        return "unknown policy %r" % f.get("skn")
    to_sign = urllib.parse.quote(sr, safe="") + "\n" + f["se"]
    want = base64.b64encode(hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).digest()).decode()
    got = urllib.parse.unquote(f["sig"])
    if not hmac.compare_digest(want, got):
        return "signature does not match"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "receiver"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def forced(self):
        """A 401/429/503 the control file asks for, or None."""
        a = self.server.args
        if not a.control or not os.path.exists(a.control):
            return None
        try:
            with open(a.control) as f:
                ctl = json.load(f)
        except (OSError, ValueError):
            return None
        if ctl.get("delay_ms"):
            time.sleep(ctl["delay_ms"] / 1000.0)
        with LOCK:
            if ctl.get("seq") != STATE["ctl_seq"]:
                STATE["ctl_seq"] = ctl.get("seq")
                STATE["left"] = ctl.get("times", 1 << 30)
            if ctl.get("status") and STATE["left"] > 0:
                STATE["left"] -= 1
                return ctl
        return None

    def do_POST(self):
        with LOCK:
            STATE["busy"] += 1
        try:
            return self.post()
        finally:
            with LOCK:
                STATE["busy"] -= 1

    def post(self):
        a = self.server.args
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        parts = url.path.strip("/").split("/")
        if host == a.iothub_host.lower() and len(parts) == 4 and parts[0] == "devices" and parts[2:] == ["messages", "events"]:
            svc = "iothub"
        elif a.eventhub_host and host == a.eventhub_host.lower() and len(parts) == 2 and parts[1] == "messages":
            svc = "eventhubs"
        else:
            log(a.log, {"svc": "?", "status": 404, "path": self.path, "host": host})
            return self.reply(404, b'{"Message":"no such endpoint"}')

        ctl = self.forced()
        if ctl:
            st = int(ctl["status"])
            hdrs = {}
            if st in (429, 503) and ctl.get("retry_after") is not None:
                hdrs["Retry-After"] = str(ctl["retry_after"])
            log(a.log, {"svc": svc, "status": st, "forced": True})
            return self.reply(st, b'{"Message":"forced by test"}', hdrs)

        if svc == "iothub":
            dev = urllib.parse.unquote(parts[1])
            q = urllib.parse.parse_qs(url.query)
            if "api-version" not in q:
                return self.refuse(svc, 400, "api-version missing")
            if dev != a.device_id:
                return self.refuse(svc, 404, "unknown device %s" % dev)
            why = check_sas(self.headers.get("Authorization"), ["%s/devices/%s" % (a.iothub_host, a.device_id)],
                            base64.b64decode(a.device_key), None)
            if why:
                return self.refuse(svc, 401, why)
            mid = self.headers.get("iothub-messageid")
            if not mid:
                return self.refuse(svc, 400, "iothub-messageid missing")
            if self.headers.get("iothub-contenttype") != "application/json" or \
               (self.headers.get("iothub-contentencoding") or "").lower() != "utf-8":
                return self.refuse(svc, 400, "content type / encoding properties missing")
            try:
                rec = json.loads(body.decode("utf-8"))
            except ValueError:
                return self.refuse(svc, 400, "body is not JSON")
            self.reply(204)
            log(a.log, {"svc": svc, "status": 204, "id": mid, "type": self.headers.get("iothub-app-record-type"),
                        "sensor": urllib.parse.unquote(self.headers.get("iothub-app-sensor") or ""),
                        "key": rec.get("id"), "rec_type": rec.get("type"),
                        "body": rec if rec.get("type") == "health" else None})
            return None

        # Event Hubs
        why = check_sas(self.headers.get("Authorization"),
                        [a.eventhub_host, "%s/%s" % (a.eventhub_host, a.eventhub_name)],
                        a.eventhub_key.encode(), a.eventhub_key_name)
        if why:
            return self.refuse(svc, 401, why)
        if parts[0] != a.eventhub_name:
            return self.refuse(svc, 404, "no such event hub")
        ctype = self.headers.get("Content-Type", "")
        try:
            if ctype.startswith("application/vnd.microsoft.servicebus.json"):
                batch = json.loads(body.decode("utf-8"))
                if not isinstance(batch, list) or not batch:
                    raise ValueError
            else:
                batch = [{"Body": body.decode("utf-8"), "UserProperties": {}}]
            recs = []
            for m in batch:
                up = m.get("UserProperties") or {}
                inner = json.loads(m["Body"])
                recs.append({"id": up.get("message-id") or (m.get("BrokerProperties") or {}).get("MessageId"),
                             "type": up.get("record-type"), "sensor": up.get("sensor"),
                             "key": inner.get("id"), "rec_type": inner.get("type")})
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.refuse(svc, 400, "batch is not valid")
        if any(not r["id"] for r in recs):
            return self.refuse(svc, 400, "message id missing")
        self.reply(201)
        for r in recs:
            r.update({"svc": svc, "status": 201, "batch": len(recs)})
            log(a.log, r)
        return None

    def refuse(self, svc, status, why):
        log(self.server.args.log, {"svc": svc, "status": status, "why": why})
        self.reply(status, json.dumps({"Message": why}).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", default="127.0.0.2")
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--iothub-host", default="myhub.azure-devices.net")
    p.add_argument("--device-id", default="sensor-1")
    p.add_argument("--device-key", required=True)
    p.add_argument("--eventhub-host", default="myns.servicebus.windows.net")
    p.add_argument("--eventhub-name", default="alerts")
    p.add_argument("--eventhub-key-name", default="send")
    p.add_argument("--eventhub-key", default="")
    p.add_argument("--log", required=True)
    p.add_argument("--control")
    p.add_argument("--ready")
    a = p.parse_args()
    if not a.bind.startswith("127."):
        sys.exit("receiver: loopback only")
    srv = Server((a.bind, a.port), Handler)
    srv.args = a
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if os.path.exists(a.log):  # a restarted receiver still knows what it got
        with open(a.log) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("id"):
                    SEEN.add(rec["id"])

    def on_term(signum, frame):
        # an orderly outage: stop accepting, let requests in progress finish
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(str(os.getpid()))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    for _ in range(500):
        with LOCK:
            if STATE["busy"] == 0:
                break
        time.sleep(0.01)
    os._exit(0)


if __name__ == "__main__":
    main()
