/*
 * opcua.c - OPC UA binary (UA TCP / UA SecureConversation): HEL, ACK, ERR, RHE, OPN,
 * MSG and CLO messages, their chunk type, and the service (the encoding node id of the
 * request or response body) when the body is readable.
 *
 * Emits: a pdu record per message chunk (msg_type as tshark's opcua.transport.type,
 * service as opcua.servicenodeid.numeric, chunk, size, request_id, security_policy);
 * identity facts from HEL (the endpoint URL the client asked for) and OPN (security
 * policy, and the security mode the client asked for); an operation fact per
 * request/response service; events for Write (is_write), Call (control) and
 * AddNodes/DeleteNodes/AddReferences/DeleteReferences (config_change); violations for
 * malformed headers and strings.
 *
 * The body is only read when the channel's security policy is None (learned from the
 * OPN of this flow), or when it is unknown and the body looks like a plain node id; an
 * encrypted or signed-and-encrypted body leaves service null. Of a multi-chunk message
 * ('C' chunks then 'F'), only the first chunk carries the service.
 *
 * Must never: read a byte except through struct rd, or trust a length field (message
 * size, string length) before checking it against the bytes present.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define UA_MAX_MSG (16u << 20)

struct ua_state {
	uint8_t policy;        /* 0 unknown, 1 None, 2 secured */
	uint8_t in_chunks[2];  /* a 'C' chunk was seen in this direction (0 server->client, 1 client->server) */
};

_Static_assert(sizeof(struct ua_state) <= DISSECTOR_STATE_SIZE, "opcua state too large");

struct ua_svc {
	uint16_t id;
	const char *name;
};

/* request encoding ids (DefaultBinary); the response is id + 3 */
static const struct ua_svc ua_services[] = {
	{ 422, "FindServers" },        { 428, "GetEndpoints" },    { 437, "RegisterServer" },
	{ 446, "OpenSecureChannel" },  { 452, "CloseSecureChannel" }, { 461, "CreateSession" },
	{ 467, "ActivateSession" },    { 473, "CloseSession" },    { 479, "Cancel" },
	{ 488, "AddNodes" },           { 494, "AddReferences" },   { 500, "DeleteNodes" },
	{ 506, "DeleteReferences" },   { 527, "Browse" },          { 533, "BrowseNext" },
	{ 554, "TranslateBrowsePathsToNodeIds" }, { 560, "RegisterNodes" }, { 566, "UnregisterNodes" },
	{ 613, "QueryFirst" },         { 619, "QueryNext" },       { 631, "Read" },
	{ 664, "HistoryRead" },        { 673, "Write" },           { 700, "HistoryUpdate" },
	{ 712, "Call" },               { 751, "CreateMonitoredItems" }, { 763, "ModifyMonitoredItems" },
	{ 769, "SetMonitoringMode" },  { 775, "SetTriggering" },   { 781, "DeleteMonitoredItems" },
	{ 787, "CreateSubscription" }, { 793, "ModifySubscription" }, { 799, "SetPublishingMode" },
	{ 826, "Publish" },            { 832, "Republish" },       { 841, "TransferSubscriptions" },
	{ 847, "DeleteSubscriptions" }, { 12208, "FindServersOnNetwork" }, { 12211, "RegisterServer2" },
};

/* name of a service id; *resp tells whether it is a response; NULL if unknown */
static const char *svc_name(uint32_t id, bool *resp)
{
	*resp = false;
	if (id == 397) {
		*resp = true;
		return "ServiceFault";
	}
	for (size_t i = 0; i < sizeof ua_services / sizeof ua_services[0]; i++) {
		if (ua_services[i].id == id)
			return ua_services[i].name;
		if (ua_services[i].id + 3u == id) {
			*resp = true;
			return ua_services[i].name;
		}
	}
	return NULL;
}

static bool known_type(const uint8_t t[3])
{
	static const char *const types[] = { "HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO" };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (!memcmp(t, types[i], 3))
			return true;
	return false;
}

static bool chunk_ok(const uint8_t t[3], uint8_t c)
{
	if (!memcmp(t, "MSG", 3))
		return c == 'F' || c == 'C' || c == 'A';
	if (!memcmp(t, "OPN", 3) || !memcmp(t, "CLO", 3))
		return c == 'F' || c == 'C' || c == 'A';
	return c == 'F';
}

static ssize_t opcua_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 8)
		return 0;
	struct rd r = rd_init(data, len);
	uint8_t t[3];
	rd_copy(&r, t, 3);
	uint8_t c = rd_u8(&r);
	uint32_t size = rd_le32(&r);
	if (!known_type(t) || !chunk_ok(t, c) || size < 8 || size > UA_MAX_MSG)
		return -1;
	return (ssize_t)size;
}

