/*
 * lldp.c - STUB, being written: lldp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int lldp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

const struct dissector lldp_dissector = {
	.name = "lldp",
	.transports = DT_L2,
	.ethertype = 0x88cc,
	.parse = lldp_parse,
};
