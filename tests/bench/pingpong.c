/*
 * pingpong.c - how long a cache line takes to go from one CPU to another and back on
 * this machine, now (the bench prints it beside its figures).
 *
 * Two threads, on CPUs 0 and 1 when the machine lets them be pinned, hand a counter on
 * one cache line back and forth ROUNDS times; prints the median nanoseconds of a round
 * trip over five batches. A pipeline that hands every frame from one CPU to another (the
 * reader to the worker) slows down with it; a one-thread tool does not.
 *
 * Must never: run for more than a moment, or fail the bench (it prints "unknown").
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 100000
#define BATCHES 5

static _Alignas(64) _Atomic long ball;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set); /* not allowed: runs where it is put */
}

static void *other(void *arg)
{
	(void)arg;
	pin(1);
	for (long i = 1; i < (long)ROUNDS * BATCHES * 2; i += 2) {
		while (atomic_load_explicit(&ball, memory_order_acquire) != i)
			;
		atomic_store_explicit(&ball, i + 1, memory_order_release);
	}
	return NULL;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	pthread_t t;
	pin(0);
	if (pthread_create(&t, NULL, other, NULL)) {
		puts("unknown");
		return 0;
	}
	double per[BATCHES];
	long v = 0;
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		for (int r = 0; r < ROUNDS; r++, v += 2) {
			atomic_store_explicit(&ball, v + 1, memory_order_release);
			while (atomic_load_explicit(&ball, memory_order_acquire) != v + 2)
				;
		}
		per[b] = (now_ns() - t0) / ROUNDS;
	}
	pthread_join(t, NULL);
	qsort(per, BATCHES, sizeof *per, cmp);
	printf("%.0f\n", per[BATCHES / 2]);
	return 0;
}
