/*
 * capture-afxdp.c - live capture with AF_XDP sockets (libxdp): one socket per
 * interface queue, each with its own UMEM and fill ring, read by that queue's worker.
 * libxdp loads its default XDP program, which redirects every frame of a queue with a
 * socket to it (XSKMAP). [capture] xdp_mode: auto tries native zero-copy, then native
 * copy, then generic (SKB) copy mode; zerocopy, copy and skb force one of them.
 *
 * Must never: transmit. The sockets have no TX ring (tx = NULL), the completion ring
 * the UMEM requires is never used, and nothing is ever submitted for sending.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "capture.h"
#include "packet.h"

/* The RX ring absorbs the time the queue's worker is not running (preempted by other
 * threads or kernel work, or woken late): RX_SIZE frames are 20 ms at 1 Gbit/s of
 * 80-byte frames (1.5 Mpps). 2048 frames (1.3 ms there) lost frames on a loaded 2-core
 * machine already at 300 kpps; 16384 (10 ms) lost 0.02% at 1 Gbit/s once in nine runs,
 * the worker kept off its CPU by kernel work (the bench suite's AF_XDP line). The UMEM
 * has two batches more frames than the RX ring, all of them in the fill ring at first,
 * so in copy mode the RX ring is always full before the fill ring runs empty (a frame
 * dropped for an empty fill ring would count in both rx_dropped and
 * rx_fill_ring_empty_descs). Frames of 2 KiB (the kernel puts its 256 bytes of headroom
 * in each: frames up to 1792 bytes, an Ethernet frame of a 1500-byte MTU with room for
 * tags) make that 64.3 MiB per socket, what 16384 frames of 4 KiB took. */
#define RX_SIZE 32768
#define BATCH 64
#define NUM_FRAMES (RX_SIZE + 2 * BATCH)
#define FRAME_SIZE 2048
#define FILL_SIZE (2 * RX_SIZE)
/* an empty RX ring right after a batch: the worker naps this long (at 1.5 Mpps a few
 * batches gather) instead of sleeping in poll(); see afxdp_rx */
#define NAP_US 200

struct xsk_q {
	char ifname[IF_NAMESIZE];
	int qid;
	void *area;
	struct xsk_umem *umem;
	struct xsk_ring_prod fq;
	struct xsk_ring_cons cq; /* required by xsk_umem__create; never used (no TX) */
	struct xsk_ring_cons rx;
	struct xsk_socket *xsk;
	int fd;
	uint64_t received;
	bool busy; /* frames were received since the last nap (see afxdp_rx) */
	char mode[16];
};

struct afxdp_priv {
	int n;
	struct xsk_q *qs;
	/* the XDP program libxdp attached to each interface, detached at close if libxdp
	 * could not (after dropping root it cannot take its lock in /run/xdp) */
	int nif;
	struct xdp_attached { int ifindex; uint32_t xdp_flags, prog_id; } ifs[CONF_MAX_IFACES];
};

static const struct {
	const char *name;
	uint32_t xdp_flags;
	uint16_t bind_flags;
} modes[] = {
	{ "zerocopy", XDP_FLAGS_DRV_MODE, XDP_ZEROCOPY },
	{ "copy", XDP_FLAGS_DRV_MODE, XDP_COPY },
	{ "skb", XDP_FLAGS_SKB_MODE, XDP_COPY },
};

static void q_close(struct xsk_q *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, (size_t)NUM_FRAMES * FRAME_SIZE);
	q->xsk = NULL;
	q->umem = NULL;
	q->area = NULL;
}

