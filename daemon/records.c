// SPDX-License-Identifier: GPL-2.0-or-later
/* The audit records of windows and of the daemon, and record_write(), the
 * one place every record is built through: daemon-start,
 * daemon-stop, window-open, window-close (also for windows recovered from a
 * daemon that died) and refused. The record formats are documented in the
 * README; audit.c only appends lines. Server windows' records are in
 * records_server.c, the /proc helpers in procinfo.c, the id state file in
 * ids.c. */
#include "records.h"
#include "daemon.h"
#include "firewall.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define AUDIT_LINE_MAX 16384

int record_write(struct ph_daemon *d, const char *event, void (*fill)(struct jbuf *b, void *arg), void *arg)
{
	char *buf = malloc(AUDIT_LINE_MAX);
	struct jbuf b;
	int r;

	if (!buf)
		return -ENOMEM;
	jb_init(&b, buf, AUDIT_LINE_MAX);
	jb_obj_begin(&b, NULL);
	jb_str(&b, "event", event);
	jb_time(&b, "time", now_ns(CLOCK_REALTIME));
	if (fill)
		fill(&b, arg);
	jb_obj_end(&b);
	if (b.err) {
		free(buf);
		return log_errno(-EOVERFLOW, "audit: %s record too large", event);
	}
	r = audit_append(&d->audit, buf, b.len);
	if (r < 0)
		log_errno(r, "audit: cannot write %s record to %s", event, d->audit.path);
	free(buf);
	return r;
}

static const char *family_str(uint16_t f)
{
	return f == 2 ? "ipv4" : f == 10 ? "ipv6" : "unknown";
}

struct open_rec {
	const struct ph_daemon *d;
	const struct ph_window *w;
	const struct ph_chain_ref *chains;
	unsigned nchains;
};

static void fill_open(struct jbuf *b, void *arg)
{
	const struct open_rec *o = arg;
	const struct ph_window *w = o->w;
	const struct ph_session *s = w->session;
	char user[64], cmdline[1024];

	proc_user_name(w->uid, user, sizeof(user));
	proc_cmdline((uint32_t)w->pid, cmdline, sizeof(cmdline));
	jb_u64(b, "window", w->id);
	jb_arr_begin(b, "ports");
	jb_u64(b, NULL, w->port);
	jb_arr_end(b);
	jb_str(b, "family", family_str(w->family));
	jb_u64(b, "pid", (uint64_t)w->pid);
	jb_u64(b, "uid", w->uid);
	jb_str(b, "user", user);
	jb_str(b, "exe", w->exe);
	jb_str(b, "cmdline", cmdline);
	jb_str(b, "cgroup", s->cgroup);
	jb_obj_begin(b, "designation");
	if (s->kind == S_WATCH) {
		const struct ph_designation *des = &o->d->cfg.des[s->des_index];
		jb_str(b, "type", des_type_name(des->type));
		jb_str(b, "value", des->arg);
		jb_u64(b, "config_line", des->line);
	} else {
		jb_str(b, "type", "session");
		jb_u64(b, "session", s->id);
		jb_u64(b, "requested_by_uid", s->uid);
	}
	jb_obj_end(b);
	jb_u64(b, "mark", w->session->mark);
	jb_time(b, "deadline", w->deadline_real);
	jb_arr_begin(b, "chains");
	for (unsigned i = 0; i < o->nchains; i++) {
		char chain[3 * PH_NAME_LEN + 4];
		snprintf(chain, sizeof(chain), "%s %s %s", family_name(o->chains[i].family), o->chains[i].table,
			 o->chains[i].chain);
		jb_str(b, NULL, chain);
	}
	jb_arr_end(b);
}

void jfield(struct jfields *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n == 16)
		return;
	va_start(ap, fmt);
	vsnprintf(f->buf[f->n], sizeof(f->buf[f->n]), fmt, ap);
	va_end(ap);
	f->ptr[f->n] = f->buf[f->n];
	f->n++;
}

static void jf_window(struct jfields *f, const struct ph_window *w)
{
	jfield(f, "PORTHOLE_WINDOW=%llu", (unsigned long long)w->id);
	jfield(f, "PORTHOLE_PORT=%u", w->port);
	jfield(f, "PORTHOLE_PID=%d", (int)w->pid);
	jfield(f, "PORTHOLE_UID=%u", w->uid);
	jfield(f, "PORTHOLE_EXE=%s", w->exe);
	jfield(f, "PORTHOLE_SESSION=%llu", (unsigned long long)w->session->id);
	jfield(f, "PORTHOLE_DESIGNATION=%s", w->session->kind == S_RUN ? "session" : "config");
}

