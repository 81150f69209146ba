/*
 * cotp.c - ISO-on-TCP (RFC 1006 TPKT, TCP 102) and ISO 8073 COTP class 0, the transport
 * under Siemens S7comm, S7comm-plus and MMS (IEC 61850 / ISO 9506).
 *
 * Frames TPKTs (pdu_len), parses the COTP TPDU in each, and hands DT user data to the
 * parser of the protocol it carries (iso.h): 0x32 S7comm, 0x72 S7comm-plus, an ISO
 * session SPDU or a bare MMS PDU. A DT sequence split over several TPDUs (EOT bit clear)
 * is reassembled into per-flow memory up to COTP_HEAD bytes per direction; a longer one
 * is parsed from that head (`partial`), which is enough for every header field we report.
 *
 * Emits: "cotp" pdu records for connection management TPDUs (CR, CC, DR, DC, ...) with
 * references, class and TSAPs; an operation fact per connection request (object = the
 * called TSAP, which for S7 encodes rack/slot); violations for malformed TPKT/COTP.
 *
 * Must never: read a byte except through struct rd, or let a length field take it past
 * the TPKT; the reassembly head is bounded and is dropped after a gap.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "iso.h"
#include "textfmt.h"

#define COTP_HEAD 88

enum { UP_NONE, UP_S7, UP_S7PLUS, UP_MMS };

struct cotp_frag {
	uint16_t have;
	uint8_t active, overflow;
	uint8_t buf[COTP_HEAD];
};

struct cotp_state {
	struct cotp_frag frag[2];   /* [0] client->server, [1] server->client */
	uint8_t upper;              /* what the DT payloads of this flow carried last */
	struct s7_state s7;
};

_Static_assert(sizeof(struct cotp_state) <= DISSECTOR_STATE_SIZE, "cotp state too large");

#define TPKT_MIN 7 /* 4 bytes TPKT + LI + DT code + EOT/NR */

static ssize_t cotp_pdu_len(const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	uint8_t ver = rd_u8(&r);
	if (!rd_ok(&r))
		return 0;
	if (ver != 3)
		return -1;
	uint8_t res = rd_u8(&r);
	uint16_t plen = rd_be16(&r);
	if (!rd_ok(&r))
		return 0;
	if (res != 0 || plen < TPKT_MIN)
		return -1;
	return plen;
}

static bool cotp_probe(const uint8_t *data, size_t len, bool to_server)
{
	struct rd r = rd_init(data, len);
	uint8_t ver = rd_u8(&r);
	uint8_t res = rd_u8(&r);
	uint16_t plen = rd_be16(&r);
	uint8_t li = rd_u8(&r);
	uint8_t code = rd_u8(&r);
	if (!rd_ok(&r) || ver != 3 || res != 0 || plen < TPKT_MIN || plen > len || (size_t)li + 5 > plen)
		return false;
	switch (code & 0xf0) {
	case 0xe0: /* CR: dst ref 0, class 0..4 */
	case 0xd0: { /* CC */
		uint16_t dref = rd_be16(&r);
		rd_skip(&r, 2);
		uint8_t cls = rd_u8(&r);
		if (!rd_ok(&r) || li < 6 || (cls >> 4) > 4)
			return false;
		if ((code & 0xf0) == 0xe0)
			return to_server && dref == 0;
		return !to_server;
	}
	case 0xf0: {
		uint8_t nr = rd_u8(&r);
		int first = rd_peek(&r, 0);
		if (!rd_ok(&r) || li != 2 || (nr & 0x7f) != 0)
			return false;
		return first == 0x32 || first == 0x72 || mms_looks_like_session(&r) || mms_looks_like_pdu(&r);
	}
	default:
		return false;
	}
}

static const char *tpdu_name(uint8_t code)
{
	switch (code) {
	case 0xe0: return "CR";
	case 0xd0: return "CC";
	case 0x80: return "DR";
	case 0xc0: return "DC";
	case 0xf0: return "DT";
	case 0x10: return "ED";
	case 0x60: return "AK";
	case 0x20: return "EA";
	case 0x50: return "RJ";
	case 0x70: return "ER";
	default: return NULL;
	}
}

