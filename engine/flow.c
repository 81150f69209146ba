/*
 * flow.c - per-worker flow table: symmetric keys, hash chains, LRU, idle expiry.
 *
 * Owned by exactly one worker. Memory is allocated once in flow_table_init; a full
 * table evicts the least recently seen flow and counts it.
 *
 * The LRU list is kept lazily: a packet only stamps its flow's last_ts, and a flow
 * moves to the head when it reaches the tail having been seen since it was queued
 * (lru_ts < last_ts): a flow seen on every packet costs no list work, and the tail is
 * still the least recently seen flow by the time it is looked at.
 *
 * Must never: allocate on lookup, or walk more than `budget` flows per packet.
 */
#include <stdlib.h>
#include <string.h>

#include "flow.h"

static void lru_unlink(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	if (f->lru_prev != FLOW_NONE)
		t->flows[f->lru_prev].lru_next = f->lru_next;
	else
		t->lru_head = f->lru_next;
	if (f->lru_next != FLOW_NONE)
		t->flows[f->lru_next].lru_prev = f->lru_prev;
	else
		t->lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = FLOW_NONE;
}

static void lru_push_front(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	f->lru_ts = f->last_ts;
	f->lru_prev = FLOW_NONE;
	f->lru_next = t->lru_head;
	if (t->lru_head != FLOW_NONE)
		t->flows[t->lru_head].lru_prev = i;
	t->lru_head = i;
	if (t->lru_tail == FLOW_NONE)
		t->lru_tail = i;
}

/* the tail, seen since it was queued, to the head */
static void requeue_tail(struct flow_table *t)
{
	uint32_t i = t->lru_tail;
	lru_unlink(t, i);
	lru_push_front(t, i);
}

int flow_table_init(struct flow_table *t, uint32_t cap, uint32_t timeout_s, uint32_t tcp_timeout_s)
{
	memset(t, 0, sizeof *t);
	if (cap < 16)
		cap = 16;
	uint32_t nb = 16;
	while (nb < cap && nb < (1u << 30))
		nb <<= 1;
	t->flows = calloc(cap, sizeof *t->flows);
	t->buckets = malloc((size_t)nb * sizeof *t->buckets);
	if (!t->flows || !t->buckets) {
		free(t->flows);
		free(t->buckets);
		return -1;
	}
	memset(t->buckets, 0xff, (size_t)nb * sizeof *t->buckets);
	t->nbuckets_mask = nb - 1;
	t->cap = cap;
	t->free_head = FLOW_NONE; /* flows past high_water were never used: no list to build */
	t->high_water = 0;
	t->lru_head = t->lru_tail = FLOW_NONE;
	t->mru = FLOW_NONE;
	t->timeout_us = (uint64_t)timeout_s * 1000000u;
	t->tcp_timeout_us = (uint64_t)tcp_timeout_s * 1000000u;
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	free(t->flows);
	free(t->buckets);
	t->flows = NULL;
	t->buckets = NULL;
}

