/*
 * config.c - loads the INI file (inih) over the defaults; owns [sensor] and [capture]
 * and hands [uplink], [learning], [network], [alerts], [siem] to their modules.
 *
 * Must never: accept an unknown section or key, or a value it cannot use; every
 * error names the file, line and key.
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->sensor.name, sizeof c->sensor.name, "otsensor");
	c->sensor.workers = 1;
	c->sensor.max_flows = 262144;
	c->sensor.flow_timeout_s = 120;
	c->sensor.tcp_timeout_s = 3600;
	c->sensor.stream_buffers = 4096;
	c->sensor.pin_cpus = false;
	snprintf(c->capture.backend, sizeof c->capture.backend, "pcap");
	c->capture.queues = 1;
	c->capture.snaplen = 65535;
	c->capture.buffer_mb = 64;
	snprintf(c->capture.xdp_mode, sizeof c->capture.xdp_mode, "auto");
	snprintf(c->sensor.user, sizeof c->sensor.user, "otsensor");
	state_config_defaults(&c->state);
	uplink_config_defaults(&c->uplink);
}

int conf_parse_uint(const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!*val)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(val, &end, 10);
	if (errno || *end || val[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int conf_parse_bool(const char *val, bool *out)
{
	if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

#define COPY_STR(dst) do { \
	if (strlen(val) >= sizeof(dst)) { snprintf(err, errlen, "value too long (at most %zu characters)", sizeof(dst) - 1); return CONF_BAD_VALUE; } \
	snprintf(dst, sizeof(dst), "%s", val); return CONF_OK; } while (0)

#define UINT_KEY(name, field, lo, hi) if (!strcmp(key, name)) { \
	uint64_t v; \
	if (conf_parse_uint(val, lo, hi, &v)) { snprintf(err, errlen, "'%s' is not a whole number in %llu..%llu", val, (unsigned long long)(lo), (unsigned long long)(hi)); return CONF_BAD_VALUE; } \
	field = v; return CONF_OK; }

static int sensor_set(struct sensor_config *s, const char *key, const char *val, char *err, size_t errlen)
{
	if (!strcmp(key, "name"))
		COPY_STR(s->name);
	if (!strcmp(key, "state_dir"))
		COPY_STR(s->state_dir);
	if (!strcmp(key, "user"))
		COPY_STR(s->user);
	UINT_KEY("workers", s->workers, 1, 64)
	UINT_KEY("max_flows", s->max_flows, 1024, 64u * 1024 * 1024)
	UINT_KEY("flow_timeout", s->flow_timeout_s, 1, 86400)
	UINT_KEY("tcp_timeout", s->tcp_timeout_s, 1, 7 * 86400)
	UINT_KEY("stream_buffers", s->stream_buffers, 16, 1u << 20)
	if (!strcmp(key, "pin_cpus")) {
		if (conf_parse_bool(val, &s->pin_cpus)) {
			snprintf(err, errlen, "'%s' is not true or false", val);
			return CONF_BAD_VALUE;
		}
		return CONF_OK;
	}
	return CONF_UNKNOWN_KEY;
}

static int capture_set(struct capture_config *c, const char *key, const char *val, char *err, size_t errlen)
{
	if (!strcmp(key, "backend")) {
		if (strcmp(val, "pcap") && strcmp(val, "afxdp") && strcmp(val, "dpdk")) {
			snprintf(err, errlen, "'%s' is not one of pcap, afxdp, dpdk", val);
			return CONF_BAD_VALUE;
		}
		COPY_STR(c->backend);
	}
	if (!strcmp(key, "interface")) {
		if (c->n_interfaces >= CONF_MAX_IFACES) {
			snprintf(err, errlen, "at most %d interfaces", CONF_MAX_IFACES);
			return CONF_BAD_VALUE;
		}
		if (!*val || strlen(val) >= sizeof c->interfaces[0]) {
			snprintf(err, errlen, "'%s' is not an interface name", val);
			return CONF_BAD_VALUE;
		}
		snprintf(c->interfaces[c->n_interfaces++], sizeof c->interfaces[0], "%s", val);
		return CONF_OK;
	}
	UINT_KEY("queues", c->queues, 1, 64)
	UINT_KEY("snaplen", c->snaplen, 64, 262144)
	UINT_KEY("buffer_mb", c->buffer_mb, 1, 4096)
	if (!strcmp(key, "dpdk_args"))
		COPY_STR(c->dpdk_args);
	if (!strcmp(key, "xdp_mode")) {
		if (strcmp(val, "auto") && strcmp(val, "zerocopy") && strcmp(val, "copy") && strcmp(val, "skb")) {
			snprintf(err, errlen, "'%s' is not one of auto, zerocopy, copy, skb", val);
			return CONF_BAD_VALUE;
		}
		COPY_STR(c->xdp_mode);
	}
	return CONF_UNKNOWN_KEY;
}

struct load_ctx {
	struct config *c;
	char *err;
	size_t errlen;
	int failed;
};

static int on_entry(void *user, const char *section, const char *key, const char *val)
{
	struct load_ctx *lc = user;
	if (lc->failed)
		return 0;
	char why[256] = "";
	int rc;
	if (!key) /* a section header alone */
		rc = (!strcmp(section, "sensor") || !strcmp(section, "capture") || !strcmp(section, "uplink") ||
		      !strcmp(section, "learning") || !strcmp(section, "network") || !strcmp(section, "alerts") ||
		      !strcmp(section, "siem")) ? CONF_OK : CONF_UNKNOWN_KEY;
	else if (!strcmp(section, "sensor"))
		rc = sensor_set(&lc->c->sensor, key, val, why, sizeof why);
	else if (!strcmp(section, "capture"))
		rc = capture_set(&lc->c->capture, key, val, why, sizeof why);
	else if (!strcmp(section, "uplink"))
		rc = uplink_config_set(&lc->c->uplink, key, val, why, sizeof why);
	else if (!strcmp(section, "learning") || !strcmp(section, "network") || !strcmp(section, "alerts") ||
		 !strcmp(section, "siem"))
		rc = state_config_set(&lc->c->state, section, key, val, why, sizeof why);
	else if (!*section)
		rc = -3;
	else
		rc = -4;
	if (rc == CONF_OK)
		return 1;
	lc->failed = 1;
	/* inih reports the line of the entry that failed; config_load adds it */
	if (rc == CONF_BAD_VALUE)
		snprintf(lc->err, lc->errlen, "[%s] %s: %s", section, key, why);
	else if (rc == CONF_UNKNOWN_KEY && key)
		snprintf(lc->err, lc->errlen, "unknown key '%s' in section [%s]", key, section);
	else if (rc == -3)
		snprintf(lc->err, lc->errlen, "key '%s' outside any section", key);
	else
		snprintf(lc->err, lc->errlen, "unknown section [%s]", section);
	return 0;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	snprintf(c->path, sizeof c->path, "%s", path);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct load_ctx lc = { c, err, errlen, 0 };
	int rc = ini_parse_file(f, on_entry, &lc);
	fclose(f);
	if (lc.failed) {
		char why[512];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "%s:%d: %s", path, rc, why);
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: not an INI line (expected [section] or key = value)", path, rc);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read", path);
		return -1;
	}
	/* keys that are only wrong together (mode = proxy without proxy...), and sas_key_file */
	char why[512];
	if (uplink_config_check(&c->uplink, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- SIGHUP */

void conf_change_add(struct conf_change *out, int max, int *n, const char *section, const char *key, bool restart)
{
	if (*n < max) {
		snprintf(out[*n].name, sizeof out[*n].name, "[%s] %s", section, key);
		out[*n].restart = restart;
	}
	(*n)++;
}

#define DIFF_STR(sec, a, b, field, key, restart) \
	do { if (strcmp((a)->field, (b)->field)) conf_change_add(out, max, &n, sec, key, restart); } while (0)
#define DIFF_NUM(sec, a, b, field, key, restart) \
	do { if ((a)->field != (b)->field) conf_change_add(out, max, &n, sec, key, restart); } while (0)

static bool interfaces_differ(const struct capture_config *a, const struct capture_config *b)
{
	if (a->n_interfaces != b->n_interfaces)
		return true;
	for (int i = 0; i < a->n_interfaces; i++)
		if (strcmp(a->interfaces[i], b->interfaces[i]))
			return true;
	return false;
}

static bool resolve_differs(const struct uplink_config *a, const struct uplink_config *b)
{
	if (a->n_resolve != b->n_resolve)
		return true;
	for (int i = 0; i < a->n_resolve; i++)
		if (strcmp(a->resolve[i], b->resolve[i]))
			return true;
	return false;
}

int config_diff(const struct config *running, const struct config *next, struct conf_change *out, int max)
{
	int n = 0;
	const struct sensor_config *sa = &running->sensor, *sb = &next->sensor;
	DIFF_STR("sensor", sa, sb, name, "name", true);
	DIFF_STR("sensor", sa, sb, state_dir, "state_dir", true);
	DIFF_STR("sensor", sa, sb, user, "user", true);
	DIFF_NUM("sensor", sa, sb, workers, "workers", true);
	DIFF_NUM("sensor", sa, sb, max_flows, "max_flows", true);
	DIFF_NUM("sensor", sa, sb, flow_timeout_s, "flow_timeout", true);
	DIFF_NUM("sensor", sa, sb, tcp_timeout_s, "tcp_timeout", true);
	DIFF_NUM("sensor", sa, sb, stream_buffers, "stream_buffers", true);
	DIFF_NUM("sensor", sa, sb, pin_cpus, "pin_cpus", true);
	const struct capture_config *ca = &running->capture, *cb = &next->capture;
	DIFF_STR("capture", ca, cb, backend, "backend", true);
	if (interfaces_differ(ca, cb))
		conf_change_add(out, max, &n, "capture", "interface", true);
	DIFF_NUM("capture", ca, cb, queues, "queues", true);
	DIFF_STR("capture", ca, cb, dpdk_args, "dpdk_args", true);
	DIFF_NUM("capture", ca, cb, snaplen, "snaplen", true);
	DIFF_NUM("capture", ca, cb, buffer_mb, "buffer_mb", true);
	DIFF_STR("capture", ca, cb, xdp_mode, "xdp_mode", true);
	state_config_diff(&running->state, &next->state, out, max, &n);
	/* [uplink]: the uplink thread restarts with the new settings (no secret is named
	 * with its value, only its key) */
	const struct uplink_config *ua = &running->uplink, *ub = &next->uplink;
	DIFF_STR("uplink", ua, ub, mode, "mode", false);
	DIFF_STR("uplink", ua, ub, proxy, "proxy", false);
	DIFF_STR("uplink", ua, ub, proxy_ca_file, "proxy_ca_file", false);
	DIFF_STR("uplink", ua, ub, iothub_host, "iothub_host", false);
	DIFF_STR("uplink", ua, ub, device_id, "device_id", false);
	if (strcmp(ua->sas_key, ub->sas_key))
		conf_change_add(out, max, &n, "uplink", ub->sas_key_file[0] ? "sas_key (sas_key_file)" : "sas_key", false);
	else
		DIFF_STR("uplink", ua, ub, sas_key_file, "sas_key_file", false);
	DIFF_STR("uplink", ua, ub, eventhub_namespace, "eventhub_namespace", false);
	DIFF_STR("uplink", ua, ub, eventhub_name, "eventhub_name", false);
	DIFF_STR("uplink", ua, ub, eventhub_key_name, "eventhub_key_name", false);
	DIFF_STR("uplink", ua, ub, eventhub_key, "eventhub_key", false);
	DIFF_STR("uplink", ua, ub, blob_url, "blob_url", false);
	DIFF_STR("uplink", ua, ub, ca_file, "ca_file", false);
	DIFF_STR("uplink", ua, ub, tls_min, "tls_min", false);
	DIFF_NUM("uplink", ua, ub, drain_timeout, "drain_timeout", false);
	DIFF_NUM("uplink", ua, ub, sas_ttl, "sas_ttl", false);
	DIFF_NUM("uplink", ua, ub, batch_max, "batch_max", false);
	DIFF_NUM("uplink", ua, ub, timeout, "timeout", false);
	DIFF_NUM("uplink", ua, ub, retry_min, "retry_min", false);
	DIFF_NUM("uplink", ua, ub, retry_max, "retry_max", false);
	DIFF_NUM("uplink", ua, ub, health_interval, "health_interval", false);
	DIFF_NUM("uplink", ua, ub, snapshot_interval, "snapshot_interval", false);
	DIFF_NUM("uplink", ua, ub, outbox_max_entries, "outbox_max_entries", false);
	DIFF_NUM("uplink", ua, ub, outbox_max_bytes, "outbox_max_bytes", false);
	if (resolve_differs(ua, ub))
		conf_change_add(out, max, &n, "uplink", "resolve", false);
	return n;
}

void config_reloaded(struct config *dst, const struct config *running, const struct config *next)
{
	memcpy(dst, running, sizeof *dst);
	state_config_take_reloadable(&dst->state, &next->state);
	dst->uplink = next->uplink;
}