/* strict: a known type with its chunk byte, a plausible size, and for HEL the
 * protocol version 0, buffer sizes of at least 8192 and an "opc." endpoint URL */
static bool opcua_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	uint8_t t[3];
	rd_copy(&r, t, 3);
	uint8_t c = rd_u8(&r);
	uint32_t size = rd_le32(&r);
	if (!rd_ok(&r) || !known_type(t) || !chunk_ok(t, c) || size > UA_MAX_MSG)
		return false;
	if (!memcmp(t, "HEL", 3)) {
		uint32_t ver = rd_le32(&r), rb = rd_le32(&r), sb = rd_le32(&r);
		rd_skip(&r, 8);
		int32_t ul = (int32_t)rd_le32(&r);
		uint8_t pfx[4];
		rd_copy(&r, pfx, 4);
		return rd_ok(&r) && size == len && ver == 0 && rb >= 8192 && sb >= 8192 && ul >= 4 &&
		       (size_t)ul + 32 == size && !memcmp(pfx, "opc.", 4);
	}
	if (!memcmp(t, "ACK", 3))
		return size == 28 && len == 28 && rd_le32(&r) == 0;
	if (!memcmp(t, "OPN", 3)) {
		rd_skip(&r, 4); /* secure channel id */
		int32_t ul = (int32_t)rd_le32(&r);
		uint8_t pfx[30];
		rd_copy(&r, pfx, sizeof pfx);
		return rd_ok(&r) && size <= len && ul >= 30 && (size_t)ul + 16 <= size &&
		       !memcmp(pfx, "http://opcfoundation.org/UA/Se", 30);
	}
	if (!memcmp(t, "MSG", 3) || !memcmp(t, "CLO", 3)) {
		/* the whole chunk, and after it nothing or another plausible header */
		if (size < 24 || size > len)
			return false;
		rd_skip(&r, 16);
		uint8_t enc = rd_u8(&r);
		uint8_t ns = rd_u8(&r);
		uint16_t id = rd_le16(&r);
		bool resp;
		return rd_ok(&r) && size == len && enc == 1 && ns == 0 && svc_name(id, &resp) != NULL;
	}
	return false;
}

/* a UA String: int32 length (-1 = null) then bytes */
static bool ua_string(struct rd *r, char *dst, size_t dstsz)
{
	int32_t n = (int32_t)rd_le32(r);
	dst[0] = '\0';
	if (!rd_ok(r))
		return false;
	if (n < 0)
		return n == -1;
	return rd_text(r, (size_t)n, dst, dstsz);
}

static bool ua_skip_bytes(struct rd *r)
{
	int32_t n = (int32_t)rd_le32(r);
	if (!rd_ok(r))
		return false;
	if (n < 0)
		return n == -1;
	return rd_skip(r, (size_t)n);
}

/* Reads a (possibly expanded) NodeId; *numeric set when it is a numeric id in
 * namespace 0 (the form every standard encoding id takes). */
static bool ua_nodeid(struct rd *r, bool *numeric, uint32_t *id, uint16_t *ns)
{
	uint8_t enc = rd_u8(r);
	*numeric = false;
	*id = 0;
	*ns = 0;
	switch (enc & 0x0f) {
	case 0: *id = rd_u8(r); *numeric = true; break;
	case 1: *ns = rd_u8(r); *id = rd_le16(r); *numeric = true; break;
	case 2: *ns = rd_le16(r); *id = rd_le32(r); *numeric = true; break;
	case 3: case 5: if (!ua_skip_bytes(r)) return false; *ns = 0; break;
	case 4: rd_skip(r, 18); break;
	default: return false;
	}
	if (enc & 0x80) {
		char tmp[8];
		if (!ua_string(r, tmp, sizeof tmp))
			return false;
	}
	if (enc & 0x40)
		rd_skip(r, 4);
	return rd_ok(r);
}

static bool ua_skip_string_array(struct rd *r)
{
	int32_t n = (int32_t)rd_le32(r);
	if (!rd_ok(r) || n < -1)
		return false;
	for (int32_t i = 0; i < n && rd_ok(r); i++)
		if (!ua_skip_bytes(r))
			return false;
	return rd_ok(r);
}

/* a ResponseHeader; false if it cannot be walked (an inner DiagnosticInfo is not
 * followed: that would be recursion) */
