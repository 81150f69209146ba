/*
 * capture-dpdk.c - live capture with DPDK: EAL arguments from [capture] dpdk_args,
 * the ports named by [capture] interface (or every port the EAL found), [capture]
 * queues RX queues per port with RSS on a symmetric key (both directions of a flow
 * hash to the same queue, so to the same worker), one worker per queue polling it.
 * Works without NICs or hugepages: dpdk_args = --no-huge --no-pci --no-shconf
 * --vdev=net_af_packet0,iface=eth1 (or --vdev=net_pcap0,rx_pcap=FILE).
 *
 * Must never: transmit. Ports are configured with no TX queue; a PMD that refuses that
 * gets one TX queue set up and never used (rte_eth_tx_burst is never called).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include "capture.h"
#include "packet.h"

#define BURST 64
#define RX_DESC 1024
#define MAX_ARGS 64

struct dpdk_q {
	uint16_t port, qid;
	bool file_times;    /* the PMD stamps each mbuf with the frame's pcap time */
	uint64_t received;
};

struct dpdk_port {
	uint16_t id;
	char name[64];
	bool started, tx_queue, file_times;
	struct rte_mempool *pool;
};

struct dpdk_priv {
	bool eal;
	int ts_off;         /* mbuf timestamp dynfield, -1 if none */
	uint64_t ts_flag;
	int nports, nq;
	struct dpdk_port ports[RTE_MAX_ETHPORTS];
	struct dpdk_q *qs;
	char argbuf[512];
};

