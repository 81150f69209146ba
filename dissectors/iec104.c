/*
 * iec104.c - IEC 60870-5-104 (TCP 2404): APCI (I, S and U formats; STARTDT/STOPDT/TESTFR
 * act/con) and the ASDU of I-format APDUs (type id, variable structure qualifier, cause
 * of transmission, common address, information object addresses).
 *
 * Emits: a pdu record per APDU with apci ("I"/"S"/"U"; tshark's iec60870_104.type prints
 * 0/1/3 for them), typeid, cot (the 6-bit cause, as iec60870_asdu.causetx) and ca (the
 * common address), plus sequence numbers, U function, IOA range and flags; an operation
 * fact per ASDU sent by the controlling station (func = type id, object = common address,
 * range = IOA range, is_write for commands, set points and parameters); events for
 * commands (45-51, 58-64 activation -> control), clock synchronisation (103 -> time_set),
 * reset process (105 -> device_restart), parameter loading (110-113 -> config_change),
 * file selection/call (122 -> file_transfer); violations for bad lengths, unknown type ids,
 * ASDUs whose objects do not fit their length, and bad U-format control fields.
 *
 * No per-flow state: every APDU stands alone.
 *
 * Must never: read a byte except through struct rd, or trust the APDU length or the
 * number of objects before checking them against the bytes present.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

/* Octets of one information element set (without the IOA); -1 unknown, -2 variable. */
static int element_size(uint8_t t)
{
	switch (t) {
	case 1: case 3: return 1;
	case 2: case 4: return 4;
	case 5: return 2;
	case 6: return 5;
	case 7: return 5;
	case 8: return 8;
	case 9: case 11: return 3;
	case 10: case 12: return 6;
	case 13: return 5;
	case 14: return 8;
	case 15: return 5;
	case 16: return 8;
	case 17: return 6;
	case 18: case 19: return 7;
	case 20: return 5;
	case 21: return 2;
	case 30: case 31: return 8;
	case 32: return 9;
	case 33: return 12;
	case 34: case 35: return 10;
	case 36: return 12;
	case 37: return 12;
	case 38: return 10;
	case 39: case 40: return 11;
	case 45: case 46: case 47: return 1;
	case 48: case 49: return 3;
	case 50: return 5;
	case 51: return 4;
	case 58: case 59: case 60: return 8;
	case 61: case 62: return 10;
	case 63: return 12;
	case 64: return 11;
	case 70: return 1;
	case 100: case 101: return 1;
	case 102: return 0;
	case 103: return 7;
	case 104: return 2;
	case 105: return 1;
	case 106: return 2;
	case 107: return 9;
	case 110: case 111: return 3;
	case 112: return 5;
	case 113: return 1;
	case 120: return 6;
	case 121: return 7;
	case 122: return 4;
	case 123: return 5;
	case 124: return 4;
	case 125: return -2;
	case 126: return 13;
	case 127: return 16;
	default: return -1;
	}
}

