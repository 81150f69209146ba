/*
 * uplink-config.c - defaults and validation of the [uplink] section.
 *
 * Must never: accept a value it cannot use later (a bad mode, a non-https URL, a port
 * other than 443), nor print a secret in an error message.
 */
#include <stdio.h>
#include <string.h>

#include "curl-lazy.h"

#include "config.h"
#include "uplink-config.h"

void uplink_config_defaults(struct uplink_config *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->mode, sizeof u->mode, "off");
	snprintf(u->tls_min, sizeof u->tls_min, "1.2");
	snprintf(u->eventhub_key_name, sizeof u->eventhub_key_name, "send");
	u->drain_timeout = 30;
	u->sas_ttl = 3600;
	u->batch_max = 100;
	u->timeout = 30;
	u->retry_min = 1;
	u->retry_max = 300;
	u->health_interval = 300;
	u->snapshot_interval = 3600;
	u->outbox_max_entries = 100000;
	u->outbox_max_bytes = 256ull << 20;
}

#define COPY(field) do { \
	if (strlen(val) >= sizeof u->field) { snprintf(err, errlen, "value too long"); return CONF_BAD_VALUE; } \
	snprintf(u->field, sizeof u->field, "%s", val); return CONF_OK; } while (0)

#define UINT(field, lo, hi, what) do { \
	uint64_t v_; \
	if (conf_parse_uint(val, lo, hi, &v_)) { \
		snprintf(err, errlen, "'%s' is not " what " (%llu..%llu)", val, \
			 (unsigned long long)(lo), (unsigned long long)(hi)); \
		return CONF_BAD_VALUE; \
	} \
	u->field = v_; return CONF_OK; } while (0)

int uplink_config_set(struct uplink_config *u, const char *key, const char *val, char *err, size_t errlen)
{
	if (!strcmp(key, "mode")) {
		if (strcmp(val, "off") && strcmp(val, "direct") && strcmp(val, "proxy")) {
			snprintf(err, errlen, "'%s' is not one of off, direct, proxy", val);
			return CONF_BAD_VALUE;
		}
		COPY(mode);
	}
	if (!strcmp(key, "proxy")) {
		if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8)) {
			snprintf(err, errlen, "proxy URL must start with http:// or https://");
			return CONF_BAD_VALUE;
		}
		COPY(proxy);
	}
	if (!strcmp(key, "proxy_ca_file")) COPY(proxy_ca_file);
	if (!strcmp(key, "iothub_host")) {
		if (strchr(val, ':') || strchr(val, '/')) {
			snprintf(err, errlen, "'%s' must be a bare host name (no scheme, port or path; port 443 is implied)", val);
			return CONF_BAD_VALUE;
		}
		COPY(iothub_host);
	}
	if (!strcmp(key, "device_id")) COPY(device_id);
	if (!strcmp(key, "sas_key")) COPY(sas_key);
	if (!strcmp(key, "sas_key_file")) COPY(sas_key_file);
	if (!strcmp(key, "eventhub_namespace")) {
		if (strchr(val, ':') || strchr(val, '/')) {
			snprintf(err, errlen, "'%s' must be a namespace name or host (no scheme, port or path)", val);
			return CONF_BAD_VALUE;
		}
		COPY(eventhub_namespace);
	}
	if (!strcmp(key, "eventhub_name")) COPY(eventhub_name);
	if (!strcmp(key, "eventhub_key_name")) COPY(eventhub_key_name);
	if (!strcmp(key, "eventhub_key")) COPY(eventhub_key);
	if (!strcmp(key, "blob_url")) {
		if (strncmp(val, "https://", 8)) {
			snprintf(err, errlen, "blob_url must start with https://");
			return CONF_BAD_VALUE;
		}
		COPY(blob_url);
	}
	if (!strcmp(key, "ca_file")) COPY(ca_file);
	if (!strcmp(key, "tls_min")) {
		if (strcmp(val, "1.2") && strcmp(val, "1.3")) {
			snprintf(err, errlen, "'%s' is not 1.2 or 1.3", val);
			return CONF_BAD_VALUE;
		}
		COPY(tls_min);
	}
	if (!strcmp(key, "drain_timeout")) UINT(drain_timeout, 0, 86400, "a number of seconds");
	if (!strcmp(key, "sas_ttl")) UINT(sas_ttl, 2, 31536000, "a number of seconds");
	if (!strcmp(key, "batch_max")) UINT(batch_max, 1, 1000, "a number of messages");
	if (!strcmp(key, "timeout")) UINT(timeout, 1, 3600, "a number of seconds");
	if (!strcmp(key, "retry_min")) UINT(retry_min, 1, 3600, "a number of seconds");
	if (!strcmp(key, "retry_max")) UINT(retry_max, 1, 86400, "a number of seconds");
	if (!strcmp(key, "health_interval")) UINT(health_interval, 0, 86400, "a number of seconds");
	if (!strcmp(key, "snapshot_interval")) UINT(snapshot_interval, 0, 604800, "a number of seconds");
	if (!strcmp(key, "outbox_max_entries")) UINT(outbox_max_entries, 10, 100000000, "a number of entries");
	if (!strcmp(key, "outbox_max_bytes")) UINT(outbox_max_bytes, 65536, 1ull << 40, "a number of bytes");
	if (!strcmp(key, "resolve")) {
		/* test-only: host:443:address */
		const char *c = strchr(val, ':');
		if (!c || strncmp(c, ":443:", 5) || c == val || !c[5]) {
			snprintf(err, errlen, "'%s' is not host:443:address", val);
			return CONF_BAD_VALUE;
		}
		if (u->n_resolve >= UPLINK_MAX_RESOLVE) {
			snprintf(err, errlen, "at most %d resolve entries", UPLINK_MAX_RESOLVE);
			return CONF_BAD_VALUE;
		}
		if (strlen(val) >= sizeof u->resolve[0]) {
			snprintf(err, errlen, "value too long");
			return CONF_BAD_VALUE;
		}
		snprintf(u->resolve[u->n_resolve++], sizeof u->resolve[0], "%s", val);
		return CONF_OK;
	}
	return CONF_UNKNOWN_KEY;
}

