/*
 * test_mms.c - MMS over COTP through a real worker: bare MMS PDUs, MMS inside ISO
 * session/presentation (data transfer) and inside the connect SPDU (ACSE AARQ with
 * initiate-Request), service numbers as tshark shows them, identify -> identity, write ->
 * is_write, program invocation and file services -> events, malformed BER.
 *
 * Must never: pass without having looked at a record.
 */
#include <string.h>

#include "check.h"
#include "harness.h"

#define IED "10.0.2.10"
#define SCADA "10.0.2.20"

struct conn {
	struct th *t;
	uint16_t cport;
	uint32_t cseq, sseq;
};

static struct conn open_conn(struct th *t, uint16_t cport)
{
	struct conn c = { t, cport, 100, 900 };
	th_tcp(t, SCADA, cport, IED, 102, c.cseq++, TCP_SYN, NULL, 0);
	th_tcp(t, IED, 102, SCADA, cport, c.sseq++, TCP_SYN | TCP_ACK, NULL, 0);
	return c;
}

/* TLV: tag bytes, definite length, content; returns the bytes written */
static size_t tlv(uint8_t *dst, const char *tag, size_t taglen, const uint8_t *content, size_t n)
{
	size_t k = 0;
	memcpy(dst, tag, taglen);
	k += taglen;
	if (n < 0x80) {
		dst[k++] = (uint8_t)n;
	} else if (n < 0x100) {
		dst[k++] = 0x81;
		dst[k++] = (uint8_t)n;
	} else {
		dst[k++] = 0x82;
		dst[k++] = (uint8_t)(n >> 8);
		dst[k++] = (uint8_t)n;
	}
	memmove(dst + k, content, n);
	return k + n;
}

/* TPKT + COTP DT around user data */
static void send_dt(struct conn *c, bool to_server, const uint8_t *ud, size_t n)
{
	uint8_t buf[4096];
	size_t len = 7 + n;
	buf[0] = 3;
	buf[1] = 0;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[4] = 2;
	buf[5] = 0xf0;
	buf[6] = 0x80;
	memcpy(buf + 7, ud, n);
	if (to_server) {
		th_tcp(c->t, SCADA, c->cport, IED, 102, c->cseq, TCP_ACK | TCP_PSH, buf, len);
		c->cseq += (uint32_t)len;
	} else {
		th_tcp(c->t, IED, 102, SCADA, c->cport, c->sseq, TCP_ACK | TCP_PSH, buf, len);
		c->sseq += (uint32_t)len;
	}
}

/* session give-tokens + DT, presentation fully-encoded-data, context 3 */
static size_t in_session(uint8_t *out, const uint8_t *mms, size_t n)
{
	uint8_t a[2048], b[2048];
	size_t k = tlv(a, "\xa0", 1, mms, n);                 /* single-ASN1-type */
	uint8_t pdv[2048] = { 0x02, 0x01, 0x03 };
	memcpy(pdv + 3, a, k);
	k = tlv(b, "\x30", 1, pdv, k + 3);                    /* PDV-list */
	k = tlv(a, "\x61", 1, b, k);                          /* fully-encoded-data */
	out[0] = 1;
	out[1] = 0;
	out[2] = 1;
	out[3] = 0;
	memcpy(out + 4, a, k);
	return k + 4;
}

/* domain-specific variable list [0] with one name LD0/Item */
static size_t var_list(uint8_t *out)
{
	uint8_t a[128], b[128];
	const uint8_t names[] = { 0x1a, 3, 'L', 'D', '0', 0x1a, 4, 'I', 't', 'e', 'm' };
	size_t k = tlv(a, "\xa1", 1, names, sizeof names);    /* domain-specific */
	k = tlv(b, "\xa0", 1, a, k);                          /* name */
	k = tlv(a, "\x30", 1, b, k);
	return tlv(out, "\xa0", 1, a, k);                     /* listOfVariable */
}

static size_t confirmed(uint8_t *out, bool req, uint8_t invoke, const char *svc_tag, size_t taglen,
			const uint8_t *svc, size_t n)
{
	uint8_t a[1024], b[1024] = { 0x02, 0x01, invoke };
	size_t k = tlv(a, svc_tag, taglen, svc, n);
	memcpy(b + 3, a, k);
	return tlv(out, req ? "\xa0" : "\xa1", 1, b, k + 3);
}

static uint64_t fu(const struct th_pdu *p, const char *k)
{
	uint64_t v = 0xdeadbeef;
	if (!p || !th_pdu_u(p, k, &v))
		return 0xdeadbeef;
	return v;
}

static bool is_null(const struct th_pdu *p, const char *k)
{
	for (int i = 0; p && i < p->nfields; i++)
		if (!strcmp(p->f[i].key, k))
			return p->f[i].type == PF_NULL;
	return false;
}

