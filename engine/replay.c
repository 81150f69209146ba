/*
 * replay.c - `otsensor replay`: capture files through the same pipeline as `run`.
 *
 * Reads pcap and pcapng files with libpcap in the calling thread and hands each frame
 * to a worker thread's input ring, picked by the symmetric host-pair hash (reading and
 * dissecting overlap even with one worker), and reports a summary
 * or a stats record at the end. A truncated or corrupt file is processed as far as it
 * is readable; the byte where reading stopped is reported and the exit status is 1.
 * A file that cannot be opened or is not a capture at all is a usage error (status 2);
 * the other files are still read.
 *
 * Must never: stop at the first bad file without reading the others, or lose a
 * frame between the reader and a worker (a full ring makes the reader wait).
 */
#include <errno.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "otstate.h"
#include "replay.h"
#include "state.h"
#include "stats.h"
#include "worker.h"

#define REPLAY_READ_BUF (1u << 20)

static bool linktype_supported(int lt)
{
	switch (lt) {
	case LT_NULL: case LT_ETHERNET: case LT_RAW: case LT_LOOP: case LT_LINUX_SLL: case LT_IPV4: case LT_IPV6:
	case LT_LINUX_SLL2: case LT_RAW_ALT: case LT_RAW_ALT2:
		return true;
	default:
		return false;
	}
}

struct replay_run {
	const struct replay_opts *o;
	struct worker *workers;
	int nworkers;
	uint64_t files_ok, files_failed;
	struct decode_stats ds;     /* the reader's decoding */
	uint64_t seq;               /* records handed out (the workers' facts merge in this order) */
	_Atomic uint64_t dispatched;
	uint64_t last_ts;
	double pace_wall0;
	uint64_t pace_ts0;
	struct state_thread *st;    /* driven by this thread between frames, unless st->driven is false */
};

static void pace(struct replay_run *rr, uint64_t ts)
{
	if (!rr->pace_ts0) {
		rr->pace_ts0 = ts;
		rr->pace_wall0 = now_s();
		return;
	}
	if (ts <= rr->pace_ts0)
		return;
	double due = rr->pace_wall0 + (double)(ts - rr->pace_ts0) / 1e6;
	double wait = due - now_s();
	if (wait > 0) {
		struct timespec t = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		nanosleep(&t, NULL);
	}
}

/* Room for a frame in w's input ring: a file is read faster than it is dissected, so
 * a full ring is the normal state; while the worker catches up the reader runs the
 * state's steps, or sleeps when there are none (the ring holds about a millisecond of
 * work, so the worker never runs dry). */
static struct brec *reserve(struct replay_run *rr, struct worker *w, uint32_t caplen)
{
	struct brec *rec;
	for (unsigned round = 0; !(rec = bring_reserve(&w->in, caplen)); round++) {
		w->in.full_waits++;
		if (rr->st->driven && state_step(rr->st)) {
			round = 0; /* the state's work, while the worker catches up */
		} else if (round < 16) {
			cpu_relax();
		} else if (rr->st->driven) {
			state_wait(rr->st, 100); /* woken early by a worker that needs the state */
		} else {
			struct timespec t = { 0, 100000 };
			nanosleep(&t, NULL);
		}
	}
	return rec;
}

