/*
 * ntp.c - NTP (UDP 123): who serves time to whom, at which stratum; NTP control
 * (mode 6, ntpq) and private (mode 7, ntpdc) messages are recognised too.
 *
 * Emits: a pdu record per message (version, mode, stratum, poll, precision, refid;
 * for modes 6/7 the opcode/request code and is_response); identity "role" =
 * "ntp_server" and "ntp_stratum" of the sender of a mode 4 (server) or mode 5
 * (broadcast) message; operation facts for control/private requests (mode 6 write
 * and configure requests as writes).
 * Violations: short messages, version 0 or above 4, reserved mode 0, reserved
 * strata (17-255).
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

static const char *mode_name(unsigned m)
{
	static const char *const n[] = { "reserved", "symmetric_active", "symmetric_passive", "client", "server",
					 "broadcast", "control", "private" };
	return n[m & 7];
}

static void op_fact(struct dctx *ctx, unsigned func, const char *name, bool is_write, bool resp)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = func;
	fact_str(f.u.op.name, sizeof f.u.op.name, name);
	f.u.op.is_write = is_write;
	f.u.op.is_response = resp;
	dctx_emit(ctx, &f);
}

static int ntp_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t b0 = rd_u8(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "ntp: empty datagram");
		return -1;
	}
	unsigned li = b0 >> 6, vn = b0 >> 3 & 7, mode = b0 & 7;
	if (mode == 6) { /* control: r/e/m bits, opcode, sequence, status, assoc id, offset, count */
		uint8_t b1 = rd_u8(r);
		rd_skip(r, 10);
		bool resp = b1 & 0x80;
		unsigned op = b1 & 0x1f;
		pdu_begin(ctx, resp ? "response" : "request");
		pdu_u(ctx, "version", vn);
		pdu_u(ctx, "mode", mode);
		pdu_s(ctx, "mode_name", mode_name(mode));
		pdu_u(ctx, "opcode", op);
		pdu_b(ctx, "is_response", resp);
		pdu_end(ctx);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "ntp: control message shorter than its 12-byte header");
			return -1;
		}
		if (!resp)
			op_fact(ctx, op, op == 8 ? "configure" : op == 3 ? "write_variables" : "control",
				op == 3 || op == 8 || op == 9, false);
		return 0;
	}
	if (mode == 7) { /* private (ntpdc): r/m bits + version + mode, sequence, implementation, request code */
		uint8_t b1 = rd_u8(r);
		uint8_t impl = rd_u8(r);
		uint8_t req = rd_u8(r);
		bool resp = b0 & 0x80;
		(void)b1;
		pdu_begin(ctx, resp ? "response" : "request");
		pdu_u(ctx, "version", vn);
		pdu_u(ctx, "mode", mode);
		pdu_s(ctx, "mode_name", mode_name(mode));
		pdu_u(ctx, "implementation", impl);
		pdu_u(ctx, "request_code", req);
		pdu_b(ctx, "is_response", resp);
		pdu_end(ctx);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "ntp: private message shorter than its header");
			return -1;
		}
		if (!resp)
			op_fact(ctx, req, req == 42 ? "monlist" : "private", false, false);
		return 0;
	}
	uint8_t stratum = rd_u8(r);
	int8_t poll = (int8_t)rd_u8(r);
	int8_t prec = (int8_t)rd_u8(r);
	rd_skip(r, 8); /* root delay, root dispersion */
	uint8_t refid[4];
	rd_copy(r, refid, 4);
	rd_skip(r, 32); /* timestamps */
	bool ok = rd_ok(r);
	const char *dir = mode == 3 ? "request" : mode == 4 ? "response" : "event";
	pdu_begin(ctx, dir);
	pdu_u(ctx, "version", vn);
	pdu_u(ctx, "mode", mode);
	pdu_s(ctx, "mode_name", mode_name(mode));
	pdu_u(ctx, "leap", li);
	if (ok) {
		pdu_u(ctx, "stratum", stratum);
		pdu_i(ctx, "poll", poll);
		pdu_i(ctx, "precision", prec);
		char ref[16];
		if (stratum <= 1) {
			struct rd rr = rd_init(refid, 4);
			rd_text(&rr, 4, ref, sizeof ref);
		} else {
			snprintf(ref, sizeof ref, "%u.%u.%u.%u", refid[0], refid[1], refid[2], refid[3]);
		}
		pdu_s(ctx, "refid", ref);
	}
	pdu_end(ctx);
	if (!ok) {
		dctx_violation(ctx, "ntp: message shorter than the 48-byte header");
		return -1;
	}
	if (vn == 0 || vn > 4) {
		dctx_violation(ctx, "ntp: version %u", vn);
		return -1;
	}
	if (mode == 0) {
		dctx_violation(ctx, "ntp: reserved mode 0");
		return -1;
	}
	if (stratum > 16) {
		dctx_violation(ctx, "ntp: reserved stratum %u", stratum);
		return -1;
	}
	if (mode == 4 || mode == 5) {
		dctx_identity(ctx, SUBJ_SRC, "role", "ntp_server");
		if (stratum > 0 && stratum < 16)
			dctx_identity(ctx, SUBJ_SRC, "ntp_stratum", "%u", stratum);
	}
	return 0;
}

static const uint16_t ntp_ports[] = { 123, 0 };

const struct dissector ntp_dissector = {
	.name = "ntp",
	.transports = DT_UDP,
	.ports = ntp_ports,
	.parse = ntp_parse,
};
