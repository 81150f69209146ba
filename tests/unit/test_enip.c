/*
 * test_enip.c - EtherNet/IP + CIP dissector through a real worker: encapsulation
 * commands, ListIdentity identity, CIP request/response pairing (sender context and
 * connected sequence count), EPATH classes, Unconnected Send and Multiple Service Packet
 * unwrapping, Forward Open connection paths, the operational events, I/O datagrams,
 * framing across segments, and malformed input.
 *
 * Must never: pass without having looked at a record or a fact.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define PLC "10.0.1.10"
#define ENG "10.0.1.20"

struct conv {
	struct th *t;
	uint16_t cport;
	uint32_t cseq, sseq;
};

static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *b, uint32_t v) { put16(b, (uint16_t)v); put16(b + 2, (uint16_t)(v >> 16)); }

/* encapsulation header + body */
static size_t encap(uint8_t *b, uint16_t cmd, const uint8_t *body, size_t blen, uint8_t ctxb)
{
	memset(b, 0, 24);
	put16(b, cmd);
	put16(b + 2, (uint16_t)blen);
	put32(b + 4, 0x11223344);
	b[12] = ctxb;
	if (blen)
		memcpy(b + 24, body, blen);
	return 24 + blen;
}

/* SendRRData: null address item + unconnected data item */
static size_t rr(uint8_t *b, const uint8_t *cip, size_t clen, uint8_t ctxb)
{
	uint8_t body[600] = { 0 };
	put16(body + 6, 2);
	put16(body + 8, 0x0000);
	put16(body + 10, 0);
	put16(body + 12, 0x00b2);
	put16(body + 14, (uint16_t)clen);
	memcpy(body + 16, cip, clen);
	return encap(b, 0x6f, body, 16 + clen, ctxb);
}

/* SendUnitData: connected address item + connected data item with sequence count */
static size_t unitdata(uint8_t *b, uint32_t conn, uint16_t seq, const uint8_t *cip, size_t clen)
{
	uint8_t body[600] = { 0 };
	put16(body + 6, 2);
	put16(body + 8, 0x00a1);
	put16(body + 10, 4);
	put32(body + 12, conn);
	put16(body + 16, 0x00b1);
	put16(body + 18, (uint16_t)(clen + 2));
	put16(body + 20, seq);
	memcpy(body + 22, cip, clen);
	return encap(b, 0x70, body, 22 + clen, 0);
}

static void c2s(struct conv *c, const uint8_t *p, size_t n)
{
	th_tcp(c->t, ENG, c->cport, PLC, 44818, c->cseq, TCP_ACK | TCP_PSH, p, n);
	c->cseq += (uint32_t)n;
}

static void s2c(struct conv *c, const uint8_t *p, size_t n)
{
	th_tcp(c->t, PLC, 44818, ENG, c->cport, c->sseq, TCP_ACK | TCP_PSH, p, n);
	c->sseq += (uint32_t)n;
}

static struct conv start(struct th *t, uint16_t port)
{
	struct conv c = { t, port, 1000, 5000 };
	th_tcp(t, ENG, port, PLC, 44818, 999, TCP_SYN, NULL, 0);
	th_tcp(t, PLC, 44818, ENG, port, 4999, TCP_SYN | TCP_ACK, NULL, 0);
	return c;
}

static bool has_event_detail(const struct th *t, enum ots_event ev, const char *needle)
{
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_EVENT && f->u.event.ev == ev && strstr(f->u.event.detail, needle))
			return true;
	}
	return false;
}

static const uint8_t identity_attrs[] = {
	0x01, 0x00, 0x0e, 0x00, 0x36, 0x00, 20, 11, 0x60, 0x30, 0x8e, 0x4d, 0x52, 0x00,
	13, '1', '7', '5', '6', '-', 'L', '7', '2', '/', 'B', ' ', ' ', ' ',
};

