/*
 * run.c - `otsensor run`: live capture through the same pipeline as replay.
 *
 * Order: block SIGTERM/SIGINT/SIGHUP in every thread (the main thread waits for them
 * with ppoll), open the capture, drop root (privileges.c), open the store, start the
 * workers and the state thread, capture until SIGTERM/SIGINT, then stop the capture,
 * drain the rings, finish the workers (every flow is flushed), stop the state thread,
 * emit the asked records and close the store. Packet times come from the capture.
 *
 * Two ways frames reach the workers (capture.h):
 *   split  (pcap): the main thread reads and hashes each frame to a worker's byte ring;
 *          a full ring drops the frame and counts it (ring_drops): live capture never
 *          blocks on a slow worker, unlike replay.
 *   queues (afxdp, dpdk): worker i polls receive queue i itself, nothing is copied; a
 *          slow worker makes its queue overflow, which the kernel/NIC counts.
 *
 * Must never: block the capture thread on a worker, transmit on a monitored interface,
 * or exit on SIGTERM without flushing state.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "otstate.h"
#include "privileges.h"
#include "run.h"
#include "state.h"
#include "worker.h"

#define CAPTURE_STATS_MAX 512

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

struct live {
	struct capture cap;
	struct worker *workers;
	int nworkers;
	uint64_t frameno;           /* split mode: frames read by the capture thread */
	uint64_t last_ts;
	uint64_t *ring_drops;       /* split mode: per worker, written by the capture thread only */
	_Atomic bool stop_queues;   /* queues mode: tells the worker threads to finish */
	pthread_t *qthreads;
	int qstarted;
	bool rx_failed;
};

/* ---------------------------------------------------------------- split mode (pcap) */

static void split_frame(void *ctx, int lt, const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	struct live *lv = ctx;
	lv->frameno++;
	if (ts > lv->last_ts)
		lv->last_ts = ts;
	uint32_t k = lv->nworkers == 1 ? 0 : worker_pick_hash(lt, data, caplen) % (uint32_t)lv->nworkers;
	struct worker *w = &lv->workers[k];
	struct brec *rec = bring_reserve(&w->in, caplen);
	if (!rec) {
		lv->ring_drops[k]++;
		return;
	}
	rec->caplen = caplen;
	rec->wirelen = wirelen;
	rec->linktype = lt;
	rec->ts_us = ts;
	rec->frameno = lv->frameno;
	memcpy(rec->data, data, caplen);
	bring_commit(&w->in, rec);
}

/* ---------------------------------------------------------------- queues mode (afxdp, dpdk) */

struct qctx {
	struct live *lv;
	struct worker *w;
	int q;
	uint64_t frameno;
};

static void queue_frame(void *ctx, int lt, const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	struct qctx *qc = ctx;
	worker_packet(qc->w, lt, data, caplen, wirelen, ts, ++qc->frameno);
}

static void *queue_main(void *arg)
{
	struct qctx *qc = arg;
	struct live *lv = qc->lv;
	for (;;) {
		bool stopping = atomic_load_explicit(&lv->stop_queues, memory_order_acquire);
		int n = lv->cap.be->rx(&lv->cap, qc->q, queue_frame, qc, stopping ? 0 : 100, NULL);
		if (n < 0) {
			lv->rx_failed = true;
			break;
		}
		if (stopping && n == 0)
			break; /* what the queue held is processed */
	}
	worker_finish(qc->w);
	return NULL;
}

/* ---------------------------------------------------------------- records */

