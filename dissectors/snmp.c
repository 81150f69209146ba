/*
 * snmp.c - STUB, being written: snmp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int snmp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t snmp_ports[] = { 161, 162, 0 };

const struct dissector snmp_dissector = {
	.name = "snmp",
	.transports = DT_UDP,
	.ports = snmp_ports,
	.parse = snmp_parse,
};
