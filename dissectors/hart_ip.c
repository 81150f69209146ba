/*
 * hart_ip.c - HART-IP (TCP/UDP 5094): the 8-byte header (version, message type,
 * message id, status, sequence number, byte count) and, for Pass Through messages,
 * the HART token-passing PDU inside (delimiter, short or long address, command, byte
 * count, response code and device status in responses, data, checksum).
 *
 * Emits: a pdu record per HART-IP message (msg_id as tshark's hart_ip.message_id,
 * plus msg_type, version, status, seq, length, and command/response_code of a pass
 * through); an operation fact per pass-through command (write or not); identity facts
 * from the command 0 response (manufacturer id, device type, device id, HART revision)
 * and command 20 (long tag); events: command 42 (device reset) -> device_restart,
 * configuration writes (6, 17, 18, 19, 22, 35, 36, 37, 44, 53) -> config_change,
 * commands to the process output (40, 45, 46, 66, 79) -> control; violations for bad
 * lengths, truncated PDUs and checksum mismatches.
 *
 * Must never: read a byte except through struct rd, or trust the byte count of the
 * header or of the HART PDU before checking it against the bytes present.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define HART_MAX 8192

static const char *msg_id_name(uint8_t id)
{
	switch (id) {
	case 0: return "session_initiate";
	case 1: return "session_close";
	case 2: return "keep_alive";
	case 3: return "pass_through";
	case 4: return "direct_pdu";
	case 5: return "read_audit_log";
	default: return NULL;
	}
}

static bool hdr_ok(uint8_t ver, uint8_t type, uint8_t id, uint16_t count)
{
	return ver >= 1 && ver <= 2 && (type <= 3 || type == 15) && id <= 5 && count >= 8 && count <= HART_MAX;
}

static ssize_t hart_ip_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 8)
		return 0;
	struct rd r = rd_init(data, len);
	uint8_t ver = rd_u8(&r), type = rd_u8(&r), id = rd_u8(&r);
	rd_skip(&r, 3);
	uint16_t count = rd_be16(&r);
	if (!hdr_ok(ver, type, id, count))
		return -1;
	return count;
}

static bool hart_ip_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	uint8_t ver = rd_u8(&r), type = rd_u8(&r), id = rd_u8(&r), status = rd_u8(&r);
	rd_skip(&r, 2);
	uint16_t count = rd_be16(&r);
	if (!rd_ok(&r) || !hdr_ok(ver, type, id, count) || count != len)
		return false;
	/* a request carries status 0; a session initiate is 13 bytes (master type, timeout) */
	if (type == 0 && status != 0)
		return false;
	if (id == 0)
		return count == 13;
	if (id == 1 || id == 2)
		return count == 8;
	if (id == 3) {
		uint8_t delim = rd_u8(&r);
		uint8_t ft = delim & 0x07;
		return rd_ok(&r) && (ft == 1 || ft == 2 || ft == 6) && count >= 8 + 5;
	}
	return false;
}

static bool cmd_is_write(uint8_t c)
{
	switch (c) {
	case 6: case 17: case 18: case 19: case 22: case 35: case 36: case 37: case 38: case 40: case 42:
	case 44: case 45: case 46: case 53: case 66: case 79:
		return true;
	default:
		return false;
	}
}

static void hart_events(struct dctx *ctx, uint8_t c, enum fact_subject dev)
{
	switch (c) {
	case 42: dctx_event(ctx, EV_DEVICE_RESTART, dev, "HART command 42 device reset"); break;
	case 6: case 17: case 18: case 19: case 22: case 35: case 36: case 37: case 44: case 53:
		dctx_event(ctx, EV_CONFIG_CHANGE, dev, "HART command %u (configuration write)", c);
		break;
	case 40: case 45: case 46: case 66: case 79:
		dctx_event(ctx, EV_CONTROL, dev, "HART command %u (output/variable control)", c);
		break;
	default: break;
	}
}

/* command 0 (Read Unique Identifier) response data */
static void cmd0_identity(struct dctx *ctx, struct rd *d, enum fact_subject dev)
{
	uint8_t b[22];
	size_t n = rd_left(d);
	if (n < 12)
		return;
	if (n > sizeof b)
		n = sizeof b;
	memset(b, 0, sizeof b);
	if (!rd_copy(d, b, n))
		return;
	uint8_t univ = b[4];
	unsigned devtype, mfr;
	if (univ >= 7) {
		devtype = (unsigned)b[1] << 8 | b[2];
		mfr = n >= 19 ? ((unsigned)b[17] << 8 | b[18]) : 0;
	} else {
		mfr = b[1];
		devtype = b[2];
	}
	dctx_identity(ctx, dev, "vendor", "HART manufacturer 0x%02x", mfr);
	dctx_identity(ctx, dev, "product_code", "0x%04x", devtype);
	dctx_identity(ctx, dev, "serial", "%02x%02x%02x", b[9], b[10], b[11]);
	dctx_identity(ctx, dev, "firmware", "sw %u hw %u", b[6], b[7] >> 3);
	dctx_identity(ctx, dev, "protocol", "HART %u", univ);
}

