/*
 * ntp.c - STUB, being written: ntp dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int ntp_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t ntp_ports[] = { 123, 0 };

const struct dissector ntp_dissector = {
	.name = "ntp",
	.transports = DT_UDP,
	.ports = ntp_ports,
	.parse = ntp_parse,
};
