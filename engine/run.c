/*
 * run.c - `otsensor run`: live capture through the same pipeline as replay.
 *
 * Order: block SIGTERM/SIGINT/SIGHUP in every thread (the main thread waits for them
 * with ppoll), set a symmetric RSS key on afxdp interfaces with several queues (rss.c),
 * open the capture, drop root (privileges.c), open the store, start the workers and the
 * state thread, capture until SIGTERM/SIGINT, then stop the capture, drain the rings,
 * finish the workers (every flow is flushed), stop the state thread, emit the asked
 * records and close the store. Packet times come from the capture.
 *
 * SIGHUP: the main thread re-reads and checks the file, names the keys that need a
 * restart, and hands a new configuration with the keys that reload in place to the
 * state thread (state_reload), which swaps it between two batches and restarts the
 * uplink if [uplink] changed (alerts/reload.c). The configuration it replaced is freed
 * here once the state thread says it took the new one; the workers never see it.
 *
 * Two ways frames reach the workers (capture.h):
 *   split  (pcap): the main thread reads and hashes each frame to a worker's byte ring;
 *          a full ring drops the frame and counts it (ring_drops): live capture never
 *          blocks on a slow worker, unlike replay.
 *   queues (afxdp, dpdk): worker i polls receive queue i itself, nothing is copied; a
 *          slow worker makes its queue overflow, which the kernel/NIC counts.
 *
 * Must never: block the capture thread on a worker, transmit on a monitored interface,
 * exit on SIGTERM without flushing state, or free a configuration the state thread may
 * still read.
 */
#include <errno.h>
#include <net/if.h>
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

#include "affinity.h"
#include "capture.h"
#include "otstate.h"
#include "privileges.h"
#include "reload.h"
#include "rss.h"
#include "run.h"
#include "state.h"
#include "stats.h"
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
	struct decode_stats ds;     /* split mode: the capture thread's decoding */
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
	/* decoded here, in the capture thread (from the capture's copy of the frame, in this
	 * CPU's cache): the workers only dissect */
	struct packet p;
	uint32_t k;
	int rc = worker_predecode(lt, data, caplen, wirelen, ts, &p, &lv->ds, lv->nworkers, &k);
	struct worker *w = &lv->workers[k];
	struct brec *rec = bring_reserve(&w->in, worker_rec_len(caplen));
	if (!rec) {
		lv->ring_drops[k]++;
		return;
	}
	worker_rec_fill(rec, lt, data, caplen, wirelen, ts, lv->frameno, &p, rc);
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
	struct stats_in in = { lv->last_ts, lv->workers, lv->nworkers, lv->ring_drops, st->facts };
	json_object *o;
	if (stats_record_new(&in, &o)) {
		fprintf(stderr, "otsensor: out of memory for the stats record\n");
		return;
	}
	struct capture_if_stats cs[CAPTURE_STATS_MAX];
	int ncs = lv->cap.be->stats ? lv->cap.be->stats((struct capture *)&lv->cap, cs, CAPTURE_STATS_MAX) : 0;
	uint64_t kdrop = 0, ndrop = 0, ring = 0;
	for (int i = 0; lv->ring_drops && i < lv->nworkers; i++)
		ring += lv->ring_drops[i];
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
	json_object *drops = json_object_new_object();
	json_object_object_add(drops, "kernel", json_object_new_int64((int64_t)kdrop));
	json_object_object_add(drops, "nic", json_object_new_int64((int64_t)ndrop));
	json_object_object_add(drops, "ring_full", json_object_new_int64((int64_t)ring));
	json_object_object_add(o, "drops", drops);
	json_object_object_add(o, "interfaces", ifs);
	json_object_object_add(o, "elapsed_s", json_object_new_double(elapsed));
	if (stats_write(o))
		fprintf(stderr, "otsensor: out of memory for the stats record\n");
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

/* ---------------------------------------------------------------- SIGHUP */

/* The configuration the sensor runs with and a reload the state thread has not taken
 * yet. Only the main thread touches this. */
struct reloader {
	const char *path;           /* --config */
	struct config *live;        /* what the state thread and the uplink use now */
	struct config *made;        /* live, when a reload allocated it (else main.c owns live) */
	struct config *next;        /* handed over, live once the state thread took it */
	struct ots_reload req;
	bool pending;
	char applied[1024];         /* "[alerts] port_scan_ports, ..." of the pending one */
};

static void join_names(char *buf, size_t n, const struct conf_change *ch, int nch, bool restart)
{
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < nch && len + 1 < n; i++) {
		if (ch[i].restart != restart)
			continue;
		int k = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", ch[i].name);
		if (k < 0)
			break;
		len += (size_t)k < n - len ? (size_t)k : n - len - 1;
	}
}

/* the state thread took the pending reload: say what changed, free what it replaced */
static void reload_poll(struct reloader *rl, struct state_thread *st)
{
	if (!rl->pending || !state_reload_applied(st, &rl->req))
		return;
	rl->pending = false;
	if (rl->req.status)
		fprintf(stderr, "otsensor: SIGHUP: %s: applied in place: %s; but %s\n", rl->path, rl->applied,
			rl->req.err);
	else
		fprintf(stderr, "otsensor: SIGHUP: %s: applied in place: %s\n", rl->path, rl->applied);
	free(rl->made);
	rl->live = rl->made = rl->next;
	rl->next = NULL;
}

/* SIGHUP: re-reads the file. A bad one is reported (file, line, key) and changes
 * nothing. Keys that cannot change in a running sensor are named, key by key, as
 * needing a restart and are not applied; the others go to the state thread, which
 * takes them between two batches (reload_poll reports when it has). */
