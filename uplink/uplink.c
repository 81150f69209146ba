/*
 * uplink.c - the uplink thread: outbox -> Azure, with backoff, Retry-After, health
 * messages and a persisted status record (see uplink.h).
 *
 * Two lanes drain the outbox independently, so a Blob outage never holds up alerts:
 *   messages (alert, device, health) -> IoT Hub when iothub_host is set, else Event Hubs
 *   blobs    (evidence, snapshot)    -> Blob Storage (blob_url)
 * A failed lane waits retry_min * 2^(failures-1) seconds (capped at retry_max) with
 * "equal jitter" (half fixed, half random), or exactly the Retry-After of a 429/503.
 * Entries leave the outbox only after a 2xx (or a 400/413 that no resend can cure,
 * counted as rejected), in one write transaction per batch, or per ACK_WINDOW_MS when
 * IoT Hub messages go one per request: a kill -9 resends at most that window's worth.
 *
 * Must never: hold an LMDB transaction across a network call, or busy-loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "curl-lazy.h"
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <sys/random.h>

#include "azure.h"
#include "config.h"
#include "http.h"
#include "outbox.h"
#include "uplink.h"

#define MSG_MASK ((1u << OUTBOX_ALERT) | (1u << OUTBOX_DEVICE) | (1u << OUTBOX_HEALTH))
#define BLOB_MASK ((1u << OUTBOX_EVIDENCE) | (1u << OUTBOX_SNAPSHOT))
#define MAX_BATCH 1000
#define EVENTHUB_BATCH_BYTES (200u * 1024)
#define IDLE_POLL_MS 500
#define ACK_WINDOW_MS 25

struct lane {
	const char *name;
	unsigned mask;
	bool enabled;
	int fails;
	long long next_try_ms;
	unsigned batch_limit;
};

struct status {
	char state[24];
	int64_t started, last_success, last_attempt, last_error_at;
	long last_http_status;
	char last_error[512];
	uint64_t sent;
	int fails;
};

struct uplink {
	MDB_env *env;
	struct uplink_config cfg;
	char sensor[64];
	struct outbox ob;
	bool running;           /* a thread exists */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop, abort;
	_Atomic long long deadline_ms; /* drain deadline, 0 = none */
	uplink_health_fn health_fn;
	void *health_arg;
	struct lane lanes[2];
	struct status st;
	uint64_t rng;
	struct uplink_http http;
	struct azure az;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static uint64_t rnd(struct uplink *u)
{
	/* xorshift64*: jitter only, not security */
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return u->rng * 2685821657736338717ull;
}

static void rfc3339(int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!t) {
		snprintf(out, outlen, "never");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The proxy URL without its credentials, for status output. */
static void proxy_public(const char *proxy, char *out, size_t outlen)
{
	out[0] = 0;
	if (!proxy[0])
		return; /* (no libcurl needed) */
	CURLU *h = curl_url();
	char *s = NULL;
	if (!h)
		goto done;
	if (curl_url_set(h, CURLUPART_URL, proxy, 0) == CURLUE_OK) {
		curl_url_set(h, CURLUPART_USER, NULL, 0);
		curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
		if (curl_url_get(h, CURLUPART_URL, &s, 0) == CURLUE_OK)
			snprintf(out, outlen, "%s", s);
	}
	curl_free(s);
done:
	if (h)
		curl_url_cleanup(h);
}

static json_object *status_json(struct uplink *u)
{
	json_object *o = json_object_new_object();
	char px[600], ts[40];
	const char *dest = u->cfg.iothub_host[0] ? u->cfg.iothub_host : u->az.eventhub_host;

	proxy_public(u->cfg.proxy, px, sizeof px);
	json_object_object_add(o, "state", json_object_new_string(u->st.state));
	json_object_object_add(o, "mode", json_object_new_string(u->cfg.mode));
	json_object_object_add(o, "proxy", px[0] ? json_object_new_string(px) : NULL);
	json_object_object_add(o, "destination", dest[0] ? json_object_new_string(dest) : NULL);
	json_object_object_add(o, "service", json_object_new_string(u->cfg.iothub_host[0] ? "iothub" :
								   u->cfg.eventhub_namespace[0] ? "eventhubs" : "none"));
	json_object_object_add(o, "blob", json_object_new_boolean(u->cfg.blob_url[0] != 0));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "started", json_object_new_int64(u->st.started));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "last_success", json_object_new_int64(u->st.last_success));
	rfc3339(u->st.last_success, ts, sizeof ts);
	json_object_object_add(o, "last_success_utc", json_object_new_string(ts));
	json_object_object_add(o, "last_attempt", json_object_new_int64(u->st.last_attempt));
	json_object_object_add(o, "last_error", u->st.last_error[0] ? json_object_new_string(u->st.last_error) : NULL);
	json_object_object_add(o, "last_error_at", json_object_new_int64(u->st.last_error_at));
	json_object_object_add(o, "last_http_status", json_object_new_int64(u->st.last_http_status));
	json_object_object_add(o, "consecutive_failures", json_object_new_int(u->st.fails));
	json_object_object_add(o, "sent_this_run", json_object_new_int64((int64_t)u->st.sent));
	json_object_object_add(o, "sas_tokens_made", json_object_new_int64((int64_t)u->az.tokens_made));
	return o;
}