static void stats_record(const struct live *lv, const struct state_thread *st, double elapsed)
{
	json_object *o = rec_new("stats", lv->last_ts);
	uint64_t pkts = 0, bytes = 0, flows = 0, ring = 0;
	json_object *protos = json_object_new_object();
	json_object *workers = json_object_new_array();
	for (int i = 0; i < lv->nworkers; i++) {
		const struct worker *w = &lv->workers[i];
		pkts += w->st.packets;
		bytes += w->st.bytes;
		flows += w->ft.st.created;
		for (int k = 0; k < w->nprotos; k++) {
			json_object *cur = NULL;
			int64_t prev = 0;
			if (json_object_object_get_ex(protos, w->protos[k].name, &cur))
				prev = json_object_get_int64(cur);
			json_object_object_add(protos, w->protos[k].name,
					       json_object_new_int64(prev + (int64_t)w->protos[k].pdus));
		}
		json_object *wo = json_object_new_object();
		uint64_t rd = lv->ring_drops ? lv->ring_drops[i] : 0;
		ring += rd;
		json_object_object_add(wo, "packets", json_object_new_int64((int64_t)w->st.packets));
		json_object_object_add(wo, "flows", json_object_new_int64((int64_t)w->ft.st.created));
		json_object_object_add(wo, "flows_evicted", json_object_new_int64((int64_t)w->ft.st.evicted));
		json_object_object_add(wo, "decode_errors", json_object_new_int64((int64_t)w->st.decode_errors));
		json_object_object_add(wo, "facts_sent", json_object_new_int64((int64_t)w->st.facts));
		json_object_object_add(wo, "ring_drops", json_object_new_int64((int64_t)rd));
		json_object_array_add(workers, wo);
	}
	struct capture_if_stats cs[CAPTURE_STATS_MAX];
	int ncs = lv->cap.be->stats ? lv->cap.be->stats((struct capture *)&lv->cap, cs, CAPTURE_STATS_MAX) : 0;
	uint64_t kdrop = 0, ndrop = 0;
	json_object *ifs = json_object_new_array();
	for (int i = 0; i < ncs; i++) {
		json_object *io = json_object_new_object();
		json_object_object_add(io, "name", json_object_new_string(cs[i].name));
		json_object_object_add(io, "received", json_object_new_int64((int64_t)cs[i].received));
		json_object_object_add(io, "kernel_drops", json_object_new_int64((int64_t)cs[i].kernel_drops));
		json_object_object_add(io, "nic_drops", json_object_new_int64((int64_t)cs[i].nic_drops));
		json_object_array_add(ifs, io);
		kdrop += cs[i].kernel_drops;
		ndrop += cs[i].nic_drops;
	}
	json_object_object_add(o, "backend", json_object_new_string(lv->cap.be->name));
	json_object_object_add(o, "packets", json_object_new_int64((int64_t)pkts));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(o, "flows", json_object_new_int64((int64_t)flows));
	json_object_object_add(o, "pdus", protos);
	json_object_object_add(o, "facts", json_object_new_int64((int64_t)st->facts));
	json_object *drops = json_object_new_object();
	json_object_object_add(drops, "kernel", json_object_new_int64((int64_t)kdrop));
	json_object_object_add(drops, "nic", json_object_new_int64((int64_t)ndrop));
	json_object_object_add(drops, "ring_full", json_object_new_int64((int64_t)ring));
	json_object_object_add(o, "drops", drops);
	json_object_object_add(o, "interfaces", ifs);
	json_object_object_add(o, "elapsed_s", json_object_new_double(elapsed));
	json_object_object_add(o, "workers", workers);
	struct outbuf out;
	if (outbuf_init(&out, 1u << 16) == 0) {
		outbuf_put(&out, o);
		outbuf_free(&out);
	} else {
		json_object_put(o);
	}
}

static void human_summary(const struct live *lv, const struct state_thread *st, double elapsed)
{
	uint64_t pkts = 0, ring = 0;
	for (int i = 0; i < lv->nworkers; i++) {
		pkts += lv->workers[i].st.packets;
		ring += lv->ring_drops ? lv->ring_drops[i] : 0;
	}
	struct capture_if_stats cs[CAPTURE_STATS_MAX];
	int ncs = lv->cap.be->stats((struct capture *)&lv->cap, cs, CAPTURE_STATS_MAX);
	fprintf(stderr, "otsensor run: %s backend, %d worker%s, %.1f s: %llu packets, %llu facts, %llu dropped "
		"(worker ring full)\n", lv->cap.be->name, lv->nworkers, lv->nworkers == 1 ? "" : "s", elapsed,
		(unsigned long long)pkts, (unsigned long long)st->facts, (unsigned long long)ring);
	for (int i = 0; i < ncs; i++)
		fprintf(stderr, "  %-16s received %llu, dropped by kernel %llu, by interface %llu\n", cs[i].name,
			(unsigned long long)cs[i].received, (unsigned long long)cs[i].kernel_drops,
			(unsigned long long)cs[i].nic_drops);
}

/* capture drops for the health message (uplink): kernel/socket, interface/NIC and
 * worker-ring drops together. Called from the main thread about once a second. */
