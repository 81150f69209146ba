/*
 * test_state_store.c - the state store's limits, driven through ots_state_open /
 * ots_state_apply and the console: a schema version mismatch is a clear error (ctl
 * exit status 2), a full map ([alerts] store_max_mb) is reported and survived, and
 * STATE/evidence stays under [alerts] evidence_max_mb, oldest files first.
 *
 * Must never: depend on wall time, or on files outside its temporary directories.
 */
#include <sys/stat.h>

#include "../state/common.h"
#include "evidence.h"

/* 7. schema version mismatch */
static void test_schema(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", "10.0.0.20", "10.0.0.10", 3, false, true, 0, 9)), 0);
	ots_state_close(s, 0);
	/* a later otsensor wrote schema 7 */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	CHECK_EQ(mdb_env_create(&env), 0);
	CHECK_EQ(mdb_env_set_maxdbs(env, STORE_MAXDBS), 0);
	CHECK_EQ(mdb_env_open(env, dir, 0, 0640), 0);
	CHECK_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	uint8_t b[8];
	u64_be(7, b);
	CHECK_EQ(db_put_str(txn, meta, "schema", b, 8), 0);
	CHECK_EQ(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	char err[700] = "";
	s = NULL;
	CHECK(ots_state_open(&s, dir, &cfg, -1, err, sizeof err) == -1);
	CHECK(s == NULL);
	CHECK(strstr(err, dir) != NULL);
	CHECK(strstr(err, "schema version 7") != NULL);
	CHECK(strstr(err, "version 1") != NULL);
	/* the console: exit status 2 with the same message */
	char out[2048];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "status", NULL), 2);
	CHECK(strstr(out, "schema version 7") != NULL);
	CHECK(strstr(out, dir) != NULL);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alerts", NULL), 2);
	/* the store was not touched: still schema 7 */
	struct store st;
	CHECK(store_open(&st, dir, STORE_RDONLY, 0, err, sizeof err) == -1);
	/* a missing store is also status 2, naming the directory */
	char *empty = st_tmpdir();
	CHECK_EQ(st_ctl(empty, false, out, sizeof out, "status", NULL), 2);
	CHECK(strstr(out, empty) != NULL);
	st_rmdir(empty);
	st_rmdir(dir);
}

/* many devices, each with its identity: one batch of n facts from base */
static int big_batch(struct ots_state *s, int base, int n, uint64_t ts)
{
	struct fact *fs = calloc((size_t)n, sizeof *fs);
	if (!fs)
		return -2;
	for (int i = 0; i < n; i++) {
		int k = base + i;
		char ip[32], host[64];
		snprintf(ip, sizeof ip, "10.%d.%d.%d", 1 + (k >> 16) % 200, (k >> 8) & 255, 1 + (k & 127));
		snprintf(host, sizeof host, "host-%06d-with-a-rather-long-name-to-fill-the-map", k);
		fs[i] = st_id(ts + (uint64_t)i, ip, "10.0.0.1", "hostname", host);
		fs[i].src.mac[1] = (uint8_t)(k >> 16);
		fs[i].src.mac[2] = (uint8_t)(k >> 8);
		fs[i].src.mac[3] = (uint8_t)k;
	}
	int rc = ots_state_apply(s, fs, (size_t)n);
	free(fs);
	return rc;
}

