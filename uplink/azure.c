/*
 * azure.c - IoT Hub device-to-cloud, Event Hubs batch send and Blob Put Blob over
 * HTTPS (see azure.h), built on http.c and sas.c. JSON through json-c.
 *
 * Message properties carried with every record:
 *   IoT Hub:    iothub-messageid, iothub-contenttype: application/json,
 *               iothub-contentencoding: utf-8, iothub-app-sensor, iothub-app-record-type
 *   Event Hubs: BrokerProperties.MessageId/ContentType and UserProperties
 *               message-id, content-type, content-encoding, sensor, record-type
 *   Blob:       x-ms-meta-messageid, x-ms-meta-sensor, x-ms-meta-recordtype
 *
 * Must never: log a token, or send a body that is not the stored payload.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "azure.h"
#include "sas.h"

/* Error text, truncated quietly when long (format checked, no -Wformat-truncation) */
__attribute__((format(printf, 2, 3))) static void seterr(struct http_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof res->error, fmt, ap);
	va_end(ap);
}

#define MAX_EVIDENCE_BYTES (64u << 20)

void azure_init(struct azure *az, const struct uplink_config *cfg, const char *sensor, struct uplink_http *http)
{
	memset(az, 0, sizeof *az);
	az->cfg = cfg;
	az->sensor = sensor;
	az->http = http;
	if (cfg->eventhub_namespace[0]) {
		if (strchr(cfg->eventhub_namespace, '.'))
			snprintf(az->eventhub_host, sizeof az->eventhub_host, "%s", cfg->eventhub_namespace);
		else
			snprintf(az->eventhub_host, sizeof az->eventhub_host, "%s.servicebus.windows.net",
				 cfg->eventhub_namespace);
	}
}

void azure_drop_tokens(struct azure *az)
{
	az->iothub.expiry = 0;
	az->eventhub.expiry = 0;
}

/* A token valid for sas_ttl, renewed once three quarters of its life have passed (and
 * at least a second before it expires: time() counts whole seconds, and a request
 * signed in the token's last second reaches the hub after it). */
static int token(struct azure *az, struct sas_cache *c, enum sas_flavour f, const char *resource,
		 const char *key, const char *key_name, struct http_result *res)
{
	int64_t now = (int64_t)time(NULL);
	int64_t ttl = az->cfg->sas_ttl;

	int64_t margin = ttl / 4 > 1 ? ttl / 4 : 1;
	if (c->expiry && now < c->expiry - margin && now >= c->made)
		return 0;
	if (sas_token(f, resource, key, key_name, now + ttl, c->token, sizeof c->token, res->error,
		      sizeof res->error)) {
		c->expiry = 0;
		return -1;
	}
	c->expiry = now + ttl;
	c->made = now;
	az->tokens_made++;
	return 0;
}

static struct curl_slist *hdr(struct curl_slist *l, const char *name, const char *val)
{
	char line[1400];
	snprintf(line, sizeof line, "%s: %s", name, val);
	return curl_slist_append(l, line);
}

bool azure_iothub_send(struct azure *az, const struct outbox_msg *m, struct http_result *res)
{
	const struct uplink_config *cfg = az->cfg;
	char resource[512], url[1024], enc_dev[400], enc_sensor[200];
	struct curl_slist *h = NULL;
	bool ok;

	memset(res, 0, sizeof *res);
	snprintf(resource, sizeof resource, "%s/devices/%s", cfg->iothub_host, cfg->device_id);
	if (token(az, &az->iothub, SAS_IOTHUB, resource, cfg->sas_key, NULL, res))
		return false;
	if (sas_url_encode(cfg->device_id, enc_dev, sizeof enc_dev) ||
	    sas_url_encode(az->sensor, enc_sensor, sizeof enc_sensor)) {
		seterr(res, "device_id or sensor name too long");
		return false;
	}
	snprintf(url, sizeof url, "https://%s/devices/%s/messages/events?api-version=%s", cfg->iothub_host, enc_dev,
		 AZURE_IOTHUB_API_VERSION);
	h = hdr(h, "Authorization", az->iothub.token);
	h = hdr(h, "Content-Type", "application/json; charset=utf-8");
	h = hdr(h, "iothub-messageid", m->msgid);
	h = hdr(h, "iothub-contenttype", "application/json");
	h = hdr(h, "iothub-contentencoding", "utf-8");
	h = hdr(h, "iothub-app-sensor", enc_sensor);
	h = hdr(h, "iothub-app-record-type", outbox_kind_name(m->kind));
	h = curl_slist_append(h, "Expect:");
	ok = http_request(az->http, "POST", url, h, m->payload, m->len, res);
	curl_slist_free_all(h);
	return ok;
}

