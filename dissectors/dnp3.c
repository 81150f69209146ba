/*
 * dnp3.c - DNP3 over TCP and UDP (port 20000): link layer (CRC-16/DNP on the header and
 * on every 16-byte data block), transport-layer reassembly (FIR/FIN/sequence), and the
 * application layer (function code, IIN, object headers: group/variation/qualifier/range).
 *
 * Emits: a pdu record per application fragment, on the frame that completes it (as tshark
 * does), with func, src_addr, dst_addr (the link addresses of that frame) and the first
 * object's group/variation; a record for link-only frames (no user data: reset link, link
 * status...) with func null and link_func set, since tshark shows a DNP3 layer for them too
 * (without dnp3.al.func, so the corpus comparison leaves them out). An operation fact per
 * request, unsolicited response and error response (func, object = first object group,
 * index range); events: cold/warm restart -> device_restart, start/stop application ->
 * plc_start/plc_stop, file operations (FC 25-30) -> file_transfer, time writes (g50) and
 * record current time -> time_set, select/operate/direct operate -> control; identity from
 * device attribute objects (g0) and the link roles; violations for bad CRCs, bad lengths,
 * transport sequence errors and malformed object headers.
 *
 * Per-flow state (ctx->state, 256 bytes) holds one transport reassembly per direction: the
 * sequence expected next and the head of the application fragment (DNP3_HEAD bytes). A
 * fragment longer than that is still counted and recorded when its FIN arrives; only its
 * head is parsed (the function code and first object headers live there) and the record
 * says "partial": true.
 *
 * Must never: read a byte except through struct rd, trust a length, count or range before
 * checking it against the bytes present, or loop more than the bytes present allow.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define DNP3_HEAD 112          /* application bytes kept per direction while reassembling */
#define DNP3_MAX_USER 250      /* user data octets in one link frame (length 255 - 5) */
#define DNP3_MAX_HEADERS 32    /* object headers looked at per fragment */

struct dnp3_dir {
	uint8_t active;        /* FIR seen, FIN not yet */
	uint8_t seen;          /* some transport segment seen in this direction */
	uint8_t next_seq;
	uint8_t nframes;
	uint16_t head_len;
	uint16_t pad;
	uint32_t total;        /* application bytes of the fragment so far */
	uint8_t head[DNP3_HEAD];
};

struct dnp3_state {
	struct dnp3_dir dir[2];
};

_Static_assert(sizeof(struct dnp3_state) <= DISSECTOR_STATE_SIZE, "dnp3 state too large");

/* CRC-16/DNP: reflected polynomial 0x3D65 (0xA6BC), init 0, final complement. */
static uint16_t dnp3_crc(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA6BC) : (uint16_t)(crc >> 1);
	}
	return (uint16_t)~crc;
}

static const char *func_name(uint8_t fc)
{
	static const char *const names[] = {
		"confirm", "read", "write", "select", "operate", "direct_operate", "direct_operate_nr",
		"immediate_freeze", "immediate_freeze_nr", "freeze_clear", "freeze_clear_nr",
		"freeze_at_time", "freeze_at_time_nr", "cold_restart", "warm_restart",
		"initialize_data", "initialize_appl", "start_appl", "stop_appl", "save_config",
		"enable_unsolicited", "disable_unsolicited", "assign_class", "delay_measure",
		"record_current_time", "open_file", "close_file", "delete_file", "get_file_info",
		"authenticate_file", "abort_file", "activate_config", "authenticate_req",
		"auth_req_no_ack",
	};
	if (fc < sizeof names / sizeof names[0])
		return names[fc];
	switch (fc) {
	case 129: return "response";
	case 130: return "unsolicited_response";
	case 131: return "authenticate_resp";
	default: return NULL;
	}
}

static bool func_is_write(uint8_t fc)
{
	switch (fc) {
	case 0: case 1: case 23: case 25: case 28: case 29: case 32: case 33:
		return false;
	default:
		return fc < 128;
	}
}

