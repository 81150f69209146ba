/*
 * profinet_dcp.c - PROFINET DCP (Discovery and basic Configuration Protocol), carried in
 * PROFINET RT frames (ethertype 0x8892) with FrameID 0xfefc..0xfeff: Get, Set,
 * Identify and Hello, requests and responses, and their option/suboption blocks.
 * Other FrameIDs (cyclic RT data, alarms) are left alone: no record, no violation.
 *
 * Emits: a pdu record per DCP frame (service as tshark's pn_dcp.service_id, plus
 * service_type, xid, frame_id, name_of_station, ip); identity facts from Identify/Get
 * responses and Hello (NameOfStation -> hostname, DeviceVendorValue -> vendor,
 * DeviceID -> product_code "vendor:device", DeviceRole -> role, IP parameter -> ip);
 * an operation fact per request/response (Set is a write); events for Set requests
 * that change the IP or the name (config_change) and for reset-to-factory / factory
 * reset (device_restart); violations for blocks that run past the frame.
 *
 * Must never: read a byte except through struct rd, trust the DCP data length or a
 * block length before checking it against the bytes present, or loop more than once
 * per block present.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

static const char *service_name(uint8_t s)
{
	switch (s) {
	case 3: return "get";
	case 4: return "set";
	case 5: return "identify";
	case 6: return "hello";
	default: return NULL;
	}
}

static const char *role_name(uint8_t r)
{
	if (r & 0x01) return "io-device";
	if (r & 0x02) return "io-controller";
	if (r & 0x04) return "io-multidevice";
	if (r & 0x08) return "io-supervisor";
	return NULL;
}

struct dcp_msg {
	uint8_t service, type;
	bool request;
	bool ip_set, name_set, reset;
	char name[FACT_STR];
	char ip[20];
};

/* one block's value (after option, suboption, length); `qual` is whether a
 * BlockQualifier/BlockInfo precedes the data (every block except in Identify/Hello
 * requests' filters and Set responses) */
static void dcp_block(struct dctx *ctx, struct dcp_msg *m, uint8_t opt, uint8_t sub, struct rd *v)
{
	bool from_device = !m->request || m->service == 6; /* responses and Hello describe their sender */
	bool filter = m->request && m->service == 5;      /* Identify request: value is a filter, no qualifier */
	bool set_req = m->request && m->service == 4;
	uint16_t qual = 0;
	if (!filter && !(opt == 5 && sub == 4)) /* Control/Response carries option, suboption, error */
		qual = rd_be16(v);
	if (opt == 1 && (sub == 2 || sub == 3)) {
		uint8_t a = rd_u8(v), b = rd_u8(v), c = rd_u8(v), d = rd_u8(v);
		if (!rd_ok(v))
			return;
		snprintf(m->ip, sizeof m->ip, "%u.%u.%u.%u", a, b, c, d);
		if (set_req)
			m->ip_set = true;
		else if (from_device)
			dctx_identity(ctx, SUBJ_SRC, "ip", "%s", m->ip);
	} else if (opt == 2 && sub == 1) {
		char s[FACT_STR];
		if (rd_text(v, rd_left(v), s, sizeof s) && s[0] && from_device)
			dctx_identity(ctx, SUBJ_SRC, "vendor", "%s", s);
	} else if (opt == 2 && sub == 2) {
		rd_text(v, rd_left(v), m->name, sizeof m->name);
		if (set_req)
			m->name_set = true;
		else if (from_device && m->name[0])
			dctx_identity(ctx, SUBJ_SRC, "hostname", "%s", m->name);
	} else if (opt == 2 && sub == 3) {
		uint16_t vid = rd_be16(v), did = rd_be16(v);
		if (rd_ok(v) && from_device)
			dctx_identity(ctx, SUBJ_SRC, "product_code", "0x%04x:0x%04x", vid, did);
	} else if (opt == 2 && sub == 4) {
		uint8_t role = rd_u8(v);
		const char *rn = role_name(role);
		if (rd_ok(v) && from_device && rn)
			dctx_identity(ctx, SUBJ_SRC, "role", "%s", rn);
	} else if (opt == 5 && (sub == 5 || sub == 6)) {
		if (set_req)
			m->reset = true;
	}
	(void)qual;
}

