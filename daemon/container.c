// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window state machine (see container.h), and nothing else:
 * which foreign listener gets a window, the refcounted elements and pins
 * its windows hold in the kernel, their deadlines, and their closing. A
 * window is all or nothing: its elements and pins go in one batch, and the
 * books change only when the kernel took it. Every call outward goes
 * through the ops struct given to containers_init(). */
#include "container.h"
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

#define MAX_WIN_ELEMS (NETNS_MAX_TARGETS * PH_MAX_PORTS)

struct refelem {
	struct nr_cwin e;
	int pin;                /* a cwpin (pport unused), else a cwin element */
	unsigned refs;
	uint64_t deadline_boot; /* its kernel timeout */
};

struct ph_containers {
	const struct ph_container_ops *ops;
	struct ph_cwin *wins;
	struct refelem *el;
	unsigned nel, cap;
};

#define clog(c, prio, ...) log_to((c)->ops->log, (prio), __VA_ARGS__)

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

static int elem_eq(const struct refelem *r, const struct nr_cwin *e, int pin)
{
	size_t alen = e->family == AF_INET6 ? 16 : 4;

	if (r->pin != pin || r->e.family != e->family || r->e.cport != e->cport || memcmp(r->e.addr, e->addr, alen))
		return 0;
	return pin ? r->e.port == e->port : r->e.ifindex == e->ifindex && r->e.pport == e->pport;
}

static struct refelem *elem_find(struct ph_containers *c, const struct nr_cwin *e, int pin)
{
	for (unsigned i = 0; i < c->nel; i++)
		if (elem_eq(&c->el[i], e, pin))
			return &c->el[i];
	return NULL;
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

/* a window's elements (pin = 0) or pins, as the kernel keys them */
static unsigned win_elems(const struct ph_cwin *w, int pin, struct nr_cwin *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->nt; i++) {
		const struct netns_target *t = &w->t[i];
		for (unsigned p = 0; p < (pin ? 1 : w->npports); p++) {
			struct nr_cwin *e = &out[n++];
			memset(e, 0, sizeof(*e));
			e->family = t->a.family;
			e->ifindex = t->bridge;
			e->port = t->port;
			memcpy(e->addr, t->a.addr, t->a.family == AF_INET6 ? 16 : 4);
			e->cport = w->cport;
			e->pport = pin ? 0 : w->pports[p];
		}
	}
	return n;
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

/* Take the window's references; the elements and pins that reached 0 go
 * into del/pdel (the caller deletes them from the kernel). */
static void release_refs(struct ph_containers *c, const struct ph_cwin *w, struct nr_cwin *del, unsigned *ndel,
			 struct nr_cwin *pdel, unsigned *npdel)
{
	struct nr_cwin *tmp = calloc(MAX_WIN_ELEMS, sizeof(*tmp));
	unsigned n;

	*ndel = *npdel = 0;
	if (!tmp)
		return; /* (cannot happen but at exit: the kernel's timeouts take them) */
	for (int pin = 0; pin <= 1; pin++) {
		n = win_elems(w, pin, tmp);
		for (unsigned i = 0; i < n; i++) {
			struct refelem *r = elem_find(c, &tmp[i], pin);
			if (!r || --r->refs)
				continue;
			if (pin)
				pdel[(*npdel)++] = r->e;
			else
				del[(*ndel)++] = r->e;
			*r = c->el[--c->nel];
		}
	}
	free(tmp);
}

/* the window's elements and pins that no other window holds leave the
 * kernel (a failure is said: the kernel's timeout removes them) */
static void drop_elements(struct ph_daemon *d, const struct ph_cwin *w)
{
	struct ph_containers *c = d->containers;
	struct nr_cwin *del = calloc(2 * MAX_WIN_ELEMS, sizeof(*del));
	unsigned ndel = 0, npdel = 0;
	int r = -ENOMEM;

	if (del) {
		release_refs(c, w, del, &ndel, del + MAX_WIN_ELEMS, &npdel);
		/* always: a window counts for the host rules even when every
		 * element it had is another's (fw_close skips the empty batch) */
		r = c->ops->fw_close(d, del, ndel, del + MAX_WIN_ELEMS, npdel);
	}
	if (r)
		clog(c, LOG_ERR, "container: window %llu: its elements could not be removed (%s); the kernel removes them at "
		     "its deadline", (unsigned long long)w->id, strerror(-r));
	free(del);
}

static void cwin_close(struct ph_daemon *d, struct ph_cwin *w, uint32_t reason)
{
	struct ph_containers *c = d->containers;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME);

	win_unlink(c, w);
	drop_elements(d, w);
	c->ops->record_close(d, w, reason, now > w->opened_boot ? now - w->opened_boot : 0);
	clog(c, LOG_NOTICE, "container: window %llu closed (%s): tcp/%u of pid %u in cgroup %s", (unsigned long long)w->id,
	     ph_reason_name(reason), w->cport, w->pid, w->cgroup);
	free(w);
	arm_timer(d);
	c->ops->metrics(d);
}

/* Add the window's elements and pins: those already there are shared (and
 * cap its deadline); the rest go to the kernel in one batch. 0 and the
 * books updated, or -errno and nothing changed. */
