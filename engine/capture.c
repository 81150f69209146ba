/*
 * capture.c - the table of live capture backends compiled into this build.
 *
 * Must never: name a backend the build does not have without saying why.
 */
#include <string.h>
#include <time.h>

#include "capture.h"

const struct capture_backend *capture_backend_find(const char *name, const char **why)
{
	*why = NULL;
	if (!strcmp(name, "pcap"))
		return &capture_pcap;
	if (!strcmp(name, "afxdp")) {
#ifdef OTS_HAVE_AFXDP
		return &capture_afxdp;
#else
		*why = "this build has no AF_XDP backend (libxdp/libbpf were not found when it was built)";
		return NULL;
#endif
	}
	if (!strcmp(name, "dpdk")) {
#ifdef OTS_HAVE_DPDK
		return &capture_dpdk;
#else
		*why = "this build has no DPDK backend (libdpdk was not found when it was built)";
		return NULL;
#endif
	}
	*why = "not one of pcap, afxdp, dpdk";
	return NULL;
}

uint64_t capture_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