static void test_bare_services(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 41000);
	uint8_t pdu[512], spec[256], body[256];
	size_t n, k;

	/* read LD0/Item */
	k = var_list(spec);
	n = tlv(body, "\xa1", 1, spec, k);                    /* variableAccessSpecification [1] */
	n = confirmed(pdu, true, 1, "\xa4", 1, body, n);
	send_dt(&c, true, pdu, n);
	/* write LD0/Item := 0xff */
	k = var_list(spec);
	const uint8_t data[] = { 0xa0, 3, 0x83, 1, 0xff };
	memcpy(spec + k, data, sizeof data);
	n = confirmed(pdu, true, 2, "\xa5", 1, spec, k + sizeof data);
	send_dt(&c, true, pdu, n);
	/* identify response */
	const uint8_t ident[] = { 0x80, 5, 'A', 'c', 'm', 'e', '!', 0x81, 5, 'I', 'E', 'D', '-', '9', 0x82, 3, '1', '.', '2' };
	n = confirmed(pdu, false, 3, "\xa2", 1, ident, sizeof ident);
	send_dt(&c, false, pdu, n);
	/* start, stop, reset program invocation "PI1"; fileOpen */
	const uint8_t pi[] = { 0x80, 3, 'P', 'I', '1' };
	n = confirmed(pdu, true, 4, "\xbf\x28", 2, pi, sizeof pi);
	send_dt(&c, true, pdu, n);
	n = confirmed(pdu, true, 5, "\xbf\x29", 2, pi, sizeof pi);
	send_dt(&c, true, pdu, n);
	n = confirmed(pdu, true, 6, "\xbf\x2b", 2, pi, sizeof pi);
	send_dt(&c, true, pdu, n);
	const uint8_t fo[] = { 0xa0, 5, 0x19, 3, 'a', '.', 'b', 0x81, 1, 0 };
	n = confirmed(pdu, true, 7, "\xbf\x48", 2, fo, sizeof fo);
	send_dt(&c, true, pdu, n);
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "mms"), 7);
	const struct th_pdu *p = th_pdu_n(t, "mms", 0);
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK_EQ(fu(p, "service"), 4);
	CHECK_EQ(fu(p, "invoke_id"), 1);
	CHECK(p && th_pdu_s(p, "item") && !strcmp(th_pdu_s(p, "item"), "LD0/Item"));
	p = th_pdu_n(t, "mms", 1);
	CHECK_EQ(fu(p, "service"), 5);
	p = th_pdu_n(t, "mms", 2);
	CHECK(p && !strcmp(p->dir, "response"));
	CHECK_EQ(fu(p, "service"), 2);
	CHECK_EQ(fu(th_pdu_n(t, "mms", 3), "service"), 40);
	CHECK_EQ(fu(th_pdu_n(t, "mms", 6), "service"), 72);

	bool saw_write = false;
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_OPERATION && f->u.op.func == 5 && f->u.op.is_write && !strcmp(f->proto, "mms"))
			saw_write = true;
		if (f->type == FACT_OPERATION && f->u.op.func == 4)
			CHECK(!f->u.op.is_write);
	}
	CHECK(saw_write);
	const struct fact *id = th_fact(t, FACT_IDENTITY, "vendor");
	CHECK(id && !strcmp(id->u.id.value, "Acme!") && id->u.id.subject == SUBJ_SRC);
	id = th_fact(t, FACT_IDENTITY, "model");
	CHECK(id && !strcmp(id->u.id.value, "IED-9"));
	id = th_fact(t, FACT_IDENTITY, "firmware");
	CHECK(id && !strcmp(id->u.id.value, "1.2"));
	const struct fact *e = th_event(t, EV_PLC_START);
	CHECK(e && e->u.event.subject == SUBJ_DST);
	CHECK(th_event(t, EV_PLC_STOP) != NULL);
	CHECK(th_event(t, EV_DEVICE_RESTART) != NULL);
	CHECK(th_event(t, EV_FILE_TRANSFER) != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

static void test_session_presentation(void)
{
	struct th *t = th_new();
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	struct conn c = open_conn(t, 41001);
	/* connect SPDU: CP-type { mode, normal-mode { user-data { PDV { AARQ { user-info { EXTERNAL { initiate }}}}}}} */
	uint8_t a[1024], b[1024];
	const uint8_t init[] = { 0xa8, 0x0a, 0x80, 0x02, 0x7d, 0x00, 0x81, 0x01, 0x05, 0x82, 0x01, 0x05 };
	size_t k = tlv(a, "\xa0", 1, init, sizeof init);
	uint8_t ext[256] = { 0x02, 0x01, 0x03 };
	memcpy(ext + 3, a, k);
	k = tlv(b, "\x28", 1, ext, k + 3);
	k = tlv(a, "\xbe", 1, b, k);
	uint8_t aarq[256] = { 0xa1, 0x07, 0x06, 0x05, 0x28, 0xca, 0x22, 0x02, 0x03 };
	memcpy(aarq + 9, a, k);
	k = tlv(b, "\x60", 1, aarq, k + 9);
	k = tlv(a, "\xa0", 1, b, k);
	uint8_t pdv[256] = { 0x02, 0x01, 0x01 };
	memcpy(pdv + 3, a, k);
	k = tlv(b, "\x30", 1, pdv, k + 3);
	k = tlv(a, "\x61", 1, b, k);
	k = tlv(b, "\xa2", 1, a, k);
	uint8_t cp[256] = { 0xa0, 0x03, 0x80, 0x01, 0x01 };
	memcpy(cp + 5, b, k);
	k = tlv(a, "\x31", 1, cp, k + 5);
	uint8_t params[512] = { 0x05, 0x06, 0x13, 0x01, 0x00, 0x16, 0x01, 0x02 };
	size_t pk = 8 + tlv(params + 8, "\xc1", 1, a, k);
	uint8_t spdu[512];
	k = tlv(spdu, "\x0d", 1, params, pk);
	send_dt(&c, true, spdu, k);

	/* data transfer: getNameList request in session/presentation */
	uint8_t pdu[256], ud[512];
	const uint8_t gnl[] = { 0xa0, 0x03, 0x80, 0x01, 0x09 };
	size_t n = confirmed(pdu, true, 9, "\xa1", 1, gnl, sizeof gnl);
	n = in_session(ud, pdu, n);
	send_dt(&c, true, ud, n);
	/* an unconfirmed informationReport from the server */
	const uint8_t rpt[] = { 0xa3, 0x09, 0xa0, 0x07, 0xa1, 0x05, 0x80, 0x03, 'R', 'P', 'T' };
	n = in_session(ud, rpt, sizeof rpt);
	send_dt(&c, false, ud, n);
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "mms"), 3);
	const struct th_pdu *p = th_pdu_n(t, "mms", 0);
	CHECK_EQ(fu(p, "pdu_type"), 8);
	CHECK(is_null(p, "service"));
	p = th_pdu_n(t, "mms", 1);
	CHECK_EQ(fu(p, "service"), 1);
	CHECK_EQ(fu(p, "invoke_id"), 9);
	p = th_pdu_n(t, "mms", 2);
	CHECK(p && !strcmp(p->dir, "event"));
	CHECK(is_null(p, "service"));
	CHECK_EQ(fu(p, "unconfirmed_service"), 0);
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
	struct conn c = open_conn(t, 41002);
	/* indefinite length inside a confirmed request (in session, so it is dispatched) */
	const uint8_t indef[] = { 0xa0, 0x80, 0x02, 0x01, 0x01, 0xa4, 0x80, 0, 0, 0, 0 };
	uint8_t ud[256];
	size_t n = in_session(ud, indef, sizeof indef);
	send_dt(&c, true, ud, n);
	/* a tag with too many continuation bytes */
	const uint8_t longtag[] = { 0xbf, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00 };
	n = in_session(ud, longtag, sizeof longtag);
	send_dt(&c, true, ud, n);
	/* a confirmed request whose service runs past its PDU */
	const uint8_t past[] = { 0xa0, 0x06, 0x02, 0x01, 0x01, 0xa4, 0x10, 0xa1 };
	n = in_session(ud, past, sizeof past);
	send_dt(&c, true, ud, n);
	/* session header cut short */
	const uint8_t ses[] = { 0x01, 0x00, 0x01, 0xff };
	send_dt(&c, true, ses, sizeof ses);
	/* a deeply nested presentation value must not recurse without bound */
	uint8_t deep[600], tmp[600];
	size_t k = 0;
	for (int i = 0; i < 20; i++) { /* AARQ { user-information { EXTERNAL { [0] { AARQ ... */
		k = tlv(tmp, "\xa0", 1, deep, k);
		k = tlv(deep, "\x28", 1, tmp, k);
		k = tlv(tmp, "\xbe", 1, deep, k);
		k = tlv(deep, "\x60", 1, tmp, k);
	}
	n = in_session(ud, deep, k);
	send_dt(&c, true, ud, n);
	th_finish(t);
	CHECK(th_count_facts(t, FACT_VIOLATION) >= 5);
	bool depth = false;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_VIOLATION && strstr(t->facts[i].u.viol.reason, "deeper"))
			depth = true;
	CHECK(depth);
	th_free(t);
}

int main(void)
{
	test_bare_services();
	test_session_presentation();
	test_malformed();
	return check_done();
}
