/*
 * enip.c - STUB, being written: enip dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int enip_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t enip_ports[] = { 44818, 2222, 0 };

const struct dissector enip_dissector = {
	.name = "enip",
	.transports = DT_TCP | DT_UDP,
	.ports = enip_ports,
	.parse = enip_parse,
};