/* Request functions whose object headers carry no object data (only index prefixes). */
static bool request_without_data(uint8_t fc)
{
	return fc == 1 || (fc >= 7 && fc <= 12) || (fc >= 20 && fc <= 22);
}

/* Size in bits of one object of group g variation v (packed objects), 0 if not packed. */
static unsigned packed_bits(uint8_t g, uint8_t v)
{
	if ((g == 1 || g == 10 || g == 80) && v == 1)
		return 1;
	if (g == 3 && v == 1)
		return 2;
	return 0;
}

/* Size in octets of one object; 0 if unknown or variable. */
static unsigned obj_size(uint8_t g, uint8_t v)
{
	static const uint8_t counters[] = { 0, 5, 3, 5, 3, 4, 2, 4, 2 };          /* g20, g22 v1..8 */
	static const uint8_t frozen[] = { 0, 5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2 }; /* g21, g23 */
	static const uint8_t analog[] = { 0, 5, 3, 4, 2, 5, 9 };                    /* g30 */
	static const uint8_t frozen_an[] = { 0, 5, 3, 11, 9, 4, 2, 5, 9 };          /* g31 */
	static const uint8_t an_event[] = { 0, 5, 3, 11, 9, 5, 9, 11, 15 };         /* g32, g33, g42 */
	static const uint8_t an_out[] = { 0, 5, 3, 5, 9 };                          /* g40, g41 */
	static const uint8_t an_cmd_ev[] = { 0, 6, 4, 12, 10, 6, 10, 12, 16 };      /* g43 */
#define TAB(t) (v < sizeof t ? t[v] : 0)
	switch (g) {
	case 1: return v == 2 ? 1 : 0;
	case 2: return v == 1 ? 1 : v == 2 ? 7 : v == 3 ? 3 : 0;
	case 3: return v == 2 ? 1 : 0;
	case 4: return v == 1 ? 1 : v == 2 ? 7 : v == 3 ? 3 : 0;
	case 10: return v == 2 ? 1 : 0;
	case 11: return v == 1 ? 1 : v == 2 ? 7 : 0;
	case 12: return v == 1 || v == 2 ? 11 : 0;
	case 13: return v == 1 ? 1 : v == 2 ? 7 : 0;
	case 20: case 22: return TAB(counters);
	case 21: case 23: return TAB(frozen);
	case 30: return TAB(analog);
	case 31: return TAB(frozen_an);
	case 32: case 33: case 42: return TAB(an_event);
	case 34: return v == 1 ? 2 : v == 2 || v == 3 ? 4 : 0;
	case 40: case 41: return TAB(an_out);
	case 43: return TAB(an_cmd_ev);
	case 50: return v == 1 || v == 3 ? 6 : v == 2 ? 10 : v == 4 ? 11 : 0;
	case 51: return v == 1 || v == 2 ? 6 : 0;
	case 52: return v == 1 || v == 2 ? 2 : 0;
	case 110: case 111: case 112: case 113: return v;
	default: return 0;
	}
#undef TAB
}

static const char *g0_key(uint8_t v)
{
	switch (v) {
	case 242: return "firmware";        /* device manufacturer's software version */
	case 243: return "hardware";        /* device manufacturer's hardware version */
	case 246: return "name";            /* user-assigned ID code / number */
	case 247: return "hostname";        /* user-assigned device name */
	case 248: return "serial";          /* device serial number */
	case 250: return "model";           /* device manufacturer's product name and model */
	case 252: return "vendor";          /* device manufacturer's name */
	default: return NULL;
	}
}

static const char *auth_name(uint8_t v)
{
	static const char *const names[] = {
		NULL, "challenge", "reply", "aggressive_mode", "session_key_status_request",
		"session_key_status", "session_key_change", "error", "user_certificate", "mac",
		"user_status_change", "update_key_change_request", "update_key_change_reply",
		"update_key_change", "update_key_change_signature", "update_key_change_confirmation",
	};
	return v < sizeof names / sizeof names[0] ? names[v] : NULL;
}

