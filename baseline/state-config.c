/*
 * state-config.c - defaults and validation of [learning], [network], [alerts], [siem].
 *
 * Must never: accept a value it cannot use later.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "state-config.h"

void state_config_defaults(struct state_config *s)
{
	memset(s, 0, sizeof *s);
	s->learning_initial = true;
	s->learning_quiet_s = 0;
}

int state_config_set(struct state_config *s, const char *section, const char *key, const char *val,
		     char *err, size_t errlen)
{
	if (!strcmp(section, "learning")) {
		if (!strcmp(key, "mode")) {
			if (!strcmp(val, "on")) s->learning_initial = true;
			else if (!strcmp(val, "off")) s->learning_initial = false;
			else { snprintf(err, errlen, "'%s' is not on or off", val); return CONF_BAD_VALUE; }
			return CONF_OK;
		}
		if (!strcmp(key, "auto_end_quiet")) {
			uint64_t v;
			if (conf_parse_uint(val, 0, 365u * 86400, &v)) {
				snprintf(err, errlen, "'%s' is not a number of seconds", val);
				return CONF_BAD_VALUE;
			}
			s->learning_quiet_s = (uint32_t)v;
			return CONF_OK;
		}
	}
	return CONF_UNKNOWN_KEY;
}
