/*
 * ipfrag.c - bounded IPv4/IPv6 fragment reassembly.
 *
 * Overlapping fragments keep the bytes that arrived first (as most stacks do); a
 * datagram is complete when the last fragment has been seen and every 8-byte block
 * before its end has arrived.
 *
 * Must never: write outside a slot's IPFRAG_MAX bytes, or keep a slot past its timeout.
 */
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "ipfrag.h"

int ipfrag_init(struct ipfrag *r)
{
	memset(r, 0, sizeof *r);
	r->mem = malloc((size_t)IPFRAG_SLOTS * IPFRAG_MAX);
	if (!r->mem)
		return -1;
	for (int i = 0; i < IPFRAG_SLOTS; i++)
		r->slot[i].data = r->mem + (size_t)i * IPFRAG_MAX;
	return 0;
}

void ipfrag_free(struct ipfrag *r)
{
	free(r->mem);
	r->mem = NULL;
}

static struct ipfrag_slot *find_slot(struct ipfrag *r, const struct packet *pkt)
{
	struct ipfrag_slot *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < IPFRAG_SLOTS; i++) {
		struct ipfrag_slot *s = &r->slot[i];
		if (s->used && pkt->ts_us > s->first_ts + IPFRAG_TIMEOUT_US) {
			s->used = false;
			r->st.timeouts++;
		}
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->id == pkt->frag_id && s->proto == pkt->ip_proto && s->ipv == pkt->ip_version &&
		    !memcmp(s->src, pkt->src_ip, 16) && !memcmp(s->dst, pkt->dst_ip, 16))
			return s;
		if (!oldest || s->first_ts < oldest->first_ts)
			oldest = s;
	}
	struct ipfrag_slot *s = free_slot;
	if (!s) {
		s = oldest;
		r->st.evicted++;
	}
	uint8_t *data = s->data;
	memset(s, 0, sizeof *s);
	s->data = data;
	s->used = true;
	s->ipv = pkt->ip_version;
	s->proto = pkt->ip_proto;
	s->id = pkt->frag_id;
	memcpy(s->src, pkt->src_ip, 16);
	memcpy(s->dst, pkt->dst_ip, 16);
	s->first_ts = pkt->ts_us;
	return s;
}

bool ipfrag_add(struct ipfrag *r, struct packet *pkt, void *decode_stats)
{
	r->st.fragments++;
	uint32_t off = pkt->frag_offset, len = pkt->payload_len;
	if ((uint64_t)off + len > IPFRAG_MAX || (pkt->frag_more && (len % 8) != 0) || !pkt->payload) {
		r->st.bad++;
		return false;
	}
	struct ipfrag_slot *s = find_slot(r, pkt);
	if (!pkt->frag_more) {
		if (s->total && s->total != off + len) {
			r->st.bad++;
			s->used = false;
			return false;
		}
		s->total = off + len;
	}
	/* copy block by block, first arrival wins */
	uint32_t end = off + len;
	for (uint32_t b = off / 8; b * 8 < end; b++) {
		uint32_t bs = b * 8, be = bs + 8 < end ? bs + 8 : end;
		if (s->blocks[b / 8] & (1u << (b % 8)))
			continue;
		memcpy(s->data + bs, pkt->payload + (bs - off), be - bs);
		s->blocks[b / 8] |= (uint8_t)(1u << (b % 8));
		s->covered++;
	}
	if (!s->total || s->covered < (s->total + 7) / 8)
		return false;
	/* complete */
	s->used = false;
	r->st.reassembled++;
	pkt->fragment = false;
	pkt->reassembled = true;
	decode_l4(s->data, s->total, pkt, decode_stats);
	return true;
}
