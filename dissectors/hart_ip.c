/*
 * hart_ip.c - STUB, being written: hart_ip dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int hart_ip_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t hart_ip_ports[] = { 5094, 0 };

const struct dissector hart_ip_dissector = {
	.name = "hart_ip",
	.transports = DT_TCP | DT_UDP,
	.ports = hart_ip_ports,
	.parse = hart_ip_parse,
};
