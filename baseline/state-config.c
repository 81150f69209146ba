/*
 * state-config.c - defaults and validation of [learning], [network], [alerts], [siem],
 * and which of their keys a running sensor takes in place on SIGHUP (config.h).
 *
 * Must never: accept a value it cannot use later.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "state-config.h"

void state_config_defaults(struct state_config *s)
{
	memset(s, 0, sizeof *s);
	s->learning_initial = true;
	s->learning_quiet_s = 0;
	s->router_min_ips = 3;
	s->window_s = 60;
	s->port_scan_ports = 20;
	s->ip_sweep_hosts = 32;
	s->arp_scan_targets = 24;
	s->new_flow_burst = 500;
	s->exception_flood = 50;
	s->device_silent_s = 900;
	s->control_events = false;
	s->evidence_max_mb = 64;
	s->evidence_packets = 64;
	s->store_max_mb = 1024;
}

static int parse_subnet(const char *val, struct net_subnet *sn, char *err, size_t errlen)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", val);
	char *name = strpbrk(buf, " \t");
	if (name) {
		*name++ = 0;
		name += strspn(name, " \t");
	}
	char *slash = strchr(buf, '/');
	if (!slash) {
		snprintf(err, errlen, "'%s' is not CIDR [name] (e.g. 10.10.1.0/24 control)", val);
		return CONF_BAD_VALUE;
	}
	*slash = 0;
	memset(sn, 0, sizeof *sn);
	int maxp;
	if (inet_pton(AF_INET, buf, sn->addr) == 1) {
		sn->family = 4;
		maxp = 32;
	} else if (inet_pton(AF_INET6, buf, sn->addr) == 1) {
		sn->family = 6;
		maxp = 128;
	} else {
		snprintf(err, errlen, "'%s' is not an IP address", buf);
		return CONF_BAD_VALUE;
	}
	char *end;
	long p = strtol(slash + 1, &end, 10);
	if (*end || p < 0 || p > maxp) {
		snprintf(err, errlen, "'/%s' is not a prefix length from 0 to %d", slash + 1, maxp);
		return CONF_BAD_VALUE;
	}
	sn->prefix = (uint8_t)p;
	snprintf(sn->name, sizeof sn->name, "%s", name ? name : "");
	return CONF_OK;
}

static int set_u32(const char *val, uint64_t min, uint64_t max, uint32_t *out, char *err, size_t errlen)
{
	uint64_t v;
	if (conf_parse_uint(val, min, max, &v)) {
		snprintf(err, errlen, "'%s' is not a number from %llu to %llu", val, (unsigned long long)min,
			 (unsigned long long)max);
		return CONF_BAD_VALUE;
	}
	*out = (uint32_t)v;
	return CONF_OK;
}

int state_config_set(struct state_config *s, const char *section, const char *key, const char *val,
		     char *err, size_t errlen)
{
	if (!strcmp(section, "learning")) {
		if (!strcmp(key, "mode")) {
			if (!strcmp(val, "on")) s->learning_initial = true;
			else if (!strcmp(val, "off")) s->learning_initial = false;
			else { snprintf(err, errlen, "'%s' is not on or off", val); return CONF_BAD_VALUE; }
			return CONF_OK;
		}
		if (!strcmp(key, "auto_end_quiet"))
			return set_u32(val, 0, 365u * 86400, &s->learning_quiet_s, err, errlen);
	} else if (!strcmp(section, "network")) {
		if (!strcmp(key, "subnet")) {
			if (s->n_subnets >= NET_MAX_SUBNETS) {
				snprintf(err, errlen, "more than %d subnets", NET_MAX_SUBNETS);
				return CONF_BAD_VALUE;
			}
			int rc = parse_subnet(val, &s->subnets[s->n_subnets], err, errlen);
			if (rc == CONF_OK)
				s->n_subnets++;
			return rc;
		}
		if (!strcmp(key, "vlan")) {
			if (s->n_vlans >= NET_MAX_VLANS) {
				snprintf(err, errlen, "more than %d VLAN names", NET_MAX_VLANS);
				return CONF_BAD_VALUE;
			}
			char *end;
			long id = strtol(val, &end, 10);
			if (end == val || id < 1 || id > 4094 || (*end != ' ' && *end != '\t')) {
				snprintf(err, errlen, "'%s' is not 'ID name' with an ID from 1 to 4094", val);
				return CONF_BAD_VALUE;
			}
			end += strspn(end, " \t");
			if (!*end) {
				snprintf(err, errlen, "'%s' has no name", val);
				return CONF_BAD_VALUE;
			}
			s->vlans[s->n_vlans].id = (uint16_t)id;
			snprintf(s->vlans[s->n_vlans].name, sizeof s->vlans[0].name, "%s", end);
			s->n_vlans++;
			return CONF_OK;
		}
		if (!strcmp(key, "router_min_ips"))
			return set_u32(val, 2, 1000000, &s->router_min_ips, err, errlen);
	} else if (!strcmp(section, "alerts")) {
		if (!strcmp(key, "anomaly_window")) return set_u32(val, 1, 86400, &s->window_s, err, errlen);
		if (!strcmp(key, "port_scan_ports")) return set_u32(val, 2, 65536, &s->port_scan_ports, err, errlen);
		if (!strcmp(key, "ip_sweep_hosts")) return set_u32(val, 2, 1u << 24, &s->ip_sweep_hosts, err, errlen);
		if (!strcmp(key, "arp_scan_targets")) return set_u32(val, 2, 1u << 24, &s->arp_scan_targets, err, errlen);
		if (!strcmp(key, "new_flow_burst")) return set_u32(val, 2, 1u << 30, &s->new_flow_burst, err, errlen);
		if (!strcmp(key, "exception_flood")) return set_u32(val, 2, 1u << 30, &s->exception_flood, err, errlen);
		if (!strcmp(key, "device_silent")) return set_u32(val, 0, 365u * 86400, &s->device_silent_s, err, errlen);
		if (!strcmp(key, "evidence_max_mb")) return set_u32(val, 0, 1u << 20, &s->evidence_max_mb, err, errlen);
		if (!strcmp(key, "evidence_packets")) return set_u32(val, 1, 100000, &s->evidence_packets, err, errlen);
		if (!strcmp(key, "store_max_mb")) return set_u32(val, 16, 1u << 22, &s->store_max_mb, err, errlen);
		if (!strcmp(key, "control_events")) {
			if (conf_parse_bool(val, &s->control_events)) {
				snprintf(err, errlen, "'%s' is not true or false", val);
				return CONF_BAD_VALUE;
			}
			return CONF_OK;
		}
	}
	return CONF_UNKNOWN_KEY;
}

int state_config_subnet(const struct state_config *s, int family, const uint8_t *ip, const char **name)
{
	for (int i = 0; i < s->n_subnets; i++) {
		const struct net_subnet *sn = &s->subnets[i];
		if (sn->family != family)
			continue;
		int bits = sn->prefix, k = 0;
		bool match = true;
		for (; bits >= 8; bits -= 8, k++)
			if (ip[k] != sn->addr[k]) {
				match = false;
				break;
			}
		if (match && bits) {
			uint8_t m = (uint8_t)(0xff << (8 - bits));
			match = (ip[k] & m) == (sn->addr[k] & m);
		}
		if (match) {
			if (name)
				*name = sn->name;
			return 1;
		}
	}
	return 0;
}

const char *state_config_vlan_name(const struct state_config *s, uint16_t vlan)
{
	for (int i = 0; i < s->n_vlans; i++)
		if (s->vlans[i].id == vlan)
			return s->vlans[i].name;
	return NULL;
}

/* ---------------------------------------------------------------- SIGHUP */