static void report_drops(struct live *lv, struct ots_state *ots)
{
	struct capture_if_stats cs[CAPTURE_STATS_MAX];
	int n = lv->cap.be->stats(&lv->cap, cs, CAPTURE_STATS_MAX);
	uint64_t d = 0;
	for (int i = 0; i < n; i++)
		d += cs[i].kernel_drops + cs[i].nic_drops;
	if (lv->cap.split) /* the ring counters belong to this (the capture) thread */
		for (int i = 0; i < lv->nworkers; i++)
			d += lv->ring_drops[i];
	ots_state_set_drops(ots, d);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SIGHUP: re-read the configuration file. Nothing a running pipeline holds can change
 * in place yet; the file is checked and what differs from the running configuration
 * is named, so an operator knows a restart is needed (and that the file is valid). */
static void reload(const struct run_opts *o, const struct config *running)
{
	if (!o->config_path) {
		fprintf(stderr, "otsensor: SIGHUP: no --config file to reload\n");
		return;
	}
	struct config *n = malloc(sizeof *n);
	if (!n)
		return;
	config_defaults(n);
	char err[1024];
	if (config_load(n, o->config_path, err, sizeof err)) {
		fprintf(stderr, "otsensor: SIGHUP: %s (keeping the running configuration)\n", err);
	} else if (memcmp(&n->sensor, &running->sensor, sizeof n->sensor) ||
		   memcmp(&n->capture, &running->capture, sizeof n->capture) ||
		   memcmp(&n->state, &running->state, sizeof n->state) ||
		   memcmp(&n->uplink, &running->uplink, sizeof n->uplink)) {
		fprintf(stderr, "otsensor: SIGHUP: %s is valid; its changes take effect at the next restart\n",
			o->config_path);
	} else {
		fprintf(stderr, "otsensor: SIGHUP: %s is valid and unchanged\n", o->config_path);
	}
	free(n);
}

int run_main(const struct run_opts *o, struct config *cfg)
{
	registry_init();
	const char *why;
	const struct capture_backend *be = capture_backend_find(cfg->capture.backend, &why);
	if (!be) {
		fprintf(stderr, "otsensor: [capture] backend '%s': %s\n", cfg->capture.backend, why);
		return 2;
	}
	/* signals are only taken in the main thread's waits; every thread inherits the block */
	sigset_t block, waitmask;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* AF_XDP umems and DPDK pools are locked memory */
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &rl);

	struct live lv;
	memset(&lv, 0, sizeof lv);
	lv.cap.be = be;
	int status = 0, inited = 0;
	unsigned drain_s = 0; /* uplink drain at exit: only after a clean stop */
	struct ots_state *ots = NULL;
	struct state_thread *st = NULL;
	bool st_started = false, cap_open = false;
	char err[1024];
	if (be->open(&lv.cap, cfg, err, sizeof err)) {
		fprintf(stderr, "otsensor: %s backend: %s\n", be->name, err);
		be->close(&lv.cap);
		return 2;
	}
	cap_open = true;
	const char *state_dir = cfg->sensor.state_dir[0] ? cfg->sensor.state_dir : RUN_DEFAULT_STATE;
	if (mkdir(state_dir, 0750) && errno != EEXIST) {
		fprintf(stderr, "otsensor: state directory %s: %s\n", state_dir, strerror(errno));
		status = 1;
		goto out;
	}
	{
		char note[512];
		int rc = priv_drop(cfg->sensor.user, be->caps_after_open, be->ncaps_after_open, state_dir, note,
				   sizeof note, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "otsensor: dropping privileges: %s\n", err);
			status = 1;
			goto out;
		}
		if (rc > 0)
			fprintf(stderr, "otsensor: notice: %s\n", note);
	}
	if (ots_state_open(&ots, state_dir, cfg, -1, err, sizeof err)) {
		fprintf(stderr, "otsensor: %s\n", err);
		status = 2;
		goto out;
	}
	lv.nworkers = lv.cap.split ? cfg->capture.queues : lv.cap.nqueues;
	if (lv.nworkers < 1)
		lv.nworkers = 1;
	if (lv.nworkers > WORKER_MAX) {
		fprintf(stderr, "otsensor: %d receive queues: at most %d workers\n", lv.nworkers, WORKER_MAX);
		status = 2;
		goto out;
	}
	lv.workers = calloc((size_t)lv.nworkers, sizeof *lv.workers);
	lv.ring_drops = calloc((size_t)lv.nworkers, sizeof *lv.ring_drops);
	lv.qthreads = calloc((size_t)lv.nworkers, sizeof *lv.qthreads);
	struct qctx *qcs = calloc((size_t)lv.nworkers, sizeof *qcs);
	st = calloc(1, sizeof *st);
	if (!lv.workers || !lv.ring_drops || !lv.qthreads || !qcs || !st) {
		fprintf(stderr, "otsensor: out of memory\n");
		free(qcs);
		status = 1;
		goto out;
	}
	for (int i = 0; i < lv.nworkers; i++, inited++) {
		if (worker_init(&lv.workers[i], i, cfg, o->emit, lv.cap.split)) {
			fprintf(stderr, "otsensor: cannot allocate worker %d (flow table of %u flows, %u stream buffers)\n",
				i, cfg->sensor.max_flows, cfg->sensor.stream_buffers);
			free(qcs);
			status = 1;
			goto out;
		}
		lv.workers[i].sync_events = true;
	}
	ots_state_set_workers(ots, lv.workers, lv.nworkers);
	struct state_sink sink = { ots, ots_state_apply_batch, ots_state_commit };
	if (state_start(st, lv.workers, lv.nworkers, o->emit, &sink)) {
		fprintf(stderr, "otsensor: cannot start the state thread\n");
		free(qcs);
		status = 1;
		goto out;
	}
	st_started = true;
	fprintf(stderr, "otsensor: capturing with the %s backend, %d worker%s\n", be->name, lv.nworkers,
		lv.nworkers == 1 ? "" : "s");
	double t0 = now_s(), next_health = t0;
	report_drops(&lv, ots);
	if (lv.cap.split) {
		for (int i = 0; i < lv.nworkers; i++)
			worker_start(&lv.workers[i], 0);
		while (!got_stop) {
			if (got_hup) {
				got_hup = 0;
				reload(o, cfg);
			}
			if (be->rx(&lv.cap, 0, split_frame, &lv, 100, &waitmask) < 0) {
				status = 1;
				break;
			}
			if (now_s() >= next_health) {
				report_drops(&lv, ots);
				next_health = now_s() + 1;
			}
		}
		report_drops(&lv, ots);
		/* the capture stops here; the workers drain their rings */
		for (int i = 0; i < lv.nworkers; i++)
			worker_join(&lv.workers[i]);
	} else {
		for (int i = 0; i < lv.nworkers; i++) {
			qcs[i] = (struct qctx){ .lv = &lv, .w = &lv.workers[i], .q = i };
			if (pthread_create(&lv.qthreads[i], NULL, queue_main, &qcs[i])) {
				fprintf(stderr, "otsensor: cannot start worker %d\n", i);
				status = 1;
				got_stop = 1;
				break;
			}
			lv.qstarted++;
		}
		while (!got_stop && !lv.rx_failed) {
			if (got_hup) {
				got_hup = 0;
				reload(o, cfg);
			}
			struct timespec to = { 0, 200 * 1000000L };
			ppoll(NULL, 0, &to, &waitmask);
			if (now_s() >= next_health) {
				report_drops(&lv, ots);
				next_health = now_s() + 1;
			}
		}
		atomic_store_explicit(&lv.stop_queues, true, memory_order_release);
		for (int i = 0; i < lv.qstarted; i++)
			pthread_join(lv.qthreads[i], NULL);
		if (lv.rx_failed)
			status = 1;
		report_drops(&lv, ots);
		for (int i = 0; i < lv.nworkers; i++)
			if (lv.workers[i].st.last_ts > lv.last_ts)
				lv.last_ts = lv.workers[i].st.last_ts;
	}
	free(qcs);
	state_stop(st);
	st_started = false;
	drain_s = cfg->uplink.drain_timeout;
	ots_state_finish(ots);
	if (st->sink_errors)
		status = 1;
	double elapsed = now_s() - t0;
	ots_state_print(ots, o->emit);
	if (o->emit & EMIT_STATS)
		stats_record(&lv, st, elapsed);
	if (!o->emit)
		human_summary(&lv, st, elapsed);
	fflush(stdout);
out:
	if (st_started)
		state_stop(st);
	free(st);
	ots_state_close(ots, drain_s);
	for (int i = 0; i < inited; i++)
		worker_free(&lv.workers[i]);
	free(lv.workers);
	free(lv.ring_drops);
	free(lv.qthreads);
	if (cap_open)
		be->close(&lv.cap);
	fflush(stdout);
	return status;
}
