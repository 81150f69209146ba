/*
 * dhcp.c - DHCP/BOOTP (IPv4, UDP 67/68): who asks for an address, under which name,
 * and which address a server hands out.
 *
 * Emits: a pdu record per message (op, msg_type, xid, client_mac, hostname,
 * vendor_class, client_id, requested_ip, yiaddr, server_id, lease_time); identity facts
 * about the client: hostname (option 12, else the FQDN of option 81), vendor_class
 * (60), client_id (61), and for a DHCPACK the assigned address (key "ip", yiaddr) bound
 * to the client's MAC; "role" = "dhcp_server" for the sender of an OFFER/ACK/NAK.
 *
 * Subjects: the client is identified by chaddr, not by the frame: for client messages
 * the fact's subject is SRC with src.mac = chaddr (a relay agent may have sent the
 * frame) and src.ip = ciaddr (family 0 when the client has no address yet); for server
 * replies the subject is DST with dst.mac = chaddr and dst.ip = yiaddr/ciaddr (the
 * reply may be broadcast).
 *
 * Must never: read a byte except through struct rd, or follow an option past the
 * datagram (option overload of sname/file is not followed).
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define DHCP_MAGIC 0x63825363u

static const char *msg_name(unsigned t)
{
	static const char *const n[] = { NULL, "discover", "offer", "request", "decline", "ack", "nak", "release",
					 "inform", "forcerenew", "leasequery", "leaseunassigned", "leaseunknown",
					 "leaseactive", "bulkleasequery", "leasequerydone", "activeleasequery",
					 "leasequerystatus", "tls" };
	return t < sizeof n / sizeof n[0] ? n[t] : NULL;
}

struct dhcp_msg {
	uint8_t op, htype, hlen;
	uint32_t xid;
	uint8_t ciaddr[4], yiaddr[4], giaddr[4], chaddr[16];
	int msg_type;
	char hostname[64], vendor[FACT_STR], client_id[FACT_STR], fqdn[64];
	uint8_t req_ip[4], server_id[4];
	bool has_req_ip, has_server_id, has_lease;
	uint32_t lease;
};

static bool ip_zero(const uint8_t ip[4]) { return !(ip[0] | ip[1] | ip[2] | ip[3]); }

static void ip_str(const uint8_t ip[4], char *s, size_t n) { snprintf(s, n, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]); }

/* Bytes as colon-separated hex, cut to fit. */
static void hex_str(struct rd *v, size_t n, char *s, size_t sz)
{
	size_t k = 0;
	s[0] = '\0';
	for (size_t i = 0; i < n && rd_ok(v); i++) {
		uint8_t b = rd_u8(v);
		if (k + 4 > sz)
			continue;
		k += (size_t)snprintf(s + k, sz - k, i ? ":%02x" : "%02x", b);
	}
}

/* Option 81: flags, two rcodes, then the name as ASCII or (E flag) DNS labels. */
static void fqdn_opt(struct rd *v, char *dst, size_t dstsz)
{
	uint8_t flags = rd_u8(v);
	rd_skip(v, 2);
	dst[0] = '\0';
	if (!rd_ok(v))
		return;
	if (!(flags & 0x04)) {
		rd_text(v, rd_left(v), dst, dstsz);
		return;
	}
	size_t k = 0;
	while (!rd_empty(v)) {
		uint8_t l = rd_u8(v);
		if (l == 0 || l > 63 || l > rd_left(v))
			break;
		char lab[64];
		rd_text(v, l, lab, sizeof lab);
		int w = snprintf(dst + k, dstsz - k, "%s%s", k ? "." : "", lab);
		if (w < 0 || (size_t)w >= dstsz - k)
			break;
		k += (size_t)w;
	}
}

static int options(struct dctx *ctx, struct rd *r, struct dhcp_msg *m)
{
	bool end = false;
	while (!rd_empty(r)) {
		uint8_t code = rd_u8(r);
		if (code == 0)
			continue;
		if (code == 255) {
			end = true;
			break;
		}
		uint8_t len = rd_u8(r);
		struct rd v = rd_sub(r, len);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "dhcp: option %u (length %u) runs past the datagram", code, len);
			return -1;
		}
		switch (code) {
		case 53:
			if (len != 1) {
				dctx_violation(ctx, "dhcp: message type option of length %u", len);
				return -1;
			}
			m->msg_type = rd_u8(&v);
			break;
		case 12: rd_text(&v, len, m->hostname, sizeof m->hostname); break;
		case 60: rd_text(&v, len, m->vendor, sizeof m->vendor); break;
		case 61: hex_str(&v, len, m->client_id, sizeof m->client_id); break;
		case 81: fqdn_opt(&v, m->fqdn, sizeof m->fqdn); break;
		case 50:
			if (len == 4)
				m->has_req_ip = rd_copy(&v, m->req_ip, 4);
			break;
		case 54:
			if (len == 4)
				m->has_server_id = rd_copy(&v, m->server_id, 4);
			break;
		case 51:
			if (len == 4) {
				m->lease = rd_be32(&v);
				m->has_lease = true;
			}
			break;
		default: break;
		}
	}
	(void)end; /* a missing end option is common enough (short padding) to be tolerated */
	return 0;
}

