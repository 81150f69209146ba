/*
 * http.c - libcurl set-up for the uplink's connection methods, and errors in words.
 *
 * TLS: 1.2 or newer (tls_min), peer and host name always verified, against ca_file
 * when given, else the system store. Proxy: CONNECT tunnel (the proxy never sees the
 * plaintext), Basic credentials from the proxy URL, https:// proxies verified too.
 * Only https is allowed as a protocol; the destinations have no port but 443
 * (uplink-config.c refuses any other).
 *
 * Must never: set CURLOPT_SSL_VERIFYPEER/VERIFYHOST to 0, or print credentials.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "http.h"

/* Error text, truncated quietly when long (format checked, no -Wformat-truncation) */
__attribute__((format(printf, 2, 3))) static void seterr(struct http_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof res->error, fmt, ap);
	va_end(ap);
}

long long http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct uplink_http *hp = arg;
	size_t n = size * nmemb;
	size_t room = sizeof hp->body - 1 - hp->bodylen;
	size_t take = n < room ? n : room;

	memcpy(hp->body + hp->bodylen, ptr, take);
	hp->bodylen += take;
	hp->body[hp->bodylen] = 0;
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct uplink_http *hp = arg;
	(void)dt; (void)dn; (void)ut; (void)un;
	if (hp->abort && atomic_load(hp->abort))
		return 1;
	if (hp->deadline_ms) {
		long long d = atomic_load(hp->deadline_ms);
		if (d && http_now_ms() > d)
			return 1;
	}
	return 0;
}

int http_init(struct uplink_http *hp, const struct uplink_config *cfg, atomic_int *abort,
	      _Atomic long long *deadline_ms, char *err, size_t errlen)
{
	CURL *h;
	bool proxy = !strcmp(cfg->mode, "proxy");

	memset(hp, 0, sizeof *hp);
	hp->cfg = cfg;
	hp->abort = abort;
	hp->deadline_ms = deadline_ms;
	h = hp->h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -1;
	}
	for (int i = 0; i < cfg->n_resolve; i++)
		hp->resolve = curl_slist_append(hp->resolve, cfg->resolve[i]);

	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, hp->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "otsensor/" OTSENSOR_VERSION);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(cfg->timeout < 15 ? cfg->timeout : 15));
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, hp);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, hp);
	if (hp->resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, hp->resolve);

	/* TLS to the destination: always verified */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION,
			 !strcmp(cfg->tls_min, "1.3") ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
	if (cfg->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);

	if (proxy) {
		curl_easy_setopt(h, CURLOPT_PROXY, cfg->proxy);
		curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
		curl_easy_setopt(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(h, CURLOPT_PROXY_SSLVERSION,
				 !strcmp(cfg->tls_min, "1.3") ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
		if (cfg->proxy_ca_file[0])
			curl_easy_setopt(h, CURLOPT_PROXY_CAINFO, cfg->proxy_ca_file);
	} else {
		/* direct means direct: ignore https_proxy and friends from the environment */
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	}
	return 0;
}

void http_free(struct uplink_http *hp)
{
	if (hp->h)
		curl_easy_cleanup(hp->h);
	curl_slist_free_all(hp->resolve);
	hp->h = NULL;
	hp->resolve = NULL;
}

static const char *reason(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "";
}

/* The host part of url, for messages. */
static void url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	n = strcspn(p, "/?");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = 0;
}

static void describe(struct uplink_http *hp, const char *url, CURLcode cc, long connect_code,
		     struct http_result *res)
{
	char host[256];
	long vr = 0;
	const char *eb = hp->errbuf[0] ? hp->errbuf : curl_easy_strerror(cc);

	url_host(url, host, sizeof host);
	if (connect_code && connect_code != 200) {
		if (connect_code == 407)
			snprintf(res->error, sizeof res->error,
				 "proxy 407 Proxy Authentication Required: the proxy refused the tunnel to %s:443 (check the user and password in [uplink] proxy)",
				 host);
		else
			seterr(res, "proxy refused the tunnel to %s:443: HTTP %ld %s",
				 host, connect_code, reason(connect_code));
		return;
	}
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		seterr(res, "DNS failure: cannot resolve %s (%s)", host, eb);
		break;
	case CURLE_COULDNT_RESOLVE_PROXY:
		seterr(res, "DNS failure: cannot resolve the proxy (%s)", eb);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		curl_easy_getinfo(hp->h, CURLINFO_PROXY_SSL_VERIFYRESULT, &vr);
		if (vr && hp->cfg->proxy[0]) {
			seterr(res, "TLS verification failure: the certificate of the https proxy was refused: %s (X509 error %ld)",
			       X509_verify_cert_error_string(vr), vr);
			break;
		}
		curl_easy_getinfo(hp->h, CURLINFO_SSL_VERIFYRESULT, &vr);
		if (vr)
			snprintf(res->error, sizeof res->error,
				 "TLS verification failure: the certificate of %s was refused: %s (X509 error %ld)",
				 host, X509_verify_cert_error_string(vr), vr);
		else
			seterr(res, "TLS verification failure for %s: %s", host, eb);
		break;
	case CURLE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
		seterr(res, "TLS handshake with %s failed: %s", host, eb);
		break;
	case CURLE_COULDNT_CONNECT:
		seterr(res, "connection failed: %s", eb);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		seterr(res, "timeout talking to %s: %s", host, eb);
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		seterr(res, "request to %s aborted (shutting down)", host);
		break;
	default:
		seterr(res, "transfer to %s failed: %s (curl error %d)", host, eb, (int)cc);
		break;
	}
}

bool http_request(struct uplink_http *hp, const char *method, const char *url, struct curl_slist *headers,
		  const void *body, size_t len, struct http_result *res)
{
	CURL *h = hp->h;
	CURLcode cc;
	long connect_code = 0;
	curl_off_t ra = -1;

	memset(res, 0, sizeof *res);
	res->retry_after = -1;
	hp->errbuf[0] = 0;
	hp->bodylen = 0;
	hp->body[0] = 0;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") ? method : NULL);
	}
	cc = curl_easy_perform(h);
	res->curl_code = (int)cc;
	curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code);
	if (cc != CURLE_OK || (connect_code && connect_code != 200)) {
		res->transport_error = true;
		describe(hp, url, cc, connect_code, res);
		return false;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0 &&
	    (res->status == 429 || res->status == 503))
		res->retry_after = (long)ra;
	if (res->status >= 200 && res->status < 300)
		return true;
	{
		char host[256], snippet[200];
		size_t i, n = 0;

		url_host(url, host, sizeof host);
		for (i = 0; i < hp->bodylen && n < sizeof snippet - 1; i++)
			snippet[n++] = (hp->body[i] >= 32 && hp->body[i] < 127) ? hp->body[i] : ' ';
		snippet[n] = 0;
		seterr(res, "HTTP %ld %s from %s%s%s", res->status, reason(res->status),
			 host, n ? ": " : "", snippet);
	}
	return false;
}
