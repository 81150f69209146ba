/*
 * test_iec104.c - IEC 60870-5-104 dissector through a real worker: I/S/U APDUs, ASDU
 * fields and IOA ranges, several APDUs per segment and one split over segments, command
 * events, malformed and maximum-length APDUs, junk before the start octet, heuristic
 * detection.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define RTU "10.0.0.10"
#define SCADA "10.0.0.20"

static uint32_t cseq, sseq;

static void to_rtu(struct th *t, const uint8_t *p, size_t n)
{
	th_tcp(t, SCADA, 40000, RTU, 2404, cseq, TCP_ACK | TCP_PSH, p, n);
	cseq += (uint32_t)n;
}

static void from_rtu(struct th *t, const uint8_t *p, size_t n)
{
	th_tcp(t, RTU, 2404, SCADA, 40000, sseq, TCP_ACK | TCP_PSH, p, n);
	sseq += (uint32_t)n;
}

static struct th *start(void)
{
	cseq = 1000;
	sseq = 5000;
	return th_new();
}

static const char *apci(const struct th_pdu *p)
{
	const char *s = th_pdu_s(p, "apci");
	return s ? s : "";
}

static void test_startdt_gi_and_data(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t startdt[] = { 0x68, 4, 0x07, 0, 0, 0 };
	const uint8_t startcon[] = { 0x68, 4, 0x0B, 0, 0, 0 };
	/* general interrogation, ca 1, ioa 0, QOI 20 */
	const uint8_t gi[] = { 0x68, 14, 0, 0, 0, 0, 100, 1, 6, 0, 1, 0, 0, 0, 0, 20 };
	/* M_ME_NB_1 (11), SQ, 3 objects from IOA 1000, cot 20, ca 1 */
	const uint8_t me[] = { 0x68, 22, 2, 0, 2, 0, 11, 0x83, 20, 0, 1, 0, 0xE8, 0x03, 0,
			       1, 0, 0, 2, 0, 0, 3, 0, 0 };
	/* M_SP_NA_1 spontaneous, two objects at IOA 7 and 3 */
	const uint8_t sp[] = { 0x68, 18, 4, 0, 2, 0, 1, 2, 3, 0, 1, 0, 7, 0, 0, 1, 3, 0, 0, 0 };
	const uint8_t s[] = { 0x68, 4, 0x01, 0, 6, 0 };
	to_rtu(t, startdt, sizeof startdt);
	from_rtu(t, startcon, sizeof startcon);
	to_rtu(t, gi, sizeof gi);
	/* two APDUs in one segment */
	uint8_t two[sizeof me + sizeof sp];
	memcpy(two, me, sizeof me);
	memcpy(two + sizeof me, sp, sizeof sp);
	from_rtu(t, two, sizeof two);
	to_rtu(t, s, sizeof s);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 6);
	const struct th_pdu *p0 = th_pdu_n(t, "iec104", 0);
	CHECK(!strcmp(apci(p0), "U"));
	CHECK(p0 && th_pdu_s(p0, "u_func") && !strcmp(th_pdu_s(p0, "u_func"), "STARTDT act"));
	uint64_t v = 0;
	CHECK(!th_pdu_u(p0, "typeid", &v));
	const struct th_pdu *g = th_pdu_n(t, "iec104", 2);
	CHECK(!strcmp(apci(g), "I"));
	CHECK(g && !strcmp(g->dir, "request"));
	CHECK(th_pdu_u(g, "typeid", &v) && v == 100);
	CHECK(th_pdu_u(g, "cot", &v) && v == 6);
	CHECK(th_pdu_u(g, "ca", &v) && v == 1);
	const struct th_pdu *m = th_pdu_n(t, "iec104", 3);
	CHECK(th_pdu_u(m, "typeid", &v) && v == 11);
	CHECK(th_pdu_u(m, "ioa_lo", &v) && v == 1000);
	CHECK(th_pdu_u(m, "ioa_hi", &v) && v == 1002);
	CHECK(th_pdu_u(m, "send_seq", &v) && v == 1);
	CHECK(m && m->frame == 4);
	const struct th_pdu *sp1 = th_pdu_n(t, "iec104", 4);
	CHECK(sp1 && !strcmp(sp1->dir, "event"));
	CHECK(th_pdu_u(sp1, "ioa_lo", &v) && v == 3);
	CHECK(th_pdu_u(sp1, "ioa_hi", &v) && v == 7);
	CHECK(!strcmp(apci(th_pdu_n(t, "iec104", 5)), "S"));
	bool gi_op = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_OPERATION && f->u.op.func == 100 && f->u.op.object == 1 && !f->u.op.is_write)
			gi_op = true;
	}
	CHECK(gi_op);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_commands(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* C_SC_NA_1 act at IOA 5000, ca 3 */
	const uint8_t sc[] = { 0x68, 14, 0, 0, 0, 0, 45, 1, 6, 0, 3, 0, 0x88, 0x13, 0, 0x81 };
	/* C_SE_NC_1 (50) float set point act */
	const uint8_t se[] = { 0x68, 18, 2, 0, 0, 0, 50, 1, 6, 0, 3, 0, 1, 0, 0, 0, 0, 0x80, 0x3F, 0 };
	/* C_CS_NA_1 clock sync */
	const uint8_t cs[] = { 0x68, 20, 4, 0, 0, 0, 103, 1, 6, 0, 3, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 24 };
	/* C_RP_NA_1 reset process */
	const uint8_t rp[] = { 0x68, 14, 6, 0, 0, 0, 105, 1, 6, 0, 3, 0, 0, 0, 0, 1 };
	/* C_DC_TA_1 (59) with time tag */
	const uint8_t dc[] = { 0x68, 21, 8, 0, 0, 0, 59, 1, 6, 0, 3, 0, 9, 0, 0, 1, 1, 2, 3, 4, 5, 6, 24 };
	/* activation confirmation back from the RTU: no event */
	const uint8_t con[] = { 0x68, 14, 0, 0, 2, 0, 45, 1, 7, 0, 3, 0, 0x88, 0x13, 0, 0x81 };
	to_rtu(t, sc, sizeof sc);
	to_rtu(t, se, sizeof se);
	to_rtu(t, cs, sizeof cs);
	to_rtu(t, rp, sizeof rp);
	to_rtu(t, dc, sizeof dc);
	from_rtu(t, con, sizeof con);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 6);
	const struct fact *c = th_event(t, EV_CONTROL);
	CHECK(c && c->u.event.subject == SUBJ_DST);
	CHECK(th_event(t, EV_TIME_SET) != NULL);
	CHECK(th_event(t, EV_DEVICE_RESTART) != NULL);
	size_t controls = 0;
	bool write_op = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_EVENT && f->u.event.ev == EV_CONTROL)
			controls++;
		if (f->type == FACT_OPERATION && f->u.op.func == 45 && f->u.op.is_write && f->u.op.object == 3 &&
		    f->u.op.has_range && f->u.op.addr_lo == 5000 && f->u.op.addr_hi == 5000)
			write_op = true;
	}
	CHECK_EQ(controls, 3);
	CHECK(write_op);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_split_segment(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t gi[] = { 0x68, 14, 0, 0, 0, 0, 100, 1, 6, 0, 1, 0, 0, 0, 0, 20 };
	to_rtu(t, gi, 1);
	to_rtu(t, gi + 1, 6);
	to_rtu(t, gi + 7, sizeof gi - 7);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 1);
	CHECK(th_pdu_n(t, "iec104", 0) && th_pdu_n(t, "iec104", 0)->frame == 3);
	th_free(t);
}

