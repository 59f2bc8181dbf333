// SPDX-License-Identifier: GPL-2.0-or-later
/* Control requests, after control.c has validated the message: run (start a
 * session for the caller's waiting child), status (the open windows), close
 * (revoke a window: its session's owner or root only). Every refusal is
 * answered with a reason and recorded in the audit log. */
#include "daemon.h"
#include "container.h"
#include "firewall.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

static int refuse(struct ph_daemon *d, struct ph_client *c, const char *request, int err, const char *why)
{
	log_msg(LOG_NOTICE | LOG_AUDITED, "refused: %s from pid %d uid %u: %s", request, (int)c->pid, (unsigned)c->uid, why);
	record_refused(d, c->uid, c->pid, request, why);
	return control_send_error(c, err, "%s: %s", request, why);
}

static int run_request(struct ph_daemon *d, struct ph_client *c, const struct ph_run *run)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr) + sizeof(struct ph_run_ok)]; } m;
	struct ph_run_ok *ok = ph_payload(&m);
	struct ph_session *s;
	char why[256];
	size_t len;
	int r;

	if (c->session)
		return control_send_error(c, EBUSY, "this connection already runs session %llu",
					  (unsigned long long)c->session->id);
	if (run->serve[0]) {
		int i = server_find(d, run->serve);
		if (i < 0) {
			snprintf(why, sizeof(why), "--serve %.100s: no serve line in the daemon's config names it", run->serve);
			return refuse(d, c, "run", EACCES, why); /* a refusal: exit 77 */
		}
		if (run->webroot[0] && d->cfg.srv[i].webroot[0] && strcmp(run->webroot, d->cfg.srv[i].webroot)) {
			snprintf(why, sizeof(why), "--webroot %.80s: the serve line for %.60s names %s", run->webroot,
				 d->cfg.srv[i].arg, d->cfg.srv[i].webroot);
			return refuse(d, c, "run", EACCES, why);
		}
		if (run->webroot[0] && d->cfg.srv[i].caddy[0]) {
			snprintf(why, sizeof(why), "--webroot %.80s: the serve line for %.60s takes its tokens from Caddy's "
				 "storage (caddy=)", run->webroot, d->cfg.srv[i].arg);
			return refuse(d, c, "run", EACCES, why);
		}
		if (run->webroot[0] && !d->cfg.srv[i].webroot[0]) {
			struct stat st;
			if (!path_abs_no_dotdot(run->webroot) || stat(run->webroot, &st) < 0 ||
			    !S_ISDIR(st.st_mode)) {
				snprintf(why, sizeof(why), "--webroot %.100s: not an absolute path to a directory", run->webroot);
				return refuse(d, c, "run", EACCES, why);
			}
		}
		if (server_window(d, (unsigned)i)->open) {
			snprintf(why, sizeof(why), "--serve %.100s: a window to it is open already (window %llu, %s)", run->serve,
				 (unsigned long long)server_window(d, (unsigned)i)->id, server_window(d, (unsigned)i)->why);
			return refuse(d, c, "run", EBUSY, why);
		}
	}
	if (run->container[0]) {
		if (c->uid != 0) {
			/* a group member could name anyone's container (README
			 * Security model): only root may, as in the config */
			snprintf(why, sizeof(why), "--container: root only (uid %u may open windows for its own "
				 "processes, never for a container it cannot be proven to own)", (unsigned)c->uid);
			return refuse(d, c, "run", EPERM, why);
		}
		r = crun_check(d, run->container, why, sizeof(why));
		if (r) {
			char w2[300];
			snprintf(w2, sizeof(w2), "--container %s", why);
			return refuse(d, c, "run", r == -EOPNOTSUPP ? EACCES : -r, w2);
		}
	}
	r = session_run(d, c, run, &s, why, sizeof(why));
	if (r)
		return refuse(d, c, "run", -r, why);
	if (run->container[0]) {
		r = crun_begin(d, s->id, run->container, run->nports ? s->ports : NULL, run->nports ? s->nports : 0,
			       s->max_window, why, sizeof(why));
		if (r) {
			s->client = NULL; /* the refusal is its only answer */
			c->session = NULL;
			session_end(d, s, PH_REASON_EXITED);
			return refuse(d, c, "run", -r, why);
		}
		log_info("session %llu designates container %s until its command exits (run --container)",
			 (unsigned long long)s->id, run->container);
	}
	if (run->serve[0]) {
		/* the command's lifetime, at most its max_window, from now */
		char err[512];
		int i = server_find(d, run->serve);
		uint64_t now_boot = now_ns(CLOCK_BOOTTIME), now_real = now_ns(CLOCK_REALTIME);
		session_deadline_once(s, now_boot, now_real);
		if (run->webroot[0] && !d->cfg.srv[i].webroot[0])
			server_session_webroot(d, (unsigned)i, run->webroot); /* token-bound for this session */
		r = server_open(d, (unsigned)i, "session", s, err, sizeof(err));
		if (r) {
			server_session_webroot(d, (unsigned)i, "");
			session_end(d, s, PH_REASON_EXITED);
			return control_send_error(c, -r, "run --serve: %s", err);
		}
		server_watch_tokens(d, (unsigned)i);
	}
	len = ph_msg_init(&m, PH_MSG_RUN_OK, sizeof(*ok));
	ok->session_id = s->id;
	ok->max_window = s->max_window;
	ok->nports = (uint16_t)s->nports;
	memcpy(ok->ports, s->ports, sizeof(ok->ports));
	copy_str(ok->cgroup, sizeof(ok->cgroup), s->cgroup);
	return control_send(c, &m, len);
}

