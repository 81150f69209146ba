#!/usr/bin/python3
"""bench.py - otsensor throughput against its peers (meson suite 'bench').

Runs, on one generated plant capture and interleaved round by round: a bare libpcap read
loop (pcap-loop), `otsensor replay --workers 1` and `--workers 2`, ndpiReader (Debian
libndpi-bin) and `tshark -q` on a slice of the file; then a flow-scale run (a million
concurrent TCP flows, each a SYN and one Modbus request) through `otsensor replay`;
then live AF_XDP capture at (up to) 1 Gbit/s: `otsensor run` with the afxdp backend on one
end of a veth pair, veth-blast sending a slice of the plant capture into the other end
(xdp_rate.py: `--mbps 1000` in native XDP mode, or generic when the kernel refuses native;
top speed; `--mbps 1000` in the other mode), with the packets sent, the rate the sender
reached, the packets received and every drop counter. Prints packets/s, Gbit/s,
ns/packet, CPU seconds and peak RSS per tool (median of the rounds), the ratios against the
targets, the AF_XDP lines, and writes it all to bench-results.txt in --work-dir. Before
and after the rounds it measures how long a cache line takes from one CPU to the other and
back (pingpong.c): replay hands every frame across, so its figures move with that, while
a one-thread tool's do not.

It never fails on timing or drops: the exit status is 1 only when a tool crashes, exits
non-zero or processes nothing (or fewer packets than the file holds), or the AF_XDP setup
is broken (the sensor does not start or stop cleanly, writes no stats record, transmits,
or veth-blast fails). Captures are cached in --work-dir (their names carry their size), so
only the first run pays for generating them. Missing peers (ndpiReader, tshark) are
reported as such and skipped; so is the AF_XDP run without root, veth-blast or the afxdp
backend ("skipped: <reason>").

Usage: bench.py --otsensor BIN --gen-plant BIN --pcap-loop BIN --work-dir DIR [--pingpong BIN]
                [--packets N] [--slice N] [--rounds N] [--flows N] [--no-flow-scale]
                [--xdp-seconds N] [--no-xdp]
"""
import argparse
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import xdp_rate

TARGETS = {
    "w1_vs_ndpi": 2.0,     # single-worker replay >= 2x ndpiReader packets/s
    "w1_vs_loop": 0.5,     # ... and >= half the bare libpcap loop
    "flow_rss_mib": 512,   # peak RSS at a million flows
}


TIME = "/usr/bin/time"  # GNU time (Debian package time)


class ToolFailed(Exception):
    pass


def tool_env():
    """The environment for measured tools: without meson test's MALLOC_PERTURB_, which makes
    glibc fill every allocation (touching pages a tool would never touch, inflating its RSS
    and time)."""
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)
    env.pop("MALLOC_CHECK_", None)
    return env


def run_measured(argv, stdout_path=None, env=None):
    """Run argv under /usr/bin/time (so the peak RSS is the tool's own, not that of the
    Python process it was forked from); return (wall seconds, CPU seconds, peak RSS KiB,
    exit status, output text)."""
    out = tempfile.TemporaryFile()
    fd, tpath = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    try:
        t0 = time.monotonic()
        proc = subprocess.run([TIME, "-f", "%U %S %M", "-o", tpath] + argv, stdout=out, stderr=out,
                              stdin=subprocess.DEVNULL, env=env or tool_env())
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        with open(tpath) as f:
            tl = f.read().strip().splitlines()
        fields = tl[-1].split() if tl else []
        if len(fields) != 3:
            raise ToolFailed(f"{argv[0]}: no /usr/bin/time record ({tl}), status {proc.returncode}:\n{text[-2000:]}")
        cpu = float(fields[0]) + float(fields[1])
        rss = int(fields[2])
    finally:
        out.close()
        os.unlink(tpath)
    return wall, cpu, rss, proc.returncode, text


