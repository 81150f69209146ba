/*
 * s7comm.c - Siemens S7 Communication (protocol id 0x32) as carried in COTP DT user data
 * (cotp.c calls s7comm_parse; it is not a registry entry of its own).
 *
 * Emits: a pdu record "s7comm" per S7 PDU with rosctr, func (job/ack_data), group and
 * subfunc (userdata), as tshark names them; operation facts for read/write var (object =
 * area << 16 | DB number, range = byte addresses), block functions, SZL reads and other
 * functions; identity facts of the PLC from SZL 0x0011 (order number, firmware) and
 * 0x001C (names, serial, plant id, module type, vendor); events: PLC stop (0x29),
 * plc_start (PI P_PROGRAM), program_download (request download / _INSE / _DELE),
 * program_upload (start upload), config_change (_MODU copy RAM to ROM, _GARB compress),
 * unlock/lock (security group), time_set (set clock), mode_change (CPU mode push);
 * violations for malformed headers and items.
 *
 * Must never: read a byte except through struct rd, or trust a length/count field
 * before checking it against the bytes present (item loops are bounded by the bytes).
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "iso.h"
#include "textfmt.h"

enum { ROSCTR_JOB = 1, ROSCTR_ACK = 2, ROSCTR_ACK_DATA = 3, ROSCTR_USERDATA = 7 };

#define S7_MAX_ITEMS 8 /* operation facts per read/write var PDU */

static const char *func_name(uint8_t f)
{
	switch (f) {
	case 0x00: return "cpu_services";
	case 0xf0: return "setup_communication";
	case 0x04: return "read_var";
	case 0x05: return "write_var";
	case 0x1a: return "request_download";
	case 0x1b: return "download_block";
	case 0x1c: return "download_ended";
	case 0x1d: return "start_upload";
	case 0x1e: return "upload";
	case 0x1f: return "end_upload";
	case 0x28: return "pi_service";
	case 0x29: return "plc_stop";
	default: return NULL;
	}
}

static const char *group_name(uint8_t g)
{
	switch (g) {
	case 0x0: return "mode_transition";
	case 0x1: return "programmer_commands";
	case 0x2: return "cyclic_data";
	case 0x3: return "block_functions";
	case 0x4: return "cpu_functions";
	case 0x5: return "security";
	case 0x6: return "pbc_bsend_brecv";
	case 0x7: return "time_functions";
	case 0xf: return "nc_programming";
	default: return NULL;
	}
}

static const char *block_type_name(const char *two)
{
	static const struct { const char *code, *name; } t[] = {
		{ "08", "OB" }, { "0A", "DB" }, { "0B", "SDB" }, { "0C", "FC" },
		{ "0D", "SFC" }, { "0E", "FB" }, { "0F", "SFB" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(two, t[i].code))
			return t[i].name;
	return NULL;
}

/* "_0A00001P" / "0A00001P" -> "DB1"; "" if it does not look like a block name. */
static void block_label(const char *s, char *out, size_t n)
{
	out[0] = '\0';
	if (s[0] == '_')
		s++;
	if (strlen(s) < 7)
		return;
	char ty[3] = { s[0], s[1], 0 };
	const char *tn = block_type_name(ty);
	unsigned num = 0;
	for (int i = 2; i < 7; i++) {
		if (s[i] < '0' || s[i] > '9')
			return;
		num = num * 10 + (unsigned)(s[i] - '0');
	}
	struct tbuf b = tb_init(out, n);
	tb_str(&b, tn ? tn : ty);
	tb_u64(&b, num);
}

static void op(struct dctx *ctx, uint32_t func, const char *name, bool wr, bool resp, uint32_t object, bool range,
	       uint32_t lo, uint32_t hi, int err)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = func;
	fact_str(f.u.op.name, sizeof f.u.op.name, name ? name : "unknown");
	f.u.op.is_write = wr;
	f.u.op.is_response = resp;
	f.u.op.object = object;
	f.u.op.has_range = range;
	f.u.op.addr_lo = lo;
	f.u.op.addr_hi = hi;
	if (err >= 0) {
		f.u.op.exception = true;
		f.u.op.exc_code = (uint8_t)err;
	}
	dctx_emit(ctx, &f);
}

