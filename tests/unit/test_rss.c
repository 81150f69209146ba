/*
 * test_rss.c - the symmetric RSS builder of the afxdp backend (engine/rss.c): the key is
 * 6d 5a repeated for any key size, a Toeplitz hash with it is the same both ways of a
 * flow (IPv4 and IPv6, with ports), the indirection table covers exactly the first
 * `queues` queues, bad sizes are refused, and the ethtool command an operator is told
 * to run says the same.
 *
 * Must never: touch a real interface (rss_set_symmetric is exercised by the live suite).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rss.h"

/* Toeplitz hash as a NIC computes it (Microsoft's RSS specification) */
static uint32_t toeplitz(const uint8_t *key, size_t key_size, const uint8_t *in, size_t n)
{
	uint32_t h = 0;
	uint64_t win = 0; /* the next 64 key bits, the top 32 the current window */
	size_t kb = 0;
	for (; kb < 8; kb++)
		win = win << 8 | (kb < key_size ? key[kb] : 0);
	for (size_t i = 0; i < n; i++) {
		for (int b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				h ^= (uint32_t)(win >> 32);
			win <<= 1;
		}
		win |= kb < key_size ? key[kb] : 0;
		kb++;
	}
	return h;
}

/* the hash input of a TCP/UDP packet: source address, destination address, ports */
static size_t tuple(uint8_t *buf, const uint8_t *src, const uint8_t *dst, size_t alen, uint16_t sp, uint16_t dp)
{
	memcpy(buf, src, alen);
	memcpy(buf + alen, dst, alen);
	buf[2 * alen] = (uint8_t)(sp >> 8);
	buf[2 * alen + 1] = (uint8_t)sp;
	buf[2 * alen + 2] = (uint8_t)(dp >> 8);
	buf[2 * alen + 3] = (uint8_t)dp;
	return 2 * alen + 4;
}

static void test_key_and_table(void)
{
	uint8_t key[52];
	uint32_t indir[128];
	memset(key, 0, sizeof key);
	CHECK_EQ(rss_build(key, 40, indir, 128, 2), 0);
	for (int i = 0; i < 40; i++)
		CHECK_EQ(key[i], i % 2 ? 0x5a : 0x6d);
	CHECK_EQ(key[40], 0); /* nothing written past key_size */
	for (int i = 0; i < 128; i++)
		CHECK_EQ(indir[i], i % 2);
	CHECK_EQ(rss_build(key, 52, indir, 128, 3), 0);
	CHECK_EQ(key[51], 0x5a);
	int used[3] = { 0, 0, 0 };
	for (int i = 0; i < 128; i++) {
		CHECK(indir[i] < 3);
		if (indir[i] < 3)
			used[indir[i]]++;
	}
	CHECK(used[0] >= 42 && used[1] >= 42 && used[2] >= 42); /* spread evenly, none beyond queue 2 */
	/* one queue: everything on queue 0 */
	CHECK_EQ(rss_build(key, 40, indir, 128, 1), 0);
	for (int i = 0; i < 128; i++)
		CHECK_EQ(indir[i], 0);
	/* a driver without a table: only the key */
	CHECK_EQ(rss_build(key, 40, NULL, 0, 4), 0);
	/* refused: no queue, or a table smaller than the queues */
	CHECK_EQ(rss_build(key, 40, indir, 128, 0), -1);
	CHECK_EQ(rss_build(key, 40, indir, 2, 4), -1);
}

static void test_symmetric(void)
{
	uint8_t key[40];
	uint32_t indir[128];
	CHECK_EQ(rss_build(key, sizeof key, indir, 128, 4), 0);
	uint8_t a4[4] = { 10, 10, 1, 20 }, b4[4] = { 10, 10, 1, 10 };
	uint8_t a6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20 };
	uint8_t b6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0x10 };
	uint8_t fwd[40], rev[40];
	int differ = 0;
	for (uint16_t sp = 1000; sp < 1100; sp++) {
		size_t n = tuple(fwd, a4, b4, 4, sp, 502);
		tuple(rev, b4, a4, 4, 502, sp);
		uint32_t h1 = toeplitz(key, sizeof key, fwd, n), h2 = toeplitz(key, sizeof key, rev, n);
		CHECK_EQ(h1, h2);
		CHECK_EQ(indir[h1 % 128], indir[h2 % 128]);
		n = tuple(fwd, a6, b6, 16, sp, 20000);
		tuple(rev, b6, a6, 16, 20000, sp);
		CHECK_EQ(toeplitz(key, sizeof key, fwd, n), toeplitz(key, sizeof key, rev, n));
		differ += indir[h1 % 128] != indir[0];
	}
	CHECK(differ > 0); /* flows still spread over the queues */
	/* the check above is not vacuous: Microsoft's sample key is not symmetric */
	static const uint8_t ms[40] = { 0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
					0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
					0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa };
	/* its published test vector: 66.9.149.187:2794 -> 161.142.100.80:1766 = 0x51ccc178 */
	uint8_t s[4] = { 66, 9, 149, 187 }, d[4] = { 161, 142, 100, 80 };
	size_t n = tuple(fwd, s, d, 4, 2794, 1766);
	CHECK_EQ(toeplitz(ms, sizeof ms, fwd, n), 0x51ccc178);
	tuple(rev, d, s, 4, 1766, 2794);
	CHECK(toeplitz(ms, sizeof ms, fwd, n) != toeplitz(ms, sizeof ms, rev, n));
}

static void test_command(void)
{
	char buf[512];
	CHECK_EQ(rss_ethtool_command(buf, sizeof buf, "eth1", 4, 2), 0);
	CHECK(!strcmp(buf, "ethtool -X eth1 hfunc toeplitz hkey 6d:5a:6d:5a equal 2"));
	CHECK_EQ(rss_ethtool_command(buf, sizeof buf, "ens1f0", 40, 4), 0);
	CHECK(strlen(buf) == strlen("ethtool -X ens1f0 hfunc toeplitz hkey ") + 40 * 3 - 1 + strlen(" equal 4"));
	CHECK(strstr(buf, "hkey 6d:5a:6d:5a:") && strstr(buf, ":6d:5a equal 4"));
	char small[20];
	CHECK_EQ(rss_ethtool_command(small, sizeof small, "eth1", 40, 2), -1);
	CHECK(strlen(small) < sizeof small);
}

int main(void)
{
	test_key_and_table();
	test_symmetric();
	test_command();
	return check_done();
}
