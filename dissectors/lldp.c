/*
 * lldp.c - LLDP (IEEE 802.1AB, ethertype 0x88cc): what a switch, router, phone or
 * PLC says about itself to its link neighbour.
 *
 * Emits: a pdu record per LLDPDU summarising its TLVs (chassis_id, port_id, ttl,
 * system_name, system_desc, port_desc, caps, caps_enabled, mgmt_ip, tlvs); identity
 * facts of the sender (SRC, the frame's source MAC): system name -> "hostname",
 * system description -> "description", port id -> "port" (port description when the
 * port id is a MAC), management address -> "mgmt_ip", chassis MAC -> "chassis_mac",
 * enabled capabilities -> "role" ("router", "switch", "access_point", "phone",
 * "station"); LLDP-MED inventory: hardware/firmware/software revision -> "hardware",
 * "firmware", "software", serial -> "serial", manufacturer -> "vendor", model ->
 * "model".
 * Violations: TLVs past the frame, the mandatory chassis/port/TTL TLVs missing or out
 * of order, TLVs of impossible length.
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

static void mac_text(struct rd *v, char *dst, size_t dstsz)
{
	uint8_t m[6];
	rd_copy(v, m, 6);
	snprintf(dst, dstsz, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* An IANA address family + address as text; false if not IPv4/IPv6. */