static const char *type_name(uint8_t t)
{
	switch (t) {
	case 1: return "M_SP_NA_1";
	case 3: return "M_DP_NA_1";
	case 5: return "M_ST_NA_1";
	case 7: return "M_BO_NA_1";
	case 9: return "M_ME_NA_1";
	case 11: return "M_ME_NB_1";
	case 13: return "M_ME_NC_1";
	case 15: return "M_IT_NA_1";
	case 21: return "M_ME_ND_1";
	case 30: return "M_SP_TB_1";
	case 31: return "M_DP_TB_1";
	case 32: return "M_ST_TB_1";
	case 33: return "M_BO_TB_1";
	case 34: return "M_ME_TD_1";
	case 35: return "M_ME_TE_1";
	case 36: return "M_ME_TF_1";
	case 37: return "M_IT_TB_1";
	case 45: return "C_SC_NA_1";
	case 46: return "C_DC_NA_1";
	case 47: return "C_RC_NA_1";
	case 48: return "C_SE_NA_1";
	case 49: return "C_SE_NB_1";
	case 50: return "C_SE_NC_1";
	case 51: return "C_BO_NA_1";
	case 58: return "C_SC_TA_1";
	case 59: return "C_DC_TA_1";
	case 60: return "C_RC_TA_1";
	case 61: return "C_SE_TA_1";
	case 62: return "C_SE_TB_1";
	case 63: return "C_SE_TC_1";
	case 64: return "C_BO_TA_1";
	case 70: return "M_EI_NA_1";
	case 100: return "C_IC_NA_1";
	case 101: return "C_CI_NA_1";
	case 102: return "C_RD_NA_1";
	case 103: return "C_CS_NA_1";
	case 104: return "C_TS_NA_1";
	case 105: return "C_RP_NA_1";
	case 106: return "C_CD_NA_1";
	case 107: return "C_TS_TA_1";
	case 110: return "P_ME_NA_1";
	case 111: return "P_ME_NB_1";
	case 112: return "P_ME_NC_1";
	case 113: return "P_AC_NA_1";
	case 120: return "F_FR_NA_1";
	case 121: return "F_SR_NA_1";
	case 122: return "F_SC_NA_1";
	case 123: return "F_LS_NA_1";
	case 124: return "F_AF_NA_1";
	case 125: return "F_SG_NA_1";
	case 126: return "F_DR_TA_1";
	case 127: return "F_SC_NB_1";
	default: return NULL;
	}
}

static bool is_command(uint8_t t)
{
	return (t >= 45 && t <= 51) || (t >= 58 && t <= 64);
}

static bool is_write(uint8_t t)
{
	return is_command(t) || t == 103 || t == 105 || t == 106 || t == 107 || (t >= 110 && t <= 113);
}

static const char *u_name(uint8_t c)
{
	switch (c) {
	case 0x07: return "STARTDT act";
	case 0x0b: return "STARTDT con";
	case 0x13: return "STOPDT act";
	case 0x23: return "STOPDT con";
	case 0x43: return "TESTFR act";
	case 0x83: return "TESTFR con";
	default: return NULL;
	}
}

/*
 * Like tshark, bytes before the 0x68 start octet belong to the APDU that follows them
 * (the parser reports them as a violation); a run of bytes without any start octet is
 * one junk PDU.
 */
static ssize_t iec104_pdu_len(const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	for (size_t off = 0; off < len; off++) {
		if (rd_u8(&r) != 0x68)
			continue;
		int l = rd_peek(&r, 0);
		if (l < 0)
			return 0;
		return (ssize_t)(off + 2 + (size_t)l);
	}
	return (ssize_t)len;
}

/* One APDU at the start of r; false if it is not well formed. Moves r past it. */
static bool apdu_ok(struct rd *r)
{
	uint8_t start = rd_u8(r), l = rd_u8(r);
	if (!rd_ok(r) || start != 0x68 || l < 4)
		return false;
	struct rd a = rd_sub(r, l);
	uint8_t c1 = rd_u8(&a), c2 = rd_u8(&a), c3 = rd_u8(&a), c4 = rd_u8(&a);
	if (!rd_ok(&a))
		return false;
	if ((c1 & 1) == 0) {
		uint8_t t = rd_u8(&a), vsq = rd_u8(&a), cot = rd_u8(&a);
		rd_skip(&a, 3);
		return rd_ok(&a) && !(c3 & 1) && type_name(t) && (vsq & 0x7f) && (cot & 0x3f);
	}
	if (l != 4)
		return false;
	if ((c1 & 3) == 1)
		return c1 == 1 && c2 == 0 && !(c3 & 1);
	return u_name(c1) && c2 == 0 && c3 == 0 && c4 == 0;
}

static bool iec104_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	int n = 0;
	while (!rd_empty(&r) && n < 64) {
		if (!apdu_ok(&r))
			return false;
		n++;
	}
	return n > 0 && rd_ok(&r);
}

