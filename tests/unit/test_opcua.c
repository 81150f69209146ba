/*
 * test_opcua.c - OPC UA binary dissector through a real worker: HEL/ACK, OPN with
 * security policy None, MSG services (Read, Write, Call, AddNodes), chunks, secured
 * channels, segmentation, the probe on a non-standard port, malformed messages.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define SRV "10.0.0.10"
#define CLI "10.0.0.20"

struct buf {
	uint8_t b[512];
	size_t n;
};

static void put8(struct buf *b, uint8_t v) { b->b[b->n++] = v; }
static void put32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put8(b, (uint8_t)(v >> (8 * i)));
}
static void putstr(struct buf *b, const char *s)
{
	put32(b, (uint32_t)strlen(s));
	for (size_t i = 0; s[i]; i++)
		put8(b, (uint8_t)s[i]);
}
static void hdr(struct buf *b, const char *type, char chunk)
{
	b->n = 0;
	put8(b, (uint8_t)type[0]);
	put8(b, (uint8_t)type[1]);
	put8(b, (uint8_t)type[2]);
	put8(b, (uint8_t)chunk);
	put32(b, 0);
}
static void fin(struct buf *b)
{
	uint32_t n = (uint32_t)b->n;
	for (int i = 0; i < 4; i++)
		b->b[4 + i] = (uint8_t)(n >> (8 * i));
}

static void hel(struct buf *b)
{
	hdr(b, "HEL", 'F');
	put32(b, 0);
	put32(b, 65536);
	put32(b, 65536);
	put32(b, 0);
	put32(b, 0);
	putstr(b, "opc.tcp://plc1:4840");
	fin(b);
}

static void opn(struct buf *b, const char *policy)
{
	hdr(b, "OPN", 'F');
	put32(b, 0);
	putstr(b, policy);
	put32(b, 0xffffffff);
	put32(b, 0xffffffff);
	put32(b, 1); /* seq */
	put32(b, 1); /* req id */
	put8(b, 1); put8(b, 0); put8(b, 446 & 0xff); put8(b, 446 >> 8);
	/* request header: null token, timestamp, handle, diag, audit, timeout, ext obj */
	put8(b, 0); put8(b, 0);
	put32(b, 0); put32(b, 0); put32(b, 1); put32(b, 0);
	put32(b, 0xffffffff);
	put32(b, 1000);
	put8(b, 0); put8(b, 0); put8(b, 0);
	put32(b, 0); /* protocol version */
	put32(b, 0); /* issue */
	put32(b, 1); /* mode None */
	fin(b);
}

static void msg(struct buf *b, char chunk, uint32_t req_id, uint16_t svc)
{
	hdr(b, "MSG", chunk);
	put32(b, 5); put32(b, 1); put32(b, req_id + 1); put32(b, req_id);
	put8(b, 1); put8(b, 0); put8(b, (uint8_t)svc); put8(b, (uint8_t)(svc >> 8));
	for (int i = 0; i < 20; i++)
		put8(b, 0);
	fin(b);
}

