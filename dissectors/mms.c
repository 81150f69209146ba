/*
 * mms.c - MMS (ISO 9506, the client/server part of IEC 61850) over the ISO stack:
 * ISO 8327 session SPDU -> ISO 8823 presentation PPDU (BER) -> ACSE (association) ->
 * MMS PDU (BER), or a bare MMS PDU straight on COTP as some test tools send it. cotp.c
 * calls the entry points (iso.h); this is not a registry entry of its own.
 *
 * Emits: a pdu record "mms" per MMS PDU (pdu type, invoke id, service = the
 * ConfirmedServiceRequest/Response choice number as tshark's mms.confirmedServiceRequest
 * shows it, null for PDUs without one); operation facts for confirmed requests (write
 * and other state-changing services marked is_write, first variable name in the record);
 * identity facts from the identify response (vendor, model, firmware); events: program
 * invocation start/resume -> plc_start, stop/kill -> plc_stop, reset -> device_restart,
 * file services -> file_transfer, domain download/upload -> program_download/upload,
 * domain/program invocation create/delete -> config_change; violations for malformed BER.
 *
 * BER is read by a small bounded reader built on struct rd: tags up to 4 continuation
 * bytes, definite lengths up to 4 bytes (indefinite lengths are rejected as violations),
 * every descent bounded by MMS_MAX_DEPTH and every sibling loop by the bytes present.
 *
 * Must never: read a byte except through struct rd, recurse without a depth limit, or
 * report a service number the PDU did not carry.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "iso.h"
#include "textfmt.h"

#define MMS_MAX_DEPTH 8

enum { BER_UNIV = 0, BER_APP = 1, BER_CTX = 2, BER_PRIV = 3 };

struct ber {
	uint8_t cls;
	bool cons;
	uint32_t tag;
	struct rd val;
};

enum { BER_OK = 0, BER_SHORT = -1, BER_INDEF = -2, BER_BADTAG = -3 };

/* Reads one TLV; the parent moves past it. */
static int ber_next(struct rd *r, struct ber *e)
{
	uint8_t id = rd_u8(r);
	if (!rd_ok(r))
		return BER_SHORT;
	e->cls = id >> 6;
	e->cons = (id & 0x20) != 0;
	e->tag = id & 0x1f;
	if (e->tag == 0x1f) {
		uint32_t t = 0;
		int i;
		for (i = 0; i < 4; i++) {
			uint8_t b = rd_u8(r);
			t = t << 7 | (b & 0x7f);
			if (!(b & 0x80))
				break;
		}
		if (!rd_ok(r))
			return BER_SHORT;
		if (i == 4)
			return BER_BADTAG;
		e->tag = t;
	}
	uint8_t l = rd_u8(r);
	size_t len = l;
	if (!rd_ok(r))
		return BER_SHORT;
	if (l == 0x80)
		return BER_INDEF;
	if (l > 0x80) {
		unsigned n = l & 0x7f;
		if (n > 4)
			return BER_BADTAG;
		len = 0;
		for (unsigned i = 0; i < n; i++)
			len = len << 8 | rd_u8(r);
		if (!rd_ok(r))
			return BER_SHORT;
	}
	e->val = rd_sub(r, len);
	return rd_ok(r) ? BER_OK : BER_SHORT;
}

/* The longest prefix of a fragmented head cannot hold a complete outer TLV; this descends
 * into the element that runs off the end instead of giving up. */
static bool ber_next_lenient(struct rd *r, struct ber *e, bool partial)
{
	struct rd save = *r;
	if (ber_next(r, e) == BER_OK)
		return true;
	if (!partial)
		return false;
	/* re-read the header only; take what is left as the value */
	*r = save;
	uint8_t id = rd_u8(r);
	e->cls = id >> 6;
	e->cons = (id & 0x20) != 0;
	e->tag = id & 0x1f;
	if (e->tag == 0x1f)
		return false;
	uint8_t l = rd_u8(r);
	if (l > 0x80)
		rd_skip(r, l & 0x7f);
	if (!rd_ok(r) || l == 0x80)
		return false;
	e->val = *r;
	r->p = r->end;
	return true;
}

