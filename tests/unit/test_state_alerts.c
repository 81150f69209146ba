/*
 * test_state_alerts.c - the alert engines driven with crafted facts through
 * ots_state_apply on a state in a temporary directory: device_silent,
 * firmware_changed, new_function, write_out_of_range, public_ip_contact, folding,
 * and the console's alert mute / learn / close.
 *
 * Must never: depend on wall time (every decision is packet time).
 */
#include "../state/common.h"

#define PLC "10.0.0.10"
#define HMI "10.0.0.20"
#define SCADA "10.0.0.30"
#define PLC_ID "m-02000a00000a"
#define HMI_ID "m-02000a000014"

/* 1. device_silent: a learned device silent for [alerts] device_silent seconds of
 * packet time; never while learning, never for a device that keeps talking */
static void test_device_silent(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.device_silent_s = 100;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	/* learning: the HMI polls the PLC and the SCADA server */
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	/* 300 s of learning with the PLC silent: the HMI keeps polling SCADA every 20 s */
	uint64_t t = T0;
	for (int i = 1; i <= 15; i++) {
		t = T0 + (uint64_t)i * 20 * US;
		CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	}
	CHECK_EQ(st_alerts(s, "device_silent", NULL), 0);
	/* learning ends (the console); the PLC is now silent for 300 s > 100 s */
	char out[2048];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	t += 20 * US;
	CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	json_object *a;
	CHECK_EQ(st_alerts(s, "device_silent", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), PLC_ID));
	CHECK(!strcmp(jstr_(a, "engine"), "operational"));
	json_object_put(a);
	/* not raised twice while it stays silent */
	for (int i = 0; i < 10; i++) {
		t += 20 * US;
		CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	}
	CHECK_EQ(st_alerts(s, "device_silent", &a), 1);
	CHECK_EQ(jint_(a, "count"), 1);
	json_object_put(a);
	/* it talks again, then falls silent again: the alert folds (count 2) */
	t += 20 * US;
	CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	for (int i = 0; i < 4; i++) { /* 80 s */
		t += 20 * US;
		CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	}
	CHECK_EQ(st_alerts(s, "device_silent", &a), 1);
	CHECK_EQ(jint_(a, "count"), 1); /* 80 s < 100 s: not yet */
	json_object_put(a);
	for (int i = 0; i < 2; i++) { /* 120 s */
		t += 20 * US;
		CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	}
	CHECK_EQ(st_alerts(s, "device_silent", &a), 1);
	CHECK_EQ(jint_(a, "count"), 2);
	json_object_put(a);
	/* the HMI and SCADA never went silent */
	json_object *all = NULL;
	int n = st_alerts(s, "device_silent", &all);
	CHECK_EQ(n, 1);
	json_object_put(all);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

