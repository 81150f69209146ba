#!/usr/bin/python3
"""seeds.py - seed corpora for the fuzz targets, cut from real captures with tshark:
the TCP/UDP payloads (or L2 frame bodies) of each dissector's ports/ethertype.

Usage: seeds.py OUTDIR PCAP... ; writes OUTDIR/<dissector>/<n>. Must never: write into
the repository (OUTDIR is in the build directory).
"""
import os
import re
import struct
import subprocess
import sys

out, pcaps = sys.argv[1], sys.argv[2:]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PER_PROTO = 60


def l2_bodies(pcap, ethertype, limit):
    """Frame bodies after the Ethernet header (and one VLAN tag) of classic pcap files."""
    out = []
    try:
        data = open(pcap, "rb").read()
    except OSError:
        return out
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return out
    if struct.unpack("<I", data[20:24])[0] != 1:
        return out
    off = 24
    while off + 16 <= len(data) and len(out) < limit:
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 14:
            continue
        et, body = struct.unpack(">H", frame[12:14])[0], frame[14:]
        if et == 0x8100 and len(frame) >= 18:
            et, body = struct.unpack(">H", frame[16:18])[0], frame[18:]
        if et == ethertype:
            out.append(body)
    return out


def dissectors():
    """name -> (tcp ports, udp ports, ethertype) parsed from the dissector sources."""
    found = {}
    ddir = os.path.join(root, "dissectors")
    for name in re.findall(r"DISSECTOR\((\w+)\)", open(os.path.join(ddir, "registry.def")).read()):
        src = open(os.path.join(ddir, name + ".c")).read()
        ports = re.search(r"_ports\[\]\s*=\s*\{([^}]*)\}", src)
        plist = [int(p, 0) for p in re.findall(r"0x[0-9a-fA-F]+|\d+", ports.group(1)) if int(p, 0)] if ports else []
        tr = re.search(r"\.transports\s*=\s*([^,]+),", src)
        tr = tr.group(1) if tr else ""
        et = re.search(r"\.ethertype\s*=\s*(0x[0-9a-fA-F]+)", src)
        found[name] = (plist if "DT_TCP" in tr else [], plist if "DT_UDP" in tr else [],
                       int(et.group(1), 16) if et else 0)
    return found


want, seen = {}, set()
for name, (tcp, udp, et) in dissectors().items():
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    have = len(os.listdir(d))
    if et:
        for pcap in pcaps:
            for body in l2_bodies(pcap, et, PER_PROTO - have):
                open(os.path.join(d, f"seed-{have}"), "wb").write(b"\x00\x00" + body)
                have += 1
    want[name] = (tcp, udp, d, have)

# one tshark pass per capture, payloads bucketed by port
for pcap in pcaps:
    if all(v[3] >= PER_PROTO for v in want.values()):
        break
    try:
        r = subprocess.run(["tshark", "-r", pcap, "-Y", "tcp.len>0 || udp", "-T", "fields",
                            "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport",
                            "-e", "tcp.payload", "-e", "udp.payload", "-c", "20000"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        continue
    for line in r.stdout.splitlines():
        cols = (line.split("\t") + [""] * 6)[:6]
        hexs = (cols[4] or cols[5]).split(",")[0].replace(":", "")
        if not hexs or hexs in seen:
            continue
        ports = {int(x) for x in cols[:4] if x.isdigit()}
        is_tcp = bool(cols[4])
        for name, (tcp, udp, d, have) in want.items():
            if have >= PER_PROTO or not ports & set(tcp if is_tcp else udp):
                continue
            try:
                payload = bytes.fromhex(hexs)
            except ValueError:
                break
            seen.add(hexs)
            # two control bytes (see fuzz_dissector.c): client first, one segment
            open(os.path.join(d, f"seed-{have}"), "wb").write(b"\x00\x00" + payload)
            want[name] = (tcp, udp, d, have + 1)
            break
print("seeds written to", out)