static int put_status(struct uplink *u, MDB_txn *txn)
{
	json_object *o = status_json(u);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int rc = outbox_meta_put(&u->ob, txn, "status", s, strlen(s));
	json_object_put(o);
	return rc;
}

static void warn_lmdb(const char *what, int rc)
{
	fprintf(stderr, "otsensor: uplink: %s: %s\n", what, mdb_strerror(rc));
}

/* One write transaction: acknowledge and reject entries, store the status. */
static int commit_results(struct uplink *u, struct outbox_msg *acked, int na, struct outbox_msg *rej, int nr)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(u->env, NULL, 0, &txn);

	if (rc) {
		warn_lmdb("begin", rc);
		return rc;
	}
	if ((na && (rc = outbox_ack(&u->ob, txn, acked, na, false))) ||
	    (nr && (rc = outbox_ack(&u->ob, txn, rej, nr, true))) || (rc = put_status(u, txn))) {
		mdb_txn_abort(txn);
		warn_lmdb("acknowledge", rc);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		warn_lmdb("commit", rc);
	return rc;
}

static void succeeded(struct uplink *u, struct lane *l)
{
	int64_t now = (int64_t)time(NULL);
	if (u->st.fails)
		fprintf(stderr, "otsensor: uplink: %s lane recovered\n", l->name);
	l->fails = 0;
	l->next_try_ms = 0;
	u->st.fails = 0;
	u->st.last_success = u->st.last_attempt = now;
	u->st.last_http_status = 200;
	snprintf(u->st.state, sizeof u->st.state, "connected");
}

static void failed(struct uplink *u, struct lane *l, const struct http_result *res)
{
	long long delay;
	if (atomic_load(&u->abort))
		return; /* our own stop cut the request short: the last real error stands */
	bool same = !strcmp(u->st.last_error, res->error);

	l->fails++;
	u->st.fails = l->fails;
	u->st.last_attempt = u->st.last_error_at = (int64_t)time(NULL);
	u->st.last_http_status = res->status;
	snprintf(u->st.last_error, sizeof u->st.last_error, "%s", res->error);
	snprintf(u->st.state, sizeof u->st.state, "retrying");
	if (res->status == 401 || res->status == 403)
		azure_drop_tokens(&u->az);
	if (res->retry_after > 0) {
		delay = (res->retry_after > 3600 ? 3600 : res->retry_after) * 1000LL;
	} else {
		long long base = (long long)u->cfg.retry_min * 1000;
		int shift = l->fails - 1 < 20 ? l->fails - 1 : 20;
		base <<= shift;
		if (base > (long long)u->cfg.retry_max * 1000)
			base = (long long)u->cfg.retry_max * 1000;
		delay = base / 2 + (long long)(rnd(u) % (uint64_t)(base / 2 + 1));
	}
	l->next_try_ms = http_now_ms() + delay;
	if (!same)
		fprintf(stderr, "otsensor: uplink: %s; retrying in %.1fs\n", res->error, delay / 1000.0);
}

