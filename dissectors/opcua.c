/*
 * opcua.c - STUB, being written: opcua dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int opcua_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t opcua_ports[] = { 4840, 0 };

const struct dissector opcua_dissector = {
	.name = "opcua",
	.transports = DT_TCP,
	.ports = opcua_ports,
	.parse = opcua_parse,
};
