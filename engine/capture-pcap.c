/*
 * capture-pcap.c - live capture with libpcap (TPACKET_V3 on Linux): every interface in
 * immediate mode with a large kernel buffer ([capture] buffer_mb), promiscuous, read
 * non-blocking by the one capture thread (split mode: the caller spreads frames over the
 * workers by the symmetric hash).
 *
 * Must never: inject a frame (pcap_inject/pcap_sendpacket are never called), or block
 * the capture thread on anything but the wait for traffic.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

struct cap_if {
	pcap_t *p;
	int fd;
	int linktype;
	char name[64];
	uint64_t received;
	struct pcap_stat last; /* last good pcap_stats (kept after close) */
};

struct pcap_priv {
	int n;
	struct cap_if ifs[CONF_MAX_IFACES];
	struct pollfd pfd[CONF_MAX_IFACES];
	capture_cb cb;
	void *ctx;
	struct cap_if *cur;
};

static int fail(pcap_t *p, char *err, size_t errlen, const char *iface, const char *what, int rc)
{
	snprintf(err, errlen, "[capture] interface %s: %s: %s", iface, what,
		 rc == PCAP_ERROR_PERM_DENIED ? "permission denied (run as root or with CAP_NET_RAW)"
		 : rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
		 : p ? pcap_geterr(p) : "failed");
	return -1;
}

static void pcap_close_all(struct capture *c)
{
	struct pcap_priv *pp = c->priv;
	if (!pp)
		return;
	for (int i = 0; i < pp->n; i++)
		if (pp->ifs[i].p)
			pcap_close(pp->ifs[i].p);
	free(pp);
	c->priv = NULL;
}

static int pcap_open_all(struct capture *c, const struct config *cfg, char *err, size_t errlen)
{
	struct pcap_priv *pp = calloc(1, sizeof *pp);
	if (!pp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->priv = pp;
	c->split = true;
	c->nqueues = 0;
	if (cfg->capture.n_interfaces < 1) {
		snprintf(err, errlen, "[capture] interface: none configured (the pcap backend needs at least one)");
		return -1;
	}
	for (int i = 0; i < cfg->capture.n_interfaces; i++) {
		const char *name = cfg->capture.interfaces[i];
		char ebuf[PCAP_ERRBUF_SIZE] = "";
		struct cap_if *pi = &pp->ifs[pp->n];
		snprintf(pi->name, sizeof pi->name, "%s", name);
		pcap_t *p = pcap_create(name, ebuf);
		if (!p) {
			snprintf(err, errlen, "[capture] interface %s: %s", name, ebuf);
			return -1;
		}
		pi->p = p;
		pp->n++;
		if (pcap_set_snaplen(p, cfg->capture.snaplen) || pcap_set_promisc(p, 1) ||
		    pcap_set_immediate_mode(p, 1) || pcap_set_buffer_size(p, cfg->capture.buffer_mb << 20) ||
		    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO))
			return fail(p, err, errlen, name, "cannot set capture options", 0);
		int rc = pcap_activate(p);
		if (rc < 0)
			return fail(p, err, errlen, name, "cannot open", rc);
		if (rc > 0 && rc != PCAP_WARNING_TSTAMP_TYPE_NOTSUP)
			fprintf(stderr, "otsensor: interface %s: %s\n", name, pcap_geterr(p));
		if (pcap_setnonblock(p, 1, ebuf)) {
			snprintf(err, errlen, "[capture] interface %s: cannot make non-blocking: %s", name, ebuf);
			return -1;
		}
		pi->fd = pcap_get_selectable_fd(p);
		if (pi->fd < 0) {
			snprintf(err, errlen, "[capture] interface %s: no selectable descriptor", name);
			return -1;
		}
		pi->linktype = pcap_datalink(p);
		pp->pfd[i].fd = pi->fd;
		pp->pfd[i].events = POLLIN;
	}
	return 0;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct pcap_priv *pp = (struct pcap_priv *)user;
	pp->cur->received++;
	pp->cb(pp->ctx, pp->cur->linktype, data, h->caplen, h->len,
	       (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec);
}

static int pcap_rx(struct capture *c, int q, capture_cb cb, void *ctx, int timeout_ms, const sigset_t *waitmask)
{
	(void)q;
	struct pcap_priv *pp = c->priv;
	pp->cb = cb;
	pp->ctx = ctx;
	int total = 0;
	/* first what is already there, then wait */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < pp->n; i++) {
			pp->cur = &pp->ifs[i];
			int n = pcap_dispatch(pp->ifs[i].p, 4096, on_frame, (u_char *)pp);
			if (n == PCAP_ERROR) {
				fprintf(stderr, "otsensor: interface %s: %s\n", pp->ifs[i].name, pcap_geterr(pp->ifs[i].p));
				return -1;
			}
			if (n > 0)
				total += n;
		}
		if (total || pass)
			break;
		struct timespec to = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
		int r = ppoll(pp->pfd, (nfds_t)pp->n, &to, waitmask);
		if (r <= 0)
			break; /* timeout or a signal: the caller looks at its flags */
	}
	return total;
}

static int pcap_stats_all(struct capture *c, struct capture_if_stats *out, int max)
{
	struct pcap_priv *pp = c->priv;
	int k = 0;
	for (int i = 0; pp && i < pp->n && k < max; i++, k++) {
		struct cap_if *pi = &pp->ifs[i];
		struct pcap_stat ps;
		if (pi->p && pcap_stats(pi->p, &ps) == 0)
			pi->last = ps;
		memset(&out[k], 0, sizeof out[k]);
		snprintf(out[k].name, sizeof out[k].name, "%s", pi->name);
		out[k].received = pi->received;
		out[k].kernel_drops = pi->last.ps_drop;
		out[k].nic_drops = pi->last.ps_ifdrop;
	}
	return k;
}

const struct capture_backend capture_pcap = {
	.name = "pcap",
	.open = pcap_open_all,
	.rx = pcap_rx,
	.stats = pcap_stats_all,
	.close = pcap_close_all,
	.caps_after_open = NULL,
	.ncaps_after_open = 0,
};
