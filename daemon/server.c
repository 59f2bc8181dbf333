// SPDX-License-Identifier: GPL-2.0-or-later
/* Server windows: guarded windows to a web server that already holds the
 * port (a `serve =` line). One per serve line at most. It opens
 *   - with webroot=: while WEBROOT/.well-known/acme-challenge holds a token
 *     file (inotify; the directories may appear later), only for live tokens;
 *   - always: from start to shutdown;
 *   - for a `porthole run --serve` session: for the command's lifetime;
 * and closes at the first of: no token left (webroot), its max_window, the
 * session's end, shutdown. After a deadline a webroot window opens again only
 * for a token that appears later. The kernel side: the served cgroup in the
 * guard's map and in porthole's set (timeout: the deadline), the guard rules
 * where the host drops (firewall.c), every request judged in the kernel
 * (bpf/guard.bpf.c) and reported here for the audit log.
 *
 * This file holds the state machine and its state only: every call outward
 * (the served cgroup, the firewall, the guard, the tokens, the audit log,
 * the clock, the timer) goes through the ops (server.h), and nothing else
 * writes its state. */
#include "server.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_CHECK_NS (5 * NSEC_PER_SEC)
#define SERVER_QUICK_NS (5 * NSEC_PER_SEC)   /* after the served cgroup came or went ... */
#define SERVER_QUICK_STEP_NS (200 * 1000000ull) /* ... look every 200 ms */

struct ph_servers {
	const struct ph_server_ops *ops;
	struct ph_srvwin w[PH_MAX_SERVERS];
	uint64_t quick_until;      /* a served cgroup moved: look often until then */
	uint64_t metrics_boot;     /* the last metrics write for the guard's counters */
	uint64_t rate_boot;        /* dropped-request records: the current second ... */
	unsigned rate_n;           /* ... how many written in it ... */
	uint64_t suppressed;       /* ... and how many only counted */
	int unpinned_said;         /* the warning that the guard cannot be pinned, said once */
};

#define OPS (d->servers->ops)
#define SRV(i) (&d->servers->w[(i)])
#define srvlog(d, prio, ...) log_to((d)->servers->ops->log, (prio), __VA_ARGS__)

int servers_init(struct ph_daemon *d, const struct ph_server_ops *ops)
{
	d->servers = calloc(1, sizeof(*d->servers));
	if (!d->servers)
		return -ENOMEM;
	d->servers->ops = ops;
	return 0;
}

void servers_free(struct ph_daemon *d)
{
	free(d->servers);
	d->servers = NULL;
}

const struct ph_srvwin *server_window(const struct ph_daemon *d, unsigned i)
{
	return &d->servers->w[i];
}

static unsigned cgroup_level(const char *path)
{
	unsigned n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

static void arm_srv_timer(struct ph_daemon *d)
{
	uint64_t now = OPS->now(CLOCK_BOOTTIME), earliest = 0;
	uint64_t check = now + (now < d->servers->quick_until ? SERVER_QUICK_STEP_NS : SERVER_CHECK_NS);

	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		const struct ph_srvwin *w = SRV(i);
		if (w->open && w->deadline_boot && (!earliest || w->deadline_boot < earliest))
			earliest = w->deadline_boot;
		/* an open window's server may restart (a new cgroup), an always
		 * server may start: look again now and then */
		if ((w->open || d->cfg.srv[i].always || (w->ntokens && !w->spent)) && (!earliest || check < earliest))
			earliest = check;
	}
	OPS->timer_arm(d, earliest);
}

static int token_index(const struct ph_srvwin *w, const char *t)
{
	for (unsigned i = 0; i < w->ntokens; i++)
		if (!strcmp(w->tokens[i], t))
			return (int)i;
	return -1;
}

/* ---- opening and closing ------------------------------------------------------------ */

static void end_guarded_connections(struct ph_daemon *d, const char *when);

/* No server window open: the connections the guard judged are ended
 * (every byte after its one request would be dropped anyway; ended, the
 * peer cannot keep it for later) and every pending verdict forgotten; then
 * the guard is detached (nothing pays for it). A kernel that cannot end
 * sockets keeps the guard attached: it goes on dropping what they send. */
