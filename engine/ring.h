/*
 * ring.h - single-producer single-consumer rings between threads, lock-free.
 *
 * spsc: fixed-size elements (facts from a worker to the state thread).
 * bring: variable-size byte records (raw frames from the capture thread to a worker).
 * Both are allocated once (big ones in huge pages: bigmem.h); a full ring makes the
 * producer wait (replay must not lose anything), and the waits are counted.
 *
 * Must never: be used with more than one producer or more than one consumer.
 */
#ifndef OTS_RING_H
#define OTS_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "prefetch.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct spsc {
	_Alignas(64) _Atomic uint64_t head; /* next to write (producer) */
	_Alignas(64) _Atomic uint64_t tail; /* next to read (consumer) */
	_Alignas(64) size_t esize;
	uint64_t mask;
	uint64_t full_waits;
	uint8_t *mem;
};

static inline int spsc_init(struct spsc *r, size_t esize, uint64_t cap_pow2)
{
	memset(r, 0, sizeof *r);
	r->mem = bigmem_alloc(esize * cap_pow2);
	if (!r->mem)
		return -1;
	r->esize = esize;
	r->mask = cap_pow2 - 1;
	return 0;
}

static inline void spsc_free(struct spsc *r)
{
	bigmem_free(r->mem, r->esize * (r->mask + 1));
	r->mem = NULL;
}

static inline bool spsc_try_push(struct spsc *r, const void *e)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return false;
	memcpy(r->mem + (h & r->mask) * r->esize, e, r->esize);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

/* Pops up to max elements into out; returns how many. */
static inline size_t spsc_pop_many(struct spsc *r, void *out, size_t max)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = (size_t)(h - t);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		memcpy((uint8_t *)out + i * r->esize, r->mem + ((t + i) & r->mask) * r->esize, r->esize);
	atomic_store_explicit(&r->tail, t + n, memory_order_release);
	return n;
}

/* The i-th element not yet popped, or NULL if there are not that many. */
static inline const void *spsc_peek(struct spsc *r, uint64_t i)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	return h - t > i ? r->mem + ((t + i) & r->mask) * r->esize : NULL;
}

/* Pops n elements already read with spsc_peek. */
static inline void spsc_drop(struct spsc *r, uint64_t n)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	atomic_store_explicit(&r->tail, t + n, memory_order_release);
}

static inline bool spsc_empty(struct spsc *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) == atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* --- byte ring of records --- */

struct brec {
	uint32_t size;      /* whole record, header included, 8-aligned; 0 = wrap marker */
	uint32_t caplen, wirelen;
	int32_t linktype;
	uint64_t ts_us, frameno;
	uint64_t seq;       /* the producer's serial number of the record (replay: across workers) */
	uint32_t pkt_off;   /* 0, or where in data[] the producer left its decoding of the frame */
	int32_t decode_rc;  /* with pkt_off: what decoding returned */
	uint8_t data[];
};

struct bring {
	_Alignas(64) _Atomic uint64_t head;
	uint64_t tail_seen;         /* producer's last look at tail (reloaded when short of room) */
	uint64_t head_written;      /* producer: written up to here, published to head by
				     * bring_commit, or a batch at a time by bring_stage */
	uint64_t prefetched;        /* producer: lines claimed for writing up to here */
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t head_seen;         /* consumer's last look at head (reloaded when caught up) */
	uint64_t tail_read;         /* consumer: read up to here, published to tail in batches */
	_Alignas(64) uint64_t cap;  /* power of two */
	uint64_t full_waits;
	uint8_t *mem;
};

static inline int bring_init(struct bring *r, uint64_t cap_pow2)
{
	memset(r, 0, sizeof *r);
	r->mem = bigmem_alloc(cap_pow2);
	if (!r->mem)
		return -1;
	r->cap = cap_pow2;
	return 0;
}

static inline void bring_free(struct bring *r)
{
	bigmem_free(r->mem, r->cap);
	r->mem = NULL;
}

/* Both ends hand their progress over a batch at a time (a 64th of the ring): one
 * write of a shared index, one cache line crossing between the CPUs, per batch rather
 * than per record. A batch is published at once when the other end could be waiting
 * for it: the producer's when it finds the ring full, the consumer's when it has read
 * everything. */
static inline uint64_t bring_batch(const struct bring *r)
{
	return r->cap / 64;
}

static inline void bring_publish_head(struct bring *r)
{
	if (atomic_load_explicit(&r->head, memory_order_relaxed) != r->head_written)
		atomic_store_explicit(&r->head, r->head_written, memory_order_release);
}