static inline uint64_t load64(const uint8_t *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* the order of (address, port) pairs: addresses as big-endian numbers, then ports */
static int addr_port_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
	for (int i = 0; i < 16; i += 8) {
		uint64_t x = __builtin_bswap64(load64(a + i)), y = __builtin_bswap64(load64(b + i));
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (int)pa - (int)pb;
}

void flow_key_make(const struct packet *pkt, struct flow_key *k, bool *src_is_a)
{
	memset(k, 0, sizeof *k);
	k->vlan = pkt->vlan;
	k->transport = (uint8_t)pkt->transport;
	k->ipv = pkt->ip_version;
	uint16_t sp = pkt->sport, dp = pkt->dport;
	if (pkt->transport == TR_ICMP)
		sp = dp = 0; /* one flow per host pair for ICMP */
	if (addr_port_cmp(pkt->src_ip, sp, pkt->dst_ip, dp) <= 0) {
		memcpy(k->a, pkt->src_ip, 16);
		memcpy(k->b, pkt->dst_ip, 16);
		k->pa = sp;
		k->pb = dp;
		*src_is_a = true;
	} else {
		memcpy(k->a, pkt->dst_ip, 16);
		memcpy(k->b, pkt->src_ip, 16);
		k->pa = dp;
		k->pb = sp;
		*src_is_a = false;
	}
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Four independent multiplies and one full mix: every bit of the key reaches every bit
 * of the bucket index, for a fraction of a mix per word. */
uint32_t flow_key_hash(const struct flow_key *k)
{
	uint64_t ports = (uint64_t)k->pa << 32 | (uint64_t)k->pb << 16 | (uint64_t)k->vlan << 4 | k->transport;
	uint64_t h = load64(k->a) * 0x9e3779b97f4a7c15ULL ^ load64(k->a + 8) * 0xc2b2ae3d27d4eb4fULL ^
		     load64(k->b) * 0x165667b19e3779f9ULL ^ load64(k->b + 8) * 0xd6e8feb86659fd93ULL ^
		     ports * 0xff51afd7ed558ccdULL;
	return (uint32_t)mix64(h);
}

void packet_hash_flow(struct packet *pkt)
{
	if (!pkt->ip_version || pkt->fragment ||
	    (pkt->transport != TR_TCP && pkt->transport != TR_UDP && pkt->transport != TR_ICMP))
		return;
	struct flow_key k;
	bool src_is_a;
	flow_key_make(pkt, &k, &src_is_a);
	pkt->flow_hash = flow_key_hash(&k);
	pkt->flow_hashed = true;
}

static inline __attribute__((always_inline)) bool key_eq(const struct flow_key *x, const struct flow_key *y)
{
	return x->pa == y->pa && x->pb == y->pb && x->vlan == y->vlan && x->transport == y->transport &&
	       load64(x->a) == load64(y->a) && load64(x->a + 8) == load64(y->a + 8) && load64(x->b) == load64(y->b) &&
	       load64(x->b + 8) == load64(y->b + 8);
}

static void unlink_hash(struct flow_table *t, uint32_t i)
{
	uint32_t *pp = &t->buckets[flow_key_hash(&t->flows[i].key) & t->nbuckets_mask];
	while (*pp != FLOW_NONE) {
		if (*pp == i) {
			*pp = t->flows[i].hnext;
			return;
		}
		pp = &t->flows[*pp].hnext;
	}
}

static void release(struct flow_table *t, uint32_t i)
{
	unlink_hash(t, i);
	lru_unlink(t, i);
	if (t->mru == i)
		t->mru = FLOW_NONE;
	t->flows[i].used = false;
	t->flows[i].hnext = t->free_head;
	t->free_head = i;
	t->active--;
}

static uint64_t timeout_of(const struct flow_table *t, const struct flow *f)
{
	return f->key.transport == TR_TCP && !f->dir[0].fin && !f->dir[1].fin ? t->tcp_timeout_us : t->timeout_us;
}

struct flow *flow_lookup(struct flow_table *t, const struct flow_key *k, uint32_t hash, uint64_t ts,
			 bool *created, void (*on_evict)(void *ctx, struct flow *f), void *ctx)
{
	/* the flow found last first: a request and its answer come back to back */
	uint32_t i = t->mru;
	if (i == FLOW_NONE || !key_eq(&t->flows[i].key, k)) {
		uint32_t h = hash & t->nbuckets_mask;
		for (i = t->buckets[h]; i != FLOW_NONE && !key_eq(&t->flows[i].key, k); i = t->flows[i].hnext)
			;
	}
	if (i != FLOW_NONE) {
		struct flow *f = &t->flows[i];
		if (ts <= f->last_ts || ts - f->last_ts <= timeout_of(t, f)) {
			*created = false;
			if (ts > f->last_ts)
				f->last_ts = ts; /* it moves up the LRU list when it reaches the tail */
			t->mru = i;
			return f;
		}
		/* idle past its timeout but not swept yet: it ends here, whatever the sweep's
		 * timing, so results do not depend on other traffic */
		if (on_evict)
			on_evict(ctx, f);
		release(t, i);
		t->st.expired++;
	}
	uint32_t h = hash & t->nbuckets_mask;
	if (t->free_head == FLOW_NONE && t->high_water < t->cap) {
		t->flows[t->high_water].hnext = FLOW_NONE;
		t->free_head = t->high_water++;
	}
	if (t->free_head == FLOW_NONE) {
		/* the least recently seen: flows seen since they were queued go to the head
		 * (a bounded number; past that the tail goes, seen or not) */
		for (int n = 0; n < 64 && t->flows[t->lru_tail].last_ts > t->flows[t->lru_tail].lru_ts; n++)
			requeue_tail(t);
		uint32_t victim = t->lru_tail;
		if (on_evict)
			on_evict(ctx, &t->flows[victim]);
		release(t, victim);
		t->st.evicted++;
	}
	i = t->free_head;
	struct flow *f = &t->flows[i];
	t->free_head = f->hnext;
	memset(f, 0, sizeof *f);
	f->key = *k;
	f->used = true;
	f->first_ts = f->last_ts = ts;
	f->id = ++t->next_id;
	f->dissector = -1;
	f->lru_prev = f->lru_next = FLOW_NONE;
	for (int d = 0; d < 2; d++) {
		f->dir[d].buf = FLOW_NONE;
		f->dir[d].ooo_head = FLOW_NONE;
	}
	f->hnext = t->buckets[h];
	t->buckets[h] = i;
	lru_push_front(t, i);
	t->mru = i;
	t->active++;
	if (t->active > t->st.active_peak)
		t->st.active_peak = t->active;
	t->st.created++;
	*created = true;
	return f;
}


void flow_expire_some(struct flow_table *t, uint64_t now, unsigned budget,
		      void (*on_expire)(void *ctx, struct flow *f), void *ctx)
{
	unsigned requeues = budget * 4;
	while (budget && t->lru_tail != FLOW_NONE) {
		uint32_t i = t->lru_tail;
		struct flow *f = &t->flows[i];
		if (now < f->last_ts || now - f->last_ts <= timeout_of(t, f)) {
			/* seen since it was queued: its place is nearer the head */
			if (f->last_ts > f->lru_ts && requeues) {
				requeues--;
				requeue_tail(t);
				continue;
			}
			return;
		}
		budget--;
		if (on_expire)
			on_expire(ctx, f);
		release(t, i);
		t->st.expired++;
	}
}

void flow_flush_all(struct flow_table *t, void (*on_expire)(void *ctx, struct flow *f), void *ctx)
{
	while (t->lru_tail != FLOW_NONE) {
		uint32_t i = t->lru_tail;
		if (on_expire)
			on_expire(ctx, &t->flows[i]);
		release(t, i);
	}
}
