/*
 * test_fins_hart.c - OMRON FINS (UDP and FINS/TCP) and HART-IP dissectors through a
 * real worker: commands, events, identity from controller data / command 0,
 * segmentation, the probes, malformed messages.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define PLC "10.0.0.10"
#define HMI "10.0.0.20"

static size_t fins_udp(uint8_t *b, bool resp, uint16_t cmd, const uint8_t *par, size_t n)
{
	const uint8_t h[] = { resp ? 0xc0 : 0x80, 0, 2, 0, 10, 0, 0, 20, 0, 7, (uint8_t)(cmd >> 8), (uint8_t)cmd };
	memcpy(b, h, sizeof h);
	if (n)
		memcpy(b + sizeof h, par, n);
	return sizeof h + n;
}

static void test_fins_udp(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[200];
	const uint8_t none[1] = { 0 };
	th_udp(t, HMI, 40000, PLC, 9600, b, fins_udp(b, false, 0x0402, none, 0));
	th_udp(t, HMI, 40000, PLC, 9600, b, fins_udp(b, false, 0x0401, (const uint8_t[]){ 0xff, 0xff, 2 }, 3));
	th_udp(t, HMI, 40000, PLC, 9600, b, fins_udp(b, false, 0x0307, (const uint8_t[]){ 0xff, 0xff, 0, 0 }, 4));
	th_udp(t, HMI, 40000, PLC, 9600, b, fins_udp(b, false, 0x0306, (const uint8_t[]){ 0xff, 0xff, 0, 0 }, 4));
	th_udp(t, HMI, 40000, PLC, 9600, b, fins_udp(b, false, 0x0702, (const uint8_t[]){ 0x26, 1, 1 }, 3));
	/* memory area write DM 100, 2 words */
	th_udp(t, HMI, 40000, PLC, 9600, b,
	       fins_udp(b, false, 0x0102, (const uint8_t[]){ 0x82, 0, 100, 0, 0, 2, 0, 1, 0, 2 }, 10));
	/* controller data read response */
	uint8_t cd[2 + 40];
	memset(cd, 0, sizeof cd);
	memcpy(cd + 2, "CJ2M-CPU33", 10);
	memcpy(cd + 22, "02.01", 5);
	th_udp(t, PLC, 9600, HMI, 40000, b, fins_udp(b, true, 0x0501, cd, sizeof cd));
	/* an error response */
	th_udp(t, PLC, 9600, HMI, 40000, b, fins_udp(b, true, 0x0102, (const uint8_t[]){ 0x11, 0x01 }, 2));
	/* truncated: no command code */
	th_udp(t, HMI, 40000, PLC, 9600, b, 9);
	/* the probe on another port */
	th_udp(t, HMI, 40001, PLC, 19600, b, fins_udp(b, false, 0x0101, (const uint8_t[]){ 0x82, 0, 0, 0, 0, 1 }, 6));
	th_finish(t);

	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "fins", 0);
	CHECK(p && !strcmp(p->dir, "request") && th_pdu_u(p, "command", &v) && v == 0x0402);
	CHECK(th_event(t, EV_PLC_STOP) != NULL);
	CHECK(th_event(t, EV_PLC_START) != NULL);
	CHECK(th_event(t, EV_PROGRAM_DOWNLOAD) != NULL);
	CHECK(th_event(t, EV_PROGRAM_UPLOAD) != NULL);
	const struct fact *e = th_event(t, EV_TIME_SET);
	CHECK(e && e->u.event.subject == SUBJ_DST);
	const struct fact *m = th_fact(t, FACT_IDENTITY, "model");
	CHECK(m && !strcmp(m->u.id.value, "CJ2M-CPU33") && m->u.id.subject == SUBJ_SRC);
	m = th_fact(t, FACT_IDENTITY, "firmware");
	CHECK(m && !strcmp(m->u.id.value, "02.01"));
	bool saw_write = false, saw_exc = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type != FACT_OPERATION)
			continue;
		if (f->u.op.func == 0x0102 && f->u.op.is_write && !f->u.op.is_response && f->u.op.has_range &&
		    f->u.op.addr_lo == 100 && f->u.op.addr_hi == 101)
			saw_write = true;
		if (f->u.op.func == 0x0102 && f->u.op.is_response && f->u.op.exception)
			saw_exc = true;
	}
	CHECK(saw_write);
	CHECK(saw_exc);
	CHECK_EQ(th_count_pdus(t, "fins"), 10);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 1);
	p = th_pdu_n(t, "fins", 9);
	CHECK(p && th_pdu_u(p, "command", &v) && v == 0x0101);
	th_free(t);
}

