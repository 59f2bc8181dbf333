// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of foreign listeners (see foreign.h). The kernel reports a
 * listener with the pid of the process that listened and the inode of the
 * socket's network namespace; by the time the report is read that pid may
 * name another process, so a report counts only when /proc/PID/ns/net is
 * still that namespace. Whether the namespace is owned by the initial user
 * namespace (made by root, not by an unprivileged user's unshare -Urn) is
 * taken from the kernel's report and confirmed from the namespace's own
 * file (NS_GET_USERNS). A listener that fails a check is not recorded: the
 * later admission can only ever see what passed. */
#include "foreign.h"
#include "log.h"
#include "util.h"
#include "watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct ph_foreign {
	struct ph_foreign_listener *l;
	unsigned n, cap;
	uint32_t own_netns_ino;
	uint64_t lost_seen, untracked_seen, untracked_init_seen;
	int blind;
	foreign_change_fn change;
	void *change_ctx;
};

int foreign_new(struct ph_foreign **out, uint32_t own_netns_ino)
{
	struct ph_foreign *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->own_netns_ino = own_netns_ino;
	*out = t;
	return 0;
}

void foreign_on_change(struct ph_foreign *t, foreign_change_fn fn, void *ctx)
{
	t->change = fn;
	t->change_ctx = ctx;
}

void foreign_free(struct ph_foreign *t)
{
	if (!t)
		return;
	free(t->l);
	free(t);
}

static int find(const struct ph_foreign *t, uint64_t cookie)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->l[i].cookie == cookie)
			return (int)i;
	return -1;
}

const struct ph_foreign_listener *foreign_get(const struct ph_foreign *t, uint64_t cookie)
{
	int i = t ? find(t, cookie) : -1;

	return i < 0 ? NULL : &t->l[i];
}

const struct ph_foreign_listener *foreign_at(const struct ph_foreign *t, unsigned i)
{
	return t && i < t->n ? &t->l[i] : NULL;
}