static bool ber_get(struct rd *r, struct ber *e, bool partial)
{
	return partial ? ber_next_lenient(r, e, true) : ber_next(r, e) == BER_OK;
}

/* The first child of `r` with this class/tag (siblings only, no descent). */
static bool ber_find(struct rd r, uint8_t cls, uint32_t tag, struct ber *out)
{
	while (!rd_empty(&r)) {
		if (ber_next(&r, out) != BER_OK)
			return false;
		if (out->cls == cls && out->tag == tag)
			return true;
	}
	return false;
}

static uint32_t ber_uint(struct rd v)
{
	uint32_t x = 0;
	for (int i = 0; i < 5 && !rd_empty(&v); i++)
		x = x << 8 | rd_u8(&v);
	return x;
}

static const char *service_name(uint32_t s)
{
	static const char *const names[] = {
		[0] = "status", [1] = "getNameList", [2] = "identify", [3] = "rename", [4] = "read",
		[5] = "write", [6] = "getVariableAccessAttributes", [7] = "defineNamedVariable",
		[8] = "defineScatteredAccess", [9] = "getScatteredAccessAttributes",
		[10] = "deleteVariableAccess", [11] = "defineNamedVariableList",
		[12] = "getNamedVariableListAttributes", [13] = "deleteNamedVariableList",
		[14] = "defineNamedType", [15] = "getNamedTypeAttributes", [16] = "deleteNamedType",
		[17] = "input", [18] = "output", [19] = "takeControl", [20] = "relinquishControl",
		[21] = "defineSemaphore", [22] = "deleteSemaphore", [23] = "reportSemaphoreStatus",
		[24] = "reportPoolSemaphoreStatus", [25] = "reportSemaphoreEntryStatus",
		[26] = "initiateDownloadSequence", [27] = "downloadSegment",
		[28] = "terminateDownloadSequence", [29] = "initiateUploadSequence",
		[30] = "uploadSegment", [31] = "terminateUploadSequence", [32] = "requestDomainDownload",
		[33] = "requestDomainUpload", [34] = "loadDomainContent", [35] = "storeDomainContent",
		[36] = "deleteDomain", [37] = "getDomainAttributes", [38] = "createProgramInvocation",
		[39] = "deleteProgramInvocation", [40] = "start", [41] = "stop", [42] = "resume",
		[43] = "reset", [44] = "kill", [45] = "getProgramInvocationAttributes",
		[46] = "obtainFile", [47] = "defineEventCondition", [48] = "deleteEventCondition",
		[49] = "getEventConditionAttributes", [50] = "reportEventConditionStatus",
		[51] = "alterEventConditionMonitoring", [52] = "triggerEvent",
		[53] = "defineEventAction", [54] = "deleteEventAction", [55] = "getEventActionAttributes",
		[56] = "reportEventActionStatus", [57] = "defineEventEnrollment",
		[58] = "deleteEventEnrollment", [59] = "alterEventEnrollment",
		[60] = "reportEventEnrollmentStatus", [61] = "getEventEnrollmentAttributes",
		[62] = "acknowledgeEventNotification", [63] = "getAlarmSummary",
		[64] = "getAlarmEnrollmentSummary", [65] = "readJournal", [66] = "writeJournal",
		[67] = "initializeJournal", [68] = "reportJournalStatus", [69] = "createJournal",
		[70] = "deleteJournal", [71] = "getCapabilityList", [72] = "fileOpen", [73] = "fileRead",
		[74] = "fileClose", [75] = "fileRename", [76] = "fileDelete", [77] = "fileDirectory",
	};
	return s < sizeof names / sizeof names[0] ? names[s] : NULL;
}

