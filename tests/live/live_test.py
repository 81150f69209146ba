#!/usr/bin/python3
"""Live capture test: `otsensor run` on a live source must give the same PDU, device and
alert records as `otsensor replay` on the same capture file, and never transmit.

usage: live_test.py OTSENSOR SOURCE_ROOT CASE
CASE:
  pcap           libpcap on one end of a veth pair (the other end fed by tcpreplay)
  pcap-2workers  the same with [capture] queues = 2 (software split over two workers)
  afxdp          AF_XDP (generic/SKB mode) on the veth end
  afxdp-2queues  AF_XDP, two queues on a two-queue veth (native mode), two workers
  dpdk-afpacket  DPDK with --no-huge --no-pci --vdev=net_af_packet0,iface=<veth end>
  dpdk-pcap      DPDK with --vdev=net_pcap0,rx_pcap=<file> (no network at all)
  pcap-2interfaces, afxdp-2interfaces, dpdk-2interfaces
                 two veth pairs captured at once by one sensor
  privileges     started as root with [sensor] user = nobody: pcap, afxdp and dpdk drop to it
                 (and name their threads: ots-worker0, ots-state)

The veth pair is created with unique names, its sensor end in a network namespace made
for the test; both are always deleted. IPv6 is off on both ends so the kernel sends
nothing itself; the sensor end's tx_packets must not move while the sensor runs.
Exit 0 pass, 1 fail, 77 skip (the reason is printed: not root, no tcpreplay, the
backend is not built, or the kernel refuses AF_XDP).
"""
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import netns  # noqa: E402  (tests/netns.py)

SKIP = 77
OTS, ROOT, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'pcaps'))
CAPTURES = [os.path.join(ROOT, 'pcaps', 'demo-plant.pcap'),
            os.path.join(SHARED, 'ics-security-tools', 'ModbusTCP', 'mb2.pcap'),
            os.path.join(SHARED, 'ics-security-tools', 'ModbusTCP', 'ModbusTCP.pcap')]
PPS = 20000
TAG = '%x' % (os.getpid() & 0xfffff)


def skip(why):
    print('SKIP: ' + why)
    sys.exit(SKIP)


def sh(*args, check=True, timeout=60, **kw):
    return subprocess.run(list(args), check=check, timeout=timeout, capture_output=True, text=True, **kw)


def records(text, relaxed=False):
    """PDU, device and alert records without what depends on when or where they were seen.

    relaxed (several workers): the state thread applies the facts of different workers in
    an order that depends on their pace, and the inventory and the anomaly windows are
    sensitive to it (a DNS name for an address no device has yet is dropped; the order of
    a device's protocols; an ip_sweep window). PDUs are compared exactly; devices by
    addresses, vendor, model, firmware and the set of protocols; alerts are left out
    (their differences are printed, not failed)."""
    out = collections.Counter()
    for line in text.splitlines():
        r = json.loads(line)
        t = r.get('type')
        if 'macs' in r and 'protocols' in r:
            t = 'device'  # a device record (whatever its "type" field says)
            r['_record'] = t
        if t not in ('pdu', 'device', 'alert'):
            continue
        for k in ('ts', 'frame', 'first_seen', 'last_seen', 'evidence', 'id'):
            r.pop(k, None)
        if relaxed and t == 'alert':
            continue
        if relaxed and t == 'device':
            r = {'_record': 'device', 'macs': sorted(r.get('macs') or []), 'ips': sorted(r.get('ips') or []),
                 'vendor': r.get('vendor'), 'model': r.get('model'), 'firmware': r.get('firmware'),
                 'protocols': sorted(json.dumps(p, sort_keys=True) for p in r.get('protocols') or [])}
        out[json.dumps(r, sort_keys=True)] += 1
    return out


def stats_of(text):
    for line in text.splitlines():
        r = json.loads(line)
        if r.get('type') == 'stats':
            return r
    return None


