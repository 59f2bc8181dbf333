// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window state machine (see container.h), and nothing else:
 * which foreign listener gets a window, its deadline, and its closing;
 * the refcounted elements and pins its windows hold in the kernel are
 * container_books.c's. A window is all or nothing: its elements and pins
 * go in one batch, and the books change only when the kernel took it.
 * Every call outward goes through the ops struct given to
 * containers_init(). */
#include "container.h"
#include "container_int.h"
#include "container_serve.h"
#include "daemon.h"
#include "foreign.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int containers_init(struct ph_daemon *d, const struct ph_container_ops *ops)
{
	struct ph_containers *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ops = ops;
	d->containers = c;
	return 0;
}

void containers_free(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;

	if (!c)
		return;
	while (c->wins) {
		struct ph_cwin *w = c->wins;
		c->wins = w->next;
		free(w);
	}
	free(c->el);
	free(c);
	d->containers = NULL;
	census_free(d);
}

static void arm_timer(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;
	uint64_t earliest = 0;

	for (struct ph_cwin *w = c->wins; w; w = w->next)
		if (!earliest || w->deadline_boot < earliest)
			earliest = w->deadline_boot;
	c->ops->timer_arm(d, earliest);
}

void container_targets_str(const struct ph_cwin *w, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < w->nt && off < len; i++) {
		char a[INET6_ADDRSTRLEN];
		int n;
		if (!inet_ntop(w->t[i].a.family, w->t[i].a.addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		n = snprintf(buf + off, len - off, "%s%s%s%s:%u via %u/%u", i ? " " : "", w->t[i].a.family == AF_INET6 ? "[" : "",
			     a, w->t[i].a.family == AF_INET6 ? "]" : "", w->cport, w->t[i].bridge, w->t[i].port);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* The published designation of a socket in cgroup path: a unit/cgroup
 * line whose cgroup holds path (equal or below), else a container line
 * whose container the engine's state says is that cgroup's (read only
 * with read_state: never for a namespace of another user namespace, whose
 * engine is rootless). >= 0: its index; -1: none (why: what the container
 * lines found, if any); -2: refused (why: the state that cannot be
 * trusted; fail closed, whatever a later line would say). */
static int designation_of(struct ph_daemon *d, const char *path, int read_state, char *why, size_t whylen)
{
	const struct ph_container_ops *ops = d->containers->ops;

	if (why && whylen)
		why[0] = '\0';
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		size_t l = strlen(des->cgroup);
		if (!des->published || (des->type != DES_UNIT && des->type != DES_CGROUP) || !l)
			continue;
		while (l > 1 && des->cgroup[l - 1] == '/')
			l--;
		if (!strncmp(path, des->cgroup, l) && (path[l] == '\0' || path[l] == '/' || (l == 1 && des->cgroup[0] == '/')))
			return (int)i;
	}
	for (unsigned i = 0; !read_state && why && whylen && i < d->cfg.ndes; i++)
		if (d->cfg.des[i].type == DES_CONTAINER) {
			snprintf(why, whylen, "container lines: its engine's state not read: its network namespace is "
				 "another user namespace's (rootless)");
			break;
		}
	for (unsigned i = 0; read_state && i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		char w[320] = "";
		int r;
		if (des->type != DES_CONTAINER)
			continue;
		r = ops->container_named(d, des, path, w, sizeof(w));
		if (r == 1)
			return (int)i;
		if (why && whylen)
			snprintf(why + strlen(why), whylen - strlen(why), "%scontainer %s (line %u): %s", why[0] ? "; " : "",
				 des->arg, des->line, w);
		if (r < 0)
			return -2;
	}
	return read_state ? crun_designation_of(d, ops, path, why, whylen) : -1; /* run --container (container_run.h) */
}

static void win_unlink(struct ph_containers *c, struct ph_cwin *w)
{
	for (struct ph_cwin **pp = &c->wins; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/* A window closes, said once: a notice, or with why (a revocation) one
 * warning that gives why. */
static void cwin_close(struct ph_daemon *d, struct ph_cwin *w, uint32_t reason, const char *why)
{
	struct ph_containers *c = d->containers;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME);

	win_unlink(c, w);
	books_drop(d, w);
	c->ops->record_close(d, w, reason, now > w->opened_boot ? now - w->opened_boot : 0);
	if (why) /* (a revocation is a warning; another reason's why, a notice) */
		clog(c, reason == PH_REASON_REVOKED ? LOG_WARNING : LOG_NOTICE,
		     "container: window %llu closed (%s): tcp/%u of pid %u in cgroup %s: %s", (unsigned long long)w->id,
		     ph_reason_name(reason), w->cport, w->pid, w->cgroup, why);
	else
		clog(c, LOG_NOTICE, "container: window %llu closed (%s): tcp/%u of pid %u in cgroup %s",
		     (unsigned long long)w->id, ph_reason_name(reason), w->cport, w->pid, w->cgroup);
	free(w);
	arm_timer(d);
	c->ops->metrics(d);
}

/* Is o of designation des_index? A listener of the same socket cgroup as
 * one known to be is; otherwise its cgroup path decides (a process gone:
 * not). */
static int of_designation(struct ph_daemon *d, const struct ph_foreign_listener *o, uint64_t known_cgroup,
			  unsigned des_index)
{
	char path[PH_PATH_LEN], why[160];

	if (o->cgroup_id == known_cgroup)
		return 1;
	if (!o->verified)
		return 0; /* its pid names nobody we know: its cgroup path is not its */
	if (d->containers->ops->cgroup_path(d, o->pid, o->cgroup_id, path, sizeof(path), why, sizeof(why)))
		return 0;
	return designation_of(d, path, o->init_userns, NULL, 0) == (int)des_index;
}

/* A window admits by address and port, not by socket: any other listener
 * on its port in its namespace (SO_REUSEPORT, a more specific address: a
 * sidecar or pod neighbour of the same uid) would get its connections. So
 * a listener that is not of the window's designation closes the windows
 * on its port in its netns (cgroup_path: its cgroup, or NULL if unknown;
 * des: its designation, < 0 none). */
static void close_shared(struct ph_daemon *d, const struct ph_foreign_listener *l, const char *cgroup_path, int des)
{
	struct ph_containers *c = d->containers;
	struct ph_cwin *w, *next;

	for (w = c->wins; w; w = next) {
		next = w->next;
		if (w->netns_ino != l->netns_ino || w->cport != l->port || w->cookie == l->cookie ||
		    (des >= 0 && (unsigned)des == w->des_index))
			continue;
		char why[320];
		snprintf(why, sizeof(why), "pid %u (cgroup %s) listens on tcp/%u in its network namespace %u, outside "
			 "its designation: it would get the window's connections", l->pid, cgroup_path ? cgroup_path :
			 "unknown", l->port, l->netns_ino);
		cwin_close(d, w, PH_REASON_REVOKED, why);
		next = c->wins; /* the list changed: from the start */
	}
}

/* The first listener on l's port in l's netns that is not of designation
 * des_index, or NULL. */
static const struct ph_foreign_listener *shared_with(struct ph_daemon *d, const struct ph_foreign_listener *l,
						     unsigned des_index)
{
	const struct ph_foreign_listener *o;

	for (unsigned i = 0; (o = foreign_at(d->foreign, i)); i++)
		if (o->cookie != l->cookie && o->netns_ino == l->netns_ino && o->port == l->port &&
		    !of_designation(d, o, l->cgroup_id, des_index))
			return o;
	return NULL;
}

static void on_listen(struct ph_daemon *d, const struct ph_foreign_listener *l)
{
	struct ph_containers *c = d->containers;
	struct netns_addr bound = { .family = l->family };
	struct netns_view *view = NULL;
	char path[PH_PATH_LEN], why[320] = "", a[INET6_ADDRSTRLEN];
	const struct ph_designation *des;
	struct ph_cwin *w = NULL;
	int i, r;

	if (!config_has_published(&d->cfg))
		return;
	if (!inet_ntop(l->family, l->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (!l->verified) {
		/* its process is gone or elsewhere: who holds it is unknown */
		close_shared(d, l, NULL, -1);
		return;
	}
	if (foreign_blind(d->foreign)) {
		clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u (netns %u): the daemon can no longer know "
		     "every listener of a container's network namespace (restart portholed)", l->pid, l->port,
		     l->netns_ino);
		return;
	}
	r = c->ops->cgroup_path(d, l->pid, l->cgroup_id, path, sizeof(path), why, sizeof(why));
	if (r) {
		clog(c, LOG_DEBUG, "container: listener pid %u tcp/%u (netns %u) ignored: its cgroup: %s", l->pid, l->port,
		     l->netns_ino, why);
		close_shared(d, l, NULL, -1);
		return;
	}
	i = designation_of(d, path, l->init_userns, why, sizeof(why));
	close_shared(d, l, path, i);
	if (i == -2) {
		clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u in cgroup %s: %s", l->pid, l->port, path, why);
		return;
	}
	if (i < 0) {
		clog(c, LOG_DEBUG, "container: listener pid %u tcp/%u (netns %u) ignored: cgroup %s is in no published "
		     "designation%s%s%s", l->pid, l->port, l->netns_ino, path, why[0] ? " (" : "", why, why[0] ? ")" : "");
		return;
	}
	des = designation_at(d, (unsigned)i); /* a config line, or run --container's */
	/* (before shared_with: no other listener's cgroup read for a refusal) */
	if (!l->init_userns) {
		clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u in cgroup %s (config line %u): its network "
		     "namespace %u is owned by another user namespace (rootless): nothing it holds is trusted",
		     l->pid, l->port, path, des->line, l->netns_ino);
		return;
	}
	{
		const struct ph_foreign_listener *o = shared_with(d, l, (unsigned)i);
		if (o) {
			clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u in cgroup %s (config line %u): pid %u "
			     "(socket cgroup %llu) listens on that port in its network namespace %u too, outside the "
			     "designation: it would get the window's connections", l->pid, l->port, path, des->line,
			     o->pid, (unsigned long long)o->cgroup_id, l->netns_ino);
			return;
		}
	}
	if (container_census(d, c->ops, l->pid, l->netns_ino, l->port, l->cookie, why, sizeof(why))) {
		/* (maybe a listen whose event is still in the ring: again once it is read) */
		census_defer(d, c->ops, l->cookie);
		return;
	}
	memcpy(bound.addr, l->addr, sizeof(bound.addr));
	view = calloc(1, sizeof(*view));
	w = calloc(1, sizeof(*w));
	if (!view || !w) {
		clog(c, LOG_ERR, "container: no window for pid %u tcp/%u in cgroup %s: out of memory", l->pid, l->port, path);
		goto out;
	}
	r = c->ops->resolve((pid_t)l->pid, l->netns_ino, &bound, l->v6only, view, why, sizeof(why));
	if (r || !view->n) {
		clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u (%s) in cgroup %s (config line %u): %s%s", l->pid,
		     l->port, a, path, des->line, r == -EXDEV ? "rootless namespace: " : "", why[0] ? why : strerror(-r));
		goto out;
	}
	w->cookie = l->cookie;
	w->des_index = (unsigned)i;
	w->pid = l->pid;
	w->uid = l->uid;
	w->netns_ino = l->netns_ino;
	w->family = l->family;
	w->cport = l->port;
	if (des->nports) {
		memcpy(w->pports, des->ports, sizeof(w->pports));
		w->npports = des->nports;
	} else {
		memcpy(w->pports, d->cfg.ports, sizeof(w->pports));
		w->npports = d->cfg.nports;
	}
	copy_str(w->cgroup, sizeof(w->cgroup), path);
	c->ops->proc_exe((pid_t)l->pid, w->exe, sizeof(w->exe));
	w->nt = view->n;
	memcpy(w->t, view->t, view->n * sizeof(w->t[0]));
	w->opened_boot = c->ops->now(CLOCK_BOOTTIME);
	w->opened_real = c->ops->now(CLOCK_REALTIME);
	w->deadline_boot = w->opened_boot + (uint64_t)(des->max_window ? des->max_window : d->cfg.max_window) * NSEC_PER_SEC;
	why[0] = '\0';
	r = books_take(d, w, why, sizeof(why));
	if (r) {
		clog(c, LOG_ERR, "container: no window for pid %u tcp/%u in cgroup %s (config line %u): the firewall refused "
		     "its elements: %s", l->pid, l->port, path, des->line, why);
		goto out;
	}
	w->deadline_real = w->opened_real + (w->deadline_boot - w->opened_boot);
	w->id = d->next_window_id++;
	c->ops->ids_save(d);
	if (c->ops->record_open(d, w)) {
		/* a window without its record is not opened */
		clog(c, LOG_ERR, "container: no window for pid %u tcp/%u in cgroup %s: its audit record could not be "
		     "written", l->pid, l->port, path);
		books_drop(d, w);
		goto out;
	}
	w->next = c->wins;
	c->wins = w;
	{
		char ts[512];
		container_targets_str(w, ts, sizeof(ts));
		clog(c, LOG_NOTICE, "container: window %llu opened: tcp/%u of pid %u in cgroup %s (config line %u) through "
		     "DNAT to %s, for %llu s", (unsigned long long)w->id, w->cport, w->pid, w->cgroup, des->line, ts,
		     (unsigned long long)((w->deadline_boot - w->opened_boot) / NSEC_PER_SEC));
	}
	w = NULL;
	arm_timer(d);
	c->ops->metrics(d);
out:
	free(view);
	free(w);
}

void container_on_foreign(void *ctx, const struct ph_foreign_listener *l, int listen)
{
	struct ph_daemon *d = ctx;

	if (!d->containers)
		return;
	csrv_on_foreign(d, l, listen); /* serve = container lines */
	if (!l) {
		/* blind: a listener beside a window may be unknown */
		struct ph_cwin *w;
		while ((w = d->containers->wins))
			cwin_close(d, w, PH_REASON_REVOKED, "the daemon can no longer know every listener of its network "
				   "namespace");
		return;
	}
	census_dirty(d, d->containers->ops, l->netns_ino);
	if (listen) {
		on_listen(d, l);
		return;
	}
	for (struct ph_cwin *w = d->containers->wins; w; w = w->next)
		if (w->cookie == l->cookie) {
			cwin_close(d, w, PH_REASON_LISTENER_CLOSED, NULL);
			return;
		}
}

/* the census found a listener it never saw beside w (container_census.c) */
void container_end(struct ph_daemon *d, uint64_t cookie, uint32_t reason, const char *why)
{
	for (struct ph_cwin *w = d->containers ? d->containers->wins : NULL; w; w = w->next)
		if (w->cookie == cookie) {
			cwin_close(d, w, reason, why);
			return;
		}
}

void container_revoke(struct ph_daemon *d, uint64_t cookie, const char *why)
{
	container_end(d, cookie, PH_REASON_REVOKED, why);
}

void containers_on_timer(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME);
	struct ph_cwin *w, *next;

	for (w = c->wins; w; w = next) {
		next = w->next;
		if (w->deadline_boot <= now) {
			cwin_close(d, w, PH_REASON_DEADLINE, NULL);
			next = c->wins; /* the list changed: from the start */
		}
	}
	arm_timer(d);
}

void containers_shutdown(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;

	while (c && c->wins)
		cwin_close(d, c->wins, PH_REASON_SHUTDOWN, NULL);
}

const struct ph_cwin *container_window_at(const struct ph_daemon *d, unsigned i)
{
	const struct ph_cwin *w = d->containers ? d->containers->wins : NULL;

	while (w && i--)
		w = w->next;
	return w;
}
