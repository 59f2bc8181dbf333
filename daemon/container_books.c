// SPDX-License-Identifier: GPL-2.0-or-later
/* The books of the container windows' elements and pins (container_int.h):
 * refcounted across windows, each with its kernel timeout; one batch to add
 * a window's, one to delete what no window holds any more. An element
 * whose delete failed stays in the books until its timeout (the kernel
 * keeps it: adding it again would be EEXIST): a window that needs it
 * shares it, and the next close deletes it again. */
#include "container_int.h"
#include "daemon.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* the elements no window holds whose timeout passed: the kernel took them */
static void purge(struct ph_containers *c, uint64_t now)
{
	for (unsigned i = 0; i < c->nel;)
		if (!c->el[i].refs && c->el[i].deadline_boot <= now)
			c->el[i] = c->el[--c->nel];
		else
			i++;
}

void books_drop(struct ph_daemon *d, const struct ph_cwin *w)
{
	struct ph_containers *c = d->containers;
	struct nr_cwin *tmp = calloc(MAX_WIN_ELEMS, sizeof(*tmp));
	struct nr_cwin *del = calloc(c->nel + 1, sizeof(*del)), *pdel = calloc(c->nel + 1, sizeof(*pdel));
	unsigned ndel = 0, npdel = 0, n;
	int r = -ENOMEM;

	purge(c, c->ops->now(CLOCK_BOOTTIME)); /* (the earlier ones the kernel took) */
	for (int pin = 0; tmp && pin <= 1; pin++) {
		n = win_elems(w, pin, tmp);
		for (unsigned i = 0; i < n; i++) {
			struct refelem *rf = elem_find(c, &tmp[i], pin);
			if (rf && rf->refs)
				rf->refs--;
		}
	}
	if (tmp && del && pdel) {
		for (unsigned i = 0; i < c->nel; i++)
			if (!c->el[i].refs) {
				if (c->el[i].pin)
					pdel[npdel++] = c->el[i].e;
				else
					del[ndel++] = c->el[i].e;
			}
		/* always: a window counts for the host rules even when every
		 * element it had is another's (fw_close skips the empty batch) */
		r = c->ops->fw_close(d, del, ndel, pdel, npdel);
	}
	if (!r)
		for (unsigned i = 0; i < c->nel;)
			if (!c->el[i].refs)
				c->el[i] = c->el[--c->nel];
			else
				i++;
	else
		clog(c, LOG_ERR, "container: window %llu: %u element(s) and %u pin(s) no window holds could not be removed "
		     "(%s); kept, deleted again with the next window's close, the kernel's timeout removes them",
		     (unsigned long long)w->id, ndel, npdel, strerror(-r));
	free(tmp);
	free(del);
	free(pdel);
}

int books_take(struct ph_daemon *d, struct ph_cwin *w, char *why, size_t whylen)
{
	struct ph_containers *c = d->containers;
	struct nr_cwin *all = calloc(2 * MAX_WIN_ELEMS, sizeof(*all)), *add = NULL;
	unsigned n[2], nadd[2] = { 0, 0 }, need;
	uint64_t now = c->ops->now(CLOCK_BOOTTIME), timeout_ms;
	int r = -ENOMEM;

	if (!all)
		goto out;
	purge(c, now);
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
