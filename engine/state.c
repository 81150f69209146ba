/*
 * state.c - the state thread loop: drain fact rings, emit records, feed the sink.
 *
 * Must never: drop a fact; it drains every ring before it stops.
 */
#include <string.h>
#include <time.h>

#include "ring.h"
#include "state.h"
#include "worker.h"

static size_t drain_once(struct state_thread *s)
{
	size_t total = 0;
	for (int i = 0; i < s->nworkers; i++) {
		size_t n = spsc_pop_many(&s->workers[i].facts, s->batch, STATE_BATCH);
		if (!n)
			continue;
		total += n;
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
		/* tells a worker waiting on an event that its consequences (alerts, evidence
		 * requests) are in place */
		atomic_fetch_add_explicit(&s->workers[i].facts_applied, n, memory_order_release);
	}
	return total;
}

static void *state_main(void *arg)
{
	struct state_thread *s = arg;
	unsigned idle = 0;
	for (;;) {
		bool stopping = atomic_load(&s->stop);
		size_t n = drain_once(s);
		if (n) {
			idle = 0;
			continue;
		}
		if (stopping)
			break;
		/* a worker may be waiting for us (replay keeps us close behind): look again at
		 * once for a while before sleeping */
		if (++idle < 2000) {
			cpu_relax();
			continue;
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	outbuf_flush(&s->out);
	return NULL;
}

int state_start(struct state_thread *s, struct worker *workers, int n, unsigned emit, const struct state_sink *sink)
{
	memset(s, 0, sizeof *s);
	s->workers = workers;
	s->nworkers = n;
	s->emit = emit;
	if (sink)
		s->sink = *sink;
	if (outbuf_init(&s->out, 1u << 18))
		return -1;
	if (pthread_create(&s->thread, NULL, state_main, s)) {
		outbuf_free(&s->out);
		return -1;
	}
	return 0;
}

void state_stop(struct state_thread *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	outbuf_free(&s->out);
}