static void dispatch(struct replay_run *rr, int lt, const struct pcap_pkthdr *h, const uint8_t *data, uint64_t frameno)
{
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	if (rr->o->realtime)
		pace(rr, ts);
	if (ts > rr->last_ts)
		rr->last_ts = ts;
	/* decoding here, in the reader's thread, leaves the workers only the dissecting; it
	 * reads libpcap's copy of the frame, which is in this CPU's cache, and only writes
	 * the ring (a read of a line just written there would wait for the line to come
	 * back from the worker's CPU) */
	struct packet p;
	uint32_t k;
	int rc = worker_predecode(lt, data, h->caplen, h->len, ts, &p, &rr->ds, rr->nworkers, &k);
	struct worker *w = &rr->workers[k];
	struct brec *rec = reserve(rr, w, worker_rec_len(h->caplen));
	worker_rec_fill(rec, lt, data, h->caplen, h->len, ts, frameno, &p, rc);
	rec->seq = ++rr->seq;
	if (rr->nworkers == 1) {
		bring_stage(&w->in, rec); /* the worker sees records a batch at a time */
	} else {
		/* a worker takes `dispatched` for records it has: none may wait unpublished */
		bring_commit(&w->in, rec);
		atomic_store_explicit(&rr->dispatched, rr->seq, memory_order_release);
	}
	if (rr->st->driven && !(rr->seq % STATE_STEP_RECORDS))
		state_step(rr->st); /* when the rings never fill, the state still keeps up */
}

/* Every flow ends with its file (see WORKER_END_OF_FILE). */
static void end_of_file(struct replay_run *rr)
{
	for (int i = 0; i < rr->nworkers; i++) {
		struct worker *w = &rr->workers[i];
		struct brec *rec = reserve(rr, w, 0);
		rec->caplen = rec->wirelen = 0;
		rec->pkt_off = 0;
		rec->seq = rr->seq + 1; /* one record number for all of them */
		rec->linktype = WORKER_END_OF_FILE;
		rec->ts_us = rec->frameno = 0;
		bring_commit(&w->in, rec);
	}
	atomic_store_explicit(&rr->dispatched, ++rr->seq, memory_order_release);
}

/* where reading stands in a file: frames handed out, and the end of the last whole one */
struct file_pos {
	struct replay_run *rr;
	int linktype;
	uint64_t frameno, good_end;
};

/* libpcap's callback (pcap_dispatch hands over frames in batches, cheaper per frame
 * than pcap_next_ex) */
static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct file_pos *pos = (struct file_pos *)user;
	pos->frameno++;
	dispatch(pos->rr, pos->linktype, h, data, pos->frameno);
	pos->good_end += 16 + (uint64_t)h->caplen;
}

