/*
 * bacnet.c - STUB, being written: bacnet dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int bacnet_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t bacnet_ports[] = { 47808, 0 };

const struct dissector bacnet_dissector = {
	.name = "bacnet",
	.transports = DT_UDP,
	.ports = bacnet_ports,
	.parse = bacnet_parse,
};