/* What the application parser learned, for the record and the facts. */
struct dnp3_app {
	uint8_t fc, ac;
	uint16_t iin;
	bool has_iin;
	int nheaders;
	bool has_obj;
	uint8_t group, var, qual;
	bool has_range;
	uint32_t lo, hi;
	bool g50;                 /* a time object (group 50) is present */
	bool has_time;
	uint64_t time_ms;
	bool auth;
	uint8_t auth_var;
	bool file;                /* a file object (group 70) */
	bool stopped;             /* object parsing stopped early (unknown size or partial) */
};

static void note_range(struct dnp3_app *a, int hdr, uint32_t lo, uint32_t hi)
{
	if (hdr != 0)
		return;
	if (!a->has_range) {
		a->has_range = true;
		a->lo = lo;
		a->hi = hi;
	} else {
		if (lo < a->lo)
			a->lo = lo;
		if (hi > a->hi)
			a->hi = hi;
	}
}

/* Device attribute objects (g0): data type, length, value. */
static bool g0_objects(struct dctx *ctx, struct rd *r, uint8_t var, uint64_t n, bool resp)
{
	for (uint64_t i = 0; i < n && rd_ok(r) && !rd_empty(r); i++) {
		uint8_t type = rd_u8(r);
		uint8_t len = rd_u8(r);
		char val[FACT_STR];
		if (!rd_text(r, len, val, sizeof val))
			return false;
		const char *key = g0_key(var);
		if (resp && key && type == 1 && val[0]) /* visible string, from the outstation */
			dctx_identity(ctx, SUBJ_SRC, key, "%s", val);
	}
	return rd_ok(r);
}

/*
 * Parses the application fragment head in r. `partial` means r holds only the head of a
 * longer fragment: running out of bytes in the objects is then not a violation.
 */
static void parse_objects(struct dctx *ctx, struct rd *r, bool partial, struct dnp3_app *a);

