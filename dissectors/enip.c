/*
 * enip.c - EtherNet/IP encapsulation (TCP/UDP 44818), its I/O datagrams (UDP 2222), and
 * the CIP explicit messages it carries (message router requests and responses, EPATH
 * logical segments, Unconnected Send and Multiple Service Packet unwrapped, Forward Open
 * connections followed so that connected (class 3) messages can be paired).
 *
 * Emits: one pdu record per encapsulation message (`command`; with CIP the outermost
 * `service` without the response bit, as tshark's cip.sc, and `class`, as the CIP layer's
 * cip.class: the request path's class, for a response the class of the request it
 * answers, and for a connected message without a class of its own the class of its
 * Forward Open connection path, also given as `conn_class`); identity facts from
 * ListIdentity responses and Identity object Get_Attributes_All responses; an operation
 * fact per CIP request (service, class, instance, write or not) and per error response;
 * events for reset, start/stop (mode change), lock/unlock, firmware update, program
 * upload/download, time set and port configuration writes; violations for malformed
 * encapsulation, CPF and CIP.
 *
 * Class 0/1 I/O data (UDP 2222) is recorded (connection id, sequence) but not parsed.
 *
 * Must never: read a byte except through struct rd, trust a count or length before
 * checking it against the bytes present, or recurse deeper than one embedded message.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define ENIP_HDR 24
#define EN_PENDING 8
#define EN_CONNS 7
#define NO_CLASS 0xffffffffu
#define CONN_NONE 0xff

/* a request waiting for its response */
struct en_req {
	uint32_t key_lo, key_hi; /* sender context (SendRRData) or connection/sequence (SendUnitData);
				  * two halves: the engine only guarantees 4-byte alignment of state */
	uint32_t cls;           /* class of the outer request path, NO_CLASS if none */
	uint16_t eff_cls;       /* class of the request that matters (inside Unconnected Send), 0xffff none */
	uint16_t conn_cls;      /* Forward Open: first class of the connection path (0xffff none) */
	uint8_t svc, eff_svc;
	uint8_t used;
};

/* a connection learned from a Forward Open exchange */
struct en_conn {
	uint32_t o2t, t2o;
	uint16_t cls;           /* first class of the connection path, 0xffff none */
	uint8_t used;
};

struct en_state {
	struct en_req pending[EN_PENDING];
	struct en_conn conns[EN_CONNS];
	uint8_t next_req, next_conn;
	uint8_t fw_seen;
};

_Static_assert(sizeof(struct en_state) <= DISSECTOR_STATE_SIZE, "enip state too large");
_Static_assert(_Alignof(struct en_state) <= 4, "enip state must not need more than 4-byte alignment");

/* what a request path says */
struct epath {
	uint32_t cls, cls2, inst, attr;
	bool has_cls, has_cls2, has_inst, has_attr, symbolic;
};

/* what the CPF of a message held */
struct cpf {
	bool has_conn, has_seq_addr, has_data, connected;
	uint32_t conn_id, seq_addr;
	uint16_t seq;
	struct rd data;
};

static const char *command_name(uint16_t c)
{
	switch (c) {
	case 0x0000: return "nop";
	case 0x0004: return "list_services";
	case 0x0063: return "list_identity";
	case 0x0064: return "list_interfaces";
	case 0x0065: return "register_session";
	case 0x0066: return "unregister_session";
	case 0x006f: return "send_rr_data";
	case 0x0070: return "send_unit_data";
	case 0x00c8: return "start_dtls";
	default: return NULL;
	}
}

