// SPDX-License-Identifier: GPL-2.0-or-later
/* The server-window state machine (daemon/server.c) driven through its one
 * seam: a fake struct ph_server_ops (server.h) stands for the served
 * cgroup, the firewall, the guard, the tokens, the audit log, the clock and
 * the timer, so every transition (a token appears, tokens gone, deadline,
 * server gone and back, a session's window and its bound, always-open,
 * refusals recorded once, the guard's rate limiter, shutdown) is checked
 * without privileges on the calls the state machine made, its log lines
 * included. Nothing is replaced at link time. The real thing is
 * tests/integration/test_server.sh. */
#include "daemon.h"
#include "server.h"
#include "unit.h"
#include "fakes.h"
#include "util.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the fake seam ------------------------------------------------------------ */

#define NTOK 8

static struct {
	uint64_t cgid;               /* the served cgroup now (0: none) */
	int running;
	int listen_err, record_err;
	int fw_err_port;             /* fw_open fails for this port */
	unsigned elements;           /* set elements "in the kernel" */
	unsigned fw_opens, fw_closes;
	uint64_t fw_cgid, fw_timeout_ms;
	unsigned fw_level;
	int attached;                /* the guard */
	unsigned armed;              /* guard_server: servers armed */
	uint32_t armed_flags;
	unsigned guard_ends, end_guarded;
	uint64_t adm, drop;          /* the guard's counters */
	char tokens[NTOK][PH_TOKEN_MAX + 1]; /* in the webroot */
	unsigned ntokens;
	unsigned in_map;             /* tokens in the guard's map */
	unsigned unwatched;
	unsigned records_open, records_close, refused, guards, suppressed_records;
	uint32_t close_reason;
	uint64_t close_adm, close_drop, suppressed;
	char refusal[700];
	unsigned ids_saved;
} fk;

static uint64_t f_cgroup_id(struct ph_daemon *d, unsigned i) { (void)d, (void)i; return fk.cgid; }
static int f_running(struct ph_daemon *d, unsigned i) { (void)d, (void)i; return fk.running; }

static int f_listens(struct ph_daemon *d, unsigned i, uint64_t cgid, char *err, size_t errlen)
{
	(void)d, (void)i, (void)cgid;
	if (fk.listen_err)
		snprintf(err, errlen, "fake: nothing listens");
	return fk.listen_err;
}

static int f_fw_open(struct ph_daemon *d, unsigned i, uint64_t cgid, unsigned level, uint16_t port, uint64_t timeout_ms,
		     char *why, size_t whylen)
{
	(void)d, (void)i;
	if (port == fk.fw_err_port) {
		snprintf(why, whylen, "fake: nftables said no");
		return -EPERM;
	}
	fk.fw_opens++;
	fk.elements++;
	fk.fw_cgid = cgid;
	fk.fw_level = level;
	fk.fw_timeout_ms = timeout_ms;
	return 0;
}

static void f_fw_close(struct ph_daemon *d, unsigned i, uint64_t cgid, uint16_t port)
{
	(void)d, (void)i, (void)cgid, (void)port;
	fk.fw_closes++;
	if (fk.elements)
		fk.elements--;
}

static unsigned f_fw_guard_rules(struct ph_daemon *d) { (void)d; return 1; }
static int f_guard_attach(struct ph_daemon *d, int on) { (void)d; fk.attached = on; return 0; }

static int f_guard_server(struct ph_daemon *d, uint64_t cgid, unsigned i, uint32_t flags, int on)
{
	(void)d, (void)cgid, (void)i;
	if (on) {
		fk.armed++;
		fk.armed_flags = flags;
	} else if (fk.armed) {
		fk.armed--;
	}
	return 0;
}

static void f_guard_stats(struct ph_daemon *d, unsigned i, uint64_t *adm, uint64_t *drop)
{
	(void)d, (void)i;
	*adm = fk.adm;
	*drop = fk.drop;
}

