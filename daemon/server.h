/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Server windows (server.c): the view of one serve line's window that the
 * audit records, the status reply and the metrics read, the verbs the rest
 * of the daemon uses, and the one seam through which that state machine
 * reaches out: struct ph_server_ops. Its state (the windows, the rate
 * limiter of the guard's records) is server.c's own: nothing else writes
 * it. The daemon wires the production ops (ops.c); a unit test fakes this
 * one struct (tests/unit/test_server.c). Includes nothing of the daemon's. */
#ifndef PORTHOLE_SERVER_H
#define PORTHOLE_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "porthole.h" /* the guard's event, PH_TOKEN_MAX */
#include "proto.h"

#define PH_MAX_SERVER_TOKENS 64
#define GUARD_DROPS_PER_S 50u  /* dropped-request records a second; the rest are counted */

struct ph_daemon;
struct ph_session;

/* the window of one serve line */
struct ph_srvwin {
	int open;
	uint64_t id;
	uint64_t cgid;            /* the served cgroup when it opened */
	char why[16];             /* "tokens", "always", "session" */
	struct ph_session *session; /* run --serve: the window lasts as long as it */
	uint64_t opened_boot, opened_real;
	uint64_t deadline_boot, deadline_real; /* 0: none (always) */
	uint64_t admitted0, dropped0; /* the guard's counters when it opened */
	int spent;                /* webroot: its deadline passed; only a new token opens again */
	char last_refusal[256];   /* the last refusal recorded (not again at every retry) */
	char webroot[PH_PATH_LEN];  /* a run --serve --webroot session's (the serve line has none) */
	char tokens[PH_MAX_SERVER_TOKENS][PH_TOKEN_MAX + 1];
	unsigned ntokens;
};

/* Every call the server-window state machine makes outward; i is the
 * serve line's index. */
struct ph_server_ops {
	void (*log)(int prio, const char *msg);  /* (log.h's log_to formats) */
	uint64_t (*now)(clockid_t clk);
	/* the servers' timer: fire at when_boot (CLOCK_BOOTTIME), 0: disarm */
	void (*timer_arm)(struct ph_daemon *d, uint64_t when_boot);
	/* the served cgroup: its id (0: none), whether it has a process, and
	 * whether something listens on the serve line's ports (0, or -errno
	 * and why) */
	uint64_t (*cgroup_id)(struct ph_daemon *d, unsigned i);
	int (*running)(struct ph_daemon *d, unsigned i);
	int (*listens)(struct ph_daemon *d, unsigned i, uint64_t cgid, char *err, size_t errlen);
	/* the firewall (firewall.h): the served cgroup's element per port (a
	 * container's: its csrv elements, container_serve.h) */
	int (*fw_open)(struct ph_daemon *d, unsigned i, uint64_t cgid, unsigned level, uint16_t port, uint64_t timeout_ms,
		       char *why, size_t whylen);
	void (*fw_close)(struct ph_daemon *d, unsigned i, uint64_t cgid, uint16_t port);
	unsigned (*fw_guard_rules)(struct ph_daemon *d);
	/* the guard (guardbpf.h) */
	int (*guard_attach)(struct ph_daemon *d, int on);  /* 1: attached, not pinned */
	int (*guard_server)(struct ph_daemon *d, uint64_t cgid, unsigned i, uint32_t flags, int on);
	void (*guard_stats)(struct ph_daemon *d, unsigned i, uint64_t *admitted, uint64_t *dropped);
	int (*guard_token)(struct ph_daemon *d, unsigned i, const char *token, int on);
	int (*guard_end)(struct ph_daemon *d, unsigned *ended);  /* end the connections it judged */
	/* conntrack: end the connections server windows admitted (logs) */
	void (*end_guarded)(struct ph_daemon *d, const char *when);
	/* the tokens (tokens.c) */
	int (*tokens_source)(struct ph_daemon *d, unsigned i);  /* 1: token-bound */
	void (*tokens_read)(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n);
	void (*tokens_unwatch)(struct ph_daemon *d, unsigned i);
	/* the audit log (records_server.c, records.c) */
	int (*record_open)(struct ph_daemon *d, unsigned i);
	void (*record_close)(struct ph_daemon *d, unsigned i, uint32_t reason, uint64_t duration_ns, uint64_t admitted,
			     uint64_t dropped);
	void (*record_refused)(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why);
	void (*record_guard)(struct ph_daemon *d, const struct ph_guard_event *e);
	void (*record_suppressed)(struct ph_daemon *d, uint64_t count);
	/* the window id state file, the metrics file */
	void (*ids_save)(struct ph_daemon *d);
	void (*metrics)(struct ph_daemon *d);
};

/* server.c */
int servers_init(struct ph_daemon *d, const struct ph_server_ops *ops);  /* before anything below */
void servers_free(struct ph_daemon *d);
int servers_start(struct ph_daemon *d);
const struct ph_srvwin *server_window(const struct ph_daemon *d, unsigned i);
/* why: "tokens", "always" or "session". 0, or -errno and the reason in err. */
int server_open(struct ph_daemon *d, unsigned i, const char *why, struct ph_session *s, char *err, size_t errlen);
void server_close(struct ph_daemon *d, unsigned i, uint32_t reason);
/* porthole close: closed, and the tokens there now do not open it again */
void server_revoke(struct ph_daemon *d, unsigned i);
int server_find(const struct ph_daemon *d, const char *spec);  /* serve line index, -1 */
/* run --serve --webroot on a serve line without one: the session's webroot
 * (before server_open), then its tokens watched (after) */
int server_session_webroot(struct ph_daemon *d, unsigned i, const char *dir);
void server_watch_tokens(struct ph_daemon *d, unsigned i);
/* a token source changed (tokens.c's watches): read its tokens again */
void server_tokens_changed(struct ph_daemon *d, unsigned i);
/* the served cgroups in mask (bit i) came or went (a restart) */
void servers_cgroup_moved(struct ph_daemon *d, uint32_t mask);
/* the servers' timer fired (its fd already read) */
void servers_on_timer(struct ph_daemon *d);
void servers_on_guard(void *ctx, const struct ph_guard_event *e);
void servers_session_end(struct ph_daemon *d, struct ph_session *s);
void servers_shutdown(struct ph_daemon *d);

/* tokens.c: a server's live tokens (its webroot's files, or Caddy's
 * pending challenges) and the inotify watches on their directories and on
 * the served cgroups' parents */
int token_valid(const char *t);
int tokens_init(struct ph_daemon *d);
void tokens_free(struct ph_daemon *d);
void tokens_start(struct ph_daemon *d);  /* the cgroups' watches; a token source not watched is said */
const char *tokens_webroot(const struct ph_daemon *d, unsigned i);
int tokens_source(const struct ph_daemon *d, unsigned i);        /* 1: token-bound */
void tokens_read(struct ph_daemon *d, unsigned i, char (*now)[PH_TOKEN_MAX + 1], unsigned *n);
void tokens_unwatch(struct ph_daemon *d, unsigned i);
void tokens_on_inotify(struct ph_daemon *d);

#endif