/* 1b. device_silent = 0 is off */
static void test_device_silent_off(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.device_silent_s = 0;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	char out[256];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	for (int i = 1; i <= 100; i++)
		CHECK_EQ(st_apply1(s, st_op(T0 + (uint64_t)i * 30 * US, "modbus", HMI, SCADA, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_alerts(s, "device_silent", NULL), 0);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

/* 2. firmware_changed: the learned firmware is the first one reported; another one is
 * an operational alert (also in learning), the same one again is not */
static void test_firmware_changed(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_apply1(s, st_id(T0 + 1 * US, PLC, HMI, "firmware", "V4.2.1")), 0);
	CHECK_EQ(st_apply1(s, st_id(T0 + 2 * US, PLC, HMI, "model", "CPU 1516")), 0);
	CHECK_EQ(st_apply1(s, st_id(T0 + 3 * US, PLC, HMI, "firmware", "V4.2.1")), 0);
	CHECK_EQ(st_alerts(s, "firmware_changed", NULL), 0);
	json_object *d = st_device(s, PLC_ID);
	CHECK(!strcmp(jstr_(d, "firmware"), "V4.2.1"));
	CHECK(!strcmp(jstr_(d, "model"), "CPU 1516"));
	json_object_put(d);
	/* a prefix of the learned version is a different version too */
	CHECK_EQ(st_apply1(s, st_id(T0 + 4 * US, PLC, HMI, "firmware", "V4.2")), 0);
	json_object *a;
	CHECK_EQ(st_alerts(s, "firmware_changed", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), PLC_ID));
	CHECK(!strcmp(jstr_(a, "severity"), "critical"));
	CHECK(!strcmp(jstr_(a, "detail"), "V4.2"));
	json_object_put(a);
	char out[256];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	CHECK_EQ(st_apply1(s, st_id(T0 + 10 * US, PLC, HMI, "firmware", "V5.0")), 0);
	CHECK_EQ(st_alerts(s, "firmware_changed", &a), 2);
	CHECK(!strcmp(jstr_(a, "detail"), "V5.0"));
	CHECK(strstr(jstr_(a, "description"), "V4.2.1") != NULL);
	json_object_put(a);
	/* the same new version again folds */
	CHECK_EQ(st_apply1(s, st_id(T0 + 11 * US, PLC, HMI, "firmware", "V5.0")), 0);
	CHECK_EQ(st_alerts(s, "firmware_changed", &a), 2);
	CHECK_EQ(jint_(a, "count"), 2);
	json_object_put(a);
	/* a model change is not a firmware change */
	CHECK_EQ(st_apply1(s, st_id(T0 + 12 * US, PLC, HMI, "model", "CPU 1518")), 0);
	CHECK_EQ(st_alerts(s, "firmware_changed", NULL), 2);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

/* learns HMI -> PLC Modbus: reads of 0-99 (function 3), writes of 10-19 (function 6),
 * then ends learning from the console */
static struct ots_state *learned_plant(const char *dir, struct config *cfg)
{
	st_cfg(cfg);
	struct ots_state *s = st_open(dir, cfg, 1);
	if (!s)
		return NULL;
	struct fact b[3] = {
		st_contact(T0, "modbus", HMI, PLC, 502),
		st_op(T0 + 1, "modbus", HMI, PLC, 3, false, true, 0, 99),
		st_op(T0 + 2, "modbus", HMI, PLC, 6, true, true, 10, 19),
	};
	b[0].transport = TR_TCP;
	CHECK_EQ(ots_state_apply(s, b, 3), 0);
	/* SCADA only reads */
	CHECK_EQ(st_apply1(s, st_op(T0 + 3, "modbus", SCADA, PLC, 3, false, true, 0, 9)), 0);
	char out[256];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	CHECK_EQ(st_alerts(s, NULL, NULL), 0);
	return s;
}

/* 4. new_function, write_out_of_range, public_ip_contact */
static void test_policy(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	struct ots_state *s = learned_plant(dir, &cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	uint64_t t = T0 + 100 * US;
	/* what was learned raises nothing */
	CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, PLC, 3, false, true, 50, 60)), 0);
	CHECK_EQ(st_apply1(s, st_op(t, "modbus", HMI, PLC, 6, true, true, 12, 12)), 0);
	CHECK_EQ(st_apply1(s, st_op(t, "modbus", SCADA, PLC, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_alerts(s, NULL, NULL), 0);
	/* the first write from the client that only read */
	CHECK_EQ(st_apply1(s, st_op(t + 1, "modbus", SCADA, PLC, 16, true, true, 10, 11)), 0);
	json_object *a;
	CHECK_EQ(st_alerts(s, "new_function", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), "m-02000a00001e"));
	CHECK(!strcmp(jstr_(a, "dst_device"), PLC_ID));
	CHECK(!strcmp(jstr_(a, "engine"), "policy"));
	CHECK(!strcmp(jstr_(a, "detail"), "modbus/16"));
	json_object_put(a);
	/* a write outside the learned write range of the channel (function is known) */
	CHECK_EQ(st_apply1(s, st_op(t + 2, "modbus", HMI, PLC, 6, true, true, 200, 200)), 0);
	CHECK_EQ(st_alerts(s, "write_out_of_range", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), HMI_ID));
	CHECK(!strcmp(jstr_(a, "detail"), "modbus/3"));
	json_object_put(a);
	/* partly outside is outside */
	CHECK_EQ(st_apply1(s, st_op(t + 3, "modbus", HMI, PLC, 6, true, true, 15, 25)), 0);
	CHECK_EQ(st_alerts(s, "write_out_of_range", &a), 1);
	CHECK_EQ(jint_(a, "count"), 2);
	json_object_put(a);
	/* a read inside what was read is no write; a coil write is another table */
	CHECK_EQ(st_apply1(s, st_op(t + 4, "modbus", HMI, PLC, 3, false, true, 0, 99)), 0);
	CHECK_EQ(st_alerts(s, "write_out_of_range", NULL), 1);
	/* public address */
	CHECK_EQ(st_apply1(s, st_contact(t + 5, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), HMI_ID));
	CHECK(!strcmp(jstr_(a, "detail"), "203.0.113.7"));
	json_object_put(a);
	/* the public address makes no device */
	CHECK(st_device(s, "i-203.0.113.7") == NULL);
	/* a configured subnet is a plant address, not public: nothing raised */
	ots_state_close(s, 0);
	st_rmdir(dir);
}

