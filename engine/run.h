/*
 * run.h - `otsensor run`: the live sensor.
 *
 * Must never: hold anything but what the command line said.
 */
#ifndef OTS_RUN_H
#define OTS_RUN_H

#include "config.h"

struct run_opts {
	const char *config_path;    /* --config, NULL if not given (SIGHUP re-reads it) */
	unsigned emit;              /* EMIT_* flags; 0 = a human summary on stderr at exit */
};

#define RUN_DEFAULT_STATE "/var/lib/otsensor"

/* Returns the process exit status: 0 (stopped by SIGTERM/SIGINT), 1 runtime failure,
 * 2 configuration error (unknown backend, interface that cannot be opened...). */
int run_main(const struct run_opts *o, struct config *cfg);

#endif