static bool permanent_status(long s)
{
	return s == 400 || s == 413 || s == 414;
}

/* Sends one batch of the lane. Returns true if anything was delivered. */
static bool run_lane(struct uplink *u, struct lane *l, struct outbox_msg *msgs, int n)
{
	struct outbox_msg *acked = calloc((size_t)n, sizeof *acked), *rej = calloc((size_t)n, sizeof *rej);
	int na = 0, nr = 0;
	bool progress = false;
	struct http_result res;
	long long last_commit = http_now_ms();

	if (!acked || !rej) {
		free(acked);
		free(rej);
		return false;
	}
	if (l->mask == BLOB_MASK) {
		for (int i = 0; i < n && !atomic_load(&u->abort); i++) {
			bool permanent = false;
			if (azure_blob_put(&u->az, &msgs[i], &res, &permanent)) {
				acked[na++] = msgs[i];
				succeeded(u, l);
			} else if (permanent || permanent_status(res.status)) {
				rej[nr++] = msgs[i];
				fprintf(stderr, "otsensor: uplink: dropped %s %s: %s\n", outbox_kind_name(msgs[i].kind),
					msgs[i].msgid, res.error);
				snprintf(u->st.last_error, sizeof u->st.last_error, "%s", res.error);
				u->st.last_error_at = (int64_t)time(NULL);
			} else {
				failed(u, l, &res);
				break;
			}
		}
	} else if (u->cfg.iothub_host[0]) {
		for (int i = 0; i < n && !atomic_load(&u->abort); i++) {
			if (azure_iothub_send(&u->az, &msgs[i], &res)) {
				/* acknowledge at least every ACK_WINDOW_MS: a crash resends only what
				 * was delivered in that window (with the same message ids); one
				 * commit per message would cap the rate at the disk's fsync rate */
				acked[na++] = msgs[i];
				succeeded(u, l);
				if (http_now_ms() - last_commit >= ACK_WINDOW_MS) {
					u->st.sent += (uint64_t)na;
					commit_results(u, acked, na, rej, nr);
					na = nr = 0;
					last_commit = http_now_ms();
					progress = true;
				}
			} else if (permanent_status(res.status)) {
				rej[nr++] = msgs[i];
				fprintf(stderr, "otsensor: uplink: IoT Hub refused %s %s for good: %s\n",
					outbox_kind_name(msgs[i].kind), msgs[i].msgid, res.error);
				snprintf(u->st.last_error, sizeof u->st.last_error, "%s", res.error);
				u->st.last_error_at = (int64_t)time(NULL);
			} else {
				failed(u, l, &res);
				break;
			}
		}
	} else {
		/* Event Hubs: one POST per batch, bounded in bytes */
		size_t bytes = 0;
		int k = 0;
		while (k < n && k < (int)l->batch_limit && (k == 0 || bytes + msgs[k].len + 256 <= EVENTHUB_BATCH_BYTES))
			bytes += msgs[k++].len + 256;
		if (azure_eventhub_send(&u->az, msgs, k, &res)) {
			for (int i = 0; i < k; i++)
				acked[na++] = msgs[i];
			succeeded(u, l);
			if (l->batch_limit < u->cfg.batch_max)
				l->batch_limit = l->batch_limit * 2 > u->cfg.batch_max ? u->cfg.batch_max : l->batch_limit * 2;
		} else if (permanent_status(res.status) && k > 1) {
			l->batch_limit = (unsigned)k / 2; /* too big a batch: halve and resend at once */
			snprintf(u->st.last_error, sizeof u->st.last_error, "%s", res.error);
		} else if (permanent_status(res.status)) {
			rej[nr++] = msgs[0];
			fprintf(stderr, "otsensor: uplink: Event Hubs refused %s %s for good: %s\n",
				outbox_kind_name(msgs[0].kind), msgs[0].msgid, res.error);
			snprintf(u->st.last_error, sizeof u->st.last_error, "%s", res.error);
		} else {
			failed(u, l, &res);
		}
	}
	u->st.sent += (uint64_t)na;
	if (na || nr || l->fails)
		commit_results(u, acked, na, rej, nr);
	progress = progress || na > 0 || nr > 0;
	free(acked);
	free(rej);
	return progress;
}