static void tsap_text(struct rd *v, char *dst, size_t n)
{
	struct tbuf b = tb_init(dst, n);
	while (!rd_empty(v) && b.len + 3 <= n)
		tb_hex8(&b, rd_u8(v));
}

/* CR, CC, DR, DC and the other non-data TPDUs: a "cotp" record. */
static int conn_tpdu(struct dctx *ctx, struct rd *h, uint8_t code)
{
	const char *dir = code == 0xe0 ? "request" : code == 0xd0 ? "response" : ctx->to_server ? "request" : "response";
	pdu_begin_proto(ctx, "cotp", dir);
	pdu_u(ctx, "pdu_type", code);
	const char *name = tpdu_name(code);
	if (name)
		pdu_s(ctx, "pdu_name", name);
	uint16_t dref = rd_be16(h);
	uint16_t sref = 0;
	if (code == 0xe0 || code == 0xd0 || code == 0x80 || code == 0xc0)
		sref = rd_be16(h);
	if (!rd_ok(h)) {
		dctx_violation(ctx, "cotp: %s TPDU header too short", name ? name : "unknown");
		pdu_end(ctx);
		return -1;
	}
	pdu_u(ctx, "dst_ref", dref);
	if (code == 0xe0 || code == 0xd0 || code == 0x80 || code == 0xc0)
		pdu_u(ctx, "src_ref", sref);
	char src_tsap[40] = "", dst_tsap[40] = "";
	uint32_t called = 0;
	if (code == 0xe0 || code == 0xd0 || code == 0x80) {
		uint8_t b = rd_u8(h);
		if (code == 0x80)
			pdu_u(ctx, "reason", b);
		else
			pdu_u(ctx, "class", b >> 4);
		/* variable part: parameters up to the end of the header */
		while (rd_ok(h) && !rd_empty(h)) {
			uint8_t pc = rd_u8(h);
			uint8_t pl = rd_u8(h);
			struct rd v = rd_sub(h, pl);
			if (!rd_ok(h)) {
				dctx_violation(ctx, "cotp: parameter 0x%02x runs past the header", pc);
				break;
			}
			if (pc == 0xc0 && pl == 1) {
				uint8_t sz = rd_u8(&v);
				if (sz >= 7 && sz <= 13)
					pdu_u(ctx, "tpdu_size", 1u << sz);
			} else if (pc == 0xc1) {
				tsap_text(&v, src_tsap, sizeof src_tsap);
			} else if (pc == 0xc2) {
				struct rd c = v;
				for (int i = 0; i < 4 && !rd_empty(&c); i++)
					called = called << 8 | rd_u8(&c);
				tsap_text(&v, dst_tsap, sizeof dst_tsap);
			}
		}
		if (src_tsap[0])
			pdu_s(ctx, "src_tsap", src_tsap);
		if (dst_tsap[0])
			pdu_s(ctx, "dst_tsap", dst_tsap);
	}
	if (code == 0xe0) {
		struct fact f;
		dctx_fact_init(ctx, &f, FACT_OPERATION);
		f.u.op.func = code;
		snprintf(f.u.op.name, sizeof f.u.op.name, "connect_request");
		f.u.op.object = called;
		dctx_emit(ctx, &f);
	}
	pdu_end(ctx);
	return 0;
}

