/*
 * test_flow.c - the flow table's least-recently-seen order, kept lazily: a full table
 * evicts the flow seen longest ago (not the one created first), idle flows expire at
 * their timeout in packet time and busy ones never do, a flow found again is the
 * same flow, and every flow is flushed at the end.
 */
#include <string.h>

#include "check.h"
#include "flow.h"

#define S 1000000ull /* microseconds */

static struct flow_key key_of(uint32_t n)
{
	struct flow_key k;
	memset(&k, 0, sizeof k);
	k.a[0] = 10, k.a[1] = (uint8_t)(n >> 16), k.a[2] = (uint8_t)(n >> 8), k.a[3] = (uint8_t)n;
	k.b[0] = 192, k.b[1] = 168, k.b[3] = 1;
	k.pa = 40000;
	k.pb = 502;
	k.transport = TR_TCP;
	k.ipv = 4;
	return k;
}

static uint32_t ended[4096], nended;

static void on_end(void *ctx, struct flow *f)
{
	(void)ctx;
	ended[nended++] = (uint32_t)f->key.a[1] << 16 | (uint32_t)f->key.a[2] << 8 | f->key.a[3];
}

static struct flow *see(struct flow_table *t, uint32_t n, uint64_t ts, bool *created)
{
	struct flow_key k = key_of(n);
	flow_expire(t, ts, 4, on_end, NULL);
	return flow_lookup(t, &k, flow_key_hash(&k), ts, created, on_end, NULL);
}

int main(void)
{
	struct flow_table t;
	bool created;
	CHECK_EQ(flow_table_init(&t, 16, 60, 60), 0);

	/* 16 flows, one a second; flow 0 is seen again (and again) later */
	for (uint32_t n = 0; n < 16; n++) {
		struct flow *f = see(&t, n, n * S, &created);
		CHECK(created);
		CHECK_EQ(f->first_ts, n * S);
	}
	uint32_t id0 = see(&t, 0, 20 * S, &created)->id;
	CHECK(!created);
	CHECK_EQ(see(&t, 0, 21 * S, &created)->id, id0);
	CHECK(!created);
	CHECK_EQ(t.active, 16);

	/* the table is full: a new flow evicts flow 1 (seen longest ago), not flow 0 */
	nended = 0;
	see(&t, 100, 22 * S, &created);
	CHECK(created);
	CHECK_EQ(nended, 1);
	CHECK_EQ(ended[0], 1);
	CHECK_EQ(t.st.evicted, 1);
	CHECK_EQ(see(&t, 0, 23 * S, &created)->id, id0);
	CHECK(!created);

	/* flows 2..15 go idle; flow 0 and 100 stay busy: at 2+60 s the idle ones expire,
	 * oldest first, as packets of the busy ones pass; the busy ones never do */
	nended = 0;
	for (uint64_t s = 24; s <= 90; s++) {
		see(&t, 0, s * S, &created);
		CHECK(!created);
		see(&t, 100, s * S + 1, &created);
		CHECK(!created);
	}
	CHECK_EQ(nended, 14);
	for (uint32_t i = 0; i < nended && i < 14; i++)
		CHECK_EQ(ended[i], i + 2);
	CHECK_EQ(t.active, 2);
	CHECK_EQ(t.st.expired, 14);

	/* a flow found past its timeout ends there and starts again */
	nended = 0;
	struct flow *f = see(&t, 100, 200 * S, &created);
	CHECK(created);
	CHECK(f->id != id0);

	/* the end: every flow is flushed */
	nended = 0;
	flow_flush_all(&t, on_end, NULL);
	CHECK_EQ(t.active, 0);
	CHECK(nended >= 1);
	flow_table_free(&t);
	return check_done();
}
