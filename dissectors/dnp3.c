/*
 * dnp3.c - STUB, being written: dnp3 dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int dnp3_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t dnp3_ports[] = { 20000, 0 };

const struct dissector dnp3_dissector = {
	.name = "dnp3",
	.transports = DT_TCP | DT_UDP,
	.ports = dnp3_ports,
	.parse = dnp3_parse,
};
