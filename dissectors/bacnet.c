/*
 * bacnet.c - BACnet/IP (UDP 47808): BVLC, NPDU (including network layer messages) and
 * the APDU header of every PDU type, with the services that say who a device is and
 * what is done to it.
 *
 * Emits: one pdu record per datagram (`bvlc_func`, `apdu_type`, `service` as tshark's
 * bvlc.function, bacapp.type and bacapp.confirmed_service/unconfirmed_service; null when
 * the datagram has no APDU or the APDU type carries no service); identity facts from
 * I-Am (device instance, max APDU, segmentation, vendor) and from ReadProperty(Multiple)
 * acknowledgements of device object properties (vendor-name, model-name,
 * firmware-revision, application-software-version, object-name); an operation fact per
 * request (service, object type, object instance, write or not) and per Error/Reject/
 * Abort; events for ReinitializeDevice, DeviceCommunicationControl, AtomicWriteFile and
 * time synchronisation; violations for malformed BVLC/NPDU/APDU and tags.
 *
 * Must never: read a byte except through struct rd, trust a tag length before checking
 * it against the bytes present, or nest deeper than BN_MAX_DEPTH constructed tags.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define BN_MAX_DEPTH 16

/* one BACnet tag header */
struct tag {
	uint32_t num;
	bool ctx;               /* context specific (else application) */
	bool open, close;
	uint32_t len;           /* content length (for application booleans: 0, value in lvt) */
	uint8_t lvt;
};

static bool read_tag(struct rd *r, struct tag *t)
{
	uint8_t b = rd_u8(r);
	memset(t, 0, sizeof *t);
	t->num = b >> 4;
	t->ctx = (b & 0x08) != 0;
	t->lvt = b & 0x07;
	if (t->num == 15)
		t->num = rd_u8(r);
	if (t->ctx && t->lvt == 6) {
		t->open = true;
	} else if (t->ctx && t->lvt == 7) {
		t->close = true;
	} else if (!t->ctx && t->num == 1) {
		t->len = 0; /* application boolean: the value is in lvt */
	} else if (t->lvt == 5) {
		uint8_t n = rd_u8(r);
		if (n == 254)
			t->len = rd_be16(r);
		else if (n == 255)
			t->len = rd_be32(r);
		else
			t->len = n;
	} else {
		t->len = t->lvt;
	}
	return rd_ok(r);
}

static uint32_t read_uint(struct rd *r, uint32_t len)
{
	uint32_t v = 0;
	if (len > 4) {
		rd_skip(r, len);
		return 0;
	}
	for (uint32_t i = 0; i < len; i++)
		v = v << 8 | rd_u8(r);
	return v;
}

/* Skips tags up to and including the closing tag that matches an opening tag already read. */
static bool skip_constructed(struct rd *r)
{
	int depth = 1;
	while (depth > 0 && rd_ok(r) && !rd_empty(r)) {
		struct tag t;
		if (!read_tag(r, &t))
			return false;
		if (t.open) {
			if (++depth > BN_MAX_DEPTH)
				return false;
		} else if (t.close) {
			depth--;
		} else {
			rd_skip(r, t.len);
		}
	}
	return depth == 0 && rd_ok(r);
}

static const char *confirmed_name(uint8_t s)
{
	static const char *const n[] = {
		"acknowledge_alarm", "confirmed_cov_notification", "confirmed_event_notification",
		"get_alarm_summary", "get_enrollment_summary", "subscribe_cov", "atomic_read_file",
		"atomic_write_file", "add_list_element", "remove_list_element", "create_object",
		"delete_object", "read_property", "read_property_conditional", "read_property_multiple",
		"write_property", "write_property_multiple", "device_communication_control",
		"confirmed_private_transfer", "confirmed_text_message", "reinitialize_device", "vt_open",
		"vt_close", "vt_data", "authenticate", "request_key", "read_range", "life_safety_operation",
		"subscribe_cov_property", "get_event_information", "subscribe_cov_property_multiple",
		"confirmed_cov_notification_multiple", "confirmed_audit_notification", "audit_log_query",
	};
	return s < sizeof n / sizeof n[0] ? n[s] : NULL;
}

static const char *unconfirmed_name(uint8_t s)
{
	static const char *const n[] = {
		"i_am", "i_have", "unconfirmed_cov_notification", "unconfirmed_event_notification",
		"unconfirmed_private_transfer", "unconfirmed_text_message", "time_synchronization",
		"who_has", "who_is", "utc_time_synchronization", "write_group",
		"unconfirmed_cov_notification_multiple", "unconfirmed_audit_notification", "who_am_i",
		"you_are",
	};
	return s < sizeof n / sizeof n[0] ? n[s] : NULL;
}

