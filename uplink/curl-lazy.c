/*
 * curl-lazy.c - libcurl.so.4 opened with dlopen on the first curl_api() call, and
 * stand-ins that fail cleanly when it is not there (see curl-lazy.h).
 *
 * Must never: call into libcurl before the table is complete, or retry the load
 * (one answer for the life of the process).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "curl-lazy.h"

#define LIBCURL "libcurl.so.4"

/* the stand-ins: what libcurl itself returns when it cannot do a thing */
static CURLcode no_global_init(long flags) { (void)flags; return CURLE_FAILED_INIT; }
static CURL *no_easy_init(void) { return NULL; }
static CURLcode no_easy_setopt(CURL *h, CURLoption opt, ...) { (void)h; (void)opt; return CURLE_FAILED_INIT; }
static CURLcode no_easy_perform(CURL *h) { (void)h; return CURLE_FAILED_INIT; }
static CURLcode no_easy_getinfo(CURL *h, CURLINFO info, ...) { (void)h; (void)info; return CURLE_FAILED_INIT; }
static void no_easy_cleanup(CURL *h) { (void)h; }
static const char *no_easy_strerror(CURLcode code) { (void)code; return "libcurl could not be loaded"; }
static char *no_easy_escape(CURL *h, const char *s, int len) { (void)h; (void)s; (void)len; return NULL; }
static void no_free(void *p) { (void)p; }
static struct curl_slist *no_slist_append(struct curl_slist *l, const char *s) { (void)l; (void)s; return NULL; }
static void no_slist_free_all(struct curl_slist *l) { (void)l; }
static CURLU *no_url(void) { return NULL; }
static void no_url_cleanup(CURLU *u) { (void)u; }
static CURLUcode no_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	(void)u; (void)what; (void)flags;
	if (part)
		*part = NULL;
	return CURLUE_OUT_OF_MEMORY;
}
static CURLUcode no_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	(void)u; (void)what; (void)part; (void)flags;
	return CURLUE_OUT_OF_MEMORY;
}
static curl_version_info_data no_version = { .version = "none" };
static curl_version_info_data *no_version_info(CURLversion v) { (void)v; return &no_version; }

static const struct curl_api stand_ins = {
	no_global_init, no_easy_init, no_easy_setopt, no_easy_perform, no_easy_getinfo, no_easy_cleanup,
	no_easy_strerror, no_easy_escape, no_free, no_slist_append, no_slist_free_all, no_url, no_url_cleanup,
	no_url_get, no_url_set, no_version_info,
};

static struct curl_api api;
static const struct curl_api *in_use = &stand_ins;
static char why[256] = "";
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* one symbol into *slot (a function pointer's storage), or false */
static bool sym(void *lib, const char *name, void *slot)
{
	void *f = dlsym(lib, name);
	if (!f) {
		snprintf(why, sizeof why, "%s has no %s", LIBCURL, name);
		return false;
	}
	memcpy(slot, &f, sizeof f); /* POSIX: a function pointer fits a void * */
	return true;
}

static void load(void)
{
	void *lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(why, sizeof why, "cannot load %s: %s", LIBCURL, e ? e : "unknown error");
		return;
	}
	if (!sym(lib, "curl_global_init", &api.global_init) || !sym(lib, "curl_easy_init", &api.easy_init) ||
	    !sym(lib, "curl_easy_setopt", &api.easy_setopt) || !sym(lib, "curl_easy_perform", &api.easy_perform) ||
	    !sym(lib, "curl_easy_getinfo", &api.easy_getinfo) || !sym(lib, "curl_easy_cleanup", &api.easy_cleanup) ||
	    !sym(lib, "curl_easy_strerror", &api.easy_strerror) || !sym(lib, "curl_easy_escape", &api.easy_escape) ||
	    !sym(lib, "curl_free", &api.free) || !sym(lib, "curl_slist_append", &api.slist_append) ||
	    !sym(lib, "curl_slist_free_all", &api.slist_free_all) || !sym(lib, "curl_url", &api.url) ||
	    !sym(lib, "curl_url_cleanup", &api.url_cleanup) || !sym(lib, "curl_url_get", &api.url_get) ||
	    !sym(lib, "curl_url_set", &api.url_set) || !sym(lib, "curl_version_info", &api.version_info)) {
		dlclose(lib);
		return;
	}
	in_use = &api;
}

const struct curl_api *curl_api(void)
{
	pthread_once(&once, load);
	return in_use;
}

const char *curl_lazy_error(void)
{
	return why;
}