static bool ua_response_header(struct rd *r)
{
	rd_skip(r, 8 + 4 + 4); /* timestamp, request handle, service result */
	uint8_t mask = rd_u8(r);
	if (mask & 0x40)
		return false;
	rd_skip(r, (size_t)(((mask & 1) != 0) + ((mask & 2) != 0) + ((mask & 4) != 0) + ((mask & 8) != 0)) * 4);
	if ((mask & 0x10) && !ua_skip_bytes(r))
		return false;
	if (mask & 0x20)
		rd_skip(r, 4);
	if (!ua_skip_string_array(r))
		return false;
	bool num;
	uint32_t id;
	uint16_t ns;
	if (!ua_nodeid(r, &num, &id, &ns))
		return false;
	uint8_t enc = rd_u8(r);
	if ((enc & 1) && !ua_skip_bytes(r))
		return false;
	return rd_ok(r);
}

/* GetEndpointsResponse: the first endpoint's server ApplicationDescription says what
 * the server is (application URI, product URI, application name). */
static void get_endpoints_identity(struct dctx *ctx, struct rd *r)
{
	if (!ua_response_header(r))
		return;
	int32_t n = (int32_t)rd_le32(r);
	if (!rd_ok(r) || n < 1)
		return;
	char url[FACT_STR], app_uri[FACT_STR], prod_uri[FACT_STR], name[FACT_STR] = "";
	if (!ua_string(r, url, sizeof url) || !ua_string(r, app_uri, sizeof app_uri) ||
	    !ua_string(r, prod_uri, sizeof prod_uri))
		return;
	uint8_t lt = rd_u8(r);
	char locale[16];
	if ((lt & 1) && !ua_string(r, locale, sizeof locale))
		return;
	if ((lt & 2) && !ua_string(r, name, sizeof name))
		return;
	enum fact_subject srv = dctx_server(ctx);
	if (app_uri[0])
		dctx_identity(ctx, srv, "application_uri", "%s", app_uri);
	if (prod_uri[0])
		dctx_identity(ctx, srv, "product_uri", "%s", prod_uri);
	if (name[0])
		dctx_identity(ctx, srv, "product", "%s", name);
}

static const char *policy_short(const char *uri)
{
	const char *h = strrchr(uri, '#');
	return h ? h + 1 : uri;
}

static void op_fact(struct dctx *ctx, uint32_t id, const char *name, bool resp)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = id;
	fact_str(f.u.op.name, sizeof f.u.op.name, name ? name : "unknown");
	bool req_write = false;
	uint32_t rq = resp ? id - 3 : id;
	if (rq == 673 || rq == 488 || rq == 494 || rq == 500 || rq == 506 || rq == 700 || rq == 712)
		req_write = true;
	f.u.op.is_write = req_write;
	f.u.op.is_response = resp;
	f.u.op.exception = (id == 397);
	dctx_emit(ctx, &f);
}

static void request_events(struct dctx *ctx, uint32_t id)
{
	enum fact_subject srv = dctx_server(ctx);
	switch (id) {
	case 712: dctx_event(ctx, EV_CONTROL, srv, "OPC UA Call (method invocation)"); break;
	case 488: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "OPC UA AddNodes"); break;
	case 500: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "OPC UA DeleteNodes"); break;
	case 494: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "OPC UA AddReferences"); break;
	case 506: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "OPC UA DeleteReferences"); break;
	default: break;
	}
}

/* OpenSecureChannelRequest body after its node id: RequestHeader, then
 * ClientProtocolVersion, RequestType, SecurityMode. */
static void opn_request_body(struct dctx *ctx, struct rd *r)
{
	bool num;
	uint32_t id;
	uint16_t ns;
	if (!ua_nodeid(r, &num, &id, &ns)) /* authentication token */
		return;
	rd_skip(r, 8 + 4 + 4); /* timestamp, request handle, return diagnostics */
	char tmp[8];
	if (!ua_string(r, tmp, sizeof tmp)) /* audit entry id */
		return;
	rd_skip(r, 4); /* timeout hint */
	if (!ua_nodeid(r, &num, &id, &ns)) /* additional header type */
		return;
	uint8_t eenc = rd_u8(r);
	if (eenc & 1) {
		if (!ua_skip_bytes(r))
			return;
	}
	rd_skip(r, 4); /* client protocol version */
	uint32_t rtype = rd_le32(r);
	uint32_t mode = rd_le32(r);
	if (!rd_ok(r))
		return;
	static const char *const modes[] = { "Invalid", "None", "Sign", "SignAndEncrypt" };
	pdu_u(ctx, "request_type", rtype);
	pdu_u(ctx, "security_mode", mode);
	if (mode < 4)
		dctx_identity(ctx, dctx_server(ctx), "security_mode", "%s", modes[mode]);
}