static unsigned tsize_bytes(uint8_t ts)
{
	switch (ts) {
	case 1: case 2: case 3: return 1;     /* BIT, BYTE, CHAR */
	case 4: case 5: case 9: case 12: case 28: case 29: return 2; /* WORD, INT, DATE, S5TIME, COUNTER, TIMER */
	case 6: case 7: case 8: case 10: case 11: return 4; /* DWORD, DINT, REAL, TOD, TIME */
	case 15: return 8;                    /* DATE_AND_TIME */
	default: return 1;
	}
}

/* read/write var request items */
static void var_items(struct dctx *ctx, struct s7_state *s, struct rd *p, uint8_t func, uint16_t ref)
{
	uint8_t count = rd_u8(p);
	if (!rd_ok(p))
		return;
	pdu_u(ctx, "items", count);
	bool wr = func == 0x05;
	for (unsigned i = 0; i < count && rd_ok(p) && !rd_empty(p); i++) {
		uint8_t spec = rd_u8(p);
		uint8_t len = rd_u8(p);
		struct rd it = rd_sub(p, len);
		if (!rd_ok(p)) {
			dctx_violation(ctx, "s7comm: %s item %u runs past the parameters", func_name(func), i);
			return;
		}
		if (spec != 0x12) {
			dctx_violation(ctx, "s7comm: %s item %u has variable specification 0x%02x", func_name(func), i, spec);
			continue;
		}
		uint8_t syntax = rd_u8(&it);
		if (syntax != 0x10) { /* only S7ANY addresses have a plain area/address */
			if (i < S7_MAX_ITEMS)
				op(ctx, func, func_name(func), wr, false, syntax, false, 0, 0, -1);
			continue;
		}
		uint8_t ts = rd_u8(&it);
		uint16_t n = rd_be16(&it);
		uint16_t db = rd_be16(&it);
		uint8_t area = rd_u8(&it);
		uint32_t addr = rd_be24(&it);
		if (!rd_ok(&it)) {
			dctx_violation(ctx, "s7comm: %s S7ANY item %u is shorter than 10 bytes", func_name(func), i);
			continue;
		}
		uint32_t lo = addr >> 3;
		uint32_t span = ts == 1 ? 1 : (uint32_t)n * tsize_bytes(ts);
		uint32_t hi = span ? lo + span - 1 : lo;
		if (i == 0) {
			s->var_used = 1;
			s->var_func = func;
			s->var_ref = ref;
			s->var_obj = (uint32_t)area << 16 | ((area == 0x84 || area == 0x85) ? db : 0);
			s->var_lo = lo;
			s->var_hi = hi;
			pdu_u(ctx, "area", area);
			if (area == 0x84 || area == 0x85)
				pdu_u(ctx, "db", db);
			pdu_u(ctx, "addr", lo);
			pdu_u(ctx, "qty", n);
		}
		if (i < S7_MAX_ITEMS) {
			uint32_t object = (uint32_t)area << 16 | ((area == 0x84 || area == 0x85) ? db : 0);
			op(ctx, func, func_name(func), wr, false, object, true, lo, hi, -1);
		}
	}
	if (!rd_ok(p))
		dctx_violation(ctx, "s7comm: truncated %s parameters", func_name(func));
}

/* read/write var answer: one return code per item (0xff = success) */
static void var_answer(struct dctx *ctx, struct s7_state *s, struct rd *p, struct rd *d, uint8_t func, uint16_t ref)
{
	uint8_t count = rd_u8(p);
	if (!rd_ok(p))
		return;
	unsigned bad = 0;
	int first = -1;
	for (unsigned i = 0; i < count && !rd_empty(d); i++) {
		uint8_t rc = rd_u8(d);
		if (func == 0x04) {
			uint8_t ts = rd_u8(d);
			uint16_t len = rd_be16(d);
			size_t bytes = (ts == 3 || ts == 4 || ts == 5) ? ((size_t)len + 7) / 8 : len;
			if (rc == 0xff)
				rd_skip(d, bytes + ((bytes & 1) && i + 1 < count ? 1 : 0));
		}
		if (!rd_ok(d))
			break;
		if (rc != 0xff) {
			bad++;
			if (first < 0)
				first = rc;
		}
	}
	if (!rd_ok(d))
		dctx_violation(ctx, "s7comm: %s answer items run past the data", func_name(func));
	if (!bad)
		return;
	pdu_u(ctx, "item_errors", bad);
	bool paired = s->var_used && s->var_ref == ref && s->var_func == func;
	op(ctx, func, func_name(func), func == 0x05, true, paired ? s->var_obj : 0, paired, paired ? s->var_lo : 0,
	   paired ? s->var_hi : 0, first);
}

