/*
 * store.h - the state store: one LMDB environment in the state directory.
 *
 * Named databases (STORE_NAMED_DBS of ours, plus OUTBOX_NAMED_DBS of the uplink
 * outbox, which lives in the same environment so an alert and its upload commit
 * together):
 *   "meta"        name -> value: schema version, learning mode, counters, clocks
 *   "devices"     device id -> device JSON (the inventory)
 *   "baseline"    item key -> value (channels, functions, ranges, identities)
 *   "alerts"      alert id (8 bytes, big endian) -> alert JSON
 *   "alert_keys"  dedup key (kind|src|dst|detail) -> alert id
 *
 * One writer: the state thread (batched write transactions); the console makes
 * short write transactions of its own (learning mode, alert actions). Readers never
 * block the writer (LMDB MVCC).
 *
 * Must never: leave a write transaction open across batches, or open a store whose
 * schema version differs from STORE_SCHEMA (that is an error naming both).
 */
#ifndef OTS_STORE_H
#define OTS_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA 1
#define STORE_NAMED_DBS 5
#define STORE_MAXDBS 16 /* ours + the outbox's, with room to grow */

struct store {
	MDB_env *env;
	MDB_dbi meta, devices, baseline, alerts, alert_keys;
	char dir[512];
	bool ephemeral; /* a temporary directory removed at exit: never synced to disk */
};

#define STORE_CREATE 1u   /* create the store if it does not exist */
#define STORE_RDONLY 2u

/* Opens (or creates) the store in dir. Returns 0, or -1 with a message naming the
 * directory and the fault in err (missing store, schema mismatch, LMDB error). */
int store_open(struct store *s, const char *dir, unsigned flags, size_t map_mb, char *err, size_t errlen);
void store_close(struct store *s);

/* meta helpers (in the caller's transaction) */
int meta_get_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t *v);
int meta_put_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t v);

/* string-keyed get/put in a db */
int db_get_str(MDB_txn *txn, MDB_dbi db, const char *key, MDB_val *val);
int db_put_str(MDB_txn *txn, MDB_dbi db, const char *key, const void *val, size_t len);
bool db_has(MDB_txn *txn, MDB_dbi db, const char *key);

/* alert ids are stored big endian so a cursor walks them in order */
void u64_be(uint64_t v, uint8_t out[8]);
uint64_t be_u64(const uint8_t in[8]);

#endif
