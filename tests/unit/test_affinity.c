/*
 * test_affinity.c - the CPU plan of [sensor] pin_cpus: each worker gets a CPU of its own
 * from the allowed set, the reader and state thread the first one; too few CPUs means
 * no plan; and pinning this thread to a CPU it may use works (and to a bad one does not).
 */
#include <errno.h>
#include <sched.h>

#include "affinity.h"
#include "check.h"

int main(void)
{
	struct affinity_plan plan;
	const int two[] = { 0, 1 };
	CHECK_EQ(affinity_plan_from(two, 2, 1, &plan), 0);
	CHECK_EQ(plan.control_cpu, 0);
	CHECK_EQ(plan.worker_cpu[0], 1);
	CHECK_EQ(plan.nworkers, 1);
	CHECK_EQ(affinity_plan_from(two, 2, 2, &plan), -1); /* two workers need three CPUs */
	CHECK_EQ(plan.nworkers, 0);

	const int sparse[] = { 2, 5, 7, 9 }; /* taskset -c 2,5,7,9 */
	CHECK_EQ(affinity_plan_from(sparse, 4, 3, &plan), 0);
	CHECK_EQ(plan.control_cpu, 2);
	CHECK_EQ(plan.worker_cpu[0], 5);
	CHECK_EQ(plan.worker_cpu[1], 7);
	CHECK_EQ(plan.worker_cpu[2], 9);
	CHECK_EQ(affinity_plan_from(sparse, 4, 0, &plan), -1);
	CHECK_EQ(affinity_plan_from(sparse, 1, 1, &plan), -1);

	/* the process's own set: a plan for one worker exists exactly when it has 2+ CPUs */
	cpu_set_t set;
	CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
	int n = CPU_COUNT(&set);
	CHECK_EQ(affinity_plan(1, &plan), n >= 2 ? 0 : -1);
	if (n >= 2) {
		CHECK(CPU_ISSET(plan.control_cpu, &set));
		CHECK(CPU_ISSET(plan.worker_cpu[0], &set));
		CHECK(plan.control_cpu != plan.worker_cpu[0]);
	}
	int first = -1;
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &set))
			first = c;
	CHECK_EQ(affinity_pin(pthread_self(), first), 0);
	CHECK_EQ(sched_getcpu(), first);
	CHECK_EQ(affinity_pin(pthread_self(), -1), EINVAL);
	CHECK_EQ(affinity_pin(pthread_self(), CPU_SETSIZE), EINVAL);
	return check_done();
}