static void add_i64(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, v < 0 ? NULL : json_object_new_int64(v));
}

static void queue_health(struct uplink *u)
{
	struct uplink_health h = { -1, -1, -1, -1, -1 };
	struct outbox_counters c;
	uint64_t depth = 0;
	json_object *o, *v, *q;
	char ts[40];
	const char *s;
	MDB_txn *txn;
	int rc;

	pthread_mutex_lock(&u->mu);
	if (u->health_fn)
		u->health_fn(u->health_arg, &h);
	pthread_mutex_unlock(&u->mu);

	if ((rc = mdb_txn_begin(u->env, NULL, 0, &txn))) {
		warn_lmdb("health", rc);
		return;
	}
	outbox_stats(&u->ob, txn, &depth, &c);
	o = json_object_new_object();
	rfc3339((int64_t)time(NULL), ts, sizeof ts);
	json_object_object_add(o, "type", json_object_new_string("health"));
	json_object_object_add(o, "ts", json_object_new_string(ts));
	json_object_object_add(o, "sensor", json_object_new_string(u->sensor));
	add_i64(o, "packets", h.packets);
	add_i64(o, "drops", h.drops);
	add_i64(o, "devices", h.devices);
	add_i64(o, "alerts", h.alerts);
	json_object_object_add(o, "learning", h.learning < 0 ? NULL : json_object_new_boolean(h.learning));
	json_object_object_add(o, "queue_depth", json_object_new_int64((int64_t)depth));
	q = json_object_new_object();
	json_object_object_add(q, "sent", json_object_new_int64((int64_t)c.sent));
	json_object_object_add(q, "rejected", json_object_new_int64((int64_t)c.rejected));
	json_object_object_add(q, "coalesced", json_object_new_int64((int64_t)c.coalesced));
	json_object_object_add(q, "evicted_health", json_object_new_int64((int64_t)c.evicted_health));
	json_object_object_add(q, "evicted_devices", json_object_new_int64((int64_t)c.evicted_devices));
	json_object_object_add(q, "alerts_dropped", json_object_new_int64((int64_t)c.alerts_dropped));
	json_object_object_add(q, "devices_dropped", json_object_new_int64((int64_t)c.devices_dropped));
	json_object_object_add(o, "outbox", q);
	v = json_object_new_object();
	json_object_object_add(v, "otsensor", json_object_new_string(OTSENSOR_VERSION));
	json_object_object_add(v, "libcurl", json_object_new_string(curl_version_info(CURLVERSION_NOW)->version));
	json_object_object_add(v, "openssl", json_object_new_string(OpenSSL_version(OPENSSL_VERSION)));
	json_object_object_add(v, "lmdb", json_object_new_string(mdb_version(NULL, NULL, NULL)));
	json_object_object_add(v, "json-c", json_object_new_string(json_c_version()));
	json_object_object_add(o, "versions", v);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = outbox_put(&u->ob, txn, OUTBOX_HEALTH, "health", s, strlen(s));
	json_object_put(o);
	if (rc < 0) {
		mdb_txn_abort(txn);
		warn_lmdb("health", rc);
		return;
	}
	if ((rc = mdb_txn_commit(txn)))
		warn_lmdb("health commit", rc);
}

