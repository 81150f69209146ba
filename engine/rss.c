/*
 * rss.c - symmetric RSS on a real NIC for the afxdp backend (rss.h): builds the
 * 0x6d5a key and the indirection table, and programs them with the SIOCETHTOOL ioctl.
 *
 * Must never: touch another interface, change the hash function when the NIC already
 * uses Toeplitz (some drivers refuse the request), or treat a driver that cannot do it
 * as fatal (that is the caller's warning).
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rss.h"

/* the kernel's ETH_RSS_HASH_TOP (bit ETH_RSS_HASH_TOP_BIT = 0), not in the uapi header;
 * 0 asks for no change of the hash function */
#define RSS_HFUNC_TOEPLITZ 0x01u
#define RSS_HFUNC_NO_CHANGE 0x00u

int rss_build(uint8_t *key, size_t key_size, uint32_t *indir, size_t indir_size, int queues)
{
	if (queues < 1 || (indir_size && indir_size < (size_t)queues))
		return -1;
	for (size_t i = 0; i < key_size; i++)
		key[i] = (uint8_t)(i % 2 ? RSS_KEY_PATTERN & 0xff : RSS_KEY_PATTERN >> 8);
	for (size_t i = 0; i < indir_size; i++)
		indir[i] = (uint32_t)(i % (size_t)queues);
	return 0;
}

int rss_ethtool_command(char *buf, size_t n, const char *ifname, size_t key_size, int queues)
{
	if (!n)
		return -1;
	size_t len = 0;
	int k = snprintf(buf, n, "ethtool -X %s hfunc toeplitz hkey ", ifname);
	if (k < 0 || (size_t)k >= n)
		return -1;
	len = (size_t)k;
	for (size_t i = 0; i < key_size; i++) {
		k = snprintf(buf + len, n - len, "%s%02x", i ? ":" : "",
			     i % 2 ? RSS_KEY_PATTERN & 0xff : RSS_KEY_PATTERN >> 8);
		if (k < 0 || (size_t)k >= n - len)
			return -1;
		len += (size_t)k;
	}
	k = snprintf(buf + len, n - len, " equal %d", queues);
	return k < 0 || (size_t)k >= n - len ? -1 : 0;
}

static int ethtool_ioctl(int fd, const char *ifname, void *data)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

int rss_set_symmetric(const char *ifname, int queues, size_t *key_size, char *err, size_t errlen)
{
	*key_size = RSS_DEFAULT_KEY_SIZE;
	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "interface name too long");
		return -1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int status = -1;
	struct ethtool_rxfh *rx = NULL;
	/* the driver's sizes: a query with both sizes 0 */
	struct ethtool_rxfh q;
	memset(&q, 0, sizeof q);
	q.cmd = ETHTOOL_GRSSH;
	if (ethtool_ioctl(fd, ifname, &q)) {
		snprintf(err, errlen, "ETHTOOL_GRSSH: %s", strerror(errno));
		goto out;
	}
	if (q.key_size)
		*key_size = q.key_size;
	if (!q.key_size) {
		snprintf(err, errlen, "the driver has no RSS key to set");
		goto out;
	}
	if (q.indir_size && q.indir_size < (uint32_t)queues) {
		snprintf(err, errlen, "the RSS indirection table has %u entries, fewer than %d queues", q.indir_size,
			 queues);
		goto out;
	}
	size_t size = sizeof *rx + q.indir_size * sizeof(uint32_t) + q.key_size;
	rx = calloc(1, size);
	if (!rx) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* the current hash function: Toeplitz is kept as it is (no change requested) */
	rx->cmd = ETHTOOL_GRSSH;
	rx->indir_size = q.indir_size;
	rx->key_size = q.key_size;
	if (ethtool_ioctl(fd, ifname, rx)) {
		snprintf(err, errlen, "ETHTOOL_GRSSH: %s", strerror(errno));
		goto out;
	}
	uint8_t hfunc = rx->hfunc == RSS_HFUNC_TOEPLITZ ? RSS_HFUNC_NO_CHANGE : RSS_HFUNC_TOEPLITZ;
	memset(rx, 0, size);
	rx->cmd = ETHTOOL_SRSSH;
	rx->hfunc = hfunc;
	rx->indir_size = q.indir_size ? q.indir_size : ETH_RXFH_INDIR_NO_CHANGE;
	rx->key_size = q.key_size;
	uint32_t *indir = rx->rss_config;
	uint8_t *key = (uint8_t *)(indir + q.indir_size);
	if (rss_build(key, q.key_size, indir, q.indir_size, queues)) {
		snprintf(err, errlen, "no RSS table for %d queues", queues);
		goto out;
	}
	if (ethtool_ioctl(fd, ifname, rx)) {
		snprintf(err, errlen, "ETHTOOL_SRSSH: %s", strerror(errno));
		goto out;
	}
	status = 0;
out:
	free(rx);
	close(fd);
	return status;
}
