/*
 * test_dnp3.c - DNP3 dissector through a real worker: link CRCs, transport reassembly
 * (single and multi-frame fragments, several frames per segment, frames split over
 * segments, UDP), application functions and objects, events, identity, link-only frames,
 * malformed and maximum-length frames, heuristic detection.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define MASTER "10.0.0.20"
#define OUTST "10.0.0.10"

static uint16_t crc(const uint8_t *p, size_t n)
{
	uint16_t c = 0;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA6BC) : (uint16_t)(c >> 1);
	}
	return (uint16_t)~c;
}

/* A link frame around user data ud[0..n) (transport header included by the caller);
 * returns its length in out. */
static size_t frame(uint8_t *out, uint8_t ctl, uint16_t dst, uint16_t src, const uint8_t *ud, size_t n)
{
	size_t o = 0;
	out[o++] = 0x05;
	out[o++] = 0x64;
	out[o++] = (uint8_t)(n + 5);
	out[o++] = ctl;
	out[o++] = (uint8_t)dst;
	out[o++] = (uint8_t)(dst >> 8);
	out[o++] = (uint8_t)src;
	out[o++] = (uint8_t)(src >> 8);
	uint16_t c = crc(out, 8);
	out[o++] = (uint8_t)c;
	out[o++] = (uint8_t)(c >> 8);
	for (size_t i = 0; i < n; i += 16) {
		size_t b = n - i < 16 ? n - i : 16;
		memcpy(out + o, ud + i, b);
		c = crc(ud + i, b);
		o += b;
		out[o++] = (uint8_t)c;
		out[o++] = (uint8_t)(c >> 8);
	}
	return o;
}

/* master -> outstation, unconfirmed user data: DIR|PRM|func 4 */
#define CTL_M 0xC4
/* outstation -> master */
#define CTL_O 0x44

static uint32_t mseq = 1000, oseq = 5000;

static void from_master(struct th *t, const uint8_t *ud, size_t n)
{
	uint8_t buf[400];
	size_t len = frame(buf, CTL_M, 10, 1, ud, n);
	th_tcp(t, MASTER, 40000, OUTST, 20000, mseq, TCP_ACK | TCP_PSH, buf, len);
	mseq += (uint32_t)len;
}

static void from_outstation(struct th *t, const uint8_t *ud, size_t n)
{
	uint8_t buf[400];
	size_t len = frame(buf, CTL_O, 1, 10, ud, n);
	th_tcp(t, OUTST, 20000, MASTER, 40000, oseq, TCP_ACK | TCP_PSH, buf, len);
	oseq += (uint32_t)len;
}

static struct th *start(void)
{
	struct th *t = th_new();
	mseq = 1000;
	oseq = 5000;
	return t;
}

