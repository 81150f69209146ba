/*
 * ctl.c - the console commands: status, learning, devices, alerts, alert actions,
 * baseline export/import, uplink status. Tables for people, JSON Lines with --json.
 *
 * Must never: create a store (a missing one is a usage error naming the directory),
 * or hold a write transaction longer than one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "ctl.h"
#include "emit.h"
#include "otstate.h"
#include "store.h"
#ifdef OTS_HAVE_UPLINK
#include "uplink.h"
#endif

static int fail(const char *msg, const char *arg)
{
	fprintf(stderr, "otsensor ctl: ");
	fprintf(stderr, msg, arg);
	fputc('\n', stderr);
	return 2;
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static const char *js(json_object *o, const char *k)
{
	json_object *v;
	if (json_object_object_get_ex(o, k, &v) && v && !json_object_is_type(v, json_type_null))
		return json_object_get_string(v);
	return "-";
}

static void strip(json_object *o)
{
	const char *drop[16];
	int nd = 0;
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		if (k[0] == '_' && nd < 16)
			drop[nd++] = k;
	}
	for (int i = 0; i < nd; i++)
		json_object_object_del(o, drop[i]);
}

static uint64_t count_db(MDB_txn *txn, MDB_dbi db)
{
	MDB_stat st;
	return mdb_stat(txn, db, &st) ? 0 : st.ms_entries;
}

static int cmd_status(struct store *st, bool json)
{
	MDB_txn *txn;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))
		return 1;
	bool learning = true;
	learning_get(st, txn, &learning);
	uint64_t pt = 0, started = 0, ended = 0, next = 0;
	meta_get_u64(st, txn, "packet_time", &pt);
	meta_get_u64(st, txn, "learning_started", &started);
	meta_get_u64(st, txn, "learning_ended", &ended);
	meta_get_u64(st, txn, "next_alert", &next);
	uint64_t ndev = count_db(txn, st->devices), nbl = count_db(txn, st->baseline), nal = count_db(txn, st->alerts);
	uint64_t by[5] = { 0 };
	static const char *const sts[5] = { "new", "acknowledged", "learned", "muted", "closed" };
	MDB_cursor *c;
	if (!mdb_cursor_open(txn, st->alerts, &c)) {
		MDB_val k, v;
		while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			json_object *o = json_tokener_parse((const char *)v.mv_data);
			if (!o)
				continue;
			for (int i = 0; i < 5; i++)
				if (!strcmp(js(o, "status"), sts[i]))
					by[i]++;
			json_object_put(o);
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	char pts[40];
	fmt_ts(pt, pts);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("status"));
		json_object_object_add(o, "state_dir", json_object_new_string(st->dir));
		json_object_object_add(o, "schema", json_object_new_int(STORE_SCHEMA));
		json_object_object_add(o, "learning", json_object_new_boolean(learning));
		json_object_object_add(o, "packet_time", pt ? json_object_new_string(pts) : NULL);
		json_object_object_add(o, "devices", json_object_new_int64((int64_t)ndev));
		json_object_object_add(o, "baseline_items", json_object_new_int64((int64_t)nbl));
		json_object_object_add(o, "alerts", json_object_new_int64((int64_t)nal));
		json_object *bs = json_object_new_object();
		for (int i = 0; i < 5; i++)
			json_object_object_add(bs, sts[i], json_object_new_int64((int64_t)by[i]));
		json_object_object_add(o, "alerts_by_status", bs);
		print_json(o);
	} else {
		printf("state          %s (schema %d)\n", st->dir, STORE_SCHEMA);
		printf("learning       %s\n", learning ? "on" : "off");
		printf("packet time    %s\n", pt ? pts : "-");
		printf("devices        %llu\n", (unsigned long long)ndev);
		printf("baseline items %llu\n", (unsigned long long)nbl);
		printf("alerts         %llu (new %llu, acknowledged %llu, learned %llu, muted %llu, closed %llu)\n",
		       (unsigned long long)nal, (unsigned long long)by[0], (unsigned long long)by[1],
		       (unsigned long long)by[2], (unsigned long long)by[3], (unsigned long long)by[4]);
	}
	(void)started;
	(void)ended;
	(void)next;
	return 0;
}

static int cmd_learning(struct store *st, bool json, int argc, char **argv)
{
	MDB_txn *txn;
	int rc;
	if (argc == 0) {
		if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))
			return 1;
		bool on = true;
		uint64_t last = 0, pt = 0;
		learning_get(st, txn, &on);
		meta_get_u64(st, txn, "last_new", &last);
		meta_get_u64(st, txn, "packet_time", &pt);
		mdb_txn_abort(txn);
		char a[40], b[40];
		fmt_ts(last, a);
		fmt_ts(pt, b);
		if (json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "type", json_object_new_string("learning"));
			json_object_object_add(o, "learning", json_object_new_boolean(on));
			json_object_object_add(o, "last_new_item", last ? json_object_new_string(a) : NULL);
			json_object_object_add(o, "packet_time", pt ? json_object_new_string(b) : NULL);
			print_json(o);
		} else {
			printf("learning %s (last new baseline item %s, packet time %s)\n", on ? "on" : "off",
			       last ? a : "-", pt ? b : "-");
		}
		return 0;
	}
	bool on;
	if (argc == 1 && !strcmp(argv[0], "on"))
		on = true;
	else if (argc == 1 && !strcmp(argv[0], "off"))
		on = false;
	else
		return fail("learning: '%s' is not on or off", argv[0]);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return fprintf(stderr, "otsensor ctl: %s: %s\n", st->dir, mdb_strerror(rc)), 1;
	uint64_t pt = 0;
	meta_get_u64(st, txn, "packet_time", &pt);
	rc = learning_set(st, txn, on, pt);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc)
		return fprintf(stderr, "otsensor ctl: %s: %s\n", st->dir, mdb_strerror(rc)), 1;
	mdb_env_sync(st->env, 1);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("learning"));
		json_object_object_add(o, "learning", json_object_new_boolean(on));
		print_json(o);
	} else {
		printf("learning %s\n", on ? "on" : "off");
	}
	return 0;
}

static void join_array(json_object *o, const char *k, char *buf, size_t n)
{
	buf[0] = 0;
	json_object *a;
	if (!json_object_object_get_ex(o, k, &a) || !json_object_is_type(a, json_type_array))
		return;
	size_t len = 0;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *s = json_object_is_type(e, json_type_object) ? js(e, "proto") : json_object_get_string(e);
		int w = snprintf(buf + len, n - len, "%s%s", i ? "," : "", s);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

static int cmd_devices(struct store *st, bool json)
{
	MDB_txn *txn;
	MDB_cursor *c;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) || mdb_cursor_open(txn, st->devices, &c))
		return 1;
	if (!json)
		printf("%-20s %-20s %-16s %-24s %-16s %-20s %-7s\n", "ID", "TYPE", "IPS", "VENDOR", "HOSTNAME", "MODEL",
		       "LEARNED");
	MDB_val k, v;
	while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *o = json_tokener_parse((const char *)v.mv_data);
		if (!o)
			continue;
		char key[80];
		bl_dev_key(key, sizeof key, js(o, "id"));
		json_object_object_add(o, "learned", json_object_new_boolean(db_has(txn, st->baseline, key)));
		strip(o);
		if (json) {
			print_json(o);
			continue;
		}
		char ips[64];
		join_array(o, "ips", ips, sizeof ips);
		printf("%-20s %-20s %-16s %-24.24s %-16.16s %-20.20s %-7s\n", js(o, "id"), js(o, "type"),
		       ips[0] ? ips : "-", js(o, "vendor"), js(o, "hostname"), js(o, "model"), js(o, "learned"));
		json_object_put(o);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return 0;
}

static int cmd_alerts(struct store *st, bool json)
{
	MDB_txn *txn;
	MDB_cursor *c;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) || mdb_cursor_open(txn, st->alerts, &c))
		return 1;
	if (!json)
		printf("%-6s %-18s %-8s %-12s %-6s %-20s %-20s %s\n", "ID", "KIND", "SEVERITY", "STATUS", "COUNT", "SRC",
		       "DST", "LAST SEEN");
	MDB_val k, v;
	while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *o = json_tokener_parse((const char *)v.mv_data);
		if (!o)
			continue;
		strip(o);
		if (json) {
			print_json(o);
			continue;
		}
		printf("%-6s %-18s %-8s %-12s %-6s %-20.20s %-20.20s %s\n", js(o, "id"), js(o, "kind"), js(o, "severity"),
		       js(o, "status"), js(o, "count"), js(o, "src_device"), js(o, "dst_device"), js(o, "last_seen"));
		json_object_put(o);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return 0;
}

static int cmd_alert(struct store *st, bool json, int argc, char **argv)
{
	if (argc != 2)
		return fail("%s", "alert: usage: alert (ack|learn|mute|close) ID");
	const char *act = argv[0];
	if (strcmp(act, "ack") && strcmp(act, "learn") && strcmp(act, "mute") && strcmp(act, "close"))
		return fail("alert: '%s' is not ack, learn, mute or close", act);
	char *end;
	unsigned long long id = strtoull(argv[1], &end, 10);
	if (*end || !id)
		return fail("alert: '%s' is not an alert id", argv[1]);
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return fprintf(stderr, "otsensor ctl: %s: %s\n", st->dir, mdb_strerror(rc)), 1;
	char err[256];
	if (alert_action(st, txn, id, act, err, sizeof err)) {
		mdb_txn_abort(txn);
		fprintf(stderr, "otsensor ctl: %s\n", err);
		return strstr(err, "no alert") ? 2 : 1;
	}
	if ((rc = mdb_txn_commit(txn)))
		return fprintf(stderr, "otsensor ctl: %s: %s\n", st->dir, mdb_strerror(rc)), 1;
	mdb_env_sync(st->env, 1);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("alert_action"));
		json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
		json_object_object_add(o, "action", json_object_new_string(act));
		print_json(o);
	} else {
		printf("alert %llu: %s\n", id, act);
	}
	return 0;
}

static void hex(const void *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

static int cmd_export(struct store *st, const char *path)
{
	MDB_txn *txn;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))
		return 1;
	json_object *root = json_object_new_object();
	json_object_object_add(root, "otsensor_baseline", json_object_new_int(STORE_SCHEMA));
	json_object *items = json_object_new_object();
	json_object *devs = json_object_new_array();
	MDB_cursor *c;
	MDB_val k, v;
	if (!mdb_cursor_open(txn, st->baseline, &c)) {
		while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			char key[1024], *h = malloc(v.mv_size * 2 + 1);
			if (!h)
				break;
			snprintf(key, sizeof key, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
			hex(v.mv_data, v.mv_size, h);
			json_object_object_add(items, key, json_object_new_string(h));
			free(h);
		}
		mdb_cursor_close(c);
	}
	if (!mdb_cursor_open(txn, st->devices, &c)) {
		while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			json_object *o = json_tokener_parse((const char *)v.mv_data);
			if (o)
				json_object_array_add(devs, o);
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	json_object_object_add(root, "items", items);
	json_object_object_add(root, "devices", devs);
	int rc = json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY);
	json_object_put(root);
	if (rc) {
		fprintf(stderr, "otsensor ctl: baseline export: cannot write %s: %s\n", path, json_util_get_last_err());
		return 1;
	}
	printf("baseline exported to %s\n", path);
	return 0;
}

static int unhex(const char *s, uint8_t *out, size_t *n)
{
	size_t l = strlen(s);
	if (l % 2)
		return -1;
	for (size_t i = 0; i < l / 2; i++) {
		unsigned b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	*n = l / 2;
	return 0;
}

static int cmd_import(struct store *st, const char *path)
{
	json_object *root = json_object_from_file(path);
	json_object *ver, *items, *devs;
	if (!root)
		return fail("baseline import: %s is not a readable JSON file", path);
	if (!json_object_object_get_ex(root, "otsensor_baseline", &ver) ||
	    json_object_get_int(ver) != STORE_SCHEMA || !json_object_object_get_ex(root, "items", &items)) {
		json_object_put(root);
		return fail("baseline import: %s is not an otsensor baseline of this schema version", path);
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	size_t n = 0;
	json_object_object_foreach(items, key, val)
	{
		if (rc)
			break;
		const char *h = json_object_get_string(val);
		size_t len = strlen(h) / 2 + 1;
		uint8_t *b = malloc(len);
		if (!b || unhex(h, b, &len)) {
			free(b);
			continue;
		}
		rc = db_put_str(txn, st->baseline, key, b, len);
		free(b);
		n++;
	}
	if (!rc && json_object_object_get_ex(root, "devices", &devs))
		for (size_t i = 0; !rc && i < json_object_array_length(devs); i++) {
			json_object *d = json_object_array_get_idx(devs, i);
			const char *id = js(d, "id");
			if (!strcmp(id, "-") || db_has(txn, st->devices, id))
				continue;
			size_t l;
			const char *s = json_object_to_json_string_length(d, JSON_C_TO_STRING_PLAIN, &l);
			rc = db_put_str(txn, st->devices, id, s, l + 1);
		}
	json_object_put(root);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc) {
		fprintf(stderr, "otsensor ctl: baseline import into %s: %s\n", st->dir, mdb_strerror(rc));
		return 1;
	}
	mdb_env_sync(st->env, 1);
	printf("baseline imported from %s: %zu items\n", path, n);
	return 0;
}

int ctl_run(const char *dir, bool json, int argc, char **argv)
{
	if (argc < 1)
		return fail("%s", "no ctl command given (status, learning, devices, alerts, alert, baseline, uplink)");
	const char *cmd = argv[0];
	static const char *const known[] = { "status", "learning", "devices", "alerts", "alert", "baseline", "uplink",
					     NULL };
	bool ok = false;
	for (const char *const *k = known; *k; k++)
		ok |= !strcmp(*k, cmd);
	if (!ok)
		return fail("unknown ctl command '%s'", cmd);
	if (!strcmp(cmd, "baseline") && (argc != 3 || (strcmp(argv[1], "export") && strcmp(argv[1], "import"))))
		return fail("%s", "baseline: usage: baseline (export|import) FILE");
	if (!strcmp(cmd, "uplink") && (argc != 2 || strcmp(argv[1], "status")))
		return fail("%s", "uplink: usage: uplink status");
	if ((!strcmp(cmd, "status") || !strcmp(cmd, "devices") || !strcmp(cmd, "alerts")) && argc != 1)
		return fail("%s: takes no operand", cmd);
	struct store st;
	char err[700];
	if (store_open(&st, dir, 0, 0, err, sizeof err)) {
		fprintf(stderr, "otsensor ctl: %s\n", err);
		return 2;
	}
	int rc;
	if (!strcmp(cmd, "status"))
		rc = cmd_status(&st, json);
	else if (!strcmp(cmd, "learning"))
		rc = cmd_learning(&st, json, argc - 1, argv + 1);
	else if (!strcmp(cmd, "devices"))
		rc = cmd_devices(&st, json);
	else if (!strcmp(cmd, "alerts"))
		rc = cmd_alerts(&st, json);
	else if (!strcmp(cmd, "alert"))
		rc = cmd_alert(&st, json, argc - 1, argv + 1);
	else if (!strcmp(cmd, "baseline"))
		rc = !strcmp(argv[1], "export") ? cmd_export(&st, argv[2]) : cmd_import(&st, argv[2]);
	else {
#ifdef OTS_HAVE_UPLINK
		rc = uplink_ctl_status(st.env, json, stdout) ? 1 : 0;
#else
		fprintf(stderr, "otsensor ctl: uplink status: this otsensor was built without the uplink\n");
		rc = 1;
#endif
	}
	store_close(&st);
	fflush(stdout);
	return rc;
}