static int q_open(struct xsk_q *q, int mode, char *why, size_t whylen)
{
	q->area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		snprintf(why, whylen, "cannot map the UMEM: %s", strerror(errno));
		return -1;
	}
	struct xsk_umem_config ucfg = {
		.fill_size = FILL_SIZE,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};
	int rc = xsk_umem__create(&q->umem, q->area, (uint64_t)NUM_FRAMES * FRAME_SIZE, &q->fq, &q->cq, &ucfg);
	if (rc) {
		q->umem = NULL;
		snprintf(why, whylen, "cannot create the UMEM: %s", strerror(-rc));
		q_close(q);
		return -1;
	}
	struct xsk_socket_config scfg = {
		.rx_size = RX_SIZE,
		.tx_size = 0,
		.libxdp_flags = 0,
		.xdp_flags = modes[mode].xdp_flags,
		.bind_flags = (uint16_t)(modes[mode].bind_flags | XDP_USE_NEED_WAKEUP),
	};
	rc = xsk_socket__create(&q->xsk, q->ifname, (uint32_t)q->qid, q->umem, &q->rx, NULL, &scfg);
	if (rc) {
		q->xsk = NULL;
		snprintf(why, whylen, "%s mode: %s", modes[mode].name, strerror(-rc));
		q_close(q);
		return -1;
	}
	q->fd = xsk_socket__fd(q->xsk);
	uint32_t idx;
	if (xsk_ring_prod__reserve(&q->fq, NUM_FRAMES, &idx) != NUM_FRAMES) {
		snprintf(why, whylen, "cannot fill the fill ring");
		q_close(q);
		return -1;
	}
	for (uint32_t i = 0; i < NUM_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&q->fq, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&q->fq, NUM_FRAMES);
	snprintf(q->mode, sizeof q->mode, "%s", modes[mode].name);
	return 0;
}

static int quiet(enum libxdp_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void afxdp_close(struct capture *c)
{
	struct afxdp_priv *ap = c->priv;
	if (!ap)
		return;
	/* without root, libxdp cannot take its lock to detach the program and says so: the
	 * detach below does it, and reports a failure itself */
	libxdp_print_fn_t prev = geteuid() ? libxdp_set_print(quiet) : NULL;
	for (int i = 0; i < ap->n; i++)
		q_close(&ap->qs[i]);
	if (prev)
		libxdp_set_print(prev);
	for (int i = 0; i < ap->nif; i++) {
		uint32_t id = 0;
		if (!ap->ifs[i].prog_id || bpf_xdp_query_id(ap->ifs[i].ifindex, (int)ap->ifs[i].xdp_flags, &id) || id != ap->ifs[i].prog_id)
			continue; /* libxdp detached it, or someone else's program is there now */
		int rc = bpf_xdp_detach(ap->ifs[i].ifindex, (int)ap->ifs[i].xdp_flags, NULL);
		if (rc)
			fprintf(stderr, "otsensor: cannot detach the XDP program from interface index %d: %s\n",
				ap->ifs[i].ifindex, strerror(-rc));
	}
	free(ap->qs);
	free(ap);
	c->priv = NULL;
}

static int afxdp_open(struct capture *c, const struct config *cfg, char *err, size_t errlen)
{
	struct afxdp_priv *ap = calloc(1, sizeof *ap);
	if (!ap) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->priv = ap;
	c->split = false;
	int nif = cfg->capture.n_interfaces, nq = cfg->capture.queues;
	if (nif < 1) {
		snprintf(err, errlen, "[capture] interface: none configured (the afxdp backend needs at least one)");
		return -1;
	}
	ap->qs = calloc((size_t)(nif * nq), sizeof *ap->qs);
	if (!ap->qs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int first = 0, last = 2;
	if (!strcmp(cfg->capture.xdp_mode, "zerocopy"))
		last = 0;
	else if (!strcmp(cfg->capture.xdp_mode, "copy"))
		first = last = 1;
	else if (!strcmp(cfg->capture.xdp_mode, "skb"))
		first = last = 2;
	for (int i = 0; i < nif; i++) {
		const char *name = cfg->capture.interfaces[i];
		if (!if_nametoindex(name)) {
			snprintf(err, errlen, "[capture] interface %s: %s", name, strerror(errno));
			return -1;
		}
		int mode = -1;
		for (int k = 0; k < nq; k++) {
			struct xsk_q *q = &ap->qs[ap->n];
			snprintf(q->ifname, sizeof q->ifname, "%s", name);
			q->qid = k;
			char why[3][256] = { "", "", "" };
			if (mode >= 0) { /* every queue of an interface shares the XDP program's mode */
				if (q_open(q, mode, why[mode], sizeof why[mode])) {
					snprintf(err, errlen, "[capture] interface %s queue %d: %s", name, k, why[mode]);
					return -1;
				}
			} else {
				for (int m = first; m <= last; m++)
					if (!q_open(q, m, why[m], sizeof why[m])) {
						mode = m;
						break;
					}
				if (mode < 0) {
					snprintf(err, errlen, "[capture] interface %s queue %d: no AF_XDP socket (%s%s%s%s%s)",
						 name, k, why[0], why[0][0] && why[1][0] ? "; " : "", why[1],
						 why[2][0] ? "; " : "", why[2]);
					return -1;
				}
				fprintf(stderr, "otsensor: interface %s: AF_XDP in %s mode, %d queue%s\n", name,
					modes[mode].name, nq, nq == 1 ? "" : "s");
				int ifindex = (int)if_nametoindex(name);
				uint32_t id = 0;
				if (ifindex && !bpf_xdp_query_id(ifindex, (int)modes[mode].xdp_flags, &id))
					ap->ifs[ap->nif++] = (struct xdp_attached){ ifindex, modes[mode].xdp_flags, id };
			}
			ap->n++;
		}
	}
	c->nqueues = ap->n;
	return 0;
}

static int afxdp_rx(struct capture *c, int qi, capture_cb cb, void *ctx, int timeout_ms, const sigset_t *waitmask)
{
	(void)waitmask;
	struct afxdp_priv *ap = c->priv;
	struct xsk_q *q = &ap->qs[qi];
	uint32_t idx_rx, idx_fq;
	uint32_t n = xsk_ring_cons__peek(&q->rx, BATCH, &idx_rx);
	if (!n) {
		/* empty: wake the kernel if it asks for it, and wait for traffic */
		if (xsk_ring_prod__needs_wakeup(&q->fq))
			recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		if (timeout_ms > 0) {
			if (q->busy) {
				/* frames came since the last wait: nap rather than poll. A worker
				 * sleeping in poll() is woken as soon as a frame arrives (in generic
				 * mode for every frame), which costs the receiving CPU a wake-up and
				 * the worker a system call for every frame or two; a nap lets a batch
				 * gather with no wake-up. Once a nap brings nothing, poll again. */
				q->busy = false;
				struct timespec nap = { 0, NAP_US * 1000L };
				nanosleep(&nap, NULL);
			} else {
				struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
				poll(&pfd, 1, timeout_ms);
			}
		}
		return 0;
	}
	q->busy = true;
	/* the frames go back to the fill ring as they are released: it always has room */
	while (xsk_ring_prod__reserve(&q->fq, n, &idx_fq) != n)
		;
	uint64_t ts = capture_now_us();
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);
		uint64_t orig = xsk_umem__extract_addr(d->addr);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
		const uint8_t *pkt = xsk_umem__get_data(q->area, addr);
		cb(ctx, LT_ETHERNET, pkt, d->len, d->len, ts);
		*xsk_ring_prod__fill_addr(&q->fq, idx_fq + i) = orig;
	}
	xsk_ring_cons__release(&q->rx, n);
	xsk_ring_prod__submit(&q->fq, n);
	q->received += n;
	return (int)n;
}

