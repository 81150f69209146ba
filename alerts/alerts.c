/*
 * alerts.c - raising, folding and acting on alerts in the state store.
 *
 * Alerts are JSON objects in the "alerts" db (the record fields of DESIGN.md plus
 * a few restore-only ones starting with '_': dedup key, the baseline items `learn`
 * adds, packet times in microseconds). The state thread raises; the console acts
 * (ack, learn, mute, close) in its own short transaction.
 *
 * Must never: make a new alert for a repeat (same dedup key) that is not closed, or
 * queue an alert for upload outside the transaction that stores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "evidence.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#endif

static const char *dev_id(const struct ots_state *s, int i)
{
	return i >= 0 ? s->devs[i].id : "";
}

static void ts_field(json_object *o, const char *name, uint64_t ts)
{
	char b[40];
	fmt_ts(ts, b);
	json_object_object_add(o, name, json_object_new_string(b));
}

static const char *jget_str(json_object *o, const char *k)
{
	json_object *v;
	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static int put_alert(struct ots_state *s, uint64_t id, json_object *o, bool queue)
{
	uint8_t kb[8];
	u64_be(id, kb);
	size_t len;
	const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	MDB_val k = { 8, kb }, v = { len + 1, (void *)js };
	int rc = mdb_put(s->txn, s->st.alerts, &k, &v, 0);
	if (rc)
		return rc;
#ifdef OTS_HAVE_UPLINK
	if (queue && s->ob) {
		char key[24];
		snprintf(key, sizeof key, "%llu", (unsigned long long)id);
		/* what leaves the sensor is the record contract: no restore-only "_" fields */
		json_object *pub = NULL;
		if (json_object_deep_copy(o, &pub, NULL) == 0 && pub) {
			const char *drop[] = { "_key", "_first_us", "_last_us", "_learn", "_learn_range" };
			for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
				json_object_object_del(pub, drop[i]);
			js = json_object_to_json_string_length(pub, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		}
		int orc = outbox_put(s->ob, s->txn, OUTBOX_ALERT, key, js, len);
		json_object_put(pub);
		if (orc < 0)
			return orc;
	}
#else
	(void)queue; /* UPLINK CALL SITE: outbox_put(OUTBOX_ALERT) goes here when uplink/ is built */
#endif
	return 0;
}

