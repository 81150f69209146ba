/*
 * otstate.h - the sensor state the state thread owns: store, inventory, baseline,
 * learning mode and the alert engines, behind one sink (ots_state_apply).
 *
 * Ownership: everything in struct ots_state belongs to the state thread (the one
 * that calls ots_state_apply); the console and other processes see it only through
 * LMDB. The inventory is cached in memory (loaded at open, written back as JSON in
 * each batch's transaction when a device changed); baseline items and alerts are
 * read from LMDB each time, so console changes (ctl alert learn, learning off) take
 * effect at the next batch.
 *
 * Must never: hold a write transaction between two batches, or use wall time for a
 * decision (packet time only: fact->ts_us).
 */
#ifndef OTS_OTSTATE_H
#define OTS_OTSTATE_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "emit.h"
#include "fact.h"
#include "store.h"

struct worker;
struct outbox;
struct uplink;

#define DEV_MAX_MACS 4
#define DEV_MAX_IPS 8
#define DEV_MAX_VLANS 4
#define DEV_MAX_PROTOS 16
#define DEV_MAX_PEERS 8
#define DEV_ID_LEN 48
#define INV_MAX_DEVICES 65536

struct dev_ip {
	uint8_t family;
	uint8_t ip[16];
	bool arp;               /* the MAC itself announced it (ARP): owned, not routed */
};

struct dev_proto {
	char name[16];
	uint8_t roles;          /* 1 client, 2 server */
};

struct device {
	char id[DEV_ID_LEN];
	uint8_t macs[DEV_MAX_MACS][6];
	int nmacs;
	struct dev_ip ips[DEV_MAX_IPS];
	int nips;
	uint16_t vlans[DEV_MAX_VLANS];
	int nvlans;
	char vendor[80], hostname[64], model[FACT_STR], firmware[FACT_STR], serial[64], role[32], os[64];
	struct dev_proto protos[DEV_MAX_PROTOS];
	int nprotos;
	uint64_t first_seen, last_seen;
	bool router;            /* carries many IPs of other subnets */
	bool behind_router;     /* keyed by IP: seen only through a router's MAC */
	uint32_t eng_actions;   /* program/firmware transfers it made as a client */
	uint32_t ics_peers[DEV_MAX_PEERS]; /* indexes+1 of ICS servers it polls */
	int npeers;
	bool dirty;
	bool silent_alerted;
	uint64_t up_hash;       /* hash of the record last queued for the uplink (times left out) */
};

/* small open-addressing map: 64-bit key -> device index */
struct imap {
	uint64_t *keys;
	int32_t *vals;
	size_t cap, n;
};

/* anomaly counters: one slot per (source, target) or source, reset by the window */
struct anom_slot {
	uint64_t key;
	uint64_t win_start;
	uint32_t count;
	bool alerted;
	uint16_t nset;
	uint32_t set[64];       /* distinct items seen (ports, targets): first 64 kept */
};
#define ANOM_SLOTS 4096

struct ev_req;

struct ots_state {
	struct store st;
	const struct config *cfg;
	const struct state_config *sc;
	struct outbox *ob;      /* NULL when the uplink is not built */
	bool ob_open;
	struct uplink *up;      /* the uplink thread ([uplink] mode != off), started by open */
	/* inventory */
	struct device *devs;
	int ndevs;
	struct imap by_mac, by_ip;
	uint64_t devices_dropped;
	/* learning */
	bool learning;
	uint64_t last_new_ts;   /* packet time a baseline item was last added */
	uint64_t now;           /* latest packet time */
	uint64_t prev_batch_ts;
	uint64_t gap_reset_ts;  /* capture resumed after a gap: silence counts from here */
	uint64_t next_silent_check;
	/* operations that went through the baseline checks quietly (alerts/engine.c): a
	 * repeat skips its keys and lookups; cleared when a transaction is lost */
#define OP_MEMO_SLOTS 8192
	uint64_t op_memo[OP_MEMO_SLOTS];
	/* anomaly tables */
	struct anom_slot *port_scan, *ip_sweep, *arp_scan, *flow_burst, *exc_flood;
	/* evidence */
	struct worker *workers;
	int nworkers;
	char evidence_dir[600];
	bool evidence_pending;
	/* flows that carried operational events (alerts/engine.c) */
#define EVFLOWS 64
	struct { uint8_t worker; uint32_t flow_id; uint64_t ts; } evflows[EVFLOWS];
	int nevflows;
	uint64_t evflow_next;
	/* transaction in progress: opened by the first batch after a commit, committed when
	 * the state thread catches up or the transaction is OTS_COMMIT_MAX_S old */
	MDB_txn *txn;
	int txn_err;
	uint64_t txn_facts, queued_at_open;
	double txn_opened;
	/* alerts created in this run */
	uint64_t alerts_new, alerts_folded, store_errors;
	double last_sync;
	bool full_reported;
	/* uplink: inventory snapshots by packet time, and what the health message reads
	 * (written by the state thread, read by the uplink thread: atomics only) */
	uint64_t next_snapshot_ts;      /* packet time of the next inventory snapshot, 0 = at the first batch + interval */
	uint64_t devices_queued, snapshots_queued, evidence_queued;
	_Atomic int h_nworkers;
	_Atomic int64_t h_devices, h_alerts, h_drops;
	_Atomic int h_learning;
};

