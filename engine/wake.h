/*
 * wake.h - how a thread with nothing to do sleeps, and how another wakes it.
 *
 * A consumer that found its rings empty for a while announces that it sleeps, looks
 * once more, and waits on a futex word with a timeout; a producer that needs it to
 * move (a worker waiting for the state thread) wakes it only if it announced so. The
 * announce/recheck and the producer's publish/check are both ordered by a full fence,
 * so a wake-up is never lost; the timeout bounds the damage if one were.
 *
 * These are the slow path: taken only when a thread is idle or has to wait, never per
 * packet on a thread that has work.
 *
 * Must never: be used to wait for a thread that does not know it may be waited for
 * (the waker must call wake_if_sleeping after publishing).
 */
#ifndef OTS_WAKE_H
#define OTS_WAKE_H

#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

struct wake {
	_Alignas(64) _Atomic uint32_t seq;  /* bumped by every wake */
	_Atomic uint32_t sleeping;          /* the owner is (about to be) asleep */
};

/* The sleeper: returns the ticket to pass to wake_sleep after its last look. */
static inline uint32_t wake_prepare(struct wake *w)
{
	uint32_t seq = atomic_load_explicit(&w->seq, memory_order_acquire);
	atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	return seq;
}

/* The sleeper, after its last look found nothing: sleeps until woken or timeout_us. */
static inline void wake_sleep(struct wake *w, uint32_t ticket, long timeout_us)
{
	struct timespec ts = { timeout_us / 1000000, (timeout_us % 1000000) * 1000 };
	if (atomic_load_explicit(&w->seq, memory_order_acquire) == ticket)
		syscall(SYS_futex, &w->seq, FUTEX_WAIT_PRIVATE, ticket, &ts, NULL, 0);
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

/* The sleeper, when its last look found work after all. */
static inline void wake_cancel(struct wake *w)
{
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

/* A producer, after publishing what the sleeper should see. */
static inline void wake_if_sleeping(struct wake *w)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
		syscall(SYS_futex, &w->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

/* A thread waiting for another: spins a little, then gives up its core each time (on
 * two cores the thread it waits for may be queued behind it). `round` counts the
 * caller's attempts, starting at 0. */
static inline void wait_backoff(unsigned round)
{
	if (round < 64)
		cpu_relax();
	else
		sched_yield();
}

#endif