static bool confirmed_is_write(uint8_t s)
{
	switch (s) {
	case 7: case 8: case 9: case 10: case 11: case 15: case 16: case 17: case 20:
		return true;
	default:
		return false;
	}
}

/* BACnet vendor identifiers of the best-known vendors (ASHRAE registry) */
static const char *vendor_name(uint32_t v)
{
	switch (v) {
	case 0: return "ASHRAE";
	case 2: return "Trane";
	case 5: return "Johnson Controls";
	case 7: return "Siemens";
	case 8: return "Delta Controls";
	case 10: return "Schneider Electric";
	case 17: return "Honeywell";
	case 24: return "Automated Logic";
	case 35: return "Reliable Controls";
	case 36: return "Tridium";
	case 260: return "BACnet Stack at SourceForge";
	default: return NULL;
	}
}

static void op_fact(struct dctx *ctx, uint8_t svc, bool confirmed, bool has_obj, uint32_t objid, bool resp,
		    int err)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = confirmed ? svc : 0x100u | svc; /* unconfirmed services live above 0xff */
	const char *n = confirmed ? confirmed_name(svc) : unconfirmed_name(svc);
	fact_str(f.u.op.name, sizeof f.u.op.name, n ? n : "unknown");
	f.u.op.is_write = confirmed && confirmed_is_write(svc);
	f.u.op.is_response = resp;
	if (has_obj) {
		f.u.op.object = objid >> 22;
		f.u.op.has_range = true;
		f.u.op.addr_lo = f.u.op.addr_hi = objid & 0x3fffff;
	}
	if (err >= 0) {
		f.u.op.exception = true;
		f.u.op.exc_code = (uint8_t)err;
	}
	dctx_emit(ctx, &f);
}

/* The object identifier in context tag 0 that starts most object-addressed services. */
static bool leading_object(struct rd r, uint32_t *objid)
{
	struct tag t;
	if (!read_tag(&r, &t) || !t.ctx || t.num != 0 || t.len != 4)
		return false;
	*objid = rd_be32(&r);
	return rd_ok(&r);
}

static void i_am(struct dctx *ctx, struct rd *r)
{
	struct tag t;
	uint32_t obj = 0, maxapdu = 0, seg = 0, vendor = 0;
	bool ok = read_tag(r, &t) && !t.ctx && t.num == 12 && t.len == 4;
	obj = rd_be32(r);
	ok = ok && read_tag(r, &t) && !t.ctx && t.num == 2;
	maxapdu = read_uint(r, t.len);
	ok = ok && read_tag(r, &t) && !t.ctx && t.num == 9;
	seg = read_uint(r, t.len);
	ok = ok && read_tag(r, &t) && !t.ctx && t.num == 2;
	vendor = read_uint(r, t.len);
	if (!ok || !rd_ok(r)) {
		dctx_violation(ctx, "bacnet: malformed I-Am");
		return;
	}
	static const char *const segs[] = { "both", "transmit", "receive", "none" };
	dctx_identity(ctx, SUBJ_SRC, "device_instance", "%u", obj & 0x3fffff);
	dctx_identity(ctx, SUBJ_SRC, "max_apdu", "%u", maxapdu);
	dctx_identity(ctx, SUBJ_SRC, "segmentation", "%s", seg < 4 ? segs[seg] : "unknown");
	dctx_identity(ctx, SUBJ_SRC, "vendor_id", "%u", vendor);
	const char *vn = vendor_name(vendor);
	if (vn)
		dctx_identity(ctx, SUBJ_SRC, "vendor", "%s", vn);
}

/* A device object property value (between opening and closing tags, already opened):
 * character strings of the identity properties become identity facts of the sender. */