static int replay_file(struct replay_run *rr, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		fprintf(stderr, "otsensor: %s: cannot open: %s\n", path, strerror(errno));
		return -2;
	}
	/* reads of a megabyte, not of st_blksize (glibc ignores the size without a buffer) */
	char *iobuf = malloc(REPLAY_READ_BUF);
	if (iobuf)
		setvbuf(fp, iobuf, _IOFBF, REPLAY_READ_BUF);
	/* only this thread reads the stream: libpcap's two freads per frame need not lock it */
	__fsetlocking(fp, FSETLOCKING_BYCALLER);
	/* classic pcap records have a fixed 16-byte header, so the end of the last good record
	 * is counted here rather than asked of the stream per packet (ftell is a system call) */
	uint8_t magic[4] = { 0 };
	bool pcapng = fread(magic, 1, 4, fp) == 4 && magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d &&
		      magic[3] == 0x0a;
	rewind(fp);
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (!p) {
		fprintf(stderr, "otsensor: %s: not a readable pcap or pcapng file: %s\n", path, errbuf);
		fclose(fp);
		free(iobuf);
		return -2;
	}
	int lt = pcap_datalink(p);
	if (!linktype_supported(lt)) {
		fprintf(stderr, "otsensor: %s: link type %d (%s) is not supported\n", path, lt,
			pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "unknown");
		pcap_close(p);
		free(iobuf);
		return -1; /* a real capture, of a link we do not decode: not the user's mistake */
	}
	struct file_pos pos = { rr, lt, 0, 24 }; /* classic pcap: the file header */
	int rc;
	while ((rc = pcap_dispatch(p, 4096, on_frame, (u_char *)&pos)) > 0)
		;
	uint64_t frameno = pos.frameno, good_end = pos.good_end;
	int status = 0;
	if (rc == PCAP_ERROR) {
		if (pcapng) /* blocks vary in size: where the stream stood when reading failed */
			good_end = (uint64_t)ftell(fp);
		fprintf(stderr, "otsensor: %s: stopped reading after frame %llu, at byte %llu: %s\n", path,
			(unsigned long long)frameno, (unsigned long long)good_end, pcap_geterr(p));
		status = -1;
	}
	pcap_close(p); /* closes fp */
	free(iobuf);
	end_of_file(rr);
	return status;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void human_summary(const struct replay_run *rr, const struct state_thread *st, const struct ots_state *ots,
			  double elapsed, double reader_cpu)
{
	uint64_t pkts = 0, bytes = 0, flows = 0, evicted = 0, peak = 0, first = 0, last = 0, viol = 0;
	uint64_t gaps = 0, retrans = 0, ooo = 0, frags = 0;
	for (int i = 0; i < rr->nworkers; i++) {
		const struct worker *w = &rr->workers[i];
		pkts += w->st.packets;
		bytes += w->st.bytes;
		flows += w->ft.st.created;
		evicted += w->ft.st.evicted;
		peak += w->ft.st.active_peak;
		viol += w->st.violations;
		gaps += w->ft.st.tcp_gaps;
		retrans += w->ft.st.tcp_retrans;
		ooo += w->ft.st.tcp_ooo;
		frags += w->frag.st.reassembled;
		if (w->st.first_ts && (!first || w->st.first_ts < first))
			first = w->st.first_ts;
		if (w->st.last_ts > last)
			last = w->st.last_ts;
	}
	printf("otsensor replay: %llu files read, %llu failed\n", (unsigned long long)rr->files_ok,
	       (unsigned long long)rr->files_failed);
	printf("  packets      %llu (%.1f MB), capture span %.1f s\n", (unsigned long long)pkts, (double)bytes / 1e6,
	       last > first ? (double)(last - first) / 1e6 : 0.0);
	printf("  flows        %llu (peak active %llu, evicted %llu)\n", (unsigned long long)flows,
	       (unsigned long long)peak, (unsigned long long)evicted);
	printf("  tcp          %llu retransmitted, %llu out of order, %llu gaps; %llu IP datagrams reassembled\n",
	       (unsigned long long)retrans, (unsigned long long)ooo, (unsigned long long)gaps,
	       (unsigned long long)frags);
	printf("  PDUs        ");
	/* merge per-worker counters by name */
	const char *names[PROTO_COUNTERS * 2];
	uint64_t counts[PROTO_COUNTERS * 2];
	int n = 0;
	for (int i = 0; i < rr->nworkers; i++) {
		const struct worker *w = &rr->workers[i];
		for (int k = 0; k < w->nprotos; k++) {
			int j;
			for (j = 0; j < n; j++)
				if (!strcmp(names[j], w->protos[k].name))
					break;
			if (j == n) {
				if (n >= PROTO_COUNTERS * 2)
					continue;
				names[n] = w->protos[k].name;
				counts[n++] = 0;
			}
			counts[j] += w->protos[k].pdus;
		}
	}
	if (!n)
		printf(" none");
	for (int j = 0; j < n; j++)
		printf(" %s %llu%s", names[j], (unsigned long long)counts[j], j + 1 < n ? "," : "");
	printf("\n");
	printf("  facts        %llu (identity %llu, operation %llu, violation %llu, event %llu, contact %llu)\n",
	       (unsigned long long)st->facts, (unsigned long long)st->by_type[FACT_IDENTITY],
	       (unsigned long long)st->by_type[FACT_OPERATION], (unsigned long long)st->by_type[FACT_VIOLATION],
	       (unsigned long long)st->by_type[FACT_EVENT], (unsigned long long)st->by_type[FACT_CONTACT]);
	(void)viol;
	ots_state_summary(ots, stdout);
	printf("  processing   %.3f s with %d worker%s, %.0f packets/s\n", elapsed, rr->nworkers,
	       rr->nworkers == 1 ? "" : "s", elapsed > 0 ? (double)pkts / elapsed : 0.0);
	printf("  cpu          reader %.3f s%s, worker%s", reader_cpu, st->driven ? " (with the state)" : "",
	       rr->nworkers == 1 ? "" : "s");
	for (int i = 0; i < rr->nworkers; i++)
		printf(" %.3f s%s", rr->workers[i].cpu_s, i + 1 < rr->nworkers ? " +" : st->driven ? "\n" : ",");
	if (!st->driven)
		printf(" state %.3f s\n", st->cpu_s);
	uint64_t fact_waits = 0, full_waits = 0;
	for (int i = 0; i < rr->nworkers; i++) {
		fact_waits += rr->workers[i].st.fact_waits;
		full_waits += rr->workers[i].in.full_waits;
	}
	printf("  waits        reader %llu (a worker's ring full), worker%s %llu (the state thread behind)\n",
	       (unsigned long long)full_waits, rr->nworkers == 1 ? "" : "s", (unsigned long long)fact_waits);
}