static int f_guard_token(struct ph_daemon *d, unsigned i, const char *t, int on)
{
	(void)d, (void)i, (void)t;
	if (on)
		fk.in_map++;
	else if (fk.in_map)
		fk.in_map--;
	return 0;
}

static int f_guard_end(struct ph_daemon *d, unsigned *ended) { (void)d; *ended = 0; fk.guard_ends++; return 0; }
static void f_end_guarded(struct ph_daemon *d, const char *when) { (void)d, (void)when; fk.end_guarded++; }
static int f_tokens_source(struct ph_daemon *d, unsigned i) { return d->cfg.srv[i].webroot[0] != 0; }

static void f_tokens_read(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n)
{
	(void)d, (void)i;
	for (*n = 0; *n < fk.ntokens; (*n)++)
		memcpy(now[*n], fk.tokens[*n], sizeof(fk.tokens[0]));
}

static void f_tokens_unwatch(struct ph_daemon *d, unsigned i) { (void)d, (void)i; fk.unwatched++; }

static int f_record_open(struct ph_daemon *d, unsigned i)
{
	(void)d, (void)i;
	fk.records_open += !fk.record_err;
	return fk.record_err;
}

static void f_record_close(struct ph_daemon *d, unsigned i, uint32_t reason, uint64_t dur, uint64_t adm, uint64_t drop)
{
	(void)d, (void)i, (void)dur;
	fk.records_close++;
	fk.close_reason = reason;
	fk.close_adm = adm;
	fk.close_drop = drop;
}

static void f_record_refused(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why)
{
	(void)d, (void)uid, (void)pid, (void)request;
	fk.refused++;
	snprintf(fk.refusal, sizeof(fk.refusal), "%s", why);
}

static void f_record_guard(struct ph_daemon *d, const struct ph_guard_event *e) { (void)d, (void)e; fk.guards++; }

static void f_record_suppressed(struct ph_daemon *d, uint64_t n)
{
	(void)d;
	fk.suppressed_records++;
	fk.suppressed = n;
}

static void f_ids_save(struct ph_daemon *d) { (void)d; fk.ids_saved++; }
static void f_metrics(struct ph_daemon *d) { (void)d; }

static const struct ph_server_ops fake_ops = {
	.log = f_log, .now = f_now, .timer_arm = f_timer_arm, .cgroup_id = f_cgroup_id, .running = f_running,
	.listens = f_listens, .fw_open = f_fw_open, .fw_close = f_fw_close, .fw_guard_rules = f_fw_guard_rules,
	.guard_attach = f_guard_attach, .guard_server = f_guard_server, .guard_stats = f_guard_stats,
	.guard_token = f_guard_token, .guard_end = f_guard_end, .end_guarded = f_end_guarded,
	.tokens_source = f_tokens_source, .tokens_read = f_tokens_read, .tokens_unwatch = f_tokens_unwatch,
	.record_open = f_record_open, .record_close = f_record_close, .record_refused = f_record_refused,
	.record_guard = f_record_guard, .record_suppressed = f_record_suppressed, .ids_save = f_ids_save,
	.metrics = f_metrics,
};


/* ---- helpers --------------------------------------------------------------------- */

static struct ph_daemon d;

static void tokens_set(unsigned n)
{
	fk.ntokens = n;
	for (unsigned k = 0; k < n; k++)
		snprintf(fk.tokens[k], sizeof(fk.tokens[k]), "tok%u_abcdefghijklmnop", k);
	server_tokens_changed(&d, 0);
}

static void tick(uint64_t ns)
{
	ft.boot += ns;
	ft.real += ns;
	servers_on_timer(&d);
}

static void serve_line(unsigned i, const char *arg, const char *webroot, int always)
{
	struct ph_server *sv = &d.cfg.srv[i];

	sv->type = DES_UNIT;
	snprintf(sv->arg, sizeof(sv->arg), "%s", arg);
	snprintf(sv->cgroup, sizeof(sv->cgroup), "/system.slice/%s", arg);
	snprintf(sv->webroot, sizeof(sv->webroot), "%s", webroot);
	sv->always = always;
	sv->ports[0] = 80;
	sv->nports = 1;
}