static void *uplink_main(void *arg)
{
	struct uplink *u = arg;
	struct outbox_msg *msgs = calloc(MAX_BATCH, sizeof *msgs);
	long long next_health = http_now_ms() + 1000;

	if (!msgs)
		return NULL;
	for (;;) {
		long long now = http_now_ms();
		bool progress = false, pending = false;
		long long wake;

		if (atomic_load(&u->stop)) {
			long long d = atomic_load(&u->deadline_ms);
			if (atomic_load(&u->abort) || !d || now >= d)
				break;
		} else if (u->cfg.health_interval && now >= next_health) {
			queue_health(u);
			next_health = now + (long long)u->cfg.health_interval * 1000;
		}
		for (int i = 0; i < 2; i++) {
			struct lane *l = &u->lanes[i];
			MDB_txn *txn;
			int n, rc;

			if (!l->enabled)
				continue;
			if (now < l->next_try_ms) {
				pending = true;
				continue;
			}
			if ((rc = mdb_txn_begin(u->env, NULL, MDB_RDONLY, &txn))) {
				warn_lmdb("read", rc);
				continue;
			}
			n = outbox_peek(&u->ob, txn, l->mask, msgs,
					(int)(l->batch_limit < MAX_BATCH ? l->batch_limit : MAX_BATCH));
			mdb_txn_abort(txn);
			if (n < 0) {
				warn_lmdb("peek", -n);
				continue;
			}
			if (n == 0)
				continue;
			pending = true;
			if (run_lane(u, l, msgs, n))
				progress = true;
			outbox_msgs_free(msgs, n);
			if (atomic_load(&u->abort))
				break;
		}
		if (atomic_load(&u->stop) && !pending)
			break; /* drained */
		if (progress)
			continue;
		/* sleep until the next retry, health message, deadline or poll */
		wake = now + IDLE_POLL_MS;
		for (int i = 0; i < 2; i++)
			if (u->lanes[i].enabled && u->lanes[i].next_try_ms > now && u->lanes[i].next_try_ms < wake)
				wake = u->lanes[i].next_try_ms;
		if (!atomic_load(&u->stop) && u->cfg.health_interval && next_health < wake)
			wake = next_health;
		{
			long long d = atomic_load(&u->deadline_ms);
			if (atomic_load(&u->stop) && d && d < wake)
				wake = d;
		}
		pthread_mutex_lock(&u->mu);
		if (!atomic_load(&u->abort) && wake > http_now_ms()) {
			struct timespec ts;
			long long ms = wake - http_now_ms();
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&u->cv, &u->mu, &ts);
		}
		pthread_mutex_unlock(&u->mu);
	}
	free(msgs);
	return NULL;
}

static int write_status(struct uplink *u)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(u->env, NULL, 0, &txn);

	if (rc)
		return rc;
	if ((rc = put_status(u, txn))) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int uplink_start(struct uplink **out, MDB_env *env, const struct config *cfg, char *err, size_t errlen)
{
	struct uplink *u;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	u = calloc(1, sizeof *u);
	if (!u) {
		snprintf(err, errlen, "uplink: out of memory");
		return -1;
	}
	u->env = env;
	u->cfg = cfg->uplink;
	snprintf(u->sensor, sizeof u->sensor, "%s", cfg->sensor.name[0] ? cfg->sensor.name : "otsensor");
	if (uplink_config_check(&u->cfg, err, errlen)) {
		free(u);
		return -1;
	}
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	u->st.started = (int64_t)time(NULL);
	if (getrandom(&u->rng, sizeof u->rng, GRND_NONBLOCK) != (ssize_t)sizeof u->rng || !u->rng)
		u->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;

	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = outbox_open(txn, &u->cfg, &u->ob))) {
		if (rc && txn)
			mdb_txn_abort(txn);
		snprintf(err, errlen, "uplink: cannot open the outbox in the state store: %s", mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn))) {
		snprintf(err, errlen, "uplink: cannot open the outbox in the state store: %s", mdb_strerror(rc));
		goto fail;
	}
	azure_init(&u->az, &u->cfg, u->sensor, &u->http);
	if (!strcmp(u->cfg.mode, "off")) {
		snprintf(u->st.state, sizeof u->st.state, "off");
		write_status(u);
		*out = u;
		return 0;
	}
	/* libcurl is opened here, when there is something to send (curl-lazy.h) */
	pthread_once(&curl_once, curl_global);
	if (curl_lazy_error()[0]) {
		snprintf(err, errlen, "uplink: %s", curl_lazy_error());
		goto fail;
	}
	if (http_init(&u->http, &u->cfg, &u->abort, &u->deadline_ms, err, errlen))
		goto fail;
	u->lanes[0] = (struct lane){ "messages", MSG_MASK, u->ob.has_messaging, 0, 0, u->cfg.batch_max };
	u->lanes[1] = (struct lane){ "blobs", BLOB_MASK, u->ob.has_blob, 0, 0, u->cfg.batch_max };
	snprintf(u->st.state, sizeof u->st.state, "connecting");
	write_status(u);
	if ((rc = pthread_create(&u->th, NULL, uplink_main, u))) {
		snprintf(err, errlen, "uplink: cannot start the thread: %s", strerror(rc));
		http_free(&u->http);
		goto fail;
	}
	pthread_setname_np(u->th, "ots-uplink");
	u->running = true;
	*out = u;
	return 0;