/* 8. a full map: reported, survived, the store reopens */
static void test_full(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.store_max_mb = 1;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	int ok = 0, failed = 0, first_fail = -1;
	uint64_t t = T0;
	for (int b = 0; b < 40; b++) {
		int rc = big_batch(s, b * 100, 100, t);
		t += 1000 * US;
		if (rc == 0)
			ok++;
		else {
			failed++;
			if (first_fail < 0)
				first_fail = b;
		}
	}
	CHECK(ok > 0);
	CHECK(failed > 0); /* 4000 devices do not fit in 1 MB */
	CHECK(s->store_errors > 0);
	/* the state still answers: what was committed is readable */
	json_object *d = st_device(s, s->devs[0].id);
	CHECK(d != NULL);
	json_object_put(d);
	/* a small batch after the full one: stored or cleanly refused, never a crash */
	int rc = st_apply1(s, st_op(t, "modbus", "10.0.0.20", "10.0.0.10", 3, false, true, 0, 9));
	CHECK(rc == 0 || rc == -1);
	char out[4096];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "status", NULL), 0);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	ots_state_close(s, 0);
	/* the store reopens with the same settings, and with a bigger map takes everything */
	s = st_open(dir, &cfg, -1);
	CHECK(s != NULL);
	if (s) {
		CHECK(s->ndevs > 0);
		ots_state_close(s, 0);
	}
	cfg.state.store_max_mb = 64;
	s = st_open(dir, &cfg, -1);
	CHECK(s != NULL);
	if (s) {
		int before = s->ndevs;
		CHECK_EQ(big_batch(s, 100000, 100, t + 10 * US), 0);
		CHECK_EQ(s->ndevs, before + 100);
		CHECK_EQ(st_alerts(s, "new_device", NULL), 100);
		ots_state_close(s, 0);
	}
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "status", NULL), 0);
	st_rmdir(dir);
}

static void mkfile(const char *dir, const char *name, size_t kb)
{
	char p[700];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		return;
	static char buf[1024];
	for (size_t i = 0; i < kb; i++)
		fwrite(buf, 1, sizeof buf, f);
	fclose(f);
}

static bool exists(const char *dir, const char *name)
{
	char p[700];
	struct stat sb;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &sb) == 0;
}

/* 9. the evidence cap, oldest first (the files as workers write them) */
static void test_evidence_cap(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.evidence_max_mb = 1;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(s->evidence_dir[0] != 0);
	char ev[700];
	snprintf(ev, sizeof ev, "%s/evidence", dir);
	/* ids 9 and 10 sort by number thanks to the zero padding */
	mkfile(ev, "alert-0000000009.pcap", 400);
	mkfile(ev, "alert-0000000010.pcap", 400);
	mkfile(ev, "alert-0000000002.pcap", 400);
	mkfile(ev, "alert-0000000011.pcap", 400);
	mkfile(ev, "alert-0000000012.pcap.tmp", 10); /* being written: counted, but newest */
	mkfile(ev, "notes.txt", 2000);               /* not ours: never touched */
	evidence_enforce_cap(s);
	CHECK(!exists(ev, "alert-0000000002.pcap"));
	CHECK(!exists(ev, "alert-0000000009.pcap"));
	CHECK(exists(ev, "alert-0000000010.pcap"));
	CHECK(exists(ev, "alert-0000000011.pcap"));
	CHECK(exists(ev, "alert-0000000012.pcap.tmp"));
	CHECK(exists(ev, "notes.txt"));
	/* under the cap: nothing more goes */
	evidence_enforce_cap(s);
	CHECK(exists(ev, "alert-0000000010.pcap"));
	ots_state_close(s, 0);

	/* evidence_max_mb = 0: no evidence directory, and no path in alerts */
	char *dir2 = st_tmpdir();
	cfg.state.evidence_max_mb = 0;
	s = st_open(dir2, &cfg, 0);
	CHECK(s != NULL);
	if (s) {
		CHECK(s->evidence_dir[0] == 0);
		CHECK_EQ(st_apply1(s, st_op(T0, "modbus", "10.0.0.20", "10.0.0.10", 3, false, true, 0, 9)), 0);
		json_object *a;
		CHECK(st_alerts(s, "new_device", &a) > 0);
		json_object *e;
		CHECK(json_object_object_get_ex(a, "evidence", &e) && e == NULL);
		json_object_put(a);
		ots_state_close(s, 0);
	}
	st_rmdir(dir2);
	st_rmdir(dir);
}

int main(void)
{
	test_schema();
	test_full();
	test_evidence_cap();
	return check_done();
}
