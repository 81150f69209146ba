/*
 * state-config.h - the sections the state thread owns: [learning], [network],
 * [alerts] and [siem].
 *
 * Must never: hold anything but configuration (no runtime state).
 */
#ifndef OTS_STATE_CONFIG_H
#define OTS_STATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_config {
	bool learning_initial;          /* [learning] mode = on|off for a fresh state */
	uint32_t learning_quiet_s;      /* [learning] auto_end_quiet: end after this long with nothing new (0 = never) */
};

void state_config_defaults(struct state_config *s);
/* CONF_OK, CONF_BAD_VALUE (err says why) or CONF_UNKNOWN_KEY */
int state_config_set(struct state_config *s, const char *section, const char *key, const char *val,
		     char *err, size_t errlen);

#endif
