/*
 * outbox.c - the LMDB store-and-forward queue (see outbox.h for the layout and the
 * policy when full).
 *
 * Entries are keyed by a 64-bit sequence number, big endian, so a cursor walks them
 * oldest first. An entry is a fixed header (host byte order: the state directory is
 * never moved between machines of different endianness), the key, then the payload.
 *
 * Must never: begin or commit a transaction (every function works in the caller's),
 * grow past the caps except by the single "outbox_full" health alert.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "outbox.h"

struct entry_hdr {
	uint8_t ver;
	uint8_t kind;
	uint16_t keylen;
	uint32_t len;
	int64_t created;
	char msgid[OUTBOX_MSGID_LEN];
};

#define VICTIM_SCAN 4096

const char *outbox_kind_name(enum outbox_kind k)
{
	switch (k) {
	case OUTBOX_ALERT: return "alert";
	case OUTBOX_DEVICE: return "device";
	case OUTBOX_HEALTH: return "health";
	case OUTBOX_EVIDENCE: return "evidence";
	case OUTBOX_SNAPSHOT: return "snapshot";
	}
	return "unknown";
}

static bool coalesces(enum outbox_kind k)
{
	return k == OUTBOX_DEVICE || k == OUTBOX_HEALTH || k == OUTBOX_SNAPSHOT;
}

static void seq_key(uint64_t seq, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(seq & 0xff);
		seq >>= 8;
	}
}

static uint64_t seq_from(const MDB_val *k)
{
	const unsigned char *p = k->mv_data;
	uint64_t s = 0;

	if (k->mv_size != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		s = s << 8 | p[i];
	return s;
}

static int open_db(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
	int rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);

	if (rc == EACCES) /* a read-only transaction cannot create: open an existing db */
		rc = mdb_dbi_open(txn, name, 0, dbi);
	return rc;
}

int outbox_open(MDB_txn *txn, const struct uplink_config *cfg, struct outbox *ob)
{
	int rc;

	memset(ob, 0, sizeof *ob);
	if ((rc = open_db(txn, "uplink_outbox", &ob->q)) || (rc = open_db(txn, "uplink_keys", &ob->keys)) ||
	    (rc = open_db(txn, "uplink_meta", &ob->meta)))
		return rc;
	if (cfg) {
		ob->enabled = strcmp(cfg->mode, "off") != 0;
		ob->has_messaging = cfg->iothub_host[0] || cfg->eventhub_namespace[0];
		ob->has_blob = cfg->blob_url[0] != 0;
		ob->max_entries = cfg->outbox_max_entries;
		ob->max_bytes = cfg->outbox_max_bytes;
	}
	return 0;
}

int outbox_meta_put(struct outbox *ob, MDB_txn *txn, const char *name, const void *val, size_t len)
{
	MDB_val k = { strlen(name), (void *)name }, v = { len, (void *)val };
	return mdb_put(txn, ob->meta, &k, &v, 0);
}

int outbox_meta_get(struct outbox *ob, MDB_txn *txn, const char *name, const void **val, size_t *len)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	int rc = mdb_get(txn, ob->meta, &k, &v);

	if (rc)
		return rc;
	*val = v.mv_data;
	*len = v.mv_size;
	return 0;
}