static void guard_idle(struct ph_daemon *d)
{
	unsigned ended = 0;
	int r;

	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		if (SRV(i)->open)
			return;
	r = OPS->guard_end(d, &ended);
	if (ended)
		srvlog(d, LOG_INFO, "guard: ended %u connection(s) the closed window admitted or judged", ended);
	if (r) {
		srvlog(d, LOG_ERR, "guard: cannot end the connections it judged; it stays attached to judge them: %s",
		       strerror(-r));
		return;
	}
	OPS->guard_attach(d, 0);
	end_guarded_connections(d, "after the last server window");
}

/* a session's webroot is watched only while its window is open */
static void forget_session_webroot(struct ph_daemon *d, unsigned i)
{
	struct ph_srvwin *w = SRV(i);

	if (d->cfg.srv[i].webroot[0] || !w->webroot[0])
		return;
	OPS->tokens_unwatch(d, i);
	for (unsigned k = 0; k < w->ntokens; k++)
		OPS->guard_token(d, i, w->tokens[k], 0);
	w->ntokens = 0;
	w->webroot[0] = '\0';
}

void server_close(struct ph_daemon *d, unsigned i, uint32_t reason)
{
	struct ph_srvwin *w = SRV(i);
	const struct ph_server *sv = &d->cfg.srv[i];
	uint64_t adm = 0, drop = 0, dur;

	if (!w->open)
		return;
	/* the element first: from here no new connection is admitted; then the
	 * guard lets no first request through */
	for (unsigned p = 0; p < sv->nports; p++)
		OPS->fw_close(d, i, w->cgid, sv->ports[p]);
	OPS->guard_server(d, w->cgid, i, 0, 0);
	OPS->guard_stats(d, i, &adm, &drop);
	if (d->servers->suppressed) {
		OPS->record_suppressed(d, d->servers->suppressed);
		d->servers->suppressed = 0;
	}
	dur = OPS->now(CLOCK_BOOTTIME) - w->opened_boot;
	w->open = 0;
	guard_idle(d);
	OPS->record_close(d, i, reason, dur, adm - w->admitted0, drop - w->dropped0);
	srvlog(d, LOG_NOTICE | LOG_AUDITED, "window %llu closed (%s) after %llu s: guarded tcp/%u to %s, %llu request(s) admitted, %llu dropped",
		   (unsigned long long)w->id, ph_reason_name(reason), (unsigned long long)(dur / NSEC_PER_SEC),
		   sv->ports[0], sv->arg, (unsigned long long)(adm - w->admitted0), (unsigned long long)(drop - w->dropped0));
	w->session = NULL;
	forget_session_webroot(d, i);
	arm_srv_timer(d);
	OPS->metrics(d);
}

/* A refusal is recorded and logged once, not at every retry. */
static void refuse_once(struct ph_daemon *d, unsigned i, const struct ph_session *s, const char *err)
{
	struct ph_srvwin *w = SRV(i);

	if (!s && !strcmp(w->last_refusal, err))
		return;
	copy_str(w->last_refusal, sizeof(w->last_refusal), err);
	OPS->record_refused(d, s ? s->uid : 0, s ? s->pid : 0, "server-window", err);
	srvlog(d, LOG_ERR, "server %s: %s", d->cfg.srv[i].arg, err);
}

