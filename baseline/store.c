/*
 * store.c - opening the LMDB state store, its schema check, small typed helpers.
 *
 * Durability: the environment is opened with MDB_NOSYNC and the state thread calls
 * mdb_env_sync() at most once a second and at close: a killed process (kill -9) loses
 * nothing committed (the data is in the page cache), a power cut loses at most the
 * last second (an ephemeral store, replay's temporary one, is never synced). The map size is [alerts] store_max_mb; a full map or disk is an
 * MDB_MAP_FULL / ENOSPC error at commit, which the caller reports and survives.
 *
 * Must never: exit, or print (errors go back as text).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "outbox.h"
#include "store.h"

void u64_be(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t be_u64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

int db_get_str(MDB_txn *txn, MDB_dbi db, const char *key, MDB_val *val)
{
	MDB_val k = { strlen(key), (void *)key };
	return mdb_get(txn, db, &k, val);
}

int db_put_str(MDB_txn *txn, MDB_dbi db, const char *key, const void *val, size_t len)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_val v = { len, (void *)val };
	return mdb_put(txn, db, &k, &v, 0);
}

bool db_has(MDB_txn *txn, MDB_dbi db, const char *key)
{
	MDB_val v;
	return db_get_str(txn, db, key, &v) == 0;
}

int meta_get_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t *v)
{
	MDB_val val;
	int rc = db_get_str(txn, s->meta, name, &val);
	if (rc)
		return rc;
	if (val.mv_size != 8)
		return MDB_CORRUPTED;
	*v = be_u64(val.mv_data);
	return 0;
}

int meta_put_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t v)
{
	uint8_t b[8];
	u64_be(v, b);
	return db_put_str(txn, s->meta, name, b, 8);
}

static int open_dbs(struct store *s, MDB_txn *txn, unsigned flags)
{
	unsigned f = (flags & STORE_RDONLY) ? 0 : MDB_CREATE;
	int rc;
	if ((rc = mdb_dbi_open(txn, "meta", f, &s->meta)) || (rc = mdb_dbi_open(txn, "devices", f, &s->devices)) ||
	    (rc = mdb_dbi_open(txn, "baseline", f, &s->baseline)) || (rc = mdb_dbi_open(txn, "alerts", f, &s->alerts)) ||
	    (rc = mdb_dbi_open(txn, "alert_keys", f, &s->alert_keys)))
		return rc;
	return 0;
}

int store_open(struct store *s, const char *dir, unsigned flags, size_t map_mb, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	char path[600];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	struct stat sb;
	bool exists = stat(path, &sb) == 0;
	if (!exists && !(flags & STORE_CREATE)) {
		snprintf(err, errlen, "state directory %s holds no otsensor store (%s is missing)", dir, path);
		return -1;
	}
	if (!exists && mkdir(dir, 0750) && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = mdb_env_create(&s->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS);
	if (!rc && map_mb)
		rc = mdb_env_set_mapsize(s->env, map_mb << 20);
	if (!rc)
		rc = mdb_env_set_maxreaders(s->env, 126);
	unsigned eflags = MDB_NOSYNC | MDB_NOTLS | ((flags & STORE_RDONLY) ? MDB_RDONLY : 0);
	if (!rc)
		rc = mdb_env_open(s->env, dir, eflags, 0640);
	if (rc) {
		snprintf(err, errlen, "state store %s: cannot open: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	MDB_txn *txn;
	rc = mdb_txn_begin(s->env, NULL, (flags & STORE_RDONLY) ? MDB_RDONLY : 0, &txn);
	if (rc) {
		snprintf(err, errlen, "state store %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	rc = open_dbs(s, txn, flags);
	if (rc) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "state store %s: %s (not an otsensor store, or written by an older version)", dir,
			 mdb_strerror(rc));
		goto fail;
	}
	uint64_t schema = 0;
	rc = meta_get_u64(s, txn, "schema", &schema);
	if (rc == MDB_NOTFOUND && !(flags & STORE_RDONLY)) {
		rc = meta_put_u64(s, txn, "schema", STORE_SCHEMA);
		schema = STORE_SCHEMA;
	}
	if (rc) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "state store %s: no schema version: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	if (schema != STORE_SCHEMA) {
		mdb_txn_abort(txn);
		snprintf(err, errlen,
			 "state store %s has schema version %llu, this otsensor expects version %d "
			 "(export the baseline with the version that wrote it, or use a new state directory)",
			 dir, (unsigned long long)schema, STORE_SCHEMA);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		snprintf(err, errlen, "state store %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	if (s->env)
		mdb_env_close(s->env);
	s->env = NULL;
	return -1;
}

void store_close(struct store *s)
{
	if (!s->env)
		return;
	if (!s->ephemeral)
		mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	s->env = NULL;
}