/* request download / download block / download ended / start upload: the file name */
static void block_file(struct rd *p, char *label, size_t n)
{
	label[0] = '\0';
	rd_skip(p, 7); /* function status, 2 unknown, upload/session id */
	uint8_t len = rd_u8(p);
	char name[32];
	if (rd_ok(p) && len > 0 && rd_text(p, len, name, sizeof name))
		block_label(name, label, n);
}

static void pi_service(struct dctx *ctx, struct s7_state *s, struct rd *p)
{
	enum fact_subject srv = SUBJ_DST; /* a job goes to the PLC */
	rd_skip(p, 7);
	uint16_t plen = rd_be16(p);
	struct rd args = rd_sub(p, plen);
	uint8_t slen = rd_u8(p);
	char svc[24];
	if (!rd_ok(p) || !rd_text(p, slen, svc, sizeof svc)) {
		dctx_violation(ctx, "s7comm: truncated PI service parameters");
		return;
	}
	pdu_s(ctx, "pi_service", svc);
	if (!strcmp(svc, "P_PROGRAM")) {
		char a[16] = "";
		rd_text(&args, rd_left(&args), a, sizeof a);
		bool cold = a[0] == 'C';
		dctx_event(ctx, EV_PLC_START, srv, "S7 PI service P_PROGRAM: %s", cold ? "cold start" : "warm restart");
	} else if (!strcmp(svc, "_INSE") || !strcmp(svc, "_DELE")) {
		/* argument: block count, one unknown byte, then type(2) number(5) filesystem(1) per block */
		uint8_t cnt = rd_u8(&args);
		rd_skip(&args, 1);
		char blk[12] = "", raw[10];
		if (rd_ok(&args) && cnt > 0 && rd_text(&args, rd_left(&args) < 8 ? rd_left(&args) : 8, raw, sizeof raw))
			block_label(raw, blk, sizeof blk);
		bool ins = svc[1] == 'I';
		if (ins && blk[0] && !strcmp(blk, s->dl_block))
			return; /* activating the block just downloaded: that download already made its event */
		dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "S7 %s block %s", ins ? "activate (_INSE)" : "delete (_DELE)",
			   blk[0] ? blk : "?");
	} else if (!strcmp(svc, "_MODU")) {
		dctx_event(ctx, EV_CONFIG_CHANGE, srv, "S7 PI service _MODU: copy RAM to ROM");
	} else if (!strcmp(svc, "_GARB")) {
		dctx_event(ctx, EV_CONFIG_CHANGE, srv, "S7 PI service _GARB: compress memory");
	} else if (!strncmp(svc, "_FW", 3) || strstr(svc, "FWUP")) {
		dctx_event(ctx, EV_FIRMWARE_UPDATE, srv, "S7 PI service %s", svc);
	}
}

