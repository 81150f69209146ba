/*
 * goose.c - STUB, being written: goose dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int goose_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

const struct dissector goose_dissector = {
	.name = "goose",
	.transports = DT_L2,
	.ethertype = 0x88b8,
	.parse = goose_parse,
};