static bool addr_text(uint8_t family, struct rd *v, size_t alen, char *dst, size_t dstsz)
{
	uint8_t a[16];
	if (family == 1 && alen == 4) {
		rd_copy(v, a, 4);
		snprintf(dst, dstsz, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return rd_ok(v);
	}
	if (family == 2 && alen == 16) {
		rd_copy(v, a, 16);
		size_t k = 0;
		for (int i = 0; i < 16; i += 2)
			k += (size_t)snprintf(dst + k, dstsz > k ? dstsz - k : 0, "%s%x", i ? ":" : "",
					      a[i] << 8 | a[i + 1]);
		return rd_ok(v);
	}
	rd_skip(v, alen);
	return false;
}

/* chassis/port id: subtype + value */
static void id_text(struct rd *v, bool chassis, char *dst, size_t dstsz, bool *is_mac)
{
	uint8_t st = rd_u8(v);
	*is_mac = false;
	dst[0] = '\0';
	size_t n = rd_left(v);
	if (((chassis && st == 4) || (!chassis && st == 3)) && n == 6) {
		mac_text(v, dst, dstsz);
		*is_mac = true;
	} else if (((chassis && st == 5) || (!chassis && st == 4)) && n >= 1) {
		uint8_t fam = rd_u8(v);
		if (!addr_text(fam, v, n - 1, dst, dstsz))
			dst[0] = '\0';
	} else {
		rd_text(v, n, dst, dstsz);
	}
}

static const char *role_of(uint16_t caps)
{
	if (caps & 0x10) return "router";
	if (caps & 0x04) return "switch";
	if (caps & 0x08) return "access_point";
	if (caps & 0x20) return "phone";
	if (caps & 0x80) return "station";
	return NULL;
}

static int lldp_parse(struct dctx *ctx, struct rd *r)
{
	pdu_begin(ctx, "event");
	char chassis[FACT_STR] = "", port[FACT_STR] = "", pdesc[FACT_STR] = "", name[FACT_STR] = "",
	     desc[FACT_STR] = "", mgmt[48] = "";
	bool chassis_mac = false, port_mac = false, end = false;
	uint16_t caps = 0, en = 0, ttl = 0;
	bool has_caps = false, has_ttl = false;
	unsigned n = 0;
	int bad = 0;
	while (!rd_empty(r) && n < 256) {
		uint16_t h = rd_be16(r);
		unsigned type = h >> 9, len = h & 0x1ff;
		struct rd v = rd_sub(r, len);
		if (!rd_ok(r)) {
			dctx_violation(ctx, "lldp: TLV %u (length %u) runs past the frame", type, len);
			bad = 1;
			break;
		}
		if (n < 3 && type != n + 1) {
			dctx_violation(ctx, "lldp: TLV %u where the mandatory TLV %u belongs", type, n + 1);
			bad = 1;
			break;
		}
		n++;
		if (type == 0) {
			end = true;
			break;
		}
		switch (type) {
		case 1:
		case 2:
			if (len < 2 || len > 256) {
				dctx_violation(ctx, "lldp: %s id TLV of length %u", type == 1 ? "chassis" : "port", len);
				bad = 1;
				break;
			}
			if (type == 1)
				id_text(&v, true, chassis, sizeof chassis, &chassis_mac);
			else
				id_text(&v, false, port, sizeof port, &port_mac);
			break;
		case 3:
			if (len < 2) {
				dctx_violation(ctx, "lldp: TTL TLV of length %u", len);
				bad = 1;
				break;
			}
			ttl = rd_be16(&v);
			has_ttl = true;
			break;
		case 4: rd_text(&v, len, pdesc, sizeof pdesc); break;
		case 5: rd_text(&v, len, name, sizeof name); break;
		case 6: rd_text(&v, len, desc, sizeof desc); break;
		case 7:
			if (len != 4) {
				dctx_violation(ctx, "lldp: capabilities TLV of length %u", len);
				break;
			}
			caps = rd_be16(&v);
			en = rd_be16(&v);
			has_caps = true;
			break;
		case 8: {
			uint8_t alen = rd_u8(&v);
			uint8_t fam = rd_u8(&v);
			char a[48];
			if (alen < 1 || !rd_ok(&v) || alen - 1u > rd_left(&v)) {
				dctx_violation(ctx, "lldp: management address TLV malformed");
				break;
			}
			if (addr_text(fam, &v, alen - 1u, a, sizeof a) && !mgmt[0])
				fact_str(mgmt, sizeof mgmt, a);
			break;
		}
		case 127: {
			uint32_t oui = rd_be24(&v);
			uint8_t sub = rd_u8(&v);
			if (!rd_ok(&v) || oui != 0x0012bb || sub < 5 || sub > 10)
				break;
			static const char *const med[] = { "hardware", "firmware", "software", "serial", "vendor",
							   "model" };
			char s[FACT_STR];
			rd_text(&v, rd_left(&v), s, sizeof s);
			dctx_identity(ctx, SUBJ_SRC, med[sub - 5], "%s", s);
			break;
		}
		default: break;
		}
		if (bad)
			break;
	}
	if (chassis[0])
		pdu_s(ctx, "chassis_id", chassis);
	if (port[0])
		pdu_s(ctx, "port_id", port);
	if (has_ttl)
		pdu_u(ctx, "ttl", ttl);
	if (pdesc[0])
		pdu_s(ctx, "port_desc", pdesc);
	if (name[0])
		pdu_s(ctx, "system_name", name);
	if (desc[0])
		pdu_s(ctx, "system_desc", desc);
	if (has_caps) {
		pdu_u(ctx, "caps", caps);
		pdu_u(ctx, "caps_enabled", en);
	}
	if (mgmt[0])
		pdu_s(ctx, "mgmt_ip", mgmt);
	pdu_u(ctx, "tlvs", n);
	pdu_end(ctx);
	if (!bad && n < 3) {
		dctx_violation(ctx, "lldp: %u TLVs, fewer than the mandatory three", n);
		bad = 1;
	}
	if (!bad && !end && !ctx->pkt->truncated && ctx->pkt->caplen >= ctx->pkt->wirelen)
		dctx_violation(ctx, "lldp: no End TLV");
	dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", name);
	dctx_identity(ctx, SUBJ_SRC, "description", "%s", desc);
	dctx_identity(ctx, SUBJ_SRC, "port", "%s", port_mac && pdesc[0] ? pdesc : port);
	dctx_identity(ctx, SUBJ_SRC, "mgmt_ip", "%s", mgmt);
	if (chassis_mac)
		dctx_identity(ctx, SUBJ_SRC, "chassis_mac", "%s", chassis);
	const char *role = has_caps ? role_of(en ? en : caps) : NULL;
	if (role)
		dctx_identity(ctx, SUBJ_SRC, "role", "%s", role);
	return bad ? -1 : 0;
}

const struct dissector lldp_dissector = {
	.name = "lldp",
	.transports = DT_L2,
	.ethertype = 0x88cc,
	.parse = lldp_parse,
};