static bool parse_app(struct dctx *ctx, struct rd *r, bool partial, struct dnp3_app *a)
{
	memset(a, 0, sizeof *a);
	a->ac = rd_u8(r);
	a->fc = rd_u8(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "dnp3: application fragment shorter than its header");
		return false;
	}
	parse_objects(ctx, r, partial, a);
	return true;
}
static void parse_objects(struct dctx *ctx, struct rd *r, bool partial, struct dnp3_app *a)
{
	bool resp = a->fc >= 129;
	if (resp) {
		a->iin = rd_be16(r);
		a->has_iin = rd_ok(r);
		if (!a->has_iin) {
			if (!partial)
				dctx_violation(ctx, "dnp3: response without internal indications");
			return;
		}
	}
	if (!func_name(a->fc))
		dctx_violation(ctx, "dnp3: application function code %u is not defined", a->fc);
	bool data = resp || !request_without_data(a->fc);
	for (int h = 0; h < DNP3_MAX_HEADERS && !rd_empty(r); h++) {
		uint8_t g = rd_u8(r), v = rd_u8(r), q = rd_u8(r);
		uint8_t prefix = (q >> 4) & 7, rc = q & 0x0f;
		uint64_t n = 0;
		bool range = false;
		uint32_t lo = 0, hi = 0;
		switch (rc) {
		case 0: lo = rd_u8(r); hi = rd_u8(r); range = true; break;
		case 1: lo = rd_le16(r); hi = rd_le16(r); range = true; break;
		case 2: lo = rd_le32(r); hi = rd_le32(r); range = true; break;
		case 3: lo = hi = rd_u8(r); n = 1; break;
		case 4: lo = hi = rd_le16(r); n = 1; break;
		case 5: lo = hi = rd_le32(r); n = 1; break;
		case 6: n = 0; break;
		case 7: n = rd_u8(r); break;
		case 8: n = rd_le16(r); break;
		case 9: n = rd_le32(r); break;
		case 11: n = rd_u8(r); break;
		default:
			dctx_violation(ctx, "dnp3: object g%uv%u with reserved qualifier code %u", g, v, rc);
			a->stopped = true;
			return;
		}
		if (!rd_ok(r)) {
			if (!partial)
				dctx_violation(ctx, "dnp3: truncated object header");
			a->stopped = true;
			return;
		}
		if (range) {
			if (hi < lo) {
				dctx_violation(ctx, "dnp3: object g%uv%u range %u..%u runs backwards", g, v, lo, hi);
				a->stopped = true;
				return;
			}
			n = (uint64_t)hi - lo + 1;
		}
		if (h == 0) {
			a->has_obj = true;
			a->group = g;
			a->var = v;
			a->qual = q;
		}
		a->nheaders = h + 1;
		if (g == 50)
			a->g50 = true;
		if (g == 70)
			a->file = true;
		if (g == 120 && !a->auth) {
			a->auth = true;
			a->auth_var = v;
		}
		if (range || rc == 3 || rc == 4 || rc == 5)
			note_range(a, h, lo, hi);
		if (prefix == 7) {
			dctx_violation(ctx, "dnp3: object g%uv%u with reserved prefix code %u", g, v, prefix);
			a->stopped = true;
			return;
		}
		/* the objects that follow the header */
		size_t isz = prefix == 1 || prefix == 4 ? 1 : prefix == 2 || prefix == 5 ? 2 : prefix == 3 || prefix == 6 ? 4 : 0;
		bool index_prefix = prefix >= 1 && prefix <= 3;
		bool size_prefix = prefix >= 4 && prefix <= 6;
		if (size_prefix) {
			/* explicitly sized objects (file, authentication...), even in a read */
			for (uint64_t i = 0; i < n && rd_ok(r); i++) {
				uint32_t sz = isz == 1 ? rd_u8(r) : isz == 2 ? rd_le16(r) : rd_le32(r);
				rd_skip(r, sz);
			}
		} else if (!data) {
			/* requests without data: only index prefixes follow */
			if (index_prefix) {
				for (uint64_t i = 0; i < n && rd_ok(r); i++) {
					uint32_t ix = isz == 1 ? rd_u8(r) : isz == 2 ? rd_le16(r) : rd_le32(r);
					if (rd_ok(r))
						note_range(a, h, ix, ix);
				}
			}
		} else if (g == 0 && prefix == 0) {
			if (!g0_objects(ctx, r, v, n, resp)) {
				if (!partial)
					dctx_violation(ctx, "dnp3: truncated device attribute object");
				a->stopped = true;
				return;
			}
		} else if (prefix == 0 && packed_bits(g, v)) {
			uint64_t bytes = (n * packed_bits(g, v) + 7) / 8;
			if (bytes > rd_left(r))
				rd_skip(r, rd_left(r) + 1);
			else
				rd_skip(r, (size_t)bytes);
		} else {
			unsigned sz = obj_size(g, v);
			if (!sz) {
				/* variable or unknown object size: the rest cannot be walked */
				a->stopped = true;
				return;
			}
			if (g == 50 && (v == 1 || v == 3) && prefix == 0 && n >= 1 && rd_left(r) >= 6) {
				uint64_t lo32 = rd_le32(r);
				uint64_t hi16 = rd_le16(r);
				a->has_time = true;
				a->time_ms = lo32 | hi16 << 32;
				n--;
			}
			for (uint64_t i = 0; i < n && rd_ok(r); i++) {
				if (index_prefix) {
					uint32_t ix = isz == 1 ? rd_u8(r) : isz == 2 ? rd_le16(r) : rd_le32(r);
					if (rd_ok(r))
						note_range(a, h, ix, ix);
				}
				rd_skip(r, sz);
			}
		}
		if (!rd_ok(r)) {
			if (!partial)
				dctx_violation(ctx, "dnp3: objects of g%uv%u run past the fragment", g, v);
			a->stopped = true;
			return;
		}
	}
}

static const char *app_dir(uint8_t fc)
{
	return fc == 130 ? "event" : fc >= 128 ? "response" : "request";
}

