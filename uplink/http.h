/*
 * http.h - one libcurl handle configured for the site's connection method: direct,
 * through an http:// or https:// proxy (HTTP CONNECT, Basic credentials), and so
 * through a proxy chain or a multicloud link, which look like one of those to us.
 *
 * Must never: disable certificate verification, follow redirects, speak anything but
 * HTTPS to the destination, or accept a connection (the sensor always dials out).
 */
#ifndef OTS_UPLINK_HTTP_H
#define OTS_UPLINK_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "curl-lazy.h"

#include "uplink-config.h"

struct http_result {
	long status;            /* HTTP status, 0 if none */
	long retry_after;       /* seconds from Retry-After, -1 if absent */
	int curl_code;
	bool transport_error;   /* no HTTP answer from the destination */
	char error[512];        /* in words; empty on 2xx */
};

struct uplink_http {
	CURL *h;
	const struct uplink_config *cfg;
	struct curl_slist *resolve;
	char errbuf[CURL_ERROR_SIZE];
	char body[1024];        /* first bytes of the response body */
	size_t bodylen;
	/* abort in-flight transfers when *abort becomes non-zero, or when the
	 * monotonic clock passes *deadline_ms (0 = none) */
	atomic_int *abort;
	_Atomic long long *deadline_ms;
};

int http_init(struct uplink_http *hp, const struct uplink_config *cfg, atomic_int *abort,
	      _Atomic long long *deadline_ms, char *err, size_t errlen);
void http_free(struct uplink_http *hp);

/* Sends one request; headers may be NULL. Returns true on 2xx. */
bool http_request(struct uplink_http *hp, const char *method, const char *url, struct curl_slist *headers,
		  const void *body, size_t len, struct http_result *res);

long long http_now_ms(void);

#endif
