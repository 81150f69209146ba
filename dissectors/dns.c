/*
 * dns.c - DNS (53, UDP and TCP), multicast DNS (5353) and LLMNR (5355): which names
 * the network's devices carry.
 *
 * Emits: a pdu record per message, with proto "dns", "mdns" or "llmnr" by port (id,
 * opcode, is_response, rcode, qdcount, ancount, qname, qtype of the first question,
 * answers); identity facts:
 *  - DNS responses: each A/AAAA answer binds its address to its owner name, and each
 *    IPv4 PTR answer (d.c.b.a.in-addr.arpa) binds the address to the target name, as
 *    "hostname" of the device that owns the address. That device is not an end of the
 *    packet, so the fact has subject DST with dst.ip/family set to the answered
 *    address and dst.mac zeroed (the MAC is unknown); src stays the DNS server.
 *    Addresses of the other IP family than the packet's (AAAA over IPv4) are not
 *    bound: a fact's two endpoints are read with one family.
 *  - mDNS/LLMNR responses: a host announcing its own name (an A/AAAA answer whose
 *    address is the packet's source address) -> "hostname" of SRC (without ".local");
 *    answers for other addresses are bound as for DNS. mDNS TXT "model="/"md=" values
 *    of the sender -> "model".
 * Violations: truncated header or records, labels over 63 bytes, names over 255
 * bytes, compression pointers out of the message or looping (pointer follows are
 * bounded), record data running past the message.
 *
 * Must never: follow more than DNS_MAX_JUMPS compression pointers for one name, or
 * read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define DNS_MAX_JUMPS 16
#define DNS_MAX_ANSWERS 64  /* records walked per message */
#define DNS_MAX_FACTS 16

enum { NAME_OK = 0, NAME_TRUNC, NAME_LABEL, NAME_LONG, NAME_PTR_RANGE, NAME_LOOP, NAME_LABEL_TYPE };

static const char *name_err(int e)
{
	switch (e) {
	case NAME_TRUNC: return "name runs past the message";
	case NAME_LABEL: return "label longer than 63 bytes";
	case NAME_LONG: return "name longer than 255 bytes";
	case NAME_PTR_RANGE: return "compression pointer outside the message";
	case NAME_LOOP: return "compression pointer loop";
	case NAME_LABEL_TYPE: return "reserved label type";
	default: return "bad name";
	}
}

/* Reads a (possibly compressed) name at *r inside message msg; r moves past the name
 * as it appears at its position. Text is dotted, non-printables as '.'. */
static int read_name(const struct rd *msg, struct rd *r, char *dst, size_t dstsz)
{
	struct rd cur = *r;
	bool jumped = false;
	int jumps = 0;
	size_t total = 0, k = 0;
	dst[0] = '\0';
	for (;;) {
		int c = rd_peek(&cur, 0);
		if (c < 0)
			return NAME_TRUNC;
		if ((c & 0xc0) == 0xc0) {
			uint16_t ptr = rd_be16(&cur) & 0x3fff;
			if (!rd_ok(&cur))
				return NAME_TRUNC;
			if (!jumped)
				*r = cur;
			jumped = true;
			if (++jumps > DNS_MAX_JUMPS)
				return NAME_LOOP;
			if (ptr >= rd_left(msg))
				return NAME_PTR_RANGE;
			cur = *msg;
			rd_skip(&cur, ptr);
			continue;
		}
		if (c & 0xc0)
			return NAME_LABEL_TYPE;
		rd_skip(&cur, 1);
		if (c == 0)
			break;
		if (c > 63)
			return NAME_LABEL;
		total += (size_t)c + 1;
		if (total > 255)
			return NAME_LONG;
		char lab[64];
		if (!rd_text(&cur, (size_t)c, lab, sizeof lab))
			return NAME_TRUNC;
		if (k + 1 < dstsz) {
			int w = snprintf(dst + k, dstsz - k, "%s%s", k ? "." : "", lab);
			if (w > 0)
				k = k + (size_t)w < dstsz ? k + (size_t)w : dstsz - 1;
		}
	}
	if (!jumped)
		*r = cur;
	return NAME_OK;
}