static const char *service_name(uint8_t s, uint32_t cls)
{
	if (cls == 6) {
		switch (s) {
		case 0x4e: return "forward_close";
		case 0x52: return "unconnected_send";
		case 0x54: return "forward_open";
		case 0x5b: return "large_forward_open";
		default: break;
		}
	}
	switch (s) {
	case 0x01: return "get_attributes_all";
	case 0x02: return "set_attributes_all";
	case 0x03: return "get_attribute_list";
	case 0x04: return "set_attribute_list";
	case 0x05: return "reset";
	case 0x06: return "start";
	case 0x07: return "stop";
	case 0x08: return "create";
	case 0x09: return "delete";
	case 0x0a: return "multiple_service_packet";
	case 0x0d: return "apply_attributes";
	case 0x0e: return "get_attribute_single";
	case 0x10: return "set_attribute_single";
	case 0x11: return "find_next_object_instance";
	case 0x14: return "error_response";
	case 0x15: return "restore";
	case 0x16: return "save";
	case 0x17: return "nop";
	case 0x18: return "get_member";
	case 0x19: return "set_member";
	case 0x1a: return "insert_member";
	case 0x1b: return "remove_member";
	case 0x1c: return "group_sync";
	case 0x4b: return "execute_pccc";
	case 0x4c: return "read_tag";
	case 0x4d: return "write_tag";
	case 0x4e: return "read_modify_write_tag";
	case 0x52: return "read_tag_fragmented";
	case 0x53: return "write_tag_fragmented";
	case 0x55: return "get_instance_attribute_list";
	default: return NULL;
	}
}

static bool service_is_write(uint8_t s, uint32_t cls)
{
	switch (s) {
	case 0x02: case 0x04: case 0x05: case 0x06: case 0x07: case 0x08: case 0x09:
	case 0x0d: case 0x10: case 0x15: case 0x19: case 0x1a: case 0x1b:
		return true;
	case 0x4d: case 0x4e: case 0x53: /* Rockwell write tag, read-modify-write, write fragmented */
		return cls != 6;        /* 0x4e on the connection manager is Forward Close */
	default:
		return false;
	}
}

/* ODVA vendor ids of the best-known vendors */
static const char *vendor_name(uint16_t v)
{
	switch (v) {
	case 1: return "Rockwell Automation/Allen-Bradley";
	case 5: return "Rockwell Automation/Reliance Electric";
	case 26: return "Festo";
	case 40: return "WAGO";
	case 44: return "Yaskawa";
	case 46: return "ABB";
	case 47: return "Omron";
	case 48: return "Turck";
	case 57: return "Pepperl+Fuchs";
	case 90: return "HMS Industrial Networks";
	case 161: return "Schneider Electric";
	case 283: return "Hilscher";
	case 1083: return "Siemens";
	default: return NULL;
	}
}

static const char *device_type_name(uint16_t t)
{
	switch (t) {
	case 0x00: return "generic device";
	case 0x02: return "ac drive";
	case 0x0c: return "communications adapter";
	case 0x0e: return "programmable logic controller";
	case 0x18: return "human-machine interface";
	case 0x2b: return "generic device (keyable)";
	default: return NULL;
	}
}

/* ---------------------------------------------------------------- EPATH */

/* Walks an EPATH, noting the first class/instance/attribute and a second class.
 * Returns false if a segment runs past the path. */
static bool parse_epath(struct rd *p, struct epath *e)
{
	memset(e, 0, sizeof *e);
	while (rd_ok(p) && !rd_empty(p)) {
		uint8_t seg = rd_u8(p);
		switch (seg >> 5) {
		case 0: { /* port segment */
			uint16_t port = seg & 0x0f;
			if (seg & 0x10) {
				uint8_t n = rd_u8(p);
				if (port == 0x0f)
					rd_skip(p, 2);
				rd_skip(p, (size_t)n + (n & 1));
			} else {
				if (port == 0x0f)
					rd_skip(p, 2);
				rd_skip(p, 1);
			}
			break;
		}
		case 1: { /* logical segment */
			uint8_t type = (seg >> 2) & 7, fmt = seg & 3;
			uint32_t v = 0;
			if (type == 5) { /* special: electronic key */
				uint8_t kf = rd_u8(p);
				rd_skip(p, kf == 4 ? 8 : 0);
				if (kf != 4)
					return false;
				break;
			}
			if (fmt == 0) {
				v = rd_u8(p);
			} else if (fmt == 1) {
				rd_skip(p, 1);
				v = rd_le16(p);
			} else if (fmt == 2) {
				rd_skip(p, 1);
				v = rd_le32(p);
			} else {
				return false;
			}
			if (!rd_ok(p))
				return false;
			if (type == 0) {
				if (!e->has_cls) {
					e->cls = v;
					e->has_cls = true;
				} else if (!e->has_cls2) {
					e->cls2 = v;
					e->has_cls2 = true;
				}
			} else if (type == 1 && !e->has_inst) {
				e->inst = v;
				e->has_inst = true;
			} else if (type == 4 && !e->has_attr) {
				e->attr = v;
				e->has_attr = true;
			}
			break;
		}
		case 2: /* network segment */
			if ((seg & 0x1f) == 0x10 || (seg & 0x1f) == 0x11) {
				uint8_t n = rd_u8(p);
				rd_skip(p, (size_t)n * 2);
			} else {
				rd_skip(p, 1);
			}
			break;
		case 3: /* symbolic segment */
			e->symbolic = true;
			if ((seg & 0x1f) == 0) { /* extended string */
				uint8_t f = rd_u8(p);
				size_t n = f & 0x1f;
				uint8_t t = f >> 5;
				rd_skip(p, t == 1 ? n * 2 : t == 2 ? n * 3 : t == 6 ? (n & 7) : n);
			} else {
				rd_skip(p, seg & 0x1f);
			}
			break;
		case 4: /* data segment */
			if (seg == 0x80) {
				uint8_t n = rd_u8(p);
				rd_skip(p, (size_t)n * 2);
			} else if (seg == 0x91) {
				uint8_t n = rd_u8(p);
				rd_skip(p, (size_t)n + (n & 1));
				e->symbolic = true;
			} else {
				return false;
			}
			break;
		default:
			return false;
		}
	}
	return rd_ok(p);
}

