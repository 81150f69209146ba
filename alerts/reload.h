/*
 * reload.h - SIGHUP on the state side: the state thread moves the engines to a new
 * configuration between two batches (engine/state.h's state_reload).
 *
 * Must never: be called on any thread but the state thread, or free the configuration
 * it replaces (its owner does, once the request is acknowledged).
 */
#ifndef OTS_RELOAD_H
#define OTS_RELOAD_H

#include <stdbool.h>

struct config;

struct ots_reload {
	/* in: the configuration to run with from now on (config_reloaded's result). The
	 * state thread may write cfg->uplink back to the running settings when the uplink
	 * cannot restart with the new ones. */
	struct config *cfg;
	bool restart_uplink;    /* in: [uplink] changed */
	/* out: 0, or -1 with err in words (the rest was applied) */
	int status;
	char err[600];
};

/* Runs on the state thread through state_reload(st, ots_state_reload, &req): ctx is the
 * struct ots_state (the sink's ctx), arg a struct ots_reload.
 * Commits what is open under the old settings, then swaps the configuration the
 * engines read; with restart_uplink, stops the uplink thread (aborting a request in
 * flight, which is retried: nothing leaves the outbox before a 2xx) and starts it with
 * the new [uplink] settings. Returns 0 or -1 (as in r->status). */
int ots_state_reload(void *ctx, void *arg);

#endif
