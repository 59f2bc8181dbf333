// SPDX-License-Identifier: GPL-2.0-or-later
/* Every audit record the daemon writes, built in one place: daemon-start,
 * daemon-stop, window-open, window-close (also for windows recovered from a
 * daemon that died) and refused. The record formats are documented in the
 * README; audit.c only appends lines. */
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
#include <pwd.h>
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

static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	snprintf(buf, len, "%s", pw ? pw->pw_name : "");
}

void proc_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static void proc_cmdline(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
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

	user_name(w->uid, user, sizeof(user));
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

/* "KEY=value" fields for the journal, built in small buffers */
struct jfields {
	char buf[16][320];
	char *ptr[16];
	unsigned n;
};

static void jf(struct jfields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jf(struct jfields *f, const char *fmt, ...)
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
	jf(f, "PORTHOLE_WINDOW=%llu", (unsigned long long)w->id);
	jf(f, "PORTHOLE_PORT=%u", w->port);
	jf(f, "PORTHOLE_PID=%d", (int)w->pid);
	jf(f, "PORTHOLE_UID=%u", w->uid);
	jf(f, "PORTHOLE_EXE=%s", w->exe);
	jf(f, "PORTHOLE_SESSION=%llu", (unsigned long long)w->session->id);
	jf(f, "PORTHOLE_DESIGNATION=%s", w->session->kind == S_RUN ? "session" : "config");
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
	jf(&f, "PORTHOLE_CHAINS=%u", nchains);
	snprintf(msg, sizeof(msg), "window %llu open: tcp/%u to pid %d (%s)", (unsigned long long)w->id, w->port,
		 (int)w->pid, w->exe);
	journal_event("window-open", msg, f.ptr, f.n);
	return 0;
}

static void format_peer(uint16_t family, const uint8_t *addr, char *buf, size_t len)
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
		user_name((uint32_t)w->revoked_uid, user, sizeof(user));
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
	jf(&f, "PORTHOLE_REASON=%s", ph_reason_name(reason));
	jf(&f, "PORTHOLE_DURATION_MS=%llu", (unsigned long long)(duration_ns / 1000000));
	jf(&f, "PORTHOLE_CONNECTIONS=%u", w->connections);
	jf(&f, "PORTHOLE_PACKETS=%llu", (unsigned long long)packets);
	jf(&f, "PORTHOLE_PEERS=%s", peers);
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

	user_name(r->uid, user, sizeof(user));
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
	jf(&f, "PORTHOLE_UID=%u", (unsigned)uid);
	jf(&f, "PORTHOLE_PID=%d", (int)pid);
	jf(&f, "PORTHOLE_REQUEST=%s", request);
	jf(&f, "PORTHOLE_REASON=%s", why);
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
	jf(&f, "PORTHOLE_VERSION=%s", version);
	jf(&f, "PORTHOLE_RULES_REMOVED=%u", rules_removed);
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
	jf(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)window_id);
	jf(&f, "PORTHOLE_REASON=recovered");
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
	jf(&f, "PORTHOLE_REASON=%s", reason);
	journal_event("daemon-stop", "portholed stopped", f.ptr, f.n);
	d->quit_done = 1;
	metrics_write(d);
}

/* ---- window ids survive a rotated-away audit log ----------------------------------------- */

uint64_t ids_load(const char *path)
{
	char buf[64];
	uint64_t v = 0;

	if (read_small_file(path, buf, sizeof(buf)) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		if (parse_u64(buf, 0, UINT64_MAX / 2, &v))
			v = 0;
	}
	return v;
}

void ids_save(struct ph_daemon *d)
{
	char tmp[PATH_MAX + 8], buf[32];
	int fd;

	if (!d->state_path[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s", d->state_path);
	if (strrchr(tmp, '/') && strrchr(tmp, '/') != tmp) {
		*strrchr(tmp, '/') = '\0';
		mkdir(tmp, 0755); /* StateDirectory= makes it under systemd */
	}
	snprintf(tmp, sizeof(tmp), "%s.new", d->state_path);
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)(d->next_window_id - 1));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) || fsync(fd) < 0 || rename(tmp, d->state_path) < 0)
		log_errno(-errno, "state: cannot write %s", d->state_path);
	if (fd >= 0)
		close(fd);
}

