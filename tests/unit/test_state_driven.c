/*
 * test_state_driven.c - the state without a thread of its own (replay's reader drives
 * it): state_step applies what the workers' rings hold, in each worker's order and, with
 * several workers handing out numbered records, in record order across them; it
 * commits once caught up for STATE_SLEEP_US; state_wait steps when facts wait and
 * otherwise sleeps until a worker that needs the state wakes it (not a deadline); and
 * state_detach returns only when every worker has finished and its last facts are
 * applied and committed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "state.h"
#include "worker.h"

static uint64_t got[64];
static size_t ngot;
static int commits;

static int sink_apply(void *ctx, const struct fact *facts, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n && ngot < 64; i++)
		got[ngot++] = facts[i].seq;
	return 0;
}

static int sink_commit(void *ctx)
{
	(void)ctx;
	commits++;
	return 0;
}

static void push(struct worker *w, uint64_t seq)
{
	struct fact f;
	memset(&f, 0, sizeof f);
	f.type = FACT_CONTACT;
	f.proto = "test";
	f.seq = seq;
	CHECK(spsc_try_push(&w->facts, &f));
}

static void sleep_us(long us)
{
	struct timespec t = { 0, us * 1000 };
	nanosleep(&t, NULL);
}

/* a worker that has to wait for the state: wakes the reader once it sleeps */
static void *waiting_worker(void *arg)
{
	struct state_thread *s = arg;
	while (!atomic_load(&s->wake.sleeping))
		sleep_us(100);
	sleep_us(1000);
	wake_if_sleeping(s->workers[0].state_wake);
	return NULL;
}

/* a worker finishing late: its last fact, then the mark that it is done */
static void *late_worker(void *arg)
{
	struct worker *w = arg;
	sleep_us(5000);
	push(w, 99);
	atomic_store_explicit(&w->watermark, UINT64_MAX, memory_order_release);
	return NULL;
}

static struct worker *workers_new(int n)
{
	struct worker *w = calloc((size_t)n, sizeof *w);
	for (int i = 0; i < n; i++)
		CHECK_EQ(spsc_init(&w[i].facts, sizeof(struct fact), 64), 0);
	return w;
}

/* a state driven by this test for the n workers, the sink's record emptied */
static struct state_thread *attached(struct worker *w, int n)
{
	static const struct state_sink sink = { NULL, sink_apply, sink_commit };
	struct state_thread *s = calloc(1, sizeof *s);
	ngot = 0;
	commits = 0;
	CHECK_EQ(state_attach(s, w, n, 0, &sink), 0);
	return s;
}

static void workers_free(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		spsc_free(&w[i].facts);
	free(w);
}

static void one_worker(void)
{
	struct worker *w = workers_new(1);
	struct state_thread *s = attached(w, 1);
	CHECK(s->driven);
	CHECK(w[0].state_wake == &s->wake); /* the reader, when it sleeps in state_wait */
	CHECK(w[0].state_polls);            /* a deadline need not wake it */

	CHECK_EQ(state_step(s), 0);
	push(&w[0], 1);
	push(&w[0], 2);
	push(&w[0], 3);
	CHECK_EQ(state_step(s), 3);
	CHECK_EQ(ngot, 3);
	CHECK_EQ(got[0], 1);
	CHECK_EQ(got[2], 3);
	CHECK_EQ(atomic_load(&w[0].facts_applied), 3);
	CHECK_EQ(s->facts, 3);

	/* caught up: a commit once STATE_SLEEP_US have passed, and only one */
	CHECK_EQ(state_step(s), 0);
	CHECK_EQ(commits, 0);
	sleep_us(STATE_SLEEP_US + 500);
	CHECK_EQ(state_step(s), 0);
	CHECK_EQ(commits, 1);
	CHECK_EQ(state_step(s), 0);
	CHECK_EQ(commits, 1);

	/* state_wait: a step when facts wait; else a sleep a waiting worker cuts short */
	push(&w[0], 4);
	state_wait(s, 1000000);
	CHECK_EQ(ngot, 4);
	pthread_t waker;
	pthread_create(&waker, NULL, waiting_worker, s);
	double t0 = now_s();
	state_wait(s, 1000000);
	CHECK(now_s() - t0 < 0.5);
	CHECK(!atomic_load(&s->wake.sleeping));
	pthread_join(waker, NULL);

	/* detach waits for the worker's end, and applies what it pushed last */
	pthread_t t;
	pthread_create(&t, NULL, late_worker, &w[0]);
	state_detach(s);
	CHECK_EQ(ngot, 5);
	CHECK_EQ(got[4], 99);
	CHECK_EQ(commits, 2);
	pthread_join(t, NULL);
	free(s);
	workers_free(w, 1);
}

/* two workers fed numbered records: facts leave in record order */
static void two_workers_ordered(void)
{
	struct worker *w = workers_new(2);
	_Atomic uint64_t dispatched = 10;
	w[0].dispatched = w[1].dispatched = &dispatched;
	struct state_thread *s = attached(w, 2);
	CHECK(s->ordered);
	push(&w[0], 2);
	push(&w[0], 5);
	push(&w[1], 3);
	push(&w[1], 4);
	/* worker 1 may still produce a fact before record 5: only 2, 3, 4 can leave */
	atomic_store(&w[0].watermark, 5);
	atomic_store(&w[1].watermark, 4);
	CHECK_EQ(state_step(s), 3);
	CHECK_EQ(ngot, 3);
	CHECK_EQ(got[0], 2);
	CHECK_EQ(got[1], 3);
	CHECK_EQ(got[2], 4);
	atomic_store(&w[0].watermark, UINT64_MAX);
	atomic_store(&w[1].watermark, UINT64_MAX);
	state_detach(s);
	CHECK_EQ(ngot, 4);
	CHECK_EQ(got[3], 5);
	free(s);
	workers_free(w, 2);
}

int main(void)
{
	one_worker();
	two_workers_ordered();
	return check_done();
}
