/*
 * outbox-tool.c - drives the uplink without the engine: opens an LMDB state dir,
 * queues alerts / device updates / evidence the way the state thread does (one write
 * transaction per record), runs the uplink thread, and reports as JSON on stdout.
 *
 *   outbox-tool STATE CONFIG enqueue-alerts N [PREFIX]
 *   outbox-tool STATE CONFIG enqueue-devices N UPDATES
 *   outbox-tool STATE CONFIG enqueue-evidence ALERT_ID PCAP
 *   outbox-tool STATE CONFIG enqueue-snapshot
 *   outbox-tool STATE CONFIG enqueue-abort                  outbox_put, then abort the txn
 *   outbox-tool STATE CONFIG raise N INTERVAL_MS [PREFIX]   uplink runs while alerts are raised,
 *                                                          then drains (drain_timeout)
 *   outbox-tool STATE CONFIG drain                          start, drain, stop (like replay)
 *   outbox-tool STATE CONFIG run SECONDS                    start, run, stop at once
 *   outbox-tool STATE CONFIG stats                          depth and counters
 *   outbox-tool STATE CONFIG status [--json]                what `ctl uplink status` prints
 *   outbox-tool sas iothub|servicebus RESOURCE KEY KEYNAME|- EXPIRY   print a SAS token
 *
 * Must never: be installed; it is a test driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <json-c/json.h>
#include <lmdb.h>

#include "config.h"
#include "outbox.h"
#include "sas.h"
#include "uplink.h"

static struct config cfg;
static MDB_env *env;
static struct outbox ob;
static int64_t health_alerts;

static int on_ini(void *user, const char *section, const char *key, const char *val)
{
	char err[256];
	int rc;
	(void)user;
	if (!strcmp(section, "sensor") && !strcmp(key, "name")) {
		snprintf(cfg.sensor.name, sizeof cfg.sensor.name, "%s", val);
		return 1;
	}
	if (strcmp(section, "uplink"))
		return 1;
	rc = uplink_config_set(&cfg.uplink, key, val, err, sizeof err);
	if (rc == CONF_UNKNOWN_KEY) {
		fprintf(stderr, "outbox-tool: unknown key [uplink] %s\n", key);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "outbox-tool: [uplink] %s: %s\n", key, err);
		return 0;
	}
	return 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int put_one(enum outbox_kind kind, const char *key, json_object *o)
{
	MDB_txn *txn;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int rc = mdb_txn_begin(env, NULL, 0, &txn);

	if (rc) {
		fprintf(stderr, "outbox-tool: txn: %s\n", mdb_strerror(rc));
		return -1;
	}
	/* the engine would store the alert itself in this same transaction */
	rc = outbox_put(&ob, txn, kind, key, s, strlen(s));
	if (rc < 0) {
		fprintf(stderr, "outbox-tool: outbox_put: %s\n", mdb_strerror(rc));
		mdb_txn_abort(txn);
		return -1;
	}
	if (mdb_txn_commit(txn)) {
		fprintf(stderr, "outbox-tool: commit failed\n");
		return -1;
	}
	return rc;
}

static int alert(const char *prefix, int i)
{
	char id[128];
	json_object *o = json_object_new_object();
	int rc;

	snprintf(id, sizeof id, "%s-%06d", prefix, i);
	json_object_object_add(o, "type", json_object_new_string("alert"));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "kind", json_object_new_string("new_device"));
	json_object_object_add(o, "engine", json_object_new_string("policy"));
	json_object_object_add(o, "severity", json_object_new_string("major"));
	json_object_object_add(o, "title", json_object_new_string("New device \"PLC\" on the \\ network"));
	json_object_object_add(o, "count", json_object_new_int(1));
	rc = put_one(OUTBOX_ALERT, id, o);
	json_object_put(o);
	return rc;
}

static void on_health(void *arg, struct uplink_health *h)
{
	(void)arg;
	h->packets = 12345;
	h->drops = 0;
	h->devices = 7;
	h->alerts = health_alerts;
	h->learning = 0;
}

