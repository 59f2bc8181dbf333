// SPDX-License-Identifier: GPL-2.0-or-later
/* The window state machine, and nothing else. A window is one port opened
 * for one session: a set element (session mark . port) whose kernel timeout
 * is the hard deadline, the listening sockets it serves, counters. It opens
 * when a session's socket starts listening on one of its ports and closes
 * at the first of: its last listener closes, the session ends, the deadline,
 * `porthole close`, shutdown. Every opening and closing is audited; a window
 * whose record cannot be written is not opened. Every call outward (the
 * firewall, the kernel's reports, the audit log, the session's client, the
 * clock, /proc) goes through d->wops (window.h). */
#include "window.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define wlog(d, prio, ...) log_to((d)->wops->log, (prio), __VA_ARGS__)

static void arm_timer(struct ph_daemon *d)
{
	uint64_t earliest = 0;

	for (struct ph_window *w = d->windows; w; w = w->next)
		if (!earliest || w->deadline_boot < earliest)
			earliest = w->deadline_boot;
	d->wops->timer_arm(d, earliest);
}

struct ph_window *window_find(struct ph_daemon *d, const struct ph_session *s, uint16_t port)
{
	for (struct ph_window *w = d->windows; w; w = w->next)
		if (w->session == s && w->port == port)
			return w;
	return NULL;
}

void window_close(struct ph_daemon *d, struct ph_window *w, uint32_t reason)
{
	struct ph_window **pp;
	uint64_t packets = 0, bytes = 0, dur;

	/* the element goes first: from here nothing new is admitted */
	int r = d->wops->fw_close(d, w->session->mark, w->port, &packets, &bytes);
	if (r) {
		wlog(d, LOG_ERR, "window %llu: its set element could not be removed (%s); the kernel's timeout removes it "
			"at the deadline, and its mark is given to no one until then", (unsigned long long)w->id,
		     strerror(r < 0 ? -r : r));
		d->wops->mark_hold(d, w->session->mark, w->deadline_boot);
	}
	d->wops->watch_window(d, w->session->mark, w->port, 0);
	dur = d->wops->now(CLOCK_BOOTTIME) - w->opened_boot;
	d->wops->record_close(d, w, reason, dur, packets, bytes);
	wlog(d, LOG_NOTICE | LOG_AUDITED, "window %llu closed (%s) after %llu.%03llu s: tcp/%u, session %llu, %u connection(s), %llu packets, "
		   "%llu bytes admitted",
		   (unsigned long long)w->id, ph_reason_name(reason), (unsigned long long)(dur / NSEC_PER_SEC),
		   (unsigned long long)(dur % NSEC_PER_SEC / 1000000), w->port, (unsigned long long)w->session->id,
		   w->connections, (unsigned long long)packets, (unsigned long long)bytes);
	d->wops->session_event(w->session, PH_EVENT_WINDOW_CLOSE, w, reason, 0, packets, bytes);
	for (pp = &d->windows; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
	arm_timer(d);
	d->wops->metrics(d);
}

void window_close_session(struct ph_daemon *d, struct ph_session *s, uint32_t reason)
{
	struct ph_window *w, *next;

	for (w = d->windows; w; w = next) {
		next = w->next;
		if (w->session == s)
			window_close(d, w, reason);
	}
}

/* When this invocation of a designated process got its first window (now,
 * if this is it; then its process is given the budget's id, which its
 * later children inherit in the kernel). */
static uint64_t watch_first_window(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e,
				   uint64_t now_boot)
{
	pid_t pid = (pid_t)e->tgid;
	uint64_t start = pid > 0 ? d->wops->proc_start(pid) : 0;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(s->budget); i++) {
		if (!s->budget[i].first_boot)
			continue;
		if (e->budget ? s->budget[i].id == e->budget
			      : start && s->budget[i].pid == pid && s->budget[i].start == start)
			return s->budget[i].first_boot;
	}
	if (!start && !e->budget)
		return now_boot; /* not visible from our PID namespace: no budget to keep */
	/* the oldest entry makes room: an invocation remembered 32 windows ago */
	i = s->budget_next++ % ARRAY_SIZE(s->budget);
	if (!++d->next_budget_id)
		d->next_budget_id = 1;
	s->budget[i].id = e->budget ? e->budget : d->next_budget_id;
	s->budget[i].pid = pid;
	s->budget[i].start = start;
	s->budget[i].first_boot = now_boot;
	if (!e->budget && start)
		d->wops->budget_tag(d, pid, start, s->budget[i].id);
	return now_boot;
}

