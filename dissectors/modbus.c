/*
 * modbus.c - Modbus/TCP (MBAP + PDU), every public function code, plus Schneider's
 * UMAS (function 90) operational commands.
 *
 * Emits: a pdu record per ADU (func, unit, trans_id, exception as tshark names them);
 * an operation fact per request (function, unit, register/coil range, write or not)
 * and per exception response; identity facts from FC 43/14 (Read Device
 * Identification) and FC 17 (Report Server ID); events for diagnostics restarts,
 * listen-only mode and UMAS start/stop/download/upload; violations for every
 * malformed PDU. Requests are paired with responses by transaction id so a response
 * knows the range its request asked for.
 *
 * Must never: read a byte except through struct rd, or trust a length or count field
 * before checking it against the bytes present.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define MB_PENDING 12

struct mb_req {
	uint16_t trans_id;
	uint8_t unit, func, used;
	uint16_t addr, qty;
};

/* operations this flow reported lately: a poll repeated 50 times a second is built
 * into a fact once per MB_RECENT_US, not 50 times (the worker's cache would drop the
 * copies, but only after they were built) */
#define MB_RECENT 4
#define MB_RECENT_US (30ull * 1000000)

struct mb_recent {
	uint32_t sig;           /* function, unit, response, exception */
	uint32_t lo, hi;
	uint64_t ts;
};

struct mb_state {
	struct mb_req pending[MB_PENDING];
	uint8_t next, next_recent;
	struct mb_recent recent[MB_RECENT];
};

_Static_assert(sizeof(struct mb_state) <= DISSECTOR_STATE_SIZE, "modbus state too large");

/* the public function codes' names, by code (a table: every PDU looks one up) */
static const char *const func_names[128] = {
	[1] = "read_coils",
	[2] = "read_discrete_inputs",
	[3] = "read_holding_registers",
	[4] = "read_input_registers",
	[5] = "write_single_coil",
	[6] = "write_single_register",
	[7] = "read_exception_status",
	[8] = "diagnostics",
	[11] = "get_comm_event_counter",
	[12] = "get_comm_event_log",
	[15] = "write_multiple_coils",
	[16] = "write_multiple_registers",
	[17] = "report_server_id",
	[20] = "read_file_record",
	[21] = "write_file_record",
	[22] = "mask_write_register",
	[23] = "read_write_multiple_registers",
	[24] = "read_fifo_queue",
	[43] = "encapsulated_interface_transport",
	[90] = "umas",
};

static const char *func_name(uint8_t fc)
{
	return fc < 128 ? func_names[fc] : NULL;
}

static bool is_write(uint8_t fc)
{
	return fc == 5 || fc == 6 || fc == 15 || fc == 16 || fc == 21 || fc == 22 || fc == 23;
}

static ssize_t modbus_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 6)
		return 0;
	struct rd r = rd_init(data, len);
	rd_skip(&r, 2);
	uint16_t proto = rd_be16(&r);
	uint16_t mlen = rd_be16(&r);
	if (proto != 0 || mlen < 2 || mlen > 256)
		return -1;
	return 6 + (ssize_t)mlen;
}

static bool modbus_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	rd_skip(&r, 2);
	uint16_t proto = rd_be16(&r);
	uint16_t mlen = rd_be16(&r);
	rd_skip(&r, 1);
	uint8_t fc = rd_u8(&r);
	if (!rd_ok(&r) || proto != 0 || mlen < 2 || mlen > 254 || (size_t)mlen + 6 != len)
		return false;
	return func_name(fc & 0x7f) != NULL;
}

static void remember(struct mb_state *s, uint16_t tid, uint8_t unit, uint8_t fc, uint16_t addr, uint16_t qty)
{
	struct mb_req *q = &s->pending[s->next];
	s->next = (uint8_t)((s->next + 1) % MB_PENDING);
	q->trans_id = tid;
	q->unit = unit;
	q->func = fc;
	q->addr = addr;
	q->qty = qty;
	q->used = 1;
}

static struct mb_req *match(struct mb_state *s, uint16_t tid, uint8_t unit)
{
	for (int i = 0; i < MB_PENDING; i++) {
		struct mb_req *q = &s->pending[i];
		if (q->used && q->trans_id == tid && q->unit == unit)
			return q;
	}
	return NULL;
}