bool azure_eventhub_send(struct azure *az, const struct outbox_msg *m, int n, struct http_result *res)
{
	const struct uplink_config *cfg = az->cfg;
	char resource[600], url[1024];
	struct curl_slist *h = NULL;
	json_object *arr;
	const char *body;
	bool ok;

	memset(res, 0, sizeof *res);
	snprintf(resource, sizeof resource, "https://%s/%s", az->eventhub_host, cfg->eventhub_name);
	if (token(az, &az->eventhub, SAS_SERVICEBUS, resource, cfg->eventhub_key[0] ? cfg->eventhub_key : cfg->sas_key,
		  cfg->eventhub_key_name, res))
		return false;
	snprintf(url, sizeof url, "https://%s/%s/messages?timeout=60&api-version=%s", az->eventhub_host,
		 cfg->eventhub_name, AZURE_EVENTHUB_API_VERSION);

	arr = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object *o = json_object_new_object(), *bp = json_object_new_object(),
			    *up = json_object_new_object();
		json_object_object_add(o, "Body", json_object_new_string_len(m[i].payload, (int)m[i].len));
		json_object_object_add(bp, "MessageId", json_object_new_string(m[i].msgid));
		json_object_object_add(bp, "ContentType", json_object_new_string("application/json"));
		json_object_object_add(o, "BrokerProperties", bp);
		json_object_object_add(up, "message-id", json_object_new_string(m[i].msgid));
		json_object_object_add(up, "content-type", json_object_new_string("application/json"));
		json_object_object_add(up, "content-encoding", json_object_new_string("utf-8"));
		json_object_object_add(up, "sensor", json_object_new_string(az->sensor));
		json_object_object_add(up, "record-type", json_object_new_string(outbox_kind_name(m[i].kind)));
		json_object_object_add(o, "UserProperties", up);
		json_object_array_add(arr, o);
	}
	body = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	h = hdr(h, "Authorization", az->eventhub.token);
	h = hdr(h, "Content-Type", "application/vnd.microsoft.servicebus.json");
	h = curl_slist_append(h, "Expect:");
	ok = http_request(az->http, "POST", url, h, body, strlen(body), res);
	curl_slist_free_all(h);
	json_object_put(arr);
	return ok;
}

/* blob_url = https://host/container?sas  ->  https://host/container/<name>?sas */
static int blob_target(const char *blob_url, const char *name, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *path = NULL, *full = NULL;
	char np[2048];
	int rc = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, blob_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	snprintf(np, sizeof np, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", name);
	if (curl_url_set(u, CURLUPART_PATH, np, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto out;
	if (strlen(full) < outlen) {
		memcpy(out, full, strlen(full) + 1);
		rc = 0;
	}
out:
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

static void blob_safe(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	for (; *in && n + 1 < outlen; in++) {
		char c = *in;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '_' || c == '.';
		out[n++] = ok ? c : '_';
	}
	out[n] = 0;
}

bool azure_blob_put(struct azure *az, const struct outbox_msg *m, struct http_result *res, bool *permanent)
{
	char name[700], url[3000], sensor[128], key[300], stamp[32];
	const char *ctype = "application/json";
	const char *data = m->payload;
	size_t len = m->len;
	char *file = NULL;
	struct curl_slist *h = NULL;
	bool ok;

	memset(res, 0, sizeof *res);
	*permanent = false;
	blob_safe(az->sensor, sensor, sizeof sensor);
	blob_safe(m->key, key, sizeof key);
	if (m->kind == OUTBOX_EVIDENCE) {
		json_object *o = json_tokener_parse(m->payload), *p = NULL;
		const char *path = NULL;
		FILE *f;
		struct stat st;

		if (o && json_object_object_get_ex(o, "path", &p))
			path = json_object_get_string(p);
		if (!path || !(f = fopen(path, "rb"))) {
			seterr(res, "evidence for alert %s: file %s is missing", m->key,
				 path ? path : "(no path)");
			json_object_put(o);
			*permanent = true;
			return false;
		}
		if (fstat(fileno(f), &st) || st.st_size > (off_t)MAX_EVIDENCE_BYTES ||
		    !(file = malloc((size_t)st.st_size + 1)) ||
		    fread(file, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			seterr(res, "evidence for alert %s: cannot read %s (or over %u bytes)",
				 m->key, path, MAX_EVIDENCE_BYTES);
			fclose(f);
			free(file);
			json_object_put(o);
			*permanent = true;
			return false;
		}
		fclose(f);
		json_object_put(o);
		data = file;
		len = (size_t)st.st_size;
		ctype = "application/vnd.tcpdump.pcap";
		snprintf(name, sizeof name, "%s/evidence/%s.pcap", sensor, key);
	} else {
		struct tm tm;
		time_t t = (time_t)m->created;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(name, sizeof name, "%s/inventory/%s-%s.json", sensor, stamp, m->msgid);
	}
	if (blob_target(az->cfg->blob_url, name, url, sizeof url)) {
		seterr(res, "blob_url cannot be combined with blob name %s", name);
		free(file);
		*permanent = true;
		return false;
	}
	h = hdr(h, "x-ms-blob-type", "BlockBlob");
	h = hdr(h, "x-ms-version", AZURE_BLOB_API_VERSION);
	h = hdr(h, "Content-Type", ctype);
	h = hdr(h, "x-ms-meta-messageid", m->msgid);
	h = hdr(h, "x-ms-meta-sensor", sensor);
	h = hdr(h, "x-ms-meta-recordtype", outbox_kind_name(m->kind));
	h = curl_slist_append(h, "Expect:");
	ok = http_request(az->http, "PUT", url, h, data, len, res);
	curl_slist_free_all(h);
	free(file);
	return ok;
}
