/*
 * test_s7comm.c - TPKT/COTP and S7comm / S7comm-plus through a real worker: connection
 * requests with TSAPs, job/ack_data/userdata fields, read/write ranges, SZL identity,
 * operational events, COTP fragment reassembly, TCP segmentation, malformed PDUs,
 * the heuristic on a non-standard port.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define PLC "10.0.1.10"
#define PG "10.0.1.20"

struct conn {
	struct th *t;
	uint16_t cport, sport;
	uint32_t cseq, sseq;
};

static void to_plc(struct conn *c, const uint8_t *p, size_t n)
{
	th_tcp(c->t, PG, c->cport, PLC, c->sport, c->cseq, TCP_ACK | TCP_PSH, p, n);
	c->cseq += (uint32_t)n;
}

static void to_pg(struct conn *c, const uint8_t *p, size_t n)
{
	th_tcp(c->t, PLC, c->sport, PG, c->cport, c->sseq, TCP_ACK | TCP_PSH, p, n);
	c->sseq += (uint32_t)n;
}

static struct conn open_conn(struct th *t, uint16_t cport, uint16_t sport)
{
	struct conn c = { t, cport, sport, 1000, 5000 };
	th_tcp(t, PG, cport, PLC, sport, c.cseq++, TCP_SYN, NULL, 0);
	th_tcp(t, PLC, sport, PG, cport, c.sseq++, TCP_SYN | TCP_ACK, NULL, 0);
	return c;
}

/* TPKT + COTP DT (EOT as given) around an S7 payload, into out; returns its length */
static size_t dt(uint8_t *out, const uint8_t *s7, size_t n, bool eot)
{
	size_t len = 7 + n;
	out[0] = 3;
	out[1] = 0;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	out[4] = 2;
	out[5] = 0xf0;
	out[6] = eot ? 0x80 : 0x00;
	if (n)
		memcpy(out + 7, s7, n);
	return len;
}

static void send_dt(struct conn *c, bool to_server, const uint8_t *s7, size_t n)
{
	uint8_t buf[8192];
	size_t len = dt(buf, s7, n, true);
	if (to_server)
		to_plc(c, buf, len);
	else
		to_pg(c, buf, len);
}

static uint64_t fu(const struct th_pdu *p, const char *k)
{
	uint64_t v = 0xdeadbeef;
	if (!p || !th_pdu_u(p, k, &v))
		return 0xdeadbeef;
	return v;
}

static bool has_identity(const struct th *t, const char *key, const char *value, enum fact_subject who)
{
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_IDENTITY && !strcmp(f->u.id.key, key) && !strcmp(f->u.id.value, value) &&
		    f->u.id.subject == who)
			return true;
	}
	return false;
}