static void asdu(struct dctx *ctx, struct rd *a)
{
	/* fields are reported as far as the bytes go, as tshark does */
	uint8_t t = rd_u8(a);
	if (!rd_ok(a)) {
		pdu_null(ctx, "typeid");
		pdu_null(ctx, "cot");
		pdu_null(ctx, "ca");
		dctx_violation(ctx, "iec104: I-format APDU without an ASDU");
		return;
	}
	pdu_u(ctx, "typeid", t);
	uint8_t vsq = rd_u8(a);
	uint8_t cotb = rd_u8(a);
	if (!rd_ok(a)) {
		pdu_null(ctx, "cot");
		pdu_null(ctx, "ca");
		dctx_violation(ctx, "iec104: I-format APDU shorter than an ASDU header");
		return;
	}
	pdu_u(ctx, "cot", cotb & 0x3f);
	uint8_t orig = rd_u8(a);
	uint16_t ca = rd_le16(a);
	if (!rd_ok(a)) {
		pdu_null(ctx, "ca");
		dctx_violation(ctx, "iec104: I-format APDU shorter than an ASDU header");
		return;
	}
	bool sq = vsq & 0x80;
	unsigned nobj = vsq & 0x7f;
	uint8_t cot = cotb & 0x3f;
	pdu_u(ctx, "ca", ca);
	const char *tn = type_name(t);
	if (tn)
		pdu_s(ctx, "type_name", tn);
	pdu_u(ctx, "objects", nobj);
	if (sq)
		pdu_b(ctx, "sq", true);
	if (cotb & 0x80)
		pdu_b(ctx, "test", true);
	if (cotb & 0x40)
		pdu_b(ctx, "negative", true);
	if (orig)
		pdu_u(ctx, "originator", orig);

	if (!tn)
		dctx_violation(ctx, "iec104: type id %u is not defined", t);
	if (nobj == 0)
		dctx_violation(ctx, "iec104: ASDU type %u with no information objects", t);
	if (cot == 0)
		dctx_violation(ctx, "iec104: cause of transmission 0 is not defined");

	/* information object addresses */
	int es = element_size(t);
	bool range = false;
	uint32_t lo = 0, hi = 0;
	if (es == -2 && nobj >= 1) {
		/* F_SG_NA_1: IOA, NOF, NOS, LOS, then LOS octets of segment */
		lo = hi = rd_le24(a);
		range = rd_ok(a);
	} else if (es >= 0 && nobj >= 1) {
		size_t want = sq ? 3 + (size_t)nobj * (size_t)es : (size_t)nobj * (3 + (size_t)es);
		if (want != rd_left(a))
			dctx_violation(ctx, "iec104: %s with %u objects needs %zu octets, %zu present",
				       tn ? tn : "ASDU", nobj, want, rd_left(a));
		if (sq) {
			lo = rd_le24(a);
			hi = lo + nobj - 1;
			range = rd_ok(a);
		} else {
			for (unsigned i = 0; i < nobj; i++) {
				uint32_t ioa = rd_le24(a);
				if (!rd_ok(a))
					break;
				if (!range || ioa < lo)
					lo = ioa;
				if (!range || ioa > hi)
					hi = ioa;
				range = true;
				rd_skip(a, (size_t)es);
			}
		}
	} else if (nobj >= 1) {
		lo = hi = rd_le24(a); /* unknown element size: only the first address is certain */
		range = rd_ok(a);
	}
	if (range) {
		pdu_u(ctx, "ioa_lo", lo);
		pdu_u(ctx, "ioa_hi", hi);
	}

	/* the controlling station (client) sends commands; the controlled station reports */
	bool from_client = ctx->to_server;
	if (from_client || (t >= 45 && t < 128 && t != 70)) {
		struct fact f;
		dctx_fact_init(ctx, &f, FACT_OPERATION);
		f.u.op.func = t;
		fact_str(f.u.op.name, sizeof f.u.op.name, tn ? tn : "unknown");
		f.u.op.is_write = is_write(t);
		f.u.op.is_response = !from_client;
		f.u.op.object = ca;
		f.u.op.has_range = range;
		f.u.op.addr_lo = lo;
		f.u.op.addr_hi = hi;
		if (!from_client && (cotb & 0x40)) {
			f.u.op.exception = true;
			f.u.op.exc_code = cot;
		}
		dctx_emit(ctx, &f);
	}
	if (from_client && t == 122 && cot == 13) {
		dctx_event(ctx, EV_FILE_TRANSFER, SUBJ_DST, "iec104 select/call file ca %u ioa %u", ca, lo);
		return;
	}
	if (!from_client || cot != 6) /* events: activations by the controlling station */
		return;
	enum fact_subject srv = SUBJ_DST;
	if (is_command(t))
		dctx_event(ctx, EV_CONTROL, srv, "iec104 %s ca %u ioa %u", tn, ca, lo);
	else if (t == 103)
		dctx_event(ctx, EV_TIME_SET, srv, "iec104 clock synchronisation ca %u", ca);
	else if (t == 105)
		dctx_event(ctx, EV_DEVICE_RESTART, srv, "iec104 reset process ca %u", ca);
	else if (t >= 110 && t <= 113)
		dctx_event(ctx, EV_CONFIG_CHANGE, srv, "iec104 %s ca %u ioa %u", tn, ca, lo);
}