/* The deadline of a window about to open. A `porthole run` session gets
 * max_window from its first window on, for all of its windows together:
 * listening again does not move it. A designated process likewise, counted
 * from its own first window: a long-lived process cannot chain windows. */
static int window_deadline(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e, uint64_t now_boot,
			   uint64_t now_real, uint64_t *boot, uint64_t *real)
{
	uint64_t span = (uint64_t)s->max_window * NSEC_PER_SEC;

	if (s->kind == S_WATCH) {
		uint64_t first = watch_first_window(d, s, e, now_boot);
		if (first + span <= now_boot)
			return -ETIME;
		*boot = first + span;
		*real = now_real + (first + span - now_boot);
		return 0;
	}
	session_deadline_once(s, now_boot, now_real);
	if (s->deadline_boot <= now_boot)
		return -ETIME;
	*boot = s->deadline_boot;
	*real = s->deadline_real;
	return 0;
}

void window_open(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e)
{
	struct ph_chain_ref chains[PH_MAX_CHAINS];
	uint64_t now_boot = d->wops->now(CLOCK_BOOTTIME), now_real = d->wops->now(CLOCK_REALTIME);
	char why[512] = "";
	struct ph_window *w;
	unsigned nchains;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w) {
		d->wops->session_event(s, PH_EVENT_WINDOW_FAILED, NULL, 0, ENOMEM, 0, 0);
		return;
	}
	r = window_deadline(d, s, e, now_boot, now_real, &w->deadline_boot, &w->deadline_real);
	if (r) {
		wlog(d, LOG_NOTICE, "session %llu: listen on tcp/%u by pid %u after its max_window of %u s; no window",
			   (unsigned long long)s->id, e->port, e->tgid, s->max_window);
		if (s->kind == S_WATCH)
			d->wops->record_refused(d, e->uid, (pid_t)e->tgid, "window", "this designated process used up its max_window");
		d->wops->session_event(s, PH_EVENT_WINDOW_FAILED, NULL, 0, ETIME, 0, 0);
		free(w);
		return;
	}
	w->id = d->next_window_id;
	w->session = s;
	w->port = e->port;
	w->pid = (pid_t)e->tgid;
	w->uid = e->uid;
	w->family = e->family;
	w->revoked_uid = w->revoked_pid = -1;
	w->cookies[w->ncookies++] = e->cookie;
	d->wops->proc_exe(w->pid, w->exe, sizeof(w->exe));
	if (s->kind == S_WATCH || !s->exe[0])
		copy_str(s->exe, sizeof(s->exe), w->exe);

	/* report connections from the first packet the element admits */
	d->wops->watch_window(d, s->mark, w->port, 1);
	r = d->wops->fw_open(d, s->mark, w->port, (w->deadline_boot - now_boot) / 1000000, why, sizeof(why));
	if (r) {
		wlog(d, LOG_ERR, "window %llu: not opened: %s", (unsigned long long)w->id, why);
		d->wops->record_refused(d, w->uid, w->pid, "window", why);
		/* the client is told why, not only that */
		if (s->client) {
			char msg[600];
			snprintf(msg, sizeof(msg), "no window for tcp/%u: %s", w->port, why);
			d->wops->client_error(s->client, -r, msg);
		}
		goto fail;
	}
	wlog(d, LOG_DEBUG, "window %llu: element in place %llu us after the listen", (unsigned long long)w->id,
		  (unsigned long long)((d->wops->now(CLOCK_BOOTTIME) - e->ts_ns) / 1000));
	nchains = d->wops->fw_chains(d, chains, PH_MAX_CHAINS);
	w->nchains = nchains;
	w->opened_boot = now_boot;
	w->opened_real = now_real;
	/* no record, no window: an opening nobody could audit is undone */
	r = d->wops->record_open(d, w, chains, nchains);
	if (r < 0) {
		uint64_t p, b;
		d->wops->fw_close(d, s->mark, w->port, &p, &b);
		wlog(d, LOG_ERR, "window %llu: not opened, its audit record could not be written", (unsigned long long)w->id);
		goto fail;
	}
	d->next_window_id++;
	d->wops->ids_save(d);
	w->next = d->windows;
	d->windows = w;
	wlog(d, LOG_NOTICE | LOG_AUDITED, "window %llu open: tcp/%u to session %llu (pid %d %s, mark 0x%x), %u host chain(s), closes in %llu s at "
		   "the latest",
		   (unsigned long long)w->id, w->port, (unsigned long long)s->id, (int)w->pid, w->exe[0] ? w->exe : "?",
		   s->mark, nchains, (unsigned long long)((w->deadline_boot - now_boot + NSEC_PER_SEC - 1) / NSEC_PER_SEC));
	d->wops->session_event(s, PH_EVENT_WINDOW_OPEN, w, 0, 0, 0, 0);
	arm_timer(d);
	d->wops->metrics(d);
	return;