fail:
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	free(u);
	return -1;
}

void uplink_set_health_source(struct uplink *u, uplink_health_fn fn, void *arg)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	u->health_fn = fn;
	u->health_arg = arg;
	pthread_mutex_unlock(&u->mu);
}

void uplink_kick(struct uplink *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

void uplink_stop(struct uplink *u, unsigned drain_timeout_s)
{
	if (!u)
		return;
	if (u->running) {
		pthread_mutex_lock(&u->mu);
		if (drain_timeout_s == 0)
			atomic_store(&u->abort, 1);
		else
			atomic_store(&u->deadline_ms, http_now_ms() + (long long)drain_timeout_s * 1000);
		atomic_store(&u->stop, 1);
		pthread_cond_signal(&u->cv);
		pthread_mutex_unlock(&u->mu);
		pthread_join(u->th, NULL);
		snprintf(u->st.state, sizeof u->st.state, "stopped");
		write_status(u);
		http_free(&u->http);
	}
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	OPENSSL_cleanse(u->cfg.sas_key, sizeof u->cfg.sas_key);
	OPENSSL_cleanse(u->cfg.eventhub_key, sizeof u->cfg.eventhub_key);
	free(u);
}

/* ---- console ------------------------------------------------------------------ */

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_string(v);
	return NULL;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_int64(v);
	return 0;
}

