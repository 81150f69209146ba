/*
 * test_modbus.c - Modbus/TCP dissector through a real worker: fields, pairing,
 * exceptions, device identification, framing across and within segments, malformed
 * PDUs.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define PLC "10.0.0.10"
#define HMI "10.0.0.20"

static void test_read_pairing(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* FC3 read 10 registers at 100, unit 1, trans 7 */
	const uint8_t req[] = { 0, 7, 0, 0, 0, 6, 1, 3, 0, 100, 0, 10 };
	uint8_t resp[9 + 20] = { 0, 7, 0, 0, 0, 23, 1, 3, 20 };
	th_tcp(t, HMI, 40000, PLC, 502, 1000, TCP_SYN, NULL, 0);
	th_tcp(t, PLC, 502, HMI, 40000, 5000, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, HMI, 40000, PLC, 502, 1001, TCP_ACK | TCP_PSH, req, sizeof req);
	th_tcp(t, PLC, 502, HMI, 40000, 5001, TCP_ACK | TCP_PSH, resp, sizeof resp);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 2);
	const struct th_pdu *p = th_pdu_n(t, "modbus", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK(th_pdu_u(p, "func", &v) && v == 3);
	CHECK(th_pdu_u(p, "unit", &v) && v == 1);
	CHECK(th_pdu_u(p, "trans_id", &v) && v == 7);
	CHECK(th_pdu_u(p, "addr", &v) && v == 100);
	const struct th_pdu *r = th_pdu_n(t, "modbus", 1);
	CHECK(r && !strcmp(r->dir, "response"));
	CHECK(th_pdu_u(r, "qty", &v) && v == 10); /* learned from the paired request */
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && op->u.op.func == 3 && op->u.op.has_range && op->u.op.addr_lo == 100 && op->u.op.addr_hi == 109);
	CHECK(op && !op->u.op.is_write && op->src_is_client);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_exception_and_write(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t wr[] = { 0, 1, 0, 0, 0, 11, 1, 16, 0, 50, 0, 2, 4, 0, 1, 0, 2 };
	const uint8_t ex[] = { 0, 1, 0, 0, 0, 3, 1, 0x90, 2 };
	th_tcp(t, HMI, 40001, PLC, 502, 1, TCP_ACK | TCP_PSH, wr, sizeof wr);
	th_tcp(t, PLC, 502, HMI, 40001, 1, TCP_ACK | TCP_PSH, ex, sizeof ex);
	th_finish(t);
	const struct th_pdu *r = th_pdu_n(t, "modbus", 1);
	uint64_t v = 0;
	CHECK(th_pdu_u(r, "func", &v) && v == 16); /* without the exception bit, as tshark */
	CHECK(th_pdu_u(r, "exception", &v) && v == 2);
	bool saw_write = false, saw_exc = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type != FACT_OPERATION)
			continue;
		if (f->u.op.is_write && !f->u.op.is_response && f->u.op.addr_lo == 50 && f->u.op.addr_hi == 51)
			saw_write = true;
		if (f->u.op.exception && f->u.op.exc_code == 2)
			saw_exc = true;
	}
	CHECK(saw_write);
	CHECK(saw_exc);
	th_free(t);
}

static void test_segmentation(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* two requests in one segment, then one request split over three segments */
	const uint8_t two[] = { 0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1, 0, 2, 0, 0, 0, 6, 1, 4, 0, 0, 0, 1 };
	const uint8_t one[] = { 0, 3, 0, 0, 0, 6, 1, 1, 0, 8, 0, 16 };
	uint32_t seq = 100;
	th_tcp(t, HMI, 40002, PLC, 502, seq, TCP_ACK, two, sizeof two);
	seq += sizeof two;
	th_tcp(t, HMI, 40002, PLC, 502, seq, TCP_ACK, one, 3);
	th_tcp(t, HMI, 40002, PLC, 502, seq + 3, TCP_ACK, one + 3, 5);
	th_tcp(t, HMI, 40002, PLC, 502, seq + 8, TCP_ACK, one + 8, 4);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 3);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "modbus", 2), "trans_id", &v) && v == 3);
	CHECK_EQ(th_pdu_n(t, "modbus", 2)->frame, 4); /* completed by the last segment */
	th_free(t);
}

static void test_device_identification(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t req[] = { 0, 9, 0, 0, 0, 5, 1, 43, 14, 1, 0 };
	const uint8_t resp[] = { 0, 9, 0, 0, 0, 35, 1, 43, 14, 1, 1, 0, 0, 3,
				 0, 9, 'S', 'c', 'h', 'n', 'e', 'i', 'd', 'e', 'r',
				 1, 7, 'B', 'M', 'X', 'P', '3', '4', '2',
				 2, 5, 'v', '3', '.', '2', '0' };
	th_tcp(t, HMI, 40003, PLC, 502, 1, TCP_ACK, req, sizeof req);
	th_tcp(t, PLC, 502, HMI, 40003, 1, TCP_ACK, resp, sizeof resp);
	th_finish(t);
	const struct fact *v = th_fact(t, FACT_IDENTITY, "vendor");
	const struct fact *fw = th_fact(t, FACT_IDENTITY, "firmware");
	CHECK(v && !strcmp(v->u.id.value, "Schneider") && v->u.id.subject == SUBJ_SRC);
	CHECK(fw && !strcmp(fw->u.id.value, "v3.20"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_malformed(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* read with quantity 0; a truncated write multiple; a response with a lying byte count */
	const uint8_t q0[] = { 0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 0 };
	const uint8_t trunc[] = { 0, 2, 0, 0, 0, 7, 1, 16, 0, 0, 0, 2, 4 };
	const uint8_t bad_fc[] = { 0, 3, 0, 0, 0, 2, 1, 0x41 };
	th_tcp(t, HMI, 40004, PLC, 502, 1, TCP_ACK, q0, sizeof q0);
	th_tcp(t, HMI, 40004, PLC, 502, 1 + sizeof q0, TCP_ACK, trunc, sizeof trunc);
	th_tcp(t, HMI, 40004, PLC, 502, 1 + sizeof q0 + sizeof trunc, TCP_ACK, bad_fc, sizeof bad_fc);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 3);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 3);
	th_free(t);
}

static void test_nonstandard_port(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t req[] = { 0, 7, 0, 0, 0, 6, 1, 3, 0, 100, 0, 10 };
	th_tcp(t, HMI, 40005, PLC, 5020, 1, TCP_ACK | TCP_PSH, req, sizeof req);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "modbus"), 1); /* found by the heuristic */
	th_free(t);
}

static void test_umas_stop(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t stop[] = { 0, 1, 0, 0, 0, 4, 0, 90, 0x12, 0x41 };
	th_tcp(t, HMI, 40006, PLC, 502, 1, TCP_ACK | TCP_PSH, stop, sizeof stop);
	th_finish(t);
	const struct fact *e = th_event(t, EV_PLC_STOP);
	CHECK(e && e->u.event.subject == SUBJ_DST);
	th_free(t);
}

int main(void)
{
	test_read_pairing();
	test_exception_and_write();
	test_segmentation();
	test_device_identification();
	test_malformed();
	test_nonstandard_port();
	test_umas_stop();
	return check_done();
}
