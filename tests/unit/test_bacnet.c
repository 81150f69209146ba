/*
 * test_bacnet.c - BACnet/IP dissector through a real worker: BVLC functions, NPDU
 * routing fields and network layer messages, every APDU type, I-Am and device property
 * identity, the operational events, and malformed input.
 *
 * Must never: pass without having looked at a record or a fact.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define DEV "10.0.2.10"
#define WS "10.0.2.20"

/* BVLC Original-Unicast-NPDU around an NPDU (version 1, control ctl) and an APDU */
static size_t bvlc(uint8_t *b, uint8_t func, uint8_t ctl, const uint8_t *apdu, size_t n)
{
	b[0] = 0x81;
	b[1] = func;
	b[4] = 1;
	b[5] = ctl;
	if (n)
		memcpy(b + 6, apdu, n);
	size_t len = 6 + n;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	return len;
}

static void bsend(struct th *t, bool from_ws, const uint8_t *b, size_t n)
{
	if (from_ws)
		th_udp(t, WS, 47808, DEV, 47808, b, n);
	else
		th_udp(t, DEV, 47808, WS, 47808, b, n);
}

static void test_apdu_types(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[128];
	/* ReadProperty device,1234 object-name (confirmed request) */
	const uint8_t rp[] = { 0x00, 0x05, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x04, 0xd2, 0x19, 0x4d };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, rp, sizeof rp));
	/* ComplexACK with object-name "AHU-1" */
	const uint8_t ack[] = { 0x30, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x04, 0xd2, 0x19, 0x4d, 0x3e,
				0x75, 0x06, 0x00, 'A', 'H', 'U', '-', '1', 0x3f };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, ack, sizeof ack));
	/* SimpleACK to WriteProperty, Error, Reject, Abort, SegmentACK */
	const uint8_t sack[] = { 0x20, 0x02, 0x0f };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, sack, sizeof sack));
	const uint8_t err[] = { 0x50, 0x03, 0x0c, 0x91, 0x02, 0x91, 0x20 };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, err, sizeof err));
	const uint8_t rej[] = { 0x60, 0x04, 0x09 };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, rej, sizeof rej));
	const uint8_t ab[] = { 0x71, 0x05, 0x04 };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, ab, sizeof ab));
	const uint8_t seg[] = { 0x40, 0x06, 0x01, 0x04 };
	bsend(t, true, b, bvlc(b, 0x0a, 0x00, seg, sizeof seg));
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "bacnet"), 7);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "bacnet", 0);
	CHECK(p && th_pdu_u(p, "bvlc_func", &v) && v == 0x0a);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 0);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 12);
	p = th_pdu_n(t, "bacnet", 1);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 3 && th_pdu_u(p, "service", &v) && v == 12);
	p = th_pdu_n(t, "bacnet", 2);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 2 && th_pdu_u(p, "service", &v) && v == 15);
	p = th_pdu_n(t, "bacnet", 3);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 5 && th_pdu_u(p, "service", &v) && v == 12);
	p = th_pdu_n(t, "bacnet", 4);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 6 && !th_pdu_u(p, "service", &v));
	p = th_pdu_n(t, "bacnet", 5);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 7 && !th_pdu_u(p, "service", &v));
	p = th_pdu_n(t, "bacnet", 6);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 4 && !th_pdu_u(p, "service", &v));
	const struct fact *f = th_fact(t, FACT_IDENTITY, "name");
	CHECK(f && !strcmp(f->u.id.value, "AHU-1") && f->u.id.subject == SUBJ_SRC);
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && op->u.op.func == 12 && op->u.op.object == 8 && op->u.op.has_range && op->u.op.addr_lo == 1234);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_i_am_and_rpm(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[160];
	/* I-Am device 260001, max APDU 1476, segmentation none (3), vendor 5 */
	const uint8_t iam[] = { 0x10, 0x00, 0xc4, 0x02, 0x03, 0xf7, 0xa1, 0x22, 0x05, 0xc4, 0x91, 0x03, 0x21, 0x05 };
	bsend(t, false, b, bvlc(b, 0x0b, 0x00, iam, sizeof iam));
	/* ReadPropertyMultiple ACK: device 7, model-name (UCS-2 "NAE"), firmware-revision "9.0" */
	const uint8_t rpm[] = { 0x30, 0x09, 0x0e, 0x0c, 0x02, 0x00, 0x00, 0x07, 0x1e,
				0x29, 0x46, 0x4e, 0x75, 0x07, 0x04, 0x00, 'N', 0x00, 'A', 0x00, 'E', 0x4f,
				0x29, 0x2c, 0x4e, 0x75, 0x04, 0x00, '9', '.', '0', 0x4f,
				0x29, 0x79, 0x5e, 0x91, 0x02, 0x91, 0x20, 0x5f,
				0x1f };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, rpm, sizeof rpm));
	th_finish(t);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "bacnet", 0);
	CHECK(p && th_pdu_u(p, "bvlc_func", &v) && v == 0x0b);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 1 && th_pdu_u(p, "service", &v) && v == 0);
	const struct fact *f = th_fact(t, FACT_IDENTITY, "device_instance");
	CHECK(f && !strcmp(f->u.id.value, "260001"));
	f = th_fact(t, FACT_IDENTITY, "max_apdu");
	CHECK(f && !strcmp(f->u.id.value, "1476"));
	f = th_fact(t, FACT_IDENTITY, "segmentation");
	CHECK(f && !strcmp(f->u.id.value, "none"));
	f = th_fact(t, FACT_IDENTITY, "vendor");
	CHECK(f && !strcmp(f->u.id.value, "Johnson Controls"));
	f = th_fact(t, FACT_IDENTITY, "model");
	CHECK(f && !strcmp(f->u.id.value, "NAE"));
	f = th_fact(t, FACT_IDENTITY, "firmware");
	CHECK(f && !strcmp(f->u.id.value, "9.0"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_events(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[128];
	/* ReinitializeDevice warmstart */
	const uint8_t reinit[] = { 0x00, 0x05, 0x10, 0x14, 0x09, 0x01 };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, reinit, sizeof reinit));
	/* DeviceCommunicationControl duration 5, disable */
	const uint8_t dcc[] = { 0x00, 0x05, 0x11, 0x11, 0x09, 0x05, 0x19, 0x01 };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, dcc, sizeof dcc));
	/* WriteProperty analog-value,3 present-value 42.0 */
	const uint8_t wp[] = { 0x00, 0x05, 0x12, 0x0f, 0x0c, 0x00, 0x80, 0x00, 0x03, 0x19, 0x55, 0x3e,
			       0x44, 0x42, 0x28, 0x00, 0x00, 0x3f };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, wp, sizeof wp));
	/* AtomicWriteFile file,1 */
	const uint8_t awf[] = { 0x00, 0x05, 0x13, 0x07, 0xc4, 0x02, 0x80, 0x00, 0x01, 0x0e, 0x31, 0x00,
				0x62, 0x41, 0x42, 0x0f };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, awf, sizeof awf));
	/* UTC time synchronization (unconfirmed, broadcast) */
	const uint8_t ts[] = { 0x10, 0x09, 0xa4, 0x7c, 0x05, 0x11, 0x04, 0xb4, 0x0c, 0x1e, 0x00, 0x00 };
	bsend(t, true, b, bvlc(b, 0x0b, 0x00, ts, sizeof ts));
	th_finish(t);
	const struct fact *e = th_event(t, EV_DEVICE_RESTART);
	CHECK(e && strstr(e->u.event.detail, "warmstart") && e->u.event.subject == SUBJ_DST);
	e = th_event(t, EV_CONFIG_CHANGE);
	CHECK(e && strstr(e->u.event.detail, "disable"));
	CHECK(th_event(t, EV_FILE_TRANSFER) != NULL);
	CHECK(th_event(t, EV_TIME_SET) != NULL);
	bool write = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_OPERATION && f->u.op.func == 15 && f->u.op.is_write && f->u.op.object == 2 &&
		    f->u.op.addr_lo == 3)
			write = true;
	}
	CHECK(write);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_bvlc_and_network(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t rdbt[] = { 0x81, 0x02, 0x00, 0x04 };
	bsend(t, true, rdbt, sizeof rdbt);
	const uint8_t result[] = { 0x81, 0x00, 0x00, 0x06, 0x00, 0x20 };
	bsend(t, false, result, sizeof result);
	/* Forwarded-NPDU carrying a routed Who-Is (DNET 0xffff, SNET 5 with a 1-byte address) */
	const uint8_t fwd[] = { 0x81, 0x04, 0x00, 0x17, 10, 0, 2, 30, 0xba, 0xc0,
				0x01, 0x28, 0xff, 0xff, 0x00, 0x00, 0x05, 0x01, 0x07, 0xff, 0x10, 0x08, 0x00 };
	bsend(t, false, fwd, sizeof fwd);
	/* network layer message: Who-Is-Router-To-Network */
	const uint8_t net[] = { 0x81, 0x0b, 0x00, 0x07, 0x01, 0x80, 0x00 };
	bsend(t, true, net, sizeof net);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "bacnet"), 4);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "bacnet", 0);
	CHECK(p && th_pdu_u(p, "bvlc_func", &v) && v == 2 && !th_pdu_u(p, "apdu_type", &v));
	p = th_pdu_n(t, "bacnet", 1);
	CHECK(p && th_pdu_u(p, "result", &v) && v == 0x20 && !strcmp(p->dir, "response"));
	p = th_pdu_n(t, "bacnet", 2);
	CHECK(p && th_pdu_u(p, "bvlc_func", &v) && v == 4);
	CHECK(p && th_pdu_u(p, "apdu_type", &v) && v == 1 && th_pdu_u(p, "service", &v) && v == 8);
	CHECK(p && th_pdu_u(p, "snet", &v) && v == 5);
	CHECK(p && th_pdu_s(p, "forwarded_from") && !strcmp(th_pdu_s(p, "forwarded_from"), "10.0.2.30"));
	p = th_pdu_n(t, "bacnet", 3);
	CHECK(p && th_pdu_u(p, "network_msg", &v) && v == 0 && !th_pdu_u(p, "apdu_type", &v));
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
	uint8_t b[128];
	/* BVLC length lies; NPDU version 2; truncated confirmed request; bad APDU type;
	 * a ReadProperty ACK whose string tag runs past the end; a zero-length APDU;
	 * an I-Am without its vendor id; a tag with a 32-bit length */
	const uint8_t lie[] = { 0x81, 0x0a, 0x00, 0x40, 0x01, 0x00, 0x10, 0x08 };
	bsend(t, true, lie, sizeof lie);
	const uint8_t v2[] = { 0x81, 0x0a, 0x00, 0x08, 0x02, 0x00, 0x10, 0x08 };
	bsend(t, true, v2, sizeof v2);
	const uint8_t trunc[] = { 0x00, 0x05 };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, trunc, sizeof trunc));
	const uint8_t badtype[] = { 0x90, 0x00 };
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, badtype, sizeof badtype));
	const uint8_t badack[] = { 0x30, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x00, 0x01, 0x19, 0x4d, 0x3e, 0x75, 0x40, 0x00, 'A' };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, badack, sizeof badack));
	bsend(t, true, b, bvlc(b, 0x0a, 0x04, NULL, 0));
	const uint8_t iam[] = { 0x10, 0x00, 0xc4, 0x02, 0x00, 0x00, 0x01, 0x22, 0x05, 0xc4 };
	bsend(t, false, b, bvlc(b, 0x0b, 0x00, iam, sizeof iam));
	const uint8_t huge[] = { 0x30, 0x01, 0x0e, 0x0c, 0x02, 0x00, 0x00, 0x01, 0x1e, 0x29, 0x4d, 0x4e, 0x75, 0xff,
				 0xff, 0xff, 0xff, 0xff };
	bsend(t, false, b, bvlc(b, 0x0a, 0x00, huge, sizeof huge));
	const uint8_t notbvlc[] = { 0x82, 0x0a, 0x00, 0x04 };
	bsend(t, true, notbvlc, sizeof notbvlc);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "bacnet"), 9);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 8);
	CHECK(th_fact(t, FACT_IDENTITY, NULL) == NULL);
	th_free(t);
}

static void test_nonstandard_port(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	uint8_t b[64];
	const uint8_t whois[] = { 0x10, 0x08 };
	size_t n = bvlc(b, 0x0b, 0x00, whois, sizeof whois);
	th_udp(t, WS, 50001, DEV, 47809, b, n);
	const uint8_t junk[] = { 0x81, 0x0a, 0x00, 0x09, 0x01 };
	th_udp(t, WS, 50002, DEV, 47810, junk, sizeof junk);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "bacnet"), 1);
	th_free(t);
}

int main(void)
{
	test_apdu_types();
	test_i_am_and_rpm();
	test_events();
	test_bvlc_and_network();
	test_malformed();
	test_nonstandard_port();
	return check_done();
}
