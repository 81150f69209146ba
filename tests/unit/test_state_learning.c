/*
 * test_state_learning.c - learning mode and the inventory, driven with crafted facts
 * through ots_state_apply: [learning] auto_end_quiet in packet time (also after the
 * console turns learning on again), and router recognition ([network]
 * router_min_ips: one MAC carrying addresses of other subnets becomes a router, each
 * address behind it a device i-<ip>).
 *
 * Must never: depend on wall time.
 */
#include "../state/common.h"

#define PLC "10.0.0.10"
#define HMI "10.0.0.20"

/* 6. auto_end_quiet */
static void test_auto_end(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.learning_quiet_s = 30;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(st_apply1(s, st_op(T0, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	/* nothing new for 20 s: still learning */
	CHECK_EQ(st_apply1(s, st_op(T0 + 20 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	/* a new item at 25 s moves the clock */
	CHECK_EQ(st_apply1(s, st_op(T0 + 25 * US, "modbus", HMI, PLC, 4, false, true, 0, 9)), 0);
	CHECK_EQ(st_apply1(s, st_op(T0 + 40 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	CHECK_EQ(st_apply1(s, st_op(T0 + 54 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	/* 30 s after the last new item */
	CHECK_EQ(st_apply1(s, st_op(T0 + 55 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(!st_learning(s));
	MDB_txn *txn;
	uint64_t ended = 0, last = 0;
	CHECK_EQ(mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn), 0);
	CHECK_EQ(meta_get_u64(&s->st, txn, "learning_ended", &ended), 0);
	CHECK_EQ(meta_get_u64(&s->st, txn, "last_new", &last), 0);
	mdb_txn_abort(txn);
	CHECK_EQ(ended, T0 + 55 * US);
	CHECK_EQ(last, T0 + 25 * US);
	/* after it ended, new things are alerts, not baseline */
	CHECK_EQ(st_apply1(s, st_op(T0 + 56 * US, "modbus", HMI, PLC, 16, true, true, 0, 9)), 0);
	CHECK_EQ(st_alerts(s, "new_function", NULL), 1);

	/* the console turns learning on again: the quiet period starts over from there,
	 * not from the last item of the earlier learning period */
	char out[512];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "on", NULL), 0);
	CHECK_EQ(st_apply1(s, st_op(T0 + 100 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	CHECK_EQ(st_apply1(s, st_op(T0 + 110 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	CHECK_EQ(st_apply1(s, st_op(T0 + 131 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(!st_learning(s));
	ots_state_close(s, 0);

	/* the same across a restart: learning on from the console while no sensor runs */
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "on", NULL), 0);
	s = st_open(dir, &cfg, -1);
	CHECK(s != NULL);
	if (s) {
		CHECK(st_learning(s));
		CHECK_EQ(st_apply1(s, st_op(T0 + 200 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
		CHECK(st_learning(s));
		CHECK_EQ(st_apply1(s, st_op(T0 + 220 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
		CHECK(st_learning(s));
		CHECK_EQ(st_apply1(s, st_op(T0 + 231 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
		CHECK(!st_learning(s));
		ots_state_close(s, 0);
	}
	st_rmdir(dir);
}

/* 6b. auto_end_quiet = 0: only the console ends learning */
static void test_no_auto_end(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.learning_quiet_s = 0;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 0; i < 50; i++)
		CHECK_EQ(st_apply1(s, st_op(T0 + (uint64_t)i * 50 * US, "modbus", HMI, PLC, 3, false, true, 0, 9)), 0);
	CHECK(st_learning(s));
	ots_state_close(s, 0);
	st_rmdir(dir);
}

static bool jbool_(json_object *o, const char *k)
{
	json_object *v;
	return o && json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int json_arr_len(json_object *o, const char *k)
{
	json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? (int)json_object_array_length(v) : -1;
}

/* a packet from ip that came through the router's MAC */
static struct fact via_router(uint64_t ts, const char *ip, const uint8_t rmac[6])
{
	struct fact f = st_op(ts, "modbus", ip, PLC, 3, false, true, 0, 9);
	memcpy(f.src.mac, rmac, 6);
	return f;
}

/* 3. router recognition */
static void test_router(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.router_min_ips = 3;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	static const uint8_t rmac[6] = { 0x02, 0xaa, 0, 0, 0, 1 };
	/* the router announces its own address by ARP */
	struct fact arp = st_op(T0, "arp", "10.0.0.1", "10.0.0.10", 1, false, false, 0, 0);
	memcpy(arp.src.mac, rmac, 6);
	arp.transport = TR_L2;
	CHECK_EQ(st_apply1(s, arp), 0);
	/* two remote addresses through it: not yet a router */
	CHECK_EQ(st_apply1(s, via_router(T0 + 1 * US, "10.20.0.5", rmac)), 0);
	CHECK_EQ(st_apply1(s, via_router(T0 + 2 * US, "10.20.0.6", rmac)), 0);
	json_object *d = st_device(s, "m-02aa00000001");
	CHECK(d != NULL);
	CHECK(!jbool_(d, "router"));
	CHECK_EQ(json_arr_len(d, "ips"), 3);
	json_object_put(d);
	/* the third one: router_min_ips */
	CHECK_EQ(st_apply1(s, via_router(T0 + 3 * US, "10.20.0.7", rmac)), 0);
	d = st_device(s, "m-02aa00000001");
	CHECK(jbool_(d, "router"));
	CHECK(!strcmp(jstr_(d, "device_type"), "router"));
	CHECK_EQ(json_arr_len(d, "ips"), 1); /* its own (ARP) address stays */
	json_object_put(d);
	const char *behind[] = { "i-10.20.0.5", "i-10.20.0.6", "i-10.20.0.7" };
	for (int i = 0; i < 3; i++) {
		d = st_device(s, behind[i]);
		CHECK(d != NULL);
		CHECK(jbool_(d, "behind_router"));
		CHECK(!jbool_(d, "router"));
		CHECK_EQ(json_arr_len(d, "ips"), 1);
		CHECK_EQ(json_arr_len(d, "macs"), 0);
		json_object_put(d);
	}
	/* the fourth address is a device of its own at once; the PLC (own MAC) is not affected */
	CHECK_EQ(st_apply1(s, via_router(T0 + 4 * US, "10.30.1.1", rmac)), 0);
	d = st_device(s, "i-10.30.1.1");
	CHECK(jbool_(d, "behind_router"));
	json_object_put(d);
	d = st_device(s, "m-02000a00000a");
	CHECK(d != NULL && !jbool_(d, "router") && !jbool_(d, "behind_router"));
	json_object_put(d);
	int ndevs = s->ndevs;
	ots_state_close(s, 0);

	/* across a restart: the router stays a router, its addresses map to the same devices */
	s = st_open(dir, &cfg, -1);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(s->ndevs, ndevs);
	char out[256];
	CHECK_EQ(st_ctl(dir, false, out, sizeof out, "learning", "off", NULL), 0);
	CHECK_EQ(st_apply1(s, via_router(T0 + 10 * US, "10.20.0.5", rmac)), 0);
	CHECK_EQ(s->ndevs, ndevs);
	CHECK_EQ(st_alerts(s, "new_device", NULL), 0);
	/* what the addresses did while they still counted as the router's MAC is their
	 * baseline: no new_channel / new_protocol / new_function either */
	CHECK_EQ(st_apply1(s, via_router(T0 + 10 * US, "10.20.0.6", rmac)), 0);
	CHECK_EQ(st_alerts(s, NULL, NULL), 0);
	/* a new address behind it is a new device (and outside learning, new_device) */
	CHECK_EQ(st_apply1(s, via_router(T0 + 11 * US, "10.20.0.99", rmac)), 0);
	CHECK_EQ(s->ndevs, ndevs + 1);
	json_object *a;
	CHECK_EQ(st_alerts(s, "new_device", &a), 1);
	CHECK(!strcmp(jstr_(a, "src_device"), "i-10.20.0.99"));
	json_object_put(a);
	d = st_device(s, "m-02aa00000001");
	CHECK(jbool_(d, "router"));
	json_object_put(d);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

/* 3b. addresses announced by ARP do not count: a multi-homed host is no router */
static void test_not_router(void)
{
	char *dir = st_tmpdir();
	struct config cfg;
	st_cfg(&cfg);
	cfg.state.router_min_ips = 3;
	struct ots_state *s = st_open(dir, &cfg, 1);
	CHECK(s != NULL);
	if (!s)
		return;
	static const uint8_t mac[6] = { 0x02, 0xbb, 0, 0, 0, 2 };
	const char *ips[] = { "10.0.0.50", "10.0.0.51", "10.0.0.52", "10.0.0.53" };
	for (int i = 0; i < 4; i++) {
		struct fact arp = st_op(T0 + (uint64_t)i, "arp", ips[i], PLC, 1, false, false, 0, 0);
		memcpy(arp.src.mac, mac, 6);
		arp.transport = TR_L2;
		CHECK_EQ(st_apply1(s, arp), 0);
		CHECK_EQ(st_apply1(s, via_router(T0 + 10 + (uint64_t)i, ips[i], mac)), 0);
	}
	json_object *d = st_device(s, "m-02bb00000002");
	CHECK(d != NULL);
	CHECK(!jbool_(d, "router"));
	CHECK_EQ(json_arr_len(d, "ips"), 4);
	json_object_put(d);
	CHECK(st_device(s, "i-10.0.0.50") == NULL);
	ots_state_close(s, 0);
	st_rmdir(dir);
}

int main(void)
{
	test_auto_end();
	test_no_auto_end();
	test_router();
	test_not_router();
	return check_done();
}