static void test_read_and_response(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* read class 1,2,3,0 */
	const uint8_t rd[] = { 0xC0, 0xC3, 0x01, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06 };
	/* response: IIN 0x8000 (restart), g30v2 (16-bit analog with flag) points 0..1 */
	const uint8_t rsp[] = { 0xC0, 0xC3, 0x81, 0x80, 0x00, 30, 2, 0x00, 0, 1, 1, 0x10, 0, 1, 0x20, 0 };
	from_master(t, rd, sizeof rd);
	from_outstation(t, rsp, sizeof rsp);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 2);
	uint64_t v = 0;
	const struct th_pdu *p = th_pdu_n(t, "dnp3", 0);
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK(th_pdu_u(p, "func", &v) && v == 1);
	CHECK(th_pdu_u(p, "src_addr", &v) && v == 1);
	CHECK(th_pdu_u(p, "dst_addr", &v) && v == 10);
	CHECK(th_pdu_u(p, "obj_group", &v) && v == 60);
	CHECK(th_pdu_u(p, "obj_var", &v) && v == 2);
	CHECK(th_pdu_u(p, "objects", &v) && v == 4);
	const struct th_pdu *r = th_pdu_n(t, "dnp3", 1);
	CHECK(r && !strcmp(r->dir, "response"));
	CHECK(th_pdu_u(r, "func", &v) && v == 129);
	CHECK(th_pdu_u(r, "iin", &v) && v == 0x8000);
	CHECK(th_pdu_u(r, "obj_group", &v) && v == 30);
	CHECK(th_pdu_u(r, "index_hi", &v) && v == 1);
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && op->u.op.func == 1 && op->u.op.object == 60 && !op->u.op.is_write);
	const struct fact *role = th_fact(t, FACT_IDENTITY, "role");
	CHECK(role != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_events(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t cold[] = { 0xC0, 0xC1, 13 };
	const uint8_t stop[] = { 0xC1, 0xC2, 18 };
	const uint8_t startapp[] = { 0xC2, 0xC3, 17 };
	/* write g50v1 count 1: 6-byte time 0x0000_0123_4567_89AB ms */
	const uint8_t wtime[] = { 0xC3, 0xC4, 2, 50, 1, 0x07, 1, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01 };
	/* direct operate CROB g12v1, qualifier 0x28 (2-octet index, 2-octet count), index 7 */
	const uint8_t dirop[] = { 0xC4, 0xC5, 5, 12, 1, 0x28, 1, 0, 7, 0, 0x03, 1, 0xE8, 3, 0, 0, 0, 0, 0, 0, 0 };
	/* open file: g70v3 with qualifier 0x5B, one object of 4 octets */
	const uint8_t openf[] = { 0xC5, 0xC6, 25, 70, 3, 0x5B, 1, 4, 0, 1, 2, 3, 4 };
	/* authentication request g120v1 */
	const uint8_t auth[] = { 0xC6, 0xC7, 32, 120, 1, 0x5B, 1, 2, 0, 0xAA, 0xBB };
	from_master(t, cold, sizeof cold);
	from_master(t, stop, sizeof stop);
	from_master(t, startapp, sizeof startapp);
	from_master(t, wtime, sizeof wtime);
	from_master(t, dirop, sizeof dirop);
	from_master(t, openf, sizeof openf);
	from_master(t, auth, sizeof auth);
	/* unsolicited response */
	const uint8_t uns[] = { 0xF0, 0xD0, 130, 0x00, 0x00 };
	from_outstation(t, uns, sizeof uns);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 8);
	const struct fact *e = th_event(t, EV_DEVICE_RESTART);
	CHECK(e && e->u.event.subject == SUBJ_DST);
	CHECK(th_event(t, EV_PLC_STOP) != NULL);
	CHECK(th_event(t, EV_PLC_START) != NULL);
	CHECK(th_event(t, EV_TIME_SET) != NULL);
	CHECK(th_event(t, EV_CONTROL) != NULL);
	CHECK(th_event(t, EV_FILE_TRANSFER) != NULL);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "dnp3", 3), "time_ms", &v) && v == 0x0123456789ABull);
	const struct th_pdu *op = th_pdu_n(t, "dnp3", 4);
	CHECK(th_pdu_u(op, "index_lo", &v) && v == 7);
	CHECK(th_pdu_u(op, "index_hi", &v) && v == 7);
	bool write_fact = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_OPERATION && f->u.op.func == 5 && f->u.op.is_write && f->u.op.object == 12 &&
		    f->u.op.has_range && f->u.op.addr_lo == 7)
			write_fact = true;
	}
	CHECK(write_fact);
	const struct th_pdu *a = th_pdu_n(t, "dnp3", 6);
	CHECK(th_pdu_u(a, "auth_var", &v) && v == 1);
	CHECK(a && th_pdu_s(a, "auth_obj") && !strcmp(th_pdu_s(a, "auth_obj"), "challenge"));
	const struct th_pdu *u = th_pdu_n(t, "dnp3", 7);
	CHECK(u && !strcmp(u->dir, "event"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_reassembly(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* a 400-octet response in three transport segments: FIR seq 5, mid seq 6, FIN seq 7 */
	uint8_t app[400];
	memset(app, 0, sizeof app);
	app[0] = 0xC0;
	app[1] = 0x81;
	app[2] = 0;
	app[3] = 0;
	app[4] = 20; /* g20v6 16-bit counters without flag, 0..196 */
	app[5] = 6;
	app[6] = 0x01;
	app[7] = 0;
	app[8] = 0;
	app[9] = 196;
	app[10] = 0;
	uint8_t seg[250];
	size_t off = 0;
	const size_t cut[3] = { 180, 180, 40 };
	const uint8_t th[3] = { 0x40 | 5, 6, 0x80 | 7 };
	for (int i = 0; i < 3; i++) {
		seg[0] = th[i];
		memcpy(seg + 1, app + off, cut[i]);
		off += cut[i];
		from_outstation(t, seg, cut[i] + 1);
	}
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 1);
	const struct th_pdu *p = th_pdu_n(t, "dnp3", 0);
	uint64_t v = 0;
	CHECK(p && p->frame == 3); /* the frame that completes the fragment */
	CHECK(th_pdu_u(p, "func", &v) && v == 129);
	CHECK(th_pdu_u(p, "frames", &v) && v == 3);
	CHECK(th_pdu_u(p, "app_len", &v) && v == 400);
	CHECK(th_pdu_u(p, "obj_group", &v) && v == 20);
	CHECK(th_pdu_u(p, "index_hi", &v) && v == 196);
	uint64_t partial = 0;
	CHECK(th_pdu_u(p, "partial", &partial) && partial == 1);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_sequence_errors(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* FIR seq 1, then FIN with seq 3 (2 expected): a violation, the fragment still completes */
	const uint8_t a[] = { 0x40 | 1, 0xC0, 0x01, 60, 1 };
	const uint8_t b[] = { 0x80 | 3, 0x06 };
	from_master(t, a, sizeof a);
	from_master(t, b, sizeof b);
	/* a middle segment with no fragment in progress: dropped with a violation */
	const uint8_t c[] = { 9, 0xC0, 0x01 };
	from_master(t, c, sizeof c);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 1);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 2);
	th_free(t);
}

