/*
 * capture.h - live capture backends for `otsensor run`: libpcap, AF_XDP, DPDK.
 *
 * A backend opens every configured interface and hands frames to a callback. It runs
 * in one of two modes:
 *   split  (pcap): one capture thread (the main thread) reads every interface and the
 *          caller splits frames over the workers by the symmetric hash (software RSS);
 *          `rx` is called with q = 0 and waits up to timeout_ms for traffic.
 *   queues (afxdp, dpdk): the backend exposes `nqueues` receive queues (interfaces x
 *          [capture] queues); the NIC's RSS pins flows to queues and the worker of
 *          queue q calls `rx(c, q, ...)` from its own thread. Nothing is copied.
 * Frames passed to the callback are valid only during the call.
 *
 * Must never: transmit on a monitored interface (no pcap_inject, no AF_XDP TX ring, no
 * rte_eth_tx_burst), or allocate, lock or make a system call per packet in `rx`
 * (a system call per batch, or to wait when idle, is fine).
 */
#ifndef OTS_CAPTURE_H
#define OTS_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef void (*capture_cb)(void *ctx, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
			   uint64_t ts_us);

/* Counters of one interface (or port), read with `stats` (not on the packet path). */
struct capture_if_stats {
	char name[64];
	uint64_t received;     /* frames the backend delivered */
	uint64_t kernel_drops; /* dropped by the kernel/socket (buffer full, fill ring empty) */
	uint64_t nic_drops;    /* dropped by the interface/NIC (ifdrop, imissed, no mbuf) */
};

struct capture;

struct capture_backend {
	const char *name;
	/* opens every interface of cfg; 0, or -1 with err naming the interface and the cause */
	int (*open)(struct capture *c, const struct config *cfg, char *err, size_t errlen);
	/* receives one batch; returns the number of frames, or -1 when the source is gone */
	int (*rx)(struct capture *c, int q, capture_cb cb, void *ctx, int timeout_ms, const sigset_t *waitmask);
	/* fills at most max entries; returns how many */
	int (*stats)(struct capture *c, struct capture_if_stats *out, int max);
	void (*close)(struct capture *c);
	/* Linux capabilities (CAP_* numbers) the backend still needs after open */
	const int *caps_after_open;
	int ncaps_after_open;
};

struct capture {
	const struct capture_backend *be;
	bool split;     /* split mode (see above) */
	int nqueues;    /* queues mode: number of receive queues (= workers) */
	void *priv;
};

/* The backend named by [capture] backend, or NULL if this build has none of that name
 * (why is then set to the reason). */
const struct capture_backend *capture_backend_find(const char *name, const char **why);

extern const struct capture_backend capture_pcap;
#ifdef OTS_HAVE_AFXDP
extern const struct capture_backend capture_afxdp;
#endif
#ifdef OTS_HAVE_DPDK
extern const struct capture_backend capture_dpdk;
#endif

/* wall-clock time in microseconds (vDSO, no system call) for backends without packet times */
uint64_t capture_now_us(void);

#endif
