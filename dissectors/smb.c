/*
 * smb.c - SMB1 and SMB2/3 over TCP (445 direct, 139 NetBIOS session): the negotiate
 * and session setup exchanges, which name the hosts, their domain and their OS.
 *
 * Emits: a pdu record per SMB message (version 1/2, command, is_response, status,
 * dialect of an SMB2 negotiate response, ntlmssp message type); identity facts:
 *  - NTLMSSP CHALLENGE (server): target info NetBIOS computer name -> "hostname",
 *    NetBIOS domain -> "domain", DNS computer name -> "dns_name", OS version
 *    (major.minor build) -> "os_version" of the server;
 *  - NTLMSSP AUTHENTICATE (client): workstation -> "hostname", domain -> "domain",
 *    OS version -> "os_version" of the client;
 *  - SMB1 session setup: Native OS -> "os", Native LAN Manager -> "lan_manager" of the
 *    sender, primary domain (responses) -> "domain".
 * Violations: bad NetBIOS session framing, truncated SMB headers, NTLMSSP buffers
 * pointing outside the message.
 *
 * Must never: read a byte except through struct rd; the NTLMSSP signature search is
 * bounded by the message.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "it_ber.h"

static ssize_t smb_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 4)
		return 0;
	struct rd r = rd_init(data, len);
	uint8_t type = rd_u8(&r);
	uint32_t l = rd_be24(&r);
	switch (type) {
	case 0x00: /* session message (24-bit length on 445, 17-bit on 139) */
	case 0x81: case 0x82: case 0x83: case 0x84: case 0x85:
		break;
	default:
		return -1;
	}
	if (type != 0x00 && l > 0x1ffff)
		return -1;
	return 4 + (ssize_t)l;
}

/* A security buffer (len, maxlen, offset) relative to the NTLMSSP start, as text. */
static bool secbuf_text(const struct rd *msg, struct rd *r, bool unicode, char *dst, size_t dstsz)
{
	uint16_t len = rd_le16(r);
	rd_skip(r, 2);
	uint32_t off = rd_le32(r);
	dst[0] = '\0';
	if (!rd_ok(r))
		return false;
	if (!len)
		return true;
	struct rd s = *msg;
	if (!rd_skip(&s, off) || rd_left(&s) < len)
		return false;
	if (unicode)
		return rd_utf16_ascii(&s, len, dst, dstsz);
	return rd_text(&s, len, dst, dstsz);
}

static void ntlm_version(struct dctx *ctx, struct rd *v, enum fact_subject who)
{
	uint8_t major = rd_u8(v), minor = rd_u8(v);
	uint16_t build = rd_le16(v);
	if (rd_ok(v) && major)
		dctx_identity(ctx, who, "os_version", "%u.%u build %u", major, minor, build);
}

/* Parses the NTLMSSP message at msg; returns its type or 0. */
static unsigned ntlmssp(struct dctx *ctx, struct rd *msg, bool server)
{
	struct rd r = *msg;
	char sig[9];
	rd_copy(&r, sig, 8);
	sig[8] = '\0';
	uint32_t type = rd_le32(&r);
	if (!rd_ok(&r) || memcmp(sig, "NTLMSSP", 8))
		return 0;
	pdu_u(ctx, "ntlmssp_type", type);
	enum fact_subject me = SUBJ_SRC;
	(void)server;
	if (type == 2) {
		struct rd tn = r;
		rd_skip(&r, 8); /* target name */
		uint32_t flags = rd_le32(&r);
		rd_skip(&r, 16); /* challenge, reserved */
		uint16_t tilen = rd_le16(&r);
		rd_skip(&r, 2);
		uint32_t tioff = rd_le32(&r);
		if (!rd_ok(&r)) {
			dctx_violation(ctx, "smb: NTLMSSP challenge truncated");
			return type;
		}
		char dom[FACT_STR];
		if (secbuf_text(msg, &tn, flags & 1, dom, sizeof dom) && dom[0])
			dctx_identity(ctx, me, "domain", "%s", dom);
		if (flags & 0x02000000) { /* version present */
			struct rd v = r;
			ntlm_version(ctx, &v, me);
		}
		struct rd ti = *msg;
		if (!rd_skip(&ti, tioff) || rd_left(&ti) < tilen) {
			if (tilen)
				dctx_violation(ctx, "smb: NTLMSSP target info outside the message");
			return type;
		}
		ti = rd_sub(&ti, tilen);
		while (rd_left(&ti) >= 4) {
			uint16_t id = rd_le16(&ti), l = rd_le16(&ti);
			if (id == 0)
				break;
			char s[FACT_STR];
			if (!rd_utf16_ascii(&ti, l, s, sizeof s)) {
				dctx_violation(ctx, "smb: NTLMSSP AV pair %u runs past the target info", id);
				break;
			}
			if (id == 1)
				dctx_identity(ctx, me, "hostname", "%s", s);
			else if (id == 2)
				dctx_identity(ctx, me, "domain", "%s", s);
			else if (id == 3)
				dctx_identity(ctx, me, "dns_name", "%s", s);
			else if (id == 4)
				dctx_identity(ctx, me, "dns_domain", "%s", s);
		}
	} else if (type == 3) {
		struct rd b = r;
		rd_skip(&b, 16); /* LM, NT responses */
		struct rd domb = b;
		rd_skip(&b, 8);
		rd_skip(&b, 8); /* user: not an identity of the device */
		struct rd wsb = b;
		rd_skip(&b, 8 + 8); /* workstation, session key */
		uint32_t flags = rd_le32(&b);
		if (!rd_ok(&b)) {
			dctx_violation(ctx, "smb: NTLMSSP authenticate truncated");
			return type;
		}
		char dom[FACT_STR], ws[FACT_STR];
		bool ok1 = secbuf_text(msg, &domb, flags & 1, dom, sizeof dom);
		bool ok2 = secbuf_text(msg, &wsb, flags & 1, ws, sizeof ws);
		if (!ok1 || !ok2)
			dctx_violation(ctx, "smb: NTLMSSP authenticate buffer outside the message");
		if (ws[0])
			dctx_identity(ctx, me, "hostname", "%s", ws);
		if (dom[0])
			dctx_identity(ctx, me, "domain", "%s", dom);
		if (flags & 0x02000000) {
			struct rd v = b;
			ntlm_version(ctx, &v, me);
		}
	}
	return type;
}