static int opcua_parse(struct dctx *ctx, struct rd *r)
{
	struct ua_state *s = ctx->state;
	uint8_t t[3];
	rd_copy(r, t, 3);
	uint8_t chunk = rd_u8(r);
	uint32_t size = rd_le32(r);
	if (!rd_ok(r) || !known_type(t)) {
		dctx_violation(ctx, "opcua: bad message header");
		return -1;
	}
	char type[4] = { (char)t[0], (char)t[1], (char)t[2], 0 };
	char ch[2] = { (char)chunk, 0 };
	pdu_begin(ctx, ctx->to_server ? "request" : "response");
	pdu_s(ctx, "msg_type", type);
	pdu_s(ctx, "chunk", ch);
	pdu_u(ctx, "size", size);
	int dirix = ctx->to_server ? 1 : 0;
	int rc = 0;

	if (!memcmp(t, "HEL", 3)) {
		uint32_t ver = rd_le32(r);
		rd_skip(r, 16);
		char url[FACT_STR];
		if (!ua_string(r, url, sizeof url)) {
			dctx_violation(ctx, "opcua: HEL endpoint URL runs past the message");
			rc = -1;
		} else {
			pdu_u(ctx, "version", ver);
			pdu_s(ctx, "endpoint_url", url);
			if (url[0])
				dctx_identity(ctx, dctx_server(ctx), "endpoint", "%s", url);
		}
		pdu_null(ctx, "service");
	} else if (!memcmp(t, "ACK", 3) || !memcmp(t, "RHE", 3)) {
		pdu_null(ctx, "service");
	} else if (!memcmp(t, "ERR", 3)) {
		uint32_t err = rd_le32(r);
		char reason[FACT_STR];
		if (rd_ok(r))
			pdu_u(ctx, "error", err);
		if (!ua_string(r, reason, sizeof reason)) {
			dctx_violation(ctx, "opcua: ERR reason runs past the message");
			rc = -1;
		} else if (reason[0]) {
			pdu_s(ctx, "reason", reason);
		}
		pdu_null(ctx, "service");
	} else {
		bool opn = !memcmp(t, "OPN", 3);
		rd_skip(r, 4); /* secure channel id */
		bool readable = true;
		if (opn) {
			char uri[FACT_STR];
			if (!ua_string(r, uri, sizeof uri) || !ua_skip_bytes(r) || !ua_skip_bytes(r)) {
				dctx_violation(ctx, "opcua: OPN security header runs past the message");
				pdu_null(ctx, "service");
				pdu_end(ctx);
				return -1;
			}
			const char *pol = policy_short(uri);
			pdu_s(ctx, "security_policy", pol);
			if (uri[0])
				dctx_identity(ctx, dctx_server(ctx), "security_policy", "%s", pol);
			s->policy = !strcmp(pol, "None") ? 1 : 2;
			readable = s->policy == 1;
		} else {
			rd_skip(r, 4); /* token id */
			readable = s->policy != 2;
		}
		rd_skip(r, 4); /* sequence number */
		uint32_t req_id = rd_le32(r);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "opcua: %s header runs past the message", type);
			pdu_null(ctx, "service");
			pdu_end(ctx);
			return -1;
		}
		pdu_u(ctx, "request_id", req_id);
		bool first = !s->in_chunks[dirix];
		if (chunk == 'C')
			s->in_chunks[dirix] = 1;
		else
			s->in_chunks[dirix] = 0;
		if (chunk == 'A' || !first)
			readable = false;
		bool num = false;
		uint32_t id = 0;
		uint16_t ns = 0;
		struct rd save = *r;
		if (readable && ua_nodeid(r, &num, &id, &ns) && num && ns == 0) {
			bool resp = false;
			const char *name = svc_name(id, &resp);
			if (s->policy == 0 && !name) {
				/* unknown policy and not a known service: most likely ciphertext */
				*r = save;
				pdu_null(ctx, "service");
			} else {
				pdu_u(ctx, "service", id);
				if (name)
					pdu_s(ctx, "service_name", name);
				op_fact(ctx, id, name, resp);
				if (!resp && ctx->to_server)
					request_events(ctx, id);
				if (opn && id == 446)
					opn_request_body(ctx, r);
				else if (id == 431 && !ctx->to_server)
					get_endpoints_identity(ctx, r);
			}
		} else {
			pdu_null(ctx, "service");
		}
	}
	pdu_end(ctx);
	return rc;
}

static const uint16_t opcua_ports[] = { 4840, 0 };

const struct dissector opcua_dissector = {
	.name = "opcua",
	.transports = DT_TCP,
	.ports = opcua_ports,
	.probe = opcua_probe,
	.pdu_len = opcua_pdu_len,
	.parse = opcua_parse,
};