static bool subnets_differ(const struct state_config *a, const struct state_config *b)
{
	if (a->n_subnets != b->n_subnets)
		return true;
	for (int i = 0; i < a->n_subnets; i++) {
		const struct net_subnet *x = &a->subnets[i], *y = &b->subnets[i];
		if (x->family != y->family || x->prefix != y->prefix || memcmp(x->addr, y->addr, sizeof x->addr) ||
		    strcmp(x->name, y->name))
			return true;
	}
	return false;
}

static bool vlans_differ(const struct state_config *a, const struct state_config *b)
{
	if (a->n_vlans != b->n_vlans)
		return true;
	for (int i = 0; i < a->n_vlans; i++)
		if (a->vlans[i].id != b->vlans[i].id || strcmp(a->vlans[i].name, b->vlans[i].name))
			return true;
	return false;
}

/* evidence_max_mb reloads while it stays above 0: the workers' evidence rings and the
 * evidence directory exist only when it was above 0 at start, and 0 would make the
 * size cap remove every evidence file */
static bool evidence_needs_restart(const struct state_config *a, const struct state_config *b)
{
	return (a->evidence_max_mb == 0) != (b->evidence_max_mb == 0);
}

#define CHANGED(field) (a->field != b->field)

int state_config_diff(const struct state_config *a, const struct state_config *b, struct conf_change *out, int max,
		      int *n)
{
	/* [learning] mode is only read when a state directory is new */
	if (CHANGED(learning_initial))
		conf_change_add(out, max, n, "learning", "mode", true);
	if (CHANGED(learning_quiet_s))
		conf_change_add(out, max, n, "learning", "auto_end_quiet", false);
	if (subnets_differ(a, b))
		conf_change_add(out, max, n, "network", "subnet", false);
	if (vlans_differ(a, b))
		conf_change_add(out, max, n, "network", "vlan", false);
	if (CHANGED(router_min_ips))
		conf_change_add(out, max, n, "network", "router_min_ips", false);
	if (CHANGED(window_s))
		conf_change_add(out, max, n, "alerts", "anomaly_window", false);
	if (CHANGED(port_scan_ports))
		conf_change_add(out, max, n, "alerts", "port_scan_ports", false);
	if (CHANGED(ip_sweep_hosts))
		conf_change_add(out, max, n, "alerts", "ip_sweep_hosts", false);
	if (CHANGED(arp_scan_targets))
		conf_change_add(out, max, n, "alerts", "arp_scan_targets", false);
	if (CHANGED(new_flow_burst))
		conf_change_add(out, max, n, "alerts", "new_flow_burst", false);
	if (CHANGED(exception_flood))
		conf_change_add(out, max, n, "alerts", "exception_flood", false);
	if (CHANGED(device_silent_s))
		conf_change_add(out, max, n, "alerts", "device_silent", false);
	if (CHANGED(evidence_packets))
		conf_change_add(out, max, n, "alerts", "evidence_packets", false);
	if (CHANGED(control_events))
		conf_change_add(out, max, n, "alerts", "control_events", false);
	if (CHANGED(evidence_max_mb))
		conf_change_add(out, max, n, "alerts", "evidence_max_mb", evidence_needs_restart(a, b));
	if (CHANGED(store_max_mb))
		conf_change_add(out, max, n, "alerts", "store_max_mb", true);
	return 0;
}

void state_config_take_reloadable(struct state_config *dst, const struct state_config *next)
{
	dst->learning_quiet_s = next->learning_quiet_s;
	memcpy(dst->subnets, next->subnets, sizeof dst->subnets);
	dst->n_subnets = next->n_subnets;
	memcpy(dst->vlans, next->vlans, sizeof dst->vlans);
	dst->n_vlans = next->n_vlans;
	dst->router_min_ips = next->router_min_ips;
	dst->window_s = next->window_s;
	dst->port_scan_ports = next->port_scan_ports;
	dst->ip_sweep_hosts = next->ip_sweep_hosts;
	dst->arp_scan_targets = next->arp_scan_targets;
	dst->new_flow_burst = next->new_flow_burst;
	dst->exception_flood = next->exception_flood;
	dst->device_silent_s = next->device_silent_s;
	dst->control_events = next->control_events;
	dst->evidence_packets = next->evidence_packets;
	if (!evidence_needs_restart(dst, next))
		dst->evidence_max_mb = next->evidence_max_mb;
	/* learning_initial and store_max_mb: at the next start */
}