fail:
	d->wops->watch_window(d, s->mark, w->port, 0);
	d->wops->session_event(s, PH_EVENT_WINDOW_FAILED, w, 0, r, 0, 0);
	free(w);
}

void window_on_timer(struct ph_daemon *d)
{
	uint64_t now = d->wops->now(CLOCK_BOOTTIME);
	struct ph_window *w, *next;

	for (w = d->windows; w; w = next) {
		next = w->next;
		if (w->deadline_boot <= now)
			window_close(d, w, PH_REASON_DEADLINE);
	}
	arm_timer(d);
}

void windows_shutdown(struct ph_daemon *d)
{
	while (d->windows)
		window_close(d, d->windows, PH_REASON_SHUTDOWN);
}

/* ---- the verbs the kernel's reports and the control requests use ----------------------- */

int window_has_listener(const struct ph_window *w, uint64_t cookie)
{
	for (unsigned i = 0; i < w->ncookies; i++)
		if (w->cookies[i] == cookie)
			return 1;
	return 0;
}

void window_listen(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e)
{
	struct ph_window *w = window_find(d, s, e->port);

	if (!w) {
		window_open(d, s, e);
		return;
	}
	if (window_has_listener(w, e->cookie))
		return;
	if (w->ncookies < PH_MAX_LISTENERS)
		w->cookies[w->ncookies++] = e->cookie;
	else
		wlog(d, LOG_WARNING, "window %llu: too many listeners; the extra one keeps no window open", (unsigned long long)w->id);
}

void window_unlisten(struct ph_daemon *d, uint64_t cookie)
{
	for (struct ph_window *w = d->windows; w; w = w->next) {
		for (unsigned i = 0; i < w->ncookies; i++) {
			if (w->cookies[i] != cookie)
				continue;
			w->cookies[i] = w->cookies[--w->ncookies];
			if (w->ncookies == 0)
				window_close(d, w, PH_REASON_LISTENER_CLOSED);
			return;
		}
	}
}

void window_connection(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e)
{
	struct ph_window *w = window_find(d, s, e->port);

	if (!w)
		return;
	w->connections++;
	for (unsigned i = 0; i < w->npeers; i++) {
		if (w->peers[i].family == e->family && !memcmp(w->peers[i].addr, e->raddr, 16)) {
			w->peers[i].count++;
			return;
		}
	}
	if (w->npeers < PH_MAX_PEERS) {
		w->peers[w->npeers].family = e->family;
		memcpy(w->peers[w->npeers].addr, e->raddr, 16);
		w->peers[w->npeers].count = 1;
		w->npeers++;
	} else {
		w->other_peer_connections++;
	}
}

void window_keep_listeners(struct ph_daemon *d, int (*live)(void *arg, uint64_t cookie), void *arg)
{
	struct ph_window *w, *next;

	for (w = d->windows; w; w = next) {
		next = w->next;
		for (unsigned i = 0; i < w->ncookies;) {
			if (live(arg, w->cookies[i]))
				i++;
			else
				w->cookies[i] = w->cookies[--w->ncookies];
		}
		if (w->ncookies == 0)
			window_close(d, w, PH_REASON_LISTENER_CLOSED);
	}
}

void window_revoke(struct ph_daemon *d, struct ph_window *w, uid_t uid, pid_t pid)
{
	w->revoked_uid = uid;
	w->revoked_pid = pid;
	window_close(d, w, PH_REASON_REVOKED);
}
