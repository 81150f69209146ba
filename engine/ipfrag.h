/*
 * ipfrag.h - bounded IPv4/IPv6 fragment reassembly, per worker.
 *
 * A fixed number of datagrams can be in reassembly at once; when all slots are busy
 * the oldest is dropped (and counted). Incomplete datagrams expire in packet time.
 *
 * Must never: allocate after ipfrag_init, accept a datagram over 65535 bytes, or
 * loop over more than one slot table per fragment.
 */
#ifndef OTS_IPFRAG_H
#define OTS_IPFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

#define IPFRAG_SLOTS 32
#define IPFRAG_MAX 65535
#define IPFRAG_TIMEOUT_US (30ull * 1000000)

struct ipfrag_slot {
	bool used;
	uint8_t ipv, proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	uint64_t first_ts;
	uint32_t total;             /* known once the last fragment arrived, else 0 */
	uint32_t covered;           /* 8-byte blocks received */
	uint8_t blocks[IPFRAG_MAX / 8 / 8 + 1]; /* bitmap of received 8-byte blocks */
	uint8_t *data;              /* IPFRAG_MAX bytes */
};

struct ipfrag_stats {
	uint64_t fragments, reassembled, timeouts, evicted, bad;
};

struct ipfrag {
	struct ipfrag_slot slot[IPFRAG_SLOTS];
	uint8_t *mem;
	struct ipfrag_stats st;
};

int ipfrag_init(struct ipfrag *r);
void ipfrag_free(struct ipfrag *r);

/* Adds the fragment in pkt. When it completes a datagram, fills pkt's L4 fields
 * over the reassembled payload (valid until the next call) and returns true. */
bool ipfrag_add(struct ipfrag *r, struct packet *pkt, void *decode_stats);

#endif
