/*
 * state.c - the state thread loop: drain fact rings, emit records, feed the sink, and
 * run a reload handed over by state_reload between two batches (SIGHUP). Replay drives
 * the same steps from its reader instead, without a thread (state_attach).
 *
 * Must never: drop a fact; it drains every ring before it stops.
 */
#include <string.h>
#include <time.h>

#include "ring.h"
#include "state.h"
#include "worker.h"

static void apply_batch(struct state_thread *s, size_t n)
{
	s->facts += n;
	s->batches++;
	for (size_t k = 0; k < n; k++) {
		const struct fact *f = &s->batch[k];
		if (f->type < 8)
			s->by_type[f->type]++;
		if (s->emit & EMIT_FACTS)
			outbuf_put(&s->out, fact_to_json(f));
	}
	if (s->sink.apply && s->sink.apply(s->sink.ctx, s->batch, n) < 0)
		s->sink_errors++;
}

/* Whether worker j can no longer produce a fact that belongs before `seq` (of worker
 * m's fact): it is past that record, or its next fact comes later. The watermark is
 * read before the ring, so facts pushed before it moved are seen. */
static bool behind_us(struct state_thread *s, int j, uint64_t taken, uint64_t seq, int m)
{
	if (atomic_load_explicit(&s->workers[j].watermark, memory_order_acquire) >= seq)
		return true;
	const struct fact *g = spsc_peek(&s->workers[j].facts, taken);
	return g && (g->seq > seq || (g->seq == seq && j > m));
}

/* Replay with several workers: facts leave in input-record order across workers
 * (ties, from end-of-file records every worker gets: the lower worker first), and a
 * fact leaves only once no other worker can still produce an earlier one. The engines
 * then see what one worker would have given them, whatever the threads' timing. */
static size_t drain_ordered(struct state_thread *s)
{
	uint64_t taken[WORKER_MAX] = { 0 };
	size_t n = 0;
	while (n < STATE_BATCH) {
		int m = -1;
		const struct fact *best = NULL;
		for (int i = 0; i < s->nworkers; i++) {
			const struct fact *f = spsc_peek(&s->workers[i].facts, taken[i]);
			if (f && (!best || f->seq < best->seq)) {
				best = f;
				m = i;
			}
		}
		if (!best)
			break;
		bool ready = true;
		for (int j = 0; j < s->nworkers && ready; j++)
			if (j != m && !behind_us(s, j, taken[j], best->seq, m))
				ready = false;
		if (!ready)
			break;
		s->batch[n++] = *best;
		taken[m]++;
	}
	if (!n)
		return 0;
	for (int i = 0; i < s->nworkers; i++)
		spsc_drop(&s->workers[i].facts, taken[i]);
	apply_batch(s, n);
	for (int i = 0; i < s->nworkers; i++)
		if (taken[i])
			atomic_fetch_add_explicit(&s->workers[i].facts_applied, taken[i], memory_order_release);
	return n;
}

static size_t drain_once(struct state_thread *s)
{
	if (s->ordered)
		return drain_ordered(s);
	size_t total = 0;
	for (int i = 0; i < s->nworkers; i++) {
		size_t n = spsc_pop_many(&s->workers[i].facts, s->batch, STATE_BATCH);
		if (!n)
			continue;
		total += n;
		apply_batch(s, n);
		/* tells a worker waiting on an event that its consequences (alerts, evidence
		 * requests) are in place */
		atomic_fetch_add_explicit(&s->workers[i].facts_applied, n, memory_order_release);
	}
	return total;
}

static bool rings_empty(struct state_thread *s)
{
	for (int i = 0; i < s->nworkers; i++)
		if (!spsc_empty(&s->workers[i].facts))
			return false;
	return true;
}

static void commit(struct state_thread *s)
{
	if (s->sink.commit && s->sink.commit(s->sink.ctx) < 0)
		s->sink_errors++;
}

/* between batches: a configuration handed over by state_reload */
static void take_reload(struct state_thread *s)
{
	void *req = atomic_load_explicit(&s->reload_req, memory_order_acquire);
	if (!req)
		return;
	s->reload_fn(s->sink.ctx, req); /* the request itself carries the outcome */
	atomic_store_explicit(&s->reload_req, NULL, memory_order_release);
	atomic_store_explicit(&s->reload_done, req, memory_order_release);
}

/* Drains while there is work; caught up, it looks again for s->spins rounds (a
 * replaying worker may be about to wait for it), then sleeps until a worker wakes it
 * or STATE_SLEEP_US pass. The sink's open transaction is committed after a sleep that
 * brought nothing new (the sink also commits by itself when it grows old), so under
 * load many batches share one commit and when idle nothing waits long. */
