/*
 * outbox.h - the store-and-forward queue of messages bound for Azure, kept in the
 * state's LMDB environment.
 *
 * The state thread calls outbox_put() inside the very write transaction that stores
 * the alert or device change, so the record and its upload commit (or vanish)
 * together. The uplink thread reads batches, and deletes an entry only after Azure
 * answered 2xx (outbox_ack). Each entry gets a message id when it is put; resends
 * carry the same id, so the receiving side can recognise a duplicate.
 *
 * Named databases (count them in mdb_env_set_maxdbs): OUTBOX_NAMED_DBS = 3
 *   "uplink_outbox"  seq (8 bytes, big endian) -> entry header + key + payload
 *   "uplink_keys"    kind byte + key -> seq of the pending entry (coalescing)
 *   "uplink_meta"    next seq, instance id, counters, uplink status record
 *
 * Policy when the outbox is full (outbox_max_entries or outbox_max_bytes):
 *   1. device updates, health and snapshots always coalesce: only the newest pending
 *      message per (kind, key) is kept, so a device flapping 1000 times is one entry;
 *   2. to make room, the oldest health message, then the oldest device update or
 *      snapshot is evicted (counted);
 *   3. alerts and evidence are never evicted. If the outbox holds nothing else, a new
 *      alert is not queued: the alert itself is still stored locally by the caller,
 *      `alerts_dropped` counts it, and one health alert "outbox_full" is queued (it may
 *      exceed the cap by one entry) until the queue has room again.
 * With [uplink] mode = off, outbox_put() stores nothing (air-gapped sensor).
 *
 * Must never: start its own write transaction inside outbox_put (the caller owns it),
 * delete an entry that was not acknowledged, or hand out an entry twice in one batch.
 */
#ifndef OTS_UPLINK_OUTBOX_H
#define OTS_UPLINK_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "uplink-config.h"

#define OUTBOX_NAMED_DBS 3
#define OUTBOX_MSGID_LEN 40

enum outbox_kind {
	OUTBOX_ALERT = 1,    /* key: alert id; payload: the alert JSON */
	OUTBOX_DEVICE = 2,   /* key: device id; payload: the device JSON (coalesced) */
	OUTBOX_HEALTH = 3,   /* key: "health" or a health alert kind (coalesced) */
	OUTBOX_EVIDENCE = 4, /* key: alert id; payload: {"path": "/x.pcap"} -> Blob PUT */
	OUTBOX_SNAPSHOT = 5, /* key: "inventory"; payload: inventory JSON -> Blob PUT (coalesced) */
};

/* outbox_put results (>= 0 means the caller's transaction may commit) */
#define OUTBOX_QUEUED 0
#define OUTBOX_OFF 1      /* mode = off, or no destination for this kind: not queued */
#define OUTBOX_DROPPED 2  /* full: not queued, counted (see the policy above) */

struct outbox {
	MDB_dbi q, keys, meta;
	bool enabled;           /* mode != off */
	bool has_messaging;     /* IoT Hub or Event Hubs configured */
	bool has_blob;
	uint64_t max_entries, max_bytes;
};

struct outbox_counters {
	uint64_t bytes;            /* payload bytes pending */
	uint64_t queued;           /* entries ever queued */
	uint64_t sent;             /* entries acknowledged */
	uint64_t coalesced;        /* pending updates replaced by a newer one */
	uint64_t evicted_health, evicted_devices;
	uint64_t alerts_dropped, devices_dropped;
	uint64_t rejected;         /* permanently refused by the service (4xx), counted, removed */
	uint64_t full;             /* 1 while the outbox is full of alerts */
};

struct outbox_msg {
	uint64_t seq;
	enum outbox_kind kind;
	int64_t created;           /* unix seconds */
	char msgid[OUTBOX_MSGID_LEN];
	char *key;                 /* malloc'd, NUL terminated */
	char *payload;             /* malloc'd, NUL terminated */
	size_t len;
};

/* Opens (creating in a write txn) the named dbs. cfg decides enabled/caps; NULL = off. */
int outbox_open(MDB_txn *txn, const struct uplink_config *cfg, struct outbox *ob);

/* Queues a message in the caller's write transaction. Returns OUTBOX_QUEUED, OUTBOX_OFF,
 * OUTBOX_DROPPED, or a negative LMDB error (the caller should abort its txn). */
int outbox_put(struct outbox *ob, MDB_txn *txn, enum outbox_kind kind, const char *key,
	       const char *json, size_t len);

/* Reads up to max pending entries whose kind is in kind_mask (1u << kind), oldest first.
 * Returns the count (fills msgs; free them with outbox_msgs_free) or a negative error. */
int outbox_peek(struct outbox *ob, MDB_txn *txn, unsigned kind_mask, struct outbox_msg *msgs, int max);
void outbox_msgs_free(struct outbox_msg *msgs, int n);

/* Removes acknowledged entries (only if still the same message: a coalesced entry that
 * was replaced meanwhile is already gone). rejected: counted as refused instead of sent. */
int outbox_ack(struct outbox *ob, MDB_txn *txn, const struct outbox_msg *msgs, int n, bool rejected);

/* Pending entries and counters. */
int outbox_stats(struct outbox *ob, MDB_txn *txn, uint64_t *depth, struct outbox_counters *c);

/* Small key/value records in uplink_meta (the uplink status lives there). */
int outbox_meta_put(struct outbox *ob, MDB_txn *txn, const char *name, const void *val, size_t len);
/* Returns 0 and points *val into the map (valid during txn), MDB_NOTFOUND, or an error. */
int outbox_meta_get(struct outbox *ob, MDB_txn *txn, const char *name, const void **val, size_t *len);

const char *outbox_kind_name(enum outbox_kind k);

#endif
