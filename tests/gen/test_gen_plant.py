#!/usr/bin/python3
"""tests/gen/test_gen_plant.py - gen-plant output is well-formed and deterministic.

Usage: test_gen_plant.py PATH/TO/gen-plant

Checks, each printed as ok/FAIL:
  * the checker itself flags a deliberately malformed capture (so a clean result
    means something);
  * the normal plant decodes in tshark with no malformed packet, no expert info of
    severity warning or error, IP/TCP/UDP checksums verified, no TCP analysis
    flags and no frame left as undissected "data";
  * every protocol generator actually shows up;
  * the same seed gives byte-identical output, another seed does not;
  * every attack scenario passes the same check;
  * bad command lines exit 2 naming the flag.
Exit 0 if all pass, 1 otherwise, 77 (skip) if tshark is missing.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TSHARK = shutil.which("tshark")
CHECKSUMS = ["-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
             "-o", "ip.check_checksum:TRUE"]
# _ws.expert.severity: chat 0x200000, note 0x400000, warn 0x600000, error 0x800000
BAD_FILTER = ("_ws.malformed || _ws.expert.severity >= 0x600000 || tcp.analysis.flags"
              " || data")
# What each scenario must contain (display filter, minimum frame count).
SCENARIO_CONTENT = {
    "new-hmi-write": ("ip.src == 10.10.2.200 && (modbus.func_code == 6 || modbus.func_code == 16)", 3),
    "s7-stop": ("s7comm.param.func == 0x29", 2),
    "s7-download": ("s7comm.param.func == 0x1a || s7comm.param.func == 0x1b || s7comm.param.func == 0x1c", 8),
    "firmware-update": ("cip.class == 0xa1 && (cip.sc == 0x4b || cip.sc == 0x4d)", 20),
    "port-scan": ("ip.src == 10.10.2.201 && tcp.flags.syn == 1 && tcp.flags.ack == 0", 100),
    "arp-scan": ("arp.opcode == 1 && arp.src.proto_ipv4 == 10.10.2.202", 254),
    "new-device": ("eth.src[0:3] == a8:74:1d && modbus", 10),
    "public-ip": ("ip.dst == 8.8.8.8 || ip.dst == 52.29.185.17", 4),
}
# Port scans are answered with RST, which tshark reports as a warning by design.
ALLOWED_EXPERT = {"port-scan": ["tcp.connection.rst"]}

PROTOCOLS = {  # display filter -> what must be present in the normal plant
    "arp": "arp", "dhcp": "dhcp", "dns": "dns", "modbus": "modbus",
    "s7comm": "s7comm", "dnp3": "dnp3", "iec104": "iec60870_104",
    "enip": "enip", "cip": "cip", "bacnet": "bacapp", "opcua": "opcua",
    "goose": "goose", "mms": "mms", "profinet-dcp": "pn_dcp", "fins": "omron",
    "hart-ip": "hart_ip", "lldp": "lldp", "cdp": "cdp", "snmp": "snmp", "http": "http",
    "tls": "tls.handshake.type == 11 && x509sat.uTF8String", "ssh": "ssh.protocol",
    "nbns": "nbns", "browser": "browser", "ntp": "ntp.flags.mode == 4", "mdns": "mdns",
    "llmnr": "llmnr", "smb2": "smb2.cmd == 0",
}

failures = []
passes = []


def report(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what)
    if ok:
        passes.append(what)
    else:
        failures.append(what)
        if detail:
            print("     " + detail.replace("\n", "\n     "))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


def tshark_bad_frames(path, allowed=()):
    """Frames that are malformed, carry an expert warning/error, fail a checksum,
    trip TCP analysis or stay undissected. Returns (count, sample lines)."""
    flt = BAD_FILTER
    if allowed:
        # a frame whose only warning is an allowed one is fine
        flt = "(%s) && !(%s)" % (flt, " || ".join(allowed))
    r = run([TSHARK, "-n", "-r", path] + CHECKSUMS + ["-Y", flt])
    if r.returncode != 0:
        return -1, r.stderr.strip()
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    return len(lines), "\n".join(lines[:15])


def expert_summary(path):
    r = run([TSHARK, "-n", "-r", path, "-q", "-z", "expert,warn"] + CHECKSUMS)
    return r.stdout.strip()


def frame_count(path, flt):
    r = run([TSHARK, "-n", "-r", path, "-Y", flt, "-T", "fields", "-e", "frame.number"])
    if r.returncode != 0:
        return -1
    return len([l for l in r.stdout.splitlines() if l.strip()])


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1767600000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def tcp_frame(payload, good_csum=True):
    src, dst = bytes([10, 10, 2, 21]), bytes([10, 10, 1, 10])
    tcp = struct.pack("!HHIIBBHHH", 50000, 502, 1000, 2000, 0x50, 0x18, 8192, 0, 0) + payload
    ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(ph + tcp)
    if not good_csum:
        c ^= 0x1234
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("0080f4000001" "9c7bef000002" "0800")
    fr = eth + ip + tcp
    return fr + b"\0" * max(0, 60 - len(fr))


def self_test(tmp):
    """The checker must catch a malformed PDU and a bad checksum."""
    good = struct.pack("!HHHBBHH", 1, 0, 6, 1, 3, 0, 10)
    # Modbus read holding registers with a byte count larger than the data
    bad_pdu = struct.pack("!HHHBBB", 2, 0, 5, 1, 3, 40) + b"\x00\x01"
    cases = {
        "clean": ([tcp_frame(good)], False),
        "malformed": ([tcp_frame(bad_pdu)], True),
        "bad-checksum": ([tcp_frame(good, good_csum=False)], True),
    }
    for name, (frames, should_flag) in cases.items():
        p = os.path.join(tmp, "selftest-%s.pcap" % name)
        write_pcap(p, frames)
        n, sample = tshark_bad_frames(p)
        flagged = n != 0
        report(flagged == should_flag, "checker self-test: %s capture %s" %
               (name, "flagged" if should_flag else "passes"), sample)


def main():
    if len(sys.argv) != 2:
        print("usage: test_gen_plant.py GEN_PLANT", file=sys.stderr)
        return 2
    gen = os.path.abspath(sys.argv[1])
    if not TSHARK:
        print("tshark not found: skipping")
        return 77
    tmp = tempfile.mkdtemp(prefix="gen-plant-test-")
    try:
        self_test(tmp)

        # --- normal plant
        a = os.path.join(tmp, "a.pcap")
        b = os.path.join(tmp, "b.pcap")
        c = os.path.join(tmp, "c.pcap")
        args = ["--seed", "7", "--duration", "90"]
        for out in (a, b):
            r = run([gen] + args + ["-o", out])
            report(r.returncode == 0, "gen-plant %s -o %s" % (" ".join(args), os.path.basename(out)),
                   r.stderr)
        r = run([gen, "--seed", "8", "--duration", "90", "-o", c])
        report(r.returncode == 0, "gen-plant --seed 8", r.stderr)
        with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
            da, db, dc = fa.read(), fb.read(), fc.read()
        report(da == db and len(da) > 1000, "same seed => byte-identical capture")
        report(da != dc, "different seed => different capture")

        n, sample = tshark_bad_frames(a)
        report(n == 0, "normal plant: no malformed/expert-warning/bad-checksum frame (%d found)" % n,
               sample + "\n" + expert_summary(a))
        for name, flt in PROTOCOLS.items():
            k = frame_count(a, flt)
            report(k > 0, "normal plant carries %s (%d frames)" % (name, k))

        # --- the plant's configuration does not depend on the time window: a later
        # period of the same plant polls only functions and data blocks (client, server)
        # the first period already showed
        later = os.path.join(tmp, "later.pcap")
        r = run([gen, "--seed", "7", "--start-offset", "90", "--duration", "45", "-o", later])
        report(r.returncode == 0, "gen-plant --seed 7 --start-offset 90 --duration 45", r.stderr)
        for what, flt, fields in (
                ("modbus functions", "modbus && tcp.dstport == 502",
                 ["ip.src", "ip.dst", "modbus.func_code"]),
                ("s7comm data blocks", "s7comm.param.func == 0x04 || s7comm.param.func == 0x05",
                 ["ip.src", "ip.dst", "s7comm.param.func", "s7comm.param.item.db"])):
            sets = []
            for path in (a, later):
                args = [TSHARK, "-n", "-r", path, "-Y", flt, "-T", "fields"]
                for fl in fields:
                    args += ["-e", fl]
                sets.append({l for l in run(args).stdout.splitlines() if l.strip()})
            extra = sorted(sets[1] - sets[0])
            report(sets[1] and not extra, "later normal period: no %s the first period did not show "
                   "(%d new of %d)" % (what, len(extra), len(sets[1])), "\n".join(extra[:15]))

        # --- packet-count mode
        p = os.path.join(tmp, "p.pcap")
        r = run([gen, "--seed", "3", "--packets", "20000", "-o", p])
        k = frame_count(p, "frame") if r.returncode == 0 else -1
        report(k == 20000, "--packets 20000 writes exactly 20000 packets (%d)" % k, r.stderr)
        n, sample = tshark_bad_frames(p)
        report(n == 0, "--packets capture is clean (%d found)" % n, sample)

        # --- scenarios
        r = run([gen, "--help"])
        names = []
        for line in r.stdout.splitlines():
            if line.startswith("                       ") and "," in line:
                names = [x.strip() for x in line.split(",") if x.strip()]
        report(len(names) >= 9, "--help lists the scenarios (%s)" % ", ".join(names))
        for sc in names:
            if sc == "normal":
                continue
            out = os.path.join(tmp, "sc-%s.pcap" % sc)
            r = run([gen, "--seed", "7", "--scenario", sc, "--start-offset", "90",
                     "--duration", "45", "-o", out])
            if r.returncode != 0:
                report(False, "scenario %s runs" % sc, r.stderr)
                continue
            n, sample = tshark_bad_frames(out, ALLOWED_EXPERT.get(sc, ()))
            report(n == 0, "scenario %s: clean (%d bad frames)" % (sc, n),
                   sample + "\n" + expert_summary(out))
            flt, want = SCENARIO_CONTENT.get(sc, ("frame", 1))
            k = frame_count(out, flt)
            report(k >= want, "scenario %s contains its attack: %d frames match '%s' (want >= %d)"
                   % (sc, k, flt, want))
            r = run([TSHARK, "-n", "-r", out, "-T", "fields", "-e", "frame.time_epoch", "-c", "1"])
            first = float(r.stdout.split()[0]) if r.stdout.split() else 0
            report(first >= 1767600000 + 90, "scenario %s starts after the offset (%.3f)" % (sc, first))

        # --- usage errors
        for bad, word in ((["--seed", "x"], "--seed"), (["--duration", "-3"], "--duration"),
                          (["--devices", "3"], "--devices"), (["--scenario", "nope"], "--scenario"),
                          (["--bogus"], "--bogus"), (["--packets", "5", "--duration", "3"], "--duration")):
            r = run([gen] + bad + ["-o", os.path.join(tmp, "x.pcap")])
            report(r.returncode == 2 and word in r.stderr,
                   "bad flag %s => exit 2 naming %s" % (" ".join(bad), word),
                   "exit %d: %s" % (r.returncode, r.stderr.strip()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d passed, %d failed" % (len(passes), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
