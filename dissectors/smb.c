/*
 * smb.c - STUB, being written: smb dissector.
 *
 * Must never: read a byte except through struct rd.
 */
#include "dissector.h"

static int smb_parse(struct dctx *ctx, struct rd *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static const uint16_t smb_ports[] = { 445, 139, 0 };

const struct dissector smb_dissector = {
	.name = "smb",
	.transports = DT_TCP,
	.ports = smb_ports,
	.parse = smb_parse,
};