static void test_connect_and_setup(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 40000, 102);
	const uint8_t cr[] = { 3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2 };
	const uint8_t cc[] = { 3, 0, 0, 22, 17, 0xd0, 0, 1, 0x44, 0x31, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2 };
	to_plc(&c, cr, sizeof cr);
	to_pg(&c, cc, sizeof cc);
	const uint8_t setup[] = { 0x32, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0xf0, 0, 0, 1, 0, 1, 1, 0xe0 };
	const uint8_t ack[] = { 0x32, 3, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0xf0, 0, 0, 1, 0, 1, 0, 0xf0 };
	send_dt(&c, true, setup, sizeof setup);
	send_dt(&c, false, ack, sizeof ack);
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "cotp"), 2);
	const struct th_pdu *p = th_pdu_n(t, "cotp", 0);
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK_EQ(fu(p, "pdu_type"), 0xe0);
	CHECK(p && th_pdu_s(p, "src_tsap") && !strcmp(th_pdu_s(p, "src_tsap"), "0100"));
	CHECK(p && th_pdu_s(p, "dst_tsap") && !strcmp(th_pdu_s(p, "dst_tsap"), "0102"));
	CHECK_EQ(fu(p, "tpdu_size"), 1024);
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && !strcmp(op->proto, "cotp") && op->u.op.object == 0x0102);

	CHECK_EQ(th_count_pdus(t, "s7comm"), 2);
	const struct th_pdu *j = th_pdu_n(t, "s7comm", 0);
	CHECK(j && !strcmp(j->dir, "request"));
	CHECK_EQ(fu(j, "rosctr"), 1);
	CHECK_EQ(fu(j, "func"), 0xf0);
	CHECK_EQ(fu(j, "pdu_size"), 480);
	const struct th_pdu *a = th_pdu_n(t, "s7comm", 1);
	CHECK(a && !strcmp(a->dir, "response"));
	CHECK_EQ(fu(a, "rosctr"), 3);
	CHECK_EQ(fu(a, "func"), 0xf0);
	CHECK_EQ(fu(a, "pdu_size"), 240);
	CHECK_EQ(fu(a, "group"), 0xdeadbeef); /* no userdata fields on a job */
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_read_write_var(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 40001, 102);
	/* read 4 bytes of DB5 at byte 16 */
	const uint8_t rd[] = { 0x32, 1, 0, 0, 0, 2, 0, 14, 0, 0, 0x04, 1,
			       0x12, 10, 0x10, 2, 0, 4, 0, 5, 0x84, 0, 0, 16 * 8 };
	/* write 2 words of M at byte 100 */
	const uint8_t wr[] = { 0x32, 1, 0, 0, 0, 3, 0, 14, 0, 8, 0x05, 1,
			       0x12, 10, 0x10, 4, 0, 2, 0, 0, 0x83, 0, 0x03, 0x20,
			       0, 4, 0, 32, 1, 2, 3, 4 };
	/* the read's answer: item 1 failed with 0x0a (object does not exist) */
	const uint8_t rd_err[] = { 0x32, 3, 0, 0, 0, 2, 0, 2, 0, 4, 0, 0, 0x04, 1, 0x0a, 0, 0, 0 };
	send_dt(&c, true, rd, sizeof rd);
	send_dt(&c, false, rd_err, sizeof rd_err);
	send_dt(&c, true, wr, sizeof wr);
	th_finish(t);
	const struct th_pdu *e = th_pdu_n(t, "s7comm", 1);
	CHECK(e && !strcmp(e->dir, "response"));
	CHECK_EQ(fu(e, "func"), 4);
	CHECK_EQ(fu(e, "item_errors"), 1);
	bool saw_exc = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_OPERATION && f->u.op.exception && f->u.op.exc_code == 0x0a && f->u.op.has_range &&
		    f->u.op.addr_lo == 16 && f->u.op.is_response)
			saw_exc = true;
	}
	CHECK(saw_exc);
	const struct th_pdu *p = th_pdu_n(t, "s7comm", 0);
	CHECK_EQ(fu(p, "func"), 4);
	CHECK_EQ(fu(p, "db"), 5);
	CHECK_EQ(fu(p, "area"), 0x84);
	CHECK_EQ(fu(p, "addr"), 16);
	const struct th_pdu *w = th_pdu_n(t, "s7comm", 2);
	CHECK_EQ(fu(w, "func"), 5);
	CHECK_EQ(fu(w, "area"), 0x83);
	bool saw_read = false, saw_write = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type != FACT_OPERATION || strcmp(f->proto, "s7comm"))
			continue;
		if (f->u.op.func == 4 && !f->u.op.is_write && f->u.op.object == (0x84u << 16 | 5) && f->u.op.has_range &&
		    f->u.op.addr_lo == 16 && f->u.op.addr_hi == 19)
			saw_read = true;
		if (f->u.op.func == 5 && f->u.op.is_write && f->u.op.object == 0x83u << 16 && f->u.op.addr_lo == 100 &&
		    f->u.op.addr_hi == 103)
			saw_write = true;
	}
	CHECK(saw_read);
	CHECK(saw_write);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_szl_identity(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 40002, 102);
	const uint8_t req[] = { 0x32, 7, 0, 0, 1, 0, 0, 8, 0, 8, 0, 1, 0x12, 4, 0x11, 0x44, 0x01, 0,
				0xff, 9, 0, 4, 0, 0x11, 0, 0 };
	send_dt(&c, true, req, sizeof req);
	/* response: SZL 0x0011 with index 1 (order number) and index 7 (firmware V3.2.7) */
	uint8_t resp[200];
	size_t n = 0;
	const uint8_t hdr[] = { 0x32, 7, 0, 0, 1, 0, 0, 12, 0, 0, 0, 1, 0x12, 8, 0x12, 0x84, 0x01, 1, 0, 0, 0, 0 };
	memcpy(resp, hdr, sizeof hdr);
	n = sizeof hdr;
	size_t data_at = n;
	const uint8_t dhead[] = { 0xff, 9, 0, 0, 0, 0x11, 0, 0, 0, 28, 0, 2 };
	memcpy(resp + n, dhead, sizeof dhead);
	n += sizeof dhead;
	const uint8_t r1[28] = { 0, 1, '6', 'E', 'S', '7', ' ', '3', '1', '5', '-', '2', 'E', 'H', '1', '4', '-', '0',
				 'A', 'B', '0', ' ', 0, 0xc0, 0, 3, 0, 1 };
	const uint8_t r7[28] = { 0, 7, ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
				 ' ', ' ', ' ', ' ', 0, 0xc0, 'V', 3, 2, 7 };
	memcpy(resp + n, r1, 28);
	n += 28;
	memcpy(resp + n, r7, 28);
	n += 28;
	size_t dlen = n - data_at;
	resp[8] = (uint8_t)(dlen >> 8);
	resp[9] = (uint8_t)dlen;
	resp[data_at + 2] = (uint8_t)((dlen - 4) >> 8);
	resp[data_at + 3] = (uint8_t)(dlen - 4);
	send_dt(&c, false, resp, n);

	/* SZL 0x001c: module name (index 2) and serial (index 5) */
	uint8_t r2[200];
	const uint8_t hdr2[] = { 0x32, 7, 0, 0, 2, 0, 0, 12, 0, 0, 0, 1, 0x12, 8, 0x12, 0x84, 0x01, 2, 0, 0, 0, 0,
				 0xff, 9, 0, 0, 0, 0x1c, 0, 0, 0, 34, 0, 2 };
	memcpy(r2, hdr2, sizeof hdr2);
	n = sizeof hdr2;
	uint8_t rec[34] = { 0, 2 };
	memset(rec + 2, 0, 32);
	memcpy(rec + 2, "PLC_1", 5);
	memcpy(r2 + n, rec, 34);
	n += 34;
	memset(rec + 2, 0, 32);
	rec[1] = 5;
	memcpy(rec + 2, "S C-B1U393142011", 16);
	memcpy(r2 + n, rec, 34);
	n += 34;
	dlen = n - 22;
	r2[8] = (uint8_t)(dlen >> 8);
	r2[9] = (uint8_t)dlen;
	r2[22 + 3] = (uint8_t)(dlen - 4);
	send_dt(&c, false, r2, n);
	th_finish(t);

	const struct th_pdu *q = th_pdu_n(t, "s7comm", 0);
	CHECK(q && !strcmp(q->dir, "request"));
	CHECK_EQ(fu(q, "rosctr"), 7);
	CHECK_EQ(fu(q, "group"), 4);
	CHECK_EQ(fu(q, "subfunc"), 1);
	CHECK_EQ(fu(q, "szl_id"), 0x11);
	CHECK_EQ(fu(q, "func"), 0xdeadbeef);
	const struct th_pdu *r = th_pdu_n(t, "s7comm", 1);
	CHECK(r && !strcmp(r->dir, "response"));
	CHECK(has_identity(t, "model", "6ES7 315-2EH14-0AB0", SUBJ_SRC));
	CHECK(has_identity(t, "product_code", "6ES7 315-2EH14-0AB0", SUBJ_SRC));
	CHECK(has_identity(t, "firmware", "V3.2.7", SUBJ_SRC));
	CHECK(has_identity(t, "name", "PLC_1", SUBJ_SRC));
	CHECK(has_identity(t, "serial", "S C-B1U393142011", SUBJ_SRC));
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
	struct conn c = open_conn(t, 40003, 102);
	const uint8_t stop[] = { 0x32, 1, 0, 0, 0, 0x1c, 0, 0x10, 0, 0, 0x29, 0, 0, 0, 0, 0, 9,
				 'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M' };
	const uint8_t cold[] = { 0x32, 1, 0, 0, 0, 0x1f, 0, 0x16, 0, 0, 0x28, 0, 0, 0, 0, 0, 0, 0xfd, 0, 2, 'C', ' ', 9,
				 'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M' };
	const uint8_t reqdl[] = { 0x32, 1, 0, 0, 0, 0x83, 0, 0x20, 0, 0, 0x1a, 0, 1, 0, 0, 0, 0, 0, 9,
				  '_', '0', 'A', '0', '0', '0', '0', '1', 'P', 0x0d,
				  '1', '0', '0', '0', '2', '1', '6', '0', '0', '0', '0', '8', '8' };
	const uint8_t dlblk[] = { 0x32, 1, 0, 0, 0, 0x84, 0, 0x12, 0, 0, 0x1b, 0, 0, 0, 0, 0, 0, 0, 9,
				  '_', '0', 'A', '0', '0', '0', '0', '1', 'P' };
	const uint8_t dlend[] = { 0x32, 1, 0, 0, 0, 0x85, 0, 0x12, 0, 0, 0x1c, 0, 0, 0, 0, 0, 0, 0, 9,
				  '_', '0', 'A', '0', '0', '0', '0', '1', 'P' };
	const uint8_t upl[] = { 0x32, 1, 0, 0, 0, 0x86, 0, 0x12, 0, 0, 0x1d, 0, 0, 0, 0, 0, 0, 0, 9,
				'_', '0', '8', '0', '0', '0', '0', '1', 'A' };
	const uint8_t pw[] = { 0x32, 7, 0, 0, 0, 0x87, 0, 8, 0, 12, 0, 1, 0x12, 4, 0x11, 0x45, 0x01, 0,
			       0xff, 9, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t clk[] = { 0x32, 7, 0, 0, 0, 0x88, 0, 8, 0, 14, 0, 1, 0x12, 4, 0x11, 0x47, 0x02, 0,
				0xff, 9, 0, 10, 0, 0x19, 0x20, 0x01, 0x01, 0x12, 0, 0, 0, 0x01 };
	send_dt(&c, true, stop, sizeof stop);
	send_dt(&c, true, cold, sizeof cold);
	send_dt(&c, true, reqdl, sizeof reqdl);
	send_dt(&c, true, dlblk, sizeof dlblk);
	send_dt(&c, true, dlend, sizeof dlend);
	send_dt(&c, true, upl, sizeof upl);
	send_dt(&c, true, pw, sizeof pw);
	send_dt(&c, true, clk, sizeof clk);
	th_finish(t);

	const struct fact *e = th_event(t, EV_PLC_STOP);
	CHECK(e && e->u.event.subject == SUBJ_DST && !strcmp(e->proto, "s7comm"));
	e = th_event(t, EV_PLC_START);
	CHECK(e && strstr(e->u.event.detail, "cold"));
	e = th_event(t, EV_PROGRAM_DOWNLOAD);
	CHECK(e && strstr(e->u.event.detail, "DB1"));
	size_t downloads = 0;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_EVENT && t->facts[i].u.event.ev == EV_PROGRAM_DOWNLOAD)
			downloads++;
	CHECK_EQ(downloads, 1); /* once per download, not per block PDU */
	e = th_event(t, EV_PROGRAM_UPLOAD);
	CHECK(e && strstr(e->u.event.detail, "OB1"));
	CHECK(th_event(t, EV_UNLOCK) != NULL);
	CHECK(th_event(t, EV_TIME_SET) != NULL);
	const struct th_pdu *p = th_pdu_n(t, "s7comm", 2);
	CHECK(p && th_pdu_s(p, "block") && !strcmp(th_pdu_s(p, "block"), "DB1"));
	CHECK_EQ(fu(th_pdu_n(t, "s7comm", 6), "group"), 5);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_fragments_and_segments(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 40004, 102);
	const uint8_t rd[] = { 0x32, 1, 0, 0, 0, 2, 0, 14, 0, 0, 0x04, 1,
			       0x12, 10, 0x10, 2, 0, 4, 0, 5, 0x84, 0, 0, 16 * 8 };
	uint8_t a[64], b[64], e[16];
	/* an empty DT fragment, then the PDU split over two DT TPDUs */
	size_t ne = dt(e, NULL, 0, false);
	size_t na = dt(a, rd, 9, false);
	size_t nb = dt(b, rd + 9, sizeof rd - 9, true);
	to_plc(&c, e, ne);
	to_plc(&c, a, na);
	CHECK_EQ(th_count_pdus(t, "s7comm"), 0);
	/* the last fragment's TPKT itself split over two TCP segments */
	to_plc(&c, b, 5);
	to_plc(&c, b + 5, nb - 5);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "s7comm"), 1);
	const struct th_pdu *p = th_pdu_n(t, "s7comm", 0);
	CHECK_EQ(fu(p, "func"), 4);
	CHECK_EQ(fu(p, "db"), 5);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_s7plus_and_probe(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	/* S7comm-plus v1 create object request, on a non-standard port (heuristic) */
	struct conn c = open_conn(t, 40005, 1102);
	const uint8_t plus[] = { 0x72, 1, 0, 12, 0x31, 0, 0, 0x04, 0xca, 0, 0, 0, 1, 0, 0, 0, 0x72, 1, 0, 0 };
	send_dt(&c, true, plus, sizeof plus);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "s7comm_plus"), 1);
	const struct th_pdu *p = th_pdu_n(t, "s7comm_plus", 0);
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK_EQ(fu(p, "opcode"), 0x31);
	CHECK_EQ(fu(p, "func"), 0x04ca);
	CHECK_EQ(fu(p, "version"), 1);
	const struct fact *op = th_fact(t, FACT_OPERATION, NULL);
	CHECK(op && !strcmp(op->proto, "s7comm_plus") && op->u.op.is_write);
	th_free(t);

	/* something else on an unknown port is not taken */
	t = th_new();
	if (!t)
		return;
	c = open_conn(t, 40006, 1103);
	const uint8_t junk[] = { 3, 0, 0, 9, 2, 0xf0, 0x80, 0x55, 0x66 };
	to_plc(&c, junk, sizeof junk);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "cotp"), 0);
	CHECK_EQ(th_count_pdus(t, "s7comm"), 0);
	th_free(t);
}

