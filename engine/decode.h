/*
 * decode.h - L2..L4 decoding of one captured frame into a struct packet.
 *
 * Must never: read past caplen, allocate, or fail on junk: junk decodes to a packet
 * with fewer layers and a counter goes up.
 */
#ifndef OTS_DECODE_H
#define OTS_DECODE_H

#include <stdint.h>

#include "packet.h"

struct decode_stats {
	uint64_t eth, vlan, arp, ipv4, ipv6, tcp, udp, icmp, l2_other;
	uint64_t gre, erspan;
	uint64_t bad_l2, bad_ip, bad_l4, unknown_link;
	uint64_t truncated;
};

/* Decodes frame (caplen bytes captured of wirelen) of link type linktype into *pkt.
 * Returns 0 when a packet was decoded (possibly only to L2), -1 when nothing usable. */
int decode_frame(int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		 uint64_t ts_us, struct packet *pkt, struct decode_stats *st);

/* Decodes an IPv4/IPv6 datagram at l3 into pkt's L3/L4 fields (used after fragment
 * reassembly too). `version` is 4 or 6. */
int decode_ip(const uint8_t *l3, uint32_t len, struct packet *pkt, struct decode_stats *st);

/* Decodes the L4 header of pkt->ip_proto over [l4, l4+len). */
void decode_l4(const uint8_t *l4, uint32_t len, struct packet *pkt, struct decode_stats *st);

#endif