/* The URL must be https and, if it names a port, 443. */
static int check_https_443(const char *url, const char *key, char *err, size_t errlen)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *port = NULL, *host = NULL;
	int rc = -1;

	if (!h) {
		snprintf(err, errlen, "%s: %s", key, curl_lazy_error()[0] ? curl_lazy_error() : "out of memory");
		return -1;
	}
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(err, errlen, "%s: not a valid URL", key);
		goto out;
	}
	curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(h, CURLUPART_HOST, &host, 0);
	curl_url_get(h, CURLUPART_PORT, &port, 0);
	if (!scheme || strcmp(scheme, "https")) {
		snprintf(err, errlen, "%s: must be an https:// URL", key);
		goto out;
	}
	if (!host || !*host) {
		snprintf(err, errlen, "%s: has no host", key);
		goto out;
	}
	if (port && strcmp(port, "443")) {
		snprintf(err, errlen, "%s: port %s is not allowed (the uplink only uses 443)", key, port);
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(port);
	curl_free(host);
	curl_url_cleanup(h);
	return rc;
}

int uplink_config_check(struct uplink_config *u, char *err, size_t errlen)
{
	if (!strcmp(u->mode, "off"))
		return 0;
	if (!strcmp(u->mode, "proxy") && !u->proxy[0]) {
		snprintf(err, errlen, "[uplink] mode = proxy needs proxy = http://host:port");
		return -1;
	}
	if (strcmp(u->mode, "proxy") && u->proxy[0]) {
		snprintf(err, errlen, "[uplink] proxy is set but mode is %s (use mode = proxy)", u->mode);
		return -1;
	}
	if (u->sas_key_file[0]) {
		FILE *f = fopen(u->sas_key_file, "r");
		char buf[sizeof u->sas_key + 2];
		size_t n;

		if (!f) {
			snprintf(err, errlen, "[uplink] sas_key_file: cannot open %s", u->sas_key_file);
			return -1;
		}
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
			buf[--n] = 0;
		if (!n || n >= sizeof u->sas_key) {
			snprintf(err, errlen, "[uplink] sas_key_file: %s is empty or too long", u->sas_key_file);
			return -1;
		}
		memcpy(u->sas_key, buf, n + 1);
	}
	if (!u->iothub_host[0] && !u->eventhub_namespace[0]) {
		snprintf(err, errlen, "[uplink] mode = %s needs iothub_host or eventhub_namespace", u->mode);
		return -1;
	}
	if (u->iothub_host[0] && (!u->device_id[0] || !u->sas_key[0])) {
		snprintf(err, errlen, "[uplink] iothub_host needs device_id and sas_key (or sas_key_file)");
		return -1;
	}
	if (u->eventhub_namespace[0] && (!u->eventhub_name[0] || (!u->eventhub_key[0] && !u->sas_key[0]))) {
		snprintf(err, errlen, "[uplink] eventhub_namespace needs eventhub_name and eventhub_key (or sas_key)");
		return -1;
	}
	if (u->blob_url[0] && check_https_443(u->blob_url, "[uplink] blob_url", err, errlen))
		return -1;
	if (u->retry_max < u->retry_min) {
		snprintf(err, errlen, "[uplink] retry_max (%u) is below retry_min (%u)", u->retry_max, u->retry_min);
		return -1;
	}
	return 0;
}
