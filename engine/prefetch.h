/*
 * prefetch.h - hints that bring a cache line in ahead of its use.
 *
 * They are statements the compiler must keep: GCC dropped __builtin_prefetch whose
 * address came from a load (and, inlined into the worker's loop, all of them), so on
 * x86 they are volatile asm. A hint never faults and never changes what the program
 * computes; it must never be the only thing that makes code correct.
 */
#ifndef OTS_PREFETCH_H
#define OTS_PREFETCH_H

#if defined(__x86_64__) || defined(__i386__)
/* prefetcht0: the line comes into every level of the cache, for reading */
#define prefetch_for_read(p) __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)(p)))
/* prefetchw (a NOP where the CPU lacks it): the line comes in owned, ready for writing */
#define prefetch_for_write(p) __asm__ volatile("prefetchw %0" : : "m"(*(const char *)(p)))
#else
#define prefetch_for_read(p) __builtin_prefetch((p), 0, 3)
#define prefetch_for_write(p) __builtin_prefetch((p), 1, 3)
#endif

#endif
