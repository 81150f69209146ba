/*
 * tls.c - TLS/SSL records over TCP: which names clients ask servers for (SNI), and
 * which certificate a server presents (TLS 1.2 and earlier; TLS 1.3 encrypts it).
 *
 * Emits: a pdu record per TLS record (content_type, record_version, length; for
 * handshake records handshake_type of the first message and handshakes (count);
 * ClientHello: client_version, sni; ServerHello: server_version, cipher_suite,
 * selected_version from supported_versions; Certificate: cert_subject, cert_issuer);
 * identity facts: ClientHello SNI -> "sni" of the server (DST); the server's leaf
 * certificate subject and issuer -> "cert_subject" / "cert_issuer" of the server (SRC),
 * formatted "CN=..., O=..., C=..." with the CN first.
 * Handshake messages that continue in the next record are tracked per direction (the
 * bytes still owed are skipped there); handshake records after ChangeCipherSpec are
 * encrypted and only counted.
 * Violations: bad record headers, handshake message lengths past their record,
 * ClientHello/ServerHello fields past their message, malformed certificate DER.
 *
 * Must never: read a byte except through struct rd; the X.509 walk is a fixed depth.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "it_ber.h"

#define TLS_MAX_RECORD (16384 + 2048)

struct tls_state {
	uint32_t owed[2];   /* bytes of a handshake message continuing in later records, per direction */
	uint8_t ccs[2];     /* ChangeCipherSpec seen: later handshake records are encrypted */
	uint8_t tls13;
};

_Static_assert(sizeof(struct tls_state) <= DISSECTOR_STATE_SIZE, "tls state too large");

static ssize_t tls_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 5)
		return 0;
	struct rd r = rd_init(data, len);
	uint8_t type = rd_u8(&r), major = rd_u8(&r), minor = rd_u8(&r);
	uint16_t l = rd_be16(&r);
	if (type < 20 || type > 24 || major != 3 || minor > 4 || l > TLS_MAX_RECORD)
		return -1;
	return 5 + (ssize_t)l;
}

static bool tls_probe(const uint8_t *data, size_t len, bool to_server)
{
	struct rd r = rd_init(data, len);
	uint8_t type = rd_u8(&r), major = rd_u8(&r), minor = rd_u8(&r);
	uint16_t l = rd_be16(&r);
	uint8_t ht = rd_u8(&r);
	uint32_t hl = rd_be24(&r);
	uint8_t vmaj = rd_u8(&r), vmin = rd_u8(&r);
	if (!rd_ok(&r) || type != 22 || major != 3 || minor > 4 || l < 38 || l > TLS_MAX_RECORD)
		return false;
	if (ht != (to_server ? 1 : 2) || hl + 4 > 0xffffff || hl < 34 || vmaj != 3 || vmin > 4)
		return false;
	return hl + 4 <= l || l == 16384 || (size_t)l + 5 > len; /* one message, or one that spans records */
}

/* --- X.509 names --- */

static const char *attr_abbrev(const char *oid)
{
	if (!strcmp(oid, "2.5.4.3")) return "CN";
	if (!strcmp(oid, "2.5.4.10")) return "O";
	if (!strcmp(oid, "2.5.4.11")) return "OU";
	if (!strcmp(oid, "2.5.4.6")) return "C";
	if (!strcmp(oid, "2.5.4.7")) return "L";
	if (!strcmp(oid, "2.5.4.8")) return "ST";
	if (!strcmp(oid, "2.5.4.5")) return "serialNumber";
	if (!strcmp(oid, "1.2.840.113549.1.9.1")) return "emailAddress";
	return NULL;
}

