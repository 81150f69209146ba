/*
 * nbns.c - NetBIOS over UDP: the name service (137) and the datagram service (138)
 * carrying browser announcements: which Windows/Samba hosts are where, and their OS.
 *
 * Emits:
 *  - 137: a pdu record per message (proto "nbns": id, opcode, is_response, rcode,
 *    name, name_suffix, qtype); "hostname" of SRC when a host registers/refreshes its
 *    own unique workstation/server name (opcode 5/8/9 request whose NB record carries
 *    the source address); positive query responses bind the answered address to the
 *    name (subject DST with dst.ip set to the address, dst.mac zeroed, unless it is
 *    the responder's own address: then SRC); node status (NBSTAT) responses give the
 *    responder's unique workstation name -> "hostname" of SRC.
 *  - 138: a pdu record per datagram (proto "nbdgm": msg_type, source_name, dest_name,
 *    and for browser frames browser_cmd, server_name (the workgroup for a domain
 *    announcement), os_version); a browser host or
 *    local master announcement -> "hostname", "os_version" ("major.minor") and
 *    "description" (the comment) of SRC; "role" = "domain_controller" or
 *    "master_browser" when the server type bits say so.
 * Violations: truncated headers, bad first-level name encoding, records past the end.
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

/* A NetBIOS first-level encoded name (32 half-byte letters) at r, plus its scope
 * labels (or a compression pointer, which NBNS uses for answer names). Returns 0, or
 * -1 if malformed. name gets the 15 characters without trailing spaces. */
static int nb_name(struct rd *r, char name[16], uint8_t *suffix)
{
	uint8_t l = rd_u8(r);
	name[0] = '\0';
	if ((l & 0xc0) == 0xc0) { /* pointer back to the question's name */
		rd_skip(r, 1);
		return rd_ok(r) ? 1 : -1;
	}
	if (l != 32)
		return -1;
	uint8_t raw[16];
	for (int i = 0; i < 16; i++) {
		uint8_t a = rd_u8(r), b = rd_u8(r);
		if (a < 'A' || a > 'P' || b < 'A' || b > 'P')
			return -1;
		raw[i] = (uint8_t)((a - 'A') << 4 | (b - 'A'));
	}
	if (!rd_ok(r))
		return -1;
	/* scope labels (bounded by the bytes present) */
	for (;;) {
		int c = rd_peek(r, 0);
		if (c < 0)
			return -1;
		if ((c & 0xc0) == 0xc0) {
			rd_skip(r, 2);
			break;
		}
		rd_skip(r, 1);
		if (c == 0)
			break;
		if (c > 63 || !rd_skip(r, (size_t)c))
			return -1;
	}
	if (!rd_ok(r))
		return -1;
	*suffix = raw[15];
	int k = 0;
	for (int i = 0; i < 15; i++)
		name[k++] = (raw[i] >= 0x20 && raw[i] < 0x7f) ? (char)raw[i] : '.';
	while (k > 0 && name[k - 1] == ' ')
		k--;
	name[k] = '\0';
	return 0;
}

static bool usable_name(const char *n)
{
	return n[0] && n[0] != '*' && strcmp(n, "..__MSBROWSE__.") != 0;
}

static void bind_ip(struct dctx *ctx, const uint8_t ip[4], const char *name)
{
	const struct packet *p = ctx->pkt;
	if (p->ip_version == 4 && !memcmp(p->src_ip, ip, 4)) {
		dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", name);
		return;
	}
	if (!(ip[0] | ip[1] | ip[2] | ip[3]))
		return;
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_IDENTITY);
	f.u.id.subject = SUBJ_DST;
	memset(&f.dst, 0, sizeof f.dst);
	f.dst.family = 4;
	memcpy(f.dst.ip, ip, 4);
	snprintf(f.u.id.key, sizeof f.u.id.key, "hostname");
	fact_str(f.u.id.value, sizeof f.u.id.value, name);
	dctx_emit(ctx, &f);
}