/* ---------------------------------------------------------------- pending requests */

static bool key_is(const struct en_req *q, uint64_t key)
{
	return q->key_lo == (uint32_t)key && q->key_hi == (uint32_t)(key >> 32);
}

static void key_set(struct en_req *q, uint64_t key)
{
	q->key_lo = (uint32_t)key;
	q->key_hi = (uint32_t)(key >> 32);
}

static struct en_req *remember(struct en_state *s, uint64_t key)
{
	for (int i = 0; i < EN_PENDING; i++) {
		if (s->pending[i].used && key_is(&s->pending[i], key)) {
			memset(&s->pending[i], 0, sizeof s->pending[i]);
			s->pending[i].used = 1;
			key_set(&s->pending[i], key);
			return &s->pending[i];
		}
	}
	struct en_req *q = &s->pending[s->next_req];
	s->next_req = (uint8_t)((s->next_req + 1) % EN_PENDING);
	memset(q, 0, sizeof *q);
	q->used = 1;
	key_set(q, key);
	return q;
}

static struct en_req *match(struct en_state *s, uint64_t key)
{
	for (int i = 0; i < EN_PENDING; i++)
		if (s->pending[i].used && key_is(&s->pending[i], key))
			return &s->pending[i];
	return NULL;
}

static int find_conn(const struct en_state *s, uint32_t id, bool to_server)
{
	for (int i = 0; i < EN_CONNS; i++) {
		const struct en_conn *c = &s->conns[i];
		if (c->used && (to_server ? c->o2t : c->t2o) == id)
			return i;
	}
	return -1;
}

static void add_conn(struct en_state *s, uint32_t o2t, uint32_t t2o, uint16_t cls)
{
	for (int i = 0; i < EN_CONNS; i++) {
		if (s->conns[i].used && s->conns[i].o2t == o2t && s->conns[i].t2o == t2o) {
			s->conns[i].cls = cls;
			return;
		}
	}
	struct en_conn *c = &s->conns[s->next_conn];
	s->next_conn = (uint8_t)((s->next_conn + 1) % EN_CONNS);
	c->o2t = o2t;
	c->t2o = t2o;
	c->cls = cls;
	c->used = 1;
}

/* ---------------------------------------------------------------- facts */

static void op_fact(struct dctx *ctx, uint8_t svc, uint32_t cls, const struct epath *e, bool resp, int status)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = svc;
	const char *n = service_name(svc, cls);
	fact_str(f.u.op.name, sizeof f.u.op.name, n ? n : "unknown");
	f.u.op.is_write = service_is_write(svc, cls);
	f.u.op.is_response = resp;
	f.u.op.object = cls;
	if (e && e->has_inst) {
		f.u.op.has_range = true;
		f.u.op.addr_lo = f.u.op.addr_hi = e->inst;
	}
	if (status >= 0) {
		f.u.op.exception = true;
		f.u.op.exc_code = (uint8_t)status;
	}
	dctx_emit(ctx, &f);
}

