/*
 * dhcp.c - STUB, being written: dhcp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int dhcp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t dhcp_ports[] = { 67, 68, 0 };

const struct dissector dhcp_dissector = {
	.name = "dhcp",
	.transports = DT_UDP,
	.ports = dhcp_ports,
	.parse = dhcp_parse,
};
