/*
 * cotp.c - STUB, being written: cotp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int cotp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t cotp_ports[] = { 102, 0 };

const struct dissector cotp_dissector = {
	.name = "cotp",
	.transports = DT_TCP,
	.ports = cotp_ports,
	.parse = cotp_parse,
};