/* why: "tokens", "always" or "session". 0, or -errno and the reason in err. */
int server_open(struct ph_daemon *d, unsigned i, const char *why, struct ph_session *s, char *err, size_t errlen)
{
	struct ph_srvwin *w = SRV(i);
	const struct ph_server *sv = &d->cfg.srv[i];
	uint64_t now_boot = OPS->now(CLOCK_BOOTTIME), now_real = OPS->now(CLOCK_REALTIME), span;
	uint32_t max = sv->max_window ? sv->max_window : d->cfg.max_window;
	unsigned opened = 0;
	char fwwhy[512] = "";
	int r;

	if (w->open) {
		snprintf(err, errlen, "a window to %s is open already (window %llu)", sv->arg, (unsigned long long)w->id);
		return -EBUSY;
	}
	w->cgid = OPS->cgroup_id(d, i);
	if (!w->cgid || !OPS->running(d, i)) {
		snprintf(err, errlen, "%s (cgroup %s) is not running: no window to it", sv->arg, sv->cgroup);
		if (strcmp(why, "always"))
			refuse_once(d, i, s, err); /* tokens (or a session) wait for it: worth a record */
		arm_srv_timer(d); /* looked at again every few seconds */
		return -ESRCH;
	}
	r = OPS->listens(d, i, w->cgid, err, errlen);
	if (r) {
		if (strcmp(why, "always"))
			refuse_once(d, i, s, err);
		arm_srv_timer(d);
		return r;
	}
	/* always: no deadline, unless the line bounds it (a container's line:
	 * max_window= after its listener appeared, then closed until a new one) */
	span = sv->always && !sv->max_window ? 0 : (uint64_t)max * NSEC_PER_SEC;
	if (s && s->deadline_boot) {
		/* the session's own deadline, at most the serve line's max_window */
		uint64_t left = s->deadline_boot > now_boot ? s->deadline_boot - now_boot : 0;
		if (!left) {
			snprintf(err, errlen, "the session used up its max_window");
			return -ETIME;
		}
		span = (uint64_t)max * NSEC_PER_SEC;
		if (left < span)
			span = left;
	}
	w->deadline_boot = span ? now_boot + span : 0;
	w->deadline_real = span ? now_real + span : 0;
	w->session = s;
	copy_str(w->why, sizeof(w->why), why);
	OPS->guard_stats(d, i, &w->admitted0, &w->dropped0);
	/* the guard first: the first connection the element admits is judged
	 * with this server's rules */
	if (!d->gk) {
		snprintf(err, errlen, "server windows are not available on this kernel: %s", d->guard_why);
		r = -ENOTSUP;
		goto fail;
	}
	r = OPS->guard_attach(d, 1);
	if (r == 1) {
		if (!d->servers->unpinned_said)
			srvlog(d, LOG_WARNING, "guard: no bpffs at /run/porthole/bpf or /sys/fs/bpf to pin it to: if the daemon is killed, the "
				 "connections it judged are not contained until it starts again");
		d->servers->unpinned_said = 1;
		r = 0;
	}
	if (r) {
		snprintf(err, errlen, "bpf: cannot attach the guard: %s", strerror(-r));
		goto fail;
	}
	r = OPS->guard_server(d, w->cgid, i, PH_SRV_OPEN | (OPS->tokens_source(d, i) ? PH_SRV_TOKENS : 0), 1);
	if (r) {
		snprintf(err, errlen, "bpf: cannot arm the guard: %s", strerror(-r));
		goto fail;
	}
	for (unsigned p = 0; p < sv->nports; p++) {
		r = OPS->fw_open(d, i, w->cgid, cgroup_level(sv->cgroup), sv->ports[p], span / 1000000, fwwhy,
				   sizeof(fwwhy));
		if (r) {
			snprintf(err, errlen, "%s", fwwhy);
			goto fail;
		}
		opened++;
	}
	w->id = d->next_window_id;
	w->opened_boot = now_boot;
	w->opened_real = now_real;
	w->open = 1;
	if (OPS->record_open(d, i) < 0) {
		snprintf(err, errlen, "its audit record could not be written");
		r = -EIO;
		w->open = 0;
		goto fail;
	}
	d->next_window_id++;
	OPS->ids_save(d);
	w->last_refusal[0] = '\0';
	srvlog(d, LOG_NOTICE | LOG_AUDITED, "window %llu open: guarded tcp/%u to %s (%s, cgroup %s), %u guard rule(s) in the host's chains%s",
		   (unsigned long long)w->id, sv->ports[0], sv->arg, why, sv->cgroup, OPS->fw_guard_rules(d),
		   span ? "" : ", no deadline (always)");
	arm_srv_timer(d);
	OPS->metrics(d);
	return 0;
fail:
	for (unsigned p = 0; p < opened; p++)
		OPS->fw_close(d, i, w->cgid, sv->ports[p]);
	OPS->guard_server(d, w->cgid, i, 0, 0);
	w->session = NULL;
	guard_idle(d);
	{
		char said[600];
		snprintf(said, sizeof(said), "no window: %s", err);
		refuse_once(d, i, s, said);
	}
	return r;
}

/* ---- tokens ------------------------------------------------------------------------- */

/* Read the server's tokens again (tokens.c): the BPF map follows them, the
 * window opens or closes. */
