/*
 * conf-shim.c - test-only stand-ins for engine/config.c's value parsers, so the
 * uplink test tool builds from uplink/ alone while the engine is being written.
 *
 * Must never: be linked into libotsensor or the otsensor binary.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int conf_parse_uint(const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!val || !*val || *val == '-')
		return -1;
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int conf_parse_bool(const char *val, bool *out)
{
	if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0"))
		*out = false;
	else
		return -1;
	return 0;
}