static void device_property(struct dctx *ctx, struct rd *r, uint32_t prop)
{
	const char *key = NULL;
	switch (prop) {
	case 121: key = "vendor"; break;
	case 70: key = "model"; break;
	case 44: key = "firmware"; break;
	case 12: key = "software"; break;
	case 77: key = "name"; break;
	case 28: key = "description"; break;
	case 58: key = "location"; break;
	default: break;
	}
	struct rd peek = *r;
	struct tag t;
	if (prop == 120 && read_tag(&peek, &t) && !t.ctx && t.num == 2) { /* vendor-identifier */
		uint32_t v = read_uint(&peek, t.len);
		if (rd_ok(&peek)) {
			dctx_identity(ctx, SUBJ_SRC, "vendor_id", "%u", v);
		}
		return;
	}
	if (!key || !read_tag(&peek, &t) || t.ctx || t.num != 7 || t.len < 1 || t.len > rd_left(&peek))
		return;
	uint8_t enc = rd_u8(&peek);
	char val[FACT_STR];
	size_t n = t.len - 1;
	if (enc == 0 || enc == 5) { /* UTF-8 (ASCII shown), ISO 8859-1 */
		if (!rd_text(&peek, n, val, sizeof val))
			return;
	} else if (enc == 4) { /* UCS-2, big endian: keep the Latin-1 subset */
		size_t k = 0;
		for (size_t i = 0; i + 2 <= n && k + 1 < sizeof val; i += 2) {
			uint8_t hi = rd_u8(&peek), lo = rd_u8(&peek);
			val[k++] = (hi == 0 && lo >= 0x20 && lo < 0x7f) ? (char)lo : '.';
		}
		while (k > 0 && (val[k - 1] == ' ' || val[k - 1] == '.'))
			k--;
		val[k] = '\0';
	} else {
		return;
	}
	if (val[0])
		dctx_identity(ctx, SUBJ_SRC, key, "%s", val);
}

static bool read_property_ack(struct dctx *ctx, struct rd *r)
{
	struct tag t;
	uint32_t obj = 0, prop = 0;
	if (!read_tag(r, &t) || !t.ctx || t.num != 0 || t.len != 4)
		return false;
	obj = rd_be32(r);
	if (!read_tag(r, &t) || !t.ctx || t.num != 1)
		return false;
	prop = read_uint(r, t.len);
	if (!read_tag(r, &t))
		return false;
	if (t.ctx && t.num == 2) { /* array index */
		rd_skip(r, t.len);
		if (!read_tag(r, &t))
			return false;
	}
	if (!t.open || t.num != 3)
		return false;
	if (obj >> 22 == 8)
		device_property(ctx, r, prop);
	return skip_constructed(r);
}

static bool read_property_multiple_ack(struct dctx *ctx, struct rd *r)
{
	while (rd_ok(r) && !rd_empty(r)) {
		struct tag t;
		if (!read_tag(r, &t) || !t.ctx || t.num != 0 || t.len != 4)
			return false;
		uint32_t obj = rd_be32(r);
		if (!read_tag(r, &t) || !t.open || t.num != 1)
			return false;
		uint32_t prop = 0;
		for (;;) {
			if (!read_tag(r, &t))
				return false;
			if (t.close && t.num == 1)
				break;
			if (t.ctx && t.num == 2 && !t.open && !t.close) {
				prop = read_uint(r, t.len);
			} else if (t.ctx && t.num == 3 && !t.open && !t.close) {
				rd_skip(r, t.len);
			} else if (t.open && (t.num == 4 || t.num == 5)) {
				if (t.num == 4 && obj >> 22 == 8)
					device_property(ctx, r, prop);
				if (!skip_constructed(r))
					return false;
			} else {
				return false;
			}
		}
	}
	return rd_ok(r);
}

static void confirmed_request_events(struct dctx *ctx, uint8_t svc, struct rd body)
{
	enum fact_subject dst = SUBJ_DST;
	switch (svc) {
	case 20: { /* ReinitializeDevice: context 0 reinitialized-state */
		struct tag t;
		uint32_t state = 0;
		if (read_tag(&body, &t) && t.ctx && t.num == 0)
			state = read_uint(&body, t.len);
		static const char *const st[] = { "coldstart", "warmstart", "start_backup", "end_backup",
						  "start_restore", "end_restore", "abort_restore", "activate_changes" };
		dctx_event(ctx, EV_DEVICE_RESTART, dst, "BACnet ReinitializeDevice %s",
			   state < 8 ? st[state] : "unknown");
		break;
	}
	case 17: { /* DeviceCommunicationControl: optional context 0 duration, context 1 enable-disable */
		struct tag t;
		uint32_t en = 0;
		if (read_tag(&body, &t) && t.ctx && t.num == 0) {
			rd_skip(&body, t.len);
			read_tag(&body, &t);
		}
		if (rd_ok(&body) && t.ctx && t.num == 1)
			en = read_uint(&body, t.len);
		static const char *const e[] = { "enable", "disable", "disable_initiation" };
		dctx_event(ctx, EV_CONFIG_CHANGE, dst, "BACnet DeviceCommunicationControl %s", en < 3 ? e[en] : "unknown");
		break;
	}
	case 7:
		dctx_event(ctx, EV_FILE_TRANSFER, dst, "BACnet AtomicWriteFile");
		break;
	default:
		break;
	}
}

