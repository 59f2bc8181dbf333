// SPDX-License-Identifier: GPL-2.0-or-later
/* The window state machine (daemon/window.c) driven through its one seam:
 * a fake struct ph_window_ops (window.h) stands for the firewall, the
 * kernel's reports, the audit log, the session's client, /proc and the
 * clock, so every transition (open, refused, audit failure, deadline,
 * listeners, connections, revoke, a session's end) is checked without
 * privileges on the calls the state machine made, its log lines included.
 * Nothing is replaced at link time. The real firewall is
 * tested in tests/integration. */
#include "daemon.h"
#include "unit.h"
#include "fakes.h"
#include "util.h"
#include "log.h"
#include "window.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the fake seam ------------------------------------------------------------ */

static struct {
	int open_err;           /* what fw_open returns next */
	int record_err;         /* what record_open returns next */
	int close_err;          /* what fw_close returns next */
	unsigned elements;      /* set elements "in the kernel" */
	uint64_t last_timeout_ms;
	unsigned opens, closes, refused, events_open, events_close, events_failed, records_close, client_errors;
	unsigned ids_saved;
	uint32_t last_close_reason;
	int watched;            /* windows the kernel reports connections for */
	uint32_t held_mark;     /* mark_hold's last call */
	uint64_t held_until;
	uint32_t budget_tagged; /* budget_tag's last budget */
	pid_t budget_pid;
	char last_refusal[512], last_client_error[600];
	const struct ph_window *closed; /* record_close's window */
	int64_t closed_revoked_uid;
} fk;


static int f_fw_open(struct ph_daemon *dd, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why, size_t len)
{
	(void)dd, (void)mark, (void)port;
	if (fk.open_err) {
		snprintf(why, len, "fake: refused");
		return fk.open_err;
	}
	fk.opens++;
	fk.elements++;
	fk.last_timeout_ms = timeout_ms;
	return 0;
}

static int f_fw_close(struct ph_daemon *dd, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	(void)dd, (void)mark, (void)port;
	fk.closes++;
	if (fk.elements)
		fk.elements--;
	*packets = 7;
	*bytes = 700;
	return fk.close_err;
}

static unsigned f_fw_chains(struct ph_daemon *dd, struct ph_chain_ref *out, unsigned max)
{
	(void)dd, (void)out, (void)max;
	return 1;
}

static void f_watch(struct ph_daemon *dd, uint32_t mark, uint16_t port, int open)
{
	(void)dd, (void)mark, (void)port;
	fk.watched += open ? 1 : -1;
}

/* every pid below 1000 "runs", started at 100 + pid */
static uint64_t f_proc_start(pid_t pid) { return pid > 0 && pid < 1000 ? 100 + (uint64_t)pid : 0; }
static void f_proc_exe(pid_t pid, char *buf, size_t len) { snprintf(buf, len, "/fake/exe-%d", (int)pid); }

static void f_budget_tag(struct ph_daemon *dd, pid_t pid, uint64_t start, uint32_t budget)
{
	(void)dd, (void)start;
	fk.budget_pid = pid;
	fk.budget_tagged = budget;
}

static void f_mark_hold(struct ph_daemon *dd, uint32_t mark, uint64_t until)
{
	(void)dd;
	fk.held_mark = mark;
	fk.held_until = until;
}

static int f_record_open(struct ph_daemon *dd, const struct ph_window *w, const struct ph_chain_ref *c, unsigned n)
{
	(void)dd, (void)w, (void)c, (void)n;
	return fk.record_err;
}

static void f_record_close(struct ph_daemon *dd, const struct ph_window *w, uint32_t reason, uint64_t dur,
			   uint64_t p, uint64_t b)
{
	(void)dd, (void)dur, (void)p, (void)b;
	fk.records_close++;
	fk.last_close_reason = reason;
	fk.closed = w;
	fk.closed_revoked_uid = w->revoked_uid;
}

static void f_record_refused(struct ph_daemon *dd, uid_t uid, pid_t pid, const char *request, const char *why)
{
	(void)dd, (void)uid, (void)pid, (void)request;
	fk.refused++;
	snprintf(fk.last_refusal, sizeof(fk.last_refusal), "%s", why);
}

