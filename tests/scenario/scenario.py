#!/usr/bin/python3
"""scenario.py - end-to-end checks of inventory, baseline, learning mode and alerts.

Each sub-command is one meson test (suite 'scenario'):
  detection        learn on pcaps/demo-plant.pcap, `ctl learning off`, replay each
                   pcaps/scenarios/*.pcap into a copy of that state: the policy,
                   operational and anomaly alert kinds must be exactly the expected ones
                   (protocol-engine alerts of the plant's own traffic are reported, not
                   compared). Evidence pcaps must exist and hold packets.
  second-normal    after learning, a later normal period (gen-plant --start-offset)
                   raises no policy or anomaly alert.
  public-captures  the public attack captures in ../shared/pcaps raise their matching
                   operational alert kind.
  crash            kill -9 during a replay, several times: the store reopens and every
                   alert a concurrent `ctl alerts` reported is still there.
  ctl              console commands and their usage errors.
Uses only the Python standard library. Prints a table; exits 1 on any failure.
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

# scenario -> expected alert kinds (pcaps/README.md), engines policy/operational/anomaly
EXPECTED = {
    "new-hmi-write": {"new_device", "new_channel", "write_out_of_range"},
    "s7-stop": {"plc_stop"},
    "s7-download": {"program_download"},
    "firmware-update": {"firmware_update", "device_restart"},
    "port-scan": {"new_device", "port_scan"},
    "arp-scan": {"new_device", "arp_scan"},
    "new-device": {"new_device", "new_channel"},
    "public-ip": {"public_ip_contact"},
}

# public capture -> the operational kind it must raise
PUBLIC = [
    ("ics-security-tools/openics/EIP-FirmwareChange.pcap", "firmware_update"),
    ("ics-security-tools/openics/EIP-FirmwareChangeFailure.pcap", "firmware_update"),
    ("ics-security-tools/openics/EIP-LockPLCAttempt.pcap", "plc_lock"),
    ("ics-security-tools/openics/EIP-RebootorRestart.pcap", "device_restart"),
    ("ics-security-tools/openics/EIP-RemoteModeChangeAttempt.pcap", "mode_change"),
    ("ics-security-tools/openics/EIP-SoftwareUpload.pcap", "program_upload"),
    ("ics-security-tools/EthernetIP/cip_stop_plc.pcap", "plc_stop"),
    ("ics-security-tools/EthernetIP/cip_start_plc.pcap", "plc_start"),
    ("ics-security-tools/EthernetIP/cip_unlock_cpu.pcap", "plc_unlock"),
    ("s7-pcaps/snap7_s300_stop.pcapng", "plc_stop"),
    ("s7-pcaps/step7_s300_stop.pcapng", "plc_stop"),
    ("s7-pcaps/step7_s300_download.pcapng", "program_download"),
    ("s7-pcaps/tia_s300_downloadOb1.pcapng", "program_download"),
    ("s7-pcaps/step7_s300_AuthPassword.pcapng", "plc_unlock"),
    ("ics-security-tools/s7/s7comm_downloading_block_db1.pcap", "program_download"),
]

# The failed quickdraw attempts never reached the PLC: those captures hold only ARP, STP,
# CDP, LLDP and NetBIOS (no TCP at all), so nothing operational may be raised from them.
PUBLIC_NOTHING = [
    "ics-security-tools/openics/EIP-SoftwareDownloadFailure.pcap",
    "ics-security-tools/openics/EIP-SoftwareUploadFailure.pcap",
]

# Known detection gaps, printed on every run (and listed in the README), not counted:
# the S7-1200 upload runs over S7comm-plus, whose functions are recognised but whose
# upload semantics are not decoded yet.
PUBLIC_GAPS = [
    ("ics-security-tools/s7/S7-1200-Uploading-OB1-TIAV12.pcap", "program_upload"),
]

COMPARED_ENGINES = {"policy", "operational", "anomaly"}


def run(args, cmd, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def ctl(args, state, *words, check=True):
    return run(args, [args.otsensor, "ctl", "--state", state] + list(words), check=check)


def alerts_of(args, state):
    out = ctl(args, state, "--json", "alerts").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def learn(args, work):
    state = os.path.join(work, "learned")
    run(args, [args.otsensor, "replay", "--state", state, "--learning", "on",
               os.path.join(args.source, "pcaps", "demo-plant.pcap")])
    out = ctl(args, state, "learning", "off").stdout
    if "off" not in out:
        raise RuntimeError("ctl learning off printed %r" % out)
    st = json.loads(ctl(args, state, "--json", "status").stdout)
    if st["learning"] is not False:
        raise RuntimeError("learning still on after ctl learning off")
    return state


def pcap_packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return 0
        endian = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        n = 0
        while True:
            h = f.read(16)
            if len(h) < 16:
                return n
            incl = struct.unpack(endian + "IIII", h)[2]
            f.seek(incl, 1)
            n += 1


def replay_into(args, base, work, name, pcap):
    state = os.path.join(work, "s-" + name)
    shutil.copytree(base, state)
    out = run(args, [args.otsensor, "replay", "--state", state, "--emit", "alerts,devices", pcap]).stdout
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    return state, [r for r in recs if r["type"] == "alert"], [r for r in recs if r["type"] == "device"]


def t_detection(args, work):
    base = learn(args, work)
    ok = True
    print("%-16s %-45s %-45s %s" % ("scenario", "expected", "raised", "result"))
    for sc, exp in EXPECTED.items():
        pcap = os.path.join(args.source, "pcaps", "scenarios", sc + ".pcap")
        state, alerts, _ = replay_into(args, base, work, sc, pcap)
        raised = {a["kind"] for a in alerts if a["engine"] in COMPARED_ENGINES}
        other = sorted({a["kind"] for a in alerts if a["engine"] not in COMPARED_ENGINES})
        good = raised == exp
        # every new alert of the attack has an evidence file with packets
        for a in alerts:
            if a["kind"] in exp and a["engine"] != "policy" or a["kind"] in ("port_scan", "arp_scan"):
                ev = a.get("evidence")
                if not ev or not os.path.exists(ev) or pcap_packets(ev) == 0:
                    print("  %s: alert %s (%s) has no evidence packets (%r)" % (sc, a["id"], a["kind"], ev))
                    good = False
        ok &= good
        print("%-16s %-45s %-45s %s%s" % (sc, ",".join(sorted(exp)), ",".join(sorted(raised)),
                                          "ok" if good else "FAIL",
                                          ("  (protocol: %s)" % ",".join(other)) if other else ""))
        if not good:
            for a in alerts:
                if a["engine"] in COMPARED_ENGINES and a["kind"] not in exp:
                    print("    unexpected %s %s -> %s: %s" % (a["kind"], a["src_device"], a["dst_device"],
                                                             a["description"]))
    return ok


def t_second_normal(args, work):
    if not args.gen_plant:
        print("SKIP: gen-plant not built (-Dtools=true)")
        return 77
    base = learn(args, work)
    ok = True
    for off, dur in (("150", "30"), ("180", "60")):
        pcap = os.path.join(work, "normal-%s.pcap" % off)
        run(args, [args.gen_plant, "--seed", "1", "--start-offset", off, "--duration", dur, "-o", pcap])
        _, alerts, _ = replay_into(args, base, work, "normal-" + off, pcap)
        bad = [a for a in alerts if a["engine"] in ("policy", "anomaly")]
        print("second normal period at +%ss (%ss): %d policy/anomaly alerts, %d others" %
              (off, dur, len(bad), len(alerts) - len(bad)))
        for a in bad:
            print("  false positive %s %s -> %s: %s" % (a["kind"], a["src_device"], a["dst_device"],
                                                       a["description"]))
        ok &= not bad
    return ok


def t_public(args, work):
    shared = os.path.normpath(os.path.join(args.source, "..", "shared", "pcaps"))
    if not os.path.isdir(shared):
        print("SKIP: %s not present" % shared)
        return 77
    ok = True
    print("%-62s %-18s %s" % ("capture", "expected", "raised"))
    for rel, kind in PUBLIC:
        path = os.path.join(shared, rel)
        if not os.path.exists(path):
            print("%-62s %-18s missing capture" % (rel, kind))
            continue
        p = run(args, [args.otsensor, "replay", "--learning", "on", "--emit", "alerts", path], check=False)
        kinds = sorted({json.loads(l)["kind"] for l in p.stdout.splitlines() if l.strip()})
        good = kind in kinds
        ok &= good
        print("%-62s %-18s %s %s" % (rel, kind, ",".join(kinds) or "-", "ok" if good else "FAIL"))
    for rel in PUBLIC_NOTHING:
        path = os.path.join(shared, rel)
        if not os.path.exists(path):
            continue
        p = run(args, [args.otsensor, "replay", "--learning", "on", "--emit", "alerts", path], check=False)
        ops = sorted({a["kind"] for a in map(json.loads, filter(str.strip, p.stdout.splitlines()))
                      if a.get("engine") == "operational"})
        good = not ops
        ok &= good
        print("%-62s %-18s %s %s" % (rel, "(nothing)", ",".join(ops) or "-", "ok" if good else "FAIL"))
    for rel, kind in PUBLIC_GAPS:
        path = os.path.join(shared, rel)
        if not os.path.exists(path):
            continue
        p = run(args, [args.otsensor, "replay", "--learning", "on", "--emit", "alerts", path], check=False)
        kinds = sorted({json.loads(l)["kind"] for l in p.stdout.splitlines() if l.strip()})
        print("%-62s %-18s %s %s" % (rel, kind, ",".join(kinds) or "-",
                                      "ok" if kind in kinds else "KNOWN GAP (not counted)"))
    return ok


def t_crash(args, work):
    pcap = os.path.join(args.source, "pcaps", "demo-plant.pcap")
    ok = True
    rng = random.Random(4)
    for round_ in range(3):
        state = os.path.join(work, "crash-%d" % round_)
        # learning off on a fresh state: every device and channel is an alert, raised as
        # the capture plays in real time
        proc = subprocess.Popen([args.otsensor, "replay", "--state", state, "--learning", "off", "--realtime",
                                 pcap], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen = {}
        deadline = time.time() + 2.0 + rng.random() * 4.0
        while time.time() < deadline:
            p = ctl(args, state, "--json", "alerts", check=False)
            if p.returncode == 0:
                for l in p.stdout.splitlines():
                    a = json.loads(l)
                    seen[a["id"]] = a
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        p = ctl(args, state, "--json", "status", check=False)
        if p.returncode != 0:
            print("round %d: store does not reopen after kill -9: %s" % (round_, p.stderr.strip()))
            ok = False
            continue
        after = {a["id"]: a for a in alerts_of(args, state)}
        missing = [i for i in seen if i not in after]
        fewer = [i for i in seen if i in after and after[i]["count"] < seen[i]["count"]]
        print("round %d: %d alerts reported before kill -9, %d present after, %d missing, %d with a lower count"
              % (round_, len(seen), len(after), len(missing), len(fewer)))
        ok &= not missing and not fewer and len(seen) > 0
        # and the store keeps working: a replay on top of it succeeds
        run(args, [args.otsensor, "replay", "--state", state, pcap])
    return ok


def t_ctl(args, work):
    ok = True

    def expect(cond, what):
        nonlocal ok
        print("%-60s %s" % (what, "ok" if cond else "FAIL"))
        ok &= bool(cond)

    missing = os.path.join(work, "nothing-here")
    p = ctl(args, missing, "status", check=False)
    expect(p.returncode == 2 and missing in p.stderr, "missing store: exit 2 naming the directory")
    base = learn(args, work)
    for words in (["frobnicate"], ["learning", "maybe"], ["alert", "ack"], ["alert", "zap", "1"],
                  ["baseline", "export"], ["status", "extra"]):
        p = ctl(args, base, *words, check=False)
        expect(p.returncode == 2, "usage error %s: exit 2" % " ".join(words))
    p = ctl(args, base, "alert", "ack", "999999", check=False)
    expect(p.returncode == 2 and "999999" in p.stderr, "unknown alert id: exit 2 naming it")
    st = json.loads(ctl(args, base, "--json", "status").stdout)
    expect(st["devices"] >= 30 and st["learning"] is False, "status --json: devices learned, learning off")
    devs = [json.loads(l) for l in ctl(args, base, "--json", "devices").stdout.splitlines()]
    fields = {"id", "macs", "ips", "vendor", "hostname", "type", "device_type", "model", "firmware", "serial",
              "protocols", "vlans", "first_seen", "last_seen", "learned"}
    expect(devs and all(fields <= set(d) for d in devs), "devices --json: every DESIGN.md field")
    expect(all(d["type"] == "device" for d in devs), "device records have type device")
    types = {d["device_type"] for d in devs}
    expect({"plc", "rtu", "hmi"} <= types, "device types include plc, rtu, hmi (%s)" % ",".join(sorted(types)))
    expect(any(d["vendor"] for d in devs), "vendors from the OUI registry")
    expect("learning off" in ctl(args, base, "learning").stdout, "learning (no operand) shows the mode")
    # alert actions: learn makes the alert's items part of the baseline
    state, alerts, _ = replay_into(args, base, work, "ctl-hmi",
                                   os.path.join(args.source, "pcaps", "scenarios", "new-hmi-write.pcap"))
    nd = [a for a in alerts if a["kind"] == "new_device"]
    expect(nd, "new-hmi-write raised new_device")
    if nd:
        ctl(args, state, "alert", "learn", str(nd[0]["id"]))
        devs = {d["id"]: d for d in (json.loads(l) for l in ctl(args, state, "--json", "devices").stdout.splitlines())}
        expect(devs.get(nd[0]["src_device"], {}).get("learned") is True, "alert learn: the device is learned")
    others = [a for a in alerts if a["kind"] != "new_device"]
    if others:
        ctl(args, state, "alert", "mute", str(others[0]["id"]))
        ctl(args, state, "alert", "ack", str(others[-1]["id"]))
        after = {a["id"]: a for a in alerts_of(args, state)}
        expect(after[others[0]["id"]]["status"] == "muted", "alert mute")
        expect(after[others[-1]["id"]]["status"] in ("acknowledged", "muted"), "alert ack")
    table = ctl(args, state, "alerts").stdout
    expect(table.startswith("ID") and "new_device" in table, "alerts table")
    exp = os.path.join(work, "baseline.json")
    ctl(args, base, "baseline", "export", exp)
    fresh = os.path.join(work, "fresh")
    run(args, [args.otsensor, "replay", "--state", fresh, "--learning", "off",
               os.path.join(args.source, "pcaps", "scenarios", "s7-stop.pcap")])
    ctl(args, fresh, "baseline", "import", exp)
    s1 = json.loads(ctl(args, fresh, "--json", "status").stdout)
    s0 = json.loads(ctl(args, base, "--json", "status").stdout)
    expect(s1["baseline_items"] >= s0["baseline_items"], "baseline export/import carries every item")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--otsensor", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--gen-plant")
    ap.add_argument("test", choices=["detection", "second-normal", "public-captures", "crash", "ctl"])
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ots-scenario-")
    try:
        fn = {"detection": t_detection, "second-normal": t_second_normal, "public-captures": t_public,
              "crash": t_crash, "ctl": t_ctl}[args.test]
        r = fn(args, work)
    except RuntimeError as e:
        print("FAIL: %s" % e)
        r = False
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if r == 77:
        return 77
    return 0 if r else 1


if __name__ == "__main__":
    sys.exit(main())