int record_window_open(struct ph_daemon *d, const struct ph_window *w, const struct ph_chain_ref *chains,
		       unsigned nchains)
{
	struct open_rec o = { d, w, chains, nchains };
	struct jfields f = { .n = 0 };
	char msg[256];
	int r = record_write(d, "window-open", fill_open, &o);

	if (r < 0)
		return r;
	d->stats.opened++;
	jf_window(&f, w);
	jfield(&f, "PORTHOLE_CHAINS=%u", nchains);
	snprintf(msg, sizeof(msg), "window %llu open: tcp/%u to pid %d (%s)", (unsigned long long)w->id, w->port,
		 (int)w->pid, w->exe);
	journal_event("window-open", msg, f.ptr, f.n);
	return 0;
}

void format_peer(uint16_t family, const uint8_t *addr, char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == 10 && !memcmp(addr, mapped, 12))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(family == 10 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len);
}

struct close_rec {
	const struct ph_window *w;
	uint32_t reason;
	uint64_t duration_ns, packets, bytes;
};

static void fill_close(struct jbuf *b, void *arg)
{
	const struct close_rec *c = arg;
	const struct ph_window *w = c->w;
	char addr[INET6_ADDRSTRLEN], user[64];

	jb_u64(b, "window", w->id);
	jb_str(b, "reason", ph_reason_name(c->reason));
	jb_u64(b, "duration_ms", c->duration_ns / 1000000);
	jb_u64(b, "packets", c->packets);
	jb_u64(b, "bytes", c->bytes);
	jb_u64(b, "connections", w->connections);
	jb_arr_begin(b, "peers");
	for (unsigned i = 0; i < w->npeers; i++) {
		format_peer(w->peers[i].family, w->peers[i].addr, addr, sizeof(addr));
		jb_obj_begin(b, NULL);
		jb_str(b, "addr", addr);
		jb_u64(b, "connections", w->peers[i].count);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	jb_u64(b, "other_peers_connections", w->other_peer_connections);
	if (c->reason == PH_REASON_REVOKED && w->revoked_uid >= 0) {
		proc_user_name((uint32_t)w->revoked_uid, user, sizeof(user));
		jb_obj_begin(b, "revoked_by");
		jb_i64(b, "uid", w->revoked_uid);
		jb_str(b, "user", user);
		jb_i64(b, "pid", w->revoked_pid);
		jb_obj_end(b);
	}
}

void record_window_close(struct ph_daemon *d, const struct ph_window *w, uint32_t reason, uint64_t duration_ns,
			 uint64_t packets, uint64_t bytes)
{
	struct close_rec cr = { w, reason, duration_ns, packets, bytes };
	struct jfields f = { .n = 0 };
	char msg[256], peers[300] = "", addr[INET6_ADDRSTRLEN];
	size_t pl = 0;

	record_write(d, "window-close", fill_close, &cr);
	if (reason <= PH_REASON_MAX)
		d->stats.closed[reason]++;
	d->stats.last_close_real = now_ns(CLOCK_REALTIME);
	for (unsigned i = 0; i < w->npeers && pl + INET6_ADDRSTRLEN + 2 < sizeof(peers); i++) {
		format_peer(w->peers[i].family, w->peers[i].addr, addr, sizeof(addr));
		pl += (size_t)snprintf(peers + pl, sizeof(peers) - pl, "%s%s", i ? " " : "", addr);
	}
	jf_window(&f, w);
	jfield(&f, "PORTHOLE_REASON=%s", ph_reason_name(reason));
	jfield(&f, "PORTHOLE_DURATION_MS=%llu", (unsigned long long)(duration_ns / 1000000));
	jfield(&f, "PORTHOLE_CONNECTIONS=%u", w->connections);
	jfield(&f, "PORTHOLE_PACKETS=%llu", (unsigned long long)packets);
	jfield(&f, "PORTHOLE_PEERS=%s", peers);
	snprintf(msg, sizeof(msg), "window %llu closed (%s): %u connection(s) from %s", (unsigned long long)w->id,
		 ph_reason_name(reason), w->connections, peers[0] ? peers : "nobody");
	journal_event("window-close", msg, f.ptr, f.n);
}

struct refused_rec {
	uid_t uid;
	pid_t pid;
	const char *request, *why;
};

static void fill_refused(struct jbuf *b, void *arg)
{
	const struct refused_rec *r = arg;
	char user[64];

	proc_user_name(r->uid, user, sizeof(user));
	jb_u64(b, "uid", r->uid);
	jb_str(b, "user", user);
	jb_u64(b, "pid", (uint64_t)r->pid);
	jb_str(b, "request", r->request);
	jb_str(b, "why", r->why);
}

void record_refused(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why)
{
	struct refused_rec r = { uid, pid, request, why };
	struct jfields f = { .n = 0 };
	char msg[400];

	record_write(d, "refused", fill_refused, &r);
	d->stats.refused++;
	jfield(&f, "PORTHOLE_UID=%u", (unsigned)uid);
	jfield(&f, "PORTHOLE_PID=%d", (int)pid);
	jfield(&f, "PORTHOLE_REQUEST=%s", request);
	jfield(&f, "PORTHOLE_REASON=%s", why);
	snprintf(msg, sizeof(msg), "refused %s from uid %u pid %d: %s", request, (unsigned)uid, (int)pid, why);
	journal_event("refused", msg, f.ptr, f.n);
	metrics_write(d);
}

struct start_rec {
	const struct ph_daemon *d;
	const char *config, *version;
	unsigned rules_removed;
};

static void fill_start(struct jbuf *b, void *arg)
{
	const struct start_rec *si = arg;
	const struct ph_config *cfg = &si->d->cfg;
	char chain[3 * PH_NAME_LEN];

	jb_str(b, "version", si->version);
	jb_u64(b, "pid", (uint64_t)getpid());
	jb_str(b, "config", si->config);
	jb_arr_begin(b, "ports");
	for (unsigned i = 0; i < cfg->nports; i++)
		jb_u64(b, NULL, cfg->ports[i]);
	jb_arr_end(b);
	jb_u64(b, "max_window", cfg->max_window);
	if (cfg->chains_mode == PH_CHAINS_AUTO) {
		jb_str(b, "chains", "auto");
	} else if (cfg->chains_mode == PH_CHAINS_NONE) {
		jb_str(b, "chains", "none");
	} else {
		jb_arr_begin(b, "chains");
		for (unsigned i = 0; i < cfg->nchains; i++) {
			snprintf(chain, sizeof(chain), "%s %s %s", family_name(cfg->chains[i].family),
				 cfg->chains[i].table, cfg->chains[i].chain);
			jb_str(b, NULL, chain);
		}
		jb_arr_end(b);
	}
	jb_u64(b, "leftover_rules_removed", si->rules_removed);
}

void record_daemon_start(struct ph_daemon *d, const char *config, const char *version, unsigned rules_removed)
{
	struct start_rec si = { d, config, version, rules_removed };
	struct jfields f = { .n = 0 };
	char msg[128];

	record_write(d, "daemon-start", fill_start, &si);
	jfield(&f, "PORTHOLE_VERSION=%s", version);
	jfield(&f, "PORTHOLE_RULES_REMOVED=%u", rules_removed);
	snprintf(msg, sizeof(msg), "portholed %s started", version);
	journal_event("daemon-start", msg, f.ptr, f.n);
	metrics_write(d);
}

static void fill_recovered(struct jbuf *b, void *arg)
{
	jb_u64(b, "window", *(const uint64_t *)arg);
	jb_str(b, "reason", "recovered");
	jb_str(b, "note", "open when the previous daemon stopped; the kernel removed its table with it");
}

void record_recovered(struct ph_daemon *d, uint64_t window_id)
{
	struct jfields f = { .n = 0 };
	char msg[128];

	record_write(d, "window-close", fill_recovered, &window_id);
	d->stats.closed[PH_REASON_RECOVERED]++;
	jfield(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)window_id);
	jfield(&f, "PORTHOLE_REASON=recovered");
	snprintf(msg, sizeof(msg), "window %llu closed (recovered): open when the previous daemon stopped",
		 (unsigned long long)window_id);
	journal_event("window-close", msg, f.ptr, f.n);
}

static void fill_stop(struct jbuf *b, void *arg)
{
	jb_str(b, "reason", arg);
}

void record_daemon_stop(struct ph_daemon *d, const char *reason)
{
	struct jfields f = { .n = 0 };

	record_write(d, "daemon-stop", fill_stop, (void *)reason);
	jfield(&f, "PORTHOLE_REASON=%s", reason);
	journal_event("daemon-stop", "portholed stopped", f.ptr, f.n);
	d->quit_done = 1;
	metrics_write(d);
}
