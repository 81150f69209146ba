/*
 * goose.c - IEC 61850-8-1 GOOSE (ethertype 0x88b8): the 8-byte header (APPID, length,
 * reserved words) and the BER-encoded IECGoosePdu ([APPLICATION 1]).
 *
 * Emits: a pdu record per frame (dir "event"; gocb_ref, st_num, sq_num as tshark's
 * goose.gocbRef/stNum/sqNum, plus appid, ttl, dat_set, go_id, test, conf_rev,
 * nds_com, num_entries, n_data); an operation fact per message (func 0, object =
 * APPID; a GOOSE publication is a state broadcast, so it is not a write); an identity
 * fact of the publisher (name: the logical device part of gocbRef); violations for a
 * bad header length, malformed BER, or a message without the mandatory fields. The
 * stNum/sqNum pair is carried in the record: L2 frames have no per-flow state here,
 * so state-change detection is left to consumers of the records.
 *
 * Must never: read a byte except through struct rd, accept a BER length longer than
 * the bytes present, or recurse into allData (it is only counted, one level).
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "it_ber.h"

/* an unsigned INTEGER of up to 8 significant bytes (leading zero bytes allowed) */
static bool goose_uint(struct rd *v, uint64_t *out)
{
	size_t n = rd_left(v);
	if (n == 0)
		return false;
	uint64_t x = 0;
	size_t sig = 0;
	while (!rd_empty(v)) {
		uint8_t b = rd_u8(v);
		if (sig == 0 && b == 0)
			continue;
		if (++sig > 8)
			return false;
		x = x << 8 | b;
	}
	*out = x;
	return rd_ok(v);
}

static int goose_parse(struct dctx *ctx, struct rd *r)
{
	uint16_t appid = rd_be16(r);
	uint16_t len = rd_be16(r);
	uint16_t res1 = rd_be16(r);
	rd_skip(r, 2);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "goose: frame shorter than the 8-byte header");
		return -1;
	}
	pdu_begin(ctx, "event");
	pdu_u(ctx, "appid", appid);
	if (len < 8 || (size_t)len - 8 > rd_left(r)) {
		dctx_violation(ctx, "goose: length %u does not fit the frame", len);
		pdu_end(ctx);
		return -1;
	}
	if (res1 & 0x8000)
		pdu_b(ctx, "simulated", true);
	struct rd body = rd_sub(r, (size_t)len - 8); /* the rest is Ethernet padding */
	bool bad = false;
	struct rd pdu;
	uint8_t tag = 0;
	if (!ber_tlv(&body, &tag, &pdu, &bad) || tag != 0x61) {
		dctx_violation(ctx, "goose: APDU is not a well-formed IECGoosePdu (tag 0x%02x)", tag);
		pdu_end(ctx);
		return -1;
	}
	char gocb[FACT_STR] = "", dat_set[FACT_STR] = "", go_id[FACT_STR] = "";
	uint64_t st = 0, sq = 0, v = 0;
	bool have_st = false, have_sq = false, have_ref = false;
	unsigned seen = 0;
	while (!rd_empty(&pdu) && !bad) {
		struct rd val;
		if (!ber_tlv(&pdu, &tag, &val, &bad))
			break;
		switch (tag) {
		case 0x80:
			rd_text(&val, rd_left(&val), gocb, sizeof gocb);
			have_ref = true;
			break;
		case 0x81:
			if (goose_uint(&val, &v))
				pdu_u(ctx, "ttl", v);
			break;
		case 0x82: rd_text(&val, rd_left(&val), dat_set, sizeof dat_set); break;
		case 0x83: rd_text(&val, rd_left(&val), go_id, sizeof go_id); break;
		case 0x84: break; /* t: UtcTime */
		case 0x85: have_st = goose_uint(&val, &st); if (!have_st) bad = true; break;
		case 0x86: have_sq = goose_uint(&val, &sq); if (!have_sq) bad = true; break;
		case 0x87: pdu_b(ctx, "test", rd_left(&val) == 1 && rd_u8(&val) != 0); break;
		case 0x88: if (goose_uint(&val, &v)) pdu_u(ctx, "conf_rev", v); break;
		case 0x89: pdu_b(ctx, "nds_com", rd_left(&val) == 1 && rd_u8(&val) != 0); break;
		case 0x8a: if (goose_uint(&val, &v)) pdu_u(ctx, "num_entries", v); break;
		case 0xab: {
			unsigned n = 0;
			struct rd item;
			uint8_t it;
			while (!rd_empty(&val) && ber_tlv(&val, &it, &item, &bad))
				n++;
			pdu_u(ctx, "n_data", n);
			break;
		}
		default: break;
		}
		if (++seen > 64)
			break;
	}
	if (have_ref)
		pdu_s(ctx, "gocb_ref", gocb);
	else
		pdu_null(ctx, "gocb_ref");
	if (have_st)
		pdu_u(ctx, "st_num", st);
	else
		pdu_null(ctx, "st_num");
	if (have_sq)
		pdu_u(ctx, "sq_num", sq);
	else
		pdu_null(ctx, "sq_num");
	if (dat_set[0])
		pdu_s(ctx, "dat_set", dat_set);
	if (go_id[0])
		pdu_s(ctx, "go_id", go_id);
	pdu_end(ctx);

	if (bad) {
		dctx_violation(ctx, "goose: malformed BER in the GOOSE PDU of APPID 0x%04x", appid);
		return -1;
	}
	if (!have_ref || !have_st || !have_sq)
		dctx_violation(ctx, "goose: PDU of APPID 0x%04x lacks gocbRef, stNum or sqNum", appid);

	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = 0;
	snprintf(f.u.op.name, sizeof f.u.op.name, "goose_publish");
	f.u.op.object = appid;
	dctx_emit(ctx, &f);
	if (gocb[0]) {
		char *slash = strchr(gocb, '/');
		if (slash && slash != gocb) {
			*slash = '\0';
			dctx_identity(ctx, SUBJ_SRC, "name", "%s", gocb);
		}
	}
	return 0;
}

const struct dissector goose_dissector = {
	.name = "goose",
	.transports = DT_L2,
	.ethertype = 0x88b8,
	.parse = goose_parse,
};