static void request_events(struct dctx *ctx, struct en_state *s, uint8_t svc, const struct epath *e)
{
	if (!e->has_cls)
		return;
	enum fact_subject srv = dctx_server(ctx);
	uint32_t c = e->cls;
	bool set = svc == 0x02 || svc == 0x04 || svc == 0x10;
	if (svc == 0x05 && (c == 0x01 || c == 0x72 || c == 0x8e)) {
		dctx_event(ctx, EV_DEVICE_RESTART, srv, "CIP reset of object class 0x%02x", c);
	} else if (c == 0x8e && svc == 0x06) {
		dctx_event(ctx, EV_PLC_START, srv, "CIP start (controller to run mode)");
		dctx_event(ctx, EV_MODE_CHANGE, srv, "CIP controller mode change to run");
	} else if (c == 0x8e && svc == 0x07) {
		dctx_event(ctx, EV_PLC_STOP, srv, "CIP stop (controller to program mode)");
		dctx_event(ctx, EV_MODE_CHANGE, srv, "CIP controller mode change to program");
	} else if (c == 0x8e && e->has_cls2 && e->cls2 == 0x74 && svc == 0x4b) {
		dctx_event(ctx, EV_LOCK, srv, "CIP controller lock (Rockwell service 0x4b)");
	} else if (c == 0x8e && e->has_cls2 && e->cls2 == 0x74 && svc == 0x4c) {
		dctx_event(ctx, EV_UNLOCK, srv, "CIP controller unlock (Rockwell service 0x4c)");
	} else if (c == 0xa1 && (svc == 0x4b || svc == 0x51 || svc == 0x4d)) {
		/* Rockwell flash update object: begin, data blocks, finish */
		if (svc != 0x4d || !s->fw_seen)
			dctx_event(ctx, EV_FIRMWARE_UPDATE, srv, "CIP firmware update (class 0xa1 service 0x%02x)", svc);
		s->fw_seen = 1;
	} else if (c == 0x6a && svc == 0x4f) {
		dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "CIP program upload (class 0x6a read)");
	} else if ((c == 0x6a || c == 0x68) && svc == 0x50) {
		dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "CIP program download (class 0x%02x write)", c);
	} else if (set && (c == 0x8b || c == 0x43)) {
		dctx_event(ctx, EV_TIME_SET, srv, "CIP time set (class 0x%02x)", c);
	} else if (set && (c == 0xf4 || c == 0xf5 || c == 0xf6 || c == 0x48 || c == 0x109)) {
		dctx_event(ctx, EV_CONFIG_CHANGE, srv, "CIP configuration write (class 0x%02x service 0x%02x)", c, svc);
	}
}

/* Identity object attributes (Get_Attributes_All of class 1, or a ListIdentity item after
 * its socket address): vendor, device type, product code, revision, status, serial, name. */
static void identity_attrs(struct dctx *ctx, struct rd *r, enum fact_subject who)
{
	uint16_t vendor = rd_le16(r);
	uint16_t dtype = rd_le16(r);
	uint16_t pcode = rd_le16(r);
	uint8_t maj = rd_u8(r), min = rd_u8(r);
	rd_skip(r, 2); /* status */
	uint32_t serial = rd_le32(r);
	uint8_t nlen = rd_u8(r);
	char name[FACT_STR];
	if (!rd_ok(r) || !rd_text(r, nlen, name, sizeof name)) {
		dctx_violation(ctx, "enip: truncated identity attributes");
		return;
	}
	dctx_identity(ctx, who, "vendor_id", "%u", vendor);
	const char *vn = vendor_name(vendor);
	if (vn)
		dctx_identity(ctx, who, "vendor", "%s", vn);
	const char *dn = device_type_name(dtype);
	dctx_identity(ctx, who, "device_type", "%s", dn ? dn : "unknown");
	if (dtype == 0x0e)
		dctx_identity(ctx, who, "role", "plc");
	dctx_identity(ctx, who, "product_code", "%u", pcode);
	dctx_identity(ctx, who, "firmware", "%u.%02u", maj, min);
	dctx_identity(ctx, who, "serial", "0x%08x", serial);
	if (name[0]) {
		dctx_identity(ctx, who, "product", "%s", name);
		dctx_identity(ctx, who, "model", "%s", name);
	}
}

