/*
 * prefetch.h - hints that bring a cache line in ahead of its use.
 *
 * They are statements the compiler must keep: GCC 12 dropped the __builtin_prefetch
 * calls of the worker's look-ahead (all of them once inlined into its loop, and one
 * even in a function of its own), so on x86 they are volatile asm. A hint never faults and never changes what the program
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
