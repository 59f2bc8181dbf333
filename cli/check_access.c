// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: who the daemon is and what it may read (see
 * check_access.h). Under the shipped unit portholed runs as user porthole
 * with four capabilities and none over file permissions, so what it may read
 * is what that user may read: asked of the kernel by a child that becomes
 * that user (access(2): mode bits, ACLs, every directory on the way), unless
 * the running daemon holds CAP_DAC_READ_SEARCH (a drop-in gave it). */
#include "check_access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	int known;
	uid_t uid;
	gid_t gid;
	unsigned long long eff;
} running;

static int status_of(pid_t pid, uid_t *uid, gid_t *gid, unsigned long long *eff)
{
	char path[64], line[256];
	int have = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, c;
		if (sscanf(line, "Uid: %lu %lu %lu", &a, &b, &c) == 3) {
			*uid = (uid_t)b;
			have |= 1;
		} else if (sscanf(line, "Gid: %lu %lu %lu", &a, &b, &c) == 3) {
			*gid = (gid_t)b;
			have |= 2;
		} else if (sscanf(line, "CapEff: %llx", eff) == 1) {
			have |= 4;
		}
	}
	fclose(f);
	return have == 7 ? 0 : -EIO;
}

int daemon_identify(int fd, char *who, size_t wholen)
{
	static const char *const names[] = { [1] = "CAP_DAC_OVERRIDE", [2] = "CAP_DAC_READ_SEARCH",
					     [12] = "CAP_NET_ADMIN", [19] = "CAP_SYS_PTRACE",
					     [38] = "CAP_PERFMON", [39] = "CAP_BPF" };
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct passwd *pw;
	size_t n;
	int r;

	who[0] = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	r = status_of(cr.pid, &running.uid, &running.gid, &running.eff);
	if (r)
		return r;
	running.known = 1;
	if (running.uid == 0) {
		snprintf(who, wholen, "root");
		return 0;
	}
	pw = getpwuid(running.uid);
	n = (size_t)snprintf(who, wholen, "user %s (uid %u), capabilities", pw ? pw->pw_name : "?",
			     (unsigned)running.uid);
	for (unsigned c = 0; c < 64 && n < wholen; c++) {
		if (!((running.eff >> c) & 1))
			continue;
		if (c < sizeof(names) / sizeof(names[0]) && names[c])
			n += (size_t)snprintf(who + n, wholen - n, " %s", names[c]);
		else
			n += (size_t)snprintf(who + n, wholen - n, " %u", c);
	}
	return 0;
}

int daemon_may_read(const char *path, char *who, size_t wholen)
{
	uid_t uid = 0;
	gid_t gid = 0;
	struct passwd *pw;
	pid_t pid;
	int st;

	if (running.known) {
		if (running.eff & ((1ull << 1) | (1ull << 2))) {
			snprintf(who, wholen, "the daemon, with CAP_DAC_READ_SEARCH");
			return 1;
		}
		uid = running.uid;
		gid = running.gid;
	} else if ((pw = getpwnam(PH_DAEMON_USER))) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	pw = getpwuid(uid);
	if (uid == 0) {
		snprintf(who, wholen, "root");
		return 1; /* run by hand as root: it reads anything */
	}
	snprintf(who, wholen, "user %s (uid %u)", pw ? pw->pw_name : "?", (unsigned)uid);
	if (geteuid() != 0)
		return -EPERM; /* only root may ask as another user */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
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
