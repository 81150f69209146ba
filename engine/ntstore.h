/*
 * ntstore.h - copies that bypass the CPU caches, for memory written once and read
 * seldom and much later (the evidence ring). Not for a ring another thread reads at
 * once: that reader would then fetch every line from memory (measured: 5x slower).
 *
 * On x86-64 the words go out with movnti: no read for ownership of the destination
 * line, and no eviction of what the writer keeps hot. Elsewhere a plain memcpy.
 *
 * Must never: read past src + n, or write past dst + n rounded up to 8 (dst is
 * 8-aligned); its stores are weakly ordered: nt_fence before another thread looks.
 */
#ifndef OTS_NTSTORE_H
#define OTS_NTSTORE_H

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Copies n bytes to dst (8-aligned), in words: the last one carries up to 7 bytes
 * past n, which dst must have room for. */
static inline void nt_copy(uint8_t *dst, const uint8_t *src, uint32_t n)
{
#if defined(__x86_64__)
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		long long v;
		memcpy(&v, src + i, 8);
		_mm_stream_si64((long long *)(void *)(dst + i), v);
	}
	uint32_t rem = n - i;
	if (rem) {
		uint64_t v = 0;
		if (n >= 8) {
			memcpy(&v, src + n - 8, 8); /* the last 8 bytes, moved down to the rem we want */
			v >>= (8 - rem) * 8;
		} else {
			memcpy(&v, src, rem);
		}
		_mm_stream_si64((long long *)(void *)(dst + i), (long long)v);
	}
#else
	memcpy(dst, src, n);
#endif
}

/* Stores one word at dst (8-aligned). */
static inline void nt_word(uint8_t *dst, uint64_t v)
{
#if defined(__x86_64__)
	_mm_stream_si64((long long *)(void *)dst, (long long)v);
#else
	memcpy(dst, &v, 8);
#endif
}

/* Orders the copies before the stores that follow (a ring's publishing index). */
static inline void nt_fence(void)
{
#if defined(__x86_64__)
	_mm_sfence();
#endif
}

#endif
