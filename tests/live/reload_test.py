#!/usr/bin/python3
"""Live SIGHUP and RSS tests: `otsensor run` on a veth pair in a network namespace.

usage: reload_test.py OTSENSOR SOURCE_ROOT CASE
CASE:
  reload         pcap backend, [sensor] user = nobody. A port scan of 20 ports raises no
                 port_scan alert with [alerts] port_scan_ports = 1000; SIGHUP with
                 port_scan_ports = 5 and a changed [capture] snaplen: the message names
                 snaplen as needing a restart and port_scan_ports as applied, and a scan
                 of 10 ports from another source raises port_scan. A broken file is then
                 refused with its file, line and key, and a third scan still alerts (the
                 running configuration was kept). SIGTERM ends it with status 0.
  reload-uplink  the uplink starts with a wrong SAS key against the test receiver
                 (tests/uplink/receiver.py, in the sensor's namespace): every request is
                 refused (401). SIGHUP with the right key restarts the uplink, and the
                 alert it had queued is accepted.
  afxdp-rss      afxdp with [capture] queues = 2 on a two-queue veth: veth cannot take an
                 RSS key, so the sensor warns once, naming the interface and the ethtool
                 command to run, and captures anyway.

The veth pair has unique names, its sensor end in a namespace made for the test; both
are always deleted. Exit 0 pass, 1 fail, 77 skip (not root, no tcpreplay/openssl, the
backend is not built, or the kernel refuses AF_XDP).

Must never: leave a namespace, veth or process behind, or reach beyond the namespace.
"""
import base64
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import netns  # noqa: E402  (tests/netns.py)

SKIP = 77
OTS, ROOT, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
TAG = '%x' % (os.getpid() & 0xfffff)
TARGET = '10.77.0.10'
HUB = 'myhub.azure-devices.net'
DEVICE = 'sensor-1'
DEVICE_KEY = base64.b64encode(b'otsensor-test-device-key-32bytes').decode()
WRONG_KEY = base64.b64encode(b'an-old-rotated-out-key-32-bytes!').decode()
RECV_IP = '127.0.0.2'


def skip(why):
    print('SKIP: ' + why)
    sys.exit(SKIP)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print('ok   ' + what, flush=True)


