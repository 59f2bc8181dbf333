// SPDX-License-Identifier: GPL-2.0-or-later
/* What the kernel reports, turned into the state machine's inputs: a marked
 * socket listening on a watched port (open a window for its session), its
 * listener closing (close the window with its last one), a connection
 * through a window (count it and its peer), a session's last task exiting
 * (end the session); and, kept apart (foreign.c), listeners of other
 * network namespaces.
 *
 * The ring buffer can overflow (a flood of connections through a window):
 * the kernel counts what it could not report, and when that count moves the
 * daemon reads the truth back from the kernel's own maps, the live marked
 * listeners and the live tasks of each session, instead of trusting events
 * it may have missed. */
#include "container.h"
#include "daemon.h"
#include "foreign.h"
#include "log.h"
#include "watch.h"

#include <string.h>

static int session_has_port(const struct ph_session *s, uint16_t port)
{
	for (unsigned i = 0; i < s->nports; i++)
		if (s->ports[i] == port)
			return 1;
	return 0;
}

static void on_listen(struct ph_daemon *d, const struct ph_kevent *e)
{
	struct ph_session *s = session_by_mark(d, e->mark);

	if (!s) {
		log_debug("listen on tcp/%u by pid %u with mark 0x%x: no such session", e->port, e->tgid, e->mark);
		return;
	}
	if (s->kind == S_RUN && s->uid != 0 && e->uid != s->uid) {
		/* a socket carrying a session's mark, listened on by another
		 * user's process (passed to it): not that session's window */
		log_notice("session %llu: listen on tcp/%u by uid %u, not the session's uid %u; no window",
			   (unsigned long long)s->id, e->port, e->uid, (unsigned)s->uid);
		return;
	}
	if (!session_has_port(s, e->port)) {
		log_notice("session %llu: listen on tcp/%u, a port this session may not open", (unsigned long long)s->id,
			   e->port);
		return;
	}
	window_listen(d, s, e);
}

void events_on_kernel(void *ctx, const struct ph_kevent *e)
{
	struct ph_daemon *d = ctx;
	struct ph_session *s;

	switch (e->type) {
	case PH_EV_SESSION_EMPTY:
		s = session_by_mark(d, e->mark);
		if (s && s->kind == S_RUN)
			session_end(d, s, PH_REASON_EXITED);
		return;
	case PH_EV_LISTEN:
		if (e->netns_ino == d->netns_ino)
			on_listen(d, e);
		return;
	case PH_EV_UNLISTEN:
		window_unlisten(d, e->cookie);
		return;
	case PH_EV_ACCEPT:
		s = session_by_mark(d, e->mark);
		if (s)
			window_connection(d, s, e);
		return;
	case PH_EV_FOREIGN_LISTEN:
	case PH_EV_FOREIGN_UNLISTEN:
		/* (watch.c hands these only from the foreign ring, whole) */
		foreign_on_event(d->foreign, (const struct ph_kforeign *)e);
		return;
	}
}

/* ---- resynchronising after lost events ------------------------------------------------ */

struct live {
	struct ph_daemon *d;
	uint64_t cookie; /* the listener being looked for */
	int found;
};

static void listener_cb(void *arg, uint64_t cookie, const struct ph_listener *l)
{
	struct live *lv = arg;

	(void)l;
	lv->found |= cookie == lv->cookie;
}

static int listener_live(void *arg, uint64_t cookie)
{
	struct live lv = { arg, cookie, 0 };

	watch_listeners(lv.d->watch, listener_cb, &lv);
	return lv.found;
}

struct reopen {
	struct ph_daemon *d;
};

/* a listener we never heard of: its LISTEN event was lost */
static void missed_listen_cb(void *arg, uint64_t cookie, const struct ph_listener *l)
{
	struct reopen *ro = arg;
	struct ph_session *s = session_by_mark(ro->d, l->mark);
	struct ph_kevent e = { 0 };
	struct ph_window *w;

	if (!s)
		return;
	w = window_find(ro->d, s, l->port);
	if (w && window_has_listener(w, cookie))
		return;
	e.type = PH_EV_LISTEN;
	e.cookie = cookie;
	e.tgid = l->tgid;
	e.uid = l->uid;
	e.family = l->family;
	e.port = l->port;
	e.mark = l->mark;
	e.netns_ino = ro->d->netns_ino;
	on_listen(ro->d, &e);
}

void events_check_lost(struct ph_daemon *d)
{
	uint64_t lost = watch_lost_events(d->watch);
	struct ph_session *s, *snext;

	foreign_check_lost(d->foreign, d->watch);
	containers_census_run(d); /* (the table as complete as the ring makes it) */
	if (lost == d->lost_seen)
		return;
	log_warn("bpf: %llu kernel event(s) could not be reported (ring buffer full); rereading the kernel's state",
		 (unsigned long long)(lost - d->lost_seen));
	d->lost_seen = lost;
	/* listeners that closed unseen: keep only the cookies still live */
	window_keep_listeners(d, listener_live, d);
	/* sessions whose last task exited unseen */
	for (s = d->sessions; s; s = snext) {
		snext = s->next;
		if (s->kind == S_RUN && watch_session_tasks(d->watch, s->mark) == 0)
			session_end(d, s, PH_REASON_EXITED);
	}
	/* listeners that started unseen */
	{
		struct reopen ro = { d };
		watch_listeners(d->watch, missed_listen_cb, &ro);
	}
}
