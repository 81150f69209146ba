/*
 * state-config.h - the sections the state thread owns: [learning], [network],
 * [alerts] and [siem].
 *
 * Must never: hold anything but configuration (no runtime state).
 */
#ifndef OTS_STATE_CONFIG_H
#define OTS_STATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_SUBNETS 64
#define NET_MAX_VLANS 64

struct net_subnet {
	uint8_t family;         /* 4 or 6 */
	uint8_t addr[16];
	uint8_t prefix;
	char name[48];
};

struct net_vlan {
	uint16_t id;
	char name[48];
};

struct state_config {
	bool learning_initial;          /* [learning] mode = on|off for a fresh state */
	uint32_t learning_quiet_s;      /* [learning] auto_end_quiet: end after this long with nothing new (0 = never) */

	/* [network] */
	struct net_subnet subnets[NET_MAX_SUBNETS];   /* subnet = CIDR [name] (repeatable) */
	int n_subnets;
	struct net_vlan vlans[NET_MAX_VLANS];         /* vlan = ID name (repeatable) */
	int n_vlans;
	uint32_t router_min_ips;                      /* router_min_ips: IPs one MAC carries before it is a router */

	/* [alerts] */
	uint32_t window_s;                  /* anomaly_window: seconds of packet time the counters below cover */
	uint32_t port_scan_ports;           /* distinct ports of one target from one source */
	uint32_t ip_sweep_hosts;            /* distinct targets contacted by one source */
	uint32_t arp_scan_targets;          /* distinct ARP targets asked by one source */
	uint32_t new_flow_burst;            /* new flows from one source */
	uint32_t exception_flood;           /* exception responses from one server */
	uint32_t device_silent_s;           /* a learned device silent this long (0 = off) */
	bool control_events;                /* alert on EV_CONTROL (operate, set point, force) */
	uint32_t evidence_max_mb;           /* total size of STATE/evidence (0 = no evidence) */
	uint32_t evidence_packets;          /* packets per evidence file */
	uint32_t store_max_mb;              /* LMDB map size */
};

struct conf_change;

void state_config_defaults(struct state_config *s);
/* CONF_OK, CONF_BAD_VALUE (err says why) or CONF_UNKNOWN_KEY */
int state_config_set(struct state_config *s, const char *section, const char *key, const char *val,
		     char *err, size_t errlen);

/* SIGHUP (config.h): notes the keys of these sections that differ between a and b,
 * each as reloadable in place or needing a restart; returns 0 */
int state_config_diff(const struct state_config *a, const struct state_config *b, struct conf_change *out, int max,
		      int *n);
/* copies from next into dst the keys the state thread can take in place (dst keeps the
 * others) */
void state_config_take_reloadable(struct state_config *dst, const struct state_config *next);

/* helpers shared with the inventory: 1 if the address is in a configured subnet (name
 * set when given), 0 if not */
int state_config_subnet(const struct state_config *s, int family, const uint8_t *ip, const char **name);
const char *state_config_vlan_name(const struct state_config *s, uint16_t vlan);

#endif
