/*
 * rss.h - symmetric receive-side scaling for the afxdp backend with [capture] queues > 1.
 *
 * A NIC spreads frames over its receive queues by a Toeplitz hash of the addresses and
 * ports, through an indirection table. With the key 0x6d5a repeated the hash is the
 * same for both directions of a flow (so one worker sees a whole conversation), and a
 * table over queues 0..queues-1 only keeps every frame on a queue that has an AF_XDP
 * socket. rss_set_symmetric programs both through SIOCETHTOOL (ETHTOOL_GRSSH for the
 * driver's sizes, then ETHTOOL_SRSSH); `ethtool -X` does the same by hand.
 *
 * Must never: touch an interface other than the one named, run on the packet path, or
 * stop the sensor when a driver cannot do it (veth cannot: the caller warns and goes on).
 */
#ifndef OTS_RSS_H
#define OTS_RSS_H

#include <stddef.h>
#include <stdint.h>

#define RSS_KEY_PATTERN 0x6d5a     /* the two bytes the symmetric key repeats */
#define RSS_DEFAULT_KEY_SIZE 40    /* what most NICs use, when the driver does not say */

/* Fills key (key_size bytes: 6d 5a 6d 5a ...) and indir (indir_size entries: entry i
 * is queue i % queues). Either may be NULL with its size 0. Returns 0, or -1 if queues
 * is below 1 or indir_size is below queues (some queue would get nothing). */
int rss_build(uint8_t *key, size_t key_size, uint32_t *indir, size_t indir_size, int queues);

/* The ethtool command that does what rss_set_symmetric does, for an operator:
 * "ethtool -X IF hfunc toeplitz hkey 6d:5a:...:6d:5a equal QUEUES". Returns 0, or -1
 * if buf is too small (buf then holds as much as fits). */
int rss_ethtool_command(char *buf, size_t n, const char *ifname, size_t key_size, int queues);

/* Programs ifname's RSS: the symmetric key (the driver's key size), Toeplitz, and the
 * indirection table over queues 0..queues-1. Returns 0; or -1 with err saying why and
 * *key_size set to the driver's key size when it was learned (else RSS_DEFAULT_KEY_SIZE),
 * for rss_ethtool_command. EOPNOTSUPP (veth, most virtual interfaces) is one such -1. */
int rss_set_symmetric(const char *ifname, int queues, size_t *key_size, char *err, size_t errlen);

#endif
