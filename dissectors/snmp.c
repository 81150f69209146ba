/*
 * snmp.c - SNMP v1/v2c (UDP 161/162): what agents say about themselves in GetResponses
 * (sysDescr, sysObjectID, sysName, sysLocation), and who reads or writes whom.
 *
 * Emits: a pdu record per message (version as on the wire: 0 = v1, 1 = v2c, 3 = v3;
 * community masked: first character then '*'s, plus community_default when it is
 * "public" or "private"; pdu_type as tshark's snmp.data: 0 get, 1 getnext,
 * 2 response, 3 set, 4 trap, 5 getbulk, 6 inform, 7 trapv2, 8 report; request_id,
 * error_status, varbinds, first oid); identity facts of the responder (SRC) from
 * GetResponse varbinds: sysDescr.0 -> "description", sysObjectID.0 ->
 * "sys_object_id", sysName.0 -> "hostname", sysLocation.0 -> "location",
 * sysContact.0 -> "contact"; an operation fact per request (set = write). v3 messages
 * get a record with the version only (their PDU is usually encrypted).
 * Violations: BER that does not parse (lengths past the data, indefinite lengths,
 * wrong tags), unknown versions or PDU types.
 *
 * Must never: recurse (the BER walk is a fixed three levels), read a byte except
 * through struct rd, or print a community string in clear.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "it_ber.h"
#include "textfmt.h"

#define SNMP_MAX_VARBINDS 64

static const char *pdu_name(unsigned t)
{
	static const char *const n[] = { "get", "getnext", "response", "set", "trap", "getbulk", "inform", "trapv2",
					 "report" };
	return t < 9 ? n[t] : "unknown";
}

static void op_fact(struct dctx *ctx, unsigned type)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = type;
	fact_str(f.u.op.name, sizeof f.u.op.name, pdu_name(type));
	f.u.op.is_write = type == 3;
	dctx_emit(ctx, &f);
}

/* A varbind value as text: strings, integers, OIDs, addresses, timeticks. */
static void value_text(uint8_t tag, struct rd *v, char *dst, size_t dstsz)
{
	dst[0] = '\0';
	int64_t x;
	switch (tag) {
	case 0x04: rd_text(v, rd_left(v), dst, dstsz); break;
	case 0x06: ber_oid(v, dst, dstsz); break;
	case 0x02: case 0x41: case 0x42: case 0x43: case 0x46:
		if (ber_int(v, &x)) {
			struct tbuf b = tb_init(dst, dstsz);
			tb_i64(&b, x);
		}
		break;
	case 0x40:
		if (rd_left(v) == 4) {
			uint8_t a[4];
			rd_copy(v, a, 4);
			struct tbuf b = tb_init(dst, dstsz);
			tb_ipv4(&b, a);
		}
		break;
	default: break;
	}
}

static void mask(const char *c, size_t n, char *dst, size_t dstsz)
{
	size_t k = 0;
	if (n && dstsz > 1)
		dst[k++] = c[0];
	for (size_t i = 1; i < n && i < 16 && k + 1 < dstsz; i++)
		dst[k++] = '*';
	dst[k] = '\0';
}

static int bad_ber(struct dctx *ctx, const char *where)
{
	dctx_violation(ctx, "snmp: malformed BER in %s", where);
	pdu_end(ctx);
	return -1;
}

