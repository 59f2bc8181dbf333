// SPDX-License-Identifier: GPL-2.0-or-later
/* The window state machine (daemon/window.c) driven through a fake firewall
 * seam: window.c is linked with this file's fw_*, watch_*, record_* and
 * event functions instead of nftables, BPF and the audit log, so every
 * transition (open, refused, audit failure, deadline, revoke, a session's
 * end) can be checked without privileges. The real firewall is tested in
 * tests/integration. */
#include "daemon.h"
#include "firewall.h"
#include "unit.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---- the fake seam ------------------------------------------------------------ */

static struct {
	int open_err;           /* what fw_window_open returns next */
	int record_err;         /* what record_window_open returns next */
	unsigned elements;      /* set elements "in the kernel" */
	uint64_t last_timeout_ms;
	unsigned opens, closes, refused, events_open, events_close, events_failed, records_close;
	uint32_t last_close_reason;
	int watched;            /* windows the kernel reports connections for */
	int close_err;          /* what fw_window_close returns next */
	uint32_t held_mark;     /* mark_hold's last call */
	uint32_t budget_tagged; /* watch_budget_tag's last budget */
	uint64_t held_until;
} fk;

int fw_window_open(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen)
{
	(void)f, (void)mark, (void)port;
	if (fk.open_err) {
		snprintf(why, whylen, "fake: refused");
		return fk.open_err;
	}
	fk.opens++;
	fk.elements++;
	fk.last_timeout_ms = timeout_ms;
	return 0;
}

int fw_window_close(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	(void)f, (void)mark, (void)port;
	fk.closes++;
	if (fk.elements)
		fk.elements--;
	*packets = 7;
	*bytes = 700;
	return fk.close_err;
}

int watch_budget_tag(struct ph_watch *ww, int pidfd, uint32_t budget)
{
	(void)ww, (void)pidfd;
	fk.budget_tagged = budget;
	return 0;
}

void mark_hold(struct ph_daemon *dd, uint32_t mark, uint64_t until_boot)
{
	(void)dd;
	fk.held_mark = mark;
	fk.held_until = until_boot;
}

unsigned fw_chains(const struct ph_fw *f, struct ph_chain_ref *out, unsigned max)
{
	(void)f, (void)out, (void)max;
	return 1;
}

int watch_window(struct ph_watch *w, uint32_t mark, uint16_t port, int open)
{
	(void)w, (void)mark, (void)port;
	fk.watched += open ? 1 : -1;
	return 0;
}

int record_window_open(struct ph_daemon *d, const struct ph_window *w, const struct ph_chain_ref *chains, unsigned n)
{
	(void)d, (void)w, (void)chains, (void)n;
	return fk.record_err;
}

void record_window_close(struct ph_daemon *d, const struct ph_window *w, uint32_t reason, uint64_t dur, uint64_t p,
			 uint64_t b)
{
	(void)d, (void)w, (void)dur, (void)p, (void)b;
	fk.records_close++;
	fk.last_close_reason = reason;
}

void record_refused(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why)
{
	(void)d, (void)uid, (void)pid, (void)request, (void)why;
	fk.refused++;
}

void session_send_event(struct ph_session *s, uint32_t kind, const struct ph_window *w, uint32_t reason, int error,
			uint64_t packets, uint64_t bytes)
{
	(void)s, (void)w, (void)reason, (void)error, (void)packets, (void)bytes;
	fk.events_open += kind == PH_EVENT_WINDOW_OPEN;
	fk.events_close += kind == PH_EVENT_WINDOW_CLOSE;
	fk.events_failed += kind == PH_EVENT_WINDOW_FAILED;
}

int control_send_error(struct ph_client *c, int code, const char *fmt, ...)
{
	(void)c, (void)code, (void)fmt;
	return 0;
}

void metrics_write(struct ph_daemon *d) { (void)d; }
void ids_save(struct ph_daemon *d) { (void)d; }
void proc_exe(pid_t pid, char *buf, size_t len) { snprintf(buf, len, "/fake/exe-%d", (int)pid); }
void log_msg(int prio, const char *fmt, ...) { (void)prio, (void)fmt; }
int log_errno(int err, const char *fmt, ...) { (void)fmt; return err; }

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
	e.ts_ns = now_ns(CLOCK_BOOTTIME);
	return e;
}

static unsigned nwindows(void)
{
	unsigned n = 0;

	for (struct ph_window *w = d.windows; w; w = w->next)
		n++;
	return n;
}