static void app_facts(struct dctx *ctx, const struct dnp3_app *a)
{
	bool resp = a->fc >= 128;
	uint8_t iin2 = (uint8_t)(a->iin & 0xff);
	bool error = resp && (iin2 & 0x07) != 0; /* function unsupported, object unknown, bad parameters */
	if (!resp || a->fc == 130 || error) {
		struct fact f;
		dctx_fact_init(ctx, &f, FACT_OPERATION);
		f.u.op.func = a->fc;
		const char *n = func_name(a->fc);
		fact_str(f.u.op.name, sizeof f.u.op.name, n ? n : "unknown");
		f.u.op.is_write = func_is_write(a->fc);
		f.u.op.is_response = resp;
		f.u.op.object = a->has_obj ? a->group : 0;
		f.u.op.has_range = a->has_range;
		f.u.op.addr_lo = a->lo;
		f.u.op.addr_hi = a->hi;
		if (error) {
			f.u.op.exception = true;
			f.u.op.exc_code = iin2;
		}
		dctx_emit(ctx, &f);
	}
	if (resp)
		return;
	switch (a->fc) {
	case 2:
		if (a->g50) {
			if (a->has_time)
				dctx_event(ctx, EV_TIME_SET, SUBJ_DST, "dnp3 write time g50v%u: %llu ms", a->var,
					   (unsigned long long)a->time_ms);
			else
				dctx_event(ctx, EV_TIME_SET, SUBJ_DST, "dnp3 write time object g50");
		}
		if (a->file)
			dctx_event(ctx, EV_FILE_TRANSFER, SUBJ_DST, "dnp3 write file object");
		break;
	case 3: case 4: case 5: case 6:
		dctx_event(ctx, EV_CONTROL, SUBJ_DST, "dnp3 %s g%uv%u", func_name(a->fc), a->group, a->var);
		break;
	case 13: dctx_event(ctx, EV_DEVICE_RESTART, SUBJ_DST, "dnp3 cold restart"); break;
	case 14: dctx_event(ctx, EV_DEVICE_RESTART, SUBJ_DST, "dnp3 warm restart"); break;
	case 17: dctx_event(ctx, EV_PLC_START, SUBJ_DST, "dnp3 start application"); break;
	case 18: dctx_event(ctx, EV_PLC_STOP, SUBJ_DST, "dnp3 stop application"); break;
	case 24: dctx_event(ctx, EV_TIME_SET, SUBJ_DST, "dnp3 record current time"); break;
	case 25: case 26: case 27: case 28: case 29: case 30:
		dctx_event(ctx, EV_FILE_TRANSFER, SUBJ_DST, "dnp3 %s", func_name(a->fc));
		break;
	default:
		break;
	}
}

struct dnp3_link {
	uint8_t len, ctl;
	uint16_t dst, src;
};

static void app_record(struct dctx *ctx, const struct dnp3_link *l, struct rd *ar, bool partial, unsigned nframes,
		       uint32_t total)
{
	struct dnp3_app a;
	if (!parse_app(ctx, ar, partial, &a))
		return;
	pdu_begin(ctx, app_dir(a.fc));
	pdu_u(ctx, "func", a.fc);
	pdu_u(ctx, "src_addr", l->src);
	pdu_u(ctx, "dst_addr", l->dst);
	const char *n = func_name(a.fc);
	if (n)
		pdu_s(ctx, "func_name", n);
	pdu_u(ctx, "link_func", l->ctl & 0x0f);
	pdu_u(ctx, "app_seq", a.ac & 0x0f);
	if (a.ac & 0x20)
		pdu_b(ctx, "confirm", true);
	if (a.ac & 0x10)
		pdu_b(ctx, "unsolicited", true);
	if (a.has_iin)
		pdu_u(ctx, "iin", a.iin);
	if (a.has_obj) {
		pdu_u(ctx, "obj_group", a.group);
		pdu_u(ctx, "obj_var", a.var);
		pdu_u(ctx, "qualifier", a.qual);
		pdu_u(ctx, "objects", (uint64_t)a.nheaders);
	}
	if (a.has_range) {
		pdu_u(ctx, "index_lo", a.lo);
		pdu_u(ctx, "index_hi", a.hi);
	}
	if (a.has_time)
		pdu_u(ctx, "time_ms", a.time_ms);
	if (a.auth || a.fc == 32 || a.fc == 33 || a.fc == 131) {
		pdu_b(ctx, "auth", true);
		if (a.auth) {
			pdu_u(ctx, "auth_var", a.auth_var);
			const char *an = auth_name(a.auth_var);
			if (an)
				pdu_s(ctx, "auth_obj", an);
		}
	}
	if (nframes > 1)
		pdu_u(ctx, "frames", nframes);
	pdu_u(ctx, "app_len", total);
	if (partial)
		pdu_b(ctx, "partial", true);
	pdu_end(ctx);
	app_facts(ctx, &a);
}

