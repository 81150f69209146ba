/*
 * worker.h - one packet-processing worker: decode, flows, reassembly, dissectors.
 *
 * A worker owns everything it touches per packet (flow table, stream pool, fragment
 * table, fact cache, output buffer) and shares nothing with other workers. Its only
 * links to the rest of the process are its input ring (when it runs in its own
 * thread) and its fact ring to the state thread.
 *
 * Must never: allocate, lock or make a system call per packet (output for --emit is
 * buffered and written in large chunks), or see a packet of a flow another worker owns.
 */
#ifndef OTS_WORKER_H
#define OTS_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "decode.h"
#include "emit.h"
#include "evidence.h"
#include "flow.h"
#include "ipfrag.h"
#include "ring.h"
#include "stream.h"
#include "wake.h"

#define WORKER_MAX 64
/* The repeat cache: a fact is dropped as a repeat of itself; only a full set (more than
 * FACT_CACHE_WAYS different facts of one set within the TTL) forgets one early, and
 * then what is sent depends on which flows share the worker. 2048 sets of 8 make that
 * about a millionth as likely as a set of 1 being taken, for 2000 different facts a
 * minute (a Poisson load of one per set). */
#define FACT_CACHE_SIZE 16384    /* entries, in sets of FACT_CACHE_WAYS */
#define FACT_CACHE_WAYS 8
#define FACT_CACHE_TTL_US (60ull * 1000000)
#define PROTO_COUNTERS 64
#define PEND_FACTS 16               /* facts one PDU may hold back to order them */
#define FACT_LAG_PACKETS (EVR_SLOTS * 3 / 8) /* replay: packets a worker may run ahead of an
				     * unapplied fact (twice that is still inside the evidence ring) */

struct proto_count {
	const char *name;
	uint64_t pdus;
};

struct fact_cache_entry {
	uint64_t hash;
	uint64_t ts;
};

struct worker_stats {
	uint64_t packets, bytes, decode_errors, l2_frames, fragments;
	uint64_t facts, facts_cached, violations, fact_waits;
	uint64_t first_ts, last_ts;
};

/* Monotonic wall time in seconds (rates, pacing, the state's commit timing). */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time the calling thread has used so far, in seconds (how the pipeline's load
 * splits between reader, workers and state thread: the replay summary prints it) */
static inline double thread_cpu_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
	int id;
	unsigned emit;
	struct flow_table ft;
	struct stream_pool sp;
	struct ipfrag frag;
	struct decode_stats ds;
	struct worker_stats st;
	struct proto_count protos[PROTO_COUNTERS];
	int nprotos;
	int last_proto;             /* the counter count_pdu found last */
	struct fact_cache_entry *fcache;
	const char *hashed_proto;   /* fact_hash's last protocol name, and its hash */
	uint64_t hashed_proto_h;
	struct fact pend[PEND_FACTS];   /* the facts of the PDU being parsed */
	int npend;
	bool in_parse;
	struct spsc facts;          /* to the state thread */
	_Atomic uint64_t facts_applied; /* how many of them the state thread has applied */
	bool sync_events;           /* replay with a state: keep the state thread close behind (see
	                             * push_fact), so evidence is asked for while its packets are here */
	struct wake *state_wake;    /* wakes the state thread, or the replay reader driving the state */
	bool state_polls;           /* the state looks at least every STATE_SLEEP_US by itself (the
	                             * driving reader): a deadline need not wake it */
	uint64_t lag_deadline;      /* packet count by which facts up to lag_target must be applied */
	uint64_t lag_target;
	struct outbuf out;
	struct evring ev;           /* recent frames for alert evidence (alerts/evidence.h) */
	uint32_t cur_flow_id;       /* flow of the packet in progress, 0 if none */
	uint64_t cur_seq;           /* input record in progress (replay: stamps its facts) */
	double cpu_s;               /* CPU time the thread used, set when it ends */
	/* replay with several workers: every record up to this one is processed and its
	 * facts pushed (the state thread merges the workers' facts in record order) */
	_Alignas(64) _Atomic uint64_t watermark;
	_Atomic uint64_t *dispatched; /* the reader's last record handed to any worker */
	/* when running as a thread */
	struct bring in;
	pthread_t thread;
	bool threaded;
	_Atomic bool input_done;
	/* tests: receives every finished PDU record instead of the JSON output */
	void (*pdu_hook)(void *hook_ctx, const struct dctx *ctx);
	void *hook_ctx;
	/* the packet in progress, its flow and direction, and the segment whose bytes are
	 * being framed (differs from the packet for held-back segments) */
	struct flow *cur_flow;
	int cur_dir;
	uint64_t bytes_frame, bytes_ts;
	const struct packet *cur;
	struct dctx dc;
};