static void reload_start(struct reloader *rl, struct state_thread *st)
{
	if (!rl->path) {
		fprintf(stderr, "otsensor: SIGHUP: no --config file to reload\n");
		return;
	}
	if (rl->pending) {
		fprintf(stderr, "otsensor: SIGHUP: the previous reload of %s is still being applied; send SIGHUP "
			"again in a moment\n", rl->path);
		return;
	}
	struct config *n = malloc(sizeof *n);
	struct conf_change *ch = calloc(CONF_MAX_CHANGES, sizeof *ch);
	if (!n || !ch) {
		fprintf(stderr, "otsensor: SIGHUP: out of memory (keeping the running configuration)\n");
		free(n);
		free(ch);
		return;
	}
	config_defaults(n);
	char err[1024];
	if (config_load(n, rl->path, err, sizeof err)) {
		fprintf(stderr, "otsensor: SIGHUP: %s (keeping the running configuration)\n", err);
		goto done;
	}
	int nch = config_diff(rl->live, n, ch, CONF_MAX_CHANGES);
	if (nch > CONF_MAX_CHANGES)
		nch = CONF_MAX_CHANGES;
	if (!nch) {
		fprintf(stderr, "otsensor: SIGHUP: %s is valid and unchanged\n", rl->path);
		goto done;
	}
	bool any_restart = false, any_apply = false, uplink = false;
	for (int i = 0; i < nch; i++) {
		any_restart |= ch[i].restart;
		any_apply |= !ch[i].restart;
		uplink |= !ch[i].restart && !strncmp(ch[i].name, "[uplink]", 8);
	}
	if (any_restart) {
		char names[1024];
		join_names(names, sizeof names, ch, nch, true);
		fprintf(stderr, "otsensor: SIGHUP: %s: needs a restart: %s (not applied; the running values stay)\n",
			rl->path, names);
	}
	if (!any_apply)
		goto done;
	struct config *next = malloc(sizeof *next);
	if (!next) {
		fprintf(stderr, "otsensor: SIGHUP: out of memory (keeping the running configuration)\n");
		goto done;
	}
	config_reloaded(next, rl->live, n);
	join_names(rl->applied, sizeof rl->applied, ch, nch, false);
	if (uplink)
		snprintf(rl->applied + strlen(rl->applied), sizeof rl->applied - strlen(rl->applied),
			 " (the uplink restarts)");
	rl->req = (struct ots_reload){ .cfg = next, .restart_uplink = uplink };
	if (state_reload(st, ots_state_reload, &rl->req)) { /* cannot happen: only this thread hands them over */
		fprintf(stderr, "otsensor: SIGHUP: a reload is still pending (keeping the running configuration)\n");
		free(next);
		goto done;
	}
	rl->next = next;
	rl->pending = true;
done:
	free(ch);
	free(n);
}

/* ---------------------------------------------------------------- RSS (afxdp) */

/* afxdp with several queues relies on the NIC's RSS to keep both directions of a flow
 * on one queue: set the symmetric key and spread the table over the queues that get a
 * socket. A driver that cannot (veth) gets one warning with the command to run. */
static void rss_setup(const struct config *cfg)
{
	int nq = cfg->capture.queues;
	for (int i = 0; i < cfg->capture.n_interfaces; i++) {
		const char *ifname = cfg->capture.interfaces[i];
		if (!if_nametoindex(ifname))
			continue; /* the backend's open names it */
		size_t key_size;
		char why[256], cmd[512];
		if (!rss_set_symmetric(ifname, nq, &key_size, why, sizeof why)) {
			fprintf(stderr, "otsensor: interface %s: symmetric RSS (Toeplitz, key 6d5a repeated) over queues "
				"0-%d\n", ifname, nq - 1);
			continue;
		}
		rss_ethtool_command(cmd, sizeof cmd, ifname, key_size, nq);
		fprintf(stderr, "otsensor: warning: interface %s: cannot set a symmetric RSS key over %d queues (%s): "
			"the two directions of a flow may reach different workers; set it with: %s\n", ifname, nq, why,
			cmd);
	}
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
	struct rlimit mlock = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &mlock);

	struct live lv;
	memset(&lv, 0, sizeof lv);
	lv.cap.be = be;
	struct reloader rl = { .path = o->config_path, .live = cfg };
	int status = 0, inited = 0;
	unsigned drain_s = 0; /* uplink drain at exit: only after a clean stop */
	struct ots_state *ots = NULL;
	struct state_thread *st = NULL;
	bool st_started = false, cap_open = false;
	char err[1024];
	if (!strcmp(be->name, "afxdp") && cfg->capture.queues > 1)
		rss_setup(cfg);
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
		if (worker_init(&lv.workers[i], i, cfg, o->emit, lv.cap.split ? WORKER_LIVE_RING : WORKER_LIVE_QUEUE)) {
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
	if (affinity_allowed_cpus() < lv.nworkers + 2)
		state_share_cpu(st); /* its spinning would take a worker's or the capture's time */
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
				reload_start(&rl, st);
			}
			reload_poll(&rl, st);
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
			worker_name_thread(lv.qthreads[i], i);
			lv.qstarted++;
		}
		while (!got_stop && !lv.rx_failed) {
			if (got_hup) {
				got_hup = 0;
				reload_start(&rl, st);
			}
			reload_poll(&rl, st);
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
	reload_poll(&rl, st); /* the state thread takes a pending reload before it stops */
	drain_s = rl.live->uplink.drain_timeout;
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
	if (st_started) {
		state_stop(st);
		reload_poll(&rl, st);
	}
	free(st);
	ots_state_close(ots, drain_s);
	free(rl.made); /* after the store: the state read it until ots_state_close */
	free(rl.next);
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