int main(void)
{
	struct ph_session run = { .kind = S_RUN, .id = 1, .mark = 0x11, .max_window = 60 };
	struct ph_session other = { .kind = S_RUN, .id = 2, .mark = 0x12, .max_window = 60 };
	struct ph_session des = { .kind = S_WATCH, .id = 3, .mark = 0x13, .max_window = 60 };
	struct ph_kevent e;
	struct ph_window *w;
	uint64_t dl;

	d.timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	d.next_window_id = 5;
	CHECK(d.timerfd >= 0, "a real CLOCK_BOOTTIME timerfd for the deadline");

	/* open */
	e = listen_ev(80, 100, 4242);
	window_open(&d, &run, &e);
	w = window_find(&d, &run, 80);
	CHECK(w && nwindows() == 1, "a listen opens one window");
	CHECK(w && w->id == 5 && d.next_window_id == 6, "it takes the next id");
	CHECK(fk.elements == 1 && fk.events_open == 1 && fk.watched == 1, "element added, client told, kernel reports its connections");
	CHECK(fk.last_timeout_ms > 59000 && fk.last_timeout_ms <= 60000, "the element's kernel timeout is max_window (%llu ms)",
	      (unsigned long long)fk.last_timeout_ms);
	CHECK(w && !strcmp(w->exe, "/fake/exe-4242"), "the window names the listener's exe");
	dl = w ? w->deadline_boot : 0;

	/* a second port of the same session shares the session's deadline */
	e = listen_ev(443, 101, 4242);
	window_open(&d, &run, &e);
	CHECK(nwindows() == 2 && window_find(&d, &run, 443) && window_find(&d, &run, 443)->deadline_boot == dl,
	      "a session's second window keeps the first one's deadline");

	/* refused by the firewall: nothing half-open */
	fk.open_err = -EPERM;
	e = listen_ev(80, 102, 4343);
	window_open(&d, &other, &e);
	fk.open_err = 0;
	CHECK(!window_find(&d, &other, 80) && fk.refused == 1 && fk.events_failed == 1, "a refused window is not open, and audited");
	CHECK(fk.watched == 2 && d.next_window_id == 7, "its early kernel report is undone; no id used");

	/* an opening nobody could audit is undone */
	fk.record_err = -EIO;
	window_open(&d, &other, &e);
	fk.record_err = 0;
	CHECK(!window_find(&d, &other, 80) && fk.elements == 2, "no audit record: the element is removed again");

	/* a session's end closes its windows and no others */
	window_open(&d, &other, &e);
	CHECK(nwindows() == 3, "another session's window");
	window_close_session(&d, &run, PH_REASON_EXITED);
	CHECK(nwindows() == 1 && window_find(&d, &other, 80) && fk.last_close_reason == PH_REASON_EXITED,
	      "ending a session closes only its windows (reason exited)");

	/* the deadline: the timer closes what is due */
	w = window_find(&d, &other, 80);
	w->deadline_boot = now_ns(CLOCK_BOOTTIME) - 1;
	window_on_timer(&d);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_DEADLINE && fk.elements == 0,
	      "past its deadline the timer closes it (reason deadline), element gone");

	/* after a session's max_window no new window, whatever it listens on */
	run.deadline_boot = now_ns(CLOCK_BOOTTIME) - 1;
	e = listen_ev(80, 103, 4242);
	window_open(&d, &run, &e);
	CHECK(nwindows() == 0 && fk.events_failed == 3, "past the session's max_window: no window (listening again does not move it)");

	/* a designated process: its first window starts its budget */
	e = listen_ev(80, 104, (uint32_t)getpid());
	window_open(&d, &des, &e);
	w = window_find(&d, &des, 80);
	dl = w ? w->deadline_boot : 0;
	CHECK(w != NULL, "a designated process's window");
	if (w)
		window_close(&d, w, PH_REASON_LISTENER_CLOSED);
	e = listen_ev(80, 105, (uint32_t)getpid());
	window_open(&d, &des, &e);
	w = window_find(&d, &des, 80);
	CHECK(w && w->deadline_boot == dl, "the same process listening again: the same deadline, no new budget");
	CHECK(fk.budget_tagged != 0, "its first window gave the process a budget id (%u) for its children", fk.budget_tagged);
	if (w)
		window_close(&d, w, PH_REASON_LISTENER_CLOSED);
	/* a child it forked (another pid) carries the budget id: the same budget */
	e = listen_ev(80, 106, (uint32_t)getppid());
	e.budget = fk.budget_tagged;
	window_open(&d, &des, &e);
	w = window_find(&d, &des, 80);
	CHECK(w && w->deadline_boot == dl, "a forked child listening again: the parent's deadline, no fresh budget");
	/* an element that cannot be removed: its mark is held back until its deadline */
	fk.close_err = -EIO;
	if (w)
		window_close(&d, w, PH_REASON_LISTENER_CLOSED);
	fk.close_err = 0;
	CHECK(fk.held_mark == des.mark && fk.held_until == dl,
	      "a window whose element delete failed: its mark held until the element's deadline");
	window_open(&d, &des, &e);
	windows_shutdown(&d);
	CHECK(nwindows() == 0 && fk.last_close_reason == PH_REASON_SHUTDOWN && fk.elements == 0 && fk.watched == 0,
	      "shutdown closes everything; nothing left in the fake kernel");
	close(d.timerfd);
	return unit_done("unit/window");
}
