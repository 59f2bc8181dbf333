// SPDX-License-Identifier: GPL-2.0-or-later
/* The census of a container window's port (container.h): a window admits
 * to an address and port of the container's network namespace, not to
 * one socket, so every listener on that port there must be one the
 * daemon knows (foreign.c's table). The table learns listeners from the
 * kernel's events and, at start, from a walk over every task's open
 * files; a listener in flight during that walk (in an SCM_RIGHTS message
 * on a unix socket, an io_uring fixed file), received and kept after it,
 * is in no event and was in no fd table. The kernel's own list of the
 * namespace's sockets has it: /proc/PID/net/tcp and tcp6 of a process in
 * that namespace (ptrace-read access; no setns, no CAP_SYS_ADMIN). More
 * LISTEN sockets on the port there than the table knows: no window. */
#include "container.h"
#include "daemon.h"
#include "foreign.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CENSUS_MAX 4096 /* distinct sockets counted (more: refused) */

static int netns_is(uint32_t pid, uint32_t netns_ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	return stat(path, &st) == 0 && (uint32_t)st.st_ino == netns_ino;
}

/* a record of /proc/PID/net/tcp[6]: its inode goes to ino[] when it is a
 * LISTEN (0A) socket on port not yet there (tcp6 lists v4-mapped ones too:
 * each once) */
static int census_line(const char *line, const char *path, uint16_t port, unsigned long *ino, unsigned *n, char *why,
		       size_t whylen)
{
	unsigned lport, st, i;
	unsigned long inode;

	if (sscanf(line, " %*[0-9]: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u %*u %lu", &lport, &st,
		   &inode) != 3 || st != 0x0A || lport != port)
		return 0;
	for (i = 0; i < *n && ino[i] != inode; i++)
		;
	if (i < *n)
		return 0;
	if (*n == CENSUS_MAX) {
		snprintf(why, whylen, "%s: more than %u listeners on tcp/%u", path, CENSUS_MAX, port);
		return -E2BIG;
	}
	ino[(*n)++] = inode;
	return 0;
}

/* The kernel makes these files by walking its TCP hash tables, all of them
 * (the established one is global: 262,144 buckets here), ~0.7 ms a walk, and
 * it walks them again for the read that finds the end. Each file is read to
 * that end (a read of 0): a short read is not trusted to be the end. */
#define CENSUS_READ 65536

/* one /proc/PID/net/tcp[6] (see census_line) */
static int scan(const char *path, uint16_t port, unsigned long *ino, unsigned *n, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t have = 0; /* an unfinished record kept from the read before */
	int r = 0;

	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return 0; /* (no IPv6 in that kernel) */
		snprintf(why, whylen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(2 * CENSUS_READ + 1);
	if (!buf) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		ssize_t got = read(fd, buf + have, 2 * CENSUS_READ - have);
		char *line, *nl;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			snprintf(why, whylen, "%s: %s", path, strerror(-r));
			break;
		}
		buf[have + (size_t)got] = '\0';
		for (line = buf; !r && (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			r = census_line(line, path, port, ino, n, why, whylen);
		}
		if (r)
			break;
		have = strlen(line);
		if (got == 0) {
			if (have) /* (a last record without its newline) */
				r = census_line(line, path, port, ino, n, why, whylen);
			break;
		}
		if (have >= CENSUS_READ) {
			snprintf(why, whylen, "%s: a record longer than %u bytes", path, CENSUS_READ);
			r = -EIO;
			break;
		}
		memmove(buf, line, have);
	}
	free(buf);
	close(fd);
	return r;
}

