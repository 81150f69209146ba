/*
 * config.h - the sensor's configuration: one INI file, parsed with inih.
 *
 * config.c owns [sensor] and [capture] and hands every other section to the module
 * that owns it (a `*_config_set` function below), so a module adds its keys in its
 * own files. Every key has a default, documented in README.md. Unknown sections or
 * keys and bad values are errors naming the file, line and key.
 *
 * Must never: exit or print on its own; errors go back to the caller as text.
 */
#ifndef OTS_CONFIG_H
#define OTS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uplink-config.h"
#include "state-config.h"

#define CONF_MAX_IFACES 8

struct capture_config {
	char backend[16];                       /* pcap | afxdp | dpdk */
	char interfaces[CONF_MAX_IFACES][64];
	int n_interfaces;
	int queues;                             /* queues (and workers) per interface */
	char dpdk_args[512];
	int snaplen;
	int buffer_mb;
	char xdp_mode[16];                       /* afxdp: auto | zerocopy | copy | skb */
};

struct sensor_config {
	char name[64];
	char state_dir[512];
	char user[64];                          /* `run` drops root to this user */
	int workers;
	uint32_t max_flows;                     /* per worker */
	uint32_t flow_timeout_s;                /* idle timeout, packet time */
	uint32_t tcp_timeout_s;
	uint32_t stream_buffers;                /* reassembly buffers per worker */
	bool pin_cpus;                          /* each worker on a CPU of its own (affinity.h) */
};

struct config {
	char path[512];                         /* "" when built from defaults */
	struct sensor_config sensor;
	struct capture_config capture;
	struct state_config state;              /* [learning] [network] [alerts] [siem] */
	struct uplink_config uplink;            /* [uplink] */
};

/* Return values of the section setters. */
#define CONF_OK 0
#define CONF_BAD_VALUE -1
#define CONF_UNKNOWN_KEY -2

void config_defaults(struct config *c);
/* Loads path over the defaults. On error returns -1 with "file:line: ..." in err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* helpers for section setters */
int conf_parse_uint(const char *val, uint64_t min, uint64_t max, uint64_t *out);
int conf_parse_bool(const char *val, bool *out);

/* ---- SIGHUP: what a running sensor takes from a re-read file ----
 * Reloaded in place: [learning] auto_end_quiet; [network] subnet, vlan, router_min_ips;
 * [alerts] every key but store_max_mb (evidence_max_mb only while it stays above 0:
 * turning evidence on or off needs a restart); [uplink] every key (the uplink thread is
 * restarted). Everything else ([sensor], [capture], [learning] mode, [alerts]
 * store_max_mb) needs a restart. README.md ("SIGHUP") lists the same. */
struct conf_change {
	char name[64];      /* "[alerts] port_scan_ports" */
	bool restart;       /* needs a restart (not applied); false: applied in place */
};
#define CONF_MAX_CHANGES 128

/* Lists in out (at most max) the keys whose values differ between running and next, in
 * file order of sections. Returns how many differ (which may be more than max). */
int config_diff(const struct config *running, const struct config *next, struct conf_change *out, int max);
/* dst = running with every key that reloads in place taken from next (what needs a
 * restart keeps its running value). dst may not be running or next. */
void config_reloaded(struct config *dst, const struct config *running, const struct config *next);
/* for the section modules' diff functions: notes one changed key */
void conf_change_add(struct conf_change *out, int max, int *n, const char *section, const char *key, bool restart);

#endif