static void job(struct dctx *ctx, struct s7_state *s, struct rd *p, uint8_t func, uint16_t ref)
{
	enum fact_subject srv = SUBJ_DST; /* a job goes to the PLC, whichever end the engine thinks is the server */
	char blk[12];
	switch (func) {
	case 0xf0: {
		rd_skip(p, 1);
		pdu_u(ctx, "max_amq_calling", rd_be16(p));
		pdu_u(ctx, "max_amq_called", rd_be16(p));
		pdu_u(ctx, "pdu_size", rd_be16(p));
		op(ctx, func, func_name(func), false, false, 0, false, 0, 0, -1);
		break;
	}
	case 0x04: case 0x05:
		var_items(ctx, s, p, func, ref);
		break;
	case 0x1a: case 0x1b: case 0x1c:
		block_file(p, blk, sizeof blk);
		if (blk[0])
			pdu_s(ctx, "block", blk);
		op(ctx, func, func_name(func), true, false, 0, false, 0, 0, -1);
		if (func == 0x1c) {
			s->dl_active = 0;
			break;
		}
		/* one event per download: at the request, or at a block whose request was not seen */
		if (func == 0x1a || (!s->dl_active && strcmp(s->dl_block, blk)))
			dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "S7 download of block %s", blk[0] ? blk : "?");
		s->dl_active = 1;
		fact_str(s->dl_block, sizeof s->dl_block, blk);
		break;
	case 0x1d:
		block_file(p, blk, sizeof blk);
		if (blk[0])
			pdu_s(ctx, "block", blk);
		op(ctx, func, func_name(func), false, false, 0, false, 0, 0, -1);
		dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "S7 upload of block %s", blk[0] ? blk : "?");
		s->ul_active = 1;
		fact_str(s->ul_block, sizeof s->ul_block, blk);
		break;
	case 0x1e:
		op(ctx, func, func_name(func), false, false, 0, false, 0, 0, -1);
		if (!s->ul_active) {
			dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "S7 upload (start not seen)");
			s->ul_active = 1;
		}
		break;
	case 0x1f:
		op(ctx, func, func_name(func), false, false, 0, false, 0, 0, -1);
		s->ul_active = 0;
		break;
	case 0x28:
		op(ctx, func, func_name(func), true, false, 0, false, 0, 0, -1);
		pi_service(ctx, s, p);
		break;
	case 0x29: {
		rd_skip(p, 5);
		uint8_t n = rd_u8(p);
		char svc[24] = "";
		if (rd_ok(p))
			rd_text(p, n, svc, sizeof svc);
		if (svc[0])
			pdu_s(ctx, "pi_service", svc);
		op(ctx, func, func_name(func), true, false, 0, false, 0, 0, -1);
		dctx_event(ctx, EV_PLC_STOP, srv, "S7 PLC stop%s%s", svc[0] ? " " : "", svc);
		break;
	}
	default:
		op(ctx, func, func_name(func), false, false, 0, false, 0, 0, -1);
		if (!func_name(func))
			dctx_violation(ctx, "s7comm: unknown job function 0x%02x", func);
		break;
	}
}

/* --- SZL identity ---------------------------------------------------------------- */

static void szl_0011(struct dctx *ctx, struct rd *rec)
{
	uint16_t idx = rd_be16(rec);
	char mlfb[24];
	rd_text(rec, 20, mlfb, sizeof mlfb);
	rd_skip(rec, 2); /* BGTyp */
	uint16_t ausbg = rd_be16(rec);
	uint16_t ausbe = rd_be16(rec);
	if (!rd_ok(rec))
		return;
	enum fact_subject srv = SUBJ_SRC; /* SZL answers come from the PLC */
	if (idx == 0x0001 && mlfb[0]) {
		dctx_identity(ctx, srv, "product_code", "%s", mlfb);
		dctx_identity(ctx, srv, "model", "%s", mlfb);
		dctx_identity(ctx, srv, "vendor", "Siemens");
	} else if (idx == 0x0007 && (ausbg >> 8) == 'V') {
		dctx_identity(ctx, srv, "firmware", "V%u.%u.%u", ausbg & 0xff, ausbe >> 8, ausbe & 0xff);
	}
}

static void szl_001c(struct dctx *ctx, struct rd *rec)
{
	uint16_t idx = rd_be16(rec);
	char text[40];
	if (!rd_text(rec, rd_left(rec) < 32 ? rd_left(rec) : 32, text, sizeof text) || !text[0])
		return;
	enum fact_subject srv = SUBJ_SRC; /* SZL answers come from the PLC */
	switch (idx) {
	case 1: dctx_identity(ctx, srv, "hostname", "%s", text); break;   /* name of the automation system */
	case 2: dctx_identity(ctx, srv, "name", "%s", text); break;       /* name of the module */
	case 3: dctx_identity(ctx, srv, "plant_id", "%s", text); break;
	case 5: dctx_identity(ctx, srv, "serial", "%s", text); break;
	case 7: dctx_identity(ctx, srv, "product", "%s", text); break;    /* module type name */
	case 4:
		if (strstr(text, "Siemens") || strstr(text, "SIEMENS"))
			dctx_identity(ctx, srv, "vendor", "Siemens");
		break;
	default: break;
	}
}

/* Records of an SZL answer; returns how many bytes of a record cut at the end are missing
 * (they start the next fragment of the answer). */
static uint16_t szl_records(struct dctx *ctx, struct rd *d, uint16_t id, uint16_t reclen, unsigned count)
{
	uint16_t low = id & 0x00ff;
	for (unsigned i = 0; i < count && reclen > 0 && !rd_empty(d); i++) {
		if (rd_left(d) < reclen)
			return (uint16_t)(reclen - rd_left(d));
		struct rd rec = rd_sub(d, reclen);
		if (low == 0x11 && reclen >= 28)
			szl_0011(ctx, &rec);
		else if (low == 0x1c && reclen >= 34)
			szl_001c(ctx, &rec);
	}
	return 0;
}