int census_proc_listeners(uint32_t pid, uint32_t netns_ino, uint16_t port, unsigned *n, char *why, size_t whylen)
{
	unsigned long *ino = calloc(CENSUS_MAX, sizeof(*ino));
	char path[64];
	int r;

	*n = 0;
	if (!ino) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* the pid must be in that namespace before and after the reading (its
	 * /proc/PID/net is the namespace of the process, whichever it is) */
	r = netns_is(pid, netns_ino) ? 0 : -ESRCH;
	/* twice, each to its end, the union of what each pass saw: the kernel
	 * makes these files a page at a time and resumes its walk of the
	 * hash tables at each read, so a pass over a table that changes under
	 * it can miss a socket (a CI run missed an in-flight listener at byte
	 * 42,150 of a 76,800-byte file reading in one pass that trusted a
	 * short read to mean the end) */
	for (int pass = 0; !r && pass < 2; pass++)
		for (int v6 = 0; !r && v6 <= 1; v6++) {
			snprintf(path, sizeof(path), "/proc/%u/net/tcp%s", pid, v6 ? "6" : "");
			r = scan(path, port, ino, n, why, whylen);
		}
	if (!r && !netns_is(pid, netns_ino))
		r = -ESRCH;
	if (r == -ESRCH)
		snprintf(why, whylen, "pid %u is not in network namespace %u now", pid, netns_ino);
	free(ino);
	return r;
}

int container_census(struct ph_daemon *d, const struct ph_container_ops *ops, uint32_t pid, uint32_t netns_ino,
		     uint16_t port, uint64_t cookie, char *why, size_t whylen)
{
	const struct ph_foreign_listener *o;
	unsigned known = 0, kernel = 0, self = 0;
	char w[200] = "";
	int r;

	for (unsigned i = 0; (o = foreign_at(d->foreign, i)); i++)
		if (o->netns_ino == netns_ino && o->port == port) {
			known++;
			self |= o->cookie == cookie;
		}
	known += cookie && !self; /* (the listener being admitted is one) */
	r = ops->listeners(pid, netns_ino, port, &kernel, w, sizeof(w));
	if (r) {
		snprintf(why, whylen, "its listeners could not be counted: %s", w);
		return r;
	}
	if (kernel <= known)
		return 0;
	snprintf(why, whylen, "the kernel lists %u listening sockets on tcp/%u in its network namespace %u, the daemon "
		 "knows %u: %u it never saw (received after its start, e.g. over a unix socket) would get the window's "
		 "connections", kernel, port, netns_ino, known, kernel - known);
	return (int)(kernel - known);
}

/* ---- the verdicts that wait for the end of a batch of events ------------------------- */

#define CENSUS_PENDING 64
#define CENSUS_DIRTY 16

struct ph_census {
	const struct ph_container_ops *ops;
	struct {
		uint64_t cookie;
		int warned;
		uint64_t counted_boot; /* its last census */
	} p[CENSUS_PENDING];
	unsigned np;
	uint32_t dirty[CENSUS_DIRTY];
	unsigned nd;
	int all_dirty; /* (more netns changed than dirty[] holds) */
};

static struct ph_census *state(struct ph_daemon *d, const struct ph_container_ops *ops)
{
	if (!d->census)
		d->census = calloc(1, sizeof(*d->census));
	if (d->census)
		d->census->ops = ops;
	return d->census;
}

static void defer(struct ph_daemon *d, const struct ph_container_ops *ops, uint64_t cookie, int warned,
		  uint64_t counted_boot)
{
	struct ph_census *c = state(d, ops);

	for (unsigned i = 0; c && i < c->np; i++)
		if (c->p[i].cookie == cookie)
			return;
	if (!c || c->np == CENSUS_PENDING) {
		/* (no room to wait: no window, said now) */
		ops->log(LOG_WARNING, "container: no window for a listener of a namespace: its census cannot wait (too "
			 "many waiting, or out of memory)");
		return;
	}
	c->p[c->np].cookie = cookie;
	c->p[c->np].counted_boot = counted_boot;
	c->p[c->np++].warned = warned;
}

void census_defer(struct ph_daemon *d, const struct ph_container_ops *ops, uint64_t cookie)
{
	defer(d, ops, cookie, 0, ops->now(CLOCK_BOOTTIME));
}

