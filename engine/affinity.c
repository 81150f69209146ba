/*
 * affinity.c - pinning the pipeline's threads to CPUs (see affinity.h).
 *
 * Must never: pin a thread to a CPU outside the process's allowed set.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "affinity.h"

int affinity_plan_from(const int *cpus, int ncpus, int nworkers, struct affinity_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	if (nworkers < 1 || nworkers > (int)(sizeof plan->worker_cpu / sizeof plan->worker_cpu[0]) ||
	    ncpus < nworkers + 1)
		return -1;
	plan->control_cpu = cpus[0];
	for (int i = 0; i < nworkers; i++)
		plan->worker_cpu[i] = cpus[1 + i];
	plan->nworkers = nworkers;
	return 0;
}

int affinity_plan(int nworkers, struct affinity_plan *plan)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set)) {
		memset(plan, 0, sizeof *plan);
		return -1;
	}
	int cpus[AFFINITY_MAX_CPUS], n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < AFFINITY_MAX_CPUS; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return affinity_plan_from(cpus, n, nworkers, plan);
}

int affinity_allowed_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set))
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

int affinity_pin(pthread_t t, int cpu)
{
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return EINVAL;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(t, sizeof set, &set);
}
