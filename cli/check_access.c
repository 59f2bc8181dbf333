// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: may the daemon read a directory? Under the shipped unit
 * portholed runs as user porthole with no capability over file permissions
 * (portholed.service), so the answer is what that user may do, asked of the
 * kernel by a child that becomes that user (access(2) with its real ids:
 * mode bits, ACLs and every directory on the way). Without such a user the
 * daemon runs as root by hand: root may read anything. */
#include "check_access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int daemon_may_read(const char *path, char *who, size_t wholen)
{
	struct passwd *pw = getpwnam(PH_DAEMON_USER);
	pid_t pid;
	int st;

	if (!pw) {
		snprintf(who, wholen, "root");
		return 1;
	}
	snprintf(who, wholen, "user %s", PH_DAEMON_USER);
	if (geteuid() != 0)
		return -EPERM; /* cannot ask as another user */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
			_exit(2);
		_exit(access(path, R_OK | X_OK) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 2)
		return -EPERM;
	return WEXITSTATUS(st) == 0;
}
