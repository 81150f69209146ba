/*
 * flow.h - the per-worker flow table and the per-direction TCP stream state.
 *
 * A flow is keyed by (VLAN, transport, the two IP addresses, the two ports), stored in
 * canonical order so both directions find the same flow. All flows live in one array
 * allocated when the worker starts (a hard cap); a full table evicts the least
 * recently seen flow. Idle flows expire in packet time.
 *
 * Must never: allocate after flow_table_init, or hand out a flow that another worker
 * can see.
 */
#ifndef OTS_FLOW_H
#define OTS_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "dissector.h"
#include "packet.h"
#include "prefetch.h"

#define FLOW_NONE UINT32_MAX
#define FLOW_DSTATE_SIZE DISSECTOR_STATE_SIZE

enum { DIR_C2S = 0, DIR_S2C = 1 };

struct flow_key {
	uint8_t a[16], b[16];       /* canonical order: a <= b (address, then port) */
	uint16_t pa, pb;
	uint16_t vlan;
	uint8_t transport;          /* enum ots_transport */
	uint8_t ipv;                /* 4 or 6 */
};

struct stream_dir {
	uint32_t next_seq;
	bool seq_known;
	bool fin;
	bool gap_pending;           /* bytes were lost; tell the dissector with the next PDU */
	bool desync;                /* the dissector could not frame; wait for a segment start */
	uint8_t n_ooo;
	uint32_t ooo_head;          /* out-of-order segments, sorted by seq (pool chunk indices) */
	uint32_t buf;               /* partial-PDU buffer (pool chunk index) or FLOW_NONE */
	uint32_t buf_len;
	uint32_t skip;              /* bytes still to drop of a PDU larger than a buffer */
};

struct flow {
	struct flow_key key;
	uint32_t hnext;             /* hash chain */
	uint32_t lru_prev, lru_next;
	uint64_t lru_ts;            /* last_ts when the flow was (re)queued at the LRU head */
	uint32_t id;                /* worker-local serial number (for evidence) */
	uint64_t first_ts, last_ts;
	uint64_t last_frame;        /* capture frame number of the latest packet */
	uint64_t pkts[2], bytes[2]; /* per direction: client->server, server->client */
	uint8_t client_is_a;        /* the client is key.a/pa */
	int16_t dissector;          /* index in the registry, -1 none yet, -2 none found */
	uint8_t probes;             /* payloads tried against heuristics */
	bool used;
	bool syn_seen;
	bool has_mac;
	uint8_t mac[2][6];          /* of key.a and key.b, from the latest frame */
	struct stream_dir dir[2];
	_Alignas(16) uint8_t dstate[FLOW_DSTATE_SIZE]; /* dissectors keep structs here */
};

struct flow_stats {
	uint64_t created, expired, evicted, active_peak;
	uint64_t tcp_retrans, tcp_overlap, tcp_ooo, tcp_gaps, tcp_desync, tcp_oversize;
	uint64_t pool_exhausted;
};

struct flow_table {
	struct flow *flows;
	uint32_t *buckets;
	uint32_t nbuckets_mask;
	uint32_t cap, active;
	uint32_t free_head;         /* free list through hnext */
	uint32_t high_water;        /* flows [high_water, cap) have never been used */
	uint32_t lru_head, lru_tail;/* head = most recently queued (see flow.c) */
	uint32_t mru;               /* the flow found last */
	uint32_t next_id;
	uint64_t timeout_us, tcp_timeout_us;
	struct flow_stats st;
};

int flow_table_init(struct flow_table *t, uint32_t cap, uint32_t timeout_s, uint32_t tcp_timeout_s);
void flow_table_free(struct flow_table *t);

/* Builds the canonical key for pkt; *fwd says whether pkt's src is key.a. */
void flow_key_make(const struct packet *pkt, struct flow_key *k, bool *src_is_a);
uint32_t flow_key_hash(const struct flow_key *k);
/* The capture thread's part of a lookup: hashes pkt's flow key into pkt->flow_hash, for
 * an unfragmented TCP, UDP or ICMP packet (the ones handle_ip looks up as they are). */
void packet_hash_flow(struct packet *pkt);
/* The bucket of a hash, brought into the cache ahead of its lookup. */
static inline void flow_prefetch_bucket(const struct flow_table *t, uint32_t hash)
{
	prefetch_for_read(&t->buckets[hash & t->nbuckets_mask]);
}
/* The first flow of a bucket (fetched already with flow_prefetch_bucket), brought into
 * the cache ahead of its lookup. */
static inline void flow_prefetch_flow(const struct flow_table *t, uint32_t hash)
{
	uint32_t i = t->buckets[hash & t->nbuckets_mask];
	if (i != FLOW_NONE)
		prefetch_for_read(&t->flows[i]);
}

/* Finds or creates the flow of k. *created is set for a new flow. Evicts the least
 * recently used flow when the table is full; `on_evict` is called for it first. */
struct flow *flow_lookup(struct flow_table *t, const struct flow_key *k, uint32_t hash, uint64_t ts,
			 bool *created, void (*on_evict)(void *ctx, struct flow *f), void *ctx);

/* Expires flows idle for longer than their timeout at packet time now; at most
 * `budget` of them (so a packet never pays for a large sweep). */
void flow_expire_some(struct flow_table *t, uint64_t now, unsigned budget,
		      void (*on_expire)(void *ctx, struct flow *f), void *ctx);
/* The per-packet form: only the flow queued longest ago is looked at unless it was
 * queued longer ago than the shorter timeout. */
static inline void flow_expire(struct flow_table *t, uint64_t now, unsigned budget,
			       void (*on_expire)(void *ctx, struct flow *f), void *ctx)
{
	uint64_t shortest = t->timeout_us < t->tcp_timeout_us ? t->timeout_us : t->tcp_timeout_us;
	if (t->lru_tail != FLOW_NONE && now > t->flows[t->lru_tail].lru_ts + shortest)
		flow_expire_some(t, now, budget, on_expire, ctx);
}

/* Removes every flow (end of input), calling on_expire for each. */
void flow_flush_all(struct flow_table *t, void (*on_expire)(void *ctx, struct flow *f), void *ctx);

#endif
