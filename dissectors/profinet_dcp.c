/*
 * profinet_dcp.c - STUB, being written: profinet_dcp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int profinet_dcp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

const struct dissector profinet_dcp_dissector = {
	.name = "profinet_dcp",
	.transports = DT_L2,
	.ethertype = 0x8892,
	.parse = profinet_dcp_parse,
};