static const char *proto_for(const struct dctx *ctx)
{
	uint16_t sp = ctx->pkt->sport, dp = ctx->pkt->dport;
	if (sp == 5353 || dp == 5353)
		return "mdns";
	if (sp == 5355 || dp == 5355)
		return "llmnr";
	return "dns";
}

static void strip_local(char *name)
{
	size_t n = strlen(name);
	if (n > 6 && !strcmp(name + n - 6, ".local"))
		name[n - 6] = '\0';
}

/* "d.c.b.a.in-addr.arpa" -> a.b.c.d; false for anything else */
static bool parse_in_addr(const char *s, uint8_t ip[4])
{
	unsigned o[4];
	char tail[16];
	int n = 0;
	if (sscanf(s, "%3u.%3u.%3u.%3u.%15s%n", &o[0], &o[1], &o[2], &o[3], tail, &n) != 5)
		return false;
	if (strcmp(tail, "in-addr.arpa") && strcmp(tail, "IN-ADDR.ARPA"))
		return false;
	for (int i = 0; i < 4; i++) {
		if (o[i] > 255)
			return false;
		ip[3 - i] = (uint8_t)o[i];
	}
	return true;
}

/* hostname of the device owning addr (family 4 or 6) */
static void bind_name(struct dctx *ctx, int family, const uint8_t *addr, const char *name, bool mcast)
{
	char nm[FACT_STR];
	fact_str(nm, sizeof nm, name);
	if (mcast)
		strip_local(nm);
	if (!nm[0])
		return;
	const struct packet *p = ctx->pkt;
	size_t alen = family == 4 ? 4 : 16;
	if (mcast && p->ip_version == family && !memcmp(p->src_ip, addr, alen)) {
		dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", nm);
		return;
	}
	if (p->ip_version != family)
		return; /* consumers read both endpoints with one family (emit.c): skip cross-family bindings */
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_IDENTITY);
	f.u.id.subject = SUBJ_DST;
	memset(&f.dst, 0, sizeof f.dst);
	f.dst.family = (uint8_t)family;
	memcpy(f.dst.ip, addr, alen);
	snprintf(f.u.id.key, sizeof f.u.id.key, "hostname");
	fact_str(f.u.id.value, sizeof f.u.id.value, nm);
	dctx_emit(ctx, &f);
}

/* mDNS TXT strings: model= (device-info) and md= (AirPlay/HomeKit) */
static void txt_model(struct dctx *ctx, struct rd *v)
{
	while (!rd_empty(v)) {
		uint8_t l = rd_u8(v);
		char s[FACT_STR];
		if (!rd_text(v, l, s, sizeof s))
			return;
		if (!strncmp(s, "model=", 6))
			dctx_identity(ctx, SUBJ_SRC, "model", "%s", s + 6);
		else if (!strncmp(s, "md=", 3))
			dctx_identity(ctx, SUBJ_SRC, "model", "%s", s + 3);
	}
}

