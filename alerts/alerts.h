/*
 * alerts.h - the alert catalog, and raising/folding alerts in the state store.
 *
 * An alert is identified by its dedup key kind|src_device|dst_device|detail: a repeat
 * of the same key folds into the stored alert (count, last_seen) instead of making a
 * new one; a muted alert keeps counting silently; a closed one makes a new alert when
 * it fires again. New alerts get the next id from meta "next_alert", an evidence
 * file path, and an outbox entry in the same transaction.
 *
 * Must never: rename a kind (users and the uplink rely on them), or store an alert
 * outside the caller's write transaction.
 */
#ifndef OTS_ALERTS_H
#define OTS_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "otstate.h"

struct alert_kind {
	const char *kind, *engine, *severity, *title, *raised_by;
};

extern const struct alert_kind alert_catalog[];
const struct alert_kind *alert_kind_find(const char *kind);

/* what an alert saw, for `ctl alert learn`: baseline keys to add (and a range) */
struct alert_learn {
	const char *keys[4];
	const char *range_key;  /* "R|..." with the range below, or NULL */
	uint32_t lo, hi;
};

struct alert_in {
	const char *kind;
	const struct fact *f;       /* the fact that raised it (time, proto, evidence) */
	int src, dst;               /* device indexes, -1 for none */
	const char *src_addr;       /* shown when there is no device (public address) */
	const char *dst_addr;
	const char *detail;         /* part of the dedup key: what differs between alerts of a kind */
	const char *description;
	const struct alert_learn *learn;
	bool host_evidence;         /* evidence: the source host's packets, not only the flow's */
};

/* Raises (or folds) an alert in s->txn. Returns the alert id, 0 when suppressed
 * (muted or learned: folded silently), or -1 on a storage error (s->txn_err set). */
int64_t alert_raise(struct ots_state *s, const struct alert_in *a);

/* status changes from the console: "ack", "learn", "mute", "close" */
int alert_action(struct store *st, MDB_txn *txn, uint64_t id, const char *action, char *err, size_t errlen);



/* learned ranges in the baseline db: merged [lo, hi] intervals under one key */
int range_add(MDB_txn *txn, MDB_dbi db, const char *key, uint32_t lo, uint32_t hi);
bool range_covers(MDB_txn *txn, MDB_dbi db, const char *key, uint32_t lo, uint32_t hi);
#endif
