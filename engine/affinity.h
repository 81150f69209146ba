/*
 * affinity.h - pinning the pipeline's threads to CPUs ([sensor] pin_cpus).
 *
 * A worker is the busiest thread of the pipeline: alone on a CPU it is never preempted
 * by the reader or the state thread, and keeps its caches. The plan gives each worker a
 * CPU of its own from the process's allowed set and leaves the first allowed CPU to the
 * reader (or capture thread) and the state thread, which between them have less to do.
 * Off by default: on a shared VM, where the host moves virtual CPUs about, the kernel's
 * own placement did as well or better.
 *
 * Must never: pin when the allowed set has fewer CPUs than workers + 1 (threads would
 * share a CPU they could otherwise leave), or fail the sensor because pinning failed.
 */
#ifndef OTS_AFFINITY_H
#define OTS_AFFINITY_H

#include <pthread.h>

#define AFFINITY_MAX_CPUS 1024

struct affinity_plan {
	int control_cpu;            /* reader / capture thread and state thread */
	int worker_cpu[64];         /* one per worker */
	int nworkers;
};

/* Plans from the CPUs this process may run on (sched_getaffinity). Returns 0, or -1
 * when there are not enough of them (nothing is pinned then). */
int affinity_plan(int nworkers, struct affinity_plan *plan);
/* Like affinity_plan, from an explicit list of allowed CPUs (the unit test's entry). */
int affinity_plan_from(const int *cpus, int ncpus, int nworkers, struct affinity_plan *plan);
/* How many CPUs this process may run on (1 when that cannot be told). */
int affinity_allowed_cpus(void);
/* Pins a thread to one CPU; returns 0 or an errno value. */
int affinity_pin(pthread_t t, int cpu);

#endif
