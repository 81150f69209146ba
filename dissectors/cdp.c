/*
 * cdp.c - Cisco Discovery Protocol (802.3 LLC/SNAP, OUI 00000c, protocol 0x2000; the
 * engine hands it over as pseudo-ethertype 0x2000): what a Cisco switch, router or
 * phone says about itself to its neighbours.
 *
 * Emits: a pdu record per frame summarising its TLVs (version, ttl, device_id,
 * port_id, platform, software (first line), caps, native_vlan, mgmt_ip, tlvs);
 * identity facts of the sender (SRC): device id -> "hostname", software version ->
 * "description" (first line), platform -> "platform" and "model" (without a "cisco "
 * prefix), port id -> "port", management address (TLV 0x16, else the first address of
 * TLV 0x02) -> "mgmt_ip", capabilities -> "role" ("router", "switch", "phone",
 * "host"), VTP domain -> "vtp_domain".
 * Violations: a short header, TLVs shorter than their header or past the frame,
 * version other than 1 or 2, malformed address lists.
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dissector.h"

/* First IPv4 address of an address list TLV; false if none, -1 in *bad if malformed. */
static bool addresses(struct rd *v, char *dst, size_t dstsz, bool *bad)
{
	uint32_t n = rd_be32(v);
	bool found = false;
	for (uint32_t i = 0; i < n && rd_ok(v) && !rd_empty(v); i++) {
		uint8_t pt = rd_u8(v);
		uint8_t pl = rd_u8(v);
		struct rd proto = rd_sub(v, pl);
		uint16_t al = rd_be16(v);
		struct rd a = rd_sub(v, al);
		if (!rd_ok(v))
			break;
		if (!found && pt == 1 && pl == 1 && rd_u8(&proto) == 0xcc && al == 4) {
			uint8_t ip[4];
			rd_copy(&a, ip, 4);
			snprintf(dst, dstsz, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
			found = true;
		}
	}
	if (!rd_ok(v))
		*bad = true;
	return found;
}

static const char *role_of(uint32_t caps)
{
	if (caps & 0x01) return "router";
	if (caps & 0x08) return "switch";
	if (caps & 0x80) return "phone";
	if (caps & 0x02) return "switch"; /* transparent bridge */
	if (caps & 0x10) return "host";
	return NULL;
}

static int cdp_parse(struct dctx *ctx, struct rd *r)
{
	uint8_t ver = rd_u8(r);
	uint8_t ttl = rd_u8(r);
	rd_skip(r, 2); /* checksum */
	if (!rd_ok(r)) {
		dctx_violation(ctx, "cdp: frame shorter than the 4-byte header");
		return -1;
	}
	pdu_begin(ctx, "event");
	pdu_u(ctx, "version", ver);
	pdu_u(ctx, "ttl", ttl);
	if (ver != 1 && ver != 2) {
		dctx_violation(ctx, "cdp: version %u", ver);
		pdu_end(ctx);
		return -1;
	}
	char devid[FACT_STR] = "", port[FACT_STR] = "", platform[FACT_STR] = "", sw[FACT_STR] = "",
	     addr[20] = "", mgmt[20] = "", vtp[FACT_STR] = "";
	uint32_t caps = 0;
	bool has_caps = false;
	int bad = 0;
	unsigned n = 0;
	while (rd_left(r) >= 4 && n < 256) {
		uint16_t type = rd_be16(r), len = rd_be16(r);
		if (len < 4) {
			dctx_violation(ctx, "cdp: TLV 0x%04x of length %u", type, len);
			bad = 1;
			break;
		}
		struct rd v = rd_sub(r, len - 4u);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "cdp: TLV 0x%04x (length %u) runs past the frame", type, len);
			bad = 1;
			break;
		}
		n++;
		size_t vl = len - 4u;
		bool abad = false;
		switch (type) {
		case 0x01: rd_text(&v, vl, devid, sizeof devid); break;
		case 0x02: addresses(&v, addr, sizeof addr, &abad); break;
		case 0x03: rd_text(&v, vl, port, sizeof port); break;
		case 0x04:
			if (vl == 4) {
				caps = rd_be32(&v);
				has_caps = true;
			}
			break;
		case 0x05: {
			/* the first line of the software version */
			size_t k = 0;
			while (k < vl && rd_peek(&v, k) != '\n' && rd_peek(&v, k) != '\r')
				k++;
			rd_text(&v, k, sw, sizeof sw);
			break;
		}
		case 0x06: rd_text(&v, vl, platform, sizeof platform); break;
		case 0x09: rd_text(&v, vl, vtp, sizeof vtp); break;
		case 0x0a:
			if (vl == 2)
				pdu_u(ctx, "native_vlan", rd_be16(&v));
			break;
		case 0x16: addresses(&v, mgmt, sizeof mgmt, &abad); break;
		default: break;
		}
		if (abad)
			dctx_violation(ctx, "cdp: address list TLV 0x%04x malformed", type);
	}
	if (!bad && !rd_empty(r) && rd_left(r) < 4 && !ctx->pkt->truncated) {
		/* Ethernet padding is cut by the 802.3 length; leftovers are a broken TLV */
		dctx_violation(ctx, "cdp: %zu bytes after the last TLV", rd_left(r));
	}
	const char *ip = mgmt[0] ? mgmt : addr;
	if (devid[0])
		pdu_s(ctx, "device_id", devid);
	if (port[0])
		pdu_s(ctx, "port_id", port);
	if (platform[0])
		pdu_s(ctx, "platform", platform);
	if (sw[0])
		pdu_s(ctx, "software", sw);
	if (has_caps)
		pdu_u(ctx, "caps", caps);
	if (ip[0])
		pdu_s(ctx, "mgmt_ip", ip);
	pdu_u(ctx, "tlvs", n);
	pdu_end(ctx);
	dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", devid);
	dctx_identity(ctx, SUBJ_SRC, "description", "%s", sw);
	dctx_identity(ctx, SUBJ_SRC, "platform", "%s", platform);
	const char *model = platform;
	if (!strncasecmp(model, "cisco ", 6))
		model += 6;
	dctx_identity(ctx, SUBJ_SRC, "model", "%s", model);
	dctx_identity(ctx, SUBJ_SRC, "port", "%s", port);
	dctx_identity(ctx, SUBJ_SRC, "mgmt_ip", "%s", ip);
	dctx_identity(ctx, SUBJ_SRC, "vtp_domain", "%s", vtp);
	const char *role = has_caps ? role_of(caps) : NULL;
	if (role)
		dctx_identity(ctx, SUBJ_SRC, "role", "%s", role);
	return bad ? -1 : 0;
}

const struct dissector cdp_dissector = {
	.name = "cdp",
	.transports = DT_L2,
	.ethertype = 0x2000,
	.parse = cdp_parse,
};