int64_t alert_raise(struct ots_state *s, const struct alert_in *a)
{
	const struct alert_kind *k = alert_kind_find(a->kind);
	if (!k || !s->txn || s->txn_err)
		return -1;
	const struct fact *f = a->f;
	const char *src = a->src >= 0 ? dev_id(s, a->src) : a->src_addr ? a->src_addr : "";
	const char *dst = a->dst >= 0 ? dev_id(s, a->dst) : a->dst_addr ? a->dst_addr : "";
	char dkey[512];
	snprintf(dkey, sizeof dkey, "%s|%s|%s|%s", a->kind, src, dst, a->detail ? a->detail : "");
	MDB_val v;
	int rc = db_get_str(s->txn, s->st.alert_keys, dkey, &v);
	if (rc == 0 && v.mv_size == 8) {
		uint64_t id = be_u64(v.mv_data);
		uint8_t kb[8];
		u64_be(id, kb);
		MDB_val key = { 8, kb }, av;
		if (mdb_get(s->txn, s->st.alerts, &key, &av) == 0) {
			json_object *o = json_tokener_parse((const char *)av.mv_data);
			if (o) {
				const char *status = jget_str(o, "status");
				if (strcmp(status, "closed")) {
					json_object *cnt;
					int64_t c = json_object_object_get_ex(o, "count", &cnt) ? json_object_get_int64(cnt) : 1;
					json_object_object_add(o, "count", json_object_new_int64(c + 1));
					uint64_t last = 0;
					if (json_object_object_get_ex(o, "_last_us", &cnt))
						last = json_object_get_uint64(cnt);
					if (f->ts_us > last) {
						ts_field(o, "last_seen", f->ts_us);
						json_object_object_add(o, "_last_us", json_object_new_uint64(f->ts_us));
					}
					bool quiet = !strcmp(status, "muted") || !strcmp(status, "learned");
					rc = put_alert(s, id, o, false);
					json_object_put(o);
					if (rc) {
						s->txn_err = rc;
						return -1;
					}
					s->alerts_folded++;
					return quiet ? 0 : (int64_t)id;
				}
				json_object_put(o);
			}
		}
	} else if (rc != MDB_NOTFOUND && rc != 0) {
		s->txn_err = rc;
		return -1;
	}
	/* a new alert */
	uint64_t id = 0;
	meta_get_u64(&s->st, s->txn, "next_alert", &id);
	if (!id)
		id = 1;
	if ((rc = meta_put_u64(&s->st, s->txn, "next_alert", id + 1))) {
		s->txn_err = rc;
		return -1;
	}
	json_object *o = rec_new("alert", f->ts_us);
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "kind", json_object_new_string(k->kind));
	json_object_object_add(o, "engine", json_object_new_string(k->engine));
	json_object_object_add(o, "severity", json_object_new_string(k->severity));
	json_object_object_add(o, "title", json_object_new_string(k->title));
	json_object_object_add(o, "description",
			       json_object_new_string(a->description ? a->description : k->raised_by));
	json_object_object_add(o, "src_device", src[0] ? json_object_new_string(src) : NULL);
	json_object_object_add(o, "dst_device", dst[0] ? json_object_new_string(dst) : NULL);
	json_object_object_add(o, "proto", f->proto && f->proto[0] ? json_object_new_string(f->proto) : NULL);
	ts_field(o, "first_seen", f->ts_us);
	ts_field(o, "last_seen", f->ts_us);
	json_object_object_add(o, "count", json_object_new_int64(1));
	json_object_object_add(o, "status", json_object_new_string("new"));
	char path[700] = "";
	evidence_request(s, f, id, a->host_evidence, path, sizeof path);
	json_object_object_add(o, "evidence", path[0] ? json_object_new_string(path) : NULL);
	rec_add_fact_endpoints(o, f);
	json_object_object_add(o, "detail", a->detail && a->detail[0] ? json_object_new_string(a->detail) : NULL);
	json_object_object_add(o, "_key", json_object_new_string(dkey));
	json_object_object_add(o, "_first_us", json_object_new_uint64(f->ts_us));
	json_object_object_add(o, "_last_us", json_object_new_uint64(f->ts_us));
	if (a->learn) {
		json_object *lk = json_object_new_array();
		for (int i = 0; i < 4 && a->learn->keys[i]; i++)
			json_object_array_add(lk, json_object_new_string(a->learn->keys[i]));
		json_object_object_add(o, "_learn", lk);
		if (a->learn->range_key) {
			json_object *r = json_object_new_object();
			json_object_object_add(r, "key", json_object_new_string(a->learn->range_key));
			json_object_object_add(r, "lo", json_object_new_int64(a->learn->lo));
			json_object_object_add(r, "hi", json_object_new_int64(a->learn->hi));
			json_object_object_add(o, "_learn_range", r);
		}
	}
	rc = put_alert(s, id, o, true);
	json_object_put(o);
	if (!rc) {
		uint8_t kb[8];
		u64_be(id, kb);
		rc = db_put_str(s->txn, s->st.alert_keys, dkey, kb, 8);
	}
	if (rc) {
		s->txn_err = rc;
		return -1;
	}
	s->alerts_new++;
	return (int64_t)id;
}

/* range items: up to RANGE_MAX merged [lo, hi] pairs of uint32, host order */
#define RANGE_MAX 64