int uplink_ctl_status(MDB_env *env, bool json, FILE *out)
{
	struct outbox ob;
	struct outbox_counters c;
	MDB_txn *txn;
	uint64_t depth = 0, per_kind[8] = { 0 };
	json_object *st = NULL, *o;
	const void *v;
	size_t len;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
		fprintf(stderr, "otsensor: ctl uplink status: %s\n", mdb_strerror(rc));
		return -1;
	}
	rc = outbox_open(txn, NULL, &ob);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		if (json)
			fprintf(out, "{\"state\":\"never started\",\"queue_depth\":0,\"last_success\":null,\"last_error\":null}\n");
		else
			fprintf(out, "uplink: never started in this state directory (queue empty)\n");
		return 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		fprintf(stderr, "otsensor: ctl uplink status: %s\n", mdb_strerror(rc));
		return -1;
	}
	outbox_stats(&ob, txn, &depth, &c);
	{
		/* per-kind depth without copying payloads: a cursor walk */
		MDB_cursor *cur;
		MDB_val k, val;
		if (mdb_cursor_open(txn, ob.q, &cur) == 0) {
			int r = mdb_cursor_get(cur, &k, &val, MDB_FIRST);
			while (r == 0) {
				if (val.mv_size >= 2) {
					uint8_t kind = ((const uint8_t *)val.mv_data)[1];
					per_kind[kind & 7]++;
				}
				r = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
			}
			mdb_cursor_close(cur);
		}
	}
	if (outbox_meta_get(&ob, txn, "status", &v, &len) == 0) {
		char *s = strndup(v, len);
		st = s ? json_tokener_parse(s) : NULL;
		free(s);
	}
	mdb_txn_abort(txn);

	/* A state that claims to be live but whose process is gone was killed */
	const char *state = jstr(st, "state");
	char state_buf[64];
	int64_t pid = jint(st, "pid");
	if (state && strcmp(state, "stopped") && strcmp(state, "off") && pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH) {
		snprintf(state_buf, sizeof state_buf, "not running (was %s)", state);
		state = state_buf;
	}
	if (!state)
		state = "never started";

	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "mode", jstr(st, "mode") ? json_object_new_string(jstr(st, "mode")) : NULL);
		json_object_object_add(o, "destination", jstr(st, "destination") ? json_object_new_string(jstr(st, "destination")) : NULL);
		json_object_object_add(o, "proxy", jstr(st, "proxy") ? json_object_new_string(jstr(st, "proxy")) : NULL);
		json_object_object_add(o, "last_success", jint(st, "last_success") ? json_object_new_int64(jint(st, "last_success")) : NULL);
		json_object_object_add(o, "last_error", jstr(st, "last_error") ? json_object_new_string(jstr(st, "last_error")) : NULL);
		json_object_object_add(o, "last_error_at", jint(st, "last_error_at") ? json_object_new_int64(jint(st, "last_error_at")) : NULL);
		json_object_object_add(o, "last_http_status", json_object_new_int64(jint(st, "last_http_status")));
		json_object_object_add(o, "queue_depth", json_object_new_int64((int64_t)depth));
		json_object *q = json_object_new_object();
		for (int k = OUTBOX_ALERT; k <= OUTBOX_SNAPSHOT; k++)
			json_object_object_add(q, outbox_kind_name(k), json_object_new_int64((int64_t)per_kind[k]));
		json_object_object_add(o, "queue", q);
		json_object_object_add(o, "sent", json_object_new_int64((int64_t)c.sent));
		json_object_object_add(o, "rejected", json_object_new_int64((int64_t)c.rejected));
		json_object_object_add(o, "coalesced", json_object_new_int64((int64_t)c.coalesced));
		json_object_object_add(o, "evicted", json_object_new_int64((int64_t)(c.evicted_health + c.evicted_devices)));
		json_object_object_add(o, "alerts_dropped", json_object_new_int64((int64_t)c.alerts_dropped));
		json_object_object_add(o, "devices_dropped", json_object_new_int64((int64_t)c.devices_dropped));
		json_object_object_add(o, "outbox_full", json_object_new_boolean(c.full != 0));
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		char ts[40], ets[40];
		int64_t now = (int64_t)time(NULL), ls = jint(st, "last_success"), le = jint(st, "last_error_at");
		rfc3339(ls, ts, sizeof ts);
		rfc3339(le, ets, sizeof ets);
		fprintf(out, "state         %s\n", state);
		const char *mode = jstr(st, "mode"), *px = jstr(st, "proxy"), *dest = jstr(st, "destination");
		const char *lerr = jstr(st, "last_error");
		fprintf(out, "mode          %s%s%s\n", mode ? mode : "-", px ? " via " : "", px ? px : "");
		fprintf(out, "destination   %s\n", dest ? dest : "-");
		if (ls)
			fprintf(out, "last success  %s (%llds ago)\n", ts, (long long)(now - ls));
		else
			fprintf(out, "last success  never\n");
		fprintf(out, "queue depth   %llu (alerts %llu, devices %llu, health %llu, evidence %llu, snapshots %llu)\n",
			(unsigned long long)depth, (unsigned long long)per_kind[OUTBOX_ALERT],
			(unsigned long long)per_kind[OUTBOX_DEVICE], (unsigned long long)per_kind[OUTBOX_HEALTH],
			(unsigned long long)per_kind[OUTBOX_EVIDENCE], (unsigned long long)per_kind[OUTBOX_SNAPSHOT]);
		if (lerr)
			fprintf(out, "last error    %s (at %s)\n", lerr, ets);
		else
			fprintf(out, "last error    none\n");
		fprintf(out, "sent          %llu   rejected %llu   coalesced %llu   evicted %llu\n",
			(unsigned long long)c.sent, (unsigned long long)c.rejected, (unsigned long long)c.coalesced,
			(unsigned long long)(c.evicted_health + c.evicted_devices));
		fprintf(out, "dropped       alerts %llu   devices %llu%s\n", (unsigned long long)c.alerts_dropped,
			(unsigned long long)c.devices_dropped, c.full ? "   (OUTBOX FULL)" : "");
	}
	json_object_put(st);
	return 0;
}