static void test_malformed(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* junk then an APDU with length 1; an I-format with only 2 ASDU octets; an ASDU whose
	 * objects do not fit; undefined type; U with two functions; S with a long length */
	const uint8_t a[] = { 0x02, 0x02, 0x68, 0x01, 0x12 };
	const uint8_t b[] = { 0x68, 6, 0, 0, 0, 0, 24, 24 };
	const uint8_t c[] = { 0x68, 14, 0, 0, 0, 0, 45, 2, 6, 0, 1, 0, 1, 0, 0, 1 };
	const uint8_t d[] = { 0x68, 13, 0, 0, 0, 0, 99, 1, 6, 0, 1, 0, 1, 0, 0 };
	const uint8_t e[] = { 0x68, 4, 0x0F, 0, 0, 0 };
	const uint8_t f[] = { 0x68, 5, 0x01, 0, 0, 0, 0 };
	to_rtu(t, a, sizeof a);
	to_rtu(t, b, sizeof b);
	to_rtu(t, c, sizeof c);
	to_rtu(t, d, sizeof d);
	to_rtu(t, e, sizeof e);
	to_rtu(t, f, sizeof f);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 6);
	const struct th_pdu *pa = th_pdu_n(t, "iec104", 0);
	uint64_t v = 0;
	CHECK(pa && !th_pdu_s(pa, "apci")); /* tshark shows an empty APDU too */
	const struct th_pdu *pb = th_pdu_n(t, "iec104", 1);
	CHECK(th_pdu_u(pb, "typeid", &v) && v == 24);
	CHECK(!th_pdu_u(pb, "cot", &v));
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 7);
	th_free(t);
}

static void test_maximum_length(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* 253 octets: 4 APCI + 6 ASDU header + 3 IOA + 240 octets of M_ME_NC_1 (5 each: 48) */
	uint8_t apdu[255];
	memset(apdu, 0, sizeof apdu);
	apdu[0] = 0x68;
	apdu[1] = 253;
	apdu[6] = 13;
	apdu[7] = 0x80 | 48;
	apdu[8] = 3;
	apdu[10] = 1;
	apdu[12] = 100;
	from_rtu(t, apdu, sizeof apdu);
	/* and an empty segment */
	from_rtu(t, apdu, 0);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 1);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "iec104", 0), "ioa_hi", &v) && v == 147);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_nonstandard_port(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t two[] = { 0x68, 4, 0x43, 0, 0, 0, 0x68, 4, 0x01, 0, 2, 0 };
	th_tcp(t, SCADA, 40001, RTU, 2405, 1, TCP_ACK | TCP_PSH, two, sizeof two);
	/* 0x68 followed by something that is not an APDU is left alone */
	const uint8_t nope[] = { 0x68, 4, 0x05, 0, 0, 0 };
	th_tcp(t, SCADA, 40002, RTU, 2406, 1, TCP_ACK | TCP_PSH, nope, sizeof nope);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "iec104"), 2);
	th_free(t);
}

int main(void)
{
	test_startdt_gi_and_data();
	test_commands();
	test_split_segment();
	test_malformed();
	test_maximum_length();
	test_nonstandard_port();
	return check_done();
}
