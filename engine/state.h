/*
 * state.h - the state thread: the single consumer of every worker's facts (in replay
 * without --realtime, not a thread of its own: the reader runs its steps).
 *
 * It drains the workers' fact rings in batches and hands each batch to the sink (the
 * inventory/baseline/alert engines, which apply a batch in one LMDB write
 * transaction), and writes `fact` records when asked. It is the only writer of
 * sensor state.
 *
 * Must never: block a worker other than by letting its ring fill, or reorder the
 * facts of one worker.
 */
#ifndef OTS_STATE_H
#define OTS_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "emit.h"
#include "fact.h"
#include "wake.h"

struct worker;

#define STATE_BATCH 512
#define STATE_SPINS 256      /* empty looks before sleeping */
#define STATE_SLEEP_US 1000  /* longest sleep: a worker that needs us wakes us sooner */
#define STATE_ORDER_WAIT_US 50 /* ordered merge: facts wait for another worker */
#define STATE_STEP_RECORDS 256 /* driven: records the reader hands out between steps */

struct state_sink {
	void *ctx;
	/* applies n facts, possibly leaving them in an open transaction; returns 0 or -1
	 * on a storage error */
	int (*apply)(void *ctx, const struct fact *facts, size_t n);
	/* commits what apply left open (may be NULL): called whenever the thread has
	 * caught up with the workers, and before it stops */
	int (*commit)(void *ctx);
};

struct state_thread {
	pthread_t thread;
	struct worker *workers;
	int nworkers;
	_Atomic bool stop;
	unsigned emit;
	struct outbuf out;
	struct state_sink sink;
	struct wake wake;           /* workers wake the thread when they wait for it */
	bool ordered;               /* merge the workers' facts in record order (replay, n > 1) */
	uint64_t facts, by_type[8], batches, sink_errors;
	double cpu_s;               /* CPU time the thread used, set when it ends */
	_Atomic unsigned spins;     /* empty looks before sleeping: STATE_SPINS, or 0 on a CPU it
	                             * shares with the reader (state_share_cpu) */
	/* SIGHUP: a request handed over by one other thread (run's main thread) with
	 * state_reload and applied between batches; reload_done is the last one applied */
	int (*reload_fn)(void *ctx, void *arg);
	_Atomic(void *) reload_req;
	_Atomic(void *) reload_done;
	bool driven;                /* no thread: replay's reader calls state_step */
	bool uncommitted;           /* driven: facts applied since the last commit */
	double last_apply;          /* driven: when it last applied any (monotonic seconds) */
	struct fact batch[STATE_BATCH];
};

int state_start(struct state_thread *s, struct worker *workers, int n, unsigned emit, const struct state_sink *sink);
/* Drains every ring to empty, then stops the thread. Call after the workers finished. */
void state_stop(struct state_thread *s);
/* Has the state thread call fn(sink ctx, arg) between two batches (before it stops, at
 * the latest): how a new configuration reaches the sink without a lock. Returns at
 * once: 0, or -1 while an earlier request is still waiting. arg must stay valid until
 * state_reload_applied(s, arg). Only one thread may hand requests over. */
int state_reload(struct state_thread *s, int (*fn)(void *ctx, void *arg), void *arg);
/* true once the state thread has applied arg (what it replaced is no longer in use) */
bool state_reload_applied(struct state_thread *s, const void *arg);
/* Without a thread (replay, not --realtime): the reader drives the state between its
 * frames, and waits for it no longer: two busy threads on two CPUs, not three, so no
 * wake-up of the state thread preempts a worker. A worker that has to wait for the
 * state wakes the reader if it sleeps in state_wait. */
int state_attach(struct state_thread *s, struct worker *workers, int n, unsigned emit, const struct state_sink *sink);
/* One batch from the rings (a commit once caught up for STATE_SLEEP_US): how many facts
 * it applied. */
size_t state_step(struct state_thread *s);
/* Driven, with nothing else to do (its worker's ring full): a step, or a sleep of at
 * most timeout_us that a worker waiting for the state cuts short. */
void state_wait(struct state_thread *s, long timeout_us);
/* Drains until every worker has finished and its ring is empty, then commits. Call
 * before joining the workers. */
void state_detach(struct state_thread *s);
/* The thread now shares its CPU with a busy thread (replay's reader): looking again
 * while caught up would only take the CPU from it, so it sleeps at once. */
void state_share_cpu(struct state_thread *s);

#endif