static void test_list_identity(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41000);
	uint8_t req[64], resp[128], body[100] = { 0 };
	size_t n = encap(req, 0x63, NULL, 0, 7);
	c2s(&c, req, n);
	put16(body, 1);
	put16(body + 2, 0x000c);
	put16(body + 4, (uint16_t)(2 + 16 + sizeof identity_attrs + 1));
	put16(body + 6, 1);
	memcpy(body + 24, identity_attrs, sizeof identity_attrs);
	body[24 + sizeof identity_attrs] = 3; /* state */
	size_t blen = 24 + sizeof identity_attrs + 1;
	s2c(&c, resp, encap(resp, 0x63, body, blen, 7));
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "enip"), 2);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 1);
	CHECK(p && !strcmp(p->dir, "response") && th_pdu_u(p, "command", &v) && v == 0x63);
	CHECK(p && !th_pdu_u(p, "service", &v)); /* no CIP in ListIdentity */
	const struct fact *f = th_fact(t, FACT_IDENTITY, "vendor");
	CHECK(f && !strcmp(f->u.id.value, "Rockwell Automation/Allen-Bradley") && f->u.id.subject == SUBJ_SRC);
	f = th_fact(t, FACT_IDENTITY, "firmware");
	CHECK(f && !strcmp(f->u.id.value, "20.11"));
	f = th_fact(t, FACT_IDENTITY, "serial");
	CHECK(f && !strcmp(f->u.id.value, "0x00524d8e"));
	f = th_fact(t, FACT_IDENTITY, "product");
	CHECK(f && !strcmp(f->u.id.value, "1756-L72/B"));
	f = th_fact(t, FACT_IDENTITY, "product_code");
	CHECK(f && !strcmp(f->u.id.value, "54"));
	f = th_fact(t, FACT_IDENTITY, "role");
	CHECK(f && !strcmp(f->u.id.value, "plc"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_rr_pairing_and_config(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41001);
	uint8_t b[256];
	/* register session */
	const uint8_t reg[] = { 1, 0, 0, 0 };
	c2s(&c, b, encap(b, 0x65, reg, sizeof reg, 0));
	s2c(&c, b, encap(b, 0x65, reg, sizeof reg, 0));
	/* Get_Attribute_Single Ethernet Link (0xf6) inst 1 attr 3, context 1 */
	const uint8_t get[] = { 0x0e, 3, 0x20, 0xf6, 0x24, 0x01, 0x30, 0x03 };
	c2s(&c, b, rr(b, get, sizeof get, 1));
	/* Set_Attribute_Single TCP/IP (0xf5) 16-bit class segment, context 2 */
	const uint8_t set[] = { 0x10, 4, 0x21, 0x00, 0xf5, 0x00, 0x24, 0x01, 0x30, 0x05, 1, 2, 3, 4 };
	c2s(&c, b, rr(b, set, sizeof set, 2));
	/* responses out of order: context 2 first (error 0x0f), then context 1 */
	const uint8_t set_err[] = { 0x90, 0, 0x0f, 0 };
	s2c(&c, b, rr(b, set_err, sizeof set_err, 2));
	const uint8_t get_ok[] = { 0x8e, 0, 0, 0, 1, 2, 3, 4, 5, 6 };
	s2c(&c, b, rr(b, get_ok, sizeof get_ok, 1));
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "enip"), 6);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 2);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x0e);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 0xf6);
	CHECK(p && th_pdu_u(p, "attribute", &v) && v == 3);
	p = th_pdu_n(t, "enip", 3);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 0xf5);
	p = th_pdu_n(t, "enip", 4);
	CHECK(p && !strcmp(p->dir, "response"));
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x10); /* without the response bit */
	CHECK(p && th_pdu_u(p, "class", &v) && v == 0xf5);  /* from the paired request */
	CHECK(p && th_pdu_u(p, "status", &v) && v == 0x0f);
	p = th_pdu_n(t, "enip", 5);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 0xf6);
	CHECK(th_event(t, EV_CONFIG_CHANGE) != NULL);
	bool write = false, exc = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type != FACT_OPERATION)
			continue;
		if (!f->u.op.is_response && f->u.op.func == 0x10 && f->u.op.is_write && f->u.op.object == 0xf5)
			write = true;
		if (f->u.op.is_response && f->u.op.exception && f->u.op.exc_code == 0x0f && f->u.op.func == 0x10)
			exc = true;
	}
	CHECK(write);
	CHECK(exc);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_unconnected_send_identity(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41002);
	uint8_t b[256];
	/* Unconnected Send to the connection manager carrying Get_Attributes_All of Identity */
	const uint8_t us[] = { 0x52, 2, 0x20, 0x06, 0x24, 0x01, 0x0a, 0xf0, 6, 0,
			       0x01, 2, 0x20, 0x01, 0x24, 0x01,
			       1, 0, 0x01, 0x00 };
	c2s(&c, b, rr(b, us, sizeof us, 9));
	uint8_t resp[4 + sizeof identity_attrs] = { 0x81, 0, 0, 0 };
	memcpy(resp + 4, identity_attrs, sizeof identity_attrs);
	s2c(&c, b, rr(b, resp, sizeof resp, 9));
	th_finish(t);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 0);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x52);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 6);
	CHECK(p && th_pdu_u(p, "embedded_class", &v) && v == 1);
	p = th_pdu_n(t, "enip", 1);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x01);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 6); /* tshark: the class of the request path */
	const struct fact *f = th_fact(t, FACT_IDENTITY, "model");
	CHECK(f && !strcmp(f->u.id.value, "1756-L72/B") && f->u.id.subject == SUBJ_SRC);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_connected_and_events(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41003);
	uint8_t b[256];
	/* Forward Open to the message router (path port 1/0, class 2, instance 1) */
	uint8_t fo[] = { 0x54, 2, 0x20, 0x06, 0x24, 0x01,
			 0x0a, 0x0e, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x01, 0x00, 0x01, 0x00,
			 0x78, 0x56, 0x34, 0x12, 3, 0, 0, 0, 0x40, 0x42, 0x0f, 0x00, 0xf4, 0x43,
			 0x40, 0x42, 0x0f, 0x00, 0xf4, 0x43, 0xa3, 3, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01 };
	c2s(&c, b, rr(b, fo, sizeof fo, 3));
	const uint8_t fo_ok[] = { 0xd4, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22, 0x33, 0x44, 0x01, 0x00,
				  0x01, 0x00, 0x78, 0x56, 0x34, 0x12, 0x40, 0x42, 0x0f, 0x00, 0x40, 0x42, 0x0f,
				  0x00, 0, 0 };
	s2c(&c, b, rr(b, fo_ok, sizeof fo_ok, 3));
	/* connected: stop the controller (class 0x8e), then lock, unlock, reset, firmware */
	const uint8_t stop[] = { 0x07, 2, 0x20, 0x8e, 0x24, 0x01 };
	c2s(&c, b, unitdata(b, 0xddccbbaa, 1, stop, sizeof stop));
	const uint8_t stop_ok[] = { 0x87, 0, 0, 0 };
	s2c(&c, b, unitdata(b, 0x44332211, 1, stop_ok, sizeof stop_ok));
	const uint8_t lock[] = { 0x4b, 4, 0x20, 0x8e, 0x24, 0x01, 0x20, 0x74, 0x24, 0x01, 0x01 };
	c2s(&c, b, unitdata(b, 0xddccbbaa, 2, lock, sizeof lock));
	const uint8_t unlock[] = { 0x4c, 4, 0x20, 0x8e, 0x24, 0x01, 0x20, 0x74, 0x24, 0x01 };
	c2s(&c, b, unitdata(b, 0xddccbbaa, 3, unlock, sizeof unlock));
	const uint8_t reset[] = { 0x05, 2, 0x20, 0x01, 0x24, 0x01 };
	c2s(&c, b, rr(b, reset, sizeof reset, 4));
	const uint8_t fw[] = { 0x4b, 2, 0x20, 0xa1, 0x24, 0x00, 1, 2, 3 };
	c2s(&c, b, rr(b, fw, sizeof fw, 5));
	th_finish(t);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 2);
	CHECK(p && th_pdu_u(p, "command", &v) && v == 0x70);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x07);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 0x8e); /* the message's own path, as tshark's CIP layer */
	CHECK(p && th_pdu_u(p, "conn_class", &v) && v == 2); /* the Forward Open connection path */
	CHECK(p && th_pdu_u(p, "seq", &v) && v == 1);
	p = th_pdu_n(t, "enip", 3);
	CHECK(p && !strcmp(p->dir, "response") && th_pdu_u(p, "class", &v) && v == 0x8e); /* its request's */
	CHECK(th_event(t, EV_PLC_STOP) != NULL);
	CHECK(has_event_detail(t, EV_MODE_CHANGE, "program"));
	CHECK(th_event(t, EV_LOCK) != NULL);
	CHECK(th_event(t, EV_UNLOCK) != NULL);
	CHECK(th_event(t, EV_DEVICE_RESTART) != NULL);
	CHECK(th_event(t, EV_FIRMWARE_UPDATE) != NULL);
	CHECK(th_event(t, EV_PLC_START) == NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_multiple_service_packet(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41004);
	uint8_t b[256];
	/* MSP to the message router: Get_Attribute_List wall clock, Set_Attribute_List wall clock */
	const uint8_t msp[] = { 0x0a, 2, 0x20, 0x02, 0x24, 0x01,
				2, 0, 6, 0, 16, 0,
				0x03, 2, 0x20, 0x8b, 0x24, 0x01, 1, 0, 0x0b, 0,
				0x04, 2, 0x20, 0x8b, 0x24, 0x01, 1, 0, 0x06, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	c2s(&c, b, rr(b, msp, sizeof msp, 1));
	th_finish(t);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 0);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 0x0a);
	CHECK(p && th_pdu_u(p, "class", &v) && v == 2);
	CHECK(th_event(t, EV_TIME_SET) != NULL);
	size_t ops = 0;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_OPERATION && t->facts[i].u.op.object == 0x8b)
			ops++;
	CHECK_EQ(ops, 2);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_segmentation(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41005);
	uint8_t two[128], one[64];
	const uint8_t get[] = { 0x0e, 3, 0x20, 0x01, 0x24, 0x01, 0x30, 0x07 };
	size_t n1 = rr(two, get, sizeof get, 1);
	size_t n2 = rr(two + n1, get, sizeof get, 2);
	c2s(&c, two, n1 + n2);
	size_t n3 = rr(one, get, sizeof get, 3);
	c2s(&c, one, 10);
	c2s(&c, one + 10, 20);
	c2s(&c, one + 30, n3 - 30);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "enip"), 3);
	const struct th_pdu *p = th_pdu_n(t, "enip", 2);
	CHECK(p && p->frame == 6); /* SYN, SYN/ACK, the two-PDU segment, then three pieces */
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_io_and_udp(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* class 1 I/O: sequenced address item + connected data */
	uint8_t io[] = { 2, 0, 0x02, 0x80, 8, 0, 0x01, 0x02, 0x03, 0x04, 0x10, 0, 0, 0,
			 0xb1, 0, 4, 0, 0xaa, 0xbb, 0xcc, 0xdd };
	th_udp(t, ENG, 2222, PLC, 2222, io, sizeof io);
	/* ListIdentity broadcast over UDP */
	uint8_t li[24];
	encap(li, 0x63, NULL, 0, 0);
	th_udp(t, ENG, 50000, "10.0.1.255", 44818, li, sizeof li);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "enip"), 2);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "enip", 0);
	CHECK(p && !th_pdu_u(p, "command", &v)); /* I/O has no encapsulation command */
	CHECK(p && th_pdu_u(p, "conn_id", &v) && v == 0x04030201);
	CHECK(p && th_pdu_u(p, "seq", &v) && v == 0x10);
	p = th_pdu_n(t, "enip", 1);
	CHECK(p && !strcmp(p->dir, "request") && th_pdu_u(p, "command", &v) && v == 0x63);
	th_free(t);
}