/* the HART PDU of a pass-through message */
static void pass_through(struct dctx *ctx, struct rd *r, bool resp, bool want_ops)
{
	uint8_t delim = rd_u8(r);
	size_t alen = (delim & 0x80) ? 5 : 1;
	size_t exp = (delim >> 5) & 0x03;
	rd_skip(r, alen + exp);
	uint8_t cmd = rd_u8(r);
	uint8_t bc = rd_u8(r);
	if (!rd_ok(r)) {
		pdu_null(ctx, "command");
		dctx_violation(ctx, "hart_ip: pass-through PDU truncated before its command");
		return;
	}
	pdu_u(ctx, "command", cmd);
	pdu_u(ctx, "delimiter", delim);
	struct rd data = rd_sub(r, bc);
	if (!rd_ok(&data)) {
		dctx_violation(ctx, "hart_ip: pass-through byte count %u exceeds the message", bc);
		return;
	}
	uint8_t rc = 0;
	bool frame_resp = (delim & 0x07) == 6 || (delim & 0x07) == 1;
	if (frame_resp) {
		rc = rd_u8(&data);
		uint8_t ds = rd_u8(&data);
		if (rd_ok(&data)) {
			pdu_u(ctx, "response_code", rc);
			pdu_u(ctx, "device_status", ds);
		}
	}
	if (!want_ops)
		return;
	enum fact_subject dev = resp ? SUBJ_SRC : SUBJ_DST;
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = cmd;
	snprintf(f.u.op.name, sizeof f.u.op.name, "hart_cmd_%u", cmd);
	f.u.op.is_write = cmd_is_write(cmd);
	f.u.op.is_response = resp;
	/* response codes 1..7, 16..?: errors; 8 and above in some ranges are warnings */
	if (resp && frame_resp && rc != 0 && rc != 8 && rc != 14 && rc != 30 && rc != 31) {
		f.u.op.exception = true;
		f.u.op.exc_code = rc;
	}
	dctx_emit(ctx, &f);
	if (!resp)
		hart_events(ctx, cmd, dev);
	if (resp && rc == 0 && cmd == 0)
		cmd0_identity(ctx, &data, dev);
	if (resp && rc == 0 && cmd == 20) {
		char tag[40];
		if (rd_text(&data, rd_left(&data) < 32 ? rd_left(&data) : 32, tag, sizeof tag) && tag[0])
			dctx_identity(ctx, dev, "name", "%s", tag);
	}
}

static int hart_ip_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t ver = rd_u8(r), type = rd_u8(r), id = rd_u8(r), status = rd_u8(r);
	uint16_t seq = rd_be16(r), count = rd_be16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "hart_ip: message shorter than the 8-byte header");
		return -1;
	}
	bool resp = type == 1 || type == 3 || type == 15;
	pdu_begin(ctx, type == 2 ? "event" : resp ? "response" : "request");
	pdu_u(ctx, "msg_id", id);
	pdu_u(ctx, "msg_type", type);
	pdu_u(ctx, "version", ver);
	pdu_u(ctx, "status", status);
	pdu_u(ctx, "seq", seq);
	pdu_u(ctx, "length", count);
	const char *n = msg_id_name(id);
	if (n)
		pdu_s(ctx, "msg_name", n);
	int rc = 0;
	if (count < 8 || (size_t)count - 8 > rd_left(r)) {
		dctx_violation(ctx, "hart_ip: byte count %u does not fit the message", count);
		rc = -1;
	} else {
		struct rd body = rd_sub(r, (size_t)count - 8);
		if (id == 3 && !rd_empty(&body))
			pass_through(ctx, &body, resp, type != 3 && type != 15);
	}
	pdu_end(ctx);
	if (!n)
		dctx_violation(ctx, "hart_ip: unknown message id %u", id);
	return rc;
}

static const uint16_t hart_ip_ports[] = { 5094, 0 };

const struct dissector hart_ip_dissector = {
	.name = "hart_ip",
	.transports = DT_TCP | DT_UDP,
	.ports = hart_ip_ports,
	.probe = hart_ip_probe,
	.pdu_len = hart_ip_pdu_len,
	.parse = hart_ip_parse,
};
