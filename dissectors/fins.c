/*
 * fins.c - STUB, being written: fins dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int fins_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t fins_ports[] = { 9600, 0 };

const struct dissector fins_dissector = {
	.name = "fins",
	.transports = DT_TCP | DT_UDP,
	.ports = fins_ports,
	.parse = fins_parse,
};
