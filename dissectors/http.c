/*
 * http.c - HTTP/1.x over TCP: which software the clients and servers run.
 *
 * Emits: a pdu record per request (method, uri, version, host, user_agent) and per
 * response (status, version, server, content_type), named as tshark's
 * http.request.method / http.request.uri / http.response.code; identity facts:
 * User-Agent -> "user_agent" of the client, Server -> "server_software" of the
 * server, Host -> "http_host" of the server (the name the client used); an
 * operation fact per request (method; POST/PUT/DELETE/PATCH as writes).
 * Violations: a request or status line that does not parse, a header section longer
 * than HTTP_MAX_HEADER without its blank line, a bad Content-Length.
 *
 * Framing: headers end at "\r\n\r\n" (searched up to HTTP_MAX_HEADER bytes, beyond
 * that what is there is delivered as one PDU), then Content-Length bytes or a chunked
 * body (walked chunk by chunk). Bytes that do not start with a request or status line
 * (a body of unknown length, a HEAD response's missing body, junk) are consumed
 * silently as one PDU.
 *
 * Must never: read a byte except through struct rd, or scan beyond the bytes present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissector.h"

#define HTTP_MAX_HEADER 8192

static const char *const methods[] = { "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT",
				       "TRACE", NULL };

/* Does r start with "tok" (case-sensitive)? */
static bool starts(const struct rd *r, const char *tok)
{
	size_t n = strlen(tok);
	for (size_t i = 0; i < n; i++)
		if (rd_peek(r, i) != (uint8_t)tok[i])
			return false;
	return true;
}

static bool lower_eq(int c, char t) { return c >= 0 && (c == t || (c >= 'A' && c <= 'Z' && c + 32 == t)); }

/* Offset just after "\r\n\r\n" within the first max bytes, or 0. */
static size_t header_end(const struct rd *r, size_t max)
{
	size_t n = rd_left(r) < max ? rd_left(r) : max;
	for (size_t i = 0; i + 3 < n; i++)
		if (rd_peek(r, i) == '\r' && rd_peek(r, i + 1) == '\n' && rd_peek(r, i + 2) == '\r' &&
		    rd_peek(r, i + 3) == '\n')
			return i + 4;
	return 0;
}

static int start_kind(const struct rd *r)
{
	if (starts(r, "HTTP/1."))
		return 2;
	for (int i = 0; methods[i]; i++) {
		struct rd t = *r;
		if (starts(&t, methods[i]) && rd_peek(&t, strlen(methods[i])) == ' ')
			return 1;
	}
	return 0;
}

/* Finds header `name` (lowercase) in the header block [0, hlen) of r; copies its value. */
static bool header_value(const struct rd *r, size_t hlen, const char *name, char *dst, size_t dstsz)
{
	size_t nl = strlen(name);
	dst[0] = '\0';
	for (size_t i = 0; i + 2 < hlen; i++) {
		if (!(rd_peek(r, i) == '\n'))
			continue;
		size_t s = i + 1;
		size_t j = 0;
		while (j < nl && lower_eq(rd_peek(r, s + j), name[j]))
			j++;
		if (j != nl || rd_peek(r, s + nl) != ':')
			continue;
		size_t v = s + nl + 1;
		while (v < hlen && (rd_peek(r, v) == ' ' || rd_peek(r, v) == '\t'))
			v++;
		size_t e = v;
		while (e < hlen && rd_peek(r, e) != '\r' && rd_peek(r, e) != '\n')
			e++;
		struct rd t = *r;
		rd_skip(&t, v);
		rd_text(&t, e - v, dst, dstsz);
		return true;
	}
	return false;
}

