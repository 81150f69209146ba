/*
 * ctl.h - `otsensor ctl`: the console, against the state store, whether or not a
 * sensor is running (LMDB is multi-process safe; its writes are short transactions).
 *
 * Must never: keep a transaction open while printing to a pipe that may block.
 */
#ifndef OTS_CTL_H
#define OTS_CTL_H

#include <stdbool.h>

#define CTL_DEFAULT_STATE "/var/lib/otsensor"

/* args: the command and its operands (after the options). Returns the exit status:
 * 0, 1 runtime failure, 2 usage error or no usable store. */
int ctl_run(const char *state_dir, bool json, int argc, char **argv);

#endif
