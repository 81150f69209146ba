/*
 * test_l2ics.c - the layer-2 ICS dissectors through a real worker: IEC 61850 GOOSE
 * (fields, padding, malformed BER, bad lengths) and PROFINET DCP (services, identity
 * blocks, Set events, malformed blocks).
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

static const uint8_t goose_mc[6] = { 0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01 };
static const uint8_t dcp_mc[6] = { 0x01, 0x0e, 0xcf, 0x00, 0x00, 0x00 };

/* a GOOSE frame: header, then 0x61 PDU with gocbRef, ttl, datSet, goID, t, stNum, sqNum,
 * test, confRev, ndsCom, numDatSetEntries, allData(2 booleans) */
static size_t goose_frame(uint8_t *b, const char *ref, uint8_t st_hi, uint8_t st_lo, uint8_t sq)
{
	uint8_t pdu[200];
	size_t n = 0, rl = strlen(ref);
	pdu[n++] = 0x80; pdu[n++] = (uint8_t)rl; memcpy(pdu + n, ref, rl); n += rl;
	const uint8_t rest[] = { 0x81, 0x02, 0x07, 0xd0, 0x82, 0x03, 'D', 'S', '1', 0x83, 0x03, 'G', 'O', '1',
				 0x84, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x85, 0x03, 0x00, st_hi, st_lo, 0x86, 0x01, sq,
				 0x87, 0x01, 0x00, 0x88, 0x01, 0x01, 0x89, 0x01, 0x00, 0x8a, 0x01, 0x02,
				 0xab, 0x06, 0x83, 0x01, 0x01, 0x83, 0x01, 0x00 };
	memcpy(pdu + n, rest, sizeof rest);
	n += sizeof rest;
	size_t total = 8 + 2 + n;
	b[0] = 0x30; b[1] = 0x01; b[2] = (uint8_t)(total >> 8); b[3] = (uint8_t)total;
	b[4] = b[5] = b[6] = b[7] = 0;
	b[8] = 0x61; b[9] = (uint8_t)n;
	memcpy(b + 10, pdu, n);
	return total;
}

static void test_goose(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[300];
	size_t n = goose_frame(b, "IED1LD0/LLN0$GO$gcb1", 0x01, 0x02, 7);
	memset(b + n, 0, 20); /* Ethernet padding after the GOOSE length */
	th_l2(t, goose_mc, 0x88b8, b, n + 20);
	/* malformed BER: the PDU length runs past the frame */
	n = goose_frame(b, "IED1LD0/LLN0$GO$gcb1", 0, 1, 0);
	b[9] = 0x7f;
	th_l2(t, goose_mc, 0x88b8, b, n);
	/* a length field larger than the frame */
	n = goose_frame(b, "X/Y", 0, 1, 0);
	b[3] = 0xff;
	th_l2(t, goose_mc, 0x88b8, b, n);
	/* truncated header, zero-length frame */
	th_l2(t, goose_mc, 0x88b8, b, 5);
	th_l2(t, goose_mc, 0x88b8, b, 0);
	th_finish(t);

	const struct th_pdu *p = th_pdu_n(t, "goose", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "event"));
	CHECK(p && !strcmp(th_pdu_s(p, "gocb_ref"), "IED1LD0/LLN0$GO$gcb1"));
	CHECK(p && th_pdu_u(p, "st_num", &v) && v == 0x0102);
	CHECK(p && th_pdu_u(p, "sq_num", &v) && v == 7);
	CHECK(p && th_pdu_u(p, "appid", &v) && v == 0x3001);
	CHECK(p && th_pdu_u(p, "ttl", &v) && v == 2000);
	CHECK(p && th_pdu_u(p, "n_data", &v) && v == 2);
	CHECK(p && !strcmp(th_pdu_s(p, "dat_set"), "DS1"));
	const struct fact *id = th_fact(t, FACT_IDENTITY, "name");
	CHECK(id && !strcmp(id->u.id.value, "IED1LD0") && id->u.id.subject == SUBJ_SRC);
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && op->u.op.object == 0x3001 && !op->u.op.is_write);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 3);
	th_free(t);
}