static int parse_apdu(struct dctx *ctx, struct rd *r)
{
	uint8_t b0 = rd_u8(r);
	uint8_t type = b0 >> 4;
	if (!rd_ok(r)) {
		dctx_violation(ctx, "bacnet: empty APDU");
		pdu_null(ctx, "apdu_type");
		pdu_null(ctx, "service");
		return -1;
	}
	pdu_u(ctx, "apdu_type", type);
	int svc = -1;
	bool confirmed = true;
	switch (type) {
	case 0: /* confirmed request */
		rd_skip(r, 1); /* max segments / max APDU */
		pdu_u(ctx, "invoke_id", rd_u8(r));
		if (b0 & 0x08)
			rd_skip(r, 2); /* sequence number, proposed window */
		svc = rd_u8(r);
		break;
	case 1:
		confirmed = false;
		svc = rd_u8(r);
		break;
	case 2: case 5:
		pdu_u(ctx, "invoke_id", rd_u8(r));
		svc = rd_u8(r);
		break;
	case 3:
		pdu_u(ctx, "invoke_id", rd_u8(r));
		if (b0 & 0x08)
			rd_skip(r, 2);
		svc = rd_u8(r);
		break;
	case 4: /* segment ack: invoke id, sequence number, window */
		pdu_u(ctx, "invoke_id", rd_u8(r));
		rd_skip(r, 2);
		break;
	case 6: case 7: { /* reject, abort: invoke id, reason */
		pdu_u(ctx, "invoke_id", rd_u8(r));
		uint8_t reason = rd_u8(r);
		if (rd_ok(r)) {
			pdu_u(ctx, "reason", reason);
			op_fact(ctx, 0, true, false, 0, true, reason);
		}
		break;
	}
	default:
		dctx_violation(ctx, "bacnet: APDU type %u is not defined", type);
		break;
	}
	if (!rd_ok(r)) {
		pdu_null(ctx, "service");
		dctx_violation(ctx, "bacnet: truncated APDU header (type %u)", type);
		return -1;
	}
	if (svc < 0) {
		pdu_null(ctx, "service");
		return 0;
	}
	pdu_u(ctx, "service", (uint8_t)svc);
	const char *n = confirmed ? confirmed_name((uint8_t)svc) : unconfirmed_name((uint8_t)svc);
	if (n)
		pdu_s(ctx, "service_name", n);
	uint32_t obj = 0;
	bool segmented_more = (type == 0 || type == 3) && (b0 & 0x08);
	switch (type) {
	case 0: {
		bool has_obj = !segmented_more && leading_object(*r, &obj);
		op_fact(ctx, (uint8_t)svc, true, has_obj, obj, false, -1);
		confirmed_request_events(ctx, (uint8_t)svc, *r);
		break;
	}
	case 1: {
		bool has_obj = svc != 0 && leading_object(*r, &obj);
		op_fact(ctx, (uint8_t)svc, false, has_obj, obj, false, -1);
		if (svc == 0)
			i_am(ctx, r);
		else if (svc == 6 || svc == 9)
			dctx_event(ctx, EV_TIME_SET, SUBJ_DST, "BACnet %s", unconfirmed_name((uint8_t)svc));
		break;
	}
	case 3:
		if (segmented_more)
			break; /* only a whole acknowledgement is parsed */
		if (svc == 12 && !read_property_ack(ctx, r))
			dctx_violation(ctx, "bacnet: malformed ReadProperty acknowledgement");
		else if (svc == 14 && !read_property_multiple_ack(ctx, r))
			dctx_violation(ctx, "bacnet: malformed ReadPropertyMultiple acknowledgement");
		break;
	case 5: {
		/* error class and code, as application enumerations (possibly inside context tags) */
		struct tag t;
		uint32_t cls = 0;
		if (read_tag(r, &t) && t.open)
			read_tag(r, &t);
		if (rd_ok(r) && !t.ctx && t.num == 9)
			cls = read_uint(r, t.len);
		op_fact(ctx, (uint8_t)svc, true, false, 0, true, (int)(cls & 0xff));
		break;
	}
	default:
		break;
	}
	return 0;
}