/* 0x6d5a repeated: Toeplitz over it gives the same hash for (a,b) and (b,a) */
static void symmetric_key(uint8_t *key, size_t n)
{
	for (size_t i = 0; i < n; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
}

static int port_open(struct dpdk_priv *dp, struct dpdk_port *p, int nq, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->id, &info);
	if (rc) {
		snprintf(err, errlen, "port %s: no device info: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	if (nq > info.max_rx_queues) {
		snprintf(err, errlen, "[capture] queues = %d, but port %s has at most %u RX queues", nq, p->name,
			 info.max_rx_queues);
		return -1;
	}
	char pname[64];
	snprintf(pname, sizeof pname, "ots_pool_%u", p->id);
	unsigned nmbuf = (unsigned)nq * (RX_DESC + 2 * BURST) + 1023;
	p->pool = rte_pktmbuf_pool_create(pname, nmbuf, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_eth_dev_socket_id(p->id));
	if (!p->pool) {
		snprintf(err, errlen, "port %s: cannot create the mbuf pool (%u buffers): %s", p->name, nmbuf,
			 rte_strerror(rte_errno));
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof conf);
	uint8_t key[64];
	if (nq > 1) {
		size_t klen = info.hash_key_size ? info.hash_key_size : 40;
		if (klen > sizeof key)
			klen = sizeof key;
		symmetric_key(key, klen);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
						   info.flow_type_rss_offloads;
		if (!conf.rx_adv_conf.rss_conf.rss_hf)
			fprintf(stderr, "otsensor: port %s: the driver has no configurable RSS; its own spreading "
				"over the queues is used (net_af_packet: the kernel's fanout hash, symmetric)\n", p->name);
	}
	/* net_pcap replays a file: its frames keep their capture times (packet time, as in
	 * replay). Other ports' hardware clocks are not wall time: frames get the time of
	 * their burst. */
	if (!strcmp(info.driver_name, "net_pcap")) {
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
		p->file_times = true; /* (this PMD stamps every frame without being asked) */
	}
	rc = rte_eth_dev_configure(p->id, (uint16_t)nq, 0, &conf);
	if (rc) {
		/* this PMD wants a TX queue: it gets one, which is never used */
		rc = rte_eth_dev_configure(p->id, (uint16_t)nq, 1, &conf);
		if (rc) {
			snprintf(err, errlen, "port %s: cannot configure %d RX queues: %s", p->name, nq, rte_strerror(-rc));
			return -1;
		}
		rc = rte_eth_tx_queue_setup(p->id, 0, 64, (unsigned)rte_eth_dev_socket_id(p->id), NULL);
		if (rc) {
			snprintf(err, errlen, "port %s: cannot set up its (unused) TX queue: %s", p->name, rte_strerror(-rc));
			return -1;
		}
		p->tx_queue = true;
		fprintf(stderr, "otsensor: port %s: the driver needs a TX queue; it is configured and never used\n",
			p->name);
	}
	for (int q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->id, (uint16_t)q, RX_DESC, (unsigned)rte_eth_dev_socket_id(p->id), NULL,
					    p->pool);
		if (rc) {
			snprintf(err, errlen, "port %s: cannot set up RX queue %d: %s", p->name, q, rte_strerror(-rc));
			return -1;
		}
		dp->qs[dp->nq++] = (struct dpdk_q){ .port = p->id, .qid = (uint16_t)q, .file_times = p->file_times };
	}
	rc = rte_eth_dev_start(p->id);
	if (rc) {
		snprintf(err, errlen, "port %s: cannot start: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	p->started = true;
	rte_eth_promiscuous_enable(p->id); /* a PMD without it (pcap files) captures everything anyway */
	if (p->file_times) {
		dp->ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
		int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
		dp->ts_flag = bit >= 0 ? 1ull << bit : 0;
		if (dp->ts_off < 0 || !dp->ts_flag)
			dp->ts_off = -1;
	}
	return 0;
}

static void dpdk_close(struct capture *c)
{
	struct dpdk_priv *dp = c->priv;
	if (!dp)
		return;
	for (int i = 0; i < dp->nports; i++) {
		if (dp->ports[i].started)
			rte_eth_dev_stop(dp->ports[i].id);
		rte_eth_dev_close(dp->ports[i].id);
	}
	for (int i = 0; i < dp->nports; i++)
		if (dp->ports[i].pool)
			rte_mempool_free(dp->ports[i].pool);
	if (dp->eal)
		rte_eal_cleanup();
	free(dp->qs);
	free(dp);
	c->priv = NULL;
}

static int dpdk_open(struct capture *c, const struct config *cfg, char *err, size_t errlen)
{
	struct dpdk_priv *dp = calloc(1, sizeof *dp);
	if (!dp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->priv = dp;
	c->split = false;
	dp->ts_off = -1;
	/* EAL arguments: dpdk_args split on blanks */
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	argv[argc++] = (char *)"otsensor";
	snprintf(dp->argbuf, sizeof dp->argbuf, "%s", cfg->capture.dpdk_args);
	for (char *save = NULL, *t = strtok_r(dp->argbuf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (argc >= MAX_ARGS) {
			snprintf(err, errlen, "[capture] dpdk_args: more than %d arguments", MAX_ARGS - 1);
			return -1;
		}
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, errlen, "[capture] dpdk_args '%s': EAL initialisation failed: %s", cfg->capture.dpdk_args,
			 rte_strerror(rte_errno));
		return -1;
	}
	dp->eal = true;
	int nq = cfg->capture.queues;
	if (cfg->capture.n_interfaces) {
		for (int i = 0; i < cfg->capture.n_interfaces; i++) {
			uint16_t pid;
			if (rte_eth_dev_get_port_by_name(cfg->capture.interfaces[i], &pid)) {
				snprintf(err, errlen, "[capture] interface %s: no such DPDK port (name a --vdev or PCI "
					 "device of dpdk_args)", cfg->capture.interfaces[i]);
				return -1;
			}
			dp->ports[dp->nports].id = pid;
			snprintf(dp->ports[dp->nports++].name, sizeof dp->ports[0].name, "%s", cfg->capture.interfaces[i]);
		}
	} else {
		uint16_t pid;
		RTE_ETH_FOREACH_DEV(pid) {
			if (dp->nports >= RTE_MAX_ETHPORTS)
				break;
			dp->ports[dp->nports].id = pid;
			if (rte_eth_dev_get_name_by_port(pid, dp->ports[dp->nports].name))
				snprintf(dp->ports[dp->nports].name, sizeof dp->ports[0].name, "port%u", pid);
			dp->nports++;
		}
	}
	if (!dp->nports) {
		snprintf(err, errlen, "[capture] dpdk_args '%s': the EAL found no port (add --vdev=... or a PCI device)",
			 cfg->capture.dpdk_args);
		return -1;
	}
	dp->qs = calloc((size_t)(dp->nports * nq), sizeof *dp->qs);
	if (!dp->qs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < dp->nports; i++)
		if (port_open(dp, &dp->ports[i], nq, err, errlen))
			return -1;
	c->nqueues = dp->nq;
	return 0;
}

static int dpdk_rx(struct capture *c, int qi, capture_cb cb, void *ctx, int timeout_ms, const sigset_t *waitmask)
{
	(void)waitmask;
	struct dpdk_priv *dp = c->priv;
	struct dpdk_q *q = &dp->qs[qi];
	struct rte_mbuf *bufs[BURST];
	uint16_t n = rte_eth_rx_burst(q->port, q->qid, bufs, BURST);
	if (!n) {
		if (timeout_ms > 0) { /* idle: poll again shortly */
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
		}
		return 0;
	}
	uint64_t ts = capture_now_us();
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = bufs[i];
		uint64_t t = ts;
		if (q->file_times && dp->ts_off >= 0 && (m->ol_flags & dp->ts_flag))
			t = *RTE_MBUF_DYNFIELD(m, dp->ts_off, const uint64_t *);
		if (t > 100000000000000000ull) /* nanoseconds (DPDK versions differ) */
			t /= 1000u;
		/* a frame in several segments is seen up to the end of its first */
		cb(ctx, LT_ETHERNET, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m),
		   t);
	}
	rte_pktmbuf_free_bulk(bufs, n);
	q->received += n;
	return n;
}

static int dpdk_stats(struct capture *c, struct capture_if_stats *out, int max)
{
	struct dpdk_priv *dp = c->priv;
	int k = 0;
	for (int i = 0; dp && i < dp->nports && k < max; i++, k++) {
		struct dpdk_port *p = &dp->ports[i];
		memset(&out[k], 0, sizeof out[k]);
		snprintf(out[k].name, sizeof out[k].name, "%s", p->name);
		for (int j = 0; j < dp->nq; j++)
			if (dp->qs[j].port == p->id)
				out[k].received += dp->qs[j].received;
		struct rte_eth_stats es;
		if (rte_eth_stats_get(p->id, &es) == 0) {
			out[k].kernel_drops = es.rx_nombuf;
			out[k].nic_drops = es.imissed + es.ierrors;
		}
	}
	return k;
}

const struct capture_backend capture_dpdk = {
	.name = "dpdk",
	.open = dpdk_open,
	.rx = dpdk_rx,
	.stats = dpdk_stats,
	.close = dpdk_close,
	.caps_after_open = NULL,
	.ncaps_after_open = 0,
};