static const char *pdu_type_name(uint32_t t)
{
	static const char *const names[] = {
		"confirmed-RequestPDU", "confirmed-ResponsePDU", "confirmed-ErrorPDU", "unconfirmed-PDU",
		"rejectPDU", "cancel-RequestPDU", "cancel-ResponsePDU", "cancel-ErrorPDU",
		"initiate-RequestPDU", "initiate-ResponsePDU", "initiate-ErrorPDU", "conclude-RequestPDU",
		"conclude-ResponsePDU", "conclude-ErrorPDU",
	};
	return t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

static bool service_writes(uint32_t s)
{
	switch (s) {
	case 3: case 5: case 7: case 8: case 10: case 11: case 13: case 14: case 16: case 18:
	case 21: case 22: case 26: case 27: case 28: case 32: case 34: case 36: case 38: case 39:
	case 40: case 41: case 42: case 43: case 44: case 66: case 67: case 69: case 70: case 75: case 76:
		return true;
	default:
		return false;
	}
}

/* ObjectName CHOICE element -> "item" or "domain/item" */
static void object_name(const struct ber *on, char *out, size_t n)
{
	out[0] = '\0';
	if (on->cls != BER_CTX)
		return;
	struct rd v = on->val;
	if ((on->tag == 0 || on->tag == 2) && !on->cons) {
		rd_text(&v, rd_left(&v), out, n);
	} else if (on->tag == 1 && on->cons) {
		struct ber dom, item;
		char d[48] = "", i[64] = "";
		if (ber_next(&v, &dom) == BER_OK)
			rd_text(&dom.val, rd_left(&dom.val), d, sizeof d);
		if (ber_next(&v, &item) == BER_OK)
			rd_text(&item.val, rd_left(&item.val), i, sizeof i);
		struct tbuf b = tb_init(out, n);
		tb_str(&b, d);
		tb_ch(&b, '/');
		tb_str(&b, i);
	}
}

/* VariableAccessSpecification element -> first variable name and the variable count */
static void var_access(struct dctx *ctx, const struct ber *vas)
{
	char name[96] = "";
	unsigned count = 0;
	struct rd v = vas->val;
	if (vas->cls != BER_CTX)
		return;
	if (vas->tag == 0) { /* listOfVariable: SEQUENCE OF SEQUENCE { variableSpecification, ... } */
		struct ber item;
		while (!rd_empty(&v) && ber_next(&v, &item) == BER_OK) {
			if (count++ > 0)
				continue;
			struct ber spec, on;
			struct rd iv = item.val;
			if (ber_next(&iv, &spec) == BER_OK && spec.cls == BER_CTX && spec.tag == 0 && spec.cons &&
			    ber_next(&spec.val, &on) == BER_OK)
				object_name(&on, name, sizeof name);
		}
		pdu_u(ctx, "items", count);
	} else if (vas->tag == 1) { /* variableListName: ObjectName */
		struct ber on;
		if (ber_next(&v, &on) == BER_OK)
			object_name(&on, name, sizeof name);
		pdu_s(ctx, "list", "1");
	}
	if (name[0])
		pdu_s(ctx, "item", name);
}

static void service_event(struct dctx *ctx, uint32_t svc)
{
	enum fact_subject srv = SUBJ_DST; /* requests go to the server */
	const char *n = service_name(svc);
	switch (svc) {
	case 40: case 42: dctx_event(ctx, EV_PLC_START, srv, "MMS %s program invocation", n); break;
	case 41: case 44: dctx_event(ctx, EV_PLC_STOP, srv, "MMS %s program invocation", n); break;
	case 43: dctx_event(ctx, EV_DEVICE_RESTART, srv, "MMS reset program invocation"); break;
	case 46: case 72: case 73: case 75: case 76:
		dctx_event(ctx, EV_FILE_TRANSFER, srv, "MMS %s", n);
		break;
	case 26: case 32: case 34: dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "MMS %s", n); break;
	case 29: case 33: case 35: dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "MMS %s", n); break;
	case 36: case 38: case 39: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "MMS %s", n); break;
	default: break;
	}
}

static void identify_response(struct dctx *ctx, struct rd v)
{
	enum fact_subject srv = SUBJ_SRC; /* the server answers */
	struct ber e;
	while (!rd_empty(&v) && ber_next(&v, &e) == BER_OK) {
		if (e.cls != BER_CTX || e.cons)
			continue;
		char text[FACT_STR];
		if (!rd_text(&e.val, rd_left(&e.val), text, sizeof text))
			continue;
		if (e.tag == 0)
			dctx_identity(ctx, srv, "vendor", "%s", text);
		else if (e.tag == 1)
			dctx_identity(ctx, srv, "model", "%s", text);
		else if (e.tag == 2)
			dctx_identity(ctx, srv, "firmware", "%s", text);
	}
}

