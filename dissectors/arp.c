/*
 * arp.c - ARP over Ethernet: who has which IPv4 address.
 *
 * Emits: a pdu record per ARP message (op, sender/target addresses); an identity fact
 * binding the sender's MAC to its IP (not for probes with sender 0.0.0.0); a
 * violation when the sender MAC disagrees with the frame's source MAC.
 *
 * Must never: read a byte except through struct rd.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"
#include "textfmt.h"

static int arp_parse(struct dctx *ctx, struct rd *r)
{
	uint16_t htype = rd_be16(r);
	uint16_t ptype = rd_be16(r);
	uint8_t hlen = rd_u8(r);
	uint8_t plen = rd_u8(r);
	uint16_t op = rd_be16(r);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "arp: truncated header");
		return -1;
	}
	if (htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4)
		return 0; /* not Ethernet/IPv4 ARP: nothing we model */
	uint8_t sha[6], spa[4], tha[6], tpa[4];
	rd_copy(r, sha, 6);
	rd_copy(r, spa, 4);
	rd_copy(r, tha, 6);
	rd_copy(r, tpa, 4);
	if (!rd_ok(r)) {
		dctx_violation(ctx, "arp: truncated addresses");
		return -1;
	}
	char sip[16], tip[16];
	struct tbuf sb = tb_init(sip, sizeof sip), tb = tb_init(tip, sizeof tip);
	tb_ipv4(&sb, spa);
	tb_ipv4(&tb, tpa);
	pdu_begin(ctx, op == 1 ? "request" : "response");
	pdu_u(ctx, "op", op);
	pdu_s(ctx, "sender_ip", sip);
	pdu_s(ctx, "target_ip", tip);
	pdu_end(ctx);
	if (op != 1 && op != 2) {
		dctx_violation(ctx, "arp: opcode %u", op);
		return -1;
	}
	if (ctx->pkt->has_mac && memcmp(sha, ctx->pkt->src_mac, 6))
		dctx_violation(ctx, "arp: sender MAC differs from the frame's source MAC");
	if (spa[0] || spa[1] || spa[2] || spa[3]) {
		struct fact f;
		dctx_fact_init(ctx, &f, FACT_IDENTITY);
		f.u.id.subject = SUBJ_SRC;
		snprintf(f.u.id.key, sizeof f.u.id.key, "ip");
		fact_str(f.u.id.value, sizeof f.u.id.value, sip);
		/* an ARP frame has no IP header: carry the binding in the endpoint too */
		f.src.family = 4;
		memcpy(f.src.ip, spa, 4);
		f.dst.family = 4;
		memcpy(f.dst.ip, tpa, 4);
		dctx_emit(ctx, &f);
	}
	/* contact for ARP-scan detection: who asks for whom */
	if (op == 1) {
		struct fact f;
		dctx_fact_init(ctx, &f, FACT_OPERATION);
		f.u.op.func = op;
		snprintf(f.u.op.name, sizeof f.u.op.name, "who_has");
		f.src.family = f.dst.family = 4;
		memcpy(f.src.ip, spa, 4);
		memcpy(f.dst.ip, tpa, 4);
		dctx_emit(ctx, &f);
	}
	return 0;
}

const struct dissector arp_dissector = {
	.name = "arp",
	.transports = DT_L2,
	.ethertype = 0x0806,
	.parse = arp_parse,
};