/* How a worker is fed, which sizes its rings. Replay: a reader that waits when the
 * input ring is full (4 MiB: as fast as 2 when the two threads' CPUs share a cache,
 * and a quarter faster when the host puts them where a line takes 4x as long to pass
 * from one to the other). Live: a capture
 * thread that cannot wait hands frames over a deep input ring (ring), or the worker
 * reads its own queue (queue); either way a deep fact ring absorbs a burst while the
 * state thread catches up. Inline: the caller hands it frames (tests). */
enum worker_mode { WORKER_INLINE, WORKER_REPLAY, WORKER_LIVE_RING, WORKER_LIVE_QUEUE };

int worker_init(struct worker *w, int id, const struct config *cfg, unsigned emit, enum worker_mode mode);
void worker_free(struct worker *w);

/* Processes one captured frame (inline, in the caller's thread). */
void worker_packet(struct worker *w, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		   uint64_t ts_us, uint64_t frameno);
/* The same for a frame decoded already (p and its pointers into frame; rc is what
 * decode_frame returned): the capture thread decodes, so a worker fed by a ring only
 * dissects. */
void worker_decoded(struct worker *w, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		    uint64_t ts_us, uint64_t frameno, struct packet *p, int rc);

/* The capture thread's half (replay, and run's software split): decodes a frame into
 * *p, returns decode_frame's status and sets *k to the worker of n that owns it. */
int worker_predecode(int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint64_t ts_us,
		     struct packet *p, struct decode_stats *ds, int n, uint32_t *k);
/* Bytes of data[] a record carrying the frame and its decoding needs. */
uint32_t worker_rec_len(uint32_t caplen);
/* Fills a record reserved with worker_rec_len(caplen): the frame, and p with its
 * pointers moved onto the copy. */
void worker_rec_fill(struct brec *rec, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		     uint64_t ts_us, uint64_t frameno, const struct packet *p, int rc);

/* End of one capture file: every flow ends (what waits is delivered), so the next file
 * starts clean whichever worker sees it. Threaded workers get it as a ring record
 * with this link type. */
#define WORKER_END_OF_FILE (-1)
void worker_flush_flows(struct worker *w);

/* End of input: flushes every flow (delivering what waits), and the output buffer. */
void worker_finish(struct worker *w);

/* Threaded mode: start the worker loop on its input ring; worker_join waits for it to
 * drain the ring after input_done was set. */
int worker_start(struct worker *w, int linktype);
/* Names a worker's thread "ots-workerN" (top -H, ps -L, perf). */
void worker_name_thread(pthread_t t, int id);
/* Tells the worker no more input comes: it finishes what its ring holds, then ends. */
void worker_input_done(struct worker *w);
void worker_join(struct worker *w);

/* Symmetric hash that picks the worker of a frame (both directions, and every
 * fragment of a datagram, land on the same worker). */
uint32_t worker_pick_hash(int linktype, const uint8_t *frame, uint32_t caplen);
uint32_t worker_pick_hash_packet(const struct packet *p);

#endif