static bool reported_lately(struct dctx *ctx, uint32_t sig, uint32_t lo, uint32_t hi)
{
	struct mb_state *s = ctx->state;
	uint64_t now = ctx->pkt->ts_us;
	for (int i = 0; i < MB_RECENT; i++) {
		struct mb_recent *r = &s->recent[i];
		if (r->sig == sig && r->lo == lo && r->hi == hi && r->ts && now >= r->ts && now - r->ts < MB_RECENT_US)
			return true;
	}
	struct mb_recent *r = &s->recent[s->next_recent];
	s->next_recent = (uint8_t)((s->next_recent + 1) % MB_RECENT);
	r->sig = sig;
	r->lo = lo;
	r->hi = hi;
	r->ts = now;
	return false;
}

static void op_fact(struct dctx *ctx, uint8_t unit, uint8_t fc, bool resp, bool has_range, uint32_t lo, uint32_t hi,
		    int exc)
{
	uint32_t sig = (uint32_t)fc | (uint32_t)unit << 8 | (uint32_t)resp << 16 | (uint32_t)(exc + 1) << 17 |
		       (uint32_t)has_range << 26;
	if (reported_lately(ctx, sig, lo, hi))
		return;
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = fc;
	const char *n = func_name(fc);
	fact_str(f.u.op.name, sizeof f.u.op.name, n ? n : "unknown");
	f.u.op.is_write = is_write(fc);
	f.u.op.is_response = resp;
	f.u.op.object = unit;
	f.u.op.has_range = has_range;
	f.u.op.addr_lo = lo;
	f.u.op.addr_hi = hi;
	if (exc >= 0) {
		f.u.op.exception = true;
		f.u.op.exc_code = (uint8_t)exc;
	}
	dctx_emit(ctx, &f);
}

/* Read Device Identification response objects become identity facts of the server. */
static void device_id_objects(struct dctx *ctx, struct rd *r)
{
	static const char *const keys[] = { "vendor", "product_code", "firmware", "vendor_url",
					    "product", "model", "application" };
	rd_skip(r, 3); /* conformity level, more follows, next object id */
	uint8_t n = rd_u8(r);
	for (unsigned i = 0; i < n && rd_ok(r); i++) {
		uint8_t id = rd_u8(r);
		uint8_t len = rd_u8(r);
		char val[FACT_STR];
		if (!rd_text(r, len, val, sizeof val)) {
			dctx_violation(ctx, "modbus: device identification object %u runs past the PDU", id);
			return;
		}
		if (id < sizeof keys / sizeof keys[0])
			dctx_identity(ctx, dctx_server(ctx), keys[id], "%s", val);
	}
	if (!rd_ok(r))
		dctx_violation(ctx, "modbus: truncated device identification response");
}

static void umas(struct dctx *ctx, struct rd *r, bool req)
{
	rd_skip(r, 1); /* session/pairing key */
	uint8_t code = rd_u8(r);
	if (!rd_ok(r))
		return;
	pdu_u(ctx, "umas_func", code);
	if (!req)
		return;
	enum fact_subject srv = dctx_server(ctx);
	switch (code) {
	case 0x40: dctx_event(ctx, EV_PLC_START, srv, "UMAS start PLC"); break;
	case 0x41: dctx_event(ctx, EV_PLC_STOP, srv, "UMAS stop PLC"); break;
	case 0x30: dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "UMAS initialize download"); break;
	case 0x33: dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "UMAS initialize upload"); break;
	case 0x10: dctx_event(ctx, EV_LOCK, srv, "UMAS take PLC reservation"); break;
	default: break;
	}
}