static void rescan(struct ph_daemon *d, unsigned i)
{
	struct ph_srvwin *w = SRV(i);
	char err[512];
	char (*now)[PH_TOKEN_MAX + 1] = calloc(PH_MAX_SERVER_TOKENS, sizeof(*now));
	unsigned nnow = 0, added = 0;

	if (!now)
		return;
	OPS->tokens_read(d, i, now, &nnow);
	/* gone: out of the kernel's map first */
	for (unsigned k = 0; k < w->ntokens;) {
		int still = 0;
		for (unsigned j = 0; j < nnow && !still; j++)
			still = !strcmp(now[j], w->tokens[k]);
		if (still) {
			k++;
			continue;
		}
		OPS->guard_token(d, i, w->tokens[k], 0);
		srvlog(d, LOG_INFO, "server %s: token %s gone", d->cfg.srv[i].arg, w->tokens[k]);
		memmove(w->tokens[k], w->tokens[w->ntokens - 1], sizeof(w->tokens[k]));
		w->ntokens--;
	}
	for (unsigned j = 0; j < nnow; j++) {
		if (token_index(w, now[j]) >= 0)
			continue;
		if (OPS->guard_token(d, i, now[j], 1)) {
			srvlog(d, LOG_ERR, "server %s: token %s cannot be put in the kernel's map; it is not admitted",
				d->cfg.srv[i].arg, now[j]);
			continue;
		}
		copy_str(w->tokens[w->ntokens++], PH_TOKEN_MAX + 1, now[j]);
		srvlog(d, LOG_INFO, "server %s: token %s present", d->cfg.srv[i].arg, now[j]);
		added++;
	}
	free(now);
	if (added)
		w->spent = 0; /* a new token: a new window may open */
	if (w->ntokens && !w->open && !w->spent && !d->quit && server_open(d, i, "tokens", NULL, err, sizeof(err)))
		arm_srv_timer(d); /* retried while the tokens are there */
	else if (!w->ntokens && w->open && !w->session && !d->cfg.srv[i].always)
		server_close(d, i, PH_REASON_TOKENS_GONE);
}

static void server_recheck(struct ph_daemon *d, unsigned i, uint64_t now);

void server_tokens_changed(struct ph_daemon *d, unsigned i)
{
	if (OPS->tokens_source(d, i))
		rescan(d, i);
}

void servers_cgroup_moved(struct ph_daemon *d, uint32_t mask)
{
	uint64_t now = OPS->now(CLOCK_BOOTTIME);

	/* look now, and often for a few seconds: the new cgroup gets its
	 * processes, and they their listeners, only after it appears */
	d->servers->quick_until = now + SERVER_QUICK_NS;
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		if (!(mask & (1u << i)))
			continue;
		/* a bounded always window had its time: a new listener (a
		 * restart) gets a new one */
		if (d->cfg.srv[i].always && d->cfg.srv[i].max_window && !SRV(i)->open)
			SRV(i)->spent = 0;
		server_recheck(d, i, now);
	}
	arm_srv_timer(d);
}

/* Deadlines, a server that restarted (a new cgroup), one that runs now. */
static void server_recheck(struct ph_daemon *d, unsigned i, uint64_t now)
{
	struct ph_srvwin *w = SRV(i);
	char err[512];

	if (w->open && w->deadline_boot && w->deadline_boot <= now) {
		w->spent = 1; /* the tokens present now had their window */
		server_close(d, i, PH_REASON_DEADLINE);
	}
	if (w->open && OPS->cgroup_id(d, i) != w->cgid) {
		srvlog(d, LOG_NOTICE, "server %s: its cgroup went away or was made anew (a restart?)", d->cfg.srv[i].arg);
		server_close(d, i, PH_REASON_SERVER_GONE);
		if (d->cfg.srv[i].webroot[0] || d->cfg.srv[i].caddy[0])
			rescan(d, i); /* tokens still there: a window to the new cgroup */
		else
			forget_session_webroot(d, i);
	}
	if (!w->open && d->cfg.srv[i].always && !(d->cfg.srv[i].max_window && w->spent) && OPS->cgroup_id(d, i) &&
	    OPS->running(d, i) && !d->quit)
		server_open(d, i, "always", NULL, err, sizeof(err));
	/* tokens wait for a server that was not running: it may be now */
	if (!w->open && w->ntokens && !w->spent && OPS->cgroup_id(d, i) && OPS->running(d, i) && !d->quit)
		server_open(d, i, "tokens", NULL, err, sizeof(err));
}

