/*
 * bigmem.c - big buffers in huge pages where the kernel allows (see bigmem.h).
 *
 * Must never: fail where malloc would have succeeded (no huge pages is not an error).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bigmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIGMEM_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIGMEM_MALLOC 1
#endif
#endif

#ifndef BIGMEM_MALLOC
static size_t rounded(size_t n)
{
	return (n + BIGMEM_MIN - 1) & ~(size_t)(BIGMEM_MIN - 1);
}
#endif

void *bigmem_alloc(size_t n)
{
#ifndef BIGMEM_MALLOC
	if (n >= BIGMEM_MIN) {
		/* map one huge page more than needed, then trim to a 2 MiB boundary */
		size_t len = rounded(n);
		uint8_t *m = mmap(NULL, len + BIGMEM_MIN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		uint8_t *p = (uint8_t *)(((uintptr_t)m + BIGMEM_MIN - 1) & ~(uintptr_t)(BIGMEM_MIN - 1));
		size_t before = (size_t)(p - m); /* less than BIGMEM_MIN */
		if (before)
			munmap(m, before);
		munmap(p + len, BIGMEM_MIN - before);
		madvise(p, len, MADV_HUGEPAGE); /* advice: refused or unsupported is fine */
		return p;
	}
#endif
	return malloc(n ? n : 1);
}

void bigmem_free(void *p, size_t n)
{
	if (!p)
		return;
#ifdef BIGMEM_MALLOC
	(void)n;
#else
	if (n >= BIGMEM_MIN) {
		munmap(p, rounded(n));
		return;
	}
#endif
	free(p);
}