/* How far ahead of its records the producer claims the ring's lines (see bring_reserve). */
#define BRING_PREFETCH 4096

/* Reserves a record of `len` data bytes; returns NULL if the ring is full right now.
 * Commit with bring_commit or bring_stage. */
static inline struct brec *bring_reserve(struct bring *r, uint32_t len)
{
	uint64_t need = (sizeof(struct brec) + len + 7) & ~7ull;
	if (need > r->cap / 2)
		return NULL;
	uint64_t h = r->head_written;
	uint64_t off = h & (r->cap - 1);
	uint64_t to_end = r->cap - off;
	uint64_t total = need;
	if (to_end < need)
		total += to_end; /* wrap marker fills the rest */
	if (r->cap - (h - r->tail_seen) < total + sizeof(struct brec)) {
		/* the consumer's cache line is read only when the last look says full */
		r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (r->cap - (h - r->tail_seen) < total + sizeof(struct brec)) {
			bring_publish_head(r); /* all of it, for the consumer to make room */
			return NULL;
		}
	}
	if (to_end < need) {
		if (to_end >= sizeof(uint32_t))
			((struct brec *)(r->mem + off))->size = 0;
		r->head_written = h + to_end;
		off = 0;
	}
	/* the lines a little ahead, claimed now from the consumer's cache that read them
	 * last, so that the producer's stores to them need not wait for the round trip;
	 * never beyond the room the consumer has handed back */
	uint64_t ahead = r->head_written + need + BRING_PREFETCH, room_end = r->tail_seen + r->cap;
	if (r->prefetched < r->head_written)
		r->prefetched = r->head_written & ~63ull;
	for (uint64_t end = ahead < room_end ? ahead : room_end; r->prefetched < end; r->prefetched += 64)
		prefetch_for_write(r->mem + (r->prefetched & (r->cap - 1)));
	struct brec *rec = (struct brec *)(r->mem + off);
	rec->size = (uint32_t)need;
	return rec;
}

/* The record, and every one staged before it, goes to the consumer now. */
static inline void bring_commit(struct bring *r, struct brec *rec)
{
	r->head_written += rec->size;
	atomic_store_explicit(&r->head, r->head_written, memory_order_release);
}

/* The record goes to the consumer with the batch it completes, or with the next
 * bring_commit, bring_publish_head or full ring. */
static inline void bring_stage(struct bring *r, struct brec *rec)
{
	r->head_written += rec->size;
	if (r->head_written - atomic_load_explicit(&r->head, memory_order_relaxed) >= bring_batch(r))
		atomic_store_explicit(&r->head, r->head_written, memory_order_release);
}

static inline void bring_publish_tail(struct bring *r)
{
	if (atomic_load_explicit(&r->tail, memory_order_relaxed) != r->tail_read)
		atomic_store_explicit(&r->tail, r->tail_read, memory_order_release);
}

/* Next record to read, or NULL if none. Release it with bring_release. */
static inline struct brec *bring_peek(struct bring *r)
{
	for (;;) {
		uint64_t t = r->tail_read;
		if (t == r->head_seen) {
			r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
			if (t == r->head_seen) {
				bring_publish_tail(r); /* caught up: all the space goes back */
				return NULL;
			}
		}
		uint64_t off = t & (r->cap - 1);
		uint64_t to_end = r->cap - off;
		if (to_end < sizeof(struct brec) || ((struct brec *)(r->mem + off))->size == 0) {
			r->tail_read = t + to_end;
			continue;
		}
		return (struct brec *)(r->mem + off);
	}
}

/* For looking ahead: the record at position pos (the peeked record is at tail_read, the
 * next at tail_read + its size, ...) if the producer published it when last looked at and
 * it needs no wrap; NULL otherwise. It moves nothing. */
static inline const struct brec *bring_look(const struct bring *r, uint64_t pos)
{
	uint64_t off = pos & (r->cap - 1);
	if (pos >= r->head_seen || r->cap - off < sizeof(struct brec))
		return NULL;
	const struct brec *rec = (const struct brec *)(r->mem + off);
	return rec->size ? rec : NULL;
}

static inline void bring_release(struct bring *r, struct brec *rec)
{
	r->tail_read += rec->size;
	if (r->tail_read - atomic_load_explicit(&r->tail, memory_order_relaxed) >= bring_batch(r))
		atomic_store_explicit(&r->tail, r->tail_read, memory_order_release);
}

#endif
