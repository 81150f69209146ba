/*
 * privileges.h - dropping root after the capture is open.
 *
 * Must never: leave the process able to regain root (uid, gid, supplementary groups and
 * every capability but the listed ones go; the bounding set is cut to the listed ones).
 */
#ifndef OTS_PRIVILEGES_H
#define OTS_PRIVILEGES_H

#include <stddef.h>

/* If running as root and `user` exists: hands state_dir to the user, then becomes the
 * user keeping only the capabilities in keep[0..nkeep) (effective and permitted).
 * Returns 0 when dropped, 1 when skipped (not root, empty user name, or no such user:
 * `note` then says why), -1 on failure (err says what failed). */
int priv_drop(const char *user, const int *keep, int nkeep, const char *state_dir, char *note, size_t notelen,
	      char *err, size_t errlen);

#endif