/* Transport segment (already without CRCs) of one link frame. */
static void transport(struct dctx *ctx, const struct dnp3_link *l, const uint8_t *ud, size_t n)
{
	struct dnp3_state *s = ctx->state;
	struct rd r = rd_init(ud, n);
	uint8_t th = rd_u8(&r);
	bool fin = th & 0x80, fir = th & 0x40;
	uint8_t seq = th & 0x3f;
	struct dnp3_dir stack_dir;
	struct dnp3_dir *d = &stack_dir;
	if (s)
		d = &s->dir[ctx->to_server ? 0 : 1];
	else
		memset(d, 0, sizeof *d);
	if (ctx->after_gap)
		d->active = 0;
	if (fir && fin) {
		if (d->active)
			dctx_violation(ctx, "dnp3: new application fragment before the previous one finished");
		d->active = 0;
		d->seen = 1;
		d->next_seq = (uint8_t)((seq + 1) & 0x3f);
		app_record(ctx, l, &r, false, 1, (uint32_t)rd_left(&r));
		return;
	}
	if (fir) {
		if (d->active)
			dctx_violation(ctx, "dnp3: new application fragment before the previous one finished");
		d->active = 1;
		d->nframes = 0;
		d->head_len = 0;
		d->total = 0;
	} else if (!d->active) {
		if (d->seen)
			dctx_violation(ctx, "dnp3: transport segment (seq %u) without a first segment", seq);
		d->seen = 1;
		d->next_seq = (uint8_t)((seq + 1) & 0x3f);
		return;
	} else if (seq != d->next_seq) {
		dctx_violation(ctx, "dnp3: transport sequence %u where %u was expected", seq, d->next_seq);
	}
	d->seen = 1;
	d->next_seq = (uint8_t)((seq + 1) & 0x3f);
	if (d->nframes < 255)
		d->nframes++;
	size_t k = rd_left(&r);
	d->total += (uint32_t)k;
	size_t room = DNP3_HEAD - d->head_len;
	size_t take = k < room ? k : room;
	rd_copy(&r, d->head + d->head_len, take);
	d->head_len = (uint16_t)(d->head_len + take);
	if (!fin)
		return;
	d->active = 0;
	struct rd ar = rd_init(d->head, d->head_len);
	app_record(ctx, l, &ar, d->total > d->head_len, d->nframes, d->total);
}

