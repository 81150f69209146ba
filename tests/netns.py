"""tests/netns.py - a veth pair with its monitored end in a network namespace, for the
tests that capture live traffic (suites live and bench).

`feed` stays in the test's namespace (tcpreplay writes into it); `mon` is moved into
`ns`, where the sensor runs. IPv6 is off on both ends (no router solicitations in the
capture). close() deletes the pair (and the namespace when this object made it), also
after a failed setup.

Must never: leave a namespace or a link behind, or touch an interface it did not make.
"""
import os
import subprocess


class VethError(RuntimeError):
    pass


def run(*args, check=True, timeout=60):
    r = subprocess.run(list(args), timeout=timeout, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode:
        raise VethError('%s: exit status %d: %s' % (' '.join(args), r.returncode, (r.stderr + r.stdout).strip()))
    return r


def tag():
    """a short suffix that keeps concurrent test processes' names apart"""
    return '%x' % (os.getpid() & 0xfffff)


class Veth:
    def __init__(self, ns, feed, mon, queues=1, mtu=None, own_ns=True, lo_up=False):
        """own_ns False: `ns` exists already (a second pair in the same namespace)"""
        self.ns, self.feed, self.mon = ns, feed, mon
        self.made_ns = self.made_link = False
        try:
            if own_ns:
                run('ip', 'netns', 'add', ns)
                self.made_ns = True
            q = ['numtxqueues', str(queues), 'numrxqueues', str(queues)] if queues > 1 else []
            run('ip', 'link', 'add', feed, *q, 'type', 'veth', 'peer', 'name', mon, *q)
            self.made_link = True
            run('ip', 'link', 'set', mon, 'netns', ns)
            run('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % feed)
            self.nsexec('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % mon)
            m = ['mtu', str(mtu)] if mtu else []
            run('ip', 'link', 'set', feed, *m, 'up')
            self.nsexec('ip', 'link', 'set', mon, *m, 'up')
            if lo_up:
                self.nsexec('ip', 'link', 'set', 'lo', 'up')
        except BaseException:
            self.close()
            raise

    def nsexec(self, *args, **kw):
        return run('ip', 'netns', 'exec', self.ns, *args, **kw)

    def counters(self):
        """the monitored end's rx_packets, rx_dropped, tx_packets"""
        keys = ('rx_packets', 'rx_dropped', 'tx_packets')
        r = self.nsexec('cat', *('/sys/class/net/%s/statistics/%s' % (self.mon, k) for k in keys))
        return dict(zip(keys, (int(x) for x in r.stdout.split())))

    def mon_tx(self):
        return self.counters()['tx_packets']

    def xdp_attached(self):
        return 'xdp' in self.nsexec('ip', 'link', 'show', self.mon).stdout

    def close(self):
        if self.made_link:
            subprocess.run(['ip', 'link', 'del', self.feed], capture_output=True)
            self.made_link = False
        if self.made_ns:
            subprocess.run(['ip', 'netns', 'del', self.ns], capture_output=True)
            self.made_ns = False
