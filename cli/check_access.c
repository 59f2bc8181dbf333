// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: who the daemon is and what it may read (see
 * check_access.h). Under the shipped unit portholed runs as user porthole
 * with four capabilities and none over file permissions, so what it may read
 * is what that user may read: asked of the kernel by a child that becomes
 * that user (access(2): mode bits, ACLs, every directory on the way; one
 * child walks all the levels of a path), unless
 * the running daemon holds CAP_DAC_READ_SEARCH (a drop-in gave it). */
#include "check_access.h"

#include <errno.h>
#include <fcntl.h>
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

/* The child, as the daemon's user: the index of the first of paths it
 * cannot search and read (n: none) down the pipe; nothing when it cannot
 * become that user. */
static _Noreturn void may_read_child(int wfd, const char *const *paths, unsigned n, const struct passwd *pw,
				     uid_t uid, gid_t gid)
{
	unsigned i = 0;

	if (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL))
		_exit(2);
	if (setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		_exit(2);
	while (i < n && access(paths[i], R_OK | X_OK) == 0)
		i++;
	if (write(wfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
		_exit(2);
	_exit(0);
}

int daemon_may_read(const char *const *paths, unsigned n, unsigned *first, char *who, size_t wholen)
{
	uid_t uid = 0;
	gid_t gid = 0;
	struct passwd *pw;
	unsigned i;
	ssize_t got;
	int pfd[2], st;
	pid_t pid;

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
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		close(pfd[0]);
		may_read_child(pfd[1], paths, n, pw, uid, gid);
	}
	close(pfd[1]);
	do
		got = read(pfd[0], &i, sizeof(i));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	/* no answer (it could not become that user) or one out of range: cannot tell */
	if (got != (ssize_t)sizeof(i) || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || i > n)
		return -EPERM;
	if (i == n)
		return 1;
	*first = i;
	return 0;
}