int main(void)
{
	const struct ph_srvwin *w;
	struct ph_session s = { .kind = S_RUN, .id = 9, .uid = 1000, .pid = 77, .max_window = 600 };
	struct ph_guard_event drop = { 0 }, adm = { .admitted = 1 };
	char err[512];
	uint64_t dl;
	unsigned refused, n;
	int r;

	ft.boot = 1000 * NSEC_PER_SEC;
	ft.real = 1700000000 * NSEC_PER_SEC;
	fk.cgid = 4242;
	fk.running = 1;
	d.cfg.max_window = 60;
	d.cfg.nsrv = 1;
	serve_line(0, "nginx.service", "/srv/www", 0);
	d.gk = (struct ph_guardbpf *)&d; /* loaded: only compared with NULL here */
	d.next_window_id = 10;
	CHECK(servers_init(&d, &fake_ops) == 0, "the server module's state");
	w = server_window(&d, 0);

	/* start: no token, no window */
	servers_start(&d);
	CHECK(!w->open && fk.fw_opens == 0 && fk.end_guarded == 1,
	      "start without a token: no window; what an earlier daemon's windows admitted is ended");

	/* a token appears: the window opens */
	tokens_set(1);
	CHECK(w->open && w->id == 10 && d.next_window_id == 11 && fk.ids_saved == 1 && fk.records_open == 1,
	      "a token appears: window 10 opens, audited, the id saved");
	CHECK(fk.fw_opens == 1 && fk.fw_cgid == 4242 && fk.fw_level == 2 && fk.fw_timeout_ms == 60000,
	      "its element: the served cgroup (id 4242, level 2), timeout max_window (%llu ms)",
	      (unsigned long long)fk.fw_timeout_ms);
	CHECK(w->deadline_boot == ft.boot + 60 * NSEC_PER_SEC && !strcmp(w->why, "tokens"),
	      "its deadline is max_window from now, why \"tokens\"");
	CHECK(fk.attached && fk.armed == 1 && fk.armed_flags == (PH_SRV_OPEN | PH_SRV_TOKENS) && fk.in_map == 1,
	      "the guard attached, armed for tokens only, the token in its map");
	CHECK(ft.timer == ft.boot + 5 * NSEC_PER_SEC, "the timer looks again in 5 s (before the deadline)");

	/* a second token: the same window */
	tokens_set(2);
	CHECK(fk.fw_opens == 1 && fk.in_map == 2 && w->ntokens == 2, "a second token: in the map, no second window");

	/* tokens gone: it closes */
	fk.adm = 3, fk.drop = 2;
	tokens_set(0);
	CHECK(!w->open && fk.close_reason == PH_REASON_TOKENS_GONE && fk.records_close == 1,
	      "the tokens gone: it closes (reason tokens-gone), audited");
	CHECK(fk.close_adm == 3 && fk.close_drop == 2, "its close record counts the guard's requests since it opened");
	CHECK(fk.elements == 0 && fk.in_map == 0 && fk.armed == 0, "element, tokens and the guard's arming removed");
	CHECK(!fk.attached && fk.guard_ends == 1 && fk.end_guarded == 2,
	      "no server window left: the judged connections ended, the guard detached");

	/* the server not running: refused once, not at every retry */
	fk.running = 0;
	tokens_set(1);
	CHECK(!w->open && fk.refused == 1 && strstr(fk.refusal, "is not running"),
	      "a token while the server is not running: refused, recorded (%s)", fk.refusal);
	CHECK(ft.logged[LOG_ERR] == 1 && !strcmp(ft.last_log, "server nginx.service: nginx.service (cgroup "
	      "/system.slice/nginx.service) is not running: no window to it"), "and logged once (%s)", ft.last_log);
	tick(5 * NSEC_PER_SEC);
	tick(5 * NSEC_PER_SEC);
	tokens_set(1);
	CHECK(fk.refused == 1 && ft.logged[LOG_ERR] == 1, "the retries (timer, token events) record and log nothing more");
	fk.running = 1;
	tick(NSEC_PER_SEC);
	CHECK(w->open && fk.fw_opens == 2, "the server runs again: the waiting token opens the window");
	CHECK(w->last_refusal[0] == '\0', "an opening forgets the last refusal");

	/* the deadline: closed, and the same tokens do not open it again */
	dl = w->deadline_boot;
	ft.boot = dl - 1;
	servers_on_timer(&d);
	CHECK(w->open, "before its deadline it stays open");
	tick(1);
	CHECK(!w->open && fk.close_reason == PH_REASON_DEADLINE, "at its deadline it closes (reason deadline)");
	tick(5 * NSEC_PER_SEC);
	tokens_set(1);
	CHECK(!w->open && fk.fw_opens == 2, "the tokens that had their window do not open it again");
	tokens_set(2);
	CHECK(w->open && fk.fw_opens == 3, "a new token does");

	/* the server restarts (a new cgroup): closed, and open to the new one */
	fk.cgid = 4343;
	servers_cgroup_moved(&d, 1u << 0);
	CHECK(fk.close_reason == PH_REASON_SERVER_GONE, "its cgroup made anew: closed (reason server-gone)");
	CHECK(w->open && fk.fw_cgid == 4343 && fk.fw_opens == 4, "the tokens still there: a window to the new cgroup");
	CHECK(ft.timer == ft.boot + 200 * 1000000ull, "for a few seconds after a restart it looks every 200 ms");
	fk.cgid = 0;
	tick(NSEC_PER_SEC);
	CHECK(!w->open && fk.close_reason == PH_REASON_SERVER_GONE, "its cgroup gone: closed (reason server-gone)");
	fk.cgid = 4444;
	tick(NSEC_PER_SEC);
	CHECK(w->open && fk.fw_cgid == 4444, "it comes back: opened again for the tokens");

	/* porthole close: closed, and the tokens there do not reopen it */
	server_revoke(&d, 0);
	tick(5 * NSEC_PER_SEC);
	CHECK(!w->open && fk.close_reason == PH_REASON_REVOKED && fk.fw_opens == 5,
	      "revoked: closed (reason revoked), not reopened by the same tokens");
	tokens_set(0);

	/* a run --serve session: its deadline, bounded by max_window */
	s.deadline_boot = ft.boot + 600 * NSEC_PER_SEC;
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(r == 0 && w->session == &s && w->id == 15 && fk.fw_timeout_ms == 60000,
	      "a session with 600 s left: its window bounded by max_window (%llu ms)", (unsigned long long)fk.fw_timeout_ms);
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(r == -EBUSY && strstr(err, "open already"), "a second one while it is open: refused (%s)", err);
	servers_session_end(&d, &s);
	CHECK(!w->open && fk.close_reason == PH_REASON_EXITED && fk.unwatched == 0,
	      "the session ends: closed (reason exited); the serve line's own webroot stays watched");
	s.deadline_boot = ft.boot + 10 * NSEC_PER_SEC;
	server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(w->open && fk.fw_timeout_ms == 10000 && w->deadline_boot == s.deadline_boot,
	      "a session with 10 s left: the window ends with the session's deadline");
	servers_session_end(&d, &s);
	d.cfg.srv[0].max_window = 30;
	s.deadline_boot = ft.boot + 600 * NSEC_PER_SEC;
	server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(w->open && fk.fw_timeout_ms == 30000, "the serve line's own max_window bounds it (30 s)");
	servers_session_end(&d, &s);
	d.cfg.srv[0].max_window = 0;
	s.deadline_boot = ft.boot;
	refused = fk.refused;
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(r == -ETIME && !w->open && fk.refused == refused, "a session past its max_window: no window (-ETIME)");

	/* refusals: nothing half-open, each one recorded */
	fk.listen_err = -ENOTCONN;
	r = server_open(&d, 0, "session", &(struct ph_session){ .uid = 1000, .pid = 78 }, err, sizeof(err));
	fk.listen_err = 0;
	CHECK(r == -ENOTCONN && fk.refused == refused + 1 && !strcmp(fk.refusal, "fake: nothing listens"),
	      "nothing listens: refused with the reason");
	s.deadline_boot = 0;
	d.cfg.srv[0].ports[1] = 8080;
	d.cfg.srv[0].nports = 2;
	fk.fw_err_port = 8080;
	n = fk.elements;
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	CHECK(r == -EPERM && !w->open && fk.elements == n && fk.armed == 0 && !fk.attached,
	      "the firewall refuses the second port: the first one's element removed, the guard disarmed and detached");
	CHECK(!strcmp(fk.refusal, "no window: fake: nftables said no"), "recorded: %s", fk.refusal);
	fk.fw_err_port = 0;
	d.cfg.srv[0].nports = 1;
	fk.record_err = -EIO;
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	fk.record_err = 0;
	CHECK(r == -EIO && !w->open && fk.elements == n && d.next_window_id == 18,
	      "no audit record: no window, the element removed, no id used");
	d.gk = NULL;
	r = server_open(&d, 0, "session", &s, err, sizeof(err));
	d.gk = (struct ph_guardbpf *)&d;
	CHECK(r == -ENOTSUP && strstr(err, "not available on this kernel"), "no guard on this kernel: refused (%s)", err);

	/* always: opened at start, no deadline; not running is no refusal */
	d.cfg.nsrv = 2;
	serve_line(1, "caddy.service", "", 1);
	refused = fk.refused;
	fk.running = 0;
	servers_start(&d);
	CHECK(!server_window(&d, 1)->open && fk.refused == refused, "an always server not running: waited for, no refusal");
	fk.running = 1;
	tick(5 * NSEC_PER_SEC);
	CHECK(server_window(&d, 1)->open && fk.fw_timeout_ms == 0 && server_window(&d, 1)->deadline_boot == 0 &&
	      fk.armed_flags == PH_SRV_OPEN, "it runs: its window opens, no deadline, no token check");
	tick(3600 * NSEC_PER_SEC);
	CHECK(server_window(&d, 1)->open, "an hour later it is still open");

	/* the guard's reports: every admitted one recorded, dropped ones at most 50 a second */
	n = fk.guards;
	for (unsigned k = 0; k < 60; k++)
		servers_on_guard(&d, &drop);
	servers_on_guard(&d, &adm);
	CHECK(fk.guards == n + GUARD_DROPS_PER_S + 1 && fk.suppressed_records == 0,
	      "60 dropped requests in one second: 50 recorded (and the admitted one), the rest counted");
	ft.boot += NSEC_PER_SEC;
	servers_on_guard(&d, &drop);
	CHECK(fk.suppressed_records == 1 && fk.suppressed == 10 && fk.guards == n + GUARD_DROPS_PER_S + 2,
	      "the next second: one guard-suppressed record for the 10, and recording again");
	for (unsigned k = 0; k < 55; k++)
		servers_on_guard(&d, &drop);

	/* shutdown */
	n = fk.end_guarded;
	d.watch = (struct ph_watch *)&d;
	servers_shutdown(&d);
	CHECK(!server_window(&d, 1)->open && fk.close_reason == PH_REASON_SHUTDOWN && fk.elements == 0,
	      "shutdown closes every server window (reason shutdown), no element left");
	CHECK(fk.suppressed_records == 2 && fk.suppressed == 6, "the drops counted but not recorded get their record");
	CHECK(fk.in_map == 0 && !fk.attached && fk.end_guarded == n + 2,
	      "no token left in the guard's map, the guard detached, the connections it admitted ended");
	servers_free(&d);
	return unit_done("unit/server");
}