static int ns_parse(struct dctx *ctx, struct rd *r)
{
	uint16_t id = rd_be16(r), flags = rd_be16(r);
	uint16_t qd = rd_be16(r), an = rd_be16(r), ns = rd_be16(r), ar = rd_be16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "nbns: message shorter than the 12-byte header");
		return -1;
	}
	bool resp = flags & 0x8000;
	unsigned opcode = flags >> 11 & 0xf, rcode = flags & 0xf;
	pdu_begin_proto(ctx, "nbns", resp ? "response" : "request");
	pdu_u(ctx, "id", id);
	pdu_b(ctx, "is_response", resp);
	pdu_u(ctx, "opcode", opcode);
	pdu_u(ctx, "rcode", rcode);
	char qname[16] = "";
	uint8_t qsuffix = 0;
	int bad = 0;
	if (qd) {
		if (nb_name(r, qname, &qsuffix) != 0) {
			dctx_violation(ctx, "nbns: bad question name");
			bad = 1;
		} else {
			uint16_t qtype = rd_be16(r);
			rd_skip(r, 2);
			pdu_s(ctx, "name", qname);
			pdu_u(ctx, "name_suffix", qsuffix);
			pdu_u(ctx, "qtype", qtype);
		}
	}
	unsigned nrr = (unsigned)an + ns + ar;
	for (unsigned i = 0; i < nrr && i < 16 && !bad; i++) {
		char rname[16];
		uint8_t rsuffix = qsuffix;
		int e = nb_name(r, rname, &rsuffix);
		if (e == 1) { /* pointer: the question's name */
			memcpy(rname, qname, sizeof rname);
			rsuffix = qsuffix;
		}
		uint16_t type = rd_be16(r);
		rd_skip(r, 6);
		uint16_t rdlen = rd_be16(r);
		struct rd v = rd_sub(r, rdlen);
		if (e < 0 || !rd_ok(r)) {
			dctx_violation(ctx, "nbns: resource record %u malformed or past the end", i);
			bad = 1;
			break;
		}
		if (!i && !qd) {
			pdu_s(ctx, "name", rname);
			pdu_u(ctx, "name_suffix", rsuffix);
		}
		if (type == 0x20 && usable_name(rname)) { /* NB: flags + IPv4, repeated */
			bool own_claim = !resp && (opcode == 5 || opcode == 8 || opcode == 9);
			bool positive = resp && opcode == 0 && rcode == 0;
			while (rd_left(&v) >= 6 && (own_claim || positive)) {
				uint16_t nbflags = rd_be16(&v);
				uint8_t ip[4];
				rd_copy(&v, ip, 4);
				bool group = nbflags & 0x8000;
				if (group || (rsuffix != 0x00 && rsuffix != 0x20))
					continue;
				if (own_claim) {
					if (ctx->pkt->ip_version == 4 && !memcmp(ctx->pkt->src_ip, ip, 4))
						dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", rname);
				} else {
					bind_ip(ctx, ip, rname);
				}
			}
		} else if (type == 0x21 && resp && rcode == 0) { /* NBSTAT: the responder's names */
			uint8_t n = rd_u8(&v);
			for (unsigned j = 0; j < n && rd_left(&v) >= 18; j++) {
				char nm[16];
				rd_text(&v, 15, nm, sizeof nm);
				uint8_t sfx = rd_u8(&v);
				uint16_t nf = rd_be16(&v);
				if (sfx == 0x00 && !(nf & 0x8000) && usable_name(nm)) {
					dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", nm);
					break;
				}
			}
		}
	}
	pdu_end(ctx);
	return bad ? -1 : 0;
}

/* --- 138: datagram service and the browser protocol inside SMB mailslots --- */