static int parse_request(struct dctx *ctx, struct mb_state *s, struct rd *r, uint16_t tid, uint8_t unit, uint8_t fc)
{
	uint16_t addr = 0, qty = 0, addr2 = 0, qty2 = 0;
	bool range = false;
	switch (fc) {
	case 1: case 2: case 3: case 4: {
		addr = rd_be16(r);
		qty = rd_be16(r);
		uint16_t max = fc <= 2 ? 2000 : 125;
		if (rd_ok(r) && (qty == 0 || qty > max))
			dctx_violation(ctx, "modbus: %s quantity %u outside 1..%u", func_name(fc), qty, max);
		range = true;
		break;
	}
	case 5: case 6: {
		addr = rd_be16(r);
		uint16_t v = rd_be16(r);
		qty = 1;
		range = true;
		if (rd_ok(r) && fc == 5 && v != 0xff00 && v != 0x0000)
			dctx_violation(ctx, "modbus: write single coil value 0x%04x is not 0xFF00 or 0x0000", v);
		break;
	}
	case 15: case 16: {
		addr = rd_be16(r);
		qty = rd_be16(r);
		uint8_t bc = rd_u8(r);
		range = true;
		if (!rd_ok(r))
			break;
		size_t want = fc == 15 ? (size_t)(qty + 7) / 8 : (size_t)qty * 2;
		if (qty == 0 || qty > (fc == 15 ? 1968 : 123) || bc != want)
			dctx_violation(ctx, "modbus: %s quantity %u with byte count %u", func_name(fc), qty, bc);
		if (!rd_skip(r, bc))
			dctx_violation(ctx, "modbus: %s data shorter than its byte count", func_name(fc));
		break;
	}
	case 22:
		addr = rd_be16(r);
		rd_skip(r, 4);
		qty = 1;
		range = true;
		break;
	case 23: {
		addr = rd_be16(r);
		qty = rd_be16(r);
		addr2 = rd_be16(r);
		qty2 = rd_be16(r);
		uint8_t bc = rd_u8(r);
		range = true;
		if (rd_ok(r) && bc != qty2 * 2)
			dctx_violation(ctx, "modbus: read/write multiple byte count %u for %u registers", bc, qty2);
		rd_skip(r, bc);
		break;
	}
	case 24:
		addr = rd_be16(r);
		qty = 1;
		range = true;
		break;
	case 8: {
		uint16_t sub = rd_be16(r);
		pdu_u(ctx, "subfunc", sub);
		if (sub == 1)
			dctx_event(ctx, EV_DEVICE_RESTART, dctx_server(ctx), "modbus diagnostics: restart communications");
		else if (sub == 4)
			dctx_event(ctx, EV_MODE_CHANGE, dctx_server(ctx), "modbus diagnostics: force listen only mode");
		break;
	}
	case 20: case 21: {
		uint8_t bc = rd_u8(r);
		if (rd_ok(r) && (bc < 7 || bc > 245))
			dctx_violation(ctx, "modbus: file record byte count %u outside 7..245", bc);
		struct rd sub = rd_sub(r, bc);
		while (rd_ok(&sub) && !rd_empty(&sub)) {
			uint8_t ref = rd_u8(&sub);
			uint16_t file = rd_be16(&sub);
			uint16_t rec = rd_be16(&sub);
			uint16_t rlen = rd_be16(&sub);
			if (rd_ok(&sub) && ref != 6)
				dctx_violation(ctx, "modbus: file record reference type %u is not 6", ref);
			if (fc == 21)
				rd_skip(&sub, (size_t)rlen * 2);
			if (rd_ok(&sub) && !range) {
				addr = rec;
				qty = rlen;
				range = true;
				pdu_u(ctx, "file", file);
			}
		}
		break;
	}
	case 43: {
		uint8_t mei = rd_u8(r);
		pdu_u(ctx, "mei_type", mei);
		if (mei == 14) {
			uint8_t code = rd_u8(r);
			uint8_t obj = rd_u8(r);
			if (rd_ok(r) && (code < 1 || code > 4))
				dctx_violation(ctx, "modbus: read device id code %u outside 1..4", code);
			(void)obj;
		}
		break;
	}
	case 90:
		umas(ctx, r, true);
		break;
	case 7: case 11: case 12: case 17:
		break;
	default:
		dctx_violation(ctx, "modbus: function code %u is not a public function", fc);
		break;
	}
	if (!rd_ok(r)) {
		dctx_violation(ctx, "modbus: truncated %s request", func_name(fc) ? func_name(fc) : "unknown");
		return -1;
	}
	if (range) {
		pdu_u(ctx, "addr", addr);
		pdu_u(ctx, "qty", qty);
	}
	remember(s, tid, unit, fc, addr, qty);
	uint32_t hi = qty ? (uint32_t)addr + qty - 1 : addr;
	if (fc == 23) { /* the write half is what matters for write ranges */
		op_fact(ctx, unit, fc, false, true, addr2, qty2 ? (uint32_t)addr2 + qty2 - 1 : addr2, -1);
		(void)hi;
	} else {
		op_fact(ctx, unit, fc, false, range, addr, hi, -1);
	}
	return 0;
}