void servers_on_timer(struct ph_daemon *d)
{
	uint64_t now = OPS->now(CLOCK_BOOTTIME);

	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		server_recheck(d, i, now);
	arm_srv_timer(d);
}

/* ---- the guard's reports ------------------------------------------------------------- */

void servers_on_guard(void *ctx, const struct ph_guard_event *e)
{
	struct ph_daemon *d = ctx;
	uint64_t now = OPS->now(CLOCK_BOOTTIME);

	/* every admitted request is recorded; drops at most GUARD_DROPS_PER_S
	 * a second (a flood from the Internet must not fill the disk): the
	 * rest are counted in one guard-suppressed record, and the window's
	 * close record and the metrics count them all */
	if (!e->admitted) {
		if (now - d->servers->rate_boot >= NSEC_PER_SEC) {
			if (d->servers->suppressed)
				OPS->record_suppressed(d, d->servers->suppressed);
			d->servers->rate_boot = now;
			d->servers->rate_n = 0;
			d->servers->suppressed = 0;
		}
		if (d->servers->rate_n >= GUARD_DROPS_PER_S) {
			d->servers->suppressed++;
			goto metrics;
		}
		d->servers->rate_n++;
	}
	OPS->record_guard(d, e);
metrics:
	/* the guard's counters reach the metrics file at most once a second */
	if (now - d->servers->metrics_boot >= NSEC_PER_SEC) {
		d->servers->metrics_boot = now;
		OPS->metrics(d);
	}
}

/* ---- life ---------------------------------------------------------------------------- */

/* Connections a server window admitted carry the guarded conntrack mark;
 * without this daemon's guard nothing would judge them (see conntrack.h). */
static void end_guarded_connections(struct ph_daemon *d, const char *when)
{
	if (d->cfg.nsrv)
		OPS->end_guarded(d, when);
}

int servers_start(struct ph_daemon *d)
{
	char err[512];

	end_guarded_connections(d, "left by an earlier daemon");

	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		const struct ph_server *sv = &d->cfg.srv[i];
		if (sv->always) {
			if (server_open(d, i, "always", NULL, err, sizeof(err)))
				srvlog(d, LOG_NOTICE, "server %s: its always-open window opens when it runs: %s", sv->arg, err);
		} else if (OPS->tokens_source(d, i)) {
			rescan(d, i);
		}
	}
	arm_srv_timer(d);
	return 0;
}

int server_session_webroot(struct ph_daemon *d, unsigned i, const char *dir)
{
	struct ph_srvwin *w = SRV(i);

	copy_str(w->webroot, sizeof(w->webroot), dir);
	return 0;
}

void server_watch_tokens(struct ph_daemon *d, unsigned i)
{
	if (!OPS->tokens_source(d, i))
		return;
	rescan(d, i);
}

void server_revoke(struct ph_daemon *d, unsigned i)
{
	SRV(i)->spent = 1; /* the tokens there now do not reopen it; a new one does */
	server_close(d, i, PH_REASON_REVOKED);
}

int server_find(const struct ph_daemon *d, const char *spec)
{
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		const struct ph_server *sv = &d->cfg.srv[i];
		char full[300];
		snprintf(full, sizeof(full), "%s:%s", sv->type == DES_UNIT ? "unit" : "cgroup", sv->arg);
		if (!strcmp(spec, full) || !strcmp(spec, sv->arg) || !strcmp(spec, sv->cgroup))
			return (int)i;
	}
	return -1;
}

void servers_session_end(struct ph_daemon *d, struct ph_session *s)
{
	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		if (SRV(i)->open && SRV(i)->session == s)
			server_close(d, i, PH_REASON_EXITED);
}

void servers_shutdown(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		server_close(d, i, PH_REASON_SHUTDOWN);
		for (unsigned k = 0; k < SRV(i)->ntokens; k++)
			OPS->guard_token(d, i, SRV(i)->tokens[k], 0);
		SRV(i)->ntokens = 0;
	}
	if (d->servers->suppressed) {
		OPS->record_suppressed(d, d->servers->suppressed);
		d->servers->suppressed = 0;
	}
	if (d->watch)
		end_guarded_connections(d, "at shutdown");
}
