/*
 * packet.h - one decoded packet: where its layers start and what their headers said.
 *
 * Filled by decode.c from the raw frame; points into the capture buffer, which stays
 * valid only while the packet is being processed. Nothing here is copied or allocated.
 *
 * Must never: outlive the frame it points into.
 */
#ifndef OTS_PACKET_H
#define OTS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ots_transport { TR_NONE = 0, TR_TCP, TR_UDP, TR_L2, TR_ICMP, TR_OTHER };

/* pcap link types we decode (values of DLT_/LINKTYPE_) */
#define LT_NULL      0
#define LT_ETHERNET  1
#define LT_RAW       101
#define LT_LOOP      108
#define LT_LINUX_SLL 113
#define LT_IPV4      228
#define LT_IPV6      229
#define LT_LINUX_SLL2 276
#define LT_RAW_ALT   12   /* DLT_RAW on some BSDs */
#define LT_RAW_ALT2  14

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct packet {
	uint64_t ts_us;             /* packet time, microseconds since the epoch */
	uint64_t frameno;           /* 1-based position in the capture (file) */
	const uint8_t *frame;       /* the whole captured frame */
	uint32_t caplen, wirelen;

	/* L2 (zeroed when the link has no MAC addresses) */
	uint8_t src_mac[6], dst_mac[6];
	bool has_mac;
	uint16_t vlan;              /* outermost 802.1Q id, 0 if none */
	uint16_t vlan_inner;        /* QinQ inner id */
	uint16_t ethertype;         /* after VLAN tags */
	uint32_t flow_hash;         /* with flow_hashed: flow_key_hash of the packet's flow key */
	const uint8_t *l2_payload;  /* after the Ethernet/VLAN headers */
	uint32_t l2_len;

	/* L3 */
	uint8_t ip_version;         /* 0, 4 or 6 */
	uint8_t src_ip[16], dst_ip[16];
	uint8_t ip_proto;
	uint8_t ttl;
	bool fragment;              /* a piece of a fragmented IPv4/IPv6 datagram (not yet reassembled) */
	bool frag_more;
	bool flow_hashed;           /* the capture thread hashed the flow key (packet_hash_flow) */
	uint32_t frag_id, frag_offset; /* payload = this fragment's data at frag_offset */
	bool reassembled;           /* payload comes from the fragment table */
	uint8_t tunnel_depth;       /* GRE/ERSPAN layers unwrapped */

	/* L4 */
	enum ots_transport transport;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t tcp_flags;
	uint16_t tcp_win;
	const uint8_t *payload;
	uint32_t payload_len;
	bool truncated;             /* caplen cut the L4 payload short */
};

#endif