static int snmp_parse(struct dctx *ctx, struct rd *r)
{
	bool bad = false;
	struct rd msg, v;
	pdu_begin(ctx, "event");
	if (!ber_expect(r, 0x30, &msg, &bad))
		return bad_ber(ctx, "the message");
	int64_t version = -1;
	if (!ber_expect(&msg, 0x02, &v, &bad) || !ber_int(&v, &version))
		return bad_ber(ctx, "the version");
	pdu_u(ctx, "version", (uint64_t)version);
	if (version == 3) {
		pdu_end(ctx);
		return 0;
	}
	if (version != 0 && version != 1) {
		dctx_violation(ctx, "snmp: version %lld", (long long)version);
		pdu_end(ctx);
		return -1;
	}
	if (!ber_expect(&msg, 0x04, &v, &bad))
		return bad_ber(ctx, "the community");
	char comm[64], masked[20];
	size_t clen = rd_left(&v);
	rd_text(&v, clen, comm, sizeof comm);
	mask(comm, clen, masked, sizeof masked);
	pdu_s(ctx, "community", masked);
	pdu_b(ctx, "community_default", !strcmp(comm, "public") || !strcmp(comm, "private"));
	uint8_t tag = 0;
	struct rd pdu;
	if (!ber_tlv(&msg, &tag, &pdu, &bad))
		return bad_ber(ctx, "the PDU");
	unsigned type = tag & 0x1f;
	if ((tag & 0xe0) != 0xa0 || type > 8) {
		dctx_violation(ctx, "snmp: PDU tag 0x%02x", tag);
		pdu_end(ctx);
		return -1;
	}
	ctx->pdu.dir = type == 2 || type == 8 ? "response" : type == 4 || type == 7 ? "event" : "request";
	pdu_u(ctx, "pdu_type", type);
	pdu_s(ctx, "pdu_name", pdu_name(type));
	if (type == 4) { /* v1 trap: enterprise, agent address, generic, specific, timestamp */
		char oid[96];
		if (!ber_expect(&pdu, 0x06, &v, &bad) || !ber_oid(&v, oid, sizeof oid))
			return bad_ber(ctx, "the trap enterprise");
		pdu_s(ctx, "enterprise", oid);
		if (!ber_expect(&pdu, 0x40, &v, &bad))
			return bad_ber(ctx, "the trap agent address");
		int64_t gen = 0, spec = 0;
		if (!ber_expect(&pdu, 0x02, &v, &bad) || !ber_int(&v, &gen) || !ber_expect(&pdu, 0x02, &v, &bad) ||
		    !ber_int(&v, &spec) || !ber_expect(&pdu, 0x43, &v, &bad))
			return bad_ber(ctx, "the trap header");
		pdu_i(ctx, "generic_trap", gen);
		pdu_i(ctx, "specific_trap", spec);
	} else {
		int64_t reqid = 0, es = 0, ei = 0;
		if (!ber_expect(&pdu, 0x02, &v, &bad) || !ber_int(&v, &reqid) || !ber_expect(&pdu, 0x02, &v, &bad) ||
		    !ber_int(&v, &es) || !ber_expect(&pdu, 0x02, &v, &bad) || !ber_int(&v, &ei))
			return bad_ber(ctx, "the PDU header");
		pdu_i(ctx, "request_id", reqid);
		pdu_i(ctx, "error_status", es);
	}
	struct rd vbl;
	if (!ber_expect(&pdu, 0x30, &vbl, &bad))
		return bad_ber(ctx, "the varbind list");
	unsigned n = 0;
	while (!rd_empty(&vbl) && n < SNMP_MAX_VARBINDS) {
		struct rd vb, name, val;
		uint8_t vt = 0;
		char oid[96];
		if (!ber_expect(&vbl, 0x30, &vb, &bad) || !ber_expect(&vb, 0x06, &name, &bad) ||
		    !ber_oid(&name, oid, sizeof oid) || !ber_tlv(&vb, &vt, &val, &bad))
			return bad_ber(ctx, "a varbind");
		if (n == 0)
			pdu_s(ctx, "oid", oid);
		n++;
		if (type != 2)
			continue;
		const char *key = NULL;
		if (!strcmp(oid, "1.3.6.1.2.1.1.1.0"))
			key = "description";
		else if (!strcmp(oid, "1.3.6.1.2.1.1.2.0"))
			key = "sys_object_id";
		else if (!strcmp(oid, "1.3.6.1.2.1.1.4.0"))
			key = "contact";
		else if (!strcmp(oid, "1.3.6.1.2.1.1.5.0"))
			key = "hostname";
		else if (!strcmp(oid, "1.3.6.1.2.1.1.6.0"))
			key = "location";
		if (!key)
			continue;
		char text[FACT_STR];
		value_text(vt, &val, text, sizeof text);
		if (text[0])
			dctx_identity(ctx, SUBJ_SRC, key, "%s", text);
	}
	pdu_u(ctx, "varbinds", n);
	pdu_end(ctx);
	if (type != 2 && type != 8 && type != 4 && type != 7)
		op_fact(ctx, type);
	return 0;
}

static const uint16_t snmp_ports[] = { 161, 162, 0 };

const struct dissector snmp_dissector = {
	.name = "snmp",
	.transports = DT_UDP,
	.ports = snmp_ports,
	.parse = snmp_parse,
};
