/*
 * cdp.c - STUB, being written: cdp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int cdp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

const struct dissector cdp_dissector = {
	.name = "cdp",
	.transports = DT_L2,
	.ethertype = 0x2000,
	.parse = cdp_parse,
};