static int take_refs(struct ph_daemon *d, struct ph_cwin *w, char *why, size_t whylen)
{
	struct ph_containers *c = d->containers;
	struct nr_cwin *all = calloc(2 * MAX_WIN_ELEMS, sizeof(*all)), *add = NULL;
	unsigned n[2], nadd[2] = { 0, 0 }, need;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME), timeout_ms;
	int r = -ENOMEM;

	if (!all)
		goto out;
	add = calloc(2 * MAX_WIN_ELEMS, sizeof(*add));
	if (!add)
		goto out;
	for (int pin = 0; pin <= 1; pin++) {
		n[pin] = win_elems(w, pin, all + pin * MAX_WIN_ELEMS);
		for (unsigned i = 0; i < n[pin]; i++) {
			const struct nr_cwin *e = &all[pin * MAX_WIN_ELEMS + i];
			struct refelem *rf = elem_find(c, e, pin);
			int dup = 0;
			for (unsigned j = 0; j < nadd[pin]; j++)
				dup |= !memcmp(&add[pin * MAX_WIN_ELEMS + j], e, sizeof(*e));
			if (rf && rf->deadline_boot < w->deadline_boot)
				w->deadline_boot = rf->deadline_boot; /* shared: never outlives it */
			else if (!rf && !dup)
				add[pin * MAX_WIN_ELEMS + nadd[pin]++] = *e;
		}
	}
	need = nadd[0] + nadd[1];
	if (c->nel + need > c->cap) {
		unsigned cap = c->nel + need + 32;
		struct refelem *ne = realloc(c->el, cap * sizeof(*ne));
		if (!ne)
			goto out;
		c->el = ne;
		c->cap = cap;
	}
	if (w->deadline_boot <= now + NSEC_PER_SEC / 10) {
		snprintf(why, whylen, "the element it shares is at its deadline");
		r = -ETIME;
		goto out;
	}
	timeout_ms = (w->deadline_boot - now) / 1000000;
	r = c->ops->fw_open(d, add, nadd[0], add + MAX_WIN_ELEMS, nadd[1], timeout_ms, why, whylen);
	if (r)
		goto out;
	for (int pin = 0; pin <= 1; pin++)
		for (unsigned i = 0; i < n[pin]; i++) {
			const struct nr_cwin *e = &all[pin * MAX_WIN_ELEMS + i];
			struct refelem *rf = elem_find(c, e, pin);
			if (!rf) {
				rf = &c->el[c->nel++];
				memset(rf, 0, sizeof(*rf));
				rf->e = *e;
				rf->pin = pin;
				rf->deadline_boot = w->deadline_boot;
			}
			rf->refs++;
		}
out:
	if (r == -ENOMEM && !why[0])
		snprintf(why, whylen, "out of memory");
	free(all);
	free(add);
	return r;
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
		clog(c, LOG_WARNING, "container: window %llu revoked: pid %u (cgroup %s) listens on tcp/%u in its "
		     "network namespace %u, outside its designation: it would get the window's connections",
		     (unsigned long long)w->id, l->pid, cgroup_path ? cgroup_path : "unknown", l->port, l->netns_ino);
		cwin_close(d, w, PH_REASON_REVOKED);
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
	if (!l->init_userns) {
		clog(c, LOG_WARNING, "container: no window for pid %u tcp/%u in cgroup %s (config line %u): its network "
		     "namespace %u is owned by another user namespace (rootless): nothing it holds is trusted",
		     l->pid, l->port, path, des->line, l->netns_ino);
		return;
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
	r = take_refs(d, w, why, sizeof(why));
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
		drop_elements(d, w);
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
	if (!l) {
		/* blind: a listener beside a window may be unknown */
		struct ph_cwin *w;
		while ((w = d->containers->wins)) {
			clog(d->containers, LOG_WARNING, "container: window %llu revoked: the daemon can no longer know every "
			     "listener of its network namespace", (unsigned long long)w->id);
			cwin_close(d, w, PH_REASON_REVOKED);
		}
		return;
	}
	census_dirty(d, d->containers->ops, l->netns_ino);
	if (listen) {
		on_listen(d, l);
		return;
	}
	for (struct ph_cwin *w = d->containers->wins; w; w = w->next)
		if (w->cookie == l->cookie) {
			cwin_close(d, w, PH_REASON_LISTENER_CLOSED);
			return;
		}
}

/* the census found a listener it never saw beside w (container_census.c) */
void container_revoke(struct ph_daemon *d, uint64_t cookie, const char *why)
{
	for (struct ph_cwin *w = d->containers ? d->containers->wins : NULL; w; w = w->next)
		if (w->cookie == cookie) {
			clog(d->containers, LOG_WARNING, "container: window %llu revoked: %s", (unsigned long long)w->id, why);
			cwin_close(d, w, PH_REASON_REVOKED);
			return;
		}
}

void containers_on_timer(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME);
	struct ph_cwin *w, *next;

	for (w = c->wins; w; w = next) {
		next = w->next;
		if (w->deadline_boot <= now) {
			cwin_close(d, w, PH_REASON_DEADLINE);
			next = c->wins; /* the list changed: from the start */
		}
	}
	arm_timer(d);
}

void containers_shutdown(struct ph_daemon *d)
{
	struct ph_containers *c = d->containers;

	while (c && c->wins)
		cwin_close(d, c->wins, PH_REASON_SHUTDOWN);
}

const struct ph_cwin *container_window_at(const struct ph_daemon *d, unsigned i)
{
	const struct ph_cwin *w = d->containers ? d->containers->wins : NULL;

	while (w && i--)
		w = w->next;
	return w;
}

static unsigned count(const struct ph_daemon *d, int pin)
{
	const struct ph_containers *c = d->containers;
	unsigned n = 0;

	for (unsigned i = 0; c && i < c->nel; i++)
		n += c->el[i].pin == pin;
	return n;
}

unsigned containers_elements(const struct ph_daemon *d)
{
	return count(d, 0);
}

unsigned containers_pins(const struct ph_daemon *d)
{
	return count(d, 1);
}