def sh(*args, check=True, timeout=60, **kw):
    return subprocess.run(list(args), check=check, timeout=timeout, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- traffic

def _csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def syn(src, dst, sport, dport):
    """an Ethernet/IPv4/TCP SYN with correct checksums"""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack('!HHIIBBHHH', sport, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', _csum(s + d + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack('!H', _csum(ip)) + ip[12:]
    smac = bytes([2, 0, 0, 0]) + s[2:]
    dmac = bytes([2, 0, 0, 0]) + d[2:]
    return dmac + smac + b'\x08\x00' + ip + tcp


def write_pcap(path, frames):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack('<IIII', 1767600000 + i // 1000, (i % 1000) * 1000, len(fr), len(fr)))
            f.write(fr)
    os.chmod(path, 0o644)
    return path


def scan(tmp, src, nports, first=1000):
    """one source trying nports TCP ports of TARGET"""
    return write_pcap(os.path.join(tmp, 'scan-%s.pcap' % src),
                      [syn(src, TARGET, 40000 + i, first + i) for i in range(nports)])


# ---------------------------------------------------------------- namespace, sensor

class Veth(netns.Veth):
    """`feed` in this namespace, `mon` in a namespace of its own (with lo up: the uplink's
    receiver listens on 127.0.0.2 there)."""

    def __init__(self, queues=1):
        super().__init__('otshup' + TAG, 'otshf' + TAG, 'otshm' + TAG, queues=queues, mtu=3000, lo_up=True)

    def send(self, pcap, pps=2000):
        r = sh('tcpreplay', '-q', '-i', self.feed, '--pps', str(pps), pcap, check=False, timeout=300)
        if r.returncode:
            raise Fail('tcpreplay: ' + r.stderr + r.stdout)


class Sensor:
    def __init__(self, tmp, ns, cfg):
        self.tmp, self.cfg = tmp, cfg
        self.errpath = os.path.join(tmp, 'run.err')
        self.out = open(os.path.join(tmp, 'run.jsonl'), 'w')
        self.err = open(self.errpath, 'w')
        self.p = subprocess.Popen(['ip', 'netns', 'exec', ns, OTS, 'run', '--config', cfg, '--emit', 'alerts,stats'],
                                  stdout=self.out, stderr=self.err)

    def errtext(self):
        with open(self.errpath) as f:
            return f.read()

    def wait_err(self, words, timeout=20, after=0):
        """until stderr (from offset `after`) holds every one of words; returns that text"""
        t0 = time.time()
        while time.time() - t0 < timeout:
            text = self.errtext()[after:]
            if all(w in text for w in words):
                return text
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise Fail('the sensor did not say %s within %d s; it said:\n%s' % (words, timeout, self.errtext()))

    def hup(self, cfg_text):
        with open(self.cfg, 'w') as f:
            f.write(cfg_text)
        mark = len(self.errtext())
        self.p.send_signal(signal.SIGHUP)
        return mark

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        self.err.close()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.out.close()
        self.err.close()


def ctl_json(state, what):
    r = sh(OTS, 'ctl', '--state', state, '--json', what, check=False)
    if r.returncode:
        raise Fail('ctl %s: %s' % (what, r.stderr))
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def port_scans(state):
    return sorted(a.get('src') for a in ctl_json(state, 'alerts') if a.get('kind') == 'port_scan')


def wait_device(state, ip, timeout=15):
    """until the state thread has stored a device with that address: its facts are applied"""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if any(ip in (d.get('ips') or []) for d in ctl_json(state, 'devices')):
            return
        time.sleep(0.1)
    raise Fail('no device %s in the store after %d s: the capture did not see the scan' % (ip, timeout))


def wait_port_scan(state, src, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if src in port_scans(state):
            return True
        time.sleep(0.1)
    return False


def config_text(tmp, port_scan_ports, extra_capture='', uplink='', alerts_extra=''):
    """the lines are fixed: tests name the line of a broken key"""
    return ('[sensor]\n'                                                   # 1
            'state_dir = %s\n'                                             # 2
            'user = nobody\n'                                              # 3
            '[capture]\n'                                                  # 4
            'backend = pcap\n'                                             # 5
            'interface = otshm%s\n'                                        # 6
            '%s'                                                           # 7 (when given)
            '[alerts]\n'
            'port_scan_ports = %s\n'
            '%s'
            '%s') % (os.path.join(tmp, 'state'), TAG, extra_capture, port_scan_ports, alerts_extra, uplink)


def make_tmp():
    tmp = tempfile.mkdtemp(prefix='ots-reload-')
    os.chmod(tmp, 0o755)  # the sensor re-reads its file as nobody
    return tmp


# ---------------------------------------------------------------- cases

def reload_case():
    try:
        pwd.getpwnam('nobody')
    except KeyError:
        skip('no user nobody to run the sensor as')
    tmp = make_tmp()
    v = sensor = None
    try:
        v = Veth()
        cfg = os.path.join(tmp, 'sensor.ini')
        with open(cfg, 'w') as f:
            f.write(config_text(tmp, 1000))
        os.chmod(cfg, 0o644)
        state = os.path.join(tmp, 'state')
        sensor = Sensor(tmp, v.ns, cfg)
        sensor.wait_err(['otsensor: capturing'])

        # before: 20 ports against a threshold of 1000
        v.send(scan(tmp, '10.77.0.66', 20))
        wait_device(state, '10.77.0.66')
        time.sleep(0.5)
        check(port_scans(state) == [], 'a 20-port scan raises no port_scan with port_scan_ports = 1000')

        # SIGHUP: the threshold goes to 5 in place; snaplen needs a restart
        mark = sensor.hup(config_text(tmp, 5, extra_capture='snaplen = 2000\n'))
        text = sensor.wait_err(['applied in place: [alerts] port_scan_ports'], after=mark)
        check('needs a restart: [capture] snaplen' in text and 'port_scan_ports' not in text.split('needs a restart')[1].split('\n')[0],
              'SIGHUP names [capture] snaplen as needing a restart, and port_scan_ports as applied: ' +
              ' | '.join(l for l in text.splitlines() if 'SIGHUP' in l))
        v.send(scan(tmp, '10.77.0.77', 10, 2000))
        check(wait_port_scan(state, '10.77.0.77'), 'after the reload a 10-port scan raises port_scan')
        check('10.77.0.66' not in port_scans(state), 'the scan before the reload still has no port_scan')

        # a broken file: refused with its line, the running configuration stays
        broken = config_text(tmp, 'lots', extra_capture='snaplen = 2000\n')
        line = broken.splitlines().index('port_scan_ports = lots') + 1
        mark = sensor.hup(broken)
        text = sensor.wait_err(['keeping the running configuration'], after=mark)
        want = '%s:%d: [alerts] port_scan_ports' % (cfg, line)
        check(want in text, 'a broken file is refused naming file, line and key (%s): %s' % (want, text.strip()))
        v.send(scan(tmp, '10.77.0.88', 10, 3000))
        check(wait_port_scan(state, '10.77.0.88'), 'after the broken file the reloaded threshold (5) still holds')

        # the same file again: valid, and the restart-only key is still pending
        mark = sensor.hup(config_text(tmp, 5, extra_capture='snaplen = 2000\n'))
        text = sensor.wait_err(['needs a restart: [capture] snaplen'], after=mark)
        check('applied in place' not in text, 'SIGHUP with nothing new to apply applies nothing')

        rc = sensor.stop()
        check(rc == 0, 'SIGTERM: exit status 0 (was %s; stderr: %s)' % (rc, sensor.errtext()[-500:]))
        with open(os.path.join(tmp, 'run.jsonl')) as f:
            recs = [json.loads(l) for l in f if l.strip()]
        emitted = sorted(r.get('src') for r in recs if r.get('type') == 'alert' and r.get('kind') == 'port_scan')
        check(emitted == ['10.77.0.77', '10.77.0.88'], '--emit alerts at exit: port_scan from .77 and .88 only (%s)'
              % emitted)
        st = [r for r in recs if r.get('type') == 'stats']
        check(st and st[-1]['packets'] >= 40 and st[-1]['backend'] == 'pcap' and 'ring_drops' in st[-1]['workers'][0],
              'the stats record is written at exit')
        sensor = None
        return True
    finally:
        if sensor:
            sensor.kill()
        if v:
            v.close()
        shutil.rmtree(tmp, ignore_errors=True)


def make_certs(d):
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    sh('openssl', 'req', '-x509', *ec, '-keyout', d + '/ca.key', '-out', d + '/ca.pem', '-days', '2',
       '-subj', '/CN=otsensor reload test ca', '-addext', 'basicConstraints=critical,CA:TRUE',
       '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    with open(d + '/ext.cnf', 'w') as f:
        f.write('basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n'
                'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,IP:%s\n' % (HUB, RECV_IP))
    sh('openssl', 'req', '-new', *ec, '-keyout', d + '/server.key', '-out', d + '/server.csr', '-subj', '/CN=' + HUB)
    sh('openssl', 'x509', '-req', '-in', d + '/server.csr', '-CA', d + '/ca.pem', '-CAkey', d + '/ca.key',
       '-CAcreateserial', '-out', d + '/server.pem', '-days', '1', '-extfile', d + '/ext.cnf')
    for name in os.listdir(d):
        if os.path.isfile(os.path.join(d, name)):
            os.chmod(os.path.join(d, name), 0o644)


def received(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def reload_uplink_case():
    if not shutil.which('openssl'):
        skip('openssl is not installed')
    receiver_py = os.path.join(ROOT, 'tests', 'uplink', 'receiver.py')
    if not os.path.exists(receiver_py):
        skip('no tests/uplink/receiver.py')
    tmp = make_tmp()
    if 'built without the uplink' in sh(OTS, 'ctl', '--state', tmp + '/probe', 'uplink', 'status', check=False).stderr:
        shutil.rmtree(tmp, ignore_errors=True)
        skip('this otsensor was built without the uplink (libcurl, libssl)')
    v = sensor = recv = None
    try:
        make_certs(tmp)
        v = Veth()
        log = os.path.join(tmp, 'received.jsonl')
        recv = subprocess.Popen(['ip', 'netns', 'exec', v.ns, '/usr/bin/python3', receiver_py, '--bind', RECV_IP,
                                 '--port', '443', '--cert', tmp + '/server.pem', '--key', tmp + '/server.key',
                                 '--iothub-host', HUB, '--device-id', DEVICE, '--device-key', DEVICE_KEY,
                                 '--log', log, '--ready', tmp + '/ready'],
                                stdout=subprocess.DEVNULL, stderr=open(tmp + '/receiver.err', 'w'))
        t0 = time.time()
        while not os.path.exists(tmp + '/ready') and time.time() - t0 < 20 and recv.poll() is None:
            time.sleep(0.05)
        if not os.path.exists(tmp + '/ready'):
            raise Fail('the receiver did not start: ' + open(tmp + '/receiver.err').read())

        def uplink(key):
            return ('[uplink]\nmode = direct\niothub_host = %s\ndevice_id = %s\nsas_key = %s\nca_file = %s\n'
                    'retry_min = 1\nretry_max = 2\nhealth_interval = 0\ntimeout = 10\nresolve = %s:443:%s\n'
                    % (HUB, DEVICE, key, tmp + '/ca.pem', HUB, RECV_IP))
        cfg = os.path.join(tmp, 'sensor.ini')
        with open(cfg, 'w') as f:
            f.write(config_text(tmp, 5, uplink=uplink(WRONG_KEY)))
        os.chmod(cfg, 0o644)
        state = os.path.join(tmp, 'state')
        sensor = Sensor(tmp, v.ns, cfg)
        sensor.wait_err(['otsensor: capturing'])
        v.send(scan(tmp, '10.77.0.66', 10))
        check(wait_port_scan(state, '10.77.0.66'), 'a port_scan alert is raised and queued for the uplink')
        t0 = time.time()
        while time.time() - t0 < 20 and not any(r.get('status') == 401 for r in received(log)):
            time.sleep(0.1)
        recs = received(log)
        check(any(r.get('status') == 401 for r in recs) and not any(r.get('status') == 204 for r in recs),
              'with the old SAS key the receiver refuses every request (401)')

        mark = sensor.hup(config_text(tmp, 5, uplink=uplink(DEVICE_KEY)))
        text = sensor.wait_err(['applied in place: [uplink] sas_key', 'the uplink restarts'], after=mark)
        check('needs a restart' not in text, 'SIGHUP applies the rotated [uplink] sas_key in place')
        t0 = time.time()
        while time.time() - t0 < 30 and not any(r.get('status') == 204 and r.get('rec_type') == 'alert'
                                                for r in received(log)):
            time.sleep(0.1)
        ok = [r for r in received(log) if r.get('status') == 204 and r.get('rec_type') == 'alert']
        check(ok, 'after the reload the restarted uplink delivers the queued alert with the new key')
        rc = sensor.stop()
        check(rc == 0, 'SIGTERM: exit status 0 (was %s; stderr: %s)' % (rc, sensor.errtext()[-500:]))
        sensor = None
        return True
    finally:
        if sensor:
            sensor.kill()
        if recv and recv.poll() is None:
            recv.send_signal(signal.SIGKILL)
            recv.wait()
        if v:
            v.close()
        shutil.rmtree(tmp, ignore_errors=True)


def afxdp_rss_case():
    probe_dir = tempfile.mkdtemp(prefix='ots-reload-probe-')
    try:
        with open(probe_dir + '/p.ini', 'w') as f:
            f.write('[sensor]\nstate_dir = %s/s\n[capture]\nbackend = afxdp\ninterface = ots-no-such-if\n' % probe_dir)
        if 'this build has no' in sh(OTS, 'run', '--config', probe_dir + '/p.ini', check=False).stderr:
            skip('this otsensor was built without libxdp/libbpf')
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    tmp = make_tmp()
    v = sensor = None
    refused = ['Operation not supported', 'Operation not permitted', 'Invalid argument', 'No such file or directory']
    try:
        v = Veth(queues=2)
        cfg = os.path.join(tmp, 'sensor.ini')
        with open(cfg, 'w') as f:
            f.write('[sensor]\nstate_dir = %s\n[capture]\nbackend = afxdp\ninterface = %s\nqueues = 2\n'
                    'xdp_mode = copy\n' % (os.path.join(tmp, 'state'), v.mon))
        sensor = Sensor(tmp, v.ns, cfg)
        try:
            text = sensor.wait_err(['otsensor: capturing'], timeout=30)
        except Fail:
            text = sensor.errtext()
            if any(w in text for w in refused) and 'capturing' not in text:
                skip('afxdp cannot run on this machine: ' + text.strip()[-300:])
            raise
        warn = [l for l in text.splitlines() if 'symmetric RSS' in l]
        check(len(warn) == 1, 'one RSS line for the one interface: %s' % warn)
        w = warn[0] if warn else ''
        check('warning: interface %s' % v.mon in w and 'ethtool -X %s hfunc toeplitz hkey 6d:5a:' % v.mon in w
              and w.endswith(' equal 2'), 'veth cannot take an RSS key: the warning names the interface and the '
              'ethtool command: ' + w)
        v.send(scan(tmp, '10.77.0.66', 50), pps=5000)
        time.sleep(1)
        rc = sensor.stop()
        check(rc == 0, 'the sensor captured anyway and stopped with status 0 (was %s)' % rc)
        with open(os.path.join(tmp, 'run.jsonl')) as f:
            st = [json.loads(l) for l in f if '"stats"' in l]
        check(st and st[-1]['packets'] >= 50, 'it received the frames (%s)' % (st and st[-1]['packets']))
        sensor = None
        return True
    finally:
        if sensor:
            sensor.kill()
        if v:
            v.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        skip('needs root (network namespaces, veth, raw sockets)')
    if not shutil.which('tcpreplay'):
        skip('tcpreplay is not installed (apt-get install tcpreplay)')
    if not os.path.exists(OTS):
        print('FAIL: no %s' % OTS)
        return 1
    cases = {'reload': reload_case, 'reload-uplink': reload_uplink_case, 'afxdp-rss': afxdp_rss_case}
    if CASE not in cases:
        print('unknown case ' + CASE)
        return 2
    try:
        cases[CASE]()
    except Fail as e:
        print('FAIL %s: %s' % (CASE, e))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