static void userdata(struct dctx *ctx, struct s7_state *s, struct rd *p, struct rd *d, bool partial)
{
	enum fact_subject srv = SUBJ_DST; /* events come from requests, which go to the PLC */
	uint32_t head = rd_be24(p);
	uint8_t plen = rd_u8(p);
	uint8_t method = rd_u8(p);
	uint8_t tg = rd_u8(p);
	uint8_t sub = rd_u8(p);
	uint8_t seq = rd_u8(p);
	if (!rd_ok(p)) {
		dctx_violation(ctx, "s7comm: userdata parameters shorter than 8 bytes");
		return;
	}
	(void)seq;
	uint8_t type = tg >> 4, group = tg & 0x0f;
	pdu_u(ctx, "group", group);
	if (group == 0x0)
		pdu_u(ctx, "mode", sub); /* mode transition: the byte is the CPU's new mode, not a subfunction (as tshark) */
	else
		pdu_u(ctx, "subfunc", sub);
	pdu_u(ctx, "ud_type", type);
	const char *gn = group_name(group);
	if (gn)
		pdu_s(ctx, "group_name", gn);
	/* 0x000112 for requests/responses; CPU push messages (mode transition) use others */
	pdu_u(ctx, "param_head", head);
	uint8_t last_unit = 0;
	if (plen == 8) {
		rd_skip(p, 1);
		last_unit = rd_u8(p);
		uint16_t err = rd_be16(p);
		if (err)
			pdu_u(ctx, "error", err);
	}
	(void)method;
	bool req = type == 4;
	bool resp = type == 8;
	/* data part: return code, transport size, length */
	uint8_t rc = rd_u8(d);
	rd_skip(d, 1);
	uint16_t dlen = rd_be16(d);
	struct rd body = *d;
	if (rd_ok(d) && dlen <= rd_left(d))
		body = rd_sub(d, dlen);
	else if (rd_ok(d) && !partial)
		dctx_violation(ctx, "s7comm: userdata data length %u exceeds the %zu bytes present", dlen, rd_left(d));
	bool data_ok = rd_ok(d) && rc == 0xff;

	uint32_t code = (uint32_t)group << 8 | sub;
	char name[32];
	struct tbuf nb = tb_init(name, sizeof name);
	tb_str(&nb, gn ? gn : "group");
	tb_ch(&nb, '/');
	tb_u64(&nb, sub);
	if (req || type == 0)
		op(ctx, code, name, group == 5 || (group == 7 && (sub == 2 || sub == 4)), false, group, false, 0, 0, -1);

	switch (group) {
	case 0x0: /* CPU mode transition notification: subfunc is the new mode */
		dctx_event(ctx, EV_MODE_CHANGE, SUBJ_SRC, "S7 CPU mode now %s",
			   sub == 0 ? "STOP" : sub == 2 ? "RUN" : sub == 1 ? "warm restart" : sub == 3 ? "hot restart"
			   : sub == 4 ? "HOLD" : sub == 6 ? "cold restart" : "other");
		break;
	case 0x4:
		if (sub == 1 && data_ok && resp && s->szl_cont) {
			/* a further fragment of an SZL answer: records continue without a header */
			rd_skip(&body, s->szl_skip);
			s->szl_skip = szl_records(ctx, &body, s->szl_id, s->szl_reclen, 0xffff);
			s->szl_cont = last_unit != 0;
		} else if (sub == 1 && data_ok) {
			uint16_t id = rd_be16(&body);
			uint16_t index = rd_be16(&body);
			if (!rd_ok(&body))
				break;
			pdu_u(ctx, "szl_id", id);
			pdu_u(ctx, "szl_index", index);
			if (resp) {
				uint16_t reclen = rd_be16(&body);
				uint16_t count = rd_be16(&body);
				if (rd_ok(&body)) {
					s->szl_skip = szl_records(ctx, &body, id, reclen, count);
					s->szl_cont = last_unit != 0;
					s->szl_id = id;
					s->szl_reclen = reclen;
				}
			}
		}
		break;
	case 0x5:
		if (req && sub == 1)
			dctx_event(ctx, EV_UNLOCK, srv, "S7 PLC password given");
		else if (req && sub == 2)
			dctx_event(ctx, EV_LOCK, srv, "S7 clean session (password cancelled)");
		break;
	case 0x7:
		if (req && (sub == 2 || sub == 4))
			dctx_event(ctx, EV_TIME_SET, srv, "S7 set clock");
		break;
	default:
		break;
	}
	(void)last_unit;
}