/* Finds "NTLMSSP\0" in r (bounded by its length) and parses the message there. */
static void find_ntlmssp(struct dctx *ctx, const struct rd *r, bool server)
{
	struct rd s = *r;
	while (rd_left(&s) >= 12) {
		if (rd_peek(&s, 0) == 'N' && rd_peek(&s, 1) == 'T' && rd_peek(&s, 2) == 'L' && rd_peek(&s, 3) == 'M' &&
		    rd_peek(&s, 4) == 'S' && rd_peek(&s, 5) == 'S' && rd_peek(&s, 6) == 'P' && rd_peek(&s, 7) == 0) {
			ntlmssp(ctx, &s, server);
			return;
		}
		rd_skip(&s, 1);
	}
}

/* An SMB1 string at r: Unicode (aligned to 2 from the header start) or OEM. */
static bool smb1_string(const struct rd *hdr, struct rd *r, bool unicode, char *dst, size_t dstsz)
{
	dst[0] = '\0';
	if (rd_empty(r))
		return false;
	if (unicode) {
		if ((rd_left(hdr) - rd_left(r)) & 1)
			rd_skip(r, 1);
		size_t n = 0;
		while (n + 1 < rd_left(r) && (rd_peek(r, n) || rd_peek(r, n + 1)))
			n += 2;
		rd_utf16_ascii(r, n, dst, dstsz);
		rd_skip(r, n + 2 <= rd_left(r) ? 2 : rd_left(r));
	} else {
		size_t n = 0;
		while (n < rd_left(r) && rd_peek(r, n) > 0)
			n++;
		rd_text(r, n, dst, dstsz);
		rd_skip(r, n < rd_left(r) ? 1 : 0);
	}
	return rd_ok(r);
}

