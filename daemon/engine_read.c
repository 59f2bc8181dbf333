// SPDX-License-Identifier: GPL-2.0-or-later
/* `designate = container ENGINE:NAME`: is the container whose cgroup holds
 * a listener the one the engine's own state names NAME? (issue 23 §3 (b);
 * the parsing is lib/engine_state.c's). Only root-owned state is read:
 * every component of a state file's path must be owned by root and not
 * writable by group or others (a root-owned sticky directory such as /tmp
 * counts as not writable: nobody else can replace what root made in it),
 * else the container is refused, naming the path: whoever could write
 * there could name any container. Read when a listener appears, never
 * cached. (A component the daemon's own user owns counts as root's: nobody
 * else runs as that user.) Docker's state must also say the container runs, with a pid in
 * the same cgroup as the listener; Podman's (c/storage) has no pid: the
 * pid conmon wrote in the container's run directory takes its place. */
#include "cgroup.h"
#include "daemon.h"
#include "engine_state.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX (8u << 20) /* containers.json of a few thousand containers */

static int unsafe_mode(const struct stat *st)
{
	/* root's, or the daemon's own user's (nobody else runs as it) */
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return 1;
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
		return 0; /* /tmp: root's entries in it stay root's (sticky) */
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* path's every component (after resolving symlinks) root-owned and not
 * group/other-writable: 0 and fd of the file opened, -ENOENT if it is not
 * there, or -EPERM / -errno and why */
static int open_root_owned(const char *path, int *fd, char *why, size_t whylen)
{
	char real[PATH_MAX];
	struct stat st, fst;
	size_t l;

	if (!realpath(path, real)) {
		int e = errno;
		if (e != ENOENT)
			snprintf(why, whylen, "%s: %s%s", path, strerror(e),
				 e == EACCES ? " (the engine's state is root's: the daemon needs CAP_DAC_READ_SEARCH, "
					       "README Containers)" : "");
		return -e;
	}
	l = strlen(real);
	/* "/", then each prefix ending before a '/', then the file itself */
	for (size_t i = 0; i <= l; i++) {
		char save = 0;
		int r;
		if (i != 0 && i < l && real[i] != '/')
			continue;
		if (i == 0) {
			r = lstat("/", &st);
		} else {
			save = real[i];
			real[i] = '\0';
			r = lstat(real, &st);
		}
		if (r < 0 || unsafe_mode(&st)) {
			int e = r < 0 ? errno : EPERM;
			snprintf(why, whylen, "%s is %s: refused (only root may write the engine's state)", i ? real : "/",
				 r < 0 ? strerror(e) : st.st_uid && st.st_uid != geteuid() ? "not owned by root" :
				 "writable by group or others");
			if (i)
				real[i] = save;
			return -e;
		}
		if (i)
			real[i] = save;
	}
	if (lstat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", real);
		return -EPERM;
	}
	*fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd < 0) {
		snprintf(why, whylen, "%s: %s", real, strerror(errno));
		return -errno;
	}
	if (fstat(*fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		snprintf(why, whylen, "%s changed while it was opened", real);
		close(*fd);
		*fd = -1;
		return -EAGAIN;
	}
	return 0;
}

/* the whole file at path, root-owned (above), NUL-terminated, in *buf
 * (the caller frees it) */
static int read_state(const char *path, char **buf, size_t *n, char *why, size_t whylen)
{
	int fd = -1, r = open_root_owned(path, &fd, why, whylen);
	size_t cap = 64 << 10, len = 0;
	char *b = NULL;

	if (r)
		return r;
	for (;;) {
		ssize_t got;
		if (len + 1 >= cap) {
			char *nb;
			if (cap >= STATE_MAX) {
				snprintf(why, whylen, "%s is larger than %u bytes", path, STATE_MAX);
				r = -EFBIG;
				break;
			}
			cap *= 2;
			nb = realloc(b, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			b = nb;
		} else if (!b && !(b = malloc(cap))) {
			r = -ENOMEM;
			break;
		}
		got = read(fd, b + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (r) {
		if (r == -ENOMEM)
			snprintf(why, whylen, "out of memory reading %s", path);
		free(b);
		return r;
	}
	b[len] = '\0';
	*buf = b;
	*n = len;
	return 0;
}

/* r, with why prefixed by the state file it is about */
static int why_at(const char *path, int r, char *why, size_t whylen)
{
	char e[200];

	snprintf(e, sizeof(e), "%s", why);
	snprintf(why, whylen, "%s: %s", path, e);
	return r;
}

/* pid's cgroup v2 path is cgroup exactly: 1; its pid gone: 0; elsewhere:
 * -EPERM */
static int pid_in_cgroup(uint32_t pid, const char *cgroup, char *why, size_t whylen)
{
	char rel[PH_PATH_LEN];
	int r = cg_of_pid((pid_t)pid, rel, sizeof(rel));

	if (r && r != -ENOENT && r != -ENAMETOOLONG) {
		snprintf(why, whylen, "its pid %u is gone", pid);
		return 0;
	}
	if (r || strcmp(rel, cgroup)) {
		/* a cgroup that carries the id of a container it is not: refused
		 * and said (a warning), never just "not this one" */
		snprintf(why, whylen, "its pid %u is in cgroup %.200s, not the listener's: refused", pid,
			 r ? "(none)" : rel);
		return -EPERM;
	}
	return 1;
}

static int docker_named(const struct ph_config *cfg, const char *id, const char *name, const char *cgroup, char *why,
			size_t whylen)
{
	char path[PATH_MAX], *buf = NULL;
	size_t n;
	uint32_t pid = 0;
	int r;

	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", cfg->docker_root, id);
	r = read_state(path, &buf, &n, why, whylen);
	if (r == -ENOENT) {
		snprintf(why, whylen, "no Docker container %.12s (%s absent)", id, path);
		return 0;
	}
	if (r)
		return r;
	r = engine_docker_match(buf, n, id, name, &pid, why, whylen);
	free(buf);
	if (r < 0)
		return why_at(path, r, why, whylen);
	return r == 1 ? pid_in_cgroup(pid, cgroup, why, whylen) : 0;
}

/* c/storage's list at path names id name: 1/0, -ENOENT if absent */
static int podman_list(const char *path, const char *id, const char *name, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t n;
	int r = read_state(path, &buf, &n, why, whylen);

	if (r)
		return r;
	r = engine_podman_match(buf, n, id, name, why, whylen);
	free(buf);
	return r < 0 ? why_at(path, r, why, whylen) : r;
}

static int podman_named(const struct ph_config *cfg, const char *id, const char *name, const char *cgroup,
			char *why, size_t whylen)
{
	char path[PATH_MAX], pidbuf[32], *buf = NULL;
	size_t n;
	uint64_t pid;
	int r, r2;

	snprintf(path, sizeof(path), "%s/overlay-containers/containers.json", cfg->podman_root);
	r = podman_list(path, id, name, why, whylen);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r != 1) {
		/* c/storage >= 1.45 keeps --rm containers in the runroot */
		snprintf(path, sizeof(path), "%s/overlay-containers/volatile-containers.json", cfg->podman_runroot);
		r2 = podman_list(path, id, name, why, whylen);
		if (r2 < 0 && r2 != -ENOENT)
			return r2;
		if (r2 != 1) {
			if (r == -ENOENT && r2 == -ENOENT)
				snprintf(why, whylen, "no Podman container store at %s/overlay-containers", cfg->podman_root);
			return 0;
		}
	}
	/* conmon's --container-pidfile: the container's pid */
	snprintf(path, sizeof(path), "%s/overlay-containers/%s/userdata/pidfile", cfg->podman_runroot, id);
	r = read_state(path, &buf, &n, why, whylen);
	if (r == -ENOENT) {
		snprintf(why, whylen, "%s absent: the container is not running", path);
		return 0;
	}
	if (r)
		return r;
	snprintf(pidbuf, sizeof(pidbuf), "%.*s", (int)(n < sizeof(pidbuf) - 1 ? n : sizeof(pidbuf) - 1), buf);
	free(buf);
	pidbuf[strcspn(pidbuf, "\n")] = '\0';
	if (parse_u64(pidbuf, 1, UINT32_MAX, &pid)) {
		snprintf(why, whylen, "%s holds no pid", path);
		return -EINVAL;
	}
	return pid_in_cgroup((uint32_t)pid, cgroup, why, whylen);
}

int engine_container_named(const struct ph_config *cfg, const struct ph_designation *des, const char *cgroup,
			   char *why, size_t whylen)
{
	char id[ENGINE_ID_LEN + 1];

	if (engine_cgroup_id(cgroup, id)) {
		snprintf(why, whylen, "no container id in cgroup %.200s", cgroup);
		return 0;
	}
	return des->engine == PH_ENGINE_DOCKER ? docker_named(cfg, id, des->name, cgroup, why, whylen)
					       : podman_named(cfg, id, des->name, cgroup, why, whylen);
}
