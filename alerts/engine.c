/*
 * engine.c - the state sink: applies a batch of facts to inventory and baseline and
 * runs the policy, protocol, operational and anomaly engines, in one LMDB write
 * transaction per batch (ots_state_apply).
 *
 * Baseline items (keys of the "baseline" db; cli/srv are device ids):
 *   D|dev                    device learned
 *   P|dev|proto|client|server  a device's protocol role
 *   C|cli|srv|proto|port     communication channel (from flow contacts)
 *   K|cli|srv|proto          the channel at protocol level (from contacts and operations)
 *   F|cli|srv|proto|func     function/service used on the channel (requests)
 *   O|cli|srv|proto|object   DNP3 object group / IEC 104 type id
 *   R|cli|srv|proto|space|r|w  merged address ranges read / written (Modbus per table)
 *   I|dev|firmware|model     learned identity (value: the string)
 *   E|cli|srv|kind           an operational alert the operator learned (`ctl alert learn`)
 * In learning mode every new item is added (and moves the quiet-period clock); outside
 * it, a missing item raises the policy alert that names it, and `ctl alert learn`
 * adds the items the alert recorded.
 *
 * Must never: raise a policy alert in learning mode, use wall time for a decision, or
 * keep the transaction open after returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alerts.h"
#include "evidence.h"
#include "oui.h"
#include "otstate.h"
#include "worker.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#include "uplink.h"
#endif

#define US 1000000ull

/* ---------------------------------------------------------------- learning */