static int profinet_dcp_parse(struct dctx *ctx, struct rd *r)
{
	uint16_t frame_id = rd_be16(r);
	if (!rd_ok(r) || frame_id < 0xfefc || frame_id > 0xfeff)
		return 0; /* not DCP: PROFINET RT cyclic data, alarms, PTCP... */
	struct dcp_msg m;
	memset(&m, 0, sizeof m);
	m.service = rd_u8(r);
	m.type = rd_u8(r);
	uint32_t xid = rd_be32(r);
	rd_skip(r, 2); /* response delay / reserved */
	uint16_t dlen = rd_be16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "profinet_dcp: frame shorter than the DCP header");
		return -1;
	}
	m.request = (m.type & 0x01) == 0;
	const char *sn = service_name(m.service);
	pdu_begin(ctx, m.service == 6 ? "event" : m.request ? "request" : "response");
	pdu_u(ctx, "service", m.service);
	pdu_u(ctx, "service_type", m.type);
	pdu_u(ctx, "xid", xid);
	pdu_u(ctx, "frame_id", frame_id);
	if (sn)
		pdu_s(ctx, "service_name", sn);
	int rc = 0;
	if (dlen > rd_left(r)) {
		dctx_violation(ctx, "profinet_dcp: DCP data length %u exceeds the frame", dlen);
		rc = -1;
	} else {
		struct rd data = rd_sub(r, dlen); /* the rest is Ethernet padding */
		unsigned nblocks = 0;
		if (m.request && m.service == 3) {
			/* Get request: a list of option/suboption pairs */
			nblocks = (unsigned)(rd_left(&data) / 2);
		} else {
			while (rd_left(&data) >= 4) {
				uint8_t opt = rd_u8(&data), sub = rd_u8(&data);
				uint16_t blen = rd_be16(&data);
				if (blen > rd_left(&data)) {
					dctx_violation(ctx, "profinet_dcp: block %u/%u length %u runs past the data", opt,
						       sub, blen);
					rc = -1;
					break;
				}
				struct rd v = rd_sub(&data, blen);
				dcp_block(ctx, &m, opt, sub, &v);
				nblocks++;
				if ((blen & 1) && !rd_empty(&data))
					rd_skip(&data, 1); /* padding to an even length */
			}
			if (rc == 0 && !rd_empty(&data) && rd_left(&data) < 4) {
				/* a stray byte or two after the last block */
				if (rd_left(&data) > 1)
					dctx_violation(ctx, "profinet_dcp: %zu stray bytes after the last block",
						       rd_left(&data));
			}
		}
		pdu_u(ctx, "blocks", nblocks);
		if (m.name[0])
			pdu_s(ctx, "name_of_station", m.name);
		if (m.ip[0])
			pdu_s(ctx, "ip", m.ip);
	}
	pdu_end(ctx);

	if (!sn) {
		dctx_violation(ctx, "profinet_dcp: unknown service id %u", m.service);
		return -1;
	}
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = m.service;
	fact_str(f.u.op.name, sizeof f.u.op.name, sn);
	f.u.op.is_write = m.service == 4;
	f.u.op.is_response = !m.request;
	if (!m.request && m.type != 1) {
		f.u.op.exception = true;
		f.u.op.exc_code = m.type;
	}
	dctx_emit(ctx, &f);
	if (m.request && m.service == 4) {
		if (m.ip_set)
			dctx_event(ctx, EV_CONFIG_CHANGE, SUBJ_DST, "PROFINET DCP Set IP %s", m.ip);
		if (m.name_set)
			dctx_event(ctx, EV_CONFIG_CHANGE, SUBJ_DST, "PROFINET DCP Set NameOfStation \"%s\"", m.name);
		if (m.reset)
			dctx_event(ctx, EV_DEVICE_RESTART, SUBJ_DST, "PROFINET DCP reset to factory");
	}
	return rc;
}

const struct dissector profinet_dcp_dissector = {
	.name = "profinet_dcp",
	.transports = DT_L2,
	.ethertype = 0x8892,
	.parse = profinet_dcp_parse,
};