/* An identity fact about the DHCP client, addressed by chaddr. */
static void client_fact(struct dctx *ctx, const struct dhcp_msg *m, const char *key, const char *val)
{
	if (!val[0])
		return;
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_IDENTITY);
	bool from_client = m->op == 1;
	struct fact_endpoint *e = from_client ? &f.src : &f.dst;
	f.u.id.subject = from_client ? SUBJ_SRC : SUBJ_DST;
	if (m->htype == 1 && m->hlen == 6)
		memcpy(e->mac, m->chaddr, 6);
	const uint8_t *ip = NULL;
	if (!from_client && !ip_zero(m->yiaddr))
		ip = m->yiaddr;
	else if (!ip_zero(m->ciaddr))
		ip = m->ciaddr;
	memset(e->ip, 0, sizeof e->ip);
	e->family = ip ? 4 : 0;
	if (ip)
		memcpy(e->ip, ip, 4);
	fact_str(f.u.id.key, sizeof f.u.id.key, key);
	int k = snprintf(f.u.id.value, sizeof f.u.id.value, "%s", val);
	f.truncated = k >= (int)sizeof f.u.id.value;
	dctx_emit(ctx, &f);
}

static int dhcp_parse(struct dctx *ctx, struct rd *r)
{
	struct dhcp_msg m;
	memset(&m, 0, sizeof m);
	m.msg_type = -1;
	m.op = rd_u8(r);
	m.htype = rd_u8(r);
	m.hlen = rd_u8(r);
	rd_skip(r, 1); /* hops */
	m.xid = rd_be32(r);
	rd_skip(r, 4); /* secs, flags */
	rd_copy(r, m.ciaddr, 4);
	rd_copy(r, m.yiaddr, 4);
	rd_skip(r, 4); /* siaddr */
	rd_copy(r, m.giaddr, 4);
	rd_copy(r, m.chaddr, 16);
	rd_skip(r, 64 + 128); /* sname, file */
	if (!rd_ok(r)) {
		dctx_violation(ctx, "dhcp: datagram shorter than the 236-byte BOOTP header");
		return -1;
	}
	if (m.op != 1 && m.op != 2) {
		dctx_violation(ctx, "dhcp: op %u is neither request nor reply", m.op);
		return -1;
	}
	if (m.hlen > 16) {
		dctx_violation(ctx, "dhcp: hardware address length %u", m.hlen);
		return -1;
	}
	int rc = 0;
	if (rd_left(r) >= 4) {
		uint32_t magic = rd_be32(r);
		if (magic == DHCP_MAGIC)
			rc = options(ctx, r, &m);
		/* else plain BOOTP with vendor data we do not model */
	}
	char mac[24] = "", yi[16], ci[16], req[16], sid[16];
	struct rd ch = rd_init(m.chaddr, m.hlen);
	hex_str(&ch, m.hlen, mac, sizeof mac);
	ip_str(m.yiaddr, yi, sizeof yi);
	ip_str(m.ciaddr, ci, sizeof ci);
	ip_str(m.req_ip, req, sizeof req);
	ip_str(m.server_id, sid, sizeof sid);
	const char *name = m.msg_type >= 0 ? msg_name((unsigned)m.msg_type) : NULL;

	pdu_begin(ctx, m.op == 1 ? "request" : "response");
	pdu_u(ctx, "op", m.op);
	if (m.msg_type >= 0)
		pdu_u(ctx, "msg_type", (unsigned)m.msg_type);
	if (name)
		pdu_s(ctx, "msg_name", name);
	pdu_u(ctx, "xid", m.xid);
	pdu_s(ctx, "client_mac", mac);
	if (!ip_zero(m.ciaddr))
		pdu_s(ctx, "ciaddr", ci);
	if (!ip_zero(m.yiaddr))
		pdu_s(ctx, "yiaddr", yi);
	if (m.hostname[0])
		pdu_s(ctx, "hostname", m.hostname);
	if (m.fqdn[0])
		pdu_s(ctx, "fqdn", m.fqdn);
	if (m.vendor[0])
		pdu_s(ctx, "vendor_class", m.vendor);
	if (m.client_id[0])
		pdu_s(ctx, "client_id", m.client_id);
	if (m.has_req_ip)
		pdu_s(ctx, "requested_ip", req);
	if (m.has_server_id)
		pdu_s(ctx, "server_id", sid);
	if (m.has_lease)
		pdu_u(ctx, "lease_time", m.lease);
	pdu_end(ctx);
	if (rc)
		return rc;
	if (m.msg_type == 0 || (m.msg_type > 0 && !name))
		dctx_violation(ctx, "dhcp: message type %d", m.msg_type);

	/* hostname, vendor class and client id describe the client, whoever sends them;
	 * a server's option 12 in an ACK is the name it gives the client */
	if (m.hostname[0])
		client_fact(ctx, &m, "hostname", m.hostname);
	else if (m.fqdn[0] && m.op == 1)
		client_fact(ctx, &m, "hostname", m.fqdn);
	if (m.op == 1) {
		client_fact(ctx, &m, "vendor_class", m.vendor);
		client_fact(ctx, &m, "client_id", m.client_id);
	}
	if (m.op == 2 && m.msg_type == 5 && !ip_zero(m.yiaddr))
		client_fact(ctx, &m, "ip", yi);
	if (m.op == 2 && (m.msg_type == 2 || m.msg_type == 5 || m.msg_type == 6))
		dctx_identity(ctx, SUBJ_SRC, "role", "dhcp_server");
	return 0;
}

static const uint16_t dhcp_ports[] = { 67, 68, 0 };

const struct dissector dhcp_dissector = {
	.name = "dhcp",
	.transports = DT_UDP,
	.ports = dhcp_ports,
	.parse = dhcp_parse,
};