static void confirmed(struct dctx *ctx, struct rd v, bool req, bool partial)
{
	struct ber e;
	if (ber_next(&v, &e) != BER_OK || e.cls != BER_UNIV || e.tag != 2) {
		if (!partial)
			dctx_violation(ctx, "mms: confirmed PDU without an invokeID");
		return;
	}
	uint32_t invoke = ber_uint(e.val);
	pdu_u(ctx, "invoke_id", invoke);
	bool got = false;
	while (!rd_empty(&v)) {
		struct rd save = v;
		if (!ber_get(&v, &e, partial)) {
			struct ber tmp;
			if (ber_next(&save, &tmp) == BER_INDEF)
				dctx_violation(ctx, "mms: indefinite BER length");
			else
				dctx_violation(ctx, "mms: confirmed service runs past its PDU or is malformed");
			return;
		}
		if (e.cls == BER_UNIV && e.tag == 16)
			continue; /* listOfModifier */
		got = true;
		break;
	}
	if (!got || e.cls != BER_CTX)
		return; /* tshark shows no service either */
	uint32_t svc = e.tag;
	const char *n = service_name(svc);
	pdu_u(ctx, "service", svc);
	if (n)
		pdu_s(ctx, "service_name", n);
	if (!req) {
		if (svc == 2 && e.cons)
			identify_response(ctx, e.val);
		return;
	}
	if (svc == 4 && e.cons) {
		struct ber vas;
		if (ber_find(e.val, BER_CTX, 1, &vas) && vas.cons && ber_next(&vas.val, &vas) == BER_OK)
			var_access(ctx, &vas);
	} else if (svc == 5 && e.cons) {
		struct ber vas;
		struct rd c = e.val;
		if (ber_next(&c, &vas) == BER_OK)
			var_access(ctx, &vas);
	}
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = svc;
	fact_str(f.u.op.name, sizeof f.u.op.name, n ? n : "unknown");
	f.u.op.is_write = service_writes(svc);
	dctx_emit(ctx, &f);
	service_event(ctx, svc);
}

static int mms_pdu(struct dctx *ctx, struct rd *r, bool partial)
{
	struct ber e;
	struct rd save = *r;
	int rc = ber_next(r, &e);
	if (rc == BER_SHORT && partial) {
		/* the head of a long PDU: its contents go on in fragments we did not keep */
		*r = save;
		if (ber_next_lenient(r, &e, true))
			rc = BER_OK;
	}
	uint32_t t = e.tag;
	bool req = t == 0 || t == 5 || t == 8 || t == 11;
	const char *dir = req ? "request" : t == 3 ? "event" : "response";
	if (rc == BER_SHORT || rc == BER_BADTAG) {
		pdu_begin_proto(ctx, "mms", ctx->to_server ? "request" : "response");
		pdu_null(ctx, "service");
		dctx_violation(ctx, "mms: PDU header is truncated or malformed");
		pdu_end(ctx);
		return -1;
	}
	pdu_begin_proto(ctx, "mms", dir);
	if (rc == BER_INDEF) {
		pdu_null(ctx, "service");
		dctx_violation(ctx, "mms: indefinite BER length");
		pdu_end(ctx);
		return -1;
	}
	if (e.cls != BER_CTX || !pdu_type_name(t)) {
		pdu_null(ctx, "service");
		dctx_violation(ctx, "mms: unknown PDU tag class %u number %u", e.cls, t);
		pdu_end(ctx);
		return -1;
	}
	pdu_u(ctx, "pdu_type", t);
	pdu_s(ctx, "pdu_name", pdu_type_name(t));
	pdu_null(ctx, "service");
	switch (t) {
	case 0: case 1:
		if (e.cons)
			confirmed(ctx, e.val, t == 0, partial);
		break;
	case 2: { /* confirmed-ErrorPDU: invokeID [0] IMPLICIT */
		struct ber id;
		if (ber_find(e.val, BER_CTX, 0, &id))
			pdu_u(ctx, "invoke_id", ber_uint(id.val));
		break;
	}
	case 3: {
		struct ber s;
		struct rd v = e.val;
		if (ber_next(&v, &s) == BER_OK && s.cls == BER_CTX)
			pdu_u(ctx, "unconfirmed_service", s.tag);
		break;
	}
	case 5: case 6:
		pdu_u(ctx, "invoke_id", ber_uint(e.val));
		break;
	case 8: case 9: {
		struct ber x;
		if (ber_find(e.val, BER_CTX, 0, &x))
			pdu_u(ctx, "local_detail", ber_uint(x.val));
		break;
	}
	default:
		break;
	}
	pdu_end(ctx);
	return 0;
}

