/*
 * ssh.c - SSH over TCP: the identification banners ("SSH-2.0-OpenSSH_9.2p1 ...") that
 * both sides send in clear before the encrypted binary protocol.
 *
 * Emits: a pdu record per banner (banner, proto_version, software, comments), named
 * after tshark's ssh.protocol (the whole banner line); identity "ssh_banner" of each
 * side (SRC) and "role" = "ssh_server" for the server side.
 * Violations: a banner line longer than 255 bytes (RFC 4253 4.2), a banner without
 * the "SSH-protoversion-softwareversion" form.
 *
 * Framing: a banner line ends at "\n"; bytes that are not a banner (the binary
 * packets that follow, or lines a server sends before its banner) are taken as one
 * opaque PDU and ignored.
 *
 * Must never: read a byte except through struct rd, or decode the binary protocol.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define SSH_MAX_LINE 255

static bool is_banner(const struct rd *r)
{
	return rd_peek(r, 0) == 'S' && rd_peek(r, 1) == 'S' && rd_peek(r, 2) == 'H' && rd_peek(r, 3) == '-';
}

static ssize_t ssh_pdu_len(const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	if (len < 4) {
		const char *p = "SSH-";
		for (size_t i = 0; i < len; i++)
			if (rd_peek(&r, i) != p[i])
				return (ssize_t)len;
		return 0;
	}
	if (!is_banner(&r))
		return (ssize_t)len;
	for (size_t i = 0; i < len && i < 1024; i++)
		if (rd_peek(&r, i) == '\n')
			return (ssize_t)i + 1;
	return len >= 1024 ? (ssize_t)len : 0;
}

static bool ssh_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	if (len < 9 || !is_banner(&r))
		return false;
	/* "SSH-2.0-" or "SSH-1.99-" or "SSH-1.5-" */
	int a = rd_peek(&r, 4), dot = rd_peek(&r, 5), b = rd_peek(&r, 6);
	if ((a != '1' && a != '2') || dot != '.' || b < '0' || b > '9')
		return false;
	size_t i = 7;
	while (rd_peek(&r, i) >= '0' && rd_peek(&r, i) <= '9')
		i++;
	return rd_peek(&r, i) == '-';
}

static int ssh_parse(struct dctx *ctx, struct rd *r)
{
	if (!is_banner(r))
		return 0; /* binary packets or pre-banner lines */
	size_t n = rd_left(r);
	size_t line = n;
	if (line && rd_peek(r, line - 1) == '\n')
		line--;
	if (line && rd_peek(r, line - 1) == '\r')
		line--;
	char banner[PDU_STRBUF / 2];
	struct rd t = *r;
	rd_text(&t, line, banner, sizeof banner);
	/* SSH-protoversion-softwareversion SP comments */
	char proto[16] = "", soft[FACT_STR] = "", comments[FACT_STR] = "";
	const char *p = banner + 4;
	const char *dash = strchr(p, '-');
	if (dash && dash - p < (int)sizeof proto) {
		memcpy(proto, p, (size_t)(dash - p));
		proto[dash - p] = '\0';
		const char *sp = strchr(dash + 1, ' ');
		size_t sl = sp ? (size_t)(sp - dash - 1) : strlen(dash + 1);
		snprintf(soft, sizeof soft, "%.*s", (int)(sl < sizeof soft - 1 ? sl : sizeof soft - 1), dash + 1);
		if (sp)
			fact_str(comments, sizeof comments, sp + 1);
	}
	pdu_begin(ctx, ctx->to_server ? "request" : "response");
	pdu_s(ctx, "banner", banner);
	if (proto[0])
		pdu_s(ctx, "proto_version", proto);
	if (soft[0])
		pdu_s(ctx, "software", soft);
	if (comments[0])
		pdu_s(ctx, "comments", comments);
	pdu_end(ctx);
	if (!proto[0] || !soft[0]) {
		dctx_violation(ctx, "ssh: banner without protocol and software versions");
		return -1;
	}
	if (line > SSH_MAX_LINE)
		dctx_violation(ctx, "ssh: banner of %zu bytes (at most 255)", line);
	dctx_identity(ctx, SUBJ_SRC, "ssh_banner", "%s", banner);
	if (!ctx->to_server)
		dctx_identity(ctx, SUBJ_SRC, "role", "ssh_server");
	return 0;
}

static const uint16_t ssh_ports[] = { 22, 0 };

const struct dissector ssh_dissector = {
	.name = "ssh",
	.transports = DT_TCP,
	.ports = ssh_ports,
	.probe = ssh_probe,
	.pdu_len = ssh_pdu_len,
	.parse = ssh_parse,
};