static void test_segmentation(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* two link frames in one segment, then one frame split over two segments */
	const uint8_t r1[] = { 0xC0, 0xC1, 0x01, 60, 1, 0x06 };
	const uint8_t r2[] = { 0xC1, 0xC2, 0x01, 1, 2, 0x00, 0, 9 };
	uint8_t buf[200];
	size_t n = frame(buf, CTL_M, 10, 1, r1, sizeof r1);
	n += frame(buf + n, CTL_M, 10, 1, r2, sizeof r2);
	th_tcp(t, MASTER, 40001, OUTST, 20000, 1, TCP_ACK | TCP_PSH, buf, n);
	uint8_t one[64];
	size_t m = frame(one, CTL_M, 10, 1, r1, sizeof r1);
	th_tcp(t, MASTER, 40001, OUTST, 20000, 1 + (uint32_t)n, TCP_ACK, one, 7);
	th_tcp(t, MASTER, 40001, OUTST, 20000, 1 + (uint32_t)n + 7, TCP_ACK, one + 7, m - 7);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 3);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "dnp3", 1), "index_hi", &v) && v == 9);
	CHECK(th_pdu_n(t, "dnp3", 2) && th_pdu_n(t, "dnp3", 2)->frame == 3);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_crc_errors(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	const uint8_t r1[] = { 0xC0, 0xC1, 0x01, 60, 1, 0x06 };
	uint8_t buf[64];
	size_t n = frame(buf, CTL_M, 10, 1, r1, sizeof r1);
	buf[8] ^= 0xFF; /* header CRC */
	th_tcp(t, MASTER, 40002, OUTST, 20000, 1, TCP_ACK, buf, n);
	n = frame(buf, CTL_M, 10, 1, r1, sizeof r1);
	buf[12] ^= 0x01; /* a data octet: block CRC no longer matches */
	th_tcp(t, MASTER, 40002, OUTST, 20000, 1 + (uint32_t)n, TCP_ACK, buf, n);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 0);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 2);
	th_free(t);
}