static void test_fins_tcp(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t node[] = { 'F', 'I', 'N', 'S', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t frame[] = { 'F', 'I', 'N', 'S', 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 0,
				  0x80, 0, 2, 0, 10, 0, 0, 20, 0, 1, 0x04, 0x02 };
	th_tcp(t, HMI, 40002, PLC, 9600, 1, TCP_ACK | TCP_PSH, node, sizeof node);
	/* the frame split in two segments */
	th_tcp(t, HMI, 40002, PLC, 9600, 1 + sizeof node, TCP_ACK | TCP_PSH, frame, 10);
	th_tcp(t, HMI, 40002, PLC, 9600, 1 + sizeof node + 10, TCP_ACK | TCP_PSH, frame + 10, sizeof frame - 10);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "fins"), 2);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "fins", 0);
	CHECK(p && th_pdu_u(p, "tcp_command", &v) && v == 0 && !th_pdu_u(p, "command", &v));
	p = th_pdu_n(t, "fins", 1);
	CHECK(p && th_pdu_u(p, "command", &v) && v == 0x0402 && p->frame == 3);
	CHECK(th_event(t, EV_PLC_STOP) != NULL);
	th_free(t);
}

static size_t hart(uint8_t *b, uint8_t type, uint8_t id, uint16_t seq, const uint8_t *body, size_t n)
{
	size_t len = 8 + n;
	const uint8_t h[] = { 1, type, id, 0, (uint8_t)(seq >> 8), (uint8_t)seq, (uint8_t)(len >> 8), (uint8_t)len };
	memcpy(b, h, sizeof h);
	if (n)
		memcpy(b + 8, body, n);
	return len;
}

static void test_hart(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[200];
	th_udp(t, HMI, 40000, PLC, 5094, b, hart(b, 0, 0, 1, (const uint8_t[]){ 1, 0, 0, 0xea, 0x60 }, 5));
	/* command 0 request (short address 0) and its HART 7 response */
	th_udp(t, HMI, 40000, PLC, 5094, b, hart(b, 0, 3, 2, (const uint8_t[]){ 0x02, 0x80, 0, 0, 0x82 }, 5));
	const uint8_t r0[] = { 0x06, 0x80, 0, 24, 0, 0x50, 254, 0x26, 0x4e, 5, 7, 1, 1, 0x08, 0, 0, 0, 0xd2,
			       5, 0, 0, 0, 0, 0x00, 0x26, 0, 0, 0, 0x99 };
	th_udp(t, PLC, 5094, HMI, 40000, b, hart(b, 1, 3, 2, r0, sizeof r0));
	/* command 42 device reset, long address */
	th_udp(t, HMI, 40000, PLC, 5094, b,
	       hart(b, 0, 3, 3, (const uint8_t[]){ 0x82, 0xa6, 0x4e, 0, 0, 0xd2, 42, 0, 0x11 }, 9));
	/* pass-through byte count beyond the message */
	th_udp(t, HMI, 40000, PLC, 5094, b, hart(b, 0, 3, 4, (const uint8_t[]){ 0x02, 0x80, 1, 50, 0 }, 5));
	/* header byte count larger than the datagram */
	hart(b, 0, 2, 5, NULL, 0);
	b[7] = 200;
	th_udp(t, HMI, 40000, PLC, 5094, b, 8);
	th_udp(t, HMI, 40000, PLC, 5094, b, 3); /* truncated header */
	/* the probe: a keep alive on another port, and TCP framing */
	th_udp(t, HMI, 40001, PLC, 5095, b, hart(b, 0, 2, 6, NULL, 0));
	uint8_t two[26];
	size_t n1 = hart(two, 0, 2, 7, NULL, 0);
	size_t n2 = hart(two + n1, 0, 1, 8, NULL, 0);
	th_tcp(t, HMI, 40002, PLC, 5094, 1, TCP_ACK | TCP_PSH, two, n1 + n2);
	th_finish(t);

	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "hart_ip", 0);
	CHECK(p && !strcmp(p->dir, "request") && th_pdu_u(p, "msg_id", &v) && v == 0);
	p = th_pdu_n(t, "hart_ip", 2);
	CHECK(p && !strcmp(p->dir, "response") && th_pdu_u(p, "msg_id", &v) && v == 3);
	CHECK(p && th_pdu_u(p, "command", &v) && v == 0);
	const struct fact *f = th_fact(t, FACT_IDENTITY, "product_code");
	CHECK(f && !strcmp(f->u.id.value, "0x264e") && f->u.id.subject == SUBJ_SRC);
	f = th_fact(t, FACT_IDENTITY, "vendor");
	CHECK(f && strstr(f->u.id.value, "0x26"));
	const struct fact *e = th_event(t, EV_DEVICE_RESTART);
	CHECK(e && e->u.event.subject == SUBJ_DST);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 2);
	CHECK_EQ(th_count_pdus(t, "hart_ip"), 9);
	p = th_pdu_n(t, "hart_ip", 6);
	CHECK(p && th_pdu_u(p, "msg_id", &v) && v == 2);
	p = th_pdu_n(t, "hart_ip", 8);
	CHECK(p && th_pdu_u(p, "msg_id", &v) && v == 1);
	th_free(t);
}

int main(void)
{
	test_fins_udp();
	test_fins_tcp();
	test_hart();
	return check_done();
}