static void stats_record(const struct replay_run *rr, const struct state_thread *st, double elapsed)
{
	/* the fields run and replay share are built in stats.c */
	struct stats_in in = { rr->last_ts, rr->workers, rr->nworkers, NULL, st->facts };
	json_object *o, *pk = NULL;
	if (stats_record_new(&in, &o)) {
		fprintf(stderr, "otsensor: out of memory for the stats record\n");
		return;
	}
	int64_t pkts = json_object_object_get_ex(o, "packets", &pk) ? json_object_get_int64(pk) : 0;
	json_object_object_add(o, "files", json_object_new_int64((int64_t)rr->files_ok));
	json_object_object_add(o, "files_failed", json_object_new_int64((int64_t)rr->files_failed));
	json_object_object_add(o, "elapsed_s", json_object_new_double(elapsed));
	json_object_object_add(o, "packets_per_s", json_object_new_double(elapsed > 0 ? (double)pkts / elapsed : 0));
	if (stats_write(o))
		fprintf(stderr, "otsensor: out of memory for the stats record\n");
}

/* Each worker on a CPU of its own, the reader (this thread) and the state thread on
 * another, when there are enough ([sensor] pin_cpus); a refusal is only reported. */
static void pin_threads(const struct config *cfg, const struct replay_run *rr, struct state_thread *st)
{
	struct affinity_plan plan;
	if (!cfg->sensor.pin_cpus || affinity_plan(rr->nworkers, &plan))
		return;
	int rc = affinity_pin(pthread_self(), plan.control_cpu);
	if (!rc && !st->driven)
		rc = affinity_pin(st->thread, plan.control_cpu);
	for (int i = 0; !rc && i < rr->nworkers; i++)
		rc = affinity_pin(rr->workers[i].thread, plan.worker_cpu[i]);
	if (rc)
		fprintf(stderr, "otsensor: cannot pin threads to CPUs (%s); they run where the kernel puts them\n",
			strerror(rc));
	else if (!st->driven)
		state_share_cpu(st);
}