int learning_get(struct store *st, MDB_txn *txn, bool *on)
{
	uint64_t v = 1;
	int rc = meta_get_u64(st, txn, "learning", &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	*on = v != 0;
	return 0;
}

int learning_set(struct store *st, MDB_txn *txn, bool on, uint64_t ts)
{
	int rc = meta_put_u64(st, txn, "learning", on ? 1 : 0);
	if (!rc)
		rc = meta_put_u64(st, txn, on ? "learning_started" : "learning_ended", ts);
	if (!rc && on)
		rc = meta_put_u64(st, txn, "last_new", 0);
	if (!rc && on) {
		/* the quiet period of [learning] auto_end_quiet starts over */
		MDB_val k = { strlen("learning_started_pkt"), (void *)"learning_started_pkt" };
		rc = mdb_del(txn, st->meta, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- open / close */

/* what the uplink's health message reports: published by the state thread after each
 * batch, read by the uplink thread (atomics only; worker packet counters are plain
 * 64-bit fields read relaxed, a count at most one packet old) */
static void health_update(struct ots_state *s, MDB_txn *txn)
{
	MDB_stat ms;
	bool on;
	atomic_store(&s->h_devices, (int64_t)s->ndevs);
	if (learning_get(&s->st, txn, &on) == 0)
		atomic_store(&s->h_learning, on ? 1 : 0);
	if (mdb_stat(txn, s->st.alerts, &ms) == 0)
		atomic_store(&s->h_alerts, (int64_t)ms.ms_entries);
}

#ifdef OTS_HAVE_UPLINK
void ots_state_health(void *arg, struct uplink_health *h)
{
	struct ots_state *s = arg;
	int n = atomic_load(&s->h_nworkers);
	if (n > 0) {
		int64_t p = 0;
		for (int i = 0; i < n; i++)
			p += (int64_t)__atomic_load_n(&s->workers[i].st.packets, __ATOMIC_RELAXED);
		h->packets = p;
	}
	h->drops = atomic_load(&s->h_drops);
	h->devices = atomic_load(&s->h_devices);
	h->alerts = atomic_load(&s->h_alerts);
	h->learning = atomic_load(&s->h_learning);
}
#endif

int ots_state_open(struct ots_state **out, const char *dir, const struct config *cfg, int learning, char *err,
		   size_t errlen)
{
	struct ots_state *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->sc = &cfg->state;
	oui_load_async(NULL); /* the first device waits for it, not the start */
	if (store_open(&s->st, dir, STORE_CREATE, s->sc->store_max_mb, err, errlen)) {
		free(s);
		return -1;
	}
	s->port_scan = calloc(ANOM_SLOTS, sizeof(struct anom_slot));
	s->ip_sweep = calloc(ANOM_SLOTS, sizeof(struct anom_slot));
	s->arp_scan = calloc(ANOM_SLOTS, sizeof(struct anom_slot));
	s->flow_burst = calloc(ANOM_SLOTS, sizeof(struct anom_slot));
	s->exc_flood = calloc(ANOM_SLOTS, sizeof(struct anom_slot));
	if (!s->port_scan || !s->ip_sweep || !s->arp_scan || !s->flow_burst || !s->exc_flood) {
		snprintf(err, errlen, "out of memory");
		ots_state_close(s, 0);
		return -1;
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->st.env, NULL, 0, &txn);
	if (!rc) {
		uint64_t v;
		if (meta_get_u64(&s->st, txn, "learning", &v) == MDB_NOTFOUND)
			rc = learning_set(&s->st, txn, learning >= 0 ? learning : s->sc->learning_initial, 0);
		else if (learning >= 0)
			rc = learning_set(&s->st, txn, learning, 0);
		if (!rc)
			rc = inv_load(s, txn);
		if (!rc && meta_get_u64(&s->st, txn, "last_new", &v) == 0)
			s->last_new_ts = v;
		if (!rc && meta_get_u64(&s->st, txn, "uplink_snapshot_next", &v) == 0)
			s->next_snapshot_ts = v;
		if (!rc)
			health_update(s, txn);
#ifdef OTS_HAVE_UPLINK
		if (!rc) {
			s->ob = calloc(1, sizeof *s->ob);
			if (s->ob && outbox_open(txn, &cfg->uplink, s->ob) == 0)
				s->ob_open = true;
			else {
				free(s->ob);
				s->ob = NULL;
			}
		}
#endif
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	if (rc) {
		snprintf(err, errlen, "state store %s: %s", dir, mdb_strerror(rc));
		ots_state_close(s, 0);
		return -1;
	}
	if (s->sc->evidence_max_mb) {
		snprintf(s->evidence_dir, sizeof s->evidence_dir, "%s/evidence", dir);
		mkdir(s->evidence_dir, 0750);
	}
	atomic_store(&s->h_drops, -1);
#ifdef OTS_HAVE_UPLINK
	{
		char uerr[512];
		if (uplink_start(&s->up, s->st.env, cfg, uerr, sizeof uerr)) {
			snprintf(err, errlen, "%s", uerr); /* already names the [uplink] key, exit status 2 */
			ots_state_close(s, 0);
			return -1;
		}
		uplink_set_health_source(s->up, ots_state_health, s);
	}
#endif
	*out = s;
	return 0;
}

void ots_state_set_ephemeral(struct ots_state *s)
{
	s->st.ephemeral = true;
}

void ots_state_set_workers(struct ots_state *s, struct worker *workers, int n)
{
	atomic_store(&s->h_nworkers, 0); /* the health callback stops reading the old ones */
	s->workers = workers;
	s->nworkers = n;
	atomic_store(&s->h_nworkers, workers ? n : 0);
}

void ots_state_set_drops(struct ots_state *s, uint64_t drops)
{
	atomic_store(&s->h_drops, (int64_t)drops);
}

void ots_state_finish(struct ots_state *s)
{
	for (int i = 0; i < s->nworkers; i++)
		evring_service(&s->workers[i].ev);
	evidence_enforce_cap(s);
#ifdef OTS_HAVE_UPLINK
	/* the evidence files written just now, and the inventory as it stands at the end */
	if (s->ob && s->ob->enabled) {
		int rc = mdb_txn_begin(s->st.env, NULL, 0, &s->txn);
		if (!rc) {
			rc = evidence_queue_written(s);
			if (rc >= 0 && s->cfg->uplink.snapshot_interval && s->ndevs)
				rc = inv_queue_snapshot(s, s->txn);
			if (rc < 0)
				mdb_txn_abort(s->txn);
			else
				rc = mdb_txn_commit(s->txn);
			s->txn = NULL;
		}
		if (rc)
			fprintf(stderr, "otsensor: state store %s: cannot queue evidence for the uplink: %s\n", s->st.dir,
				mdb_strerror(rc));
		uplink_kick(s->up);
	}
#endif
}

void ots_state_close(struct ots_state *s, unsigned drain_timeout_s)
{
	if (!s)
		return;
#ifdef OTS_HAVE_UPLINK
	uplink_stop(s->up, drain_timeout_s);
	s->up = NULL;
#else
	(void)drain_timeout_s;
#endif
	store_close(&s->st);
	free(s->devs);
	free(s->by_mac.keys);
	free(s->by_mac.vals);
	free(s->by_ip.keys);
	free(s->by_ip.vals);
	free(s->port_scan);
	free(s->ip_sweep);
	free(s->arp_scan);
	free(s->flow_burst);
	free(s->exc_flood);
	free(s->ob);
	free(s);
}

/* ---------------------------------------------------------------- helpers */

static bool bl_has(struct ots_state *s, const char *key)
{
	return db_has(s->txn, s->st.baseline, key);
}

/* learning: adds an item; true when it was new */
static bool bl_learn(struct ots_state *s, const char *key, const char *val)
{
	if (bl_has(s, key))
		return false;
	int rc = db_put_str(s->txn, s->st.baseline, key, val ? val : "1", val ? strlen(val) + 1 : 1);
	if (rc) {
		s->txn_err = rc;
		return false;
	}
	s->last_new_ts = s->now;
	return true;
}

static const char *did(const struct ots_state *s, int d)
{
	return s->devs[d].id;
}

static bool dev_learned(struct ots_state *s, int d)
{
	char k[64];
	bl_dev_key(k, sizeof k, did(s, d));
	return bl_has(s, k);
}

static void check_device(struct ots_state *s, const struct fact *f, int d)
{
	if (d < 0)
		return;
	char k[64];
	bl_dev_key(k, sizeof k, did(s, d));
	if (s->learning) {
		bl_learn(s, k, NULL);
		return;
	}
	if (bl_has(s, k))
		return;
	char desc[256];
	const struct device *dv = &s->devs[d];
	snprintf(desc, sizeof desc, "device %s (%s%s%s) is not in the baseline", dv->id, dv->vendor[0] ? dv->vendor : "unknown vendor",
		 dv->hostname[0] ? ", " : "", dv->hostname);
	struct alert_learn l = { { k, NULL, NULL, NULL }, NULL, 0, 0 };
	struct alert_in a = { .kind = "new_device", .f = f, .src = d, .dst = -1, .description = desc, .learn = &l,
			      .host_evidence = true };
	alert_raise(s, &a);
}

static void ep_text(const struct fact_endpoint *e, char *buf)
{
	if (e->family)
		fmt_ip(e->family, e->ip, buf);
	else {
		char m[18];
		fmt_mac(e->mac, m);
		snprintf(buf, 46, "%s", m);
	}
}

/* ---------------------------------------------------------------- anomaly windows */

static struct anom_slot *anom_get(struct anom_slot *tab, uint64_t key, uint64_t now, uint64_t window_us)
{
	struct anom_slot *a = &tab[(key * 0x9e3779b97f4a7c15ULL >> 40) % ANOM_SLOTS];
	if (a->key != key || now < a->win_start || now - a->win_start > window_us) {
		memset(a, 0, sizeof *a);
		a->key = key;
		a->win_start = now;
	}
	return a;
}

/* counts item once per window; returns the distinct count */
static uint32_t anom_distinct(struct anom_slot *a, uint32_t item)
{
	for (int i = 0; i < a->nset; i++)
		if (a->set[i] == item)
			return a->count;
	if (a->nset < 64)
		a->set[a->nset++] = item;
	return ++a->count;
}

static uint64_t ep_key(const struct fact_endpoint *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p = e->family ? e->ip : e->mac;
	size_t n = e->family == 6 ? 16 : e->family == 4 ? 4 : 6;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h | 1;
}

static void anomaly(struct ots_state *s, const struct fact *f, const char *kind, struct anom_slot *tab, uint64_t key,
		    int has_item, uint32_t item, uint32_t threshold, int src, int dst, const struct fact_endpoint *se,
		    const struct fact_endpoint *de, const char *what)
{
	struct anom_slot *a = anom_get(tab, key, f->ts_us, (uint64_t)s->sc->window_s * US);
	uint32_t c = has_item ? anom_distinct(a, item) : ++a->count;
	if (c < threshold || a->alerted)
		return;
	a->alerted = true;
	char sa[46] = "", da[46] = "", desc[256];
	ep_text(se, sa);
	if (de)
		ep_text(de, da);
	snprintf(desc, sizeof desc, "%s%s%s: %u %s within %u s", sa, de ? " -> " : "", da, c, what, s->sc->window_s);
	struct alert_in in = { .kind = kind, .f = f, .src = src, .dst = dst, .src_addr = src < 0 ? sa : NULL,
			       .dst_addr = dst < 0 && de ? da : NULL, .description = desc, .host_evidence = true };
	alert_raise(s, &in);
}

/* ---------------------------------------------------------------- event flows */

/* A flow that carried an operational event: the policy alerts its later PDUs would
 * raise (new function, protocol or channel) are what the operational alert already
 * reports, so they are not raised for it within EVFLOW_US after the event. What came
 * before the event on that flow (a new channel opening it) is raised as usual: looking
 * ahead would make the result depend on where the state thread's batches fall. */
#define EVFLOW_US (60 * US)

static void evflow_note(struct ots_state *s, const struct fact *f)
{
	if (!f->flow_id)
		return;
	for (int i = 0; i < s->nevflows; i++)
		if (s->evflows[i].worker == f->worker && s->evflows[i].flow_id == f->flow_id) {
			s->evflows[i].ts = f->ts_us;
			return;
		}
	int i = s->nevflows < EVFLOWS ? s->nevflows++ : (int)(s->evflow_next++ % EVFLOWS);
	s->evflows[i].worker = f->worker;
	s->evflows[i].flow_id = f->flow_id;
	s->evflows[i].ts = f->ts_us;
}

static bool evflow_covers(const struct ots_state *s, const struct fact *f)
{
	if (!f->flow_id)
		return false;
	for (int i = 0; i < s->nevflows; i++)
		if (s->evflows[i].worker == f->worker && s->evflows[i].flow_id == f->flow_id)
			return f->ts_us + EVFLOW_US >= s->evflows[i].ts && f->ts_us <= s->evflows[i].ts + EVFLOW_US;
	return false;
}

/* ---------------------------------------------------------------- per fact */

static const char *event_kind(unsigned ev)
{
	switch (ev) {
	case EV_PLC_STOP: return "plc_stop";
	case EV_PLC_START: return "plc_start";
	case EV_PROGRAM_DOWNLOAD: return "program_download";
	case EV_PROGRAM_UPLOAD: return "program_upload";
	case EV_FIRMWARE_UPDATE: return "firmware_update";
	case EV_DEVICE_RESTART: return "device_restart";
	case EV_TIME_SET: return "time_set";
	case EV_MODE_CHANGE: return "mode_change";
	case EV_LOCK: return "plc_lock";
	case EV_UNLOCK: return "plc_unlock";
	case EV_CONTROL: return "control_command";
	case EV_CONFIG_CHANGE: return "config_change";
	case EV_FILE_TRANSFER: return "file_transfer";
	default: return NULL;
	}
}

static void on_identity(struct ots_state *s, const struct fact *f)
{
	const struct fact_endpoint *e = f->u.id.subject == SUBJ_DST ? &f->dst : &f->src;
	bool nw;
	int d = inv_endpoint(s, f, e, &nw);
	if (d < 0)
		return;
	check_device(s, f, d);
	const char *key = f->u.id.key, *val = f->u.id.value;
	if (!strcmp(key, "ip"))
		return;
	inv_identity(s, d, key, val);
	const char *what = !strcmp(key, "firmware") || !strcmp(key, "version") || !strcmp(key, "revision") ? "firmware"
			   : !strcmp(key, "model") || !strcmp(key, "product") || !strcmp(key, "product_name") ? "model"
			   : NULL;
	if (!what)
		return;
	char k[128];
	snprintf(k, sizeof k, "I|%s|%s", did(s, d), what);
	MDB_val v;
	int rc = db_get_str(s->txn, s->st.baseline, k, &v);
	if (rc == MDB_NOTFOUND) {
		/* the first value seen is the reference, in or out of learning */
		if ((rc = db_put_str(s->txn, s->st.baseline, k, val, strlen(val) + 1)))
			s->txn_err = rc;
		return;
	}
	if (rc || !strcmp(what, "model"))
		return;
	if (strncmp((const char *)v.mv_data, val, v.mv_size)) {
		char desc[300], detail[FACT_STR + 16];
		snprintf(desc, sizeof desc, "%s reports firmware '%s', learned '%.*s'", did(s, d), val, (int)v.mv_size,
			 (const char *)v.mv_data);
		snprintf(detail, sizeof detail, "%s", val);
		struct alert_in a = { .kind = "firmware_changed", .f = f, .src = d, .dst = -1, .detail = detail,
				      .description = desc };
		alert_raise(s, &a);
	}
}

static void policy_raise(struct ots_state *s, const struct alert_in *a)
{
	if (evflow_covers(s, a->f))
		return;
	alert_raise(s, a);
}

static void learn_or_alert_channel(struct ots_state *s, const struct fact *f, int c, int sv, uint16_t port)
{
	const char *proto = f->proto;
	char ck[200], kk[200];
	snprintf(ck, sizeof ck, "C|%s|%s|%s|%u", did(s, c), did(s, sv), proto, port);
	snprintf(kk, sizeof kk, "K|%s|%s|%s", did(s, c), did(s, sv), proto);
	if (s->learning) {
		bl_learn(s, ck, NULL);
		bl_learn(s, kk, NULL);
		return;
	}
	bool generic = !strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "icmp");
	if (!bl_has(s, ck)) {
		char detail[64], desc[300];
		if (generic)
			snprintf(detail, sizeof detail, "%s", proto);
		else
			snprintf(detail, sizeof detail, "%s/%u", proto, port);
		snprintf(desc, sizeof desc, "%s -> %s %s port %u is not in the baseline", did(s, c), did(s, sv), proto,
			 port);
		struct alert_learn l = { { ck, kk, NULL, NULL }, NULL, 0, 0 };
		struct alert_in a = { .kind = "new_channel", .f = f, .src = c, .dst = sv, .detail = detail,
				      .description = desc, .learn = &l };
		policy_raise(s, &a);
	}
}

/* a device's protocol role, proven by a dissected PDU (a bare connection attempt is not) */
static void learn_or_alert_protocol(struct ots_state *s, const struct fact *f, int c, int sv)
{
	const char *proto = f->proto;
	char pc[160], ps[160];
	snprintf(pc, sizeof pc, "P|%s|%s|client", did(s, c), proto);
	snprintf(ps, sizeof ps, "P|%s|%s|server", sv >= 0 ? did(s, sv) : "", proto);
	int nk = sv >= 0 ? 2 : 1;
	if (s->learning) {
		bl_learn(s, pc, NULL);
		if (sv >= 0)
			bl_learn(s, ps, NULL);
		return;
	}
	const char *keys[2] = { pc, ps };
	int devs[2] = { c, sv };
	for (int i = 0; i < nk; i++) {
		if (bl_has(s, keys[i]) || !dev_learned(s, devs[i]))
			continue;
		char detail[64], desc[300];
		snprintf(detail, sizeof detail, "%s/%s", proto, i ? "server" : "client");
		snprintf(desc, sizeof desc, "%s uses %s as a %s for the first time", did(s, devs[i]), proto,
			 i ? "server" : "client");
		struct alert_learn l = { { keys[i], NULL, NULL, NULL }, NULL, 0, 0 };
		struct alert_in a = { .kind = "new_protocol", .f = f, .src = devs[i], .dst = -1, .detail = detail,
				      .description = desc, .learn = &l };
		policy_raise(s, &a);
	}
}

static void on_contact(struct ots_state *s, const struct fact *f)
{
	const struct fact_endpoint *ce = f->src_is_client ? &f->src : &f->dst;
	const struct fact_endpoint *se = f->src_is_client ? &f->dst : &f->src;
	bool n1, n2;
	int c = inv_endpoint(s, f, ce, &n1);
	int sv = inv_endpoint(s, f, se, &n2);
	check_device(s, f, c);
	check_device(s, f, sv);
	/* anomalies: by the client's address */
	uint64_t ck = ep_key(ce), sk = ep_key(se);
	bool syn = f->transport == TR_TCP && (f->u.contact.tcp_flags & 0x12) == 0x02;
	anomaly(s, f, "new_flow_burst", s->flow_burst, ck, 0, 0, s->sc->new_flow_burst, c, -1, ce, NULL, "new flows");
	anomaly(s, f, "ip_sweep", s->ip_sweep, ck, 1, (uint32_t)sk, s->sc->ip_sweep_hosts, c, -1, ce, NULL,
		"addresses contacted");
	if (syn || f->transport == TR_UDP)
		anomaly(s, f, "port_scan", s->port_scan, ck * 31 + sk, 1, se->port, s->sc->port_scan_ports, c, sv, ce,
			se, "ports tried");
	bool cpub = addr_is_public(s->sc, ce->family, ce->ip), spub = addr_is_public(s->sc, se->family, se->ip);
	if ((cpub || spub) && (c >= 0 || sv >= 0)) {
		if (s->learning)
			return;
		int plant = c >= 0 ? c : sv;
		char pa[46], desc[300];
		fmt_ip(cpub ? ce->family : se->family, cpub ? ce->ip : se->ip, pa);
		snprintf(desc, sizeof desc, "%s %s public address %s (%s port %u)", did(s, plant),
			 c >= 0 ? "contacted" : "was contacted by", pa, f->proto, se->port);
		char k[128];
		snprintf(k, sizeof k, "U|%s|%s", did(s, plant), pa);
		if (bl_has(s, k))
			return;
		struct alert_learn l = { { k, NULL, NULL, NULL }, NULL, 0, 0 };
		struct alert_in a = { .kind = "public_ip_contact", .f = f, .src = plant, .dst = -1, .dst_addr = pa,
				      .detail = pa, .description = desc, .learn = &l };
		alert_raise(s, &a);
		return;
	}
	/* channels come from dissected conversations (on_operation): a bare connection
	 * attempt only counts towards the scans above */
}

/* Modbus address spaces: coils, discrete inputs, input registers, holding registers */
static unsigned addr_space(const char *proto, unsigned func)
{
	if (strcmp(proto, "modbus"))
		return func;
	switch (func) {
	case 1: case 5: case 15: return 0;
	case 2: return 1;
	case 4: return 4;
	default: return 3;
	}
}

static uint64_t str_hash(const char *p, uint64_t h)
{
	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

/* An operation's baseline verdict depends on its client, server, protocol, function,
 * object, write flag and range, and on the mode: the same ones, checked before without
 * an alert, pass again (the baseline only grows, within a run and through ctl). */
static uint64_t op_memo_key(const struct ots_state *s, const struct fact *f, int c, int sv)
{
	uint64_t h = str_hash(s->devs[c].id, 0xcbf29ce484222325ULL);
	h = str_hash(s->devs[sv].id, h * 31 + 1);
	h = str_hash(f->proto, h * 31 + 2);
	uint64_t bits = (uint64_t)f->u.op.func | (uint64_t)f->u.op.is_write << 16 | (uint64_t)f->u.op.has_range << 17 |
			(uint64_t)s->learning << 18;
	h = (h ^ bits) * 0x9e3779b97f4a7c15ULL;
	h = (h ^ f->u.op.object) * 0x9e3779b97f4a7c15ULL;
	h = (h ^ ((uint64_t)f->u.op.addr_lo << 32 | f->u.op.addr_hi)) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	return h | 1;
}

static bool op_memo_has(const struct ots_state *s, uint64_t key)
{
	return s->op_memo[key % OP_MEMO_SLOTS] == key;
}

static void op_memo_add(struct ots_state *s, uint64_t key)
{
	if (!s->txn_err)
		s->op_memo[key % OP_MEMO_SLOTS] = key;
}

static void on_operation(struct ots_state *s, const struct fact *f)
{
	bool nw;
	if (!strcmp(f->proto, "arp")) {
		int d = inv_endpoint(s, f, &f->src, &nw);
		check_device(s, f, d);
		uint32_t tgt;
		memcpy(&tgt, f->dst.ip, 4);
		struct fact_endpoint me;
		memset(&me, 0, sizeof me);
		memcpy(me.mac, f->src.mac, 6);
		anomaly(s, f, "arp_scan", s->arp_scan, ep_key(&me), 1, tgt, s->sc->arp_scan_targets, d, -1, &f->src, NULL,
			"addresses asked by ARP");
		return;
	}
	const struct fact_endpoint *ce = f->src_is_client ? &f->src : &f->dst;
	const struct fact_endpoint *se = f->src_is_client ? &f->dst : &f->src;
	int c = inv_endpoint(s, f, ce, &nw);
	int sv = inv_endpoint(s, f, se, &nw);
	check_device(s, f, c);
	check_device(s, f, sv);
	const char *proto = f->proto;
	if (c >= 0 && sv < 0 && !f->u.op.is_response) {
		/* a request to a broadcast or unknown address: the client's protocol only */
		inv_proto(s, c, proto, false);
		learn_or_alert_protocol(s, f, c, -1);
	}
	if (c < 0 || sv < 0 || c == sv)
		return;
	inv_proto(s, c, proto, false);
	inv_proto(s, sv, proto, true);
	if (proto_is_ics(proto) && !f->u.op.is_response)
		inv_ics_peer(s, c, sv);
	learn_or_alert_protocol(s, f, c, sv);
	if (!f->u.op.is_response)
		learn_or_alert_channel(s, f, c, sv, se->port);
	if (f->u.op.exception) {
		anomaly(s, f, "exception_flood", s->exc_flood, ep_key(se), 0, 0, s->sc->exception_flood, sv, c, se, ce,
			"exception responses");
		if (f->u.op.exc_code == 1 && !strcmp(proto, "modbus")) {
			char detail[48], desc[200];
			snprintf(detail, sizeof detail, "%s/%u", proto, f->u.op.func);
			snprintf(desc, sizeof desc, "%s refused function %u of %s as illegal", did(s, sv), f->u.op.func,
				 did(s, c));
			struct alert_in a = { .kind = "illegal_function", .f = f, .src = c, .dst = sv, .detail = detail,
					      .description = desc };
			alert_raise(s, &a);
		}
		return;
	}
	if (f->u.op.is_response)
		return;
	uint64_t memo = op_memo_key(s, f, c, sv);
	if (op_memo_has(s, memo))
		return;
	const char *C = did(s, c), *S = did(s, sv);
	char kk[200], fk[200], ok[200], rk[220];
	snprintf(kk, sizeof kk, "K|%s|%s|%s", C, S, proto);
	snprintf(fk, sizeof fk, "F|%s|%s|%s|%u", C, S, proto, f->u.op.func);
	bool has_obj = !strcmp(proto, "dnp3") || !strcmp(proto, "iec104");
	char sk[200];
	snprintf(sk, sizeof sk, "S|%s|%s|%u|w", S, proto, addr_space(proto, f->u.op.func));
	snprintf(ok, sizeof ok, "O|%s|%s|%s|%u", C, S, proto, f->u.op.object);
	snprintf(rk, sizeof rk, "R|%s|%s|%s|%u|%c", C, S, proto, addr_space(proto, f->u.op.func),
		 f->u.op.is_write ? 'w' : 'r');
	if (s->learning) {
		bl_learn(s, kk, NULL);
		bl_learn(s, fk, NULL);
		if (has_obj)
			bl_learn(s, ok, NULL);
		if (f->u.op.has_range && f->u.op.is_write &&
		    !range_covers(s->txn, s->st.baseline, sk, f->u.op.addr_lo, f->u.op.addr_hi)) {
			int rc = range_add(s->txn, s->st.baseline, sk, f->u.op.addr_lo, f->u.op.addr_hi);
			if (rc)
				s->txn_err = rc;
		}
		if (f->u.op.has_range && !range_covers(s->txn, s->st.baseline, rk, f->u.op.addr_lo, f->u.op.addr_hi)) {
			int rc = range_add(s->txn, s->st.baseline, rk, f->u.op.addr_lo, f->u.op.addr_hi);
			if (rc)
				s->txn_err = rc;
			s->last_new_ts = s->now;
		}
		op_memo_add(s, memo);
		return;
	}
	if (!bl_has(s, kk)) {
		/* a new channel (new_channel says so); its writes still must stay inside what
		 * the server was ever written while learning */
		if (f->u.op.is_write && f->u.op.has_range &&
		    !range_covers(s->txn, s->st.baseline, sk, f->u.op.addr_lo, f->u.op.addr_hi)) {
			char detail[64], desc[300];
			snprintf(detail, sizeof detail, "%s/%u", proto, addr_space(proto, f->u.op.func));
			snprintf(desc, sizeof desc,
				 "%s wrote %s addresses %u-%u on %s (function %u), which no client wrote while learning", C,
				 proto, f->u.op.addr_lo, f->u.op.addr_hi, S, f->u.op.func);
			struct alert_learn l = { { NULL, NULL, NULL, NULL }, sk, f->u.op.addr_lo, f->u.op.addr_hi };
			struct alert_in a = { .kind = "write_out_of_range", .f = f, .src = c, .dst = sv, .detail = detail,
					      .description = desc, .learn = &l };
			policy_raise(s, &a);
		}
		return;
	}
	const char *fname = f->u.op.name[0] ? f->u.op.name : "";
	if (!bl_has(s, fk)) {
		char detail[64], desc[300];
		snprintf(detail, sizeof detail, "%s/%u", proto, f->u.op.func);
		snprintf(desc, sizeof desc, "%s used %s function %u %s%s%s on %s for the first time%s", C, proto,
			 f->u.op.func, fname[0] ? "(" : "", fname, fname[0] ? ")" : "", S,
			 f->u.op.is_write ? " (a write)" : "");
		struct alert_learn l = { { fk, NULL, NULL, NULL }, f->u.op.has_range ? rk : NULL, f->u.op.addr_lo,
					 f->u.op.addr_hi };
		struct alert_in a = { .kind = "new_function", .f = f, .src = c, .dst = sv, .detail = detail,
				      .description = desc, .learn = &l };
		policy_raise(s, &a);
		return;
	}
	if (has_obj && !bl_has(s, ok)) {
		char detail[64], desc[300];
		snprintf(detail, sizeof detail, "%s/object/%u", proto, f->u.op.object);
		snprintf(desc, sizeof desc, "%s used %s %s %u on %s for the first time", C, proto,
			 !strcmp(proto, "dnp3") ? "object group" : "type id", f->u.op.object, S);
		struct alert_learn l = { { ok, NULL, NULL, NULL }, NULL, 0, 0 };
		struct alert_in a = { .kind = "new_function", .f = f, .src = c, .dst = sv, .detail = detail,
				      .description = desc, .learn = &l };
		policy_raise(s, &a);
		return;
	}
	if (f->u.op.is_write && f->u.op.has_range &&
	    !range_covers(s->txn, s->st.baseline, rk, f->u.op.addr_lo, f->u.op.addr_hi)) {
		char detail[64], desc[300];
		snprintf(detail, sizeof detail, "%s/%u", proto, addr_space(proto, f->u.op.func));
		snprintf(desc, sizeof desc, "%s wrote %s addresses %u-%u on %s (function %u), outside the learned ranges",
			 C, proto, f->u.op.addr_lo, f->u.op.addr_hi, S, f->u.op.func);
		struct alert_learn l = { { NULL, NULL, NULL, NULL }, rk, f->u.op.addr_lo, f->u.op.addr_hi };
		struct alert_in a = { .kind = "write_out_of_range", .f = f, .src = c, .dst = sv, .detail = detail,
				      .description = desc, .learn = &l };
		policy_raise(s, &a);
		return;
	}
	op_memo_add(s, memo);
}

static void on_violation(struct ots_state *s, const struct fact *f)
{
	bool nw;
	int a = inv_endpoint(s, f, &f->src, &nw);
	int b = inv_endpoint(s, f, &f->dst, &nw);
	check_device(s, f, a);
	check_device(s, f, b);
	char detail[40];
	snprintf(detail, sizeof detail, "%s", f->proto);
	struct alert_in in = { .kind = "malformed_pdu", .f = f, .src = a, .dst = b, .detail = detail,
			       .description = f->u.viol.reason };
	char sa[46], da[46];
	ep_text(&f->src, sa);
	ep_text(&f->dst, da);
	in.src_addr = sa;
	in.dst_addr = da;
	alert_raise(s, &in);
}

static void on_event(struct ots_state *s, const struct fact *f)
{
	const char *kind = event_kind(f->u.event.ev);
	if (!kind)
		return;
	if (f->u.event.ev == EV_CONTROL && !s->sc->control_events)
		return;
	bool nw;
	/* src: who did it; dst: the device it happened to */
	const struct fact_endpoint *te = f->u.event.subject == SUBJ_SRC ? &f->src : &f->dst;
	const struct fact_endpoint *ae = te == &f->src ? &f->dst : &f->src;
	int t = inv_endpoint(s, f, te, &nw);
	int a = inv_endpoint(s, f, ae, &nw);
	check_device(s, f, t);
	check_device(s, f, a);
	unsigned ev = f->u.event.ev;
	if (a >= 0 && (ev == EV_PROGRAM_DOWNLOAD || ev == EV_PROGRAM_UPLOAD || ev == EV_FIRMWARE_UPDATE)) {
		s->devs[a].eng_actions++;
		s->devs[a].dirty = true;
	}
	char ek[200], sa[46], ta[46];
	ep_text(ae, sa);
	ep_text(te, ta);
	snprintf(ek, sizeof ek, "E|%s|%s|%s", a >= 0 ? did(s, a) : sa, t >= 0 ? did(s, t) : ta, kind);
	if (bl_has(s, ek))
		return;
	char desc[300];
	snprintf(desc, sizeof desc, "%s: %s -> %s: %s", f->proto, a >= 0 ? did(s, a) : sa, t >= 0 ? did(s, t) : ta,
		 f->u.event.detail);
	struct alert_learn l = { { ek, NULL, NULL, NULL }, NULL, 0, 0 };
	struct alert_in in = { .kind = kind, .f = f, .src = a, .dst = t, .src_addr = sa, .dst_addr = ta,
			       .detail = f->proto, .description = desc, .learn = &l };
	alert_raise(s, &in);
}

static void check_silent(struct ots_state *s)
{
	if (!s->sc->device_silent_s || s->learning)
		return;
	uint64_t lim = (uint64_t)s->sc->device_silent_s * US;
	for (int i = 0; i < s->ndevs; i++) {
		struct device *d = &s->devs[i];
		uint64_t ref = d->last_seen > s->gap_reset_ts ? d->last_seen : s->gap_reset_ts;
		if (d->silent_alerted || s->now < ref + lim || !dev_learned(s, i))
			continue;
		d->silent_alerted = true;
		struct fact f;
		memset(&f, 0, sizeof f);
		f.ts_us = s->now;
		f.proto = "";
		f.worker = 255;
		char desc[200];
		snprintf(desc, sizeof desc, "%s sent nothing for %llu s", d->id,
			 (unsigned long long)((s->now - d->last_seen) / US));
		struct alert_in a = { .kind = "device_silent", .f = &f, .src = i, .dst = -1, .description = desc };
		alert_raise(s, &a);
	}
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens the write transaction the next batches are applied in, and reads what the
 * console may have changed since the last one. */
static int txn_open(struct ots_state *s)
{
	int rc = mdb_txn_begin(s->st.env, NULL, 0, &s->txn);
	if (rc) {
		s->txn = NULL;
		s->store_errors++;
		fprintf(stderr, "otsensor: state store %s: cannot write: %s\n", s->st.dir, mdb_strerror(rc));
		return -1;
	}
	s->txn_err = 0;
	s->txn_facts = 0;
	s->txn_opened = wall_s();
	if ((rc = learning_get(&s->st, s->txn, &s->learning)))
		s->txn_err = rc;
	/* the console resets the quiet-period clock when it turns learning on (last_new
	 * 0): only this thread writes it otherwise, so the stored value is the truth */
	uint64_t ln = 0;
	rc = meta_get_u64(&s->st, s->txn, "last_new", &ln);
	if (rc == 0 || rc == MDB_NOTFOUND)
		s->last_new_ts = ln;
	else if (!s->txn_err)
		s->txn_err = rc;
	s->queued_at_open = s->alerts_new + s->devices_queued + s->snapshots_queued + s->evidence_queued;
	return 0;
}

static void apply_facts(struct ots_state *s, const struct fact *facts, size_t n)
{
	/* a capture that resumes after a gap: silence counts from here */
	if (n && (!s->now || facts[0].ts_us > s->now + 60 * US))
		s->gap_reset_ts = facts[0].ts_us;
	for (size_t i = 0; i < n && !s->txn_err; i++) {
		const struct fact *f = &facts[i];
		/* events are noted as they come, never ahead: where a batch happens to end must
		 * not change which alerts are raised */
		if (f->type == FACT_EVENT)
			evflow_note(s, f);
		if (f->ts_us > s->now)
			s->now = f->ts_us;
		switch (f->type) {
		case FACT_IDENTITY: on_identity(s, f); break;
		case FACT_OPERATION: on_operation(s, f); break;
		case FACT_VIOLATION: on_violation(s, f); break;
		case FACT_EVENT: on_event(s, f); break;
		case FACT_CONTACT: on_contact(s, f); break;
		default: break;
		}
	}
	s->txn_facts += n;
	if (!s->txn_err && s->learning && s->sc->learning_quiet_s) {
		uint64_t since = s->last_new_ts;
		if (!since)
			meta_get_u64(&s->st, s->txn, "learning_started_pkt", &since);
		if (!since) {
			since = s->now;
			meta_put_u64(&s->st, s->txn, "learning_started_pkt", since);
		}
		if (s->now >= since + (uint64_t)s->sc->learning_quiet_s * US) {
			s->txn_err = learning_set(&s->st, s->txn, false, s->now);
			s->learning = false;
		}
	}
	if (!s->txn_err && s->now >= s->next_silent_check) {
		check_silent(s);
		s->next_silent_check = s->now + 10 * US;
	}
}

int ots_state_commit(void *ctx)
{
	struct ots_state *s = ctx;
	if (!s->txn)
		return 0;
	if (!s->txn_err)
		s->txn_err = meta_put_u64(&s->st, s->txn, "last_new", s->last_new_ts);
	if (!s->txn_err)
		s->txn_err = meta_put_u64(&s->st, s->txn, "packet_time", s->now);
	if (!s->txn_err)
		s->txn_err = inv_save_dirty(s, s->txn);
#ifdef OTS_HAVE_UPLINK
	if (!s->txn_err && s->ob && s->ob->enabled) {
		/* evidence files the workers finished since the last commit */
		int q = evidence_queue_written(s);
		if (q < 0)
			s->txn_err = q;
		else
			s->evidence_queued += (uint64_t)q;
		/* inventory snapshot every [uplink] snapshot_interval of packet time (the
		 * first one an interval after the first packet this store saw) */
		uint64_t iv = (uint64_t)s->cfg->uplink.snapshot_interval * US;
		if (!s->txn_err && iv && s->now) {
			if (!s->next_snapshot_ts) {
				s->next_snapshot_ts = s->now + iv;
				s->txn_err = meta_put_u64(&s->st, s->txn, "uplink_snapshot_next", s->next_snapshot_ts);
			} else if (s->now >= s->next_snapshot_ts) {
				s->txn_err = inv_queue_snapshot(s, s->txn);
				s->next_snapshot_ts = s->now + iv;
				if (!s->txn_err)
					s->txn_err = meta_put_u64(&s->st, s->txn, "uplink_snapshot_next", s->next_snapshot_ts);
			}
		}
	}
#endif
	if (!s->txn_err)
		health_update(s, s->txn);
	int rc = s->txn_err;
	if (rc)
		mdb_txn_abort(s->txn);
	else
		rc = mdb_txn_commit(s->txn);
	s->txn = NULL;
	if (rc) {
		/* full map or disk: report once, keep running; devices are rewritten later */
		s->store_errors++;
		if (!s->full_reported)
			fprintf(stderr, "otsensor: state store %s: %llu facts not stored: %s%s\n", s->st.dir,
				(unsigned long long)s->txn_facts, mdb_strerror(rc),
				rc == MDB_MAP_FULL ? " (raise [alerts] store_max_mb or free disk space)" : "");
		s->full_reported = true;
		for (int i = 0; i < s->ndevs; i++)
			s->devs[i].dirty = true;
		memset(s->op_memo, 0, sizeof s->op_memo); /* what the lost transaction learned */
		return -1;
	}
	s->full_reported = false;
#ifdef OTS_HAVE_UPLINK
	if (s->alerts_new + s->devices_queued + s->snapshots_queued + s->evidence_queued != s->queued_at_open)
		uplink_kick(s->up); /* committed: the uplink may send it now */
#endif
	double w = wall_s();
	if (w - s->last_sync >= 1.0) {
		if (!s->st.ephemeral)
			mdb_env_sync(s->st.env, 1);
		if (s->evidence_pending)
			evidence_enforce_cap(s);
		s->evidence_pending = false;
		s->last_sync = w;
	}
	return 0;
}

int ots_state_apply_batch(void *ctx, const struct fact *facts, size_t n)
{
	struct ots_state *s = ctx;
	if (!s->txn && txn_open(s))
		return -1;
	apply_facts(s, facts, n);
	if (s->txn_err || s->txn_facts >= OTS_COMMIT_MAX_FACTS || wall_s() - s->txn_opened >= OTS_COMMIT_MAX_S)
		return ots_state_commit(s);
	return 0;
}

int ots_state_apply(void *ctx, const struct fact *facts, size_t n)
{
	struct ots_state *s = ctx;
	if (!s->txn && txn_open(s))
		return -1;
	apply_facts(s, facts, n);
	return ots_state_commit(s);
}

/* ---------------------------------------------------------------- records */

void ots_state_print(struct ots_state *s, unsigned emit)
{
	if (!(emit & (EMIT_DEVICES | EMIT_ALERTS)))
		return;
	struct outbuf ob;
	if (outbuf_init(&ob, 1u << 18) == 0) {
		ots_state_emit(s, emit, &ob);
		outbuf_free(&ob);
	}
}

void ots_state_summary(const struct ots_state *s, FILE *out)
{
	/* device kinds in a fixed order, with their counts */
	static const char *const kinds[] = { "plc", "rtu", "ied", "hmi", "engineering_station", "historian", "server",
					     "workstation", "switch", "router", "unknown" };
	fprintf(out, "  devices      %d (", s->ndevs);
	bool first = true;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int n = 0;
		for (int d = 0; d < s->ndevs; d++)
			if (!strcmp(inv_type(s, d), kinds[k]))
				n++;
		if (n) {
			fprintf(out, "%s%s %d", first ? "" : ", ", kinds[k], n);
			first = false;
		}
	}
	fprintf(out, "%s), learning %s\n", first ? "none" : "", s->learning ? "on" : "off");
	fprintf(out, "  alerts       %llu new, %llu repeats folded (otsensor ctl alerts, or --emit alerts)\n",
		(unsigned long long)s->alerts_new, (unsigned long long)s->alerts_folded);
}

void ots_state_emit(struct ots_state *s, unsigned emit, struct outbuf *out)
{
	MDB_txn *txn;
	if (mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn))
		return;
	if (emit & EMIT_DEVICES)
		for (int i = 0; i < s->ndevs; i++) {
			json_object *o = device_to_json(&s->devs[i], s, txn);
			strip_private_keys(o);
			outbuf_put(out, o);
		}
	if (emit & EMIT_ALERTS) {
		MDB_cursor *c;
		if (!mdb_cursor_open(txn, s->st.alerts, &c)) {
			MDB_val k, v;
			while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
				json_object *o = json_tokener_parse((const char *)v.mv_data);
				if (!o)
					continue;
				strip_private_keys(o);
				outbuf_put(out, o);
			}
			mdb_cursor_close(c);
		}
	}
	mdb_txn_abort(txn);
	outbuf_flush(out);
}