static int afxdp_stats(struct capture *c, struct capture_if_stats *out, int max)
{
	struct afxdp_priv *ap = c->priv;
	int k = 0;
	for (int i = 0; ap && i < ap->n && k < max; i++, k++) {
		struct xsk_q *q = &ap->qs[i];
		memset(&out[k], 0, sizeof out[k]);
		snprintf(out[k].name, sizeof out[k].name, "%s/q%d", q->ifname, q->qid);
		out[k].received = q->received;
		struct xdp_statistics xs;
		socklen_t len = sizeof xs;
		if (q->xsk && getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &xs, &len) == 0)
			/* a frame lost to an empty fill ring counts in rx_dropped and in
			 * rx_fill_ring_empty_descs both (the kernel's xp_alloc and __xsk_rcv):
			 * once here; a full RX ring counts only in rx_ring_full */
			out[k].kernel_drops = xs.rx_dropped + xs.rx_ring_full;
	}
	return k;
}

/* detaching the XDP program at close needs this */
static const int afxdp_caps[] = { CAP_NET_ADMIN };

const struct capture_backend capture_afxdp = {
	.name = "afxdp",
	.open = afxdp_open,
	.rx = afxdp_rx,
	.stats = afxdp_stats,
	.close = afxdp_close,
	.caps_after_open = afxdp_caps,
	.ncaps_after_open = (int)(sizeof afxdp_caps / sizeof afxdp_caps[0]),
};