static int load_counters(struct outbox *ob, MDB_txn *txn, struct outbox_counters *c)
{
	const void *v;
	size_t len;
	int rc = outbox_meta_get(ob, txn, "counters", &v, &len);

	memset(c, 0, sizeof *c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	memcpy(c, v, len < sizeof *c ? len : sizeof *c);
	return 0;
}

static int save_counters(struct outbox *ob, MDB_txn *txn, const struct outbox_counters *c)
{
	return outbox_meta_put(ob, txn, "counters", c, sizeof *c);
}

/* The per-state random prefix of message ids, created on first use. */
static int instance_id(struct outbox *ob, MDB_txn *txn, char out[17])
{
	const void *v;
	size_t len;
	int rc = outbox_meta_get(ob, txn, "instance", &v, &len);

	if (rc == 0 && len == 16) {
		memcpy(out, v, 16);
		out[16] = 0;
		return 0;
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	unsigned char r[8];
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		/* fall back to time and pid: uniqueness per state dir is what matters */
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		memcpy(r, &t, 8);
	}
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return outbox_meta_put(ob, txn, "instance", out, 16);
}

static int next_seq(struct outbox *ob, MDB_txn *txn, uint64_t *seq)
{
	const void *v;
	size_t len;
	uint64_t s = 1;
	int rc = outbox_meta_get(ob, txn, "seq", &v, &len);

	if (rc == 0 && len == sizeof s)
		memcpy(&s, v, sizeof s);
	else if (rc && rc != MDB_NOTFOUND)
		return rc;
	*seq = s;
	s++;
	return outbox_meta_put(ob, txn, "seq", &s, sizeof s);
}

/* Deletes entry seq (and its coalescing index if it points at it); *kind, *len out. */
static int delete_entry(struct outbox *ob, MDB_txn *txn, uint64_t seq, const char *msgid,
			int *kind_out, size_t *len_out)
{
	unsigned char sk[8];
	MDB_val k = { 8, sk }, v;
	struct entry_hdr h;
	int rc;

	seq_key(seq, sk);
	rc = mdb_get(txn, ob->q, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size < sizeof h)
		return MDB_CORRUPTED;
	memcpy(&h, v.mv_data, sizeof h);
	if (msgid && strncmp(h.msgid, msgid, OUTBOX_MSGID_LEN))
		return MDB_NOTFOUND;
	if (coalesces(h.kind) && sizeof h + h.keylen <= v.mv_size) {
		char ik[1 + 512];
		size_t kl = h.keylen < 511 ? h.keylen : 511;
		MDB_val ikv, iv;

		ik[0] = (char)h.kind;
		memcpy(ik + 1, (const char *)v.mv_data + sizeof h, kl);
		ikv.mv_size = 1 + kl;
		ikv.mv_data = ik;
		if (mdb_get(txn, ob->keys, &ikv, &iv) == 0 && iv.mv_size == 8 && seq_from(&iv) == seq)
			mdb_del(txn, ob->keys, &ikv, NULL);
	}
	if (kind_out)
		*kind_out = h.kind;
	if (len_out)
		*len_out = h.len;
	return mdb_del(txn, ob->q, &k, NULL);
}

/* Finds the oldest entry of the wanted kinds among the oldest VICTIM_SCAN entries. */
static int find_victim(struct outbox *ob, MDB_txn *txn, unsigned mask, uint64_t *seq)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, n = 0;

	rc = mdb_cursor_open(txn, ob->q, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 && n++ < VICTIM_SCAN) {
		struct entry_hdr h;
		if (v.mv_size >= sizeof h) {
			memcpy(&h, v.mv_data, sizeof h);
			/* the "outbox_full" notice is never evicted: it is the announcement */
			bool notice = h.kind == OUTBOX_HEALTH && h.keylen == 11 && v.mv_size >= sizeof h + 11 &&
				      !memcmp((const char *)v.mv_data + sizeof h, "outbox_full", 11);
			if ((mask & (1u << h.kind)) && !notice) {
				*seq = seq_from(&k);
				mdb_cursor_close(c);
				return 0;
			}
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc ? rc : MDB_NOTFOUND;
}

static int write_entry(struct outbox *ob, MDB_txn *txn, enum outbox_kind kind, const char *key,
		       const char *json, size_t len, struct outbox_counters *cnt)
{
	char inst[17];
	uint64_t seq;
	unsigned char sk[8];
	size_t keylen = strlen(key);
	struct entry_hdr h;
	MDB_val k = { 8, sk }, v;
	int rc;

	if (keylen > 511)
		keylen = 511;
	if ((rc = instance_id(ob, txn, inst)) || (rc = next_seq(ob, txn, &seq)))
		return rc;
	memset(&h, 0, sizeof h);
	h.ver = 1;
	h.kind = (uint8_t)kind;
	h.keylen = (uint16_t)keylen;
	h.len = (uint32_t)len;
	h.created = (int64_t)time(NULL);
	snprintf(h.msgid, sizeof h.msgid, "%s-%016llx", inst, (unsigned long long)seq);
	seq_key(seq, sk);
	v.mv_size = sizeof h + keylen + len;
	rc = mdb_put(txn, ob->q, &k, &v, MDB_RESERVE | MDB_APPEND);
	if (rc == MDB_KEYEXIST) /* not the largest key (cannot happen with one sequence) */
		rc = mdb_put(txn, ob->q, &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	memcpy(v.mv_data, &h, sizeof h);
	memcpy((char *)v.mv_data + sizeof h, key, keylen);
	memcpy((char *)v.mv_data + sizeof h + keylen, json, len);
	if (coalesces(kind)) {
		char ik[1 + 512];
		MDB_val ikv = { 1 + keylen, ik }, iv = { 8, sk };
		ik[0] = (char)kind;
		memcpy(ik + 1, key, keylen);
		if ((rc = mdb_put(txn, ob->keys, &ikv, &iv, 0)))
			return rc;
	}
	cnt->bytes += len;
	cnt->queued++;
	return 0;
}

int outbox_put(struct outbox *ob, MDB_txn *txn, enum outbox_kind kind, const char *key,
	       const char *json, size_t len)
{
	struct outbox_counters cnt;
	MDB_stat st;
	int rc;
	bool blob_kind = kind == OUTBOX_EVIDENCE || kind == OUTBOX_SNAPSHOT;

	if (!ob->enabled || (blob_kind && !ob->has_blob) || (!blob_kind && !ob->has_messaging))
		return OUTBOX_OFF;
	if (len > UINT32_MAX)
		return MDB_BAD_VALSIZE;
	if ((rc = load_counters(ob, txn, &cnt)))
		return rc;

	/* 1. coalesce: replace the pending message for the same (kind, key) */
	if (coalesces(kind)) {
		char ik[1 + 512];
		size_t kl = strlen(key) < 511 ? strlen(key) : 511;
		MDB_val ikv = { 1 + kl, ik }, iv;

		ik[0] = (char)kind;
		memcpy(ik + 1, key, kl);
		if (mdb_get(txn, ob->keys, &ikv, &iv) == 0 && iv.mv_size == 8) {
			size_t old = 0;
			rc = delete_entry(ob, txn, seq_from(&iv), NULL, NULL, &old);
			if (rc == 0) {
				cnt.bytes -= old <= cnt.bytes ? old : cnt.bytes;
				cnt.coalesced++;
			} else if (rc != MDB_NOTFOUND) {
				return rc;
			}
		}
	}

	/* 2. make room: evict health, then device updates and snapshots */
	for (;;) {
		if ((rc = mdb_stat(txn, ob->q, &st)))
			return rc;
		if (st.ms_entries + 1 <= ob->max_entries && cnt.bytes + len <= ob->max_bytes)
			break;
		uint64_t victim;
		int vkind = 0;
		size_t vlen = 0;
		rc = find_victim(ob, txn, 1u << OUTBOX_HEALTH, &victim);
		if (rc == MDB_NOTFOUND)
			rc = find_victim(ob, txn, (1u << OUTBOX_DEVICE) | (1u << OUTBOX_SNAPSHOT), &victim);
		if (rc == MDB_NOTFOUND)
			break; /* only alerts and evidence left */
		if (rc)
			return rc;
		if ((rc = delete_entry(ob, txn, victim, NULL, &vkind, &vlen)))
			return rc;
		cnt.bytes -= vlen <= cnt.bytes ? vlen : cnt.bytes;
		if (vkind == OUTBOX_HEALTH)
			cnt.evicted_health++;
		else
			cnt.evicted_devices++;
	}

	/* 3. still full: alerts are counted and announced, never silently lost */
	if (st.ms_entries + 1 > ob->max_entries || cnt.bytes + len > ob->max_bytes) {
		if (kind == OUTBOX_ALERT || kind == OUTBOX_EVIDENCE)
			cnt.alerts_dropped++;
		else
			cnt.devices_dropped++;
		if (kind == OUTBOX_ALERT && !cnt.full) {
			char msg[512];
			int n;
			cnt.full = 1;
			n = snprintf(msg, sizeof msg,
				     "{\"type\":\"health_alert\",\"kind\":\"outbox_full\",\"ts\":%lld,"
				     "\"max_entries\":%llu,\"max_bytes\":%llu,\"alerts_dropped\":%llu,"
				     "\"description\":\"uplink outbox is full of alerts; new alerts stay on the sensor only\"}",
				     (long long)time(NULL), (unsigned long long)ob->max_entries,
				     (unsigned long long)ob->max_bytes, (unsigned long long)cnt.alerts_dropped);
			if ((rc = write_entry(ob, txn, OUTBOX_HEALTH, "outbox_full", msg, (size_t)n, &cnt)))
				return rc;
		}
		if ((rc = save_counters(ob, txn, &cnt)))
			return rc;
		return OUTBOX_DROPPED;
	}

	if ((rc = write_entry(ob, txn, kind, key, json, len, &cnt)))
		return rc;
	if ((rc = save_counters(ob, txn, &cnt)))
		return rc;
	return OUTBOX_QUEUED;
}

int outbox_peek(struct outbox *ob, MDB_txn *txn, unsigned kind_mask, struct outbox_msg *msgs, int max)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, n = 0;

	rc = mdb_cursor_open(txn, ob->q, &c);
	if (rc)
		return -rc > 0 ? -rc : rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 && n < max) {
		struct entry_hdr h;
		if (v.mv_size >= sizeof h) {
			memcpy(&h, v.mv_data, sizeof h);
			if ((kind_mask & (1u << h.kind)) && sizeof h + h.keylen + (size_t)h.len <= v.mv_size) {
				struct outbox_msg *m = &msgs[n];
				const char *p = (const char *)v.mv_data + sizeof h;
				memset(m, 0, sizeof *m);
				m->seq = seq_from(&k);
				m->kind = h.kind;
				m->created = h.created;
				memcpy(m->msgid, h.msgid, sizeof m->msgid);
				m->msgid[sizeof m->msgid - 1] = 0;
				m->key = malloc((size_t)h.keylen + 1);
				m->payload = malloc((size_t)h.len + 1);
				if (!m->key || !m->payload) {
					free(m->key);
					free(m->payload);
					mdb_cursor_close(c);
					outbox_msgs_free(msgs, n);
					return -ENOMEM;
				}
				memcpy(m->key, p, h.keylen);
				m->key[h.keylen] = 0;
				memcpy(m->payload, p + h.keylen, h.len);
				m->payload[h.len] = 0;
				m->len = h.len;
				n++;
			}
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		outbox_msgs_free(msgs, n);
		return rc < 0 ? rc : -rc;
	}
	return n;
}

void outbox_msgs_free(struct outbox_msg *msgs, int n)
{
	for (int i = 0; i < n; i++) {
		free(msgs[i].key);
		free(msgs[i].payload);
		msgs[i].key = msgs[i].payload = NULL;
	}
}

int outbox_ack(struct outbox *ob, MDB_txn *txn, const struct outbox_msg *msgs, int n, bool rejected)
{
	struct outbox_counters cnt;
	MDB_stat st;
	int rc;

	if ((rc = load_counters(ob, txn, &cnt)))
		return rc;
	for (int i = 0; i < n; i++) {
		size_t len = 0;
		rc = delete_entry(ob, txn, msgs[i].seq, msgs[i].msgid, NULL, &len);
		if (rc == MDB_NOTFOUND)
			continue; /* replaced by a newer update meanwhile */
		if (rc)
			return rc;
		cnt.bytes -= len <= cnt.bytes ? len : cnt.bytes;
		if (rejected)
			cnt.rejected++;
		else
			cnt.sent++;
	}
	if (cnt.full && (rc = mdb_stat(txn, ob->q, &st)) == 0 &&
	    st.ms_entries < ob->max_entries - ob->max_entries / 10 &&
	    cnt.bytes < ob->max_bytes - ob->max_bytes / 10)
		cnt.full = 0;
	return save_counters(ob, txn, &cnt);
}

int outbox_stats(struct outbox *ob, MDB_txn *txn, uint64_t *depth, struct outbox_counters *c)
{
	MDB_stat st;
	int rc = mdb_stat(txn, ob->q, &st);

	if (rc)
		return rc;
	*depth = st.ms_entries;
	return load_counters(ob, txn, c);
}