int alert_action(struct store *st, MDB_txn *txn, uint64_t id, const char *action, char *err, size_t errlen)
{
	uint8_t kb[8];
	u64_be(id, kb);
	MDB_val k = { 8, kb }, v;
	int rc = mdb_get(txn, st->alerts, &k, &v);
	if (rc) {
		snprintf(err, errlen, "no alert with id %llu", (unsigned long long)id);
		return -1;
	}
	json_object *o = json_tokener_parse((const char *)v.mv_data);
	if (!o) {
		snprintf(err, errlen, "alert %llu is unreadable", (unsigned long long)id);
		return -1;
	}
	const char *status = NULL;
	if (!strcmp(action, "ack"))
		status = "acknowledged";
	else if (!strcmp(action, "mute"))
		status = "muted";
	else if (!strcmp(action, "close"))
		status = "closed";
	else if (!strcmp(action, "learn"))
		status = "learned";
	if (!status) {
		json_object_put(o);
		snprintf(err, errlen, "'%s' is not ack, learn, mute or close", action);
		return -1;
	}
	rc = 0;
	if (!strcmp(action, "learn")) {
		json_object *a;
		if (json_object_object_get_ex(o, "_learn", &a))
			for (size_t i = 0; !rc && i < json_object_array_length(a); i++)
				rc = db_put_str(txn, st->baseline, json_object_get_string(json_object_array_get_idx(a, i)),
						"1", 1);
		if (!rc && json_object_object_get_ex(o, "_learn_range", &a)) {
			json_object *kk, *lo, *hi;
			if (json_object_object_get_ex(a, "key", &kk) && json_object_object_get_ex(a, "lo", &lo) &&
			    json_object_object_get_ex(a, "hi", &hi))
				rc = range_add(txn, st->baseline, json_object_get_string(kk),
					       (uint32_t)json_object_get_int64(lo), (uint32_t)json_object_get_int64(hi));
		}
	}
	if (!strcmp(action, "close")) {
		/* a closed alert that fires again is a new alert */
		const char *dk = jget_str(o, "_key");
		if (dk[0]) {
			MDB_val dkv = { strlen(dk), (void *)dk };
			int drc = mdb_del(txn, st->alert_keys, &dkv, NULL);
			if (drc && drc != MDB_NOTFOUND)
				rc = drc;
		}
	}
	json_object_object_add(o, "status", json_object_new_string(status));
	size_t len;
	const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	MDB_val nv = { len + 1, (void *)js };
	if (!rc)
		rc = mdb_put(txn, st->alerts, &k, &nv, 0);
	json_object_put(o);
	if (rc) {
		snprintf(err, errlen, "alert %llu: %s", (unsigned long long)id, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

int range_add(MDB_txn *txn, MDB_dbi db, const char *key, uint32_t lo, uint32_t hi)
{
	uint32_t r[RANGE_MAX * 2 + 2];
	size_t n = 0;
	MDB_val v;
	if (db_get_str(txn, db, key, &v) == 0) {
		n = v.mv_size / 8;
		if (n > RANGE_MAX)
			n = RANGE_MAX;
		memcpy(r, v.mv_data, n * 8);
	}
	/* insert, then merge overlapping or adjacent intervals */
	r[2 * n] = lo;
	r[2 * n + 1] = hi;
	n++;
	for (size_t i = 1; i < n; i++) /* insertion sort by lo */
		for (size_t j = i; j > 0 && r[2 * j] < r[2 * (j - 1)]; j--) {
			uint32_t a = r[2 * j], b = r[2 * j + 1];
			r[2 * j] = r[2 * (j - 1)];
			r[2 * j + 1] = r[2 * (j - 1) + 1];
			r[2 * (j - 1)] = a;
			r[2 * (j - 1) + 1] = b;
		}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && (uint64_t)r[2 * i] <= (uint64_t)r[2 * (m - 1) + 1] + 1) {
			if (r[2 * i + 1] > r[2 * (m - 1) + 1])
				r[2 * (m - 1) + 1] = r[2 * i + 1];
		} else {
			r[2 * m] = r[2 * i];
			r[2 * m + 1] = r[2 * i + 1];
			m++;
		}
	}
	if (m > RANGE_MAX) { /* too fragmented: join the two closest neighbours at the end */
		r[2 * (RANGE_MAX - 1) + 1] = r[2 * (m - 1) + 1];
		m = RANGE_MAX;
	}
	return db_put_str(txn, db, key, r, m * 8);
}

bool range_covers(MDB_txn *txn, MDB_dbi db, const char *key, uint32_t lo, uint32_t hi)
{
	MDB_val v;
	if (db_get_str(txn, db, key, &v))
		return false;
	size_t n = v.mv_size / 8;
	const uint8_t *p = v.mv_data;
	for (size_t i = 0; i < n; i++) {
		uint32_t a, b;
		memcpy(&a, p + 8 * i, 4);
		memcpy(&b, p + 8 * i + 4, 4);
		if (lo >= a && hi <= b)
			return true;
	}
	return false;
}