static int stats(void)
{
	MDB_txn *txn;
	uint64_t depth;
	struct outbox_counters c;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);

	if (rc)
		return -1;
	outbox_stats(&ob, txn, &depth, &c);
	mdb_txn_abort(txn);
	printf("{\"depth\":%llu,\"queued\":%llu,\"sent\":%llu,\"coalesced\":%llu,\"evicted_health\":%llu,"
	       "\"evicted_devices\":%llu,\"alerts_dropped\":%llu,\"devices_dropped\":%llu,\"rejected\":%llu,\"full\":%llu}\n",
	       (unsigned long long)depth, (unsigned long long)c.queued, (unsigned long long)c.sent,
	       (unsigned long long)c.coalesced, (unsigned long long)c.evicted_health,
	       (unsigned long long)c.evicted_devices, (unsigned long long)c.alerts_dropped,
	       (unsigned long long)c.devices_dropped, (unsigned long long)c.rejected, (unsigned long long)c.full);
	return 0;
}

static struct uplink *start(void)
{
	struct uplink *u;
	char err[512];

	if (uplink_start(&u, env, &cfg, err, sizeof err)) {
		fprintf(stderr, "outbox-tool: %s\n", err);
		exit(2);
	}
	uplink_set_health_source(u, on_health, NULL);
	return u;
}