static int iec104_parse(struct dctx *ctx, struct rd *r)
{
	size_t junk = 0;
	while (rd_peek(r, 0) >= 0 && rd_peek(r, 0) != 0x68) {
		rd_skip(r, 1);
		junk++;
	}
	if (junk)
		dctx_violation(ctx, "iec104: %zu octets before the APDU start octet", junk);
	uint8_t start = rd_u8(r);
	uint8_t l = rd_u8(r);
	if (!rd_ok(r) || start != 0x68) {
		if (start == 0x68 || junk == 0)
			dctx_violation(ctx, "iec104: APDU shorter than its header");
		return -1;
	}
	if (l < 4 || l > 253)
		dctx_violation(ctx, "iec104: APDU length %u outside 4..253", l);
	struct rd a = rd_sub(r, l);
	if (!rd_ok(&a)) {
		dctx_violation(ctx, "iec104: APDU shorter than its length %u", l);
		return -1;
	}
	if (l < 4) {
		/* tshark still shows the (empty) APDU */
		pdu_begin(ctx, ctx->to_server ? "request" : "response");
		pdu_null(ctx, "apci");
		pdu_null(ctx, "typeid");
		pdu_null(ctx, "cot");
		pdu_null(ctx, "ca");
		pdu_end(ctx);
		return -1;
	}
	uint8_t c1 = rd_u8(&a), c2 = rd_u8(&a), c3 = rd_u8(&a), c4 = rd_u8(&a);
	const char *dir = ctx->to_server ? "request" : "response";
	if ((c1 & 1) == 0) {
		uint8_t cot = (uint8_t)(rd_peek(&a, 2) & 0x3f);
		if (!ctx->to_server && (cot == 1 || cot == 3)) /* periodic, spontaneous */
			dir = "event";
		pdu_begin(ctx, dir);
		pdu_s(ctx, "apci", "I");
		pdu_u(ctx, "send_seq", (unsigned)(c2 << 7 | c1 >> 1));
		pdu_u(ctx, "recv_seq", (unsigned)(c4 << 7 | c3 >> 1));
		asdu(ctx, &a);
		pdu_end(ctx);
		return 0;
	}
	pdu_begin(ctx, dir);
	pdu_null(ctx, "typeid");
	pdu_null(ctx, "cot");
	pdu_null(ctx, "ca");
	if ((c1 & 3) == 1) {
		pdu_s(ctx, "apci", "S");
		pdu_u(ctx, "recv_seq", (unsigned)(c4 << 7 | c3 >> 1));
	} else {
		pdu_s(ctx, "apci", "U");
		const char *un = u_name(c1);
		pdu_s(ctx, "u_func", un ? un : "invalid");
		if (!un)
			dctx_violation(ctx, "iec104: U-format control 0x%02x is not one function", c1);
	}
	pdu_end(ctx);
	if (l != 4)
		dctx_violation(ctx, "iec104: %s-format APDU with length %u (must be 4)", (c1 & 3) == 1 ? "S" : "U", l);
	return 0;
}

static const uint16_t iec104_ports[] = { 2404, 0 };

const struct dissector iec104_dissector = {
	.name = "iec104",
	.transports = DT_TCP,
	.ports = iec104_ports,
	.probe = iec104_probe,
	.pdu_len = iec104_pdu_len,
	.parse = iec104_parse,
};