/* ---------------------------------------------------------------- CIP */

struct cip_req {
	uint8_t svc;
	struct epath path;
	bool path_ok;
	struct rd data;
};

static bool read_request(struct rd *m, struct cip_req *q)
{
	q->svc = rd_u8(m) & 0x7f;
	uint8_t words = rd_u8(m);
	struct rd p = rd_sub(m, (size_t)words * 2);
	if (!rd_ok(m))
		return false;
	q->path_ok = parse_epath(&p, &q->path);
	q->data = *m;
	return true;
}

/* An embedded request (inside Unconnected Send or Multiple Service Packet): facts only. */
static void embedded_request(struct dctx *ctx, struct en_state *s, struct rd m, struct cip_req *out)
{
	struct cip_req q;
	if (!read_request(&m, &q)) {
		dctx_violation(ctx, "enip: truncated embedded CIP request");
		return;
	}
	if (!q.path_ok)
		dctx_violation(ctx, "enip: malformed EPATH in embedded CIP request");
	op_fact(ctx, q.svc, q.path.has_cls ? q.path.cls : NO_CLASS, &q.path, false, -1);
	request_events(ctx, s, q.svc, &q.path);
	if (out)
		*out = q;
}


static void multiple_service_request(struct dctx *ctx, struct en_state *s, struct rd data)
{
	size_t total = rd_left(&data);
	struct rd hdr = data;
	uint16_t n = rd_le16(&hdr);
	if (!rd_ok(&hdr) || (size_t)n * 2 + 2 > total) {
		dctx_violation(ctx, "enip: multiple service packet count %u does not fit its %zu bytes", n, total);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rd o = data;
		rd_skip(&o, 2 + (size_t)i * 2);
		size_t start = rd_le16(&o);
		size_t end = i + 1 < n ? rd_le16(&o) : total;
		if (start < (size_t)n * 2 + 2 || end < start || end > total) {
			dctx_violation(ctx, "enip: multiple service packet offset %zu out of range", start);
			continue;
		}
		struct rd m = data;
		rd_skip(&m, start);
		embedded_request(ctx, s, rd_sub(&m, end - start), NULL);
	}
}

static bool unconnected_send(struct dctx *ctx, struct en_state *s, struct rd data, struct cip_req *inner)
{
	rd_skip(&data, 2); /* priority/tick time, timeout ticks */
	uint16_t size = rd_le16(&data);
	struct rd msg = rd_sub(&data, size);
	if (!rd_ok(&data)) {
		dctx_violation(ctx, "enip: unconnected send message size %u runs past the request", size);
		return false;
	}
	if (size & 1)
		rd_skip(&data, 1);
	uint8_t words = rd_u8(&data);
	rd_skip(&data, 1);
	if (!rd_skip(&data, (size_t)words * 2))
		dctx_violation(ctx, "enip: unconnected send route path runs past the request");
	inner->svc = 0xff;
	embedded_request(ctx, s, msg, inner);
	return inner->svc != 0xff;
}

/* Forward Open request: the first class of the connection path (0xffff if none). */
static uint16_t forward_open_class(struct dctx *ctx, struct rd data, bool large)
{
	rd_skip(&data, 2 + 4 + 4 + 2 + 2 + 4 + 1 + 3);
	rd_skip(&data, large ? 4 + 4 + 4 + 4 : 4 + 2 + 4 + 2);
	rd_skip(&data, 1); /* transport type/trigger */
	uint8_t words = rd_u8(&data);
	struct rd p = rd_sub(&data, (size_t)words * 2);
	struct epath e;
	if (!rd_ok(&data)) {
		dctx_violation(ctx, "enip: truncated forward open request");
		return 0xffff;
	}
	if (!parse_epath(&p, &e))
		dctx_violation(ctx, "enip: malformed forward open connection path");
	return e.has_cls && e.cls < 0xffff ? (uint16_t)e.cls : 0xffff;
}

/* One CIP message (the data item of SendRRData/SendUnitData). Fills the record's service
 * and class; `key` pairs requests and responses; `conn` is the Forward Open connection
 * this message travels on, or -1. */
