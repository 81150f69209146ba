#!/usr/bin/python3
"""xdp_rate.py - AF_XDP capture at (up to) 1 Gbit/s of replayed plant traffic on a veth pair.

The benchmark suite's AF_XDP line (bench.py imports measure() and line()); also runs alone:

  xdp_rate.py --otsensor BIN --pcap FILE [--blast BIN] [--seconds S] [--rt-priority N] [--json]

A veth pair is made with its monitored end in a network namespace of its own (IPv6 off on
both ends, so the kernel sends nothing itself); `otsensor run` captures that end with
`[capture] backend = afxdp`, one queue, one worker, and veth-blast (tests/bench/veth-blast.c,
found by --blast, else $VETH_BLAST, which the bench test sets, else beside the otsensor
binary in tests/bench/) sends the first SLICE frames of the capture from the other end,
loaded into memory once, looped, for S seconds; then the sensor is stopped with SIGTERM and
its final `--emit stats` record read. Measurements, each with a fresh sensor:

  1. `--mbps 1000` with xdp_mode = auto: native XDP (zero-copy, then copy) and generic (skb)
     mode only when the kernel refuses native on the veth; the sensor says which it got;
  2. top speed in the same mode (as fast as veth-blast sends);
  3. `--mbps 1000` in the other mode (skb if 1 ran native), for comparison.

The sender depends on the mode. Native: `veth-blast --via xdp`, frames made by an XDP
program in the kernel's live-frames test run and handed to the monitored end's XDP program
as xdp_frames, no socket buffer on the way (a 2-core VM sends 1.6-2.5 M frames/s, 1.0-1.6
Gbit/s of plant traffic, this way, depending on its other load; paced, the sender keeps the pace frame by frame and spins
on its CPU in between); if the kernel refuses that (before 5.18) it falls back to --via
packet and says so. Generic (skb): `veth-blast --via packet`, sendmmsg() on an AF_PACKET socket with
PACKET_QDISC_BYPASS (frames must become socket buffers for generic XDP anyway; ~600k
frames/s, ~380 Mbit/s on that VM; tcpreplay, one system call a frame, ~500k).

Per measurement: packets sent and the rate reached (veth-blast's own report, frame bytes
without preamble, inter-frame gap or FCS, from the start to the last frame), packets the
sensor received (per socket and per worker), every drop counter of the stats record
(kernel: the AF_XDP socket's rx_dropped + rx_ring_full; nic; ring_full: the worker input
ring, software split only), frames the sensor did not see (sent - received), the veth's
receive counters on the monitored end (rx_dropped counts the AF_XDP socket's drops in
native mode, and copies the veth refused to the sender, which sent them again, counted in
retries), frames the veth refused (sent - its rx_packets: in native mode its 256-frame ring
to the monitored end was full, the veth's NAPI not run in time on the sender's CPU; they
never reached the monitored end), its transmit counter, which must not move (the sensor
never transmits), and the CPU seconds the sensor used (all threads, up to SIGTERM). The
verdict counts as lost by the sensor only frames that reached the monitored end.

The AF_XDP socket drops frames when its RX ring is full: when the worker has not run for
longer than the ring holds (32768 frames, 20 ms at 1 Gbit/s of plant frames). On a machine
busy with other work that happens although the worker needs a fraction of a core on
average; --rt-priority N (bench: BENCH_XDP_RT=N) runs the sensor SCHED_FIFO at priority N
(chrt -f), which tells drops the machine's other load causes from the sensor's own.

When the sender stays below 1 Gbit/s the line says so; the target is then not measured,
and the line says whether the sensor kept up with what was sent.

Never fails on timing or drops. Exit status (alone): 0 measured or skipped (the reason on
the "skipped:" line: not root, no ip, no veth-blast (built only with libbpf), no chrt
when asked for SCHED_FIFO, no afxdp backend in this build, the kernel refuses AF_XDP), 1 broken setup (the sensor did not
start, crashed, exited non-zero or wrote no stats record, veth-blast failed, or the sensor
transmitted). The namespace and the veth pair are deleted in every case, also on
SIGTERM/SIGINT.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import netns  # noqa: E402  (tests/netns.py)

TARGET_MBPS = 1000
SLICE = 100000  # frames of the capture veth-blast loops over (in memory, and in BPF maps)


class Skipped(Exception):
    pass


class SetupFailed(Exception):
    pass


class _Stop(Exception):
    pass


def _sh(*args, check=True, timeout=60):
    try:
        return netns.run(*args, check=check, timeout=timeout)
    except netns.VethError as e:
        raise SetupFailed(str(e))


def _tool_env():
    env = dict(os.environ)
    env.pop('MALLOC_PERTURB_', None)  # meson test's: glibc would fill every allocation
    env.pop('MALLOC_CHECK_', None)
    return env


def Veth():
    """the measured pair: `feed` here, `mon` (where the sensor runs) in its own namespace"""
    t = netns.tag()
    try:
        return netns.Veth('otsxdp' + t, 'otsxf' + t, 'otsxm' + t)
    except netns.VethError as e:
        raise SetupFailed(str(e))


def find_blast(otsensor, blast=None):
    """the veth-blast binary: `blast`, else $VETH_BLAST, else tests/bench/veth-blast beside otsensor"""
    return (blast or os.environ.get('VETH_BLAST')
            or os.path.join(os.path.dirname(os.path.abspath(otsensor)), 'tests', 'bench', 'veth-blast'))


def probe(otsensor, blast):
    """None when this machine can run the measurement, else the reason it cannot."""
    if os.geteuid() != 0:
        return 'needs root (network namespace, veth pair, XDP program)'
    if not shutil.which('ip'):
        return 'ip is not installed'
    if not os.access(blast, os.X_OK):
        return 'no sender %s (tests/bench/veth-blast is built only with libbpf-dev)' % blast
    with tempfile.TemporaryDirectory(prefix='ots-xdp-probe-') as tmp:
        cfg = os.path.join(tmp, 'probe.ini')
        with open(cfg, 'w') as f:
            f.write('[sensor]\nstate_dir = %s\nuser =\n[capture]\nbackend = afxdp\n'
                    'interface = ots-no-such-if\n' % os.path.join(tmp, 'state'))
        r = _sh(otsensor, 'run', '--config', cfg, check=False, timeout=30)
    if 'this build has no' in r.stderr:
        return 'this otsensor was built without the afxdp backend (libxdp-dev libbpf-dev)'
    return None


BLAST_RE = re.compile(r'sent (\d+) packets (\d+) bytes in ([\d.]+) s: ([\d.]+) Mbit/s, ([\d.]+) pps, '
                      r'retries (\d+), loops (\d+), target ([\d.]+) Mbit/s, via (\w+)')


def parse_blast(text):
    m = BLAST_RE.search(text)
    if not m:
        raise SetupFailed('veth-blast: no "sent ..." report in:\n' + text[-2000:])
    return {'sent': int(m.group(1)), 'sent_bytes': int(m.group(2)), 'send_seconds': float(m.group(3)),
            'mbps': float(m.group(4)), 'pps': float(m.group(5)), 'retries': int(m.group(6)),
            'loops': int(m.group(7)), 'via': m.group(9)}


def pcap_slice(src, dst, limit):
    """the first `limit` records of a classic pcap file, written to dst; their count"""
    import struct
    n = 0
    with open(src, 'rb') as f, open(dst, 'wb') as o:
        hdr = f.read(24)
        if hdr[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
            fmt = '<IIII'
        elif hdr[:4] in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
            fmt = '>IIII'
        else:
            raise SetupFailed('%s: not a classic pcap file' % src)
        o.write(hdr)
        while n < limit:
            rh = f.read(16)
            if len(rh) < 16:
                break
            incl = struct.unpack(fmt, rh)[2]
            o.write(rh + f.read(incl))
            n += 1
    return n


def _send(blast, via, mbps, seconds, feed, pcap):
    """one veth-blast run: (exit status, its output, argv)"""
    argv = [blast, '--via', via] + (['--mbps', str(mbps)] if mbps else []) + ['--seconds', str(seconds), feed, pcap]
    feeder = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL, env=_tool_env())
    try:
        text, _ = feeder.communicate(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        feeder.kill()
        feeder.communicate()
        raise SetupFailed('veth-blast did not end within %d s: %s' % (seconds + 120, ' '.join(argv)))
    finally:
        if feeder.poll() is None:  # interrupted (SIGTERM/SIGINT of this process)
            feeder.kill()
            feeder.wait()
    return feeder.returncode, text, argv


def _cpu_seconds(pid):
    """user + system CPU seconds of a running process (all its threads), None if gone"""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None


def one_run(otsensor, blast, pcap, veth, tmp, xdp_mode, mbps, seconds, log, sender, rt_priority=0):
    """One sensor on veth.mon for one veth-blast run (`mbps` None: top speed); the
    measurement's dict. sender['xdp'] False: the kernel refused --via xdp once already.
    rt_priority > 0: the sensor runs SCHED_FIFO at that priority (chrt -f)."""
    state = tempfile.mkdtemp(prefix='state-', dir=tmp)
    cfg = os.path.join(tmp, 'sensor.ini')
    with open(cfg, 'w') as f:
        f.write('; written by tests/bench/xdp_rate.py\n[sensor]\nstate_dir = %s\nuser =\n'
                '[capture]\nbackend = afxdp\ninterface = %s\nqueues = 1\nxdp_mode = %s\n' % (state, veth.mon, xdp_mode))
    out_path, err_path = os.path.join(tmp, 'run.jsonl'), os.path.join(tmp, 'run.err')
    before = veth.counters()
    with open(out_path, 'w') as out, open(err_path, 'w') as err:
        rt = ['chrt', '-f', str(rt_priority)] if rt_priority > 0 else []
        p = subprocess.Popen(rt + ['ip', 'netns', 'exec', veth.ns, otsensor, 'run', '--config', cfg, '--emit', 'stats'],
                             stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_tool_env())
    try:
        t0 = time.monotonic()
        ready = False
        while time.monotonic() - t0 < 30 and p.poll() is None:
            with open(err_path) as f:
                if 'otsensor: capturing' in f.read():
                    ready = True
                    break
            time.sleep(0.1)
        if not ready:
            if p.poll() is None:
                p.kill()
            p.wait()
            with open(err_path) as f:
                errtext = f.read().strip()
            return {'started': False, 'status': p.returncode, 'stderr': errtext}
        with open(err_path) as f:
            m = re.search(r'AF_XDP in (\w+) mode', f.read())
        mode = m.group(1) if m else '?'
        # native XDP takes xdp_frames straight from the veth peer; generic XDP needs socket buffers
        via = 'xdp' if mode in ('zerocopy', 'copy') and sender['xdp'] else 'packet'
        rc, text, argv = _send(blast, via, mbps, seconds, veth.feed, pcap)
        if rc == 3 and via == 'xdp':
            # nothing was sent: the kernel cannot run the XDP sender, AF_PACKET it is
            sender['xdp'] = False
            why = text.strip().splitlines()[-1] if text.strip() else 'exit status 3'
            sender['note'] = ('veth-blast --via xdp: refused by the kernel (%s); sending --via packet '
                              '(socket buffers: slower)' % why)
            log('  ' + sender['note'])
            via = 'packet'
            rc, text, argv = _send(blast, via, mbps, seconds, veth.feed, pcap)
        if rc:
            raise SetupFailed('veth-blast: exit status %d: %s\n%s' % (rc, ' '.join(argv), text[-2000:]))
        sent = parse_blast(text)
        time.sleep(1)  # the last frames reach the socket; at SIGTERM the worker drains its ring
        if p.poll() is not None:
            with open(err_path) as f:
                raise SetupFailed('otsensor run (afxdp, %s mode) ended during the replay, status %d:\n%s'
                                  % (mode, p.returncode, f.read()[-2000:]))
        cpu_s = _cpu_seconds(p.pid)  # chrt and ip netns exec exec the sensor: its pid
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise SetupFailed('the sensor did not stop within 60 s of SIGTERM')
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    after = veth.counters()
    with open(err_path) as f:
        errtext = f.read()
    if p.returncode != 0:
        raise SetupFailed('otsensor run (afxdp, %s mode): exit status %d after SIGTERM:\n%s'
                          % (mode, p.returncode, errtext[-2000:]))
    st = None
    with open(out_path) as f:
        for ln in f:
            try:
                r = json.loads(ln)
            except ValueError:
                raise SetupFailed('otsensor run: a line of --emit stats output is not JSON: %r' % ln[:200])
            if r.get('type') == 'stats':
                st = r
    if not st or 'drops' not in st or 'interfaces' not in st:
        raise SetupFailed('otsensor run (afxdp): no stats record with drops and interfaces at exit:\n' + errtext[-2000:])
    received = sum(i.get('received', 0) for i in st['interfaces'])
    res = dict(sent)
    res.update({
        'started': True, 'mode': mode, 'rate': '--mbps %d' % mbps if mbps else '--topspeed', 'seconds': seconds,
        'received': received, 'worker_packets': st.get('packets', 0),
        'kernel': st['drops'].get('kernel', 0), 'nic': st['drops'].get('nic', 0),
        'ring_full': st['drops'].get('ring_full', 0),
        'interfaces': st['interfaces'],
        'missing': max(0, sent['sent'] - received),
        'veth_rx': after['rx_packets'] - before['rx_packets'],
        'veth_rx_dropped': after['rx_dropped'] - before['rx_dropped'],
        'tx_before': before['tx_packets'], 'tx_after': after['tx_packets'],
        'xdp_left': veth.xdp_attached(),
        'sensor_cpu_s': cpu_s, 'rt_priority': rt_priority,
    })
    res['drops'] = res['kernel'] + res['nic'] + res['ring_full']
    # frames the veth did not take from the sender (native: its 256-frame ring to the
    # monitored end was full, its NAPI not run in time on the sender's CPU): they never
    # reached the monitored end, the sensor could not see them
    res['veth_refused'] = max(0, res['sent'] - res['veth_rx'])
    # frames that reached the monitored end and not the sensor
    res['sensor_lost'] = max(res['drops'], res['veth_rx'] - received, 0)
    res['reached_mbps'] = res['mbps'] * res['veth_rx'] / res['sent'] if res['sent'] else 0.0
    if res['tx_after'] != res['tx_before']:
        raise SetupFailed('the monitored interface transmitted while the sensor ran (tx_packets %d -> %d)'
                          % (res['tx_before'], res['tx_after']))
    if res['xdp_left']:
        raise SetupFailed('the sensor left its XDP program on %s' % veth.mon)
    log('  afxdp %s mode, veth-blast --via %s %s: sent %d in %.2f s (%.1f Mbit/s, %.0f pps, retries %d), '
        'received %d, drops %s, veth rx %d rx_dropped %d, sensor CPU %s s'
        % (mode, res['via'], res['rate'], res['sent'], res['send_seconds'], res['mbps'], res['pps'], res['retries'],
           received, json.dumps(st['drops']), res['veth_rx'], res['veth_rx_dropped'],
           '?' if cpu_s is None else '%.1f' % cpu_s))
    return res


def measure(otsensor, pcap, seconds=10, log=print, blast=None, rt_priority=None):
    """Every measurement (see the module's text): {'skipped': reason} or {'runs': [...]};
    raises SetupFailed when the setup is broken. blast: the veth-blast binary (find_blast);
    rt_priority: SCHED_FIFO priority of the sensor, 0 none (default $BENCH_XDP_RT, else 0)."""
    if rt_priority is None:
        try:
            rt_priority = int(os.environ.get('BENCH_XDP_RT', '0') or 0)
        except ValueError:
            raise SetupFailed('BENCH_XDP_RT=%r: not a number' % os.environ['BENCH_XDP_RT'])
    if not os.access(otsensor, os.X_OK):
        raise SetupFailed('no otsensor binary %s' % otsensor)
    blast = find_blast(otsensor, blast)
    why = probe(otsensor, blast)
    if not why and rt_priority > 0 and not shutil.which('chrt'):
        why = 'chrt is not installed (util-linux), needed for a SCHED_FIFO sensor'
    if why:
        return {'skipped': why}
    if not os.path.exists(pcap):
        raise SetupFailed('no capture %s' % pcap)
    runs, notes = [], []
    sender = {'xdp': True, 'note': None}
    veth = None

    def stop(signum, frame):
        raise _Stop('signal %d' % signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with tempfile.TemporaryDirectory(prefix='ots-xdp-rate-') as tmp:
            # veth-blast holds the frames it loops over in memory (and, --via xdp, in BPF
            # maps): a slice of the capture, not all of it
            piece = os.path.join(tmp, 'slice.pcap')
            if pcap_slice(pcap, piece, SLICE) < 1:
                raise SetupFailed('%s: no packets' % pcap)
            pcap = piece
            veth = Veth()
            first = one_run(otsensor, blast, pcap, veth, tmp, 'auto', TARGET_MBPS, seconds, log, sender, rt_priority)
            if not first['started']:
                refused = ('no AF_XDP socket' in first['stderr'])
                if refused:
                    return {'skipped': 'the kernel refuses AF_XDP on a veth: ' + first['stderr'].strip().splitlines()[-1]}
                raise SetupFailed('otsensor run (afxdp) did not start (status %s):\n%s'
                                  % (first['status'], first['stderr'][-2000:]))
            runs.append(first)
            native = first['mode'] in ('zerocopy', 'copy')
            top = one_run(otsensor, blast, pcap, veth, tmp, first['mode'], None, seconds, log, sender, rt_priority)
            if not top['started']:
                raise SetupFailed('otsensor run (afxdp, %s mode) did not start the second time (status %s):\n%s'
                                  % (first['mode'], top['status'], top['stderr'][-2000:]))
            runs.append(top)
            other = 'skb' if native else 'copy'
            r = one_run(otsensor, blast, pcap, veth, tmp, other, TARGET_MBPS, seconds, log, sender, rt_priority)
            if r['started']:
                runs.append(r)
            else:
                notes.append('afxdp %s mode: not available on this veth (%s)'
                             % (other, r['stderr'].strip().splitlines()[-1] if r['stderr'].strip()
                                else 'status %s' % r['status']))
                log('  ' + notes[-1])
            if sender['note']:
                notes.append(sender['note'])
    except _Stop as e:
        raise SetupFailed('stopped by ' + str(e))
    finally:
        if veth:
            veth.close()
        for s, h in old.items():
            signal.signal(s, h)
    return {'runs': runs, 'notes': notes}


def verdict(r):
    """the target's verdict for one measurement"""
    if r['sensor_lost']:
        return 'SHORT: %d frames lost by the sensor at %.0f Mbit/s' % (r['sensor_lost'], r['reached_mbps'])
    if r['reached_mbps'] >= TARGET_MBPS * 0.99:
        return 'MET'
    if r['veth_refused']:
        return ('not measured: %.0f Mbit/s reached the monitored end (the veth refused %d frames on the '
                'sender\'s side); no drops at that rate' % (r['reached_mbps'], r['veth_refused']))
    return ('not measured: veth-blast --via %s reached only %.0f Mbit/s on this machine, not 1 Gbit/s; '
            'no drops at that rate' % (r['via'], r['mbps']))


def line(r):
    """one line of the bench table per measurement"""
    label = 'afxdp 1 Gbit/s' if r['rate'].startswith('--mbps') else 'afxdp topspeed'
    kind = 'native' if r['mode'] in ('zerocopy', 'copy') else 'generic'
    if r.get('rt_priority'):
        kind += ', sensor SCHED_FIFO %d' % r['rt_priority']
    cpu = '?' if r.get('sensor_cpu_s') is None else '%.1f' % r['sensor_cpu_s']
    return ('%s, %s (%s), veth-blast --via %s: sent %d pkts in %.1f s at %.1f Mbit/s (%.0f pps, retries %d), '
            'received %d, drops kernel %d nic %d ring %d, unseen %d (veth rx %d, rx_dropped %d, refused %d, '
            'monitored tx %d), sensor CPU %s s -> target no drops: %s'
            % (label, kind, r['mode'], r['via'], r['sent'], r['send_seconds'], r['mbps'], r['pps'], r['retries'],
               r['received'], r['kernel'], r['nic'], r['ring_full'], r['missing'], r['veth_rx'],
               r['veth_rx_dropped'], r['veth_refused'], r['tx_after'] - r['tx_before'], cpu, verdict(r)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--otsensor', required=True)
    ap.add_argument('--pcap', required=True)
    ap.add_argument('--blast', help='the veth-blast binary (default: $VETH_BLAST, else tests/bench/veth-blast '
                    'beside --otsensor)')
    ap.add_argument('--seconds', type=int, default=10, help='seconds veth-blast sends per measurement (default 10)')
    ap.add_argument('--rt-priority', type=int, default=None,
                    help='run the sensor SCHED_FIFO at this priority (chrt -f; default $BENCH_XDP_RT, else 0: '
                    'not real-time): tells drops the machine\'s other load causes from the sensor\'s own')
    ap.add_argument('--json', action='store_true', help='print the measurements as JSON too')
    a = ap.parse_args()
    try:
        res = measure(a.otsensor, a.pcap, a.seconds, blast=a.blast, rt_priority=a.rt_priority)
    except SetupFailed as e:
        print('xdp_rate: FAILED: %s' % e, file=sys.stderr)
        return 1
    if 'skipped' in res:
        print('afxdp 1 Gbit/s: skipped: %s' % res['skipped'])
        return 0
    for r in res['runs']:
        print(line(r))
    for n in res['notes']:
        print(n)
    if a.json:
        print(json.dumps(res, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
