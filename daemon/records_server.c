// SPDX-License-Identifier: GPL-2.0-or-later
/* The audit records of server windows (window-open and window-close with
 * "kind":"server"; "container" with the listener and its csrv elements for
 * a `serve = container` line's) and of their guard (guard, guard-suppressed), with their
 * journal fields; written
 * through record_write() like every other record (records.c). */
#include "records.h"
#include "container_serve.h"
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
	else if (server_window(d, i)->webroot[0])
		jb_str(b, "webroot", server_window(d, i)->webroot); /* a run --serve --webroot session's */
	jb_u64(b, "config_line", sv->line);
	jb_obj_end(b);
}

static void fill_srv_open(struct jbuf *b, void *arg)
{
	const struct srv_rec *r = arg;
	const struct ph_srvwin *w = server_window(r->d, r->i);
	const struct ph_server *sv = &r->d->cfg.srv[r->i];

	jb_u64(b, "window", w->id);
	jb_str(b, "kind", sv->type == DES_CONTAINER ? "container" : "server");
	csrv_record_fields(r->d, r->i, b);
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
	jfield(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)server_window(d, i)->id);
	jfield(&f, "PORTHOLE_PORT=%u", d->cfg.srv[i].ports[0]);
	jfield(&f, "PORTHOLE_SERVER=%s", d->cfg.srv[i].arg);
	jfield(&f, "PORTHOLE_DESIGNATION=server");
	snprintf(msg, sizeof(msg), "window %llu open: guarded tcp/%u to %s (%s)", (unsigned long long)server_window(d, i)->id,
		 d->cfg.srv[i].ports[0], d->cfg.srv[i].arg, server_window(d, i)->why);
	journal_event("window-open", msg, f.ptr, f.n);
	return 0;
}

static void fill_srv_close(struct jbuf *b, void *arg)
{
	const struct srv_rec *r = arg;

	jb_u64(b, "window", server_window(r->d, r->i)->id);
	jb_str(b, "kind", r->d->cfg.srv[r->i].type == DES_CONTAINER ? "container" : "server");
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
	jfield(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)server_window(d, i)->id);
	jfield(&f, "PORTHOLE_REASON=%s", ph_reason_name(reason));
	jfield(&f, "PORTHOLE_SERVER=%s", d->cfg.srv[i].arg);
	jfield(&f, "PORTHOLE_REQUESTS_ADMITTED=%llu", (unsigned long long)admitted);
	jfield(&f, "PORTHOLE_REQUESTS_DROPPED=%llu", (unsigned long long)dropped);
	snprintf(msg, sizeof(msg), "window %llu closed (%s): guarded, %llu request(s) admitted, %llu dropped",
		 (unsigned long long)server_window(d, i)->id, ph_reason_name(reason), (unsigned long long)admitted,
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
		const struct ph_srvwin *w = server_window(g->d, e->server);
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
