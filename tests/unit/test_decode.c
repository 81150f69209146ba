/*
 * test_decode.c - L2..L4 decoding: every link type replay accepts, VLAN/QinQ, GRE and
 * ERSPAN II/III, IPv6 extension headers, and truncation at every byte.
 *
 * Must never: depend on a capture file (frames are built here).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode.h"

static const uint8_t ipv4_tcp[] = {
	0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* IPv4, DF */
	0x9c, 0x40, 0x01, 0xf6, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, /* TCP 40000 -> 502 */
	1, 2, 3, 4 };

static size_t eth(uint8_t *b, uint16_t et)
{
	static const uint8_t dst[6] = { 0, 1, 2, 3, 4, 5 }, src[6] = { 0, 0x80, 0xf4, 9, 9, 9 };
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = (uint8_t)(et >> 8);
	b[13] = (uint8_t)et;
	return 14;
}

static void expect_tcp(const struct packet *p, const char *what)
{
	if (p->transport != TR_TCP || p->sport != 40000 || p->dport != 502 || p->payload_len != 4 ||
	    p->src_ip[3] != 1 || p->dst_ip[3] != 2) {
		fprintf(stderr, "decode of %s: transport %d ports %u->%u payload %u\n", what, p->transport, p->sport,
			p->dport, p->payload_len);
		CHECK(false);
	} else {
		CHECK(true);
	}
}

static void test_link_types(void)
{
	struct decode_stats st;
	memset(&st, 0, sizeof st);
	struct packet p;
	uint8_t b[256];
	size_t n;

	n = eth(b, 0x0800);
	memcpy(b + n, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)(n + sizeof ipv4_tcp), 0, 0, &p, &st), 0);
	expect_tcp(&p, "ethernet");
	CHECK(p.has_mac && p.src_mac[1] == 0x80);

	/* QinQ: 802.1ad outer 100, 802.1Q inner 200 */
	n = eth(b, 0x88a8);
	const uint8_t tags[] = { 0x00, 100, 0x81, 0x00, 0x00, 200, 0x08, 0x00 };
	memcpy(b + n, tags, sizeof tags);
	memcpy(b + n + sizeof tags, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)(n + sizeof tags + sizeof ipv4_tcp), 0, 0, &p, &st), 0);
	expect_tcp(&p, "qinq");
	CHECK_EQ(p.vlan, 100);
	CHECK_EQ(p.vlan_inner, 200);

	/* BSD NULL, family in little-endian (the capturing host's order) and LOOP big-endian */
	const uint8_t null_le[] = { 2, 0, 0, 0 }, loop_be[] = { 0, 0, 0, 2 };
	memcpy(b, null_le, 4);
	memcpy(b + 4, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_NULL, b, 4 + sizeof ipv4_tcp, 0, 0, &p, &st), 0);
	expect_tcp(&p, "null");
	CHECK(!p.has_mac);
	memcpy(b, loop_be, 4);
	CHECK_EQ(decode_frame(LT_LOOP, b, 4 + sizeof ipv4_tcp, 0, 0, &p, &st), 0);
	expect_tcp(&p, "loop");

	/* raw IPv4 */
	CHECK_EQ(decode_frame(LT_RAW, ipv4_tcp, sizeof ipv4_tcp, 0, 0, &p, &st), 0);
	expect_tcp(&p, "raw");

	/* Linux SLL: packet type, ARPHRD_ETHER, addr len 6, addr, protocol */
	const uint8_t sll[16] = { 0, 0, 0, 1, 0, 6, 0, 0x80, 0xf4, 1, 2, 3, 0, 0, 0x08, 0x00 };
	memcpy(b, sll, 16);
	memcpy(b + 16, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_LINUX_SLL, b, 16 + sizeof ipv4_tcp, 0, 0, &p, &st), 0);
	expect_tcp(&p, "sll");
	CHECK(p.has_mac && p.src_mac[5] == 3);

	/* Linux SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, addr */
	const uint8_t sll2[20] = { 0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0x80, 0xf4, 4, 5, 6, 0, 0 };
	memcpy(b, sll2, 20);
	memcpy(b + 20, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_LINUX_SLL2, b, 20 + sizeof ipv4_tcp, 0, 0, &p, &st), 0);
	expect_tcp(&p, "sll2");
	CHECK(p.src_mac[5] == 6);
}