static void f_session_event(struct ph_session *s, uint32_t kind, const struct ph_window *w, uint32_t reason, int error,
			    uint64_t packets, uint64_t bytes)
{
	(void)s, (void)w, (void)reason, (void)error, (void)packets, (void)bytes;
	fk.events_open += kind == PH_EVENT_WINDOW_OPEN;
	fk.events_close += kind == PH_EVENT_WINDOW_CLOSE;
	fk.events_failed += kind == PH_EVENT_WINDOW_FAILED;
}

static void f_client_error(struct ph_client *c, int code, const char *msg)
{
	(void)c, (void)code;
	fk.client_errors++;
	snprintf(fk.last_client_error, sizeof(fk.last_client_error), "%s", msg);
}

static void f_ids_save(struct ph_daemon *dd) { (void)dd; fk.ids_saved++; }
static void f_metrics(struct ph_daemon *dd) { (void)dd; }

static const struct ph_window_ops fake_ops = {
	.log = f_log, .now = f_now, .timer_arm = f_timer_arm, .fw_open = f_fw_open, .fw_close = f_fw_close,
	.fw_chains = f_fw_chains, .watch_window = f_watch, .proc_start = f_proc_start, .proc_exe = f_proc_exe,
	.budget_tag = f_budget_tag, .mark_hold = f_mark_hold, .record_open = f_record_open,
	.record_close = f_record_close, .record_refused = f_record_refused, .session_event = f_session_event,
	.client_error = f_client_error, .ids_save = f_ids_save, .metrics = f_metrics,
};


/* ---- helpers --------------------------------------------------------------------- */

static struct ph_daemon d;

static struct ph_kevent listen_ev(uint16_t port, uint64_t cookie, uint32_t pid)
{
	struct ph_kevent e = { 0 };

	e.type = PH_EV_LISTEN;
	e.port = port;
	e.cookie = cookie;
	e.tgid = pid;
	e.family = 2;
	e.ts_ns = ft.boot;
	return e;
}

static unsigned nwindows(void)
{
	unsigned n = 0;

	for (struct ph_window *w = d.windows; w; w = w->next)
		n++;
	return n;
}

static uint64_t live_cookie;
static int live_one(void *arg, uint64_t cookie) { (void)arg; return cookie == live_cookie; }