/* Formats a Name (SEQUENCE OF SET OF AttributeTypeAndValue), CN first. */
static bool dn_text(struct rd name, char *dst, size_t dstsz)
{
	size_t k = 0;
	bool bad = false;
	dst[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		struct rd seq = name;
		int guard = 0;
		while (!rd_empty(&seq) && guard++ < 64) {
			struct rd set, atv, oidv, val;
			uint8_t vt = 0;
			if (!ber_expect(&seq, 0x31, &set, &bad))
				return false;
			while (!rd_empty(&set) && guard++ < 64) {
				char oid[64], text[FACT_STR];
				if (!ber_expect(&set, 0x30, &atv, &bad) || !ber_expect(&atv, 0x06, &oidv, &bad) ||
				    !ber_oid(&oidv, oid, sizeof oid) || !ber_tlv(&atv, &vt, &val, &bad))
					return false;
				const char *ab = attr_abbrev(oid);
				bool cn = ab && !strcmp(ab, "CN");
				if (!ab || cn != (pass == 0))
					continue;
				if (vt == 0x1e) { /* BMPString: UCS-2 big-endian, keep the low bytes */
					size_t j = 0;
					while (rd_left(&val) >= 2 && j + 1 < sizeof text) {
						rd_u8(&val);
						uint8_t c = rd_u8(&val);
						text[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
					}
					text[j] = '\0';
				} else {
					rd_text(&val, rd_left(&val), text, sizeof text);
				}
				if (k + 1 < dstsz) {
					int w = snprintf(dst + k, dstsz - k, "%s%s=%s", k ? ", " : "", ab, text);
					if (w > 0)
						k = k + (size_t)w < dstsz ? k + (size_t)w : dstsz - 1;
				}
			}
		}
	}
	return true;
}

/* Subject and issuer of the first certificate of a Certificate message body. */
static void certificate(struct dctx *ctx, struct rd *m, bool partial)
{
	uint32_t total = rd_be24(m);
	uint32_t clen = rd_be24(m);
	(void)total;
	if (!rd_ok(m) || clen == 0)
		return;
	struct rd cert = rd_left(m) >= clen ? rd_sub(m, clen) : rd_sub(m, rd_left(m));
	bool bad = false;
	struct rd c, tbs, v, issuer, subject;
	uint8_t tag = 0;
	if (!ber_expect(&cert, 0x30, &c, &bad) || !ber_expect(&c, 0x30, &tbs, &bad))
		goto out;
	if (!ber_tlv(&tbs, &tag, &v, &bad))
		goto out;
	if (tag == 0xa0 && !ber_expect(&tbs, 0x02, &v, &bad)) /* version, then serial */
		goto out;
	if (!ber_expect(&tbs, 0x30, &v, &bad) || !ber_expect(&tbs, 0x30, &issuer, &bad) ||
	    !ber_expect(&tbs, 0x30, &v, &bad) || !ber_expect(&tbs, 0x30, &subject, &bad))
		goto out;
	char is[FACT_STR], sj[FACT_STR];
	if (!dn_text(issuer, is, sizeof is) || !dn_text(subject, sj, sizeof sj)) {
		bad = true;
		goto out;
	}
	pdu_s(ctx, "cert_subject", sj);
	pdu_s(ctx, "cert_issuer", is);
	dctx_identity(ctx, SUBJ_SRC, "cert_subject", "%s", sj);
	dctx_identity(ctx, SUBJ_SRC, "cert_issuer", "%s", is);
	return;
out:
	/* a certificate cut by the record end is not malformed; only judge whole ones */
	if (bad && !partial)
		dctx_violation(ctx, "tls: certificate DER does not parse");
}

static void client_hello(struct dctx *ctx, struct rd *m)
{
	uint16_t ver = rd_be16(m);
	rd_skip(m, 32);
	uint8_t sidl = rd_u8(m);
	rd_skip(m, sidl);
	uint16_t csl = rd_be16(m);
	rd_skip(m, csl);
	uint8_t cml = rd_u8(m);
	rd_skip(m, cml);
	if (!rd_ok(m)) {
		dctx_violation(ctx, "tls: ClientHello fields run past the message");
		return;
	}
	pdu_u(ctx, "client_version", ver);
	pdu_u(ctx, "cipher_suites", csl / 2);
	if (rd_empty(m))
		return;
	uint16_t el = rd_be16(m);
	struct rd ext = rd_sub(m, el);
	if (!rd_ok(m)) {
		dctx_violation(ctx, "tls: ClientHello extensions run past the message");
		return;
	}
	while (rd_left(&ext) >= 4) {
		uint16_t et = rd_be16(&ext), l = rd_be16(&ext);
		struct rd e = rd_sub(&ext, l);
		if (!rd_ok(&ext)) {
			dctx_violation(ctx, "tls: ClientHello extension %u runs past the extensions", et);
			return;
		}
		if (et != 0)
			continue;
		rd_skip(&e, 2); /* server name list length */
		while (rd_left(&e) >= 3) {
			uint8_t nt = rd_u8(&e);
			uint16_t nl = rd_be16(&e);
			char name[256];
			if (!rd_text(&e, nl, name, sizeof name)) {
				dctx_violation(ctx, "tls: server name runs past its extension");
				return;
			}
			if (nt == 0 && name[0]) {
				pdu_s(ctx, "sni", name);
				dctx_identity(ctx, SUBJ_DST, "sni", "%s", name);
				break;
			}
		}
	}
}

static void server_hello(struct dctx *ctx, struct tls_state *s, struct rd *m)
{
	uint16_t ver = rd_be16(m);
	rd_skip(m, 32);
	uint8_t sidl = rd_u8(m);
	rd_skip(m, sidl);
	uint16_t cs = rd_be16(m);
	rd_skip(m, 1);
	if (!rd_ok(m)) {
		dctx_violation(ctx, "tls: ServerHello fields run past the message");
		return;
	}
	pdu_u(ctx, "server_version", ver);
	pdu_u(ctx, "cipher_suite", cs);
	if (rd_left(m) < 2)
		return;
	uint16_t el = rd_be16(m);
	struct rd ext = rd_sub(m, el);
	while (rd_ok(&ext) && rd_left(&ext) >= 4) {
		uint16_t et = rd_be16(&ext), l = rd_be16(&ext);
		struct rd e = rd_sub(&ext, l);
		if (et == 43 && l == 2) {
			uint16_t sv = rd_be16(&e);
			pdu_u(ctx, "selected_version", sv);
			if (sv == 0x0304)
				s->tls13 = 1;
		}
	}
}

static void handshake(struct dctx *ctx, struct tls_state *s, int dir, struct rd *body)
{
	if (s->owed[dir]) {
		size_t k = s->owed[dir] < rd_left(body) ? s->owed[dir] : rd_left(body);
		rd_skip(body, k);
		s->owed[dir] -= (uint32_t)k;
		pdu_b(ctx, "continuation", true);
	}
	unsigned n = 0;
	while (!rd_empty(body) && n < 64) {
		uint8_t ht = rd_u8(body);
		uint32_t hl = rd_be24(body);
		if (!rd_ok(body)) {
			dctx_violation(ctx, "tls: handshake header cut by the record end");
			return;
		}
		if (n == 0)
			pdu_u(ctx, "handshake_type", ht);
		n++;
		pdu_u(ctx, "handshakes", n);
		bool partial = hl > rd_left(body);
		if (partial) {
			if (ctx->truncated || s->tls13 || s->ccs[dir]) {
				/* the stream cut it; nothing owed that we could find */
			} else {
				s->owed[dir] = hl - (uint32_t)rd_left(body);
			}
		}
		struct rd m = rd_sub(body, partial ? rd_left(body) : hl);
		if (partial && (ht == 1 || ht == 2)) {
			if (!ctx->truncated && hl > TLS_MAX_RECORD * 4) {
				dctx_violation(ctx, "tls: %s of %u bytes", ht == 1 ? "ClientHello" : "ServerHello", hl);
				return;
			}
		}
		switch (ht) {
		case 1: client_hello(ctx, &m); break;
		case 2: server_hello(ctx, s, &m); break;
		case 11:
			if (!s->tls13 && dir == 1)
				certificate(ctx, &m, partial);
			break;
		default: break;
		}
	}
}

static int tls_parse(struct dctx *ctx, struct rd *r)
{
	struct tls_state *s = ctx->state;
	int dir = ctx->to_server ? 0 : 1;
	if (ctx->after_gap)
		s->owed[dir] = 0; /* whatever was owed may have been in the lost bytes */
	uint8_t type = rd_u8(r);
	uint16_t ver = rd_be16(r);
	uint16_t len = rd_be16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "tls: record header truncated");
		return -1;
	}
	pdu_begin(ctx, type == 21 ? "event" : ctx->to_server ? "request" : "response");
	pdu_u(ctx, "content_type", type);
	pdu_u(ctx, "record_version", ver);
	pdu_u(ctx, "length", len);
	struct rd body = rd_left(r) >= len ? rd_sub(r, len) : rd_sub(r, rd_left(r));
	if (rd_left(&body) < len && !ctx->truncated) {
		dctx_violation(ctx, "tls: record of %u bytes holds %zu", len, rd_left(&body));
		pdu_end(ctx);
		return -1;
	}
	if (type == 20) {
		s->ccs[dir] = 1;
		s->owed[dir] = 0;
	} else if (type == 22) {
		if (s->ccs[dir] || (s->tls13 && dir == 1)) {
			pdu_b(ctx, "encrypted", true);
		} else {
			handshake(ctx, s, dir, &body);
		}
	} else if (type == 21 && len == 2 && !s->ccs[dir]) {
		pdu_u(ctx, "alert_level", rd_u8(&body));
		pdu_u(ctx, "alert", rd_u8(&body));
	}
	pdu_end(ctx);
	return 0;
}

static const uint16_t tls_ports[] = { 443, 8443, 4843, 0 };

const struct dissector tls_dissector = {
	.name = "tls",
	.transports = DT_TCP,
	.ports = tls_ports,
	.probe = tls_probe,
	.pdu_len = tls_pdu_len,
	.parse = tls_parse,
};