static void test_dcp(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* Identify response: vendor "S7", name "plc-1" (odd: padded), device id, role, IP */
	const uint8_t ident[] = { 0xfe, 0xff, 5, 1, 0, 0, 0, 9, 0, 0, 0, 56,
				  2, 1, 0, 4, 0, 0, 'S', '7',
				  2, 2, 0, 7, 0, 0, 'p', 'l', 'c', '-', '1', 0,
				  2, 3, 0, 6, 0, 0, 0, 0x2a, 0x01, 0x0a,
				  2, 4, 0, 4, 0, 0, 0x01, 0,
				  1, 2, 0, 14, 0, 1, 192, 168, 0, 6, 255, 255, 255, 0, 192, 168, 0, 1,
				  0, 0, 0, 0 };
	th_l2(t, dcp_mc, 0x8892, ident, sizeof ident);
	/* Set IP request */
	const uint8_t setip[] = { 0xfe, 0xfd, 4, 0, 0, 0, 0, 10, 0, 0, 0, 18,
				  1, 2, 0, 14, 0, 1, 192, 168, 0, 10, 255, 255, 255, 0, 192, 168, 0, 1 };
	th_l2(t, dcp_mc, 0x8892, setip, sizeof setip);
	/* Set reset to factory */
	const uint8_t reset[] = { 0xfe, 0xfd, 4, 0, 0, 0, 0, 11, 0, 0, 0, 6, 5, 6, 0, 2, 0, 4 };
	th_l2(t, dcp_mc, 0x8892, reset, sizeof reset);
	/* cyclic RT data: not DCP, ignored */
	const uint8_t rt[] = { 0x80, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	th_l2(t, dcp_mc, 0x8892, rt, sizeof rt);
	/* a block whose length runs past the data */
	const uint8_t bad[] = { 0xfe, 0xff, 5, 1, 0, 0, 0, 12, 0, 0, 0, 8, 2, 2, 0, 40, 0, 0, 'x', 'y' };
	th_l2(t, dcp_mc, 0x8892, bad, sizeof bad);
	/* data length beyond the frame, and a truncated header */
	const uint8_t big[] = { 0xfe, 0xfe, 5, 0, 0, 0, 0, 13, 0, 0, 0xff, 0xff };
	th_l2(t, dcp_mc, 0x8892, big, sizeof big);
	th_l2(t, dcp_mc, 0x8892, big, 5);
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "profinet_dcp"), 5); /* the 5-byte frame makes none */
	const struct th_pdu *p = th_pdu_n(t, "profinet_dcp", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "response") && th_pdu_u(p, "service", &v) && v == 5);
	CHECK(p && th_pdu_u(p, "blocks", &v) && v == 5);
	CHECK(p && !strcmp(th_pdu_s(p, "name_of_station"), "plc-1"));
	const struct fact *f = th_fact(t, FACT_IDENTITY, "hostname");
	CHECK(f && !strcmp(f->u.id.value, "plc-1") && f->u.id.subject == SUBJ_SRC);
	f = th_fact(t, FACT_IDENTITY, "vendor");
	CHECK(f && !strcmp(f->u.id.value, "S7"));
	f = th_fact(t, FACT_IDENTITY, "product_code");
	CHECK(f && !strcmp(f->u.id.value, "0x002a:0x010a"));
	f = th_fact(t, FACT_IDENTITY, "role");
	CHECK(f && !strcmp(f->u.id.value, "io-device"));
	f = th_fact(t, FACT_IDENTITY, "ip");
	CHECK(f && !strcmp(f->u.id.value, "192.168.0.6"));
	p = th_pdu_n(t, "profinet_dcp", 1);
	CHECK(p && !strcmp(p->dir, "request") && th_pdu_u(p, "service", &v) && v == 4);
	const struct fact *e = th_event(t, EV_CONFIG_CHANGE);
	CHECK(e && e->u.event.subject == SUBJ_DST && strstr(e->u.event.detail, "192.168.0.10"));
	CHECK(th_event(t, EV_DEVICE_RESTART) != NULL);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 3);
	th_free(t);
}

int main(void)
{
	test_goose();
	test_dcp();
	return check_done();
}