def build_config(tmp, backend, iface=None, queues=1, extra=''):
    path = os.path.join(tmp, 'sensor.ini')
    with open(path, 'w') as f:
        f.write('[sensor]\nstate_dir = %s\n' % os.path.join(tmp, 'state-run'))
        f.write('[capture]\nbackend = %s\nqueues = %d\n' % (backend, queues))
        if iface:
            f.write('interface = %s\n' % iface)
        f.write(extra)
    return path


def retimed(cap, tmp, pps):
    """A copy of a pcap file whose frames are 1/pps seconds apart, as tcpreplay --pps sends
    them: packet time drives the engines (fact repeat cache, timeouts, learning), so the
    reference replay must see the pace the live sensor sees."""
    import struct
    with open(cap, 'rb') as f:
        data = f.read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        return cap  # pcapng: left as it is
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    out = bytearray(data[:24])
    off, i = 24, 0
    t0 = 1767600000 * 10**6
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(e + 'IIII', data[off:off + 16])
        t = t0 + i * 10**6 // pps
        sub = (t % 10**6) * (1000 if nano else 1)
        out += struct.pack(e + 'IIII', t // 10**6, sub, incl, orig)
        out += data[off + 16:off + 16 + incl]
        off += 16 + incl
        i += 1
    path = os.path.join(tmp, 'retimed-' + os.path.basename(cap))
    with open(path, 'wb') as f:
        f.write(out)
    return path


def replay_text(cap, tmp, workers=1):
    """the reference: replay with as many workers as the live run has (facts of different
    workers reach the state thread in an order that depends on their pace, and the
    inventory is sensitive to it, e.g. a DNS name for an address no device has yet)"""
    state = tempfile.mkdtemp(prefix='replay-', dir=tmp)
    r = sh(OTS, 'replay', '--state', state, '--workers', str(workers), '--emit', 'pdus,devices,alerts', cap,
           timeout=300)
    return r.stdout


def replay(cap, tmp):
    return records(replay_text(cap, tmp))


def Veth(queues=1, suffix='', ns=None):
    """a veth pair; with ns, a second pair in that existing namespace"""
    return netns.Veth(ns or 'otslive' + TAG, 'otsf' + TAG + suffix, 'otsm' + TAG + suffix, queues=queues,
                      mtu=3000, own_ns=not ns)  # above 1500 for captures with larger frames,
                                                # below what native XDP on veth accepts (~3500)


def start_sensor(cfg, tmp, ns=None):
    out = open(os.path.join(tmp, 'run.jsonl'), 'w')
    err = open(os.path.join(tmp, 'run.err'), 'w')
    cmd = [OTS, 'run', '--config', cfg, '--emit', 'pdus,devices,alerts,stats']
    if ns:
        cmd = ['ip', 'netns', 'exec', ns] + cmd
    p = subprocess.Popen(cmd, stdout=out, stderr=err)
    return p, out, err


def wait_ready(p, tmp, timeout=20):
    """until the sensor says it captures (or dies)"""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if p.poll() is not None:
            return False
        with open(os.path.join(tmp, 'run.err')) as f:
            if 'otsensor: capturing' in f.read():
                return True
        time.sleep(0.1)
    return False


def stop_sensor(p, out, err, tmp):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out.close()
            err.close()
            return None, 'did not stop within 60 s of SIGTERM'
    out.close()
    err.close()
    with open(os.path.join(tmp, 'run.jsonl')) as f:
        text = f.read()
    with open(os.path.join(tmp, 'run.err')) as f:
        errtext = f.read()
    if p.returncode != 0:
        return None, 'exit status %d: %s' % (p.returncode, errtext.strip())
    return text, errtext


def compare(name, want, got, st, level='FAIL'):
    if want == got:
        n = sum(want.values())
        print('ok   %s: %d records equal (%s)' % (name, n, ', '.join(
            '%s %d' % (t, sum(c for k, c in want.items() if json.loads(k).get('_record', json.loads(k).get('type')) == t))
            for t in ('pdu', 'device', 'alert'))))
        return True
    missing = want - got
    extra = got - want
    print('%s %s: %d records missing from run, %d extra (packets %s, drops %s)' % (level,
        name, sum(missing.values()), sum(extra.values()), st and st.get('packets'),
        json.dumps(st and st.get('drops'))))
    for k in list(missing)[:5]:
        print('  missing: ' + k)
    for k in list(extra)[:5]:
        print('  extra:   ' + k)
    return False


def veth_case(backend, queues=1, vqueues=1, extra='', need=None):
    if not shutil.which('tcpreplay'):
        skip('tcpreplay is not installed (apt-get install tcpreplay)')
    ok = True
    for cap in CAPTURES:
        if not os.path.exists(cap):
            print('note: %s is not here, skipped' % cap)
            continue
        pps = PPS
        for attempt in range(3):
            res = veth_once(cap, backend, queues, vqueues, extra, need, pps)
            if res != 'drops':
                break
            pps //= 3
            print('note: the capture dropped frames (a busy machine?): again at %d packets/s' % pps)
        if res == 'drops':
            print('FAIL %s %s: frames dropped at every rate tried' % (CASE, os.path.basename(cap)))
        ok = res is True and ok
    return ok


def veth_once(cap, backend, queues, vqueues, extra, need, pps):
    ok = True
    if True:
        with tempfile.TemporaryDirectory(prefix='ots-live-') as tmp:
            want_text = replay_text(retimed(cap, tmp, pps), tmp, queues)
            v = Veth(vqueues)
            try:
                port = 'net_af_packet0' if backend == 'dpdk' else v.mon  # DPDK names its ports
                cfg = build_config(tmp, backend, port, queues, extra.replace('IFACE', v.mon))
                tx0 = v.mon_tx()
                p, out, err = start_sensor(cfg, tmp, v.ns)
                if not wait_ready(p, tmp):
                    text, why = stop_sensor(p, out, err, tmp)
                    msg = why if text is None else why
                    if need and any(s in (msg or '') for s in need):
                        skip('%s cannot run on this machine: %s' % (backend, msg.strip()))
                    print('FAIL %s: the sensor did not start: %s' % (os.path.basename(cap), msg))
                    return False
                r = sh('tcpreplay', '-q', '-i', v.feed, '--pps', str(pps), cap, timeout=900, check=False)
                if r.returncode:
                    print('FAIL tcpreplay: ' + r.stderr + r.stdout)
                    p.kill()
                    p.wait()
                    return False
                time.sleep(2)  # settle: the last frames reach the sensor
                text, errtext = stop_sensor(p, out, err, tmp)
                tx1 = v.mon_tx()
            finally:
                v.close()
            name = '%s %s' % (CASE, os.path.basename(cap))
            if text is None:
                print('FAIL %s: %s' % (name, errtext))
                return False
            st = stats_of(text)
            if tx1 != tx0:
                print('FAIL %s: the sensor transmitted on %s (tx_packets %d -> %d)' % (name, '(monitored)', tx0, tx1))
                ok = False
            else:
                print('ok   %s: nothing transmitted on the monitored interface (tx_packets stayed %d)' % (name, tx0))
            if not st:
                print('FAIL %s: no stats record' % name)
                return False
            if not ok:
                return False
            drops = sum(st['drops'].values())
            if drops:
                print('     %s: %s dropped %s' % (name, backend, json.dumps(st['drops'])))
                return 'drops'
            if queues > 1 and st:
                busy = [w['packets'] for w in st['workers']]
                print('     per-worker packets: %s' % busy)
                if len([b for b in busy if b]) < 2:
                    print('FAIL %s: the traffic was not spread over the workers: %s' % (name, busy))
                    ok = False
            if queues > 1:
                strict = compare(name + ' (all records, informative)', records(want_text), records(text), st, 'note')
                if not strict:
                    print('     (several workers: fact order between workers varies, see records(); the comparison below decides)')
                ok = compare(name, records(want_text, True), records(text, True), st) and ok
            else:
                ok = compare(name, records(want_text), records(text), st) and ok
    return ok


def privileges_case():
    """Started as root with [sensor] user = nobody: after the capture is open the sensor
    runs as nobody with no capability (pcap, dpdk) or only CAP_NET_ADMIN (afxdp, to detach its
    XDP program at exit), its state directory belongs to nobody, its records are still
    right, and no XDP program is left on the interface."""
    import pwd
    try:
        nobody = pwd.getpwnam('nobody')
    except KeyError:
        skip('no user nobody to drop privileges to')
    cap = CAPTURES[1]
    backends = [('pcap', 0, '')]
    if 'this build has no' not in sh(OTS, 'run', '--config', _probe_cfg('afxdp'), check=False).stderr:
        backends.append(('afxdp', 1 << 12, 'xdp_mode = skb\n'))
    if 'this build has no' not in sh(OTS, 'run', '--config', _probe_cfg('dpdk'), check=False).stderr:
        backends.append(('dpdk', 0, 'dpdk_args = --no-huge --no-pci --no-shconf -m 512 -l 0 '
                         '--log-level=lib.eal:error --vdev=net_af_packet0,iface=IFACE,framecnt=16384\n'))
    ok = True
    for backend, capeff, extra in backends:
        with tempfile.TemporaryDirectory(prefix='ots-live-') as tmp:
            os.chmod(tmp, 0o755)
            want = replay(retimed(cap, tmp, PPS), tmp)
            v = Veth()
            try:
                port = 'net_af_packet0' if backend == 'dpdk' else v.mon
                cfg = build_config(tmp, backend, port, 1, extra.replace('IFACE', v.mon))
                with open(cfg, 'a') as f:
                    f.write('[sensor]\nuser = nobody\n')
                p, out, err = start_sensor(cfg, tmp, v.ns)
                if not wait_ready(p, tmp):
                    print('FAIL privileges %s: the sensor did not start: %s' % (backend, stop_sensor(p, out, err, tmp)[1]))
                    return False
                time.sleep(0.5)
                with open('/proc/%d/status' % p.pid) as f:
                    status = dict(line.split(':', 1) for line in f.read().splitlines() if ':' in line)
                uids = status['Uid'].split()
                threads = set()
                for t in os.listdir('/proc/%d/task' % p.pid):
                    with open('/proc/%d/task/%s/comm' % (p.pid, t)) as f:
                        threads.add(f.read().strip())
                eff = int(status['CapEff'].strip(), 16)
                bnd = int(status['CapBnd'].strip(), 16)
                r = sh('tcpreplay', '-q', '-i', v.feed, '--pps', str(PPS), cap, timeout=600, check=False)
                time.sleep(2)
                text, errtext = stop_sensor(p, out, err, tmp)
                xdp = v.xdp_attached()
            finally:
                v.close()
            name = 'privileges %s' % backend
            if any(int(u) != nobody.pw_uid for u in uids):
                print('FAIL %s: uids %s, not nobody (%d)' % (name, uids, nobody.pw_uid))
                ok = False
            elif not {'ots-worker0', 'ots-state'} <= threads:
                print('FAIL %s: threads named %s, want ots-worker0 and ots-state among them' % (name, sorted(threads)))
                ok = False
            elif eff != capeff or bnd != capeff:
                print('FAIL %s: capabilities effective %#x, bounding %#x, want %#x' % (name, eff, bnd, capeff))
                ok = False
            else:
                print('ok   %s: running as nobody, capabilities %#x, threads %s' % (name, eff, ' '.join(sorted(threads))))
            owner = os.stat(os.path.join(tmp, 'state-run', 'data.mdb')).st_uid if text is not None else None
            if text is None or r.returncode:
                print('FAIL %s: %s' % (name, errtext if text is None else r.stderr))
                ok = False
                continue
            if owner != nobody.pw_uid:
                print('FAIL %s: the store belongs to uid %s' % (name, owner))
                ok = False
            if xdp:
                print('FAIL %s: an XDP program is left on the interface' % name)
                ok = False
            ok = compare(name, want, records(text), stats_of(text)) and ok
    return ok


def two_interfaces_case(backend):
    """Two monitored interfaces at once: demo-plant into one veth pair, mb2 into another,
    at the same time; one sensor on both ends. Their hosts differ, so the reference is the
    two replays together: PDUs exactly, devices by addresses/vendor/model/firmware/protocols
    (the two streams interleave in packet time; alerts are printed, not compared)."""
    if not shutil.which('tcpreplay'):
        skip('tcpreplay is not installed (apt-get install tcpreplay)')
    caps = CAPTURES[:2]
    with tempfile.TemporaryDirectory(prefix='ots-live-') as tmp:
        want = collections.Counter()
        for cap in caps:
            want += records(replay_text(retimed(cap, tmp, PPS), tmp), True)
        a = Veth()
        b = None
        try:
            b = Veth(suffix='b', ns=a.ns)
            if backend == 'dpdk':
                args = '--no-huge --no-pci --no-shconf -m 512 -l 0 --log-level=lib.eal:error ' \
                       '--vdev=net_af_packet0,iface=%s,framecnt=16384 --vdev=net_af_packet1,iface=%s,framecnt=16384' % (
                           a.mon, b.mon)
                cfg = build_config(tmp, 'dpdk', 'net_af_packet0', 1,
                                   'interface = net_af_packet1\ndpdk_args = %s\n' % args)
            else:
                cfg = build_config(tmp, backend, a.mon, 1, 'interface = %s\n%s' % (
                    b.mon, 'xdp_mode = skb\n' if backend == 'afxdp' else ''))
            tx0 = a.mon_tx() + b.mon_tx()
            p, out, err = start_sensor(cfg, tmp, a.ns)
            if not wait_ready(p, tmp):
                print('FAIL %s: the sensor did not start: %s' % (CASE, stop_sensor(p, out, err, tmp)[1]))
                return False
            feeders = [subprocess.Popen(['tcpreplay', '-q', '-i', v.feed, '--pps', str(PPS), cap],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for v, cap in ((a, caps[0]), (b, caps[1]))]
            rcs = [f.wait(timeout=600) for f in feeders]
            time.sleep(2)
            text, errtext = stop_sensor(p, out, err, tmp)
            tx1 = a.mon_tx() + b.mon_tx()
        finally:
            if b:
                b.close()
            a.close()
        if text is None or any(rcs):
            print('FAIL %s: %s' % (CASE, errtext if text is None else 'tcpreplay failed'))
            return False
        st = stats_of(text)
        ok = True
        if tx1 != tx0:
            print('FAIL %s: the sensor transmitted (tx_packets %d -> %d)' % (CASE, tx0, tx1))
            ok = False
        else:
            print('ok   %s: nothing transmitted on either monitored interface' % CASE)
        print('     interfaces: %s' % json.dumps(st and st.get('interfaces')))
        if not st or sum(st['drops'].values()):
            print('FAIL %s: frames dropped: %s' % (CASE, json.dumps(st and st['drops'])))
            return False
        if len([i for i in st['interfaces'] if i['received']]) < 2:
            print('FAIL %s: not both interfaces received frames' % CASE)
            ok = False
        return compare(CASE, want, records(text, True), st) and ok


def dpdk_pcap_case():
    ok = True
    for cap in CAPTURES[:2]:
        with tempfile.TemporaryDirectory(prefix='ots-live-') as tmp:
            want = replay(cap, tmp)
            # net_pcap's rx_pcap reads pcap files only: pcapng would be refused by libpcap's
            # dumper anyway; the captures above are pcap
            args = '--no-huge --no-pci --no-shconf -m 512 -l 0 --log-level=lib.eal:error ' \
                   '--vdev=net_pcap0,rx_pcap=%s' % cap
            cfg = build_config(tmp, 'dpdk', 'net_pcap0', 1, 'dpdk_args = %s\n' % args)
            p, out, err = start_sensor(cfg, tmp)
            if not wait_ready(p, tmp, 60):
                text, why = stop_sensor(p, out, err, tmp)
                print('FAIL dpdk-pcap: the sensor did not start: %s' % why)
                return False
            # the file is read as fast as the workers take it: wait until it stops growing
            last, same = -1, 0
            for _ in range(300):
                time.sleep(0.2)
                size = os.path.getsize(os.path.join(tmp, 'run.jsonl'))
                same = same + 1 if size == last else 0
                last = size
                if same >= 10:
                    break
            text, errtext = stop_sensor(p, out, err, tmp)
            name = 'dpdk-pcap %s' % os.path.basename(cap)
            if text is None:
                print('FAIL %s: %s' % (name, errtext))
                ok = False
                continue
            ok = compare(name, want, records(text), stats_of(text)) and ok
    return ok


def main():
    if os.geteuid() != 0:
        skip('needs root (network namespaces, veth, raw sockets)')
    if not os.path.exists(OTS):
        print('FAIL: no %s' % OTS)
        return 1
    probe = lambda b: 'this build has no' not in sh(OTS, 'run', '--config', _probe_cfg(b), check=False).stderr
    if CASE in ('afxdp', 'afxdp-2queues') and not probe('afxdp'):
        skip('this otsensor was built without libxdp/libbpf (install libxdp-dev libbpf-dev and rebuild)')
    if CASE.startswith('dpdk') and not probe('dpdk'):
        skip('this otsensor was built without DPDK (install dpdk-dev libdpdk-dev and rebuild)')
    xdp_refused = ['Operation not supported', 'Operation not permitted', 'Invalid argument',
                   'No such file or directory']
    if CASE == 'pcap':
        ok = veth_case('pcap')
    elif CASE == 'pcap-2workers':
        ok = veth_case('pcap', queues=2)
    elif CASE == 'afxdp':
        ok = veth_case('afxdp', extra='xdp_mode = skb\n', need=xdp_refused)
    elif CASE == 'afxdp-2queues':
        ok = veth_case('afxdp', queues=2, vqueues=2, extra='xdp_mode = copy\n', need=xdp_refused)
    elif CASE == 'dpdk-afpacket':
        args = '--no-huge --no-pci --no-shconf -m 512 -l 0 --log-level=lib.eal:error ' \
               '--vdev=net_af_packet0,iface=IFACE,blocksz=4096,framesz=2048,framecnt=16384'
        ok = veth_case('dpdk', extra='dpdk_args = %s\n' % args)
    elif CASE == 'dpdk-2queues':
        # net_af_packet spreads its queue pairs with PACKET_FANOUT_HASH (the kernel's flow
        # hash, the same both ways): the stand-in for a NIC's symmetric RSS
        args = '--no-huge --no-pci --no-shconf -m 512 -l 0 --log-level=lib.eal:error ' \
               '--vdev=net_af_packet0,iface=IFACE,qpairs=2,blocksz=4096,framesz=2048,framecnt=16384'
        ok = veth_case('dpdk', queues=2, extra='dpdk_args = %s\n' % args)
    elif CASE == 'dpdk-pcap':
        ok = dpdk_pcap_case()
    elif CASE.endswith('-2interfaces'):
        ok = two_interfaces_case(CASE.split('-')[0])
    elif CASE == 'privileges':
        ok = privileges_case()
    else:
        print('unknown case ' + CASE)
        return 2
    return 0 if ok else 1


_probe_dir = tempfile.mkdtemp(prefix='ots-live-probe-')


def _probe_cfg(backend):
    path = os.path.join(_probe_dir, backend + '.ini')
    with open(path, 'w') as f:
        f.write('[sensor]\nstate_dir = %s\n[capture]\nbackend = %s\ninterface = ots-no-such-if\n'
                'dpdk_args = --ots-probe-not-an-eal-flag\n' % (_probe_dir + '/s', backend))
    return path


if __name__ == '__main__':
    try:
        rc = main()
    finally:
        shutil.rmtree(_probe_dir, ignore_errors=True)
    sys.exit(rc)
