/*
 * http.c - STUB, being written: http dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int http_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t http_ports[] = { 80, 8080, 0 };

const struct dissector http_dissector = {
	.name = "http",
	.transports = DT_TCP,
	.ports = http_ports,
	.parse = http_parse,
};