static int status_reply(struct ph_daemon *d, struct ph_client *c)
{
	size_t cap = sizeof(struct ph_status_reply) + PH_STATUS_MAX * sizeof(struct ph_status_entry);
	char *buf = calloc(1, sizeof(struct ph_hdr) + cap);
	struct ph_status_reply *rep;
	uint32_t n = 0;
	int r;

	if (!buf)
		return control_send_error(c, ENOMEM, "out of memory");
	for (struct ph_window *w = d->windows; w && n < PH_STATUS_MAX; w = w->next)
		n++;
	for (unsigned i = 0; i < d->cfg.nsrv && n < PH_STATUS_MAX; i++)
		n += server_window(d, i)->open;
	for (unsigned i = 0; container_window_at(d, i) && n < PH_STATUS_MAX; i++)
		n++;
	ph_msg_init(buf, PH_MSG_STATUS_REPLY, sizeof(*rep) + n * sizeof(struct ph_status_entry));
	rep = ph_payload(buf);
	rep->count = n;
	n = 0;
	for (struct ph_window *w = d->windows; w && n < rep->count; w = w->next, n++) {
		struct ph_status_entry *e = &rep->entries[n];
		e->window_id = w->id;
		e->session_id = w->session->id;
		e->opened_ns = w->opened_real;
		e->deadline_ns = w->deadline_real;
		fw_window_counters(d->fw, w->session->mark, w->port, &e->packets, &e->bytes);
		e->pid = (uint32_t)w->pid;
		e->port = w->port;
		e->nchains = (uint16_t)w->nchains;
		e->nlisteners = w->ncookies;
		copy_str(e->exe, sizeof(e->exe), w->exe);
		copy_str(e->cgroup, sizeof(e->cgroup), w->session->cgroup);
	}
	for (unsigned i = 0; i < d->cfg.nsrv && n < rep->count; i++) {
		const struct ph_srvwin *w = server_window(d, i);
		struct ph_status_entry *e = &rep->entries[n];
		size_t tl = 0;
		if (!w->open)
			continue;
		n++;
		e->kind = PH_WIN_SERVER;
		e->window_id = w->id;
		e->session_id = w->session ? w->session->id : 0;
		e->opened_ns = w->opened_real;
		e->deadline_ns = w->deadline_real;
		e->port = d->cfg.srv[i].ports[0];
		e->nchains = (uint16_t)fw_guard_rules(d->fw);
		copy_str(e->exe, sizeof(e->exe), d->cfg.srv[i].arg);
		copy_str(e->cgroup, sizeof(e->cgroup), d->cfg.srv[i].cgroup);
		for (unsigned k = 0; k < w->ntokens; k++) {
			size_t l = strlen(w->tokens[k]);
			if (tl + l + 2 > sizeof(e->tokens))
				break;
			if (tl)
				e->tokens[tl++] = ' ';
			memcpy(e->tokens + tl, w->tokens[k], l);
			tl += l;
		}
		e->tokens[tl] = '\0';
		guardbpf_stats(d->gk, i, &e->admitted, &e->dropped);
		e->admitted -= w->admitted0;
		e->dropped -= w->dropped0;
	}
	for (unsigned i = 0; n < rep->count; i++, n++) {
		const struct ph_cwin *w = container_window_at(d, i);
		struct ph_status_entry *e = &rep->entries[n];
		if (!w)
			break;
		e->kind = PH_WIN_CONTAINER;
		e->window_id = w->id;
		e->opened_ns = w->opened_real;
		e->deadline_ns = w->deadline_real;
		e->pid = w->pid;
		e->port = w->npports ? w->pports[0] : w->cport;
		e->nlisteners = 1;
		copy_str(e->exe, sizeof(e->exe), w->exe);
		copy_str(e->cgroup, sizeof(e->cgroup), w->cgroup);
		container_targets_str(w, e->tokens, sizeof(e->tokens));
	}
	r = control_send(c, buf, ((struct ph_hdr *)buf)->len);
	free(buf);
	return r;
}

