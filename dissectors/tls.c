/*
 * tls.c - STUB, being written: tls dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int tls_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t tls_ports[] = { 443, 8443, 4843, 0 };

const struct dissector tls_dissector = {
	.name = "tls",
	.transports = DT_TCP,
	.ports = tls_ports,
	.parse = tls_parse,
};