/* Walks a chunked body at r; returns its length, 0 if incomplete, -1 if malformed. */
static ssize_t chunked_len(const struct rd *r)
{
	size_t off = 0, n = rd_left(r);
	for (int guard = 0; guard < 100000 && off < n; guard++) {
		uint64_t sz = 0;
		size_t k = 0;
		int c;
		while ((c = rd_peek(r, off + k)) >= 0) {
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				break;
			sz = sz << 4 | (uint64_t)d;
			if (++k > 12)
				return -1;
		}
		if (c < 0)
			return 0;
		if (k == 0)
			return -1;
		/* skip extensions to the end of the line */
		size_t e = off + k;
		while ((c = rd_peek(r, e)) >= 0 && c != '\n')
			if (++e - off > 1024)
				return -1;
		if (c < 0)
			return 0;
		off = e + 1;
		if (sz == 0) { /* trailers until an empty line */
			for (;;) {
				size_t ls = off;
				while ((c = rd_peek(r, off)) >= 0 && c != '\n')
					off++;
				if (c < 0)
					return 0;
				off++;
				if (off - ls <= 2)
					return (ssize_t)off;
			}
		}
		if (sz > (uint64_t)1 << 40)
			return -1;
		off += (size_t)sz;
		if (off + 2 > n)
			return 0;
		off += 2; /* CRLF */
	}
	return 0;
}

/* Are these few bytes the beginning of a request or status line? */
static bool could_start(const struct rd *r)
{
	size_t n = rd_left(r);
	const char *resp = "HTTP/1.";
	bool ok = true;
	for (size_t i = 0; i < n && i < 7; i++)
		ok = ok && rd_peek(r, i) == (uint8_t)resp[i];
	if (ok)
		return true;
	for (int m = 0; methods[m]; m++) {
		size_t ml = strlen(methods[m]);
		ok = true;
		for (size_t i = 0; i < n && i <= ml; i++)
			ok = ok && rd_peek(r, i) == (i < ml ? (uint8_t)methods[m][i] : ' ');
		if (ok)
			return true;
	}
	return false;
}

static ssize_t http_pdu_len(const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	if (len < 8)
		return could_start(&r) ? 0 : (ssize_t)len;
	if (!start_kind(&r))
		return (ssize_t)len; /* body bytes of unknown length, or junk: one opaque PDU */
	size_t he = header_end(&r, HTTP_MAX_HEADER);
	if (!he)
		return len >= HTTP_MAX_HEADER ? (ssize_t)len : 0;
	char v[64];
	if (header_value(&r, he, "transfer-encoding", v, sizeof v) && strstr(v, "chunked")) {
		struct rd b = r;
		rd_skip(&b, he);
		ssize_t c = chunked_len(&b);
		if (c < 0)
			return (ssize_t)len;
		if (c == 0)
			return len - he >= 65536 ? (ssize_t)len : 0;
		return (ssize_t)he + c;
	}
	if (header_value(&r, he, "content-length", v, sizeof v)) {
		char *end = NULL;
		unsigned long long cl = strtoull(v, &end, 10);
		if (end == v || cl > ((unsigned long long)1 << 40))
			return (ssize_t)he; /* bad length: the parser reports it; no body */
		return (ssize_t)(he + cl);
	}
	return (ssize_t)he;
}

static bool http_probe(const uint8_t *data, size_t len, bool to_server)
{
	struct rd r = rd_init(data, len);
	if (!to_server) {
		if (!starts(&r, "HTTP/1.") || len < 12)
			return false;
		int v = rd_peek(&r, 7), s = rd_peek(&r, 8);
		return (v == '0' || v == '1') && s == ' ' && rd_peek(&r, 9) >= '1' && rd_peek(&r, 9) <= '5' &&
		       rd_peek(&r, 10) >= '0' && rd_peek(&r, 10) <= '9' && rd_peek(&r, 11) >= '0' && rd_peek(&r, 11) <= '9';
	}
	for (int i = 0; methods[i]; i++) {
		size_t n = strlen(methods[i]);
		if (!starts(&r, methods[i]) || rd_peek(&r, n) != ' ')
			continue;
		int c = rd_peek(&r, n + 1);
		struct rd t = r;
		rd_skip(&t, n + 1);
		return c == '/' || (c == '*' && i == 5) || starts(&t, "http://") || (i == 7 && c > ' ');
	}
	return false;
}

static void op_fact(struct dctx *ctx, int m)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = (uint32_t)m;
	fact_str(f.u.op.name, sizeof f.u.op.name, methods[m]);
	f.u.op.is_write = m == 1 || m == 2 || m == 4 || m == 6;
	dctx_emit(ctx, &f);
}

