/*
 * bigmem.h - the large buffers a thread streams through (rings, the evidence ring):
 * mapped on their own, aligned to 2 MiB and marked for transparent huge pages, so the
 * per-packet path does not take a page fault (and a TLB miss) every 4 KiB of them.
 *
 * Smaller buffers, and builds with AddressSanitizer (which guards heap blocks, not
 * mappings), come from malloc. Free with the size given to bigmem_alloc.
 *
 * Must never: be used for a buffer that is allocated or freed per packet.
 */
#ifndef OTS_BIGMEM_H
#define OTS_BIGMEM_H

#include <stddef.h>

#define BIGMEM_MIN (2u << 20) /* from this size on: one huge page on x86-64 */

/* n bytes (uninitialised), or NULL */
void *bigmem_alloc(size_t n);
void bigmem_free(void *p, size_t n);

#endif