int main(int argc, char **argv)
{
	MDB_txn *txn;
	const char *cmd;
	int rc;

	if (argc == 7 && !strcmp(argv[1], "sas")) {
		/* outbox-tool sas iothub|servicebus RESOURCE KEY KEYNAME|- EXPIRY */
		char tok[1200], err[256];
		if (sas_token(!strcmp(argv[2], "iothub") ? SAS_IOTHUB : SAS_SERVICEBUS, argv[3], argv[4],
			      strcmp(argv[5], "-") ? argv[5] : NULL, atoll(argv[6]), tok, sizeof tok, err, sizeof err)) {
			fprintf(stderr, "outbox-tool: %s\n", err);
			return 1;
		}
		printf("%s\n", tok);
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: outbox-tool STATE CONFIG COMMAND [ARGS]\n");
		return 2;
	}
	memset(&cfg, 0, sizeof cfg);
	uplink_config_defaults(&cfg.uplink);
	snprintf(cfg.sensor.name, sizeof cfg.sensor.name, "otsensor");
	if ((rc = ini_parse(argv[2], on_ini, NULL))) {
		fprintf(stderr, "outbox-tool: %s: error at line %d\n", argv[2], rc);
		return 2;
	}
	cmd = argv[3];
	mkdir(argv[1], 0700);
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 16)) ||
	    (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) || (rc = mdb_env_open(env, argv[1], 0, 0600))) {
		fprintf(stderr, "outbox-tool: %s: %s\n", argv[1], mdb_strerror(rc));
		return 1;
	}
	if (!strcmp(cmd, "status")) {
		rc = uplink_ctl_status(env, argc > 4 && !strcmp(argv[4], "--json"), stdout);
		mdb_env_close(env);
		return rc ? 1 : 0;
	}
	{
		/* the state thread opens the outbox in its first write transaction; the
		 * config check also loads sas_key_file, as uplink_start does */
		char err[512];
		struct uplink_config checked = cfg.uplink;
		if (uplink_config_check(&checked, err, sizeof err)) {
			fprintf(stderr, "outbox-tool: %s\n", err);
			return 2;
		}
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = outbox_open(txn, &cfg.uplink, &ob)) ||
	    (rc = mdb_txn_commit(txn))) {
		fprintf(stderr, "outbox-tool: outbox: %s\n", mdb_strerror(rc));
		return 1;
	}

	if (!strcmp(cmd, "enqueue-alerts") && argc >= 5) {
		int n = atoi(argv[4]), q = 0, d = 0, off = 0;
		const char *prefix = argc >= 6 ? argv[5] : "alert";
		for (int i = 0; i < n; i++) {
			rc = alert(prefix, i);
			if (rc < 0)
				return 1;
			q += rc == OUTBOX_QUEUED;
			d += rc == OUTBOX_DROPPED;
			off += rc == OUTBOX_OFF;
		}
		printf("{\"queued\":%d,\"dropped\":%d,\"off\":%d}\n", q, d, off);
	} else if (!strcmp(cmd, "enqueue-abort")) {
		/* an alert whose transaction is aborted leaves no outbox entry behind */
		json_object *o = json_object_new_object();
		const char *js;
		json_object_object_add(o, "type", json_object_new_string("alert"));
		json_object_object_add(o, "id", json_object_new_string("aborted"));
		js = json_object_to_json_string(o);
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
			return 1;
		rc = outbox_put(&ob, txn, OUTBOX_ALERT, "aborted", js, strlen(js));
		mdb_txn_abort(txn);
		json_object_put(o);
		printf("{\"rc\":%d}\n", rc);
	} else if (!strcmp(cmd, "enqueue-devices") && argc >= 6) {
		int n = atoi(argv[4]), upd = atoi(argv[5]), q = 0, d = 0;
		for (int r = 0; r < upd; r++)
			for (int i = 0; i < n; i++) {
				char id[64];
				json_object *o = json_object_new_object();
				snprintf(id, sizeof id, "dev-%04d", i);
				json_object_object_add(o, "type", json_object_new_string("device"));
				json_object_object_add(o, "id", json_object_new_string(id));
				json_object_object_add(o, "revision", json_object_new_int(r));
				rc = put_one(OUTBOX_DEVICE, id, o);
				json_object_put(o);
				if (rc < 0)
					return 1;
				q += rc == OUTBOX_QUEUED;
				d += rc == OUTBOX_DROPPED;
			}
		printf("{\"queued\":%d,\"dropped\":%d}\n", q, d);
	} else if (!strcmp(cmd, "enqueue-evidence") && argc >= 6) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(argv[5]));
		rc = put_one(OUTBOX_EVIDENCE, argv[4], o);
		json_object_put(o);
		printf("{\"rc\":%d}\n", rc);
	} else if (!strcmp(cmd, "enqueue-snapshot")) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		json_object_object_add(o, "type", json_object_new_string("inventory"));
		for (int i = 0; i < 3; i++) {
			json_object *d = json_object_new_object();
			char id[32];
			snprintf(id, sizeof id, "dev-%d", i);
			json_object_object_add(d, "id", json_object_new_string(id));
			json_object_array_add(a, d);
		}
		json_object_object_add(o, "devices", a);
		rc = put_one(OUTBOX_SNAPSHOT, "inventory", o);
		json_object_put(o);
		printf("{\"rc\":%d}\n", rc);
	} else if (!strcmp(cmd, "raise") && argc >= 6) {
		int n = atoi(argv[4]), interval = atoi(argv[5]);
		const char *prefix = argc >= 7 ? argv[6] : "alert";
		struct uplink *u = start();
		double t0 = now_s();
		for (int i = 0; i < n; i++) {
			if (alert(prefix, i) < 0)
				return 1;
			health_alerts++;
			uplink_kick(u);
			usleep((useconds_t)interval * 1000);
		}
		double t1 = now_s();
		uplink_stop(u, cfg.uplink.drain_timeout);
		fprintf(stderr, "outbox-tool: raised %d alerts in %.2fs, drained in %.2fs\n", n, t1 - t0, now_s() - t1);
		stats();
	} else if (!strcmp(cmd, "drain")) {
		double t0 = now_s();
		struct uplink *u = start();
		uplink_stop(u, cfg.uplink.drain_timeout);
		fprintf(stderr, "outbox-tool: drain took %.3fs\n", now_s() - t0);
		printf("{\"elapsed\":%.3f}\n", now_s() - t0);
		stats();
	} else if (!strcmp(cmd, "run") && argc >= 5) {
		struct uplink *u = start();
		sleep((unsigned)atoi(argv[4]));
		uplink_stop(u, 0);
		stats();
	} else if (!strcmp(cmd, "stats")) {
		stats();
	} else {
		fprintf(stderr, "outbox-tool: unknown command %s\n", cmd);
		return 2;
	}
	mdb_env_close(env);
	return 0;
}
