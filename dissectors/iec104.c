/*
 * iec104.c - STUB, being written: iec104 dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int iec104_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t iec104_ports[] = { 2404, 0 };

const struct dissector iec104_dissector = {
	.name = "iec104",
	.transports = DT_TCP,
	.ports = iec104_ports,
	.parse = iec104_parse,
};