/* ---- server windows ---------------------------------------------------------------- */

static const char *guard_why_name(uint32_t why)
{
	static const char *const names[] = {
		[PH_GW_ADMITTED] = "admitted",
		[PH_GW_NOT_CHALLENGE] = "not-a-challenge",
		[PH_GW_BAD_TOKEN] = "bad-token",
		[PH_GW_TOKEN_NOT_LIVE] = "token-not-live",
		[PH_GW_BAD_VERSION] = "bad-version",
		[PH_GW_BAD_HEADER] = "bad-header",
		[PH_GW_SPLIT] = "split-request",
		[PH_GW_PIPELINED] = "pipelined",
		[PH_GW_SECOND] = "second-payload",
		[PH_GW_HANDSHAKE_DATA] = "handshake-data",
		[PH_GW_TOO_LONG] = "too-long",
		[PH_GW_NO_WINDOW] = "no-window",
		[PH_GW_MALFORMED] = "malformed",
		[PH_GW_URGENT] = "urgent-data",
		[PH_GW_NOT_NEXT] = "not-in-sequence",
		[PH_GW_RESEND_CHANGED] = "resend-changed",
	};
	return why >= 1 && why <= PH_GW_MAX ? names[why] : "unknown";
}

struct srv_rec {
	struct ph_daemon *d;
	unsigned i;
	uint32_t reason;
	uint64_t duration_ns, admitted, dropped;
};

static void fill_server(struct jbuf *b, const struct ph_daemon *d, unsigned i)
{
	const struct ph_server *sv = &d->cfg.srv[i];

	jb_obj_begin(b, "server");
	jb_str(b, "type", des_type_name(sv->type));
	jb_str(b, "value", sv->arg);
	jb_str(b, "cgroup", sv->cgroup);
	if (sv->webroot[0])
		jb_str(b, "webroot", sv->webroot);
	else if (sv->caddy[0])
		jb_str(b, "caddy", sv->caddy);
	else if (d->srv[i].webroot[0])
		jb_str(b, "webroot", d->srv[i].webroot); /* a run --serve --webroot session's */
	jb_u64(b, "config_line", sv->line);
	jb_obj_end(b);
}

static void fill_srv_open(struct jbuf *b, void *arg)
{
	const struct srv_rec *r = arg;
	const struct ph_srvwin *w = &r->d->srv[r->i];
	const struct ph_server *sv = &r->d->cfg.srv[r->i];

	jb_u64(b, "window", w->id);
	jb_str(b, "kind", "server");
	jb_arr_begin(b, "ports");
	for (unsigned p = 0; p < sv->nports; p++)
		jb_u64(b, NULL, sv->ports[p]);
	jb_arr_end(b);
	fill_server(b, r->d, r->i);
	jb_str(b, "why", w->why);
	jb_arr_begin(b, "tokens");
	for (unsigned k = 0; k < w->ntokens && (sv->webroot[0] || sv->caddy[0] || w->webroot[0]); k++)
		jb_str(b, NULL, w->tokens[k]);
	jb_arr_end(b);
	if (w->session) {
		jb_u64(b, "session", w->session->id);
		jb_u64(b, "requested_by_uid", w->session->uid);
	}
	jb_u64(b, "guard_rules", fw_guard_rules(r->d->fw));
	if (w->deadline_real)
		jb_time(b, "deadline", w->deadline_real);
}

int record_server_open(struct ph_daemon *d, unsigned i)
{
	struct srv_rec r = { .d = d, .i = i };
	struct jfields f = { .n = 0 };
	char msg[256];
	int rc = record_write(d, "window-open", fill_srv_open, &r);

	if (rc < 0)
		return rc;
	d->stats.opened++;
	jf(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)d->srv[i].id);
	jf(&f, "PORTHOLE_PORT=%u", d->cfg.srv[i].ports[0]);
	jf(&f, "PORTHOLE_SERVER=%s", d->cfg.srv[i].arg);
	jf(&f, "PORTHOLE_DESIGNATION=server");
	snprintf(msg, sizeof(msg), "window %llu open: guarded tcp/%u to %s (%s)", (unsigned long long)d->srv[i].id,
		 d->cfg.srv[i].ports[0], d->cfg.srv[i].arg, d->srv[i].why);
	journal_event("window-open", msg, f.ptr, f.n);
	return 0;
}