int s7comm_parse(struct dctx *ctx, struct rd *r, struct s7_state *s, bool partial)
{
	uint8_t pid = rd_u8(r);
	uint8_t rosctr = rd_u8(r);
	rd_skip(r, 2); /* redundancy id */
	uint16_t ref = rd_be16(r);
	uint16_t parlen = rd_be16(r);
	uint16_t datlen = rd_be16(r);
	if (!rd_ok(r) || pid != 0x32) {
		pdu_begin_proto(ctx, "s7comm", ctx->to_server ? "request" : "response");
		dctx_violation(ctx, "s7comm: header shorter than 10 bytes");
		pdu_end(ctx);
		return -1;
	}
	const char *dir = rosctr == ROSCTR_JOB ? "request" : (rosctr == ROSCTR_ACK || rosctr == ROSCTR_ACK_DATA) ? "response"
			  : ctx->to_server ? "request" : "response";
	if (rosctr == ROSCTR_USERDATA && rd_peek(r, 5) >= 0) { /* the parameters' type nibble says */
		int type = rd_peek(r, 5) >> 4;
		dir = type == 4 ? "request" : type == 8 ? "response" : type == 0 ? "event" : dir;
	}
	pdu_begin_proto(ctx, "s7comm", dir);
	pdu_u(ctx, "rosctr", rosctr);
	pdu_u(ctx, "pdu_ref", ref);
	int errcls = -1, errcod = 0;
	if (rosctr == ROSCTR_ACK || rosctr == ROSCTR_ACK_DATA) {
		errcls = rd_u8(r);
		errcod = rd_u8(r);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "s7comm: ack header without its error class/code");
			pdu_end(ctx);
			return -1;
		}
		if (errcls) {
			pdu_u(ctx, "error_class", (uint64_t)errcls);
			pdu_u(ctx, "error_code", (uint64_t)errcod);
		}
	}
	if (rosctr != ROSCTR_JOB && rosctr != ROSCTR_ACK && rosctr != ROSCTR_ACK_DATA && rosctr != ROSCTR_USERDATA) {
		dctx_violation(ctx, "s7comm: unknown ROSCTR %u", rosctr);
		pdu_end(ctx);
		return -1;
	}
	struct rd p;
	if (parlen <= rd_left(r)) {
		p = rd_sub(r, parlen);
	} else if (partial) {
		p = rd_sub(r, rd_left(r)); /* only the head is here: parse what there is */
	} else {
		dctx_violation(ctx, "s7comm: parameter length %u exceeds the PDU", parlen);
		pdu_end(ctx);
		return -1;
	}
	struct rd d = *r;
	if (datlen <= rd_left(r))
		d = rd_sub(r, datlen);
	else if (!partial)
		dctx_violation(ctx, "s7comm: data length %u exceeds the %zu bytes present", datlen, rd_left(r));
	if (!partial && rd_ok(r) && !rd_empty(r))
		dctx_violation(ctx, "s7comm: %zu bytes after the data part", rd_left(r));

	if (rosctr == ROSCTR_USERDATA) {
		userdata(ctx, s, &p, &d, partial);
	} else if (parlen >= 1) {
		uint8_t func = rd_u8(&p);
		pdu_u(ctx, "func", func);
		const char *fn = func_name(func);
		if (fn)
			pdu_s(ctx, "func_name", fn);
		if (rosctr == ROSCTR_JOB) {
			job(ctx, s, &p, func, ref);
		} else {
			if (func == 0xf0) {
				rd_skip(&p, 5);
				uint16_t sz = rd_be16(&p);
				if (rd_ok(&p))
					pdu_u(ctx, "pdu_size", sz);
			} else if (func == 0x1c && !errcls) {
				s->dl_active = 0;
			} else if ((func == 0x04 || func == 0x05) && !errcls) {
				var_answer(ctx, s, &p, &d, func, ref);
			}
			if (errcls > 0)
				op(ctx, func, fn, false, true, 0, false, 0, 0, errcod);
		}
	} else if (errcls > 0) {
		op(ctx, 0, "ack", false, true, 0, false, 0, 0, errcod);
	}
	pdu_end(ctx);
	return 0;
}