static int cip_message(struct dctx *ctx, struct en_state *s, struct rd m, uint64_t key, int conn)
{
	int b = rd_peek(&m, 0);
	if (b < 0) {
		dctx_violation(ctx, "enip: empty CIP message");
		return -1;
	}
	uint32_t conn_cls = conn >= 0 && s->conns[conn].cls != 0xffff ? s->conns[conn].cls : NO_CLASS;
	uint32_t rec_cls = NO_CLASS;
	int rc = 0;
	if (!(b & 0x80)) {
		struct cip_req q;
		if (!read_request(&m, &q)) {
			pdu_u(ctx, "service", (uint8_t)b & 0x7f);
			dctx_violation(ctx, "enip: CIP request path runs past the message");
			return -1;
		}
		if (!q.path_ok)
			dctx_violation(ctx, "enip: malformed EPATH in CIP request (service 0x%02x)", q.svc);
		uint32_t cls = q.path.has_cls ? q.path.cls : NO_CLASS;
		rec_cls = cls;
		pdu_u(ctx, "service", q.svc);
		const char *n = service_name(q.svc, cls);
		if (n)
			pdu_s(ctx, "service_name", n);
		if (q.path.has_inst)
			pdu_u(ctx, "instance", q.path.inst);
		if (q.path.has_attr)
			pdu_u(ctx, "attribute", q.path.attr);
		struct en_req *p = remember(s, key);
		p->cls = cls;
		p->svc = q.svc;
		p->eff_svc = q.svc;
		p->eff_cls = cls < 0xffff ? (uint16_t)cls : 0xffff;
		p->conn_cls = 0xffff;
		if (cls == 6 && q.svc == 0x52) {
			struct cip_req inner;
			if (unconnected_send(ctx, s, q.data, &inner)) {
				p->eff_svc = inner.svc;
				p->eff_cls = inner.path.has_cls && inner.path.cls < 0xffff ? (uint16_t)inner.path.cls : 0xffff;
				pdu_u(ctx, "embedded_service", inner.svc);
				if (inner.path.has_cls)
					pdu_u(ctx, "embedded_class", inner.path.cls);
			}
		} else if (q.svc == 0x0a && cls == 2) {
			multiple_service_request(ctx, s, q.data);
		} else {
			if (cls == 6 && (q.svc == 0x54 || q.svc == 0x5b))
				p->conn_cls = forward_open_class(ctx, q.data, q.svc == 0x5b);
			op_fact(ctx, q.svc, cls, &q.path, false, -1);
			request_events(ctx, s, q.svc, &q.path);
		}
	} else {
		uint8_t svc = rd_u8(&m) & 0x7f;
		rd_skip(&m, 1);
		uint8_t status = rd_u8(&m);
		uint8_t ext = rd_u8(&m);
		rd_skip(&m, (size_t)ext * 2);
		pdu_u(ctx, "service", svc);
		if (!rd_ok(&m)) {
			dctx_violation(ctx, "enip: truncated CIP response header");
			rc = -1;
		}
		pdu_u(ctx, "status", status);
		struct en_req *q = match(s, key);
		if (q) {
			rec_cls = q->cls;
			const char *n = service_name(svc, q->cls);
			if (n)
				pdu_s(ctx, "service_name", n);
		}
		if (rc == 0 && status != 0 && status != 6) /* 6: partial data, more to come */
			op_fact(ctx, q ? q->eff_svc : svc, q && q->eff_cls != 0xffff ? q->eff_cls : NO_CLASS, NULL, true, status);
		if (rc == 0 && q && status == 0) {
			if (q->eff_svc == 0x01 && q->eff_cls == 1 && svc == 0x01)
				identity_attrs(ctx, &m, SUBJ_SRC);
			if (q->cls == 6 && (q->svc == 0x54 || q->svc == 0x5b) && svc == q->svc) {
				uint32_t o2t = rd_le32(&m), t2o = rd_le32(&m);
				if (rd_ok(&m))
					add_conn(s, o2t, t2o, q->conn_cls);
				else
					dctx_violation(ctx, "enip: truncated forward open response");
			}
		}
		if (q)
			q->used = 0;
	}
	if (conn_cls != NO_CLASS)
		pdu_u(ctx, "conn_class", conn_cls);
	if (rec_cls == NO_CLASS) /* a connected message without a path of its own */
		rec_cls = conn_cls;
	if (rec_cls != NO_CLASS)
		pdu_u(ctx, "class", rec_cls);
	else
		pdu_null(ctx, "class");
	return rc;
}

