/*
 * privileges.c - become an unprivileged user after the capture is open.
 *
 * Order: hand the state directory to the user (so LMDB and evidence files it creates
 * later are writable), cut the capability bounding set, keep capabilities across
 * setuid (PR_SET_KEEPCAPS), set groups, gid, uid, then set the effective and
 * permitted capabilities to exactly the kept ones with capset(2) (no libcap needed).
 * Finally it checks that root cannot be regained.
 *
 * Must never: return 0 with the process still able to become root again.
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privileges.h"

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (lchown(path, chown_uid, chown_gid))
		return -1;
	return 0;
}

static bool kept(int cap, const int *keep, int nkeep)
{
	for (int i = 0; i < nkeep; i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int priv_drop(const char *user, const int *keep, int nkeep, const char *state_dir, char *note, size_t notelen,
	      char *err, size_t errlen)
{
	note[0] = err[0] = 0;
	if (geteuid() != 0) {
		snprintf(note, notelen, "not started as root: running as uid %u with the privileges it has",
			 (unsigned)geteuid());
		return 1;
	}
	if (!user || !*user) {
		snprintf(note, notelen, "[sensor] user is empty: keeping root");
		return 1;
	}
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(note, notelen, "[sensor] user '%s' does not exist: keeping root (create it, e.g. "
			 "useradd --system --no-create-home --shell /usr/sbin/nologin %s)", user, user);
		return 1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0) {
		snprintf(note, notelen, "[sensor] user '%s' is root: nothing to drop", user);
		return 1;
	}
	if (state_dir && *state_dir) {
		chown_uid = uid;
		chown_gid = gid;
		if (nftw(state_dir, chown_entry, 16, FTW_PHYS)) {
			snprintf(err, errlen, "cannot hand state directory %s to user %s: %s", state_dir, user,
				 strerror(errno));
			return -1;
		}
	}
	/* bounding set: only what is kept can ever come back */
	for (int cap = 0; cap <= 63; cap++) {
		if (kept(cap, keep, nkeep))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
			return -1;
		}
	}
	if (nkeep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		return -1;
	}
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
		snprintf(err, errlen, "cannot become user %s (uid %u, gid %u): %s", user, (unsigned)uid, (unsigned)gid,
			 strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	for (int i = 0; i < nkeep; i++) {
		if (keep[i] < 0 || keep[i] > 63)
			continue;
		data[keep[i] / 32].effective |= 1u << (keep[i] % 32);
		data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
	}
	if (syscall(SYS_capset, &hdr, data)) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "still able to become root after dropping privileges");
		return -1;
	}
	return 0;
}