static int dispatch(struct dctx *ctx, struct cotp_state *s, struct rd *r, bool partial)
{
	int first = rd_peek(r, 0);
	if (first < 0)
		return 0; /* an empty DT: nothing carried */
	if (first == 0x32) {
		s->upper = UP_S7;
		return s7comm_parse(ctx, r, &s->s7, partial);
	}
	if (first == 0x72) {
		s->upper = UP_S7PLUS;
		return s7plus_parse(ctx, r, partial);
	}
	if (s->upper != UP_S7 && s->upper != UP_S7PLUS && mms_looks_like_session(r)) {
		s->upper = UP_MMS;
		return mms_parse_session(ctx, r, partial);
	}
	if (s->upper != UP_S7 && s->upper != UP_S7PLUS && mms_looks_like_pdu(r)) {
		s->upper = UP_MMS;
		return mms_parse_pdu(ctx, r, partial);
	}
	if (s->upper == UP_S7PLUS)
		return 0; /* S7comm-plus spreads large objects over DTs without a new header */
	pdu_begin_proto(ctx, "cotp", ctx->to_server ? "request" : "response");
	pdu_u(ctx, "pdu_type", 0xf0);
	pdu_s(ctx, "pdu_name", "DT");
	pdu_u(ctx, "payload_len", rd_left(r));
	pdu_end(ctx);
	return 0;
}

static void frag_add(struct cotp_frag *fr, struct rd *payload)
{
	size_t n = rd_left(payload);
	size_t room = COTP_HEAD - fr->have;
	if (n > room) {
		n = room;
		fr->overflow = 1;
	}
	rd_copy(payload, fr->buf + fr->have, n);
	fr->have = (uint16_t)(fr->have + n);
	fr->active = 1;
}

static int cotp_parse(struct dctx *ctx, struct rd *r)
{
	struct cotp_state *s = ctx->state;
	uint8_t ver = rd_u8(r);
	rd_skip(r, 1);
	uint16_t plen = rd_be16(r);
	uint8_t li = rd_u8(r);
	if (!rd_ok(r) || ver != 3) {
		dctx_violation(ctx, "cotp: bad TPKT header");
		return -1;
	}
	if (!ctx->truncated && plen != rd_left(r) + 5)
		dctx_violation(ctx, "cotp: TPKT length %u does not match the %zu bytes present", plen, rd_left(r) + 5);
	if (li == 0 || li == 255) {
		dctx_violation(ctx, "cotp: length indicator %u is not allowed", li);
		return -1;
	}
	struct rd h = rd_sub(r, li);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "cotp: length indicator %u runs past the TPKT", li);
		return -1;
	}
	uint8_t type = rd_u8(&h);
	uint8_t code = type & 0xf0;
	if (code == 0xe0 || code == 0xd0)
		return conn_tpdu(ctx, &h, code);
	if (code != 0xf0) {
		if (!tpdu_name(code)) {
			dctx_violation(ctx, "cotp: unknown TPDU type 0x%02x", type);
			return -1;
		}
		return conn_tpdu(ctx, &h, code);
	}
	/* DT: class 0 has a one-byte header: EOT bit + send sequence number */
	uint8_t nr = rd_u8(&h);
	if (!rd_ok(&h)) {
		dctx_violation(ctx, "cotp: DT TPDU without its EOT/NR byte");
		return -1;
	}
	struct cotp_frag *fr = &s->frag[ctx->to_server ? 0 : 1];
	if (ctx->after_gap)
		memset(fr, 0, sizeof *fr);
	if (!(nr & 0x80)) {
		frag_add(fr, r);
		return 0;
	}
	if (!fr->active || fr->have == 0) { /* whole here (empty fragments before it carry nothing) */
		memset(fr, 0, sizeof *fr);
		return dispatch(ctx, s, r, ctx->truncated);
	}
	frag_add(fr, r);
	struct rd whole = rd_init(fr->buf, fr->have);
	bool partial = fr->overflow || ctx->truncated;
	int rc = dispatch(ctx, s, &whole, partial);
	memset(fr, 0, sizeof *fr);
	return rc;
}

static const uint16_t cotp_ports[] = { 102, 0 };

const struct dissector cotp_dissector = {
	.name = "cotp",
	.transports = DT_TCP,
	.ports = cotp_ports,
	.probe = cotp_probe,
	.pdu_len = cotp_pdu_len,
	.parse = cotp_parse,
};