/* ---------------------------------------------------------------- ACSE / presentation */

/* [0] single-ASN1-type or [1] octet-aligned contents of a PDV/EXTERNAL: ACSE or MMS */
static int presentation_value(struct dctx *ctx, struct rd v, bool partial, int depth);

static int acse(struct dctx *ctx, const struct ber *apdu, bool partial, int depth)
{
	/* AARQ [APPLICATION 0], AARE [1], RLRQ [2], RLRE [3]: user-information [30] */
	struct ber ui, ext, enc;
	if (!ber_find(apdu->val, BER_CTX, 30, &ui) || !ui.cons)
		return 0;
	if (!ber_find(ui.val, BER_UNIV, 8, &ext) || !ext.cons)
		return 0;
	struct rd x = ext.val;
	while (!rd_empty(&x) && ber_next(&x, &enc) == BER_OK) {
		if (enc.cls != BER_CTX)
			continue; /* direct-reference OID, indirect-reference INTEGER */
		if (enc.tag == 0 && enc.cons)
			return presentation_value(ctx, enc.val, partial, depth + 1);
		if (enc.tag == 1 && !enc.cons) {
			struct rd m = enc.val;
			return mms_pdu(ctx, &m, partial);
		}
		break;
	}
	return 0;
}

static int presentation_value(struct dctx *ctx, struct rd v, bool partial, int depth)
{
	if (depth > MMS_MAX_DEPTH) {
		dctx_violation(ctx, "mms: presentation nesting deeper than %d", MMS_MAX_DEPTH);
		return -1;
	}
	int first = rd_peek(&v, 0);
	if (first < 0)
		return 0;
	if ((first >> 6) == BER_APP) {
		struct ber apdu;
		if (ber_next(&v, &apdu) != BER_OK)
			return 0;
		return acse(ctx, &apdu, partial, depth + 1);
	}
	return mms_pdu(ctx, &v, partial);
}

/* fully-encoded-data [APPLICATION 1]: SEQUENCE OF PDV-list */
static int fully_encoded(struct dctx *ctx, struct rd v, bool partial, int depth)
{
	struct ber pdv;
	int rc = 0;
	while (!rd_empty(&v) && ber_get(&v, &pdv, partial)) {
		if (pdv.cls != BER_UNIV || pdv.tag != 16)
			continue;
		struct rd p = pdv.val;
		struct ber e;
		while (!rd_empty(&p) && ber_get(&p, &e, partial)) {
			if (e.cls != BER_CTX)
				continue; /* transfer-syntax-name, presentation-context-identifier */
			if (e.tag == 0 && e.cons)
				rc = presentation_value(ctx, e.val, partial, depth + 1);
			else if (e.tag == 1 && !e.cons) {
				struct rd m = e.val;
				rc = mms_pdu(ctx, &m, partial);
			}
			break;
		}
	}
	return rc;
}

static int presentation(struct dctx *ctx, struct rd v, bool partial)
{
	struct ber top;
	if (!ber_next_lenient(&v, &top, partial))
		return 0;
	if (top.cls == BER_APP && top.tag == 1 && top.cons)
		return fully_encoded(ctx, top.val, partial, 1);
	if (top.cls == BER_UNIV && top.tag == 17 && top.cons) { /* CP-type / CPA-type */
		struct ber nm, ud;
		if (!ber_find(top.val, BER_CTX, 2, &nm) || !nm.cons)
			return 0;
		if (!ber_find(nm.val, BER_APP, 1, &ud) || !ud.cons)
			return 0;
		return fully_encoded(ctx, ud.val, partial, 2);
	}
	return 0;
}

/* ---------------------------------------------------------------- session */

enum { SPDU_GT_DT = 0x01, SPDU_FN = 0x09, SPDU_DN = 0x0a, SPDU_RF = 0x0c, SPDU_CN = 0x0d, SPDU_AC = 0x0e,
       SPDU_AB = 0x19 };

