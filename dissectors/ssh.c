/*
 * ssh.c - STUB, being written: ssh dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int ssh_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t ssh_ports[] = { 22, 0 };

const struct dissector ssh_dissector = {
	.name = "ssh",
	.transports = DT_TCP,
	.ports = ssh_ports,
	.parse = ssh_parse,
};
