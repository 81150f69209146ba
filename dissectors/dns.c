/*
 * dns.c - STUB, being written: dns dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int dns_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t dns_ports[] = { 53, 5353, 5355, 0 };

const struct dissector dns_dissector = {
	.name = "dns",
	.transports = DT_UDP | DT_TCP,
	.ports = dns_ports,
	.parse = dns_parse,
};