/* 4b. policy alerts are not raised in learning mode */
static void test_policy_learning(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK_EQ(st_apply1(s, st_op(T0 + 1, "modbus", HMI, PLC, 16, true, true, 100, 110)), 0);
	CHECK_EQ(st_apply1(s, st_contact(T0 + 2, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_alerts(s, NULL, NULL), 0);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

static int64_t alert_id_of(struct ots_state *s, const char *kind)
{
	json_object *a;
	st_alerts(s, kind, &a);
	int64_t id = jint_(a, "id");
	json_object_put(a);
	return id;
}

/* 5. folding, ctl alert mute, learn, close */
static void test_fold_mute_learn(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	struct ots_state *s = learned_plant(dir, &cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	uint64_t t = T0 + 1000 * US;
	char out[4096], idb[24];
	/* folding: one alert, count and last_seen move */
	CHECK_EQ(st_apply1(s, st_contact(t, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_apply1(s, st_contact(t + 5 * US, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_apply1(s, st_contact(t + 9 * US, "tls", HMI, "203.0.113.7", 443)), 0);
	json_object *a;
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 1);
	CHECK_EQ(jint_(a, "count"), 3);
	char fs[40], ls[40];
	fmt_ts(t, fs);
	fmt_ts(t + 9 * US, ls);
	CHECK(!strcmp(jstr_(a, "first_seen"), fs));
	CHECK(!strcmp(jstr_(a, "last_seen"), ls));
	CHECK(!strcmp(jstr_(a, "status"), "new"));
	json_object_put(a);
	/* an older repeat (out of order) counts but does not move last_seen back */
	CHECK_EQ(st_apply1(s, st_contact(t + 1 * US, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 1);
	CHECK_EQ(jint_(a, "count"), 4);
	CHECK(!strcmp(jstr_(a, "last_seen"), ls));
	json_object_put(a);
	/* another address is another alert */
	CHECK_EQ(st_apply1(s, st_contact(t + 10 * US, "tls", HMI, "198.51.100.1", 443)), 0);
	CHECK_EQ(st_alerts(s, "public_ip_contact", NULL), 2);

	/* mute: repeats keep counting silently, no new alert */
	int64_t id = alert_id_of(s, "public_ip_contact"); /* 198.51.100.1 */
	snprintf(idb, sizeof idb, "%lld", (long long)id);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "mute", idb, NULL), 0);
	uint64_t before = s->alerts_new;
	CHECK_EQ(st_apply1(s, st_contact(t + 20 * US, "tls", HMI, "198.51.100.1", 443)), 0);
	CHECK_EQ(st_apply1(s, st_contact(t + 21 * US, "tls", HMI, "198.51.100.1", 443)), 0);
	CHECK_EQ(s->alerts_new, before);
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 2);
	CHECK(!strcmp(jstr_(a, "status"), "muted"));
	CHECK_EQ(jint_(a, "count"), 3);
	json_object_put(a);
	/* alert_raise answers 0 (suppressed) for a muted one */
	{
		MDB_txn *txn;
		CHECK_EQ(mdb_txn_begin(s->st.env, NULL, 0, &txn), 0);
		s->txn = txn;
		s->txn_err = 0;
		struct fact f = st_contact(t + 22 * US, "tls", HMI, "198.51.100.1", 443);
		int hmi = -1;
		for (int i = 0; i < s->ndevs; i++)
			if (!strcmp(s->devs[i].id, HMI_ID))
				hmi = i;
		struct alert_in in = { .kind = "public_ip_contact", .f = &f, .src = hmi, .dst = -1,
				       .dst_addr = "198.51.100.1", .detail = "198.51.100.1", .description = "x" };
		CHECK_EQ(alert_raise(s, &in), 0);
		mdb_txn_abort(txn);
		s->txn = NULL;
	}

	/* learn: the new_function's items join the baseline; it never fires again */
	CHECK_EQ(st_apply1(s, st_op(t + 30 * US, "modbus", SCADA, PLC, 16, true, true, 10, 11)), 0);
	CHECK_EQ(st_alerts(s, "new_function", &a), 1);
	id = jint_(a, "id");
	json_object_put(a);
	snprintf(idb, sizeof idb, "%lld", (long long)id);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "learn", idb, NULL), 0);
	CHECK(st_baseline_has(s, "F|m-02000a00001e|" PLC_ID "|modbus|16"));
	before = s->alerts_new + s->alerts_folded;
	CHECK_EQ(st_apply1(s, st_op(t + 31 * US, "modbus", SCADA, PLC, 16, true, true, 10, 11)), 0);
	CHECK_EQ(s->alerts_new + s->alerts_folded, before);
	CHECK_EQ(st_alerts(s, "new_function", &a), 1);
	CHECK_EQ(jint_(a, "count"), 1);
	CHECK(!strcmp(jstr_(a, "status"), "learned"));
	json_object_put(a);
	/* the learned range came along: a write inside it is quiet, outside is not */
	CHECK_EQ(st_alerts(s, "write_out_of_range", NULL), 0);
	CHECK_EQ(st_apply1(s, st_op(t + 32 * US, "modbus", SCADA, PLC, 16, true, true, 40, 41)), 0);
	CHECK_EQ(st_alerts(s, "write_out_of_range", NULL), 1);

	/* learn on a write_out_of_range: that range is quiet from now on */
	id = alert_id_of(s, "write_out_of_range");
	snprintf(idb, sizeof idb, "%lld", (long long)id);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "learn", idb, NULL), 0);
	CHECK_EQ(st_apply1(s, st_op(t + 33 * US, "modbus", SCADA, PLC, 16, true, true, 40, 41)), 0);
	CHECK_EQ(st_alerts(s, "write_out_of_range", &a), 1);
	CHECK_EQ(jint_(a, "count"), 1);
	json_object_put(a);

	/* learn an operational alert: E| item, no repeat */
	struct fact ev = st_base(FACT_EVENT, t + 40 * US, "s7comm", HMI, 40002, PLC, 102);
	ev.u.event.ev = EV_PLC_STOP;
	ev.u.event.subject = SUBJ_DST;
	CHECK_EQ(st_apply1(s, ev), 0);
	CHECK_EQ(st_alerts(s, "plc_stop", &a), 1);
	id = jint_(a, "id");
	json_object_put(a);
	snprintf(idb, sizeof idb, "%lld", (long long)id);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "learn", idb, NULL), 0);
	ev.ts_us += 10 * US;
	CHECK_EQ(st_apply1(s, ev), 0);
	CHECK_EQ(st_alerts(s, "plc_stop", &a), 1);
	CHECK_EQ(jint_(a, "count"), 1);
	json_object_put(a);

	/* learn on a public_ip_contact: that address is quiet from now on, others not */
	CHECK_EQ(st_apply1(s, st_contact(t + 45 * US, "tls", SCADA, "192.0.2.44", 443)), 0);
	id = alert_id_of(s, "public_ip_contact");
	snprintf(idb, sizeof idb, "%lld", (long long)id);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "learn", idb, NULL), 0);
	CHECK(st_baseline_has(s, "U|m-02000a00001e|192.0.2.44"));
	CHECK_EQ(st_apply1(s, st_contact(t + 46 * US, "tls", SCADA, "192.0.2.44", 443)), 0);
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 3);
	CHECK_EQ(jint_(a, "count"), 1);
	json_object_put(a);

	/* close: the next occurrence is a new alert (alert 1: HMI -> 203.0.113.7) */
	CHECK_EQ(st_apply1(s, st_contact(t + 50 * US, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "close", "1", NULL), 0);
	CHECK_EQ(st_apply1(s, st_contact(t + 60 * US, "tls", HMI, "203.0.113.7", 443)), 0);
	CHECK_EQ(st_alerts(s, "public_ip_contact", &a), 4);
	CHECK_EQ(jint_(a, "count"), 1);
	CHECK(!strcmp(jstr_(a, "status"), "new"));
	json_object_put(a);
	/* the console's view agrees */
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "status", NULL), 0);
	CHECK(strstr(out, "closed 1") != NULL);
	CHECK(strstr(out, "muted 1") != NULL);
	CHECK(strstr(out, "learned 4") != NULL);
	/* usage errors of ctl alert */
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "mute", "999", NULL), 2);
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "alert", "frob", "1", NULL), 2);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

int main(void)
{
	test_device_silent();
	test_device_silent_off();
	test_firmware_changed();
	test_policy();
	test_policy_learning();
	test_fold_mute_learn();
	return check_done();
}