/* NPDU: returns 1 if an APDU follows, 0 for a network layer message, -1 if malformed. */
static int parse_npdu(struct dctx *ctx, struct rd *r)
{
	uint8_t ver = rd_u8(r);
	uint8_t ctl = rd_u8(r);
	if (!rd_ok(r) || ver != 1) {
		dctx_violation(ctx, "bacnet: NPDU version %u is not 1", ver);
		return -1;
	}
	pdu_u(ctx, "npdu_control", ctl);
	if (ctl & 0x20) {
		pdu_u(ctx, "dnet", rd_be16(r));
		uint8_t dlen = rd_u8(r);
		rd_skip(r, dlen);
	}
	if (ctl & 0x08) {
		pdu_u(ctx, "snet", rd_be16(r));
		uint8_t slen = rd_u8(r);
		if (rd_ok(r) && slen == 0)
			dctx_violation(ctx, "bacnet: NPDU source address length 0");
		rd_skip(r, slen);
	}
	if (ctl & 0x20)
		rd_skip(r, 1); /* hop count */
	if (ctl & 0x80) {
		uint8_t mt = rd_u8(r);
		if (mt >= 0x80)
			rd_skip(r, 2); /* vendor id */
		if (rd_ok(r))
			pdu_u(ctx, "network_msg", mt);
	}
	if (!rd_ok(r)) {
		dctx_violation(ctx, "bacnet: truncated NPDU header");
		return -1;
	}
	return (ctl & 0x80) ? 0 : 1;
}

static bool bacnet_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	uint8_t type = rd_u8(&r);
	uint8_t func = rd_u8(&r);
	uint16_t blen = rd_be16(&r);
	if (!rd_ok(&r) || type != 0x81 || func > 0x0b || blen != len)
		return false;
	if (func == 0x04)
		rd_skip(&r, 6);
	if (func == 0x04 || func == 0x09 || func == 0x0a || func == 0x0b) {
		uint8_t ver = rd_u8(&r);
		uint8_t ctl = rd_u8(&r);
		return rd_ok(&r) && ver == 1 && (ctl & 0x50) == 0;
	}
	return true;
}

static int bacnet_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t type = rd_u8(r);
	uint8_t func = rd_u8(r);
	uint16_t blen = rd_be16(r);
	bool req = func != 0x00 && func != 0x03 && func != 0x07;
	pdu_begin(ctx, req ? "request" : "response");
	if (!rd_ok(r) || type != 0x81) {
		pdu_null(ctx, "bvlc_func");
		pdu_null(ctx, "apdu_type");
		pdu_null(ctx, "service");
		pdu_end(ctx);
		dctx_violation(ctx, "bacnet: BVLC header is not BACnet/IP (type 0x%02x)", type);
		return -1;
	}
	pdu_u(ctx, "bvlc_func", func);
	if ((size_t)blen != rd_left(r) + 4)
		dctx_violation(ctx, "bacnet: BVLC length %u does not match the %zu bytes present", blen, rd_left(r) + 4);
	int rc = 0;
	bool apdu = false;
	switch (func) {
	case 0x00:
		if (rd_ok(r))
			pdu_u(ctx, "result", rd_be16(r));
		break;
	case 0x04: {
		uint8_t ip[4];
		rd_copy(r, ip, 4);
		rd_skip(r, 2);
		if (rd_ok(r)) {
			char a[16];
			snprintf(a, sizeof a, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
			pdu_s(ctx, "forwarded_from", a);
		}
		apdu = true;
		break;
	}
	case 0x09: case 0x0a: case 0x0b:
		apdu = true;
		break;
	case 0x01: case 0x02: case 0x03: case 0x05: case 0x06: case 0x07: case 0x08: case 0x0c:
		break;
	default:
		dctx_violation(ctx, "bacnet: BVLC function 0x%02x is not defined", func);
		break;
	}
	if (apdu) {
		int n = parse_npdu(ctx, r);
		if (n == 1)
			rc = parse_apdu(ctx, r);
		else if (n < 0)
			rc = -1;
	}
	if (!rd_ok(r)) {
		dctx_violation(ctx, "bacnet: truncated BVLC message (function 0x%02x)", func);
		rc = -1;
	}
	pdu_end(ctx);
	return rc;
}

static const uint16_t bacnet_ports[] = { 47808, 0 };

const struct dissector bacnet_dissector = {
	.name = "bacnet",
	.transports = DT_UDP,
	.ports = bacnet_ports,
	.probe = bacnet_probe,
	.parse = bacnet_parse,
};