static int dns_message(struct dctx *ctx, struct rd *msg)
{
	const char *proto = proto_for(ctx);
	bool mcast = strcmp(proto, "dns") != 0;
	struct rd r = *msg;
	uint16_t id = rd_be16(&r), flags = rd_be16(&r);
	uint16_t qd = rd_be16(&r), an = rd_be16(&r), ns = rd_be16(&r), ar = rd_be16(&r);
	if (!rd_ok(&r)) {
		pdu_begin_proto(ctx, proto, "event");
		dctx_violation(ctx, "%s: message shorter than the 12-byte header", proto);
		pdu_end(ctx);
		return -1;
	}
	bool resp = flags & 0x8000;
	unsigned opcode = flags >> 11 & 0xf, rcode = flags & 0xf;
	pdu_begin_proto(ctx, proto, resp ? "response" : "request");
	pdu_u(ctx, "id", id);
	pdu_b(ctx, "is_response", resp);
	pdu_u(ctx, "opcode", opcode);
	pdu_u(ctx, "rcode", rcode);
	pdu_u(ctx, "qdcount", qd);
	pdu_u(ctx, "ancount", an);

	int bad = 0;
	char name[256];
	for (unsigned i = 0; i < qd && !bad; i++) {
		int e = read_name(msg, &r, name, sizeof name);
		uint16_t qtype = rd_be16(&r);
		rd_skip(&r, 2);
		if (e || !rd_ok(&r)) {
			dctx_violation(ctx, "%s: question %u: %s", proto, i, e ? name_err(e) : "truncated");
			bad = 1;
			break;
		}
		if (i == 0) {
			pdu_s(ctx, "qname", name);
			pdu_u(ctx, "qtype", qtype);
		}
	}
	unsigned nrr = (unsigned)an + ns + ar, facts = 0, walked = 0;
	char first_answer[64] = "";
	for (unsigned i = 0; i < nrr && !bad && walked < DNS_MAX_ANSWERS; i++, walked++) {
		int e = read_name(msg, &r, name, sizeof name);
		uint16_t type = rd_be16(&r);
		rd_skip(&r, 6); /* class, ttl */
		uint16_t rdlen = rd_be16(&r);
		struct rd v = rd_sub(&r, rdlen);
		if (e || !rd_ok(&r)) {
			dctx_violation(ctx, "%s: record %u: %s", proto, i, e ? name_err(e) : "runs past the message");
			bad = 1;
			break;
		}
		bool answer = i < an;
		/* mDNS announcements put addresses in the additional section too */
		if (!resp || (!answer && !mcast))
			continue;
		if (type == 1 || type == 28) {
			size_t alen = type == 1 ? 4 : 16;
			uint8_t a[16] = { 0 };
			if (rdlen != alen) {
				dctx_violation(ctx, "%s: %s record of length %u", proto, type == 1 ? "A" : "AAAA", rdlen);
				continue;
			}
			rd_copy(&v, a, alen);
			if (answer && !first_answer[0]) {
				if (type == 1)
					snprintf(first_answer, sizeof first_answer, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
				else
					snprintf(first_answer, sizeof first_answer, "ipv6");
			}
			if (facts++ < DNS_MAX_FACTS && rcode == 0)
				bind_name(ctx, type == 1 ? 4 : 6, a, name, mcast);
		} else if (type == 12 && !mcast) {
			uint8_t a[4];
			char target[256];
			if (!parse_in_addr(name, a))
				continue;
			struct rd vv = v;
			int e2 = read_name(msg, &vv, target, sizeof target);
			if (e2) {
				dctx_violation(ctx, "%s: PTR record: %s", proto, name_err(e2));
				continue;
			}
			if (facts++ < DNS_MAX_FACTS)
				bind_name(ctx, 4, a, target, false);
		} else if (type == 16 && mcast && !strcmp(proto, "mdns")) {
			txt_model(ctx, &v);
		}
	}
	if (first_answer[0] && strcmp(first_answer, "ipv6"))
		pdu_s(ctx, "answer", first_answer);
	pdu_end(ctx);
	if (!bad && !rd_empty(&r) && walked == nrr && !ctx->truncated && strcmp(proto, "dns") == 0 &&
	    ctx->pkt->transport == TR_TCP)
		dctx_violation(ctx, "%s: %zu bytes after the last record", proto, rd_left(&r));
	return bad ? -1 : 0;
}

static int dns_parse(struct dctx *ctx, struct rd *r)
{
	if (ctx->pkt->transport == TR_TCP) {
		uint16_t len = rd_be16(r);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "dns: TCP message without its length");
			return -1;
		}
		if (len > rd_left(r)) {
			if (!ctx->truncated) {
				dctx_violation(ctx, "dns: TCP length %u beyond the data", len);
				return -1;
			}
			return dns_message(ctx, r); /* the head of an oversize message */
		}
		struct rd msg = rd_sub(r, len);
		return dns_message(ctx, &msg);
	}
	return dns_message(ctx, r);
}

static ssize_t dns_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 2)
		return 0;
	struct rd r = rd_init(data, len);
	uint16_t l = rd_be16(&r);
	if (l < 12)
		return -1;
	return 2 + (ssize_t)l;
}

static const uint16_t dns_ports[] = { 53, 5353, 5355, 0 };

const struct dissector dns_dissector = {
	.name = "dns",
	.transports = DT_UDP | DT_TCP,
	.ports = dns_ports,
	.pdu_len = dns_pdu_len,
	.parse = dns_parse,
};