/* ---------------------------------------------------------------- CPF and commands */

static bool read_cpf(struct dctx *ctx, struct rd *r, struct cpf *c)
{
	memset(c, 0, sizeof *c);
	uint16_t n = rd_le16(r);
	if (!rd_ok(r))
		return false;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t type = rd_le16(r);
		uint16_t len = rd_le16(r);
		struct rd item = rd_sub(r, len);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "enip: CPF item %u (type 0x%04x, %u bytes) runs past the message", i, type, len);
			return false;
		}
		switch (type) {
		case 0x00a1:
			c->conn_id = rd_le32(&item);
			c->has_conn = rd_ok(&item);
			break;
		case 0x8002:
			c->conn_id = rd_le32(&item);
			c->seq_addr = rd_le32(&item);
			c->has_conn = c->has_seq_addr = rd_ok(&item);
			break;
		case 0x00b1:
			c->connected = true;
			c->has_data = true;
			c->data = item;
			break;
		case 0x00b2:
			c->has_data = true;
			c->data = item;
			break;
		default:
			break;
		}
	}
	return true;
}

static void list_identity_response(struct dctx *ctx, struct rd *r)
{
	uint16_t n = rd_le16(r);
	for (uint16_t i = 0; i < n && rd_ok(r); i++) {
		uint16_t type = rd_le16(r);
		uint16_t len = rd_le16(r);
		struct rd item = rd_sub(r, len);
		if (!rd_ok(r))
			break;
		if (type == 0x000c) {
			rd_skip(&item, 2 + 16); /* encapsulation version, socket address */
			identity_attrs(ctx, &item, SUBJ_SRC);
		} else if (type == 0x0086) {
			/* CIP security information: nothing to learn */
		}
	}
	if (!rd_ok(r))
		dctx_violation(ctx, "enip: truncated list identity response");
}

static void list_services_response(struct dctx *ctx, struct rd *r)
{
	uint16_t n = rd_le16(r);
	for (uint16_t i = 0; i < n && rd_ok(r); i++) {
		rd_skip(r, 2);
		uint16_t len = rd_le16(r);
		rd_skip(r, len);
	}
	if (!rd_ok(r))
		dctx_violation(ctx, "enip: truncated list services response");
}

/* Class 0/1 I/O datagram on UDP 2222: a CPF without encapsulation header. */
static int io_datagram(struct dctx *ctx, struct rd *r)
{
	struct cpf c;
	pdu_begin(ctx, "event");
	pdu_null(ctx, "command");
	pdu_null(ctx, "service");
	pdu_null(ctx, "class");
	bool ok = read_cpf(ctx, r, &c);
	if (ok && c.has_conn)
		pdu_u(ctx, "conn_id", c.conn_id);
	if (ok && c.has_seq_addr)
		pdu_u(ctx, "seq", c.seq_addr);
	pdu_end(ctx);
	if (!ok) {
		dctx_violation(ctx, "enip: malformed I/O datagram");
		return -1;
	}
	return 0;
}

static ssize_t enip_pdu_len(const uint8_t *data, size_t len)
{
	if (len < ENIP_HDR)
		return 0;
	struct rd r = rd_init(data, len);
	uint16_t cmd = rd_le16(&r);
	uint16_t l = rd_le16(&r);
	if (cmd > 0xff)
		return -1;
	return ENIP_HDR + (ssize_t)l;
}

static bool enip_probe(const uint8_t *data, size_t len, bool to_server)
{
	struct rd r = rd_init(data, len);
	uint16_t cmd = rd_le16(&r);
	uint16_t l = rd_le16(&r);
	rd_skip(&r, 4);
	uint32_t status = rd_le32(&r);
	rd_skip(&r, 8);
	uint32_t options = rd_le32(&r);
	if (!rd_ok(&r) || options != 0 || (size_t)l + ENIP_HDR != len || command_name(cmd) == NULL || cmd == 0)
		return false;
	if (to_server && status != 0)
		return false;
	if (cmd == 0x65) /* register session: protocol version 1, options 0 */
		return l == 4 && rd_le16(&r) == 1 && rd_le16(&r) == 0;
	if (cmd == 0x6f || cmd == 0x70) { /* interface handle 0, then a CPF of 1..4 items */
		uint32_t ifh = rd_le32(&r);
		rd_skip(&r, 2);
		uint16_t items = rd_le16(&r);
		return rd_ok(&r) && ifh == 0 && items >= 1 && items <= 4;
	}
	return cmd == 0x63 || cmd == 0x04 || cmd == 0x64 ? (to_server ? l == 0 : l >= 2) : l == 0;
}