def pcap_records(path, limit=None):
    """(packets, wire bytes) of a classic pcap file, optionally of its first `limit` records."""
    n = wire = 0
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = hdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            fmt = "<IIII"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            fmt = ">IIII"
        else:
            raise ToolFailed(f"{path}: not a classic pcap file")
        while limit is None or n < limit:
            rh = f.read(16)
            if len(rh) < 16:
                break
            _, _, incl, orig = struct.unpack(fmt, rh)
            f.seek(incl, 1)
            n += 1
            wire += orig
    return n, wire


# ---------------------------------------------------------------- captures

def make_plant_capture(gen_plant, work, packets):
    path = os.path.join(work, f"bench-plant-{packets}.pcap")
    if os.path.exists(path) and os.path.getsize(path) > 24:
        return path, False
    tmp = path + ".tmp"
    r = subprocess.run([gen_plant, "--packets", str(packets), "-o", tmp], stdout=subprocess.DEVNULL,
                       env=tool_env())
    if r.returncode != 0 or not os.path.exists(tmp):
        raise ToolFailed(f"gen-plant --packets {packets} failed ({r.returncode})")
    os.replace(tmp, path)
    return path, True


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def make_flow_capture(work, nflows):
    """nflows distinct TCP 5-tuples towards one Modbus server: all the SYNs first, then one
    Modbus read request per flow, so every flow is open at once. 50000 client ports per client
    address (20 clients for a million flows), 1 us apart in packet time."""
    path = os.path.join(work, f"bench-flows-{nflows}.pcap")
    if os.path.exists(path) and os.path.getsize(path) > 24:
        return path, False
    tmp = path + ".tmp"
    srv_mac = bytes.fromhex("0080f4000001")   # Schneider OUI
    cli_mac = bytes.fromhex("0050560000aa")
    srv_ip = bytes([192, 168, 10, 10])
    ports_per_client = 50000
    t0 = 1767600000  # 2026-01-05T08:00:00Z
    ts = 0
    rec = struct.Struct("<IIII")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for phase in (0, 1):
            chunk = []
            for i in range(nflows):
                cli_ip = bytes([10, 20, (i // ports_per_client) >> 8 & 0xFF, 1 + (i // ports_per_client) % 250])
                sport = 10000 + i % ports_per_client
                seq = (i * 2654435761) & 0xFFFFFFFF
                if phase == 0:
                    flags, seqno, ackno, payload = 0x02, seq, 0, b""
                else:
                    flags, seqno, ackno = 0x18, (seq + 1) & 0xFFFFFFFF, 1
                    tid = i & 0xFFFF
                    payload = struct.pack("!HHHBBHH", tid, 0, 6, 1, 3, 0, 10)
                tcp = struct.pack("!HHIIBBHHH", sport, 502, seqno, ackno, 5 << 4, flags, 65535, 0, 0)
                tot = 20 + len(tcp) + len(payload)
                iph = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, i & 0xFFFF, 0x4000, 64, 6, 0,
                                            cli_ip, srv_ip))
                struct.pack_into("!H", iph, 10, ip_checksum(iph))
                frame = srv_mac + cli_mac + b"\x08\x00" + bytes(iph) + tcp + payload
                chunk.append(rec.pack(t0 + ts // 1000000, ts % 1000000, len(frame), len(frame)))
                chunk.append(frame)
                ts += 1
                if len(chunk) >= 65536:
                    f.write(b"".join(chunk))
                    chunk = []
            f.write(b"".join(chunk))
    os.replace(tmp, path)
    return path, True


# ---------------------------------------------------------------- tools

class Tool:
    def __init__(self, name, argv, packets, wire_bytes, check):
        self.name, self.argv, self.packets, self.wire_bytes, self.check = name, argv, packets, wire_bytes, check
        self.walls, self.cpus, self.rss = [], [], []
        self.note = ""

    def run(self, work):
        wall, cpu, rss_kib, rc, text = run_measured(self.argv)
        if rc != 0:
            raise ToolFailed(f"{self.name}: exit status {rc}: {' '.join(self.argv)}\n{text[-2000:]}")
        self.check(self, text)
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.rss.append(rss_kib)

    def row(self):
        wall = statistics.median(self.walls)
        cpu = statistics.median(self.cpus)
        return {
            "tool": self.name, "packets": self.packets, "seconds": wall, "cpu": cpu,
            "pps": self.packets / wall, "gbps": self.wire_bytes * 8 / wall / 1e9,
            "ns": wall * 1e9 / self.packets, "rss": max(self.rss) / 1024.0,
            "runs": len(self.walls), "note": self.note,
        }


def expect_packets_otsensor(n):
    def check(tool, text):
        m = re.search(r"^\s*packets\s+(\d+)", text, re.M)
        if not m or int(m.group(1)) != n:
            raise ToolFailed(f"{tool.name}: expected {n} packets in the summary:\n{text[-2000:]}")
        m = re.search(r"^\s*flows\s+(\d+) \(peak active (\d+), evicted (\d+)\)", text, re.M)
        if m:
            tool.note = f"flows {m.group(1)}, peak active {m.group(2)}, evicted {m.group(3)}"
    return check


def expect_packets_loop(n):
    def check(tool, text):
        f = text.split()
        if len(f) < 2 or int(f[0]) != n:
            raise ToolFailed(f"{tool.name}: expected {n} packets, got: {text[:200]}")
    return check


def no_check(tool, text):
    pass


def ndpi_total(ndpi, path):
    """Packets ndpiReader reads from the file (a verifying run, not measured)."""
    r = subprocess.run([ndpi, "-i", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, env=tool_env())
    text = r.stdout.decode("utf-8", "replace")
    m = re.search(r"of\s+(\d+)\s+packets total", text)
    if r.returncode != 0 or not m:
        raise ToolFailed(f"ndpiReader -i {path}: status {r.returncode}, no packet total:\n{text[-2000:]}")
    return int(m.group(1))


def tshark_slice_check(n):
    def check(tool, text):
        if re.search(r"(?i)(error|aborted|segmentation)", text):
            raise ToolFailed(f"{tool.name}: {text[-2000:]}")
    return check


# ---------------------------------------------------------------- report

def fmt_table(rows):
    hdr = ("tool", "packets", "seconds", "cpu s", "packets/s", "Gbit/s", "ns/packet", "peak RSS MiB")
    lines = ["%-28s %10s %8s %8s %12s %7s %10s %13s" % hdr]
    for r in rows:
        lines.append("%-28s %10d %8.3f %8.3f %12.0f %7.3f %10.1f %13.1f" % (
            r["tool"], r["packets"], r["seconds"], r["cpu"], r["pps"], r["gbps"], r["ns"], r["rss"]))
        if r.get("note"):
            lines.append("%-28s   %s" % ("", r["note"]))
    return lines


def ratio_line(label, num, den, target=None):
    if not num or not den:
        return f"{label:<38} n/a"
    v = num / den
    s = f"{label:<38} {v:7.3f}"
    if target is not None:
        s += f"   target >= {target:g}: {'MET' if v >= target else 'SHORT'}"
    return s


def cache_line_round_trip(pingpong):
    """Nanoseconds a cache line takes between the two CPUs and back (pingpong.c), as text."""
    if not pingpong:
        return "unknown"
    try:
        r = subprocess.run([pingpong], capture_output=True, text=True, timeout=30)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--otsensor", required=True)
    ap.add_argument("--gen-plant", required=True)
    ap.add_argument("--pcap-loop", required=True)
    ap.add_argument("--pingpong", help="measures a cache line's round trip between two CPUs (pingpong.c)")
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--packets", type=int, default=int(os.environ.get("BENCH_PACKETS", 2000000)),
                    help="packets in the plant capture (default 2000000, env BENCH_PACKETS)")
    ap.add_argument("--slice", type=int, default=200000, help="packets tshark reads (default 200000)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    ap.add_argument("--flows", type=int, default=int(os.environ.get("BENCH_FLOWS", 1000000)),
                    help="concurrent flows in the flow-scale run (default 1000000)")
    ap.add_argument("--no-flow-scale", action="store_true")
    ap.add_argument("--xdp-seconds", type=int, default=int(os.environ.get("BENCH_XDP_SECONDS", 10)),
                    help="seconds veth-blast sends per AF_XDP measurement (default 10, three of them)")
    ap.add_argument("--no-xdp", action="store_true", help="leave out the AF_XDP capture run")
    ap.add_argument("--ndpi", default=shutil.which("ndpiReader") or "/usr/bin/ndpiReader")
    ap.add_argument("--tshark", default=shutil.which("tshark") or "/usr/bin/tshark")
    a = ap.parse_args()
    os.makedirs(a.work_dir, exist_ok=True)
    out_lines = []

    def say(s=""):
        print(s, flush=True)
        out_lines.append(s)

    try:
        t = time.monotonic()
        cap, made = make_plant_capture(a.gen_plant, a.work_dir, a.packets)
        npk, wire = pcap_records(cap)
        if npk != a.packets:
            raise ToolFailed(f"{cap}: {npk} packets, expected {a.packets}")
        say(f"plant capture: {cap} ({npk} packets, {os.path.getsize(cap) / 2**20:.1f} MiB, "
            f"{'generated' if made else 'cached'} in {time.monotonic() - t:.1f} s)")
        say(f"machine: {os.cpu_count()} CPUs, load average {' '.join(open('/proc/loadavg').read().split()[:3])}"
            f" at start; wall times are medians of {a.rounds} interleaved rounds")
        rtt_start = cache_line_round_trip(a.pingpong)

        tools = [
            Tool("libpcap loop", [a.pcap_loop, cap], npk, wire, expect_packets_loop(npk)),
            Tool("otsensor replay --workers 1", [a.otsensor, "replay", "--workers", "1", cap], npk, wire,
                 expect_packets_otsensor(npk)),
            Tool("otsensor replay --workers 2", [a.otsensor, "replay", "--workers", "2", cap], npk, wire,
                 expect_packets_otsensor(npk)),
        ]
        ndpi = tshark = None
        if os.access(a.ndpi, os.X_OK):
            total = ndpi_total(a.ndpi, cap)
            if total != npk:
                raise ToolFailed(f"ndpiReader read {total} of {npk} packets")
            ndpi = Tool("ndpiReader -q", [a.ndpi, "-i", cap, "-q"], npk, wire, no_check)
            tools.append(ndpi)
        else:
            say(f"ndpiReader: not found ({a.ndpi}); install libndpi-bin")
        if os.access(a.tshark, os.X_OK):
            sn, sw = pcap_records(cap, a.slice)
            tshark = Tool(f"tshark -q (first {sn})", [a.tshark, "-n", "-q", "-r", cap, "-c", str(sn)], sn, sw,
                          tshark_slice_check(sn))
            tools.append(tshark)
        else:
            say(f"tshark: not found ({a.tshark})")

        for rnd in range(a.rounds):
            for tl in tools:
                tl.run(a.work_dir)
            print(f"  round {rnd + 1}/{a.rounds}: " + ", ".join(f"{tl.name.split(' (')[0]} {tl.walls[-1]:.2f}s"
                                                              for tl in tools), flush=True)

        rtt_end = cache_line_round_trip(a.pingpong)
        say(f"a cache line from one CPU to the other and back: {rtt_start} ns before the rounds, {rtt_end} ns after"
            " (replay hands every frame across; about 100 ns on this VM when its figures are its usual ones)")
        rows = [tl.row() for tl in tools]
        by = {tl.name: r for tl, r in zip(tools, rows)}
        loop, w1, w2 = (by[tools[i].name] for i in range(3))

        flow_row = None
        if not a.no_flow_scale:
            t = time.monotonic()
            fcap, made = make_flow_capture(a.work_dir, a.flows)
            fpk, fwire = pcap_records(fcap)
            say(f"flow-scale capture: {fcap} ({a.flows} flows, {fpk} packets, "
                f"{'generated' if made else 'cached'} in {time.monotonic() - t:.1f} s)")
            conf = os.path.join(a.work_dir, "bench-flows.conf")
            with open(conf, "w") as f:
                f.write("; written by tests/bench/bench.py: room for the flow-scale run's flows\n"
                        f"[sensor]\nmax_flows = {max(1024, a.flows + a.flows // 16)}\n"
                        "flow_timeout = 86400\ntcp_timeout = 86400\n")
            ft = Tool(f"flow-scale ({a.flows // 1000}k flows, w1)",
                      [a.otsensor, "replay", "--workers", "1", "--config", conf, fcap], fpk, fwire,
                      expect_packets_otsensor(fpk))
            ft.run(a.work_dir)
            flow_row = ft.row()

        xdp = None
        if not a.no_xdp:
            print("AF_XDP capture on a veth pair (veth-blast, %d s per run):" % a.xdp_seconds, flush=True)
            try:
                xdp = xdp_rate.measure(a.otsensor, cap, a.xdp_seconds)
            except xdp_rate.SetupFailed as e:
                raise ToolFailed(f"AF_XDP run: {e}")

        say()
        for line in fmt_table(rows + ([flow_row] if flow_row else [])):
            say(line)
        say()
        say("ratios (packets/s):")
        say(ratio_line("replay w1 / ndpiReader", w1["pps"], ndpi and by[ndpi.name]["pps"], TARGETS["w1_vs_ndpi"]))
        say(ratio_line("replay w1 / libpcap loop", w1["pps"], loop["pps"], TARGETS["w1_vs_loop"]))
        say(ratio_line("replay w2 / replay w1", w2["pps"], w1["pps"]))
        if tshark:
            say(ratio_line("replay w1 / tshark -q (slice)", w1["pps"], by[tshark.name]["pps"]))
        say("ratios (CPU time per packet, less sensitive to machine load):")
        cpu_pps = {k: r["packets"] / r["cpu"] if r["cpu"] else 0 for k, r in by.items()}
        say(ratio_line("replay w1 / ndpiReader", cpu_pps[w1["tool"]], ndpi and cpu_pps[ndpi.name]))
        say(ratio_line("replay w1 / libpcap loop", cpu_pps[w1["tool"]], cpu_pps[loop["tool"]]))
        if flow_row:
            ok = flow_row["rss"] <= TARGETS["flow_rss_mib"]
            say(f"{'flow-scale peak RSS (MiB)':<38} {flow_row['rss']:7.1f}   target <= {TARGETS['flow_rss_mib']}: "
                f"{'MET' if ok else 'SHORT'}; {flow_row['pps']:.0f} packets/s")
        if xdp is not None:
            say()
            say("AF_XDP capture, otsensor run on one end of a veth pair, veth-blast into the other "
                f"(a {xdp_rate.SLICE}-packet slice of the plant capture, looped; Mbit/s of frame bytes):")
            if "skipped" in xdp:
                say(f"afxdp 1 Gbit/s: skipped: {xdp['skipped']}")
            for r in xdp.get("runs", []):
                say(xdp_rate.line(r))
            for n in xdp.get("notes", []):
                say(n)
        res = os.path.join(a.work_dir, "bench-results.txt")
        with open(res, "w") as f:
            f.write("\n".join(out_lines) + "\n")
        print(f"\nwritten to {res}")
        return 0
    except ToolFailed as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