/* One link frame; returns false if the bytes do not hold a well-formed frame. */
static bool link_frame(struct dctx *ctx, struct rd *r)
{
	uint8_t hdr[8];
	if (!rd_copy(r, hdr, sizeof hdr)) {
		dctx_violation(ctx, "dnp3: link frame shorter than its header");
		return false;
	}
	uint16_t hcrc = rd_le16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "dnp3: link frame shorter than its header");
		return false;
	}
	struct rd h = rd_init(hdr, sizeof hdr);
	uint16_t start = rd_be16(&h);
	struct dnp3_link l;
	l.len = rd_u8(&h);
	l.ctl = rd_u8(&h);
	l.dst = rd_le16(&h);
	l.src = rd_le16(&h);
	if (start != 0x0564) {
		dctx_violation(ctx, "dnp3: link start octets 0x%04x are not 0x0564", start);
		return false;
	}
	if (hcrc != dnp3_crc(hdr, sizeof hdr)) {
		dctx_violation(ctx, "dnp3: link header CRC 0x%04x is wrong", hcrc);
		return false;
	}
	if (l.len < 5) {
		dctx_violation(ctx, "dnp3: link length %u is below 5", l.len);
		return false;
	}
	size_t n = (size_t)l.len - 5;
	uint8_t ud[DNP3_MAX_USER];
	size_t got = 0;
	bool crc_ok = true;
	while (got < n) {
		size_t b = n - got < 16 ? n - got : 16;
		if (!rd_copy(r, ud + got, b)) {
			dctx_violation(ctx, "dnp3: link frame shorter than its length %u", l.len);
			return false;
		}
		uint16_t c = rd_le16(r);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "dnp3: link frame shorter than its length %u", l.len);
			return false;
		}
		if (c != dnp3_crc(ud + got, b))
			crc_ok = false;
		got += b;
	}
	if (!crc_ok) {
		dctx_violation(ctx, "dnp3: data block CRC is wrong (link %u -> %u)", l.src, l.dst);
		return false;
	}
	bool from_master = l.ctl & 0x80;
	dctx_identity(ctx, SUBJ_SRC, "role", "%s", from_master ? "dnp3 master" : "dnp3 outstation");
	dctx_identity(ctx, SUBJ_SRC, "dnp3_address", "%u", l.src);
	uint8_t lf = l.ctl & 0x0f;
	bool prm = l.ctl & 0x40;
	if (n > 0 && (!prm || (lf != 3 && lf != 4)))
		dctx_violation(ctx, "dnp3: %s link function %u carries %zu octets of user data",
			       prm ? "primary" : "secondary", lf, n);
	/* like tshark, reset link / ack (0), link status (9, 11) never reach the transport layer */
	if (n == 0 || lf == 0 || lf == 9 || lf == 11) {
		pdu_begin(ctx, from_master ? "request" : "response");
		pdu_null(ctx, "func");
		pdu_u(ctx, "src_addr", l.src);
		pdu_u(ctx, "dst_addr", l.dst);
		pdu_u(ctx, "link_func", lf);
		pdu_b(ctx, "primary", prm);
		pdu_end(ctx);
		return true;
	}
	transport(ctx, &l, ud, n);
	return true;
}

static ssize_t frame_len(uint8_t len)
{
	size_t n = (size_t)len - 5;
	return (ssize_t)(10 + n + 2 * ((n + 15) / 16));
}

static ssize_t dnp3_pdu_len(const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	uint16_t start = rd_be16(&r);
	uint8_t l = rd_u8(&r);
	if (!rd_ok(&r))
		return (len >= 1 && data[0] != 0x05) || (len >= 2 && data[1] != 0x64) ? -1 : 0;
	if (start != 0x0564 || l < 5)
		return -1;
	return frame_len(l);
}

static bool dnp3_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	uint8_t hdr[8];
	rd_copy(&r, hdr, sizeof hdr);
	uint16_t hcrc = rd_le16(&r);
	if (!rd_ok(&r) || hdr[0] != 0x05 || hdr[1] != 0x64 || hdr[2] < 5)
		return false;
	if ((size_t)frame_len(hdr[2]) > len)
		return false;
	return hcrc == dnp3_crc(hdr, sizeof hdr);
}

static int dnp3_parse(struct dctx *ctx, struct rd *r)
{
	/* TCP delivers one link frame; a UDP datagram may hold several */
	for (int i = 0; i < 64 && !rd_empty(r); i++) {
		if (!link_frame(ctx, r))
			return -1;
	}
	if (!rd_empty(r)) {
		dctx_violation(ctx, "dnp3: too many link frames in one datagram");
		return -1;
	}
	return 0;
}

static const uint16_t dnp3_ports[] = { 20000, 0 };

const struct dissector dnp3_dissector = {
	.name = "dnp3",
	.transports = DT_TCP | DT_UDP,
	.ports = dnp3_ports,
	.probe = dnp3_probe,
	.pdu_len = dnp3_pdu_len,
	.parse = dnp3_parse,
};