/* outer Ethernet + IPv4(GRE) + GRE header + inner */
static size_t gre_frame(uint8_t *b, uint16_t flags, uint16_t proto, const uint8_t *hdr, size_t hlen,
			const uint8_t *inner, size_t ilen)
{
	size_t n = eth(b, 0x0800);
	uint8_t *ip = b + n;
	size_t gre_len = 4 + ((flags & 0x1000) ? 4 : 0) + hlen + ilen;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + gre_len) >> 8);
	ip[3] = (uint8_t)(20 + gre_len);
	ip[8] = 64;
	ip[9] = 47;
	ip[12] = 192; ip[13] = 168; ip[14] = 0; ip[15] = 1;
	ip[16] = 192; ip[17] = 168; ip[18] = 0; ip[19] = 2;
	n += 20;
	b[n++] = (uint8_t)(flags >> 8);
	b[n++] = (uint8_t)flags;
	b[n++] = (uint8_t)(proto >> 8);
	b[n++] = (uint8_t)proto;
	if (flags & 0x1000) {
		memset(b + n, 0, 4);
		n += 4;
	}
	if (hlen)
		memcpy(b + n, hdr, hlen);
	n += hlen;
	memcpy(b + n, inner, ilen);
	return n + ilen;
}

static void test_tunnels(void)
{
	struct decode_stats st;
	memset(&st, 0, sizeof st);
	struct packet p;
	uint8_t inner[128], b[512];
	size_t in = eth(inner, 0x0800);
	memcpy(inner + in, ipv4_tcp, sizeof ipv4_tcp);
	in += sizeof ipv4_tcp;

	/* ERSPAN type II: GRE with sequence bit, 8-byte header with version 1 */
	const uint8_t e2[8] = { 0x10, 0x64, 0x00, 0x01, 0, 0, 0, 0 };
	size_t n = gre_frame(b, 0x1000, 0x88be, e2, sizeof e2, inner, in);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)n, 0, 0, &p, &st), 0);
	expect_tcp(&p, "erspan2");
	CHECK(p.src_mac[1] == 0x80); /* the mirrored frame's MACs */

	/* ERSPAN type III: 12-byte header version 2, with the O flag and 8-byte subheader */
	const uint8_t e3[20] = { 0x20, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8 };
	n = gre_frame(b, 0x1000, 0x22eb, e3, sizeof e3, inner, in);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)n, 0, 0, &p, &st), 0);
	expect_tcp(&p, "erspan3");

	/* plain GRE carrying Ethernet (transparent bridging) and IPv4 */
	n = gre_frame(b, 0, 0x6558, NULL, 0, inner, in);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)n, 0, 0, &p, &st), 0);
	expect_tcp(&p, "gre-teb");
	n = gre_frame(b, 0, 0x0800, NULL, 0, ipv4_tcp, sizeof ipv4_tcp);
	CHECK_EQ(decode_frame(LT_ETHERNET, b, (uint32_t)n, 0, 0, &p, &st), 0);
	expect_tcp(&p, "gre-ip");

	/* GRE inside GRE inside GRE ... stops at the depth limit without recursing forever */
	uint8_t deep[2048];
	size_t dn = sizeof ipv4_tcp;
	memcpy(deep, ipv4_tcp, dn);
	for (int i = 0; i < 8; i++) {
		uint8_t tmp[2048];
		size_t tn = gre_frame(tmp, 0, 0x0800, NULL, 0, deep, dn) - 14;
		memcpy(deep, tmp + 14, tn);
		dn = tn;
	}
	decode_frame(LT_RAW, deep, (uint32_t)dn, 0, 0, &p, &st);
	CHECK(p.tunnel_depth <= 3);
}

