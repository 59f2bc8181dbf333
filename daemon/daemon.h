/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's state, shared by its modules: sessions (who may get a window)
 * and windows (what is open now), and the handles of every subsystem. Each
 * module owns one part: session.c the sessions and their marks, window.c the
 * window state machine (window.h: the only writer of a window, its calls
 * outward through d->wops), server.c the server windows (server.h: their
 * state is server.c's own), tokens.c their tokens' watches, events.c the
 * kernel's reports, designate.c the config's cgroup designations, request.c
 * the control requests, foreign.c other network namespaces' listeners,
 * records.c (with records_server.c) the audit records,
 * ops.c the state machines' production ops, main.c setup, loop and teardown. */
#ifndef PORTHOLE_DAEMON_H
#define PORTHOLE_DAEMON_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "audit.h"
#include "config.h"
#include "container_run.h"
#include "control.h"
#include "guardbpf.h"
#include "porthole.h"
#include "proto.h"
#include "util.h"
#include "watch.h"
#include "server.h"
#include "window.h"

#define PH_MAX_SESSIONS 1024        /* sessions at once, all users */
#define PH_MAX_SESSIONS_PER_UID 16  /* a non-root user's sessions at once */

struct ph_fw;
struct ph_watch;

enum ph_session_kind {
	S_RUN = 1,     /* porthole run: a tagged process tree, in its caller's cgroup */
	S_WATCH,       /* a designation of the config (watch mode) */
};

struct ph_session {
	enum ph_session_kind kind;
	uint64_t id;
	uint32_t mark;            /* the window mark its sockets get */
	uint32_t des_index;       /* S_WATCH: which designation */
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;
	uint32_t max_window;
	uint64_t deadline_boot;   /* S_RUN: set when the first window opens, never moved */
	uint64_t deadline_real;
	uid_t uid;                /* S_RUN: who asked */
	pid_t pid;                /* S_RUN: the command's first process */
	char exe[PH_EXE_LEN];
	char cgroup[PH_PATH_LEN]; /* S_RUN: the command's cgroup (its caller's) */
	struct ph_client *client; /* NULL once the CLI has gone */
	/* S_WATCH: when each invocation of a designated process got its first
	 * window: max_window bounds the total it can keep open. An invocation
	 * is the process (pid + start time, so a reused pid is another one) and
	 * every process it forks afterwards (the kernel passes the budget id on
	 * at fork): a child that listens again spends the same budget */
	struct { uint32_t id; pid_t pid; uint64_t start, first_boot; } budget[32];
	unsigned budget_next;
	struct ph_session *next;
};

/* An S_RUN session's deadline: max_window from now, set once (at its first
 * window, or when run --serve opens its server window), never moved. */
static inline void session_deadline_once(struct ph_session *s, uint64_t now_boot, uint64_t now_real)
{
	if (!s->deadline_boot) {
		s->deadline_boot = now_boot + (uint64_t)s->max_window * NSEC_PER_SEC;
		s->deadline_real = now_real + (uint64_t)s->max_window * NSEC_PER_SEC;
	}
}

struct ph_servers;  /* server.c's own */
struct ph_foreign;  /* foreign.c's own (foreign.h) */
struct ph_tokens;   /* tokens.c's own */
struct ph_containers; /* container.c's own (container.h) */
struct ph_census;
struct ph_crun;   /* container_run.c's own */
struct ph_cwin;

struct ph_daemon {
	struct ph_config cfg;
	struct ph_fw *fw;
	struct ph_watch *watch;
	struct ph_guardbpf *gk;       /* the guard (serve lines; NULL: the kernel rejected it) */
	char guard_why[320];          /* ... why, for the refusal of every server window */
	int guard_unpinned_said;      /* the warning that the guard cannot be pinned, said once */
	struct ph_control ctl;
	struct ph_audit audit;
	char cg_mount[PATH_MAX];
	int epfd, sigfd, timerfd, inofd;
	int srv_inofd, srv_timerfd;   /* server windows' webroots and deadlines */
	struct ph_servers *servers;   /* server windows: server.c's (server_window() reads one) */
	struct ph_tokens *tokens;     /* their tokens' watches: tokens.c's */
	struct ph_foreign *foreign;   /* other namespaces' listeners: foreign.c's */
	struct ph_containers *containers; /* container windows: container.c's */
	struct ph_csrvs *csrvs;       /* container serve lines' listeners: container_serve.c's */
	struct ph_census *census;         /* container_census.c's: what waits for a batch's end */
	struct ph_crun *crun;             /* run --container's designations: container_run.c's (NULL: none) */
	int ctr_timerfd;              /* their deadlines */
	uint32_t netns_ino;
	uint64_t lost_seen;       /* kernel events lost, as of the last resync */
	struct ph_session *sessions;
	struct ph_window *windows;    /* changed by window.c only */
	const struct ph_window_ops *wops; /* window.c's calls outward */
	uint64_t next_session_id, next_window_id;
	uint32_t next_budget_id;  /* watch mode's budgets (0: none) */
	uint32_t next_mark_k;     /* the mark allocator's cursor */
	uint32_t reserved_marks[4096]; /* carried by TCP sockets on watched ports, as last read */
	unsigned nreserved;
	uint32_t des_marks[PH_MAX_DESIGNATIONS];
	struct {
		uint32_t mark;
		uint64_t until_boot;  /* its element may admit until then */
	} held[64];                   /* marks whose set element could not be removed */
	unsigned nheld;
	struct ph_guard_marks guard;  /* server windows' two marks (cfg.nsrv > 0) */
	struct {
		int wd;              /* inotify on the parent cgroup / executable's directory */
		uint64_t cgid;       /* cgroup: 0 while the cgroup does not exist */
		int exe_fd;          /* exe: O_PATH on the designated file, so its inode
				      * number cannot be reused while it is designated */
		uint64_t dev, ino;   /* exe: what the kernel's map holds now (0: nothing) */
	} des[PH_MAX_DESIGNATIONS];
	char state_path[PATH_MAX];
	struct {
		uint64_t opened, refused, last_close_real;
		uint64_t closed[PH_REASON_MAX + 1];
	} stats;                  /* for the metrics file */
	int quit;
	int quit_done;            /* every window closed for shutdown */
};

/* session.c */
uint32_t mark_nth(uint32_t mask, uint32_t k);   /* the k-th value within mask */
int sessions_init(struct ph_daemon *d);          /* marks for the designations, their sessions */
/* A window's element could not be removed: its mark is given to no one
 * until the element's own deadline has passed. */
void mark_hold(struct ph_daemon *d, uint32_t mark, uint64_t until_boot);
struct ph_session *session_by_mark(struct ph_daemon *d, uint32_t mark);
/* A `porthole run` session for the caller's child pid: verified, tagged. */
int session_run(struct ph_daemon *d, struct ph_client *c, const struct ph_run *run, struct ph_session **out,
		char *why, size_t whylen);
void session_end(struct ph_daemon *d, struct ph_session *s, uint32_t reason);
void session_send_event(struct ph_session *s, uint32_t kind, const struct ph_window *w, uint32_t reason, int error,
			uint64_t packets, uint64_t bytes);
void sessions_shutdown(struct ph_daemon *d);
unsigned sessions_of_uid(const struct ph_daemon *d, uid_t uid);

/* window.c: see window.h; ops.c: the production seams, and the clock and
 * the absolute CLOCK_BOOTTIME timerfd arming they share (0: disarm) */
uint64_t clock_now(clockid_t clk);
void timer_arm_fd(int fd, uint64_t when_boot);
extern const struct ph_window_ops window_ops_live;

/* events.c */
void events_on_kernel(void *ctx, const struct ph_kevent *e);
/* after every batch of kernel events: resynchronise if any were lost */
void events_check_lost(struct ph_daemon *d);

/* designate.c */
void designations_watch(struct ph_daemon *d);
void designations_on_inotify(struct ph_daemon *d);
void designations_release(struct ph_daemon *d);

/* server.c, tokens.c: see server.h; ops.c: the production seam */
extern const struct ph_server_ops server_ops_live;

/* request.c */
int request_handle(void *ctx, struct ph_client *c, int type, const void *payload, size_t len);
void request_client_gone(struct ph_daemon *d, struct ph_client *c);

/* telemetry.c */
void journal_event(const char *event, const char *message, char *const *fields, unsigned nfields);
void metrics_write(struct ph_daemon *d);

/* records.c */
int record_write(struct ph_daemon *d, const char *event, void (*fill)(struct jbuf *b, void *arg), void *arg);
int record_window_open(struct ph_daemon *d, const struct ph_window *w, const struct ph_chain_ref *chains,
		       unsigned nchains);
void record_window_close(struct ph_daemon *d, const struct ph_window *w, uint32_t reason, uint64_t duration_ns,
			 uint64_t packets, uint64_t bytes);
void record_refused(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why);
void record_daemon_start(struct ph_daemon *d, const char *config, const char *version, unsigned rules_removed);
void record_recovered(struct ph_daemon *d, uint64_t window_id);
void record_daemon_stop(struct ph_daemon *d, const char *reason);
/* records_server.c */
int record_server_open(struct ph_daemon *d, unsigned i);
void record_server_close(struct ph_daemon *d, unsigned i, uint32_t reason, uint64_t duration_ns, uint64_t admitted,
			 uint64_t dropped);
void record_guard(struct ph_daemon *d, const struct ph_guard_event *e);
void record_guard_suppressed(struct ph_daemon *d, uint64_t count);
/* records_container.c; ops_container.c: container.c's production seam */
int record_container_open(struct ph_daemon *d, const struct ph_cwin *w);
void record_container_close(struct ph_daemon *d, const struct ph_cwin *w, uint32_t reason, uint64_t duration_ns);
extern const struct ph_container_ops container_ops_live;
/* procinfo.c */
void proc_exe(pid_t pid, char *buf, size_t len);
void proc_cmdline(uint32_t pid, char *buf, size_t len);
void proc_user_name(uint32_t uid, char *buf, size_t len);
uint64_t proc_start(pid_t pid);  /* its start time (boot ticks), 0 if gone */
/* ids.c */
/* the last window id, kept beside the audit log's own record of it */
uint64_t ids_load(const char *path);
void ids_save(struct ph_daemon *d);

#endif
