/*
 * decode.c - L2..L4 decoding: link types, VLAN/QinQ, GRE/ERSPAN, IPv4/IPv6, TCP/UDP/ICMP.
 *
 * Every header is read through the bounds-checked reader. Tunnels (GRE, ERSPAN II/III,
 * transparent Ethernet bridging) are unwrapped so that the mirrored frame inside is
 * what the rest of the engine sees, to a fixed depth.
 *
 * Must never: read past caplen, recurse without bound, allocate, or reject a frame
 * just because an upper layer is junk (it stops decoding and counts it instead).
 */
#include <string.h>

#include "decode.h"
#include "reader.h"

#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_TEB 0x6558
#define ETH_ERSPAN2 0x88be
#define ETH_ERSPAN3 0x22eb
#define IPPROTO_GRE_ 47
#define MAX_TUNNEL_DEPTH 3

/* fields of a header already copied out through the reader (a local array) */
static inline uint16_t be16_at(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int decode_ether(struct rd *r, struct packet *pkt, struct decode_stats *st, int depth);
static int decode_ethertype(uint16_t et, struct rd *r, struct packet *pkt, struct decode_stats *st, int depth);

void decode_l4(const uint8_t *l4, uint32_t len, struct packet *pkt, struct decode_stats *st)
{
	struct rd r = rd_init(l4, len);
	switch (pkt->ip_proto) {
	case 6: {
		uint8_t h[20]; /* the fixed header in one bounds check, its fields read from the copy */
		if (!rd_copy(&r, h, sizeof h) || h[12] >> 4 < 5 || !rd_skip(&r, (size_t)((h[12] >> 4) - 5) * 4)) {
			st->bad_l4++;
			pkt->transport = TR_OTHER;
			return;
		}
		pkt->sport = be16_at(h);
		pkt->dport = be16_at(h + 2);
		pkt->seq = be32_at(h + 4);
		pkt->ack = be32_at(h + 8);
		pkt->tcp_flags = h[13];
		pkt->tcp_win = be16_at(h + 14);
		pkt->transport = TR_TCP;
		pkt->payload = rd_ptr(&r);
		pkt->payload_len = (uint32_t)rd_left(&r);
		st->tcp++;
		break;
	}
	case 17: {
		uint8_t h[8];
		if (!rd_copy(&r, h, sizeof h)) {
			st->bad_l4++;
			pkt->transport = TR_OTHER;
			return;
		}
		pkt->sport = be16_at(h);
		pkt->dport = be16_at(h + 2);
		uint16_t ulen = be16_at(h + 4);
		pkt->transport = TR_UDP;
		pkt->payload = rd_ptr(&r);
		size_t avail = rd_left(&r);
		size_t want = ulen >= 8 ? (size_t)ulen - 8 : avail;
		pkt->payload_len = (uint32_t)(want < avail ? want : avail);
		if (want > avail)
			pkt->truncated = true;
		st->udp++;
		break;
	}
	case 1:
	case 58:
		pkt->transport = TR_ICMP;
		pkt->sport = rd_u8(&r); /* type */
		pkt->dport = rd_u8(&r); /* code */
		rd_skip(&r, 2);
		pkt->payload = rd_ptr(&r);
		pkt->payload_len = (uint32_t)rd_left(&r);
		st->icmp++;
		break;
	default:
		pkt->transport = TR_OTHER;
		pkt->payload = l4;
		pkt->payload_len = len;
		break;
	}
}

static int decode_gre(struct rd *r, struct packet *pkt, struct decode_stats *st)
{
	int depth = ++pkt->tunnel_depth;
	uint16_t flags = rd_be16(r);
	uint16_t proto = rd_be16(r);
	if (!rd_ok(r))
		return -1;
	if (flags & 0x8000) /* checksum present (+ reserved) */
		rd_skip(r, 4);
	if (flags & 0x2000) /* key */
		rd_skip(r, 4);
	if (flags & 0x1000) /* sequence number */
		rd_skip(r, 4);
	if (!rd_ok(r))
		return -1;
	st->gre++;
	if (proto == ETH_ERSPAN2) {
		/* ERSPAN type I has no sequence bit and no header; type II has an 8-byte header */
		if (flags & 0x1000) {
			uint16_t w = rd_be16(r);
			if ((w >> 12) != 1) {
				st->bad_l2++;
				return -1;
			}
			rd_skip(r, 6);
		}
		st->erspan++;
		return decode_ether(r, pkt, st, depth + 1);
	}
	if (proto == ETH_ERSPAN3) {
		uint16_t w = rd_be16(r);
		if ((w >> 12) != 2) {
			st->bad_l2++;
			return -1;
		}
		rd_skip(r, 8);
		uint16_t last = rd_be16(r);
		if (last & 0x1) /* O flag: platform-specific subheader */
			rd_skip(r, 8);
		if (!rd_ok(r))
			return -1;
		st->erspan++;
		return decode_ether(r, pkt, st, depth + 1);
	}
	if (proto == ETH_TEB)
		return decode_ether(r, pkt, st, depth + 1);
	if (proto == ETH_IPV4 || proto == ETH_IPV6)
		return decode_ethertype(proto, r, pkt, st, depth + 1);
	return -1;
}

int decode_ip(const uint8_t *l3, uint32_t len, struct packet *pkt, struct decode_stats *st)
{
	struct rd r = rd_init(l3, len);
	int v = rd_peek(&r, 0);
	if (v < 0)
		return -1;
	v >>= 4;
	pkt->fragment = false;
	if (v == 4) {
		uint8_t h[20];
		size_t ihl = 0;
		uint16_t tot = 0;
		if (rd_copy(&r, h, sizeof h)) {
			ihl = (size_t)(h[0] & 0xf) * 4;
			tot = be16_at(h + 2);
		}
		if (ihl < 20 || tot < ihl || !rd_skip(&r, ihl - 20)) {
			st->bad_ip++;
			return -1;
		}
		uint16_t ipid = be16_at(h + 4);
		uint16_t frag = be16_at(h + 6);
		pkt->ttl = h[8];
		pkt->ip_proto = h[9];
		memset(pkt->src_ip, 0, 16); /* an outer IPv6 header may have filled them */
		memset(pkt->dst_ip, 0, 16);
		memcpy(pkt->src_ip, h + 12, 4);
		memcpy(pkt->dst_ip, h + 16, 4);
		pkt->ip_version = 4;
		st->ipv4++;
		size_t body = tot - ihl;
		size_t avail = rd_left(&r);
		if (tot == 0) /* TSO captures carry 0: trust the capture */
			body = avail;
		if (body > avail) {
			body = avail;
			pkt->truncated = true;
		}
		if ((frag & 0x3fff) != 0) { /* MF or offset */
			pkt->fragment = true;
			pkt->frag_id = ipid;
			pkt->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
			pkt->frag_more = (frag & 0x2000) != 0;
			pkt->payload = rd_ptr(&r);
			pkt->payload_len = (uint32_t)body;
			return 0;
		}
		if (pkt->ip_proto == IPPROTO_GRE_ && pkt->tunnel_depth < MAX_TUNNEL_DEPTH) {
			struct rd g = rd_sub(&r, body);
			return decode_gre(&g, pkt, st);
		}
		decode_l4(rd_ptr(&r), (uint32_t)body, pkt, st);
		return 0;
	}
	if (v == 6) {
		rd_skip(&r, 4);
		uint16_t plen = rd_be16(&r);
		uint8_t nh = rd_u8(&r);
		pkt->ttl = rd_u8(&r);
		rd_copy(&r, pkt->src_ip, 16);
		rd_copy(&r, pkt->dst_ip, 16);
		if (!rd_ok(&r)) {
			st->bad_ip++;
			return -1;
		}
		pkt->ip_version = 6;
		st->ipv6++;
		size_t avail = rd_left(&r);
		size_t body = plen ? plen : avail;
		if (body > avail) {
			body = avail;
			pkt->truncated = true;
		}
		struct rd b = rd_sub(&r, body);
		/* walk extension headers (bounded: each is at least 8 bytes) */
		for (int i = 0; i < 16; i++) {
			if (nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140) {
				uint8_t next = rd_u8(&b);
				uint8_t hlen = rd_u8(&b);
				if (!rd_skip(&b, (size_t)hlen * 8 + 6))
					break;
				nh = next;
			} else if (nh == 44) {
				uint8_t next = rd_u8(&b);
				rd_skip(&b, 1);
				uint16_t off = rd_be16(&b);
				uint32_t id = rd_be32(&b);
				nh = next;
				if ((off & 0xfff9) != 0) { /* offset or M flag */
					pkt->fragment = true;
					pkt->frag_id = id;
					pkt->frag_offset = off & 0xfff8;
					pkt->frag_more = (off & 1) != 0;
					break;
				}
			} else if (nh == 51) { /* AH: length in 4-byte words, minus 2 */
				uint8_t next = rd_u8(&b);
				uint8_t hlen = rd_u8(&b);
				if (!rd_skip(&b, ((size_t)hlen + 2) * 4 - 2))
					break;
				nh = next;
			} else {
				break;
			}
		}
		if (!rd_ok(&b)) {
			st->bad_ip++;
			pkt->transport = TR_OTHER;
			return 0;
		}
		pkt->ip_proto = nh;
		if (pkt->fragment) {
			pkt->payload = rd_ptr(&b);
			pkt->payload_len = (uint32_t)rd_left(&b);
			return 0;
		}
		if (nh == IPPROTO_GRE_ && pkt->tunnel_depth < MAX_TUNNEL_DEPTH)
			return decode_gre(&b, pkt, st);
		decode_l4(rd_ptr(&b), (uint32_t)rd_left(&b), pkt, st);
		return 0;
	}
	st->bad_ip++;
	return -1;
}

static int decode_ethertype(uint16_t et, struct rd *r, struct packet *pkt, struct decode_stats *st, int depth)
{
	pkt->ethertype = et;
	pkt->l2_payload = rd_ptr(r);
	pkt->l2_len = (uint32_t)rd_left(r);
	if (et == ETH_IPV4 || et == ETH_IPV6) {
		(void)depth;
		return decode_ip(rd_ptr(r), (uint32_t)rd_left(r), pkt, st);
	}
	pkt->transport = TR_L2;
	if (et == ETH_ARP)
		st->arp++;
	else
		st->l2_other++;
	return 0;
}

static int decode_ether(struct rd *r, struct packet *pkt, struct decode_stats *st, int depth)
{
	if (depth > MAX_TUNNEL_DEPTH)
		return -1;
	/* an inner (tunnelled) frame replaces what the outer one said */
	pkt->vlan = pkt->vlan_inner = 0;
	pkt->ip_version = 0;
	pkt->transport = TR_NONE;
	uint8_t h[14];
	if (!rd_copy(r, h, sizeof h)) {
		memset(pkt->dst_mac, 0, 6);
		memset(pkt->src_mac, 0, 6);
		st->bad_l2++;
		return -1;
	}
	memcpy(pkt->dst_mac, h, 6);
	memcpy(pkt->src_mac, h + 6, 6);
	uint16_t et = be16_at(h + 12);
	pkt->has_mac = true;
	st->eth++;
	for (int tags = 0; (et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD) && tags < 4; tags++) {
		uint16_t tci = rd_be16(r);
		et = rd_be16(r);
		if (!rd_ok(r)) {
			st->bad_l2++;
			return -1;
		}
		if (tags == 0)
			pkt->vlan = tci & 0x0fff;
		else if (tags == 1)
			pkt->vlan_inner = tci & 0x0fff;
		st->vlan++;
	}
	if (et < 0x0600) {
		/* IEEE 802.3 length + LLC; SNAP carries an ethertype (Cisco's OUI: CDP 0x2000) */
		size_t len = et;
		if (len < rd_left(r))
			r->end = r->p + len;
		if (rd_peek(r, 0) == 0xaa && rd_peek(r, 1) == 0xaa && rd_peek(r, 2) == 0x03) {
			rd_skip(r, 6);
			et = rd_be16(r);
		} else {
			et = 0;
		}
		pkt->ethertype = et;
		pkt->l2_payload = rd_ptr(r);
		pkt->l2_len = (uint32_t)rd_left(r);
		pkt->transport = TR_L2;
		st->l2_other++;
		return 0;
	}
	return decode_ethertype(et, r, pkt, st, depth);
}

/* What Linux "cooked" captures (SLL, SLL2) share once their headers are read: the
 * sender's MAC when it is Ethernet, an optional VLAN tag, then the ethertype. */
static int decode_cooked(struct rd *r, uint16_t hatype, uint16_t alen, const uint8_t addr[8], uint16_t proto,
			 struct packet *pkt, struct decode_stats *st)
{
	if (!rd_ok(r)) {
		st->bad_l2++;
		return -1;
	}
	if (hatype == 1 && alen == 6) {
		memcpy(pkt->src_mac, addr, 6);
		pkt->has_mac = true;
	}
	if (proto == ETH_VLAN) {
		pkt->vlan = rd_be16(r) & 0x0fff;
		proto = rd_be16(r);
	}
	return decode_ethertype(proto, r, pkt, st, 1);
}

int decode_frame(int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		 uint64_t ts_us, struct packet *pkt, struct decode_stats *st)
{
	static const struct packet zero;
	*pkt = zero; /* vector stores: a memset of this size is a slow rep stos */
	pkt->ts_us = ts_us;
	pkt->frame = frame;
	pkt->caplen = caplen;
	pkt->wirelen = wirelen;
	struct rd r = rd_init(frame, caplen);

	switch (linktype) {
	case LT_ETHERNET:
		return decode_ether(&r, pkt, st, 1);
	case LT_NULL:
	case LT_LOOP: {
		uint8_t fam[4];
		if (!rd_copy(&r, fam, 4)) {
			st->bad_l2++;
			return -1;
		}
		/* the family is in the capturing host's byte order for NULL: accept both */
		uint32_t f = (fam[0] | fam[1]) ? ((uint32_t)fam[0] | (uint32_t)fam[1] << 8) : ((uint32_t)fam[3] | (uint32_t)fam[2] << 8);
		if (f == 2)
			return decode_ethertype(ETH_IPV4, &r, pkt, st, 1);
		if (f == 24 || f == 28 || f == 30 || f == 10 || f == 23)
			return decode_ethertype(ETH_IPV6, &r, pkt, st, 1);
		st->bad_l2++;
		return -1;
	}
	case LT_RAW:
	case LT_RAW_ALT:
	case LT_RAW_ALT2:
	case LT_IPV4:
	case LT_IPV6: {
		int v = rd_peek(&r, 0);
		if (v < 0)
			return -1;
		return decode_ethertype((v >> 4) == 6 ? ETH_IPV6 : ETH_IPV4, &r, pkt, st, 1);
	}
	case LT_LINUX_SLL: {
		rd_skip(&r, 2);
		uint16_t hatype = rd_be16(&r);
		uint16_t alen = rd_be16(&r);
		uint8_t addr[8];
		rd_copy(&r, addr, 8);
		uint16_t proto = rd_be16(&r);
		return decode_cooked(&r, hatype, alen, addr, proto, pkt, st);
	}
	case LT_LINUX_SLL2: {
		uint16_t proto = rd_be16(&r);
		rd_skip(&r, 6);
		uint16_t hatype = rd_be16(&r);
		rd_skip(&r, 1);
		uint8_t alen = rd_u8(&r);
		uint8_t addr[8];
		rd_copy(&r, addr, 8);
		return decode_cooked(&r, hatype, alen, addr, proto, pkt, st);
	}
	default:
		st->unknown_link++;
		return -1;
	}
}