static int close_request(struct ph_daemon *d, struct ph_client *c, const struct ph_close *req)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr)]; } m;

	for (struct ph_window *w = d->windows; w; w = w->next) {
		const struct ph_session *s = w->session;
		if (w->id != req->window_id)
			continue;
		/* a member of the group closes only what they opened */
		if (c->uid != 0 && (s->kind != S_RUN || s->uid != c->uid)) {
			char why[160];
			snprintf(why, sizeof(why), "window %llu belongs to %s; only its owner or root may close it",
				 (unsigned long long)w->id, s->kind == S_RUN ? "another user's session" : "a designation");
			return refuse(d, c, "close", EPERM, why);
		}
		log_notice("window %llu revoked by uid %u (pid %d)", (unsigned long long)w->id, (unsigned)c->uid,
			   (int)c->pid);
		window_revoke(d, w, c->uid, c->pid);
		return control_send(c, &m, ph_msg_init(&m, PH_MSG_OK, 0));
	}
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		const struct ph_srvwin *w = server_window(d, i);
		if (!w->open || w->id != req->window_id)
			continue;
		if (c->uid != 0 && (!w->session || w->session->uid != c->uid)) {
			char why[160];
			snprintf(why, sizeof(why), "window %llu is a server window of the config; only root may close it",
				 (unsigned long long)w->id);
			return refuse(d, c, "close", EPERM, why);
		}
		log_notice("window %llu revoked by uid %u (pid %d)", (unsigned long long)w->id, (unsigned)c->uid,
			   (int)c->pid);
		server_revoke(d, i);
		return control_send(c, &m, ph_msg_init(&m, PH_MSG_OK, 0));
	}
	for (unsigned i = 0; container_window_at(d, i); i++) {
		char why[160];
		if (container_window_at(d, i)->id != req->window_id)
			continue;
		if (c->uid != 0) {
			snprintf(why, sizeof(why), "window %llu is a container window of the config; only root may close it",
				 (unsigned long long)req->window_id);
			return refuse(d, c, "close", EPERM, why);
		}
		/* (said once: container_revoke's warning carries who) */
		snprintf(why, sizeof(why), "closed by uid %u (pid %d, porthole close)", (unsigned)c->uid, (int)c->pid);
		container_revoke(d, container_window_at(d, i)->cookie, why);
		return control_send(c, &m, ph_msg_init(&m, PH_MSG_OK, 0));
	}
	return control_send_error(c, ENOENT, "no open window %llu", (unsigned long long)req->window_id);
}

int request_handle(void *ctx, struct ph_client *c, int type, const void *payload, size_t len)
{
	struct ph_daemon *d = ctx;
	int r;

	(void)len;
	if (!c->authorized) {
		char why[128];
		snprintf(why, sizeof(why), "not root and not in socket_group");
		log_msg(LOG_NOTICE | LOG_AUDITED, "refused: %s request from pid %d uid %u: not root and not in group %s",
			   ph_msg_type_name((uint32_t)type), (int)c->pid, (unsigned)c->uid, d->cfg.socket_group);
		record_refused(d, c->uid, c->pid, ph_msg_type_name((uint32_t)type), why);
		control_send_error(c, EACCES, "permission denied: uid %u is not root and not in group '%s'",
				   (unsigned)c->uid, d->cfg.socket_group);
		return -EACCES;
	}
	switch (type) {
	case PH_MSG_RUN:
		r = run_request(d, c, payload);
		break;
	case PH_MSG_STATUS:
		r = status_reply(d, c);
		break;
	case PH_MSG_CLOSE:
		r = close_request(d, c, payload);
		break;
	default:
		r = control_send_error(c, EOPNOTSUPP, "unexpected message '%s'", ph_msg_type_name((uint32_t)type));
		break;
	}
	if (r < 0)
		log_debug("control: reply to pid %d failed: %s", (int)c->pid, strerror(-r));
	return 0;
}

void request_client_gone(struct ph_daemon *d, struct ph_client *c)
{
	(void)d;
	if (c->session) {
		/* the session lives on until its last task exits */
		c->session->client = NULL;
		c->session = NULL;
	}
}