static void browser(struct dctx *ctx, struct rd *d)
{
	uint8_t cmd = rd_u8(d);
	pdu_u(ctx, "browser_cmd", cmd);
	if (cmd != 0x01 && cmd != 0x0f && cmd != 0x0c) /* host / local master / domain announcement */
		return;
	rd_skip(d, 1 + 4); /* update count, periodicity */
	char host[17];
	struct rd hn = rd_sub(d, 16);
	size_t hl = 0;
	while (hl < 16 && rd_peek(&hn, hl) > 0)
		hl++;
	rd_text(&hn, hl, host, sizeof host); /* NUL-padded: what follows the NUL is noise */
	uint8_t major = rd_u8(d), minor = rd_u8(d);
	uint32_t type = rd_le32(d);
	rd_skip(d, 4); /* browser version, signature */
	char comment[FACT_STR] = "";
	struct rd c = *d;
	size_t n = 0;
	while (rd_peek(&c, n) > 0 && n < rd_left(&c))
		n++;
	rd_text(&c, n, comment, sizeof comment);
	if (!rd_ok(d)) {
		dctx_violation(ctx, "nbdgm: browser announcement truncated");
		return;
	}
	pdu_s(ctx, "server_name", host);
	char ver[16];
	snprintf(ver, sizeof ver, "%u.%u", major, minor);
	pdu_s(ctx, "os_version", ver);
	pdu_u(ctx, "server_type", type);
	if (cmd == 0x0c) /* the name is the workgroup's; the comment is its master browser */
		return;
	dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", host);
	dctx_identity(ctx, SUBJ_SRC, "os_version", "%u.%u", major, minor);
	dctx_identity(ctx, SUBJ_SRC, "description", "%s", comment);
	if (type & 0x18)
		dctx_identity(ctx, SUBJ_SRC, "role", "domain_controller");
	else if (type & 0x00040000)
		dctx_identity(ctx, SUBJ_SRC, "role", "master_browser");
}

/* The SMB Transaction request carrying a mailslot write. */
static void mailslot(struct dctx *ctx, struct rd *smb)
{
	struct rd s = *smb;
	uint32_t magic = rd_be32(&s);
	uint8_t cmd = rd_u8(&s);
	rd_skip(&s, 27);
	uint8_t wc = rd_u8(&s);
	if (!rd_ok(&s) || magic != 0xff534d42u || cmd != 0x25 || wc < 14)
		return;
	rd_skip(&s, 22); /* counts, flags, timeout, reserved, parameter count/offset */
	uint16_t dcount = rd_le16(&s);
	uint16_t doff = rd_le16(&s);
	if (!rd_ok(&s))
		return;
	struct rd d = *smb;
	if (!rd_skip(&d, doff) || rd_left(&d) < dcount) {
		dctx_violation(ctx, "nbdgm: mailslot data (offset %u, count %u) beyond the datagram", doff, dcount);
		return;
	}
	d = rd_sub(&d, dcount);
	browser(ctx, &d);
}

static int dgm_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t type = rd_u8(r);
	rd_skip(r, 1 + 2 + 4 + 2); /* flags, id, source ip, source port */
	if (!rd_ok(r)) {
		dctx_violation(ctx, "nbdgm: datagram shorter than its header");
		return -1;
	}
	pdu_begin_proto(ctx, "nbdgm", "event");
	pdu_u(ctx, "msg_type", type);
	if (type < 0x10 || type > 0x12)
		return 0; /* errors and queries: nothing to learn */
	rd_skip(r, 4); /* length, offset */
	char src[16], dst[16];
	uint8_t ssfx = 0, dsfx = 0;
	if (nb_name(r, src, &ssfx) != 0 || nb_name(r, dst, &dsfx) != 0) {
		dctx_violation(ctx, "nbdgm: bad source or destination name");
		pdu_end(ctx);
		return -1;
	}
	pdu_s(ctx, "source_name", src);
	pdu_s(ctx, "dest_name", dst);
	pdu_u(ctx, "dest_suffix", dsfx);
	struct rd smb = *r;
	mailslot(ctx, &smb);
	pdu_end(ctx);
	return 0;
}

static int nbns_parse(struct dctx *ctx, struct rd *r)
{
	if (ctx->pkt->sport == 138 || ctx->pkt->dport == 138)
		return dgm_parse(ctx, r);
	return ns_parse(ctx, r);
}

static const uint16_t nbns_ports[] = { 137, 138, 0 };

const struct dissector nbns_dissector = {
	.name = "nbns",
	.transports = DT_UDP,
	.ports = nbns_ports,
	.parse = nbns_parse,
};