static void test_ipv6(void)
{
	struct decode_stats st;
	memset(&st, 0, sizeof st);
	struct packet p;
	uint8_t b[256];
	memset(b, 0, sizeof b);
	b[0] = 0x60;
	b[4] = 0;
	b[5] = 8 + 8 + 8 + 4; /* hop-by-hop + dest opts + UDP + 4 bytes */
	b[6] = 0;              /* next: hop-by-hop */
	b[7] = 64;
	b[23] = 1;
	b[39] = 2;
	uint8_t *x = b + 40;
	x[0] = 60; x[1] = 0;   /* hop-by-hop -> dest options, 8 bytes */
	x[8] = 17; x[9] = 0;   /* dest options -> UDP */
	uint8_t *u = x + 16;
	u[0] = 0xba; u[1] = 0xc0; u[2] = 0xba; u[3] = 0xc0; u[4] = 0; u[5] = 12;
	CHECK_EQ(decode_frame(LT_RAW, b, 40 + 16 + 12, 0, 0, &p, &st), 0);
	CHECK_EQ(p.ip_version, 6);
	CHECK_EQ(p.transport, TR_UDP);
	CHECK_EQ(p.sport, 47808);
	CHECK_EQ(p.payload_len, 4);
	/* a fragment header marks the packet as a fragment */
	x[8] = 44;
	x[16] = 17; x[18] = 0x00; x[19] = 0x01; /* offset 0, M flag */
	b[5] = 8 + 8 + 8 + 8;
	CHECK_EQ(decode_frame(LT_RAW, b, 40 + 16 + 8 + 8, 0, 0, &p, &st), 0);
	CHECK(p.fragment && p.frag_more && p.ip_proto == 17);
}

static void test_truncation_everywhere(void)
{
	/* every prefix of a tunnelled frame decodes without reading past it (ASan checks) */
	struct decode_stats st;
	memset(&st, 0, sizeof st);
	struct packet p;
	uint8_t inner[128], b[512];
	size_t in = eth(inner, 0x8100);
	inner[in++] = 0; inner[in++] = 5; inner[in++] = 0x08; inner[in++] = 0x00;
	memcpy(inner + in, ipv4_tcp, sizeof ipv4_tcp);
	in += sizeof ipv4_tcp;
	const uint8_t e2[8] = { 0x10, 0x64, 0x00, 0x01, 0, 0, 0, 0 };
	size_t n = gre_frame(b, 0x1000, 0x88be, e2, sizeof e2, inner, in);
	int complete = 0;
	for (size_t len = 0; len <= n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		if (decode_frame(LT_ETHERNET, copy, (uint32_t)len, 0, 0, &p, &st) == 0 && p.transport == TR_TCP &&
		    p.payload_len == 4)
			complete++;
		free(copy);
	}
	CHECK_EQ(complete, 1); /* only the whole frame has the whole payload */
	/* a bad IHL, a TCP data offset below 5 */
	uint8_t bad[sizeof ipv4_tcp];
	memcpy(bad, ipv4_tcp, sizeof bad);
	bad[0] = 0x43;
	CHECK_EQ(decode_frame(LT_RAW, bad, sizeof bad, 0, 0, &p, &st), -1);
	memcpy(bad, ipv4_tcp, sizeof bad);
	bad[32] = 0x20;
	decode_frame(LT_RAW, bad, sizeof bad, 0, 0, &p, &st);
	CHECK(p.transport != TR_TCP);
	CHECK_EQ(decode_frame(999, bad, sizeof bad, 0, 0, &p, &st), -1);
}

int main(void)
{
	test_link_types();
	test_tunnels();
	test_ipv6();
	test_truncation_everywhere();
	return check_done();
}
