/*
 * check.h - the unit tests' assertions and their closing line.
 *
 * CHECK records a failure with file and line and goes on; check_done() prints
 * "N passed, N failed" and returns the exit status.
 *
 * Must never: stop at the first failure (a run shows every broken case).
 */
#ifndef OTS_CHECK_H
#define OTS_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond) do { \
	if (cond) check_pass++; \
	else { check_fail++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a == _b) check_pass++; \
	else { check_fail++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", \
				     __FILE__, __LINE__, #a, _a, #b, _b); } \
} while (0)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