static void smb1(struct dctx *ctx, const struct rd *hdr)
{
	struct rd r = *hdr;
	rd_skip(&r, 4);
	uint8_t cmd = rd_u8(&r);
	uint32_t status = rd_le32(&r);
	uint8_t flags = rd_u8(&r);
	uint16_t flags2 = rd_le16(&r);
	rd_skip(&r, 20);
	if (!rd_ok(&r)) {
		dctx_violation(ctx, "smb: SMB1 header truncated");
		return;
	}
	bool resp = flags & 0x80;
	bool unicode = flags2 & 0x8000;
	pdu_begin(ctx, resp ? "response" : "request");
	pdu_u(ctx, "version", 1);
	pdu_u(ctx, "command", cmd);
	pdu_b(ctx, "is_response", resp);
	pdu_u(ctx, "status", status);
	if (cmd != 0x73) {
		pdu_end(ctx);
		return;
	}
	uint8_t wc = rd_u8(&r);
	struct rd words = rd_sub(&r, (size_t)wc * 2);
	uint16_t bc = rd_le16(&r);
	struct rd bytes = rd_sub(&r, bc);
	if (!rd_ok(&r)) {
		if (!ctx->truncated && status == 0)
			dctx_violation(ctx, "smb: session setup words/bytes beyond the message");
		pdu_end(ctx);
		return;
	}
	uint16_t bloblen = 0;
	bool has_blob = false;
	if (!resp && wc == 12) {
		rd_skip(&words, 14);
		bloblen = rd_le16(&words);
		has_blob = true;
	} else if (resp && wc == 4) {
		rd_skip(&words, 6);
		bloblen = rd_le16(&words);
		has_blob = true;
	} else if (!resp && wc == 13) {
		rd_skip(&words, 14);
		uint16_t ansi = rd_le16(&words), uni = rd_le16(&words);
		rd_skip(&bytes, (size_t)ansi + uni);
		char acct[FACT_STR];
		smb1_string(hdr, &bytes, unicode, acct, sizeof acct); /* account: not device identity */
		char dom[FACT_STR];
		smb1_string(hdr, &bytes, unicode, dom, sizeof dom);
		if (dom[0] && strcmp(dom, "?"))
			dctx_identity(ctx, SUBJ_SRC, "domain", "%s", dom);
	} else if (!(resp && wc == 3)) {
		pdu_end(ctx);
		return;
	}
	if (has_blob) {
		struct rd blob = rd_sub(&bytes, bloblen);
		if (!rd_ok(&bytes)) {
			dctx_violation(ctx, "smb: security blob longer than the byte count");
			pdu_end(ctx);
			return;
		}
		find_ntlmssp(ctx, &blob, resp);
	}
	char os[FACT_STR], lm[FACT_STR], dom[FACT_STR];
	smb1_string(hdr, &bytes, unicode, os, sizeof os);
	smb1_string(hdr, &bytes, unicode, lm, sizeof lm);
	smb1_string(hdr, &bytes, unicode, dom, sizeof dom);
	if (os[0]) {
		pdu_s(ctx, "native_os", os);
		dctx_identity(ctx, SUBJ_SRC, "os", "%s", os);
	}
	if (lm[0]) {
		pdu_s(ctx, "native_lanman", lm);
		dctx_identity(ctx, SUBJ_SRC, "lan_manager", "%s", lm);
	}
	if (dom[0] && resp)
		dctx_identity(ctx, SUBJ_SRC, "domain", "%s", dom);
	pdu_end(ctx);
}

static void smb2(struct dctx *ctx, const struct rd *hdr)
{
	struct rd r = *hdr;
	rd_skip(&r, 4);
	uint16_t hlen = rd_le16(&r);
	rd_skip(&r, 2);
	uint32_t status = rd_le32(&r);
	uint16_t cmd = rd_le16(&r);
	rd_skip(&r, 2);
	uint32_t flags = rd_le32(&r);
	rd_skip(&r, 64 - 20);
	if (!rd_ok(&r) || hlen != 64) {
		dctx_violation(ctx, "smb: SMB2 header truncated or of size %u", hlen);
		return;
	}
	bool resp = flags & 1;
	pdu_begin(ctx, resp ? "response" : "request");
	pdu_u(ctx, "version", 2);
	pdu_u(ctx, "command", cmd);
	pdu_b(ctx, "is_response", resp);
	pdu_u(ctx, "status", status);
	if (cmd == 0 && resp) {
		rd_skip(&r, 4);
		uint16_t dialect = rd_le16(&r);
		if (rd_ok(&r))
			pdu_u(ctx, "dialect", dialect);
	} else if (cmd == 1) {
		/* security buffer offset/length: request at +12, response at +4 */
		struct rd b = r;
		rd_skip(&b, resp ? 4 : 12);
		uint16_t off = rd_le16(&b), len = rd_le16(&b);
		struct rd blob = *hdr;
		if (!rd_ok(&b) || !rd_skip(&blob, off) || rd_left(&blob) < len) {
			if (!ctx->truncated && len)
				dctx_violation(ctx, "smb: SMB2 session setup security buffer outside the message");
		} else {
			blob = rd_sub(&blob, len);
			find_ntlmssp(ctx, &blob, resp);
		}
	}
	pdu_end(ctx);
}

static int smb_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t type = rd_u8(r);
	rd_skip(r, 3);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "smb: NetBIOS session header truncated");
		return -1;
	}
	if (type != 0x00)
		return 0; /* session request/response/keepalive */
	if (rd_left(r) < 4)
		return 0;
	struct rd hdr = *r;
	uint32_t magic = rd_be32(r);
	if (magic == 0xff534d42u)
		smb1(ctx, &hdr);
	else if (magic == 0xfe534d42u)
		smb2(ctx, &hdr);
	else if (magic != 0xfd534d42u) /* SMB3 transform (encrypted): nothing to read */
		dctx_violation(ctx, "smb: unknown protocol id %08x", magic);
	return 0;
}

static bool smb_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	uint8_t type = rd_u8(&r);
	uint32_t l = rd_be24(&r);
	uint32_t magic = rd_be32(&r);
	if (!rd_ok(&r) || type != 0 || l < 32 || l > 0x1ffff || l + 4 < len)
		return false;
	return magic == 0xff534d42u || magic == 0xfe534d42u;
}

static const uint16_t smb_ports[] = { 445, 139, 0 };

const struct dissector smb_dissector = {
	.name = "smb",
	.transports = DT_TCP,
	.ports = smb_ports,
	.probe = smb_probe,
	.pdu_len = smb_pdu_len,
	.parse = smb_parse,
};
