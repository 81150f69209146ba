/*
 * test_ring.c - the byte ring between the reader (or capture thread) and a worker:
 * committed records are seen at once; staged ones a batch (a 64th of the ring) at a
 * time, or at once when the producer finds the ring full or commits; space read comes
 * back a batch at a time, or all of it when the consumer has caught up; a worker looks
 * ahead only at records published and laid out whole before the end; records
 * straddling the end wrap; and two threads passing a million records of random sizes
 * through a small ring, staged, lose, reorder or corrupt none and never stall.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ring.h"

#define CAP 65536u /* batches of 1024 bytes */

static struct brec *put(struct bring *r, uint32_t len, uint64_t seq, bool stage)
{
	struct brec *rec = bring_reserve(r, len);
	if (!rec)
		return NULL;
	rec->seq = seq;
	rec->caplen = len;
	memset(rec->data, (int)(seq & 0xff), len);
	if (stage)
		bring_stage(r, rec);
	else
		bring_commit(r, rec);
	return rec;
}

static uint64_t take(struct bring *r)
{
	struct brec *rec = bring_peek(r);
	if (!rec)
		return 0;
	uint64_t seq = rec->seq;
	bring_release(r, rec);
	return seq;
}

static void test_commit_and_stage(void)
{
	struct bring r;
	CHECK_EQ(bring_init(&r, CAP), 0);
	CHECK(put(&r, 100, 1, false));
	CHECK_EQ(take(&r), 1);           /* committed: seen at once */
	CHECK_EQ(take(&r), 0);
	/* 136-byte records (48 of header): 7 of them are short of a 1024-byte batch */
	for (uint64_t s = 2; s <= 8; s++)
		CHECK(put(&r, 88, s, true));
	CHECK_EQ(take(&r), 0);           /* staged, less than a batch: not yet */
	CHECK(put(&r, 88, 9, true));     /* completes the batch: all of them */
	for (uint64_t s = 2; s <= 9; s++)
		CHECK_EQ(take(&r), s);
	CHECK(put(&r, 88, 10, true));
	CHECK_EQ(take(&r), 0);
	CHECK(put(&r, 88, 11, false));   /* a commit takes the staged one along */
	CHECK_EQ(take(&r), 10);
	CHECK_EQ(take(&r), 11);
	CHECK_EQ(take(&r), 0);
	bring_free(&r);
}

static void test_space_back(void)
{
	struct bring r;
	CHECK_EQ(bring_init(&r, CAP), 0);
	uint64_t seq = 0;
	while (put(&r, 200, ++seq, true))
		;
	seq--; /* the last one did not fit */
	CHECK(seq > 200);
	/* full: everything staged was published, so the consumer can make room */
	CHECK_EQ(take(&r), 1);
	CHECK(!bring_reserve(&r, 200)); /* one record read: less than a batch handed back */
	uint64_t s, last = 1;
	for (int i = 0; i < 6; i++)      /* six 248-byte records: past a batch */
		last = take(&r);
	CHECK_EQ(last, 7);
	CHECK(put(&r, 200, ++seq, false)); /* room again */
	while ((s = take(&r)))           /* caught up: all the space comes back */
		last = s;
	CHECK_EQ(last, seq);
	CHECK_EQ(atomic_load(&r.tail), r.tail_read);
	bring_free(&r);
}

static void test_look_ahead(void)
{
	struct bring r;
	CHECK_EQ(bring_init(&r, CAP), 0);
	CHECK(put(&r, 100, 1, false));
	CHECK(put(&r, 100, 2, false));
	CHECK(put(&r, 100, 3, true));     /* staged: not published */
	struct brec *rec = bring_peek(&r);
	CHECK_EQ(rec->seq, 1);
	const struct brec *next = bring_look(&r, r.tail_read + rec->size);
	CHECK(next && next->seq == 2);
	CHECK(!bring_look(&r, r.tail_read + rec->size + next->size)); /* the staged one */
	bring_release(&r, rec);
	CHECK_EQ(take(&r), 2);
	bring_publish_head(&r);
	CHECK_EQ(take(&r), 3);
	/* fill to just short of the end: the next record wraps, and is not looked at */
	uint64_t seq = 3;
	while (r.head_written + 2 * 152 <= r.cap)
		CHECK(put(&r, 104, ++seq, false));
	while (take(&r))
		;
	CHECK(put(&r, 104, ++seq, false));  /* the last one before the end */
	CHECK(put(&r, 104, ++seq, false));  /* wraps to the start */
	rec = bring_peek(&r);
	CHECK_EQ(rec->seq, seq - 1);
	CHECK(!bring_look(&r, r.tail_read + rec->size));
	bring_release(&r, rec);
	CHECK_EQ(take(&r), seq);
	bring_free(&r);
}

static void test_wrap(void)
{
	struct bring r;
	CHECK_EQ(bring_init(&r, CAP), 0);
	uint64_t seq = 0, want = 1;
	/* sizes that do not divide the ring: records straddle its end, many times round */
	for (int round = 0; round < 4000; round++) {
		uint32_t len = 40 + (uint32_t)(round * 37 % 1500);
		CHECK(put(&r, len, ++seq, round % 3 != 0));
		if (round % 3 == 0) {
			uint64_t s;
			while ((s = take(&r)))
				CHECK_EQ(s, want++);
		}
	}
	bring_publish_head(&r);
	uint64_t s;
	while ((s = take(&r)))
		CHECK_EQ(s, want++);
	CHECK_EQ(want, seq + 1);
	bring_free(&r);
}

#define STRESS_RECORDS 1000000u

struct stress {
	struct bring r;
	_Atomic bool done;
	uint64_t got, bad;
};

static void *consumer(void *arg)
{
	struct stress *st = arg;
	uint64_t want = 1;
	for (;;) {
		struct brec *rec = bring_peek(&st->r);
		if (!rec) {
			if (atomic_load(&st->done) && !bring_peek(&st->r))
				break;
			cpu_relax();
			continue;
		}
		bool ok = rec->seq == want;
		for (uint32_t i = 0; ok && i < rec->caplen; i++)
			ok = rec->data[i] == (uint8_t)(want & 0xff);
		st->bad += !ok;
		want++;
		st->got++;
		bring_release(&st->r, rec);
	}
	return NULL;
}

static void test_two_threads(void)
{
	struct stress *st = calloc(1, sizeof *st);
	CHECK_EQ(bring_init(&st->r, CAP), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, consumer, st), 0);
	uint32_t x = 12345;
	for (uint64_t seq = 1; seq <= STRESS_RECORDS; seq++) {
		x = x * 1103515245u + 12345u;
		uint32_t len = (x >> 16) % 1600;
		while (!put(&st->r, len, seq, seq % 1000 != 0))
			cpu_relax();
	}
	bring_publish_head(&st->r);
	atomic_store(&st->done, true);
	pthread_join(t, NULL);
	CHECK_EQ(st->got, STRESS_RECORDS);
	CHECK_EQ(st->bad, 0);
	bring_free(&st->r);
	free(st);
}

int main(void)
{
	test_commit_and_stage();
	test_space_back();
	test_look_ahead();
	test_wrap();
	test_two_threads();
	return check_done();
}