static void test_malformed(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 40007, 102);
	/* S7 header cut short */
	const uint8_t shorthdr[] = { 0x32, 1, 0, 0, 0 };
	send_dt(&c, true, shorthdr, sizeof shorthdr);
	/* parameter length larger than the PDU */
	const uint8_t biglen[] = { 0x32, 1, 0, 0, 0, 1, 0x10, 0, 0, 0, 0x04, 1 };
	send_dt(&c, true, biglen, sizeof biglen);
	/* read var item running past the parameters */
	const uint8_t baditem[] = { 0x32, 1, 0, 0, 0, 2, 0, 6, 0, 0, 0x04, 1, 0x12, 10, 0x10, 2 };
	send_dt(&c, true, baditem, sizeof baditem);
	/* COTP length indicator past the TPKT */
	const uint8_t badli[] = { 3, 0, 0, 8, 30, 0xf0, 0x80, 0x32 };
	to_plc(&c, badli, sizeof badli);
	/* a zero-length DT is fine */
	send_dt(&c, true, NULL, 0);
	/* unknown ROSCTR */
	const uint8_t ros[] = { 0x32, 9, 0, 0, 0, 1, 0, 0, 0, 0 };
	send_dt(&c, true, ros, sizeof ros);
	/* maximum-size write var: many items, data to the end of a big TPKT */
	static uint8_t big[4000];
	memset(big, 0, sizeof big);
	const uint8_t h[] = { 0x32, 1, 0, 0, 0, 9, 0, 14, 0x0f, 0x88, 0x05, 1,
			      0x12, 10, 0x10, 2, 0x0f, 0x84, 0, 1, 0x84, 0, 0, 0, 0, 4, 0x7c, 0x20 };
	memcpy(big, h, sizeof h);
	send_dt(&c, true, big, sizeof big);
	th_finish(t);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 4);
	const struct th_pdu *p = th_pdu_n(t, "s7comm", th_count_pdus(t, "s7comm") - 1);
	CHECK_EQ(fu(p, "func"), 5);
	CHECK_EQ(fu(p, "qty"), 3972);
	th_free(t);
}

int main(void)
{
	test_connect_and_setup();
	test_read_write_var();
	test_szl_identity();
	test_events();
	test_fragments_and_segments();
	test_s7plus_and_probe();
	test_malformed();
	return check_done();
}