/* Opens the store in dir (creating it) with cfg's settings; learning: -1 keep the
 * stored mode (a fresh store starts with [learning] mode), 0 off, 1 on. Also starts
 * the uplink thread when [uplink] mode != off (and the uplink is built). Returns 0,
 * or -1 with err naming the fault. */
int ots_state_open(struct ots_state **out, const char *dir, const struct config *cfg, int learning, char *err,
		   size_t errlen);
/* The store is a temporary directory removed at exit (replay without a state
 * directory): nothing in it is synced to disk. */
void ots_state_set_ephemeral(struct ots_state *s);
/* The state thread's sink: ots_state_apply_batch applies n facts in the open write
 * transaction (opening one), and commits it only when it holds OTS_COMMIT_MAX_FACTS
 * facts or is OTS_COMMIT_MAX_S old; ots_state_commit commits what is open (the state
 * thread calls it whenever it has caught up with the workers, and before it stops).
 * So under load one transaction carries many batches, and when idle nothing waits.
 * ots_state_apply is both in one call: one transaction per call. All return 0, or -1
 * on a storage error (reported once; the devices are rewritten by a later commit). */
#define OTS_COMMIT_MAX_S 0.05
#define OTS_COMMIT_MAX_FACTS 100000
int ots_state_apply_batch(void *ctx, const struct fact *facts, size_t n);
#ifdef OTS_HAVE_UPLINK
/* the uplink's health source: what the health message reports (any thread) */
struct uplink_health;
void ots_state_health(void *arg, struct uplink_health *h);
#endif
int ots_state_commit(void *ctx);
int ots_state_apply(void *ctx, const struct fact *facts, size_t n);
/* where to ask for evidence packets (the workers' rings); the uplink's health message
 * also sums their packet counters, so the workers must outlive ots_state_close (or be
 * unset with ots_state_set_workers(s, NULL, 0) before they are freed) */
void ots_state_set_workers(struct ots_state *s, struct worker *workers, int n);
/* capture drops for the health message (`run`: the capture backend's counter); until
 * called the health message reports drops as unknown (null) */
void ots_state_set_drops(struct ots_state *s, uint64_t drops);
/* after the workers stopped: answers evidence requests still waiting, queues those
 * files and a final inventory snapshot for the uplink */
void ots_state_finish(struct ots_state *s);
/* device and alert records (--emit devices,alerts) */
void ots_state_emit(struct ots_state *s, unsigned emit, struct outbuf *out);
/* The same, on stdout, when `emit` asks for devices or alerts (end of replay or run). */
void ots_state_print(struct ots_state *s, unsigned emit);
/* Two lines for the human summary: devices by kind and learning mode; alerts. */
void ots_state_summary(const struct ots_state *s, FILE *out);
/* Stops the uplink, draining the outbox for at most drain_timeout_s seconds (0: stop
 * at once, e.g. `run` on SIGTERM; `replay` passes [uplink] drain_timeout), then closes
 * the store. NULL is fine. */
void ots_state_close(struct ots_state *s, unsigned drain_timeout_s);

/* ---- internal, shared by baseline/ and alerts/ ---- */

/* inventory.c */
int inv_load(struct ots_state *s, MDB_txn *txn);
/* writes changed devices back; a device whose record changed other than in its
 * times (new, identity, type, addresses, protocols) is also queued as OUTBOX_DEVICE */
int inv_save_dirty(struct ots_state *s, MDB_txn *txn);
/* queues the whole inventory as OUTBOX_SNAPSHOT (key "inventory") in txn */
int inv_queue_snapshot(struct ots_state *s, MDB_txn *txn);
/* the device of one end of a fact (created if new); -1 for none (public address,
 * broadcast, no address); *is_new set when created now */
int inv_endpoint(struct ots_state *s, const struct fact *f, const struct fact_endpoint *e, bool *is_new);
void inv_identity(struct ots_state *s, int d, const char *key, const char *value);
void inv_proto(struct ots_state *s, int d, const char *proto, bool server);
void inv_ics_peer(struct ots_state *s, int client, int server);
const char *inv_type(const struct ots_state *s, int d);
bool addr_is_public(const struct state_config *sc, int family, const uint8_t *ip);
bool proto_is_ics(const char *proto);
json_object *device_to_json(const struct device *d, const struct ots_state *s, MDB_txn *txn);
/* drops a record's restore-only "_" fields: what leaves the sensor is the record contract */
void strip_private_keys(json_object *o);
/* baseline key of a device ("D|id") */
void bl_dev_key(char *buf, size_t n, const char *id);

/* learning state in meta */
int learning_get(struct store *st, MDB_txn *txn, bool *on);
int learning_set(struct store *st, MDB_txn *txn, bool on, uint64_t ts);

#endif
