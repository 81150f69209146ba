/*
 * curl-lazy.h - libcurl, loaded when the uplink first needs it rather than when the
 * sensor starts.
 *
 * libcurl brings 32 libraries with it (TLS, Kerberos, LDAP, SSH, ...), whose loading
 * and constructors were a third of the time `otsensor replay` took to start. The
 * uplink's files include this header instead of <curl/curl.h>: it names each curl_*
 * function the uplink uses after its entry in a table that curl_api() fills from
 * libcurl.so.4 on first use. Without libcurl every call fails as libcurl's own
 * failures do (NULL, CURLE_FAILED_INIT), and curl_lazy_error() says why.
 *
 * Must never: share a file with a direct #include <curl/curl.h> (its type-checking
 * macros are off here), or be called on the per-packet path.
 */
#ifndef OTS_UPLINK_CURL_LAZY_H
#define OTS_UPLINK_CURL_LAZY_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	char *(*easy_escape)(CURL *h, const char *s, int len);
	void (*free)(void *p);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *u);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
	CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
	curl_version_info_data *(*version_info)(CURLversion v);
};

/* The table: libcurl's functions, or stand-ins that fail when it cannot be loaded.
 * Loads it on the first call (thread-safe). */
const struct curl_api *curl_api(void);
/* "" when libcurl is loaded, else why not (after the first curl_api()) */
const char *curl_lazy_error(void);

/* curl.h wraps these two in function-like macros of their own */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (curl_api()->global_init)
#define curl_easy_init (curl_api()->easy_init)
#define curl_easy_setopt (curl_api()->easy_setopt)
#define curl_easy_perform (curl_api()->easy_perform)
#define curl_easy_getinfo (curl_api()->easy_getinfo)
#define curl_easy_cleanup (curl_api()->easy_cleanup)
#define curl_easy_strerror (curl_api()->easy_strerror)
#define curl_easy_escape (curl_api()->easy_escape)
#define curl_free (curl_api()->free)
#define curl_slist_append (curl_api()->slist_append)
#define curl_slist_free_all (curl_api()->slist_free_all)
#define curl_url (curl_api()->url)
#define curl_url_cleanup (curl_api()->url_cleanup)
#define curl_url_get (curl_api()->url_get)
#define curl_url_set (curl_api()->url_set)
#define curl_version_info (curl_api()->version_info)

#endif