static bool spdu_len(struct rd *r, size_t *len)
{
	uint8_t l = rd_u8(r);
	*len = l;
	if (l == 0xff)
		*len = rd_be16(r);
	return rd_ok(r);
}

bool mms_looks_like_session(const struct rd *r)
{
	int si = rd_peek(r, 0), l = rd_peek(r, 1), c = rd_peek(r, 2);
	if (si < 0 || l < 0)
		return false;
	switch (si) {
	case SPDU_GT_DT: /* give tokens (empty) + data transfer */
		return l == 0 && c == SPDU_GT_DT && rd_peek(r, 3) >= 0;
	case SPDU_CN: case SPDU_AC: case SPDU_FN: case SPDU_DN: case SPDU_AB: case SPDU_RF:
		if (l < 2)
			return false;
		switch (l == 0xff ? rd_peek(r, 4) : c) {
		case 0x01: case 0x05: case 0x10: case 0x11: case 0x13: case 0x14: case 0x15: case 0x16:
		case 0x17: case 0x19: case 0x1a: case 0x21: case 0x32: case 0x33: case 0x34: case 0x3c:
		case 0xc1: case 0xc2:
			return true;
		default:
			return false;
		}
	default:
		return false;
	}
}

int mms_parse_session(struct dctx *ctx, struct rd *r, bool partial)
{
	uint8_t si = rd_u8(r);
	size_t li = 0;
	if (!spdu_len(r, &li)) {
		dctx_violation(ctx, "ses: truncated SPDU header");
		return -1;
	}
	if (si == SPDU_GT_DT) {
		rd_skip(r, li);
		uint8_t si2 = rd_u8(r);
		size_t li2 = 0;
		if (!spdu_len(r, &li2) || si2 != SPDU_GT_DT || !rd_skip(r, li2)) {
			dctx_violation(ctx, "ses: give-tokens SPDU not followed by a data transfer SPDU");
			return -1;
		}
		return presentation(ctx, *r, partial);
	}
	struct rd params = *r;
	if (li <= rd_left(r))
		params = rd_sub(r, li);
	else if (!partial) {
		dctx_violation(ctx, "ses: SPDU length %zu exceeds the %zu bytes present", li, rd_left(r));
		return -1;
	}
	/* PI/PGI units: code, length, value; user data (0xC1) / extended user data (0xC2) */
	for (int i = 0; i < 64 && !rd_empty(&params); i++) {
		uint8_t code = rd_u8(&params);
		size_t len = 0;
		if (!spdu_len(&params, &len))
			break;
		struct rd v = params;
		if (len <= rd_left(&params))
			v = rd_sub(&params, len);
		else if (!partial) {
			dctx_violation(ctx, "ses: parameter 0x%02x runs past the SPDU", code);
			return -1;
		} else
			params.p = params.end;
		if (code == 0xc1 || code == 0xc2)
			return presentation(ctx, v, partial || len > rd_left(&v));
	}
	return 0;
}

bool mms_looks_like_pdu(const struct rd *r)
{
	/* as tshark's heuristic: a context-specific constructed tag naming an MMS PDU (or the
	 * primitive cancel PDUs), a non-zero definite length, and all its bytes present */
	int id = rd_peek(r, 0), l = rd_peek(r, 1);
	if (id < 0 || l < 0 || (id >> 6) != BER_CTX)
		return false;
	uint8_t tag = (uint8_t)(id & 0x1f);
	if (tag > 13 || (l & 0x7f) == 0)
		return false;
	size_t len = (size_t)l, hdr = 2;
	if (l > 0x80) {
		unsigned n = (unsigned)l & 0x7f;
		if (n > 2)
			return false;
		len = 0;
		for (unsigned i = 0; i < n; i++) {
			int b = rd_peek(r, 2 + i);
			if (b < 0)
				return false;
			len = len << 8 | (size_t)b;
		}
		hdr += n;
	}
	return hdr + len <= rd_left(r);
}

int mms_parse_pdu(struct dctx *ctx, struct rd *r, bool partial)
{
	return mms_pdu(ctx, r, partial);
}