static int parse_response(struct dctx *ctx, struct mb_state *s, struct rd *r, uint16_t tid, uint8_t unit, uint8_t fc)
{
	struct mb_req *q = match(s, tid, unit);
	if (q && q->func == fc) {
		pdu_u(ctx, "addr", q->addr);
		pdu_u(ctx, "qty", q->qty);
	}
	switch (fc) {
	case 1: case 2: case 3: case 4: {
		uint8_t bc = rd_u8(r);
		if (!rd_skip(r, bc))
			break;
		if (q && q->func == fc) {
			size_t want = fc <= 2 ? (size_t)(q->qty + 7) / 8 : (size_t)q->qty * 2;
			if (bc != want)
				dctx_violation(ctx, "modbus: %s response has %u bytes for %u items", func_name(fc), bc, q->qty);
		}
		break;
	}
	case 5: case 6: case 15: case 16:
		rd_skip(r, 4);
		break;
	case 22:
		rd_skip(r, 6);
		break;
	case 7:
		rd_skip(r, 1);
		break;
	case 8:
		pdu_u(ctx, "subfunc", rd_be16(r));
		break;
	case 11:
		rd_skip(r, 4);
		break;
	case 12: case 17: case 20: case 21: case 23: {
		uint8_t bc = rd_u8(r);
		struct rd body = rd_sub(r, bc);
		if (fc == 17 && rd_ok(&body) && bc >= 2) {
			/* server id (device specific), run indicator, then often a readable name */
			rd_skip(&body, 1);
			uint8_t run = rd_u8(&body);
			pdu_u(ctx, "run_indicator", run == 0xff);
			char text[FACT_STR];
			if (rd_left(&body) >= 4 && rd_text(&body, rd_left(&body), text, sizeof text) && strlen(text) >= 4)
				dctx_identity(ctx, dctx_server(ctx), "product", "%s", text);
		}
		break;
	}
	case 24: {
		uint16_t bc = rd_be16(r);
		rd_skip(r, bc);
		break;
	}
	case 43: {
		uint8_t mei = rd_u8(r);
		pdu_u(ctx, "mei_type", mei);
		if (mei == 14) {
			rd_skip(r, 1); /* read device id code */
			device_id_objects(ctx, r);
		}
		break;
	}
	case 90:
		umas(ctx, r, false);
		break;
	default:
		break;
	}
	if (q && q->func == fc)
		q->used = 0;
	if (!rd_ok(r)) {
		dctx_violation(ctx, "modbus: truncated %s response", func_name(fc) ? func_name(fc) : "unknown");
		return -1;
	}
	return 0;
}

static int modbus_parse(struct dctx *ctx, struct rd *r)
{
	struct mb_state *s = ctx->state;
	uint16_t tid = rd_be16(r);
	uint16_t proto = rd_be16(r);
	uint16_t mlen = rd_be16(r);
	uint8_t unit = rd_u8(r);
	uint8_t code = rd_u8(r);
	if (!rd_ok(r) || proto != 0) {
		dctx_violation(ctx, "modbus: bad MBAP header");
		return -1;
	}
	if ((size_t)mlen - 2 != rd_left(r)) {
		dctx_violation(ctx, "modbus: MBAP length %u does not match the %zu bytes present", mlen,
			       rd_left(r) + 2);
	}
	bool req = ctx->to_server;
	uint8_t fc = code & 0x7f;
	pdu_begin(ctx, req ? "request" : "response");
	pdu_u(ctx, "func", fc);
	pdu_u(ctx, "unit", unit);
	pdu_u(ctx, "trans_id", tid);
	const char *name = func_name(fc);
	if (name)
		pdu_s(ctx, "func_name", name);
	int rc = 0;
	if (code & 0x80) {
		uint8_t exc = rd_u8(r);
		pdu_u(ctx, "exception", exc);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "modbus: exception response without a code");
			rc = -1;
		} else if (req) {
			dctx_violation(ctx, "modbus: exception bit set in a request (function 0x%02x)", code);
			rc = -1;
		} else {
			struct mb_req *q = match(s, tid, unit);
			bool range = q && q->func == fc && q->qty;
			op_fact(ctx, unit, fc, true, range, range ? q->addr : 0, range ? (uint32_t)q->addr + q->qty - 1 : 0, exc);
			if (exc == 0 || (exc > 11))
				dctx_violation(ctx, "modbus: exception code %u is not defined", exc);
			if (q)
				q->used = 0;
		}
	} else {
		pdu_null(ctx, "exception");
		rc = req ? parse_request(ctx, s, r, tid, unit, fc) : parse_response(ctx, s, r, tid, unit, fc);
	}
	pdu_end(ctx);
	return rc;
}

static const uint16_t modbus_ports[] = { 502, 0 };

const struct dissector modbus_dissector = {
	.name = "modbus",
	.transports = DT_TCP,
	.ports = modbus_ports,
	.probe = modbus_probe,
	.pdu_len = modbus_pdu_len,
	.parse = modbus_parse,
};