static void fill_srv_close(struct jbuf *b, void *arg)
{
	const struct srv_rec *r = arg;

	jb_u64(b, "window", r->d->srv[r->i].id);
	jb_str(b, "kind", "server");
	jb_str(b, "reason", ph_reason_name(r->reason));
	jb_u64(b, "duration_ms", r->duration_ns / 1000000);
	jb_u64(b, "requests_admitted", r->admitted);
	jb_u64(b, "requests_dropped", r->dropped);
	fill_server(b, r->d, r->i);
}

void record_server_close(struct ph_daemon *d, unsigned i, uint32_t reason, uint64_t duration_ns, uint64_t admitted,
			 uint64_t dropped)
{
	struct srv_rec r = { d, i, reason, duration_ns, admitted, dropped };
	struct jfields f = { .n = 0 };
	char msg[256];

	record_write(d, "window-close", fill_srv_close, &r);
	if (reason <= PH_REASON_MAX)
		d->stats.closed[reason]++;
	d->stats.last_close_real = now_ns(CLOCK_REALTIME);
	jf(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)d->srv[i].id);
	jf(&f, "PORTHOLE_REASON=%s", ph_reason_name(reason));
	jf(&f, "PORTHOLE_SERVER=%s", d->cfg.srv[i].arg);
	jf(&f, "PORTHOLE_REQUESTS_ADMITTED=%llu", (unsigned long long)admitted);
	jf(&f, "PORTHOLE_REQUESTS_DROPPED=%llu", (unsigned long long)dropped);
	snprintf(msg, sizeof(msg), "window %llu closed (%s): guarded, %llu request(s) admitted, %llu dropped",
		 (unsigned long long)d->srv[i].id, ph_reason_name(reason), (unsigned long long)admitted,
		 (unsigned long long)dropped);
	journal_event("window-close", msg, f.ptr, f.n);
}

struct guard_rec {
	const struct ph_daemon *d;
	const struct ph_guard_event *e;
};

static void fill_guard(struct jbuf *b, void *arg)
{
	const struct guard_rec *g = arg;
	const struct ph_guard_event *e = g->e;
	char addr[INET6_ADDRSTRLEN], token[PH_TOKEN_MAX + 1];

	if (e->server < g->d->cfg.nsrv) {
		const struct ph_srvwin *w = &g->d->srv[e->server];
		if (w->open)
			jb_u64(b, "window", w->id);
		jb_str(b, "server", g->d->cfg.srv[e->server].arg);
	}
	format_peer(e->family, e->raddr, addr, sizeof(addr));
	jb_str(b, "peer", addr);
	jb_u64(b, "peer_port", e->rport);
	jb_u64(b, "port", e->port);
	jb_str(b, "verdict", e->admitted ? "admitted" : "dropped");
	jb_str(b, "why", guard_why_name(e->why));
	if (e->token_len && e->token_len <= PH_TOKEN_MAX) {
		memcpy(token, e->token, e->token_len);
		token[e->token_len] = '\0';
		jb_str(b, "token", token);
	}
}

void record_guard(struct ph_daemon *d, const struct ph_guard_event *e)
{
	struct guard_rec g = { d, e };

	record_write(d, "guard", fill_guard, &g);
	log_info("guard: %s request from port %u on tcp/%u (%s)", e->admitted ? "admitted" : "dropped", e->rport, e->port,
		 guard_why_name(e->why));
}

static void fill_suppressed(struct jbuf *b, void *arg)
{
	jb_u64(b, "dropped_requests", *(const uint64_t *)arg);
	jb_u64(b, "per_second_recorded", GUARD_DROPS_PER_S);
}

void record_guard_suppressed(struct ph_daemon *d, uint64_t count)
{
	record_write(d, "guard-suppressed", fill_suppressed, &count);
	log_notice("guard: %llu more dropped request(s) in the last second, counted but not recorded one by one",
		   (unsigned long long)count);
}
