/*
 * nbns.c - STUB, being written: nbns dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int nbns_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t nbns_ports[] = { 137, 138, 0 };

const struct dissector nbns_dissector = {
	.name = "nbns",
	.transports = DT_UDP,
	.ports = nbns_ports,
	.parse = nbns_parse,
};
