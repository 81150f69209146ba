/*
 * test_stream.c - TCP reassembly and framing through a real worker: out of order,
 * retransmission, overlap, gaps, mid-stream pickup, sequence wrap, PDUs larger than a
 * segment, and IPv4 fragments.
 *
 * Must never: pass without counting the PDUs that came out.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define C "10.1.0.20"
#define S "10.1.0.10"

/* a Modbus read request with transaction id tid */
static void req(uint8_t *b, uint16_t tid)
{
	const uint8_t r[12] = { (uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1 };
	memcpy(b, r, 12);
}

static uint64_t tid_of(struct th *t, size_t i)
{
	uint64_t v = 0;
	th_pdu_u(th_pdu_n(t, "modbus", i), "trans_id", &v);
	return v;
}

static void test_out_of_order(void)
{
	struct th *t = th_new();
	uint8_t a[12], b[12], c[12];
	req(a, 1);
	req(b, 2);
	req(c, 3);
	th_tcp(t, C, 1000, S, 502, 0, TCP_SYN, NULL, 0);
	th_tcp(t, C, 1000, S, 502, 1 + 24, TCP_ACK, c, 12); /* third first */
	th_tcp(t, C, 1000, S, 502, 1 + 12, TCP_ACK, b, 12);
	CHECK_EQ(th_count_pdus(t, "modbus"), 0);            /* nothing before the hole is filled */
	th_tcp(t, C, 1000, S, 502, 1, TCP_ACK, a, 12);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 3);
	CHECK_EQ(tid_of(t, 0), 1);
	CHECK_EQ(tid_of(t, 1), 2);
	CHECK_EQ(tid_of(t, 2), 3);
	CHECK_EQ(t->w.ft.st.tcp_ooo, 2);
	th_free(t);
}

static void test_retransmission_and_overlap(void)
{
	struct th *t = th_new();
	uint8_t two[24];
	req(two, 1);
	req(two + 12, 2);
	th_tcp(t, C, 1001, S, 502, 100, TCP_ACK, two, 12);
	th_tcp(t, C, 1001, S, 502, 100, TCP_ACK, two, 12);       /* exact retransmission */
	th_tcp(t, C, 1001, S, 502, 106, TCP_ACK, two + 6, 18);   /* overlaps 6 old bytes */
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 2);
	CHECK_EQ(tid_of(t, 1), 2);
	CHECK_EQ(t->w.ft.st.tcp_retrans, 1);
	CHECK_EQ(t->w.ft.st.tcp_overlap, 1);
	th_free(t);
}

static void test_gap_resync(void)
{
	struct th *t = th_new();
	uint8_t a[12], b[12], c[12];
	req(a, 1);
	req(b, 2);
	req(c, 3);
	th_tcp(t, C, 1002, S, 502, 0, TCP_ACK, a, 6);           /* half a PDU ... */
	/* ... the rest is never captured; later segments keep coming */
	for (int i = 0; i < 10; i++) {
		req(c, (uint16_t)(10 + i));
		th_tcp(t, C, 1002, S, 502, (uint32_t)(100 + 12 * i), TCP_ACK, c, 12);
	}
	th_finish(t);
	/* the half PDU is dropped, the ten after the gap are all parsed, the first marked */
	CHECK_EQ(th_count_pdus(t, "modbus"), 10);
	const struct th_pdu *p = th_pdu_n(t, "modbus", 0);
	CHECK(p && p->after_gap);
	CHECK_EQ(tid_of(t, 0), 10);
	CHECK(t->w.ft.st.tcp_gaps >= 1);
	th_free(t);
}

static void test_midstream_and_wrap(void)
{
	struct th *t = th_new();
	uint8_t a[12], b[12];
	req(a, 5);
	req(b, 6);
	/* no handshake; sequence numbers wrap inside the second PDU */
	uint32_t seq = 0xfffffff8u;
	th_tcp(t, C, 1003, S, 502, seq, TCP_ACK, a, 12);
	th_tcp(t, C, 1003, S, 502, seq + 12, TCP_ACK, b, 12);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 2);
	CHECK_EQ(tid_of(t, 1), 6);
	th_free(t);
}

static void test_zero_length_and_fin(void)
{
	struct th *t = th_new();
	uint8_t a[12];
	req(a, 9);
	th_tcp(t, C, 1004, S, 502, 1, TCP_ACK, NULL, 0);
	th_tcp(t, C, 1004, S, 502, 1, TCP_ACK, a, 5);
	th_tcp(t, C, 1004, S, 502, 6, TCP_ACK | TCP_FIN, a + 5, 7);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 1);
	th_free(t);
}

static void test_ipv4_fragments(void)
{
	/* a TCP segment with a Modbus PDU, split into two IPv4 fragments, second first */
	struct th *t = th_new();
	uint8_t seg[20 + 12];
	memset(seg, 0, sizeof seg);
	seg[0] = 0x03; seg[1] = 0xec; seg[2] = 0x01; seg[3] = 0xf6; /* 1004 -> 502 */
	seg[7] = 1;
	seg[12] = 0x50;
	seg[13] = TCP_ACK;
	req(seg + 20, 77);
	uint8_t f1[14 + 20 + 16], f2[14 + 20 + 16];
	const uint8_t hdr[14] = { 0, 0x80, 0xf4, 1, 0, 10, 0, 0x80, 0xf4, 1, 0, 20, 0x08, 0x00 };
	const uint8_t ip[20] = { 0x45, 0, 0, 36, 0x12, 0x34, 0x20, 0x00, 64, 6, 0, 0, 10, 1, 0, 20, 10, 1, 0, 10 };
	memcpy(f1, hdr, 14);
	memcpy(f1 + 14, ip, 20);
	memcpy(f1 + 34, seg, 16);       /* offset 0, MF, 16 bytes */
	memcpy(f2, hdr, 14);
	memcpy(f2 + 14, ip, 20);
	f2[14 + 3] = 36;
	f2[14 + 6] = 0x00;
	f2[14 + 7] = 0x02;              /* offset 16 bytes, last */
	memcpy(f2 + 34, seg + 16, 16);
	th_frame(t, LT_ETHERNET, f2, sizeof f2);
	th_frame(t, LT_ETHERNET, f1, sizeof f1);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 1);
	CHECK_EQ(tid_of(t, 0), 77);
	CHECK_EQ(t->w.frag.st.reassembled, 1);
	th_free(t);
}

static void test_flow_cap(void)
{
	/* more flows than the table holds: oldest evicted and counted, nothing breaks */
	struct th *t = th_new();
	uint8_t a[12];
	req(a, 1);
	for (int i = 0; i < 5000; i++)
		th_tcp(t, C, (uint16_t)(2000 + i), S, 502, 1, TCP_ACK, a, 12);
	th_finish(t);
	CHECK_EQ(t->w.nprotos, 1);
	CHECK_EQ(t->w.protos[0].pdus, 5000); /* the worker's own count (the harness keeps 4096) */
	CHECK(t->w.ft.st.evicted >= 5000 - 4096);
	CHECK(t->w.ft.active == 0);
	th_free(t);
}

int main(void)
{
	test_out_of_order();
	test_retransmission_and_overlap();
	test_gap_resync();
	test_midstream_and_wrap();
	test_zero_length_and_fin();
	test_ipv4_fragments();
	test_flow_cap();
	return check_done();
}