static int enip_parse(struct dctx *ctx, struct rd *r)
{
	struct en_state *s = ctx->state;
	const struct packet *pkt = ctx->pkt;
	if (pkt->transport == TR_UDP && (pkt->sport == 2222 || pkt->dport == 2222) && pkt->sport != 44818 &&
	    pkt->dport != 44818)
		return io_datagram(ctx, r);

	uint16_t cmd = rd_le16(r);
	uint16_t len = rd_le16(r);
	uint32_t session = rd_le32(r);
	uint32_t status = rd_le32(r);
	uint64_t context = rd_le64(r);
	uint32_t options = rd_le32(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "enip: encapsulation header shorter than 24 bytes");
		return -1;
	}
	bool req = ctx->to_server;
	if (pkt->transport == TR_UDP && (pkt->sport == 44818) != (pkt->dport == 44818))
		req = pkt->dport == 44818;
	pdu_begin(ctx, req ? "request" : "response");
	pdu_u(ctx, "command", cmd);
	const char *cn = command_name(cmd);
	if (cn)
		pdu_s(ctx, "command_name", cn);
	pdu_u(ctx, "session", session);
	pdu_u(ctx, "enip_status", status);
	int rc = 0;
	if (len != rd_left(r)) {
		if (!ctx->truncated)
			dctx_violation(ctx, "enip: encapsulation length %u does not match the %zu bytes present", len,
				       rd_left(r));
		if (len < rd_left(r)) {
			struct rd body = rd_sub(r, len);
			*r = body;
		}
	}
	if (options != 0)
		dctx_violation(ctx, "enip: encapsulation options 0x%08x are not zero", options);
	if (!cn && (cmd == 0 || cmd > 3)) /* 0x0001..0x0003: legacy commands Rockwell tools still send */
		dctx_violation(ctx, "enip: unknown encapsulation command 0x%04x", cmd);

	switch (cmd) {
	case 0x0063:
		if (!req && status == 0 && len)
			list_identity_response(ctx, r);
		break;
	case 0x0004:
		if (!req && status == 0 && len)
			list_services_response(ctx, r);
		break;
	case 0x006f:
	case 0x0070: {
		if (status != 0 && len == 0)
			break;
		rd_skip(r, 4 + 2); /* interface handle, timeout */
		struct cpf c;
		if (!read_cpf(ctx, r, &c)) {
			if (!ctx->truncated)
				dctx_violation(ctx, "enip: truncated common packet format");
			rc = -1;
			break;
		}
		int conn = -1;
		uint64_t key = context;
		if (c.has_conn) {
			pdu_u(ctx, "conn_id", c.conn_id);
			conn = find_conn(s, c.conn_id, req);
		}
		if (c.connected && c.has_data) {
			uint16_t seq = rd_le16(&c.data);
			pdu_u(ctx, "seq", seq);
			key = 1ull << 63 | (uint64_t)(conn >= 0 ? conn : CONN_NONE) << 16 | seq;
		}
		if (c.has_data && rd_ok(&c.data) && !rd_empty(&c.data)) {
			rc = cip_message(ctx, s, c.data, key, conn);
		} else if (c.has_data && !rd_ok(&c.data)) {
			dctx_violation(ctx, "enip: connected data item without a sequence count");
			rc = -1;
		}
		break;
	}
	default:
		break;
	}
	pdu_end(ctx);
	return rc;
}

static const uint16_t enip_ports[] = { 44818, 2222, 0 };

const struct dissector enip_dissector = {
	.name = "enip",
	.transports = DT_TCP | DT_UDP,
	.ports = enip_ports,
	.probe = enip_probe,
	.pdu_len = enip_pdu_len,
	.parse = enip_parse,
};