static int http_parse(struct dctx *ctx, struct rd *r)
{
	int kind = start_kind(r);
	if (!kind)
		return 0; /* body or junk (see framing) */
	size_t he = header_end(r, HTTP_MAX_HEADER);
	size_t hlen = he ? he : rd_left(r);
	/* the first line */
	size_t eol = 0;
	while (eol < hlen && rd_peek(r, eol) != '\r' && rd_peek(r, eol) != '\n')
		eol++;
	struct rd line = *r;
	line = rd_sub(&line, eol);
	char a[16] = "", b[PDU_STRBUF / 4] = "", c[16] = "";
	/* three space-separated parts */
	size_t p1 = 0;
	while (p1 < eol && rd_peek(&line, p1) != ' ')
		p1++;
	size_t p2 = p1 + 1;
	while (p2 < eol && rd_peek(&line, p2) != ' ')
		p2++;
	struct rd t = line;
	rd_text(&t, p1 < 15 ? p1 : 15, a, sizeof a);
	t = line;
	if (p1 < eol) {
		rd_skip(&t, p1 + 1);
		rd_text(&t, p2 - p1 - 1, b, sizeof b);
	}
	t = line;
	if (p2 < eol) {
		rd_skip(&t, p2 + 1);
		size_t n = eol - p2 - 1;
		rd_text(&t, n < 15 ? n : 15, c, sizeof c);
	}
	char host[FACT_STR], ua[FACT_STR], server[FACT_STR], ctype[64], cl[32];
	header_value(r, hlen, "host", host, sizeof host);
	header_value(r, hlen, "user-agent", ua, sizeof ua);
	header_value(r, hlen, "server", server, sizeof server);
	header_value(r, hlen, "content-type", ctype, sizeof ctype);
	bool has_cl = header_value(r, hlen, "content-length", cl, sizeof cl);
	if (kind == 1) {
		int m = 0;
		while (methods[m] && strcmp(methods[m], a))
			m++;
		pdu_begin(ctx, "request");
		pdu_s(ctx, "method", a);
		pdu_s(ctx, "uri", b);
		pdu_s(ctx, "version", c);
		if (host[0])
			pdu_s(ctx, "host", host);
		if (ua[0])
			pdu_s(ctx, "user_agent", ua);
		pdu_end(ctx);
		if (strncmp(c, "HTTP/1.", 7) || !b[0]) {
			dctx_violation(ctx, "http: request line without URI or HTTP version");
			return -1;
		}
		if (methods[m])
			op_fact(ctx, m);
		dctx_identity(ctx, SUBJ_SRC, "user_agent", "%s", ua);
		dctx_identity(ctx, SUBJ_DST, "http_host", "%s", host);
	} else {
		pdu_begin(ctx, "response");
		pdu_s(ctx, "version", a);
		char *end = NULL;
		long code = strtol(b, &end, 10);
		bool ok = end && end != b && *end == '\0' && code >= 100 && code <= 999;
		if (ok)
			pdu_u(ctx, "status", (uint64_t)code);
		if (server[0])
			pdu_s(ctx, "server", server);
		if (ctype[0])
			pdu_s(ctx, "content_type", ctype);
		pdu_end(ctx);
		if (!ok) {
			dctx_violation(ctx, "http: status line without a status code");
			return -1;
		}
		dctx_identity(ctx, SUBJ_SRC, "server_software", "%s", server);
	}
	if (!he && !ctx->truncated) {
		dctx_violation(ctx, "http: no end of headers within %d bytes", HTTP_MAX_HEADER);
		return -1;
	}
	if (has_cl) {
		char *end = NULL;
		strtoull(cl, &end, 10);
		if (end == cl || *end) {
			dctx_violation(ctx, "http: Content-Length \"%s\"", cl);
			return -1;
		}
	}
	return 0;
}

static const uint16_t http_ports[] = { 80, 8080, 0 };

const struct dissector http_dissector = {
	.name = "http",
	.transports = DT_TCP,
	.ports = http_ports,
	.probe = http_probe,
	.pdu_len = http_pdu_len,
	.parse = http_parse,
};
