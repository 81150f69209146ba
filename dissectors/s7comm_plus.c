/*
 * s7comm_plus.c - Siemens S7comm-plus (protocol id 0x72, S7-1200/1500 with TIA portal) as
 * carried in COTP DT user data (cotp.c calls s7plus_parse; not a registry entry).
 *
 * Emits: a pdu record "s7comm_plus" per PDU (version, opcode, function); an operation
 * fact per request (write-like functions marked is_write); violations for malformed
 * headers. The payload is integrity protected and not decoded further.
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>

#include "dissector.h"
#include "iso.h"

static void op(struct dctx *ctx, uint32_t func, const char *name, bool wr)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = func;
	fact_str(f.u.op.name, sizeof f.u.op.name, name ? name : "unknown");
	f.u.op.is_write = wr;
	dctx_emit(ctx, &f);
}

/* --- S7comm-plus (0x72): header and function only; the payload is integrity protected */

static const char *plus_func_name(uint16_t f)
{
	switch (f) {
	case 0x04bb: return "explore";
	case 0x04ca: return "create_object";
	case 0x04d4: return "delete_object";
	case 0x04f2: return "set_variable";
	case 0x04fc: return "get_variable";
	case 0x0524: return "get_link";
	case 0x0542: return "set_multi_variables";
	case 0x054c: return "get_multi_variables";
	case 0x0556: return "begin_sequence";
	case 0x0560: return "end_sequence";
	case 0x056b: return "invoke";
	case 0x0586: return "get_var_substreamed";
	default: return NULL;
	}
}

int s7plus_parse(struct dctx *ctx, struct rd *r, bool partial)
{
	uint8_t pid = rd_u8(r);
	uint8_t ver = rd_u8(r);
	uint16_t dlen = rd_be16(r);
	if (!rd_ok(r) || pid != 0x72) {
		pdu_begin_proto(ctx, "s7comm_plus", ctx->to_server ? "request" : "response");
		dctx_violation(ctx, "s7comm_plus: header shorter than 4 bytes");
		pdu_end(ctx);
		return -1;
	}
	pdu_begin_proto(ctx, "s7comm_plus", ctx->to_server ? "request" : "response");
	pdu_u(ctx, "version", ver);
	pdu_u(ctx, "data_len", dlen);
	if (ver != 0x01 && ver != 0x02 && ver != 0x03 && ver != 0xfe)
		dctx_violation(ctx, "s7comm_plus: unknown protocol version 0x%02x", ver);
	if (!partial && dlen > rd_left(r))
		dctx_violation(ctx, "s7comm_plus: data length %u exceeds the %zu bytes present", dlen, rd_left(r));
	/* version 3 carries a 32-byte integrity part (digest length byte + digest) first */
	if (ver == 0x03) {
		uint8_t dl = rd_u8(r);
		if (rd_ok(r) && dl == 0x20)
			rd_skip(r, 32);
		else
			r->err = true;
	}
	uint8_t opcode = rd_u8(r);
	rd_skip(r, 2);
	uint16_t fn = rd_be16(r);
	if (rd_ok(r) && ver != 0xfe) {
		pdu_u(ctx, "opcode", opcode);
		const char *on = opcode == 0x31 ? "request" : opcode == 0x32 ? "response" : opcode == 0x33 ? "notification"
				 : opcode == 0x02 ? "response2" : NULL;
		if (on) {
			pdu_s(ctx, "opcode_name", on);
			ctx->pdu.dir = opcode == 0x31 ? "request" : opcode == 0x33 ? "event" : "response";
		}
		if (opcode == 0x31 || opcode == 0x32 || opcode == 0x02) {
			pdu_u(ctx, "func", fn);
			const char *n = plus_func_name(fn);
			if (n)
				pdu_s(ctx, "func_name", n);
			if (opcode == 0x31) {
				bool wr = fn == 0x04f2 || fn == 0x0542 || fn == 0x04ca || fn == 0x04d4;
				op(ctx, fn, n, wr);
			}
		}
	}
	pdu_end(ctx);
	return 0;
}