static void test_session(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct buf b;
	uint32_t cs = 1, ss = 1;
	hel(&b);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	hdr(&b, "ACK", 'F');
	put32(&b, 0); put32(&b, 65536); put32(&b, 65536); put32(&b, 0); put32(&b, 0);
	fin(&b);
	th_tcp(t, SRV, 4840, CLI, 50000, ss, TCP_ACK | TCP_PSH, b.b, b.n); ss += (uint32_t)b.n;
	opn(&b, "http://opcfoundation.org/UA/SecurityPolicy#None");
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	msg(&b, 'F', 2, 631);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	msg(&b, 'F', 2, 634);
	th_tcp(t, SRV, 4840, CLI, 50000, ss, TCP_ACK | TCP_PSH, b.b, b.n); ss += (uint32_t)b.n;
	msg(&b, 'F', 3, 673);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	msg(&b, 'F', 4, 712);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	msg(&b, 'F', 5, 488);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	/* a two-chunk message: the service only on the first chunk */
	msg(&b, 'C', 6, 631);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	msg(&b, 'F', 6, 631);
	th_tcp(t, CLI, 50000, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "opcua"), 10);
	const struct th_pdu *p = th_pdu_n(t, "opcua", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(th_pdu_s(p, "msg_type"), "HEL") && !strcmp(p->dir, "request"));
	CHECK(p && !strcmp(th_pdu_s(p, "endpoint_url"), "opc.tcp://plc1:4840"));
	p = th_pdu_n(t, "opcua", 1);
	CHECK(p && !strcmp(th_pdu_s(p, "msg_type"), "ACK") && !strcmp(p->dir, "response"));
	p = th_pdu_n(t, "opcua", 2);
	CHECK(p && th_pdu_u(p, "service", &v) && v == 446);
	CHECK(p && th_pdu_u(p, "security_mode", &v) && v == 1);
	CHECK(p && !strcmp(th_pdu_s(p, "security_policy"), "None"));
	CHECK(th_pdu_u(th_pdu_n(t, "opcua", 3), "service", &v) && v == 631);
	CHECK(th_pdu_u(th_pdu_n(t, "opcua", 4), "service", &v) && v == 634);
	CHECK(th_pdu_u(th_pdu_n(t, "opcua", 8), "service", &v) && v == 631);
	CHECK(!th_pdu_u(th_pdu_n(t, "opcua", 9), "service", &v)); /* continuation: null */
	const struct fact *id = th_fact(t, FACT_IDENTITY, "endpoint");
	CHECK(id && !strcmp(id->u.id.value, "opc.tcp://plc1:4840") && id->u.id.subject == SUBJ_DST);
	id = th_fact(t, FACT_IDENTITY, "security_policy");
	CHECK(id && !strcmp(id->u.id.value, "None"));
	CHECK(th_event(t, EV_CONTROL) != NULL);
	CHECK(th_event(t, EV_CONFIG_CHANGE) != NULL);
	bool saw_write = false;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_OPERATION && t->facts[i].u.op.func == 673 && t->facts[i].u.op.is_write)
			saw_write = true;
	CHECK(saw_write);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_secured_and_segmented(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct buf b;
	uint32_t cs = 1;
	opn(&b, "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256");
	th_tcp(t, CLI, 50001, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, b.n); cs += (uint32_t)b.n;
	/* encrypted channel: the body is not read */
	msg(&b, 'F', 2, 631);
	/* split across two segments */
	th_tcp(t, CLI, 50001, SRV, 4840, cs, TCP_ACK | TCP_PSH, b.b, 5);
	th_tcp(t, CLI, 50001, SRV, 4840, cs + 5, TCP_ACK | TCP_PSH, b.b + 5, b.n - 5);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "opcua"), 2);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "opcua", 0);
	CHECK(p && !strcmp(th_pdu_s(p, "security_policy"), "Basic256Sha256"));
	CHECK(p && !th_pdu_u(p, "service", &v));
	p = th_pdu_n(t, "opcua", 1);
	CHECK(p && !strcmp(th_pdu_s(p, "msg_type"), "MSG") && !th_pdu_u(p, "service", &v));
	CHECK(p && p->frame == 3);
	th_free(t);
}

static void test_probe_and_malformed(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct buf b;
	hel(&b);
	th_tcp(t, CLI, 50002, SRV, 12001, 1, TCP_ACK | TCP_PSH, b.b, b.n);
	/* a HEL whose URL length runs past the message */
	hel(&b);
	b.b[28] = 0xff;
	th_tcp(t, CLI, 50003, SRV, 4840, 1, TCP_ACK | TCP_PSH, b.b, b.n);
	/* zero-length-ish: a header claiming 8 bytes, then garbage */
	const uint8_t junk[] = { 'M', 'S', 'G', 'F', 8, 0, 0, 0 };
	th_tcp(t, CLI, 50004, SRV, 4840, 1, TCP_ACK | TCP_PSH, junk, sizeof junk);
	/* not OPC UA on an unknown port: no records */
	const uint8_t other[] = "HELLO WORLD this is not opc ua at all.....";
	th_tcp(t, CLI, 50005, SRV, 12002, 1, TCP_ACK | TCP_PSH, other, sizeof other);
	th_finish(t);
	const struct th_pdu *p = th_pdu_n(t, "opcua", 0);
	CHECK(p && !strcmp(th_pdu_s(p, "msg_type"), "HEL"));
	CHECK_EQ(th_count_pdus(t, "opcua"), 3);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 2);
	th_free(t);
}

static void test_get_endpoints_identity(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct buf b;
	hdr(&b, "MSG", 'F');
	put32(&b, 5); put32(&b, 1); put32(&b, 2); put32(&b, 1);
	put8(&b, 1); put8(&b, 0); put8(&b, 431 & 0xff); put8(&b, 431 >> 8);
	for (int i = 0; i < 16; i++) /* timestamp, handle, result */
		put8(&b, 0);
	put8(&b, 0);          /* no diagnostics */
	put32(&b, 0xffffffff); /* null string table */
	put8(&b, 0); put8(&b, 0); put8(&b, 0); /* no additional header */
	put32(&b, 1);
	putstr(&b, "opc.tcp://plc1:4840");
	putstr(&b, "urn:acme:plc");
	putstr(&b, "urn:acme:product");
	put8(&b, 2);
	putstr(&b, "ACME UA Server");
	fin(&b);
	th_tcp(t, SRV, 4840, CLI, 50010, 1, TCP_ACK | TCP_PSH, b.b, b.n);
	th_finish(t);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "opcua", 0), "service", &v) && v == 431);
	const struct fact *f = th_fact(t, FACT_IDENTITY, "product");
	CHECK(f && !strcmp(f->u.id.value, "ACME UA Server") && f->u.id.subject == SUBJ_SRC);
	f = th_fact(t, FACT_IDENTITY, "product_uri");
	CHECK(f && !strcmp(f->u.id.value, "urn:acme:product"));
	th_free(t);
}

int main(void)
{
	test_get_endpoints_identity();
	test_session();
	test_secured_and_segmented();
	test_probe_and_malformed();
	return check_done();
}