static void *state_main(void *arg)
{
	struct state_thread *s = arg;
	unsigned idle = 0;
	bool slept_empty = false;
	for (;;) {
		take_reload(s);
		bool stopping = atomic_load(&s->stop);
		if (drain_once(s)) {
			idle = 0;
			slept_empty = false;
			continue;
		}
		if (stopping) {
			commit(s);
			break;
		}
		if (++idle < atomic_load_explicit(&s->spins, memory_order_relaxed)) {
			cpu_relax();
			continue;
		}
		if (slept_empty)
			commit(s);
		uint32_t ticket = wake_prepare(&s->wake);
		bool waiting = !rings_empty(s);
		/* ordered: facts may wait for another worker to move on, which it does without
		 * telling us; look again soon, and commit only after a really empty sleep */
		if ((waiting && !s->ordered) || atomic_load(&s->stop)) {
			wake_cancel(&s->wake);
			continue;
		}
		wake_sleep(&s->wake, ticket, waiting ? STATE_ORDER_WAIT_US : STATE_SLEEP_US);
		slept_empty = !waiting;
	}
	take_reload(s); /* one handed over just before the stop */
	outbuf_flush(&s->out);
	s->cpu_s = thread_cpu_s();
	return NULL;
}

void state_share_cpu(struct state_thread *s)
{
	atomic_store_explicit(&s->spins, 0, memory_order_relaxed);
}

static int state_init(struct state_thread *s, struct worker *workers, int n, unsigned emit,
		      const struct state_sink *sink, bool driven)
{
	memset(s, 0, sizeof *s);
	s->workers = workers;
	s->nworkers = n;
	s->emit = emit;
	if (sink)
		s->sink = *sink;
	for (int i = 0; i < n; i++) {
		workers[i].state_wake = &s->wake; /* the thread, or the reader asleep in state_wait */
		workers[i].state_polls = driven;
	}
	/* replay's reader numbers the records it hands out (see worker.h) */
	s->ordered = n > 1 && workers[0].dispatched;
	atomic_init(&s->spins, STATE_SPINS);
	return outbuf_init(&s->out, 1u << 18);
}

int state_start(struct state_thread *s, struct worker *workers, int n, unsigned emit, const struct state_sink *sink)
{
	if (state_init(s, workers, n, emit, sink, false))
		return -1;
	if (pthread_create(&s->thread, NULL, state_main, s)) {
		outbuf_free(&s->out);
		return -1;
	}
	pthread_setname_np(s->thread, "ots-state");
	return 0;
}

int state_attach(struct state_thread *s, struct worker *workers, int n, unsigned emit, const struct state_sink *sink)
{
	if (state_init(s, workers, n, emit, sink, true))
		return -1;
	s->driven = true;
	return 0;
}

size_t state_step(struct state_thread *s)
{
	size_t n = drain_once(s);
	if (n) {
		s->uncommitted = true;
		s->last_apply = now_s();
	} else if (s->uncommitted && now_s() - s->last_apply >= STATE_SLEEP_US / 1e6) {
		commit(s); /* caught up a while: as the thread does after an empty sleep */
		s->uncommitted = false;
	}
	return n;
}

void state_wait(struct state_thread *s, long timeout_us)
{
	uint32_t ticket = wake_prepare(&s->wake);
	if (state_step(s)) { /* a worker's facts came in meanwhile: it may be waiting on them */
		wake_cancel(&s->wake);
		return;
	}
	wake_sleep(&s->wake, ticket, timeout_us);
}

void state_detach(struct state_thread *s)
{
	for (;;) {
		/* read before the rings: facts a worker pushed before it finished are seen */
		bool finished = true;
		for (int i = 0; i < s->nworkers; i++)
			if (atomic_load_explicit(&s->workers[i].watermark, memory_order_acquire) != UINT64_MAX)
				finished = false;
		if (drain_once(s))
			continue;
		if (finished && rings_empty(s))
			break;
		struct timespec t = { 0, 20000 };
		nanosleep(&t, NULL); /* a worker still busy with what it holds */
	}
	commit(s);
	outbuf_flush(&s->out);
	outbuf_free(&s->out);
}

int state_reload(struct state_thread *s, int (*fn)(void *ctx, void *arg), void *arg)
{
	if (!fn || !arg || atomic_load_explicit(&s->reload_req, memory_order_acquire))
		return -1;
	s->reload_fn = fn; /* published by the release store below */
	atomic_store_explicit(&s->reload_done, NULL, memory_order_relaxed);
	atomic_store_explicit(&s->reload_req, arg, memory_order_release);
	wake_if_sleeping(&s->wake);
	return 0;
}

bool state_reload_applied(struct state_thread *s, const void *arg)
{
	return atomic_load_explicit(&s->reload_done, memory_order_acquire) == arg;
}

void state_stop(struct state_thread *s)
{
	atomic_store(&s->stop, true);
	wake_if_sleeping(&s->wake);
	pthread_join(s->thread, NULL);
	outbuf_free(&s->out);
}
