/*
 * uplink.h - the uplink thread: drains the outbox to Azure, sends health messages,
 * and keeps a status record in LMDB for `otsensor ctl uplink status`.
 *
 * Engine integration: the state module owns the uplink (baseline/otstate.h).
 *   ots_state_open() calls uplink_start() with the state's env (mode = off starts no
 *               thread but still succeeds and records state "off") and registers the
 *               health source; ots_state_close(s, drain_timeout_s) calls uplink_stop():
 *               `run` passes 0 on SIGTERM, `replay` passes [uplink] drain_timeout.
 *   state thread: outbox_open() once in its first write txn, then outbox_put() in the
 *               txn that stores each alert / device change / finished evidence file /
 *               snapshot (see outbox.h), and uplink_kick() after that txn committed.
 *   console: uplink_ctl_status(env, json, stdout) for `ctl uplink status`.
 *
 * Must never: block the state thread (it only shares LMDB with it), send a message
 * before the transaction that queued it has committed, or delete one before a 2xx.
 */
#ifndef OTS_UPLINK_H
#define OTS_UPLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <lmdb.h>

struct config;
struct uplink;

/* What the engine knows and the health message reports. Called on the uplink thread:
 * the callback must only read (atomics or its own lock). -1 = unknown. */
struct uplink_health {
	int64_t packets, drops, devices, alerts;
	int learning;           /* 1 on, 0 off, -1 unknown */
};
typedef void (*uplink_health_fn)(void *arg, struct uplink_health *h);

/* Starts the thread (or nothing when mode = off). 0, or -1 with err in words. */
int uplink_start(struct uplink **out, MDB_env *env, const struct config *cfg, char *err, size_t errlen);
void uplink_set_health_source(struct uplink *u, uplink_health_fn fn, void *arg);
/* Wakes the thread now (optional: it also polls the outbox twice a second). */
void uplink_kick(struct uplink *u);
/* Drains the outbox for at most drain_timeout_s seconds (0: stop at once, aborting an
 * in-flight request), then stops the thread and frees u. NULL is fine. */
void uplink_stop(struct uplink *u, unsigned drain_timeout_s);

/* Prints state, last success, queue depth and last error; json: one JSON object. */
int uplink_ctl_status(MDB_env *env, bool json, FILE *out);

#endif