int replay_main(const struct replay_opts *o, const struct config *cfg)
{
	registry_init();
	int n = o->workers > 0 ? o->workers : cfg->sensor.workers;
	if (n < 1)
		n = 1;
	struct replay_run rr = { .o = o, .nworkers = n };
	rr.workers = calloc((size_t)n, sizeof *rr.workers);
	if (!rr.workers) {
		fprintf(stderr, "otsensor: out of memory\n");
		return 1;
	}
	/* the state directory: given, configured, or a temporary one removed at exit */
	char tmpdir[] = "/tmp/otsensor-replay-XXXXXX";
	const char *state_dir = o->state_dir ? o->state_dir : cfg->sensor.state_dir[0] ? cfg->sensor.state_dir : NULL;
	bool tmp_state = false;
	if (!state_dir) {
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, "otsensor: cannot create a temporary state directory: %s\n", strerror(errno));
			free(rr.workers);
			return 1;
		}
		state_dir = tmpdir;
		tmp_state = true;
	} else if (mkdir(state_dir, 0750) && errno != EEXIST) {
		fprintf(stderr, "otsensor: state directory %s: %s\n", state_dir, strerror(errno));
		free(rr.workers);
		return 1;
	}
	int status = 0;
	int inited = 0;
	struct ots_state *ots = NULL;
	unsigned drain_s = 0; /* the uplink (started by the state) drains only after a full replay */
	{
		char err[1024];
		if (ots_state_open(&ots, state_dir, cfg, o->learning, err, sizeof err)) {
			fprintf(stderr, "otsensor: %s\n", err);
			status = 2;
			goto out;
		}
		if (tmp_state)
			ots_state_set_ephemeral(ots);
	}
	for (int i = 0; i < n; i++, inited++) {
		if (worker_init(&rr.workers[i], i, cfg, o->emit, WORKER_REPLAY)) {
			fprintf(stderr, "otsensor: cannot allocate worker %d (flow table of %u flows, %u stream buffers)\n",
				i, cfg->sensor.max_flows, cfg->sensor.stream_buffers);
			status = 1;
			goto out;
		}
	}
	struct state_thread *st = calloc(1, sizeof *st);
	ots_state_set_workers(ots, rr.workers, n);
	struct state_sink sink = { ots, ots_state_apply_batch, ots_state_commit };
	for (int i = 0; i < n; i++) {
		rr.workers[i].sync_events = true;
		if (n > 1)
			rr.workers[i].dispatched = &rr.dispatched;
	}
	/* the reader drives the state itself, except when it paces (--realtime): it then
	 * sleeps between frames, and alerts would wait for it */
	if (!st || (o->realtime ? state_start(st, rr.workers, n, o->emit, &sink)
				: state_attach(st, rr.workers, n, o->emit, &sink))) {
		fprintf(stderr, "otsensor: cannot start the state thread\n");
		free(st);
		status = 1;
		goto out;
	}
	rr.st = st;
	for (int i = 0; i < n; i++)
		worker_start(&rr.workers[i], 0);
	pin_threads(cfg, &rr, st);
	/* with fewer CPUs than threads, the state thread's spinning would take the time of
	 * the reader or a worker: it sleeps as soon as it has caught up */
	if (!st->driven && affinity_allowed_cpus() < n + 2)
		state_share_cpu(st);
	double t0 = now_s(), cpu0 = thread_cpu_s();
	for (int i = 0; i < o->nfiles; i++) {
		int rc = replay_file(&rr, o->files[i]);
		if (rc) {
			/* a file that is not a capture is the user's error (2); one that breaks off is 1 */
			rr.files_failed++;
			if (rc == -2)
				status = 2;
			else if (status == 0)
				status = 1;
		} else {
			rr.files_ok++;
		}
	}
	if (st->driven) {
		for (int i = 0; i < n; i++)
			worker_input_done(&rr.workers[i]);
		state_detach(st); /* until the workers are done */
	}
	double reader_cpu = thread_cpu_s() - cpu0;
	for (int i = 0; i < n; i++)
		worker_join(&rr.workers[i]);
	if (!st->driven)
		state_stop(st);
	drain_s = cfg->uplink.drain_timeout;
	ots_state_finish(ots); /* evidence requests the workers had no packet left to answer */
	if (st->sink_errors)
		status = 1;
	double elapsed = now_s() - t0;
	ots_state_print(ots, o->emit);
	if (o->emit & EMIT_STATS)
		stats_record(&rr, st, elapsed);
	if (!o->emit)
		human_summary(&rr, st, ots, elapsed, reader_cpu);
	free(st);
out:
	ots_state_close(ots, drain_s);
	for (int i = 0; i < inited; i++)
		worker_free(&rr.workers[i]);
	free(rr.workers);
	if (tmp_state)
		nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	fflush(stdout);
	return status;
}