void census_dirty(struct ph_daemon *d, const struct ph_container_ops *ops, uint32_t netns_ino)
{
	struct ph_census *c = container_window_at(d, 0) ? state(d, ops) : d->census;

	if (!c)
		return;
	for (unsigned i = 0; i < c->nd; i++)
		if (c->dirty[i] == netns_ino)
			return;
	if (c->nd == CENSUS_DIRTY)
		c->all_dirty = 1;
	else
		c->dirty[c->nd++] = netns_ino;
}

static int is_dirty(const struct ph_census *c, uint32_t netns_ino)
{
	for (unsigned i = 0; i < c->nd; i++)
		if (c->dirty[i] == netns_ino)
			return 1;
	return c->all_dirty;
}

static int has_window(const struct ph_daemon *d, uint64_t cookie)
{
	const struct ph_cwin *w;

	for (unsigned i = 0; (w = container_window_at(d, i)); i++)
		if (w->cookie == cookie)
			return 1;
	return 0;
}

void containers_census_run(struct ph_daemon *d)
{
	struct ph_census *c = d->census, snap;
	const struct ph_cwin *w;
	uint32_t last_ino = 0;
	uint16_t last_port = 0;
	uint64_t now;
	int last = 0;
	char why[320];

	if (!c || !d->containers)
		return;
	/* the windows of a changed namespace: counted (once a netns and port;
	 * a failure, which may be its pid's, once a window) */
	for (unsigned i = 0; c->nd + c->all_dirty && (w = container_window_at(d, i)); i++) {
		if (!is_dirty(c, w->netns_ino))
			continue;
		if (w->netns_ino != last_ino || w->cport != last_port || last < 0)
			last = container_census(d, c->ops, w->pid, w->netns_ino, w->cport, w->cookie, why, sizeof(why));
		last_ino = w->netns_ino;
		last_port = w->cport;
		if (last) {
			container_revoke(d, w->cookie, why);
			i--; /* w left the list: the next window is at i now */
		}
	}
	/* the listeners waiting: a window now, or still a stranger beside them.
	 * The first verdict is this batch's end's; once refused here, counted
	 * again when their netns changed (what the table knows did), else at
	 * most once a second: a stranger that leaves unseen (never in the
	 * table: no event of its close) is noticed within a second of a batch,
	 * and one that stays costs no walk of the kernel's tables (~1.5 ms) at
	 * every batch of any namespace's events */
	snap = *c;
	c->np = 0;
	c->nd = 0;
	c->all_dirty = 0;
	now = c->ops->now(CLOCK_BOOTTIME);
	for (unsigned i = 0; i < snap.np; i++) {
		const struct ph_foreign_listener *o = foreign_get(d->foreign, snap.p[i].cookie);
		int r;
		if (!o || has_window(d, o->cookie))
			continue; /* gone, or opened since */
		if (snap.p[i].warned && !is_dirty(&snap, o->netns_ino) && now < snap.p[i].counted_boot + NSEC_PER_SEC) {
			defer(d, c->ops, o->cookie, snap.p[i].warned, snap.p[i].counted_boot);
			continue; /* (still refused) */
		}
		r = container_census(d, c->ops, o->pid, o->netns_ino, o->port, o->cookie, why, sizeof(why));
		if (!r) {
			container_on_foreign(d, o, 1); /* (decided again, all of it) */
			continue;
		}
		if (!snap.p[i].warned) {
			char msg[480];
			snprintf(msg, sizeof(msg), "container: no window for pid %u tcp/%u (netns %u): %s", o->pid, o->port,
				 o->netns_ino, why);
			c->ops->log(LOG_WARNING, msg);
		}
		defer(d, c->ops, o->cookie, 1, now);
	}
}

void census_free(struct ph_daemon *d)
{
	free(d->census);
	d->census = NULL;
}