static const char *addr_str(const struct ph_foreign_listener *l, char *buf, size_t len)
{
	if (!inet_ntop(l->family == AF_INET6 ? AF_INET6 : AF_INET, l->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* Is pid's network namespace the reported one, and is it owned by the
 * initial user namespace? 0 and *init_userns set, or a negative errno with
 * why said. */
static int check_netns(uint32_t pid, uint32_t netns_ino, uint32_t userns_ino, uint8_t *init_userns, char *why,
		       size_t whylen)
{
	struct stat st;
	char path[64];
	int fd, ufd, r = 0;

	*init_userns = 0;
	if (!pid) {
		snprintf(why, whylen, "the process is not visible in the daemon's pid namespace");
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || st.st_ino != netns_ino) {
		snprintf(why, whylen, "%s is another namespace now (pid reused, or the process moved)", path);
		close(fd);
		return -ESRCH;
	}
	/* the owner: only the initial user namespace's inode is compared,
	 * it is fixed (PROC_USER_INIT_INO) */
	ufd = ioctl(fd, NS_GET_USERNS);
	if (ufd < 0) {
		/* EPERM: the owner is outside the daemon's own user namespace */
		log_debug("foreign: %s: NS_GET_USERNS: %s; not owned by the initial user namespace", path,
			  strerror(errno));
	} else {
		if (fstat(ufd, &st) == 0 && st.st_ino == PH_USERNS_INIT_INO)
			*init_userns = userns_ino == PH_USERNS_INIT_INO;
		else if (userns_ino == PH_USERNS_INIT_INO)
			log_debug("foreign: %s: the kernel said the initial user namespace owns it, its file says "
				  "inode %llu; not counted as the initial one", path, (unsigned long long)st.st_ino);
		close(ufd);
	}
	close(fd);
	return 0;
}

int foreign_blind(const struct ph_foreign *t)
{
	return t && t->blind;
}

static void go_blind(struct ph_foreign *t, const char *why)
{
	if (t->blind)
		return;
	t->blind = 1;
	log_warn("foreign: %s: a listener of a container's network namespace may be unknown from now on; container "
		 "windows are refused until portholed restarts", why);
	if (t->change)
		t->change(t->change_ctx, NULL, 0);
}

static void say_ignored(const struct ph_kevent *e, const char *why)
{
	log_debug("foreign: ignored cookie=%llu netns=%u pid=%u port=%u: %s", (unsigned long long)e->cookie, e->netns_ino,
		  e->tgid, e->port, why);
}

static void add(struct ph_foreign *t, const struct ph_kforeign *f)
{
	const struct ph_kevent *e = &f->ev;
	struct ph_foreign_listener l = { 0 };
	char why[160], a[INET6_ADDRSTRLEN];

	if (find(t, e->cookie) >= 0)
		return;
	if (e->netns_ino == t->own_netns_ino || (e->family != AF_INET && e->family != AF_INET6)) {
		say_ignored(e, "not a listener of another network namespace");
		return;
	}
	/* The pid may name another process by now, or the process may have
	 * left the namespace (a fork that listened and exited, an unshare
	 * after bind): the socket is still there, listening. It is recorded
	 * unverified (never given a window, but counted beside one). */
	l.verified = check_netns(e->tgid, e->netns_ino, f->userns_ino, &l.init_userns, why, sizeof(why)) == 0;
	if (!l.verified) {
		log_debug("foreign: unverified cookie=%llu netns=%u pid=%u port=%u: %s", (unsigned long long)e->cookie,
			  e->netns_ino, e->tgid, e->port, why);
		l.init_userns = 0;
	}
	if (t->n == t->cap) {
		/* (no more than the kernel can track) */
		const unsigned max = PH_MAX_FOREIGN_BPF + PH_MAX_FOREIGN_USERNS_BPF;
		unsigned cap = t->cap ? (t->cap * 2 < max ? t->cap * 2 : max) : 16;
		struct ph_foreign_listener *nl;
		if (t->n >= max) {
			say_ignored(e, "the table is full");
			if (f->userns_ino == PH_USERNS_INIT_INO)
				go_blind(t, "the table of other namespaces' listeners is full");
			return;
		}
		nl = realloc(t->l, cap * sizeof(*nl));
		if (!nl) {
			say_ignored(e, "out of memory");
			go_blind(t, "out of memory recording a listener of another network namespace");
			return;
		}
		t->l = nl;
		t->cap = cap;
	}
	l.cookie = e->cookie;
	l.netns_cookie = f->netns_cookie;
	l.cgroup_id = e->cgroup_id;
	l.since_boot = e->ts_ns;
	l.netns_ino = e->netns_ino;
	l.userns_ino = f->userns_ino;
	l.pid = e->tgid;
	l.uid = e->uid;
	l.family = e->family;
	l.port = e->port;
	memcpy(l.addr, f->laddr, sizeof(l.addr));
	l.v6only = e->family == AF_INET6 && f->v6only;
	t->l[t->n++] = l;
	log_debug("foreign: listen cookie=%llu netns=%u netns_cookie=%llu userns=%u init_userns=%d pid=%u uid=%u "
		  "cgroup=%llu family=%s addr=%s port=%u v6only=%d verified=%d",
		  (unsigned long long)l.cookie, l.netns_ino, (unsigned long long)l.netns_cookie, l.userns_ino,
		  l.init_userns, l.pid, l.uid, (unsigned long long)l.cgroup_id, l.family == AF_INET6 ? "ipv6" : "ipv4",
		  addr_str(&l, a, sizeof(a)), l.port, l.v6only, l.verified);
	if (t->change)
		t->change(t->change_ctx, &t->l[t->n - 1], 1);
}

static void drop_at(struct ph_foreign *t, unsigned i)
{
	const struct ph_foreign_listener *l = &t->l[i];
	char a[INET6_ADDRSTRLEN];

	log_debug("foreign: unlisten cookie=%llu netns=%u addr=%s port=%u", (unsigned long long)l->cookie, l->netns_ino,
		  addr_str(l, a, sizeof(a)), l->port);
	if (t->change)
		t->change(t->change_ctx, l, 0);
	t->l[i] = t->l[--t->n];
}

void foreign_on_event(struct ph_foreign *t, const struct ph_kforeign *f)
{
	int i;

	if (f->ev.type == PH_EV_FOREIGN_LISTEN) {
		add(t, f);
	} else if (f->ev.type == PH_EV_FOREIGN_UNLISTEN) {
		i = find(t, f->ev.cookie);
		if (i >= 0)
			drop_at(t, (unsigned)i);
	}
}

/* ---- resynchronising after lost events ------------------------------------------------ */

struct resync {
	struct ph_foreign *t;
	uint8_t *live; /* per table entry as it was: still in the kernel's list */
	unsigned n0;
};

static void resync_cb(void *arg, const struct ph_kforeign *f)
{
	struct resync *rs = arg;
	int i = find(rs->t, f->ev.cookie);

	if (i >= 0) {
		if ((unsigned)i < rs->n0)
			rs->live[i] = 1;
	} else if (f->ev.type == PH_EV_FOREIGN_LISTEN)
		add(rs->t, f); /* (appended: past the entries being marked) */
}

/* Make the table the kernel's list again: what it holds that we lack is
 * added, what we hold that it lost is dropped. */
static int reread(struct ph_foreign *t, struct ph_watch *w)
{
	unsigned n0 = t->n;
	struct resync rs = { t, NULL, n0 };
	int r;

	rs.live = calloc(n0 ? n0 : 1, 1);
	if (!rs.live)
		return -ENOMEM;
	r = watch_foreign_listeners(w, resync_cb, &rs);
	if (r < 0) {
		free(rs.live);
		return r;
	}
	/* closed unseen: backwards, so the moves of drop_at never skip one */
	for (unsigned i = n0; i-- > 0;)
		if (!rs.live[i])
			drop_at(t, i);
	free(rs.live);
	return 0;
}

void foreign_check_lost(struct ph_foreign *t, struct ph_watch *w)
{
	uint64_t lost = watch_foreign_lost(w), untracked = watch_foreign_untracked(w);
	uint64_t untracked_init = watch_foreign_untracked_init(w);
	int r;

	if (untracked_init != t->untracked_init_seen) {
		t->untracked_init_seen = untracked_init;
		go_blind(t, "the kernel could not track a listener of a namespace owned by the initial user namespace "
			 "(its list full)");
	}

	if (untracked != t->untracked_seen) {
		log_debug("foreign: %llu listener(s) of other network namespaces could not be tracked by the kernel "
			  "(its list full)", (unsigned long long)(untracked - t->untracked_seen));
		t->untracked_seen = untracked;
	}
	if (lost == t->lost_seen)
		return;
	log_debug("foreign: %llu event(s) of other namespaces' listeners could not be reported; rereading the "
		  "kernel's list", (unsigned long long)(lost - t->lost_seen));
	t->lost_seen = lost;
	r = reread(t, w);
	if (r == -ENOMEM)
		log_err("foreign: out of memory rereading the kernel's list");
	else if (r)
		log_warn("foreign: cannot read the kernel's list of other namespaces' listeners");
}

void foreign_find_existing(struct ph_foreign *t, struct ph_watch *w)
{
	unsigned n0 = t->n;
	int r = watch_foreign_walk(w);

	if (r) {
		log_warn("foreign: cannot look for listeners of other network namespaces older than the daemon (%s): "
			 "they get no window until they listen again", strerror(-r));
		return;
	}
	r = reread(t, w);
	if (r)
		log_warn("foreign: cannot read the kernel's list of other namespaces' listeners (%s): those older than "
			 "the daemon get no window until they listen again", strerror(-r));
	else
		log_debug("foreign: %u listener(s) of other network namespaces found at start", t->n - n0);
}
