/*
 * replay.h - options of `otsensor replay`.
 *
 * Must never: hold anything but what the command line said.
 */
#ifndef OTS_REPLAY_H
#define OTS_REPLAY_H

#include <stdbool.h>

#include "config.h"

struct replay_opts {
	const char *state_dir;      /* --state, NULL if not given */
	unsigned emit;              /* EMIT_* flags; 0 = human summary */
	int learning;               /* -1 unset, 0 off, 1 on */
	int workers;                /* 0 = from config */
	bool realtime;
	char **files;
	int nfiles;
};

/* Returns the process exit status: 0, 1 (a capture broke off), 2 (a file is not a capture). */
int replay_main(const struct replay_opts *o, const struct config *cfg);

#endif