static void test_link_only_and_udp(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* request link status (primary func 9) and link status (secondary 11) in one datagram */
	uint8_t buf[64];
	size_t n = frame(buf, 0xC9, 10, 1, NULL, 0);
	n += frame(buf + n, 0x0B, 1, 10, NULL, 0);
	th_udp(t, MASTER, 20000, OUTST, 20000, buf, n);
	const uint8_t r1[] = { 0xC0, 0xC1, 0x01, 60, 1, 0x06 };
	n = frame(buf, CTL_M, 10, 1, r1, sizeof r1);
	th_udp(t, MASTER, 20000, OUTST, 20000, buf, n);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 3);
	const struct th_pdu *p = th_pdu_n(t, "dnp3", 0);
	uint64_t v = 0;
	CHECK(p && !th_pdu_u(p, "func", &v)); /* func is null */
	CHECK(th_pdu_u(p, "link_func", &v) && v == 9);
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK(th_pdu_u(th_pdu_n(t, "dnp3", 1), "link_func", &v) && v == 11);
	CHECK(!strcmp(th_pdu_n(t, "dnp3", 1)->dir, "response"));
	CHECK(th_pdu_u(th_pdu_n(t, "dnp3", 2), "func", &v) && v == 1);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_device_attributes(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* response g0v252 (manufacturer) and g0v250 (model), each visible string */
	const uint8_t rsp[] = { 0xC0, 0xC1, 0x81, 0, 0,
				0, 252, 0x00, 0, 0, 1, 4, 'A', 'c', 'm', 'e',
				0, 250, 0x00, 0, 0, 1, 5, 'R', 'T', 'U', '-', '9' };
	from_outstation(t, rsp, sizeof rsp);
	th_finish(t);
	const struct fact *v = th_fact(t, FACT_IDENTITY, "vendor");
	const struct fact *m = th_fact(t, FACT_IDENTITY, "model");
	CHECK(v && !strcmp(v->u.id.value, "Acme") && v->u.id.subject == SUBJ_SRC);
	CHECK(m && !strcmp(m->u.id.value, "RTU-9"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_malformed(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* truncated object header; reserved qualifier; backwards range; empty app data */
	const uint8_t a[] = { 0xC0, 0xC1, 0x01, 60 };
	const uint8_t b[] = { 0xC0, 0xC2, 0x01, 12, 1, 0x0A, 0 };
	const uint8_t c[] = { 0xC0, 0xC3, 0x01, 1, 2, 0x00, 5, 1 };
	const uint8_t d[] = { 0xC0 };
	const uint8_t e[] = { 0xC0, 0xC3, 0x99 }; /* undefined function */
	from_master(t, a, sizeof a);
	from_master(t, b, sizeof b);
	from_master(t, c, sizeof c);
	from_master(t, d, sizeof d);
	from_master(t, e, sizeof e);
	/* link length below 5: the stream loses sync, nothing crashes */
	uint8_t bad[10] = { 0x05, 0x64, 0x03, 0xC4, 1, 0, 2, 0 };
	uint16_t cc = crc(bad, 8);
	bad[8] = (uint8_t)cc;
	bad[9] = (uint8_t)(cc >> 8);
	th_tcp(t, MASTER, 40000, OUTST, 20000, mseq, TCP_ACK, bad, sizeof bad);
	/* zero-length UDP datagram and a 3-octet one */
	th_udp(t, MASTER, 20001, OUTST, 20000, bad, 0);
	th_udp(t, MASTER, 20001, OUTST, 20000, bad, 3);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 4); /* a, b, c, e: the header is there */
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 6);
	th_free(t);
}

static void test_maximum_length(void)
{
	struct th *t = start();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* a full link frame: 250 octets of user data, a response with g110v247 octet string */
	uint8_t ud[250];
	memset(ud, 'x', sizeof ud);
	ud[0] = 0xC0;
	ud[1] = 0xC0;
	ud[2] = 0x81;
	ud[3] = 0;
	ud[4] = 0;
	/* g110 (octet string) v240, range 0..0: the 240 octets after the 10 header octets */
	ud[5] = 110;
	ud[6] = 240;
	ud[7] = 0x00;
	ud[8] = 0;
	ud[9] = 0;
	from_outstation(t, ud, sizeof ud);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 1);
	uint64_t v = 0;
	CHECK(th_pdu_u(th_pdu_n(t, "dnp3", 0), "app_len", &v) && v == 249);
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
	const uint8_t r1[] = { 0xC0, 0xC1, 0x01, 60, 1, 0x06 };
	uint8_t buf[64];
	size_t n = frame(buf, CTL_M, 10, 1, r1, sizeof r1);
	th_tcp(t, MASTER, 40003, OUTST, 20001, 1, TCP_ACK | TCP_PSH, buf, n);
	/* and something that only looks like it: right start octets, wrong header CRC */
	buf[8] ^= 0x55;
	th_tcp(t, MASTER, 40004, OUTST, 20002, 1, TCP_ACK | TCP_PSH, buf, n);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "dnp3"), 1);
	th_free(t);
}

int main(void)
{
	test_read_and_response();
	test_events();
	test_reassembly();
	test_sequence_errors();
	test_segmentation();
	test_crc_errors();
	test_link_only_and_udp();
	test_device_attributes();
	test_malformed();
	test_maximum_length();
	test_nonstandard_port();
	return check_done();
}