int main(void)
{
	struct ph_session run = { .kind = S_RUN, .id = 1, .mark = 0x11, .max_window = 60 };
	struct ph_session other = { .kind = S_RUN, .id = 2, .mark = 0x12, .max_window = 60 };
	struct ph_session des = { .kind = S_WATCH, .id = 3, .mark = 0x13, .max_window = 60 };
	struct ph_client *client = (struct ph_client *)&other; /* only its address is passed on */
	struct ph_kevent e;
	struct ph_window *w;
	uint64_t dl;

	ft.boot = 1000 * NSEC_PER_SEC;
	ft.real = 1700000000 * NSEC_PER_SEC;
	d.wops = &fake_ops;
	d.next_window_id = 5;

	/* open */
	e = listen_ev(80, 100, 424);
	window_listen(&d, &run, &e);
	w = window_find(&d, &run, 80);
	CHECK(w && nwindows() == 1, "a listen opens one window");
	CHECK(w && w->id == 5 && d.next_window_id == 6 && fk.ids_saved == 1, "it takes the next id, saved");
	CHECK(fk.elements == 1 && fk.events_open == 1 && fk.watched == 1, "element added, client told, kernel reports its connections");
	CHECK(fk.last_timeout_ms == 60000, "the element's kernel timeout is max_window (%llu ms)",
	      (unsigned long long)fk.last_timeout_ms);
	CHECK(w && w->deadline_boot == ft.boot + 60 * NSEC_PER_SEC && ft.timer == w->deadline_boot,
	      "the deadline timer is armed at the window's deadline");
	CHECK(w && !strcmp(w->exe, "/fake/exe-424") && !strcmp(run.exe, "/fake/exe-424"),
	      "the window (and the session) name the listener's exe");
	dl = w ? w->deadline_boot : 0;

	/* listeners: a second one of the same port keeps the window; the last one closes it */
	e = listen_ev(80, 107, 424);
	window_listen(&d, &run, &e);
	window_listen(&d, &run, &e);
	CHECK(nwindows() == 1 && w && w->ncookies == 2 && fk.opens == 1, "a second listener joins the window, once");
	CHECK(ft.logged[LOG_NOTICE] == 1 && strstr(ft.last_log, "window 5 open: tcp/80 to session 1 (pid 424 /fake/exe-424"),
	      "its opening logged once at LOG_NOTICE (%s)", ft.last_log);
	window_unlisten(&d, 100);
	CHECK(window_find(&d, &run, 80) && fk.records_close == 0, "one listener closing leaves the window open");

	/* connections through it: counted, each peer once */
	e = listen_ev(80, 0, 0);
	e.type = PH_EV_ACCEPT;
	e.raddr[0] = 192, e.raddr[3] = 1;
	window_connection(&d, &run, &e);
	window_connection(&d, &run, &e);
	e.raddr[3] = 2;
	window_connection(&d, &run, &e);
	CHECK(w && w->connections == 3 && w->npeers == 2 && w->peers[0].count == 2, "3 connections from 2 peers counted");

	/* a second port of the same session shares the session's deadline */
	ft.boot += 10 * NSEC_PER_SEC;
	e = listen_ev(443, 101, 424);
	window_listen(&d, &run, &e);
	CHECK(nwindows() == 2 && window_find(&d, &run, 443) && window_find(&d, &run, 443)->deadline_boot == dl,
	      "a session's second window keeps the first one's deadline");
	CHECK(fk.last_timeout_ms == 50000, "its element's timeout is what is left (%llu ms)",
	      (unsigned long long)fk.last_timeout_ms);

	/* the last listener closing closes the window */
	window_unlisten(&d, 107);
	CHECK(!window_find(&d, &run, 80) && fk.last_close_reason == PH_REASON_LISTENER_CLOSED && fk.events_close == 1,
	      "its last listener closing closes it (reason listener-closed)");

	/* refused by the firewall: nothing half-open, the client told why */
	other.client = client;
	fk.open_err = -EPERM;
	e = listen_ev(80, 102, 434);
	window_listen(&d, &other, &e);
	fk.open_err = 0;
	CHECK(!window_find(&d, &other, 80) && fk.refused == 1 && fk.events_failed == 1 &&
	      !strcmp(fk.last_refusal, "fake: refused"), "a refused window is not open, and audited with the reason");
	CHECK(ft.logged[LOG_ERR] == 1 && !strcmp(ft.last_log, "window 7: not opened: fake: refused"),
	      "and logged once, at LOG_ERR (%s)", ft.last_log);
	CHECK(fk.client_errors == 1 && !strcmp(fk.last_client_error, "no window for tcp/80: fake: refused"),
	      "its client is told why (%s)", fk.last_client_error);
	CHECK(fk.watched == 1 && d.next_window_id == 7, "its early kernel report is undone; no id used");
	other.client = NULL;

	/* an opening nobody could audit is undone */
	fk.record_err = -EIO;
	window_listen(&d, &other, &e);
	fk.record_err = 0;
	CHECK(!window_find(&d, &other, 80) && fk.elements == 1 && fk.events_failed == 2,
	      "no audit record: the element is removed again");

	/* a session's end closes its windows and no others */
	window_listen(&d, &other, &e);
	CHECK(nwindows() == 2, "another session's window");
	window_close_session(&d, &run, PH_REASON_EXITED);
	CHECK(nwindows() == 1 && window_find(&d, &other, 80) && fk.last_close_reason == PH_REASON_EXITED,
	      "ending a session closes only its windows (reason exited)");

	/* after lost events: only the listeners still live are kept */
	e = listen_ev(80, 108, 434);
	window_listen(&d, &other, &e);
	live_cookie = 108;
	window_keep_listeners(&d, live_one, NULL);
	w = window_find(&d, &other, 80);
	CHECK(w && w->ncookies == 1 && window_has_listener(w, 108) && !window_has_listener(w, 102),
	      "a resync drops the listeners that closed unseen");
	live_cookie = 0;
	window_keep_listeners(&d, live_one, NULL);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_LISTENER_CLOSED, "and closes a window with none left");

	/* the deadline: the timer closes what is due */
	e = listen_ev(80, 109, 434);
	window_listen(&d, &other, &e);
	w = window_find(&d, &other, 80);
	ft.boot = w ? w->deadline_boot - 1 : 0;
	window_on_timer(&d);
	CHECK(nwindows() == 1, "before its deadline the timer closes nothing");
	ft.boot++;
	window_on_timer(&d);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_DEADLINE && fk.elements == 0 && ft.timer == 0,
	      "at its deadline the timer closes it (reason deadline), element gone, timer disarmed");

	/* after a session's max_window no new window, whatever it listens on */
	e = listen_ev(80, 103, 424);
	window_listen(&d, &run, &e);
	CHECK(nwindows() == 0 && fk.events_failed == 3 && fk.opens == 5,
	      "past the session's max_window: no window, nothing asked of the firewall");

	/* revoked: closed, and the record names who */
	other.deadline_boot = 0;
	e = listen_ev(80, 110, 434);
	window_listen(&d, &other, &e);
	w = window_find(&d, &other, 80);
	if (w)
		window_revoke(&d, w, 1000, 77);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_REVOKED && fk.closed_revoked_uid == 1000,
	      "porthole close: closed (reason revoked), the record names the uid");

	/* a designated process: its first window starts its budget */
	e = listen_ev(80, 104, 500);
	window_listen(&d, &des, &e);
	w = window_find(&d, &des, 80);
	dl = w ? w->deadline_boot : 0;
	CHECK(w != NULL && fk.budget_pid == 500 && fk.budget_tagged != 0,
	      "a designated process's window; the process is given a budget id (%u) for its children", fk.budget_tagged);
	if (w)
		window_close(&d, w, PH_REASON_LISTENER_CLOSED);
	ft.boot += 5 * NSEC_PER_SEC;
	e = listen_ev(80, 105, 500);
	window_listen(&d, &des, &e);
	w = window_find(&d, &des, 80);
	CHECK(w && w->deadline_boot == dl, "the same process listening again: the same deadline, no new budget");
	if (w)
		window_close(&d, w, PH_REASON_LISTENER_CLOSED);
	/* a child it forked (another pid) carries the budget id: the same budget */
	e = listen_ev(80, 106, 501);
	e.budget = fk.budget_tagged;
	window_listen(&d, &des, &e);
	w = window_find(&d, &des, 80);
	CHECK(w && w->deadline_boot == dl, "a forked child listening again: the parent's deadline, no fresh budget");
	/* an element that cannot be removed: its mark is held back until its deadline */
	fk.close_err = -EIO;
	{
		unsigned errs = ft.logged[LOG_ERR];
		if (w)
			window_close(&d, w, PH_REASON_LISTENER_CLOSED);
		CHECK(ft.logged[LOG_ERR] == errs + 1, "a failed element delete: said once, at LOG_ERR, by the state machine");
	}
	fk.close_err = 0;
	CHECK(fk.held_mark == des.mark && fk.held_until == dl,
	      "a window whose element delete failed: its mark held until the element's deadline");
	/* the designated process past its budget: refused and audited */
	ft.boot = dl;
	e = listen_ev(80, 111, 500);
	window_listen(&d, &des, &e);
	CHECK(nwindows() == 0 && !strcmp(fk.last_refusal, "this designated process used up its max_window"),
	      "a designated process past its max_window: refused, audited");
	ft.boot = dl - NSEC_PER_SEC;
	window_listen(&d, &des, &e);
	window_listen(&d, &other, &e);
	windows_shutdown(&d);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_SHUTDOWN && fk.elements == 0 && fk.watched == 0,
	      "shutdown closes everything; nothing left in the fake kernel");
	return unit_done("unit/window");
}