static void test_malformed(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conv c = start(t, 41006);
	uint8_t b[256];
	/* CIP path size larger than the message */
	const uint8_t longpath[] = { 0x0e, 40, 0x20, 0x01 };
	c2s(&c, b, rr(b, longpath, sizeof longpath, 1));
	/* a CPF item longer than the encapsulation */
	uint8_t body[] = { 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0, 0xff, 0x00, 0x0e };
	c2s(&c, b, encap(b, 0x6f, body, sizeof body, 2));
	/* zero-length unconnected data item */
	const uint8_t none[] = { 0 };
	size_t n = rr(b, none, 0, 3);
	c2s(&c, b, n);
	/* an unknown command, and a malformed EPATH segment */
	c2s(&c, b, encap(b, 0x99, NULL, 0, 4));
	const uint8_t badseg[] = { 0x0e, 1, 0xe0, 0x00 };
	c2s(&c, b, rr(b, badseg, sizeof badseg, 5));
	/* a Multiple Service Packet whose count exceeds its bytes */
	const uint8_t msp[] = { 0x0a, 2, 0x20, 0x02, 0x24, 0x01, 0xff, 0x7f, 2, 0 };
	c2s(&c, b, rr(b, msp, sizeof msp, 6));
	/* the maximum declared length, with only the header present: waits, then flushes */
	uint8_t big[24];
	encap(big, 0x6f, NULL, 0, 7);
	put16(big + 2, 0xffff);
	c2s(&c, big, sizeof big);
	th_finish(t);
	CHECK(th_count_pdus(t, "enip") >= 6);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 5);
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
	const uint8_t reg[] = { 1, 0, 0, 0 };
	size_t n = encap(b, 0x65, reg, sizeof reg, 0);
	th_tcp(t, ENG, 41007, PLC, 4444, 1, TCP_ACK | TCP_PSH, b, n);
	/* something that is not ENIP on another port is left alone */
	const uint8_t junk[] = { 0x65, 0, 4, 0, 1, 2, 3 };
	th_tcp(t, ENG, 41008, PLC, 4445, 1, TCP_ACK | TCP_PSH, junk, sizeof junk);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "enip"), 1);
	th_free(t);
}

int main(void)
{
	test_list_identity();
	test_rr_pairing_and_config();
	test_unconnected_send_identity();
	test_connected_and_events();
	test_multiple_service_packet();
	test_segmentation();
	test_io_and_udp();
	test_malformed();
	test_nonstandard_port();
	return check_done();
}
