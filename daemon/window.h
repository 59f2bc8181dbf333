/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The window: its fields, the verbs of its state machine (window.c, the
 * only code that changes a window), and the one seam through which that
 * state machine reaches the rest of the daemon: struct ph_window_ops. The
 * daemon wires the production ops (ops.c); a unit test fakes this one
 * struct (tests/unit/test_window.c). Includes nothing of the daemon's. */
#ifndef PORTHOLE_WINDOW_H
#define PORTHOLE_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "audit.h"    /* PH_MAX_PEERS */
#include "porthole.h"
#include "proto.h"

#define PH_MAX_LISTENERS 16

struct ph_daemon;
struct ph_session;
struct ph_client;
struct ph_chain_ref;

struct ph_window {
	uint64_t id;
	struct ph_session *session;
	uint16_t port;
	uint64_t opened_boot, opened_real;
	uint64_t deadline_boot, deadline_real;
	uint64_t cookies[PH_MAX_LISTENERS];
	unsigned ncookies;
	pid_t pid;                /* process that listened */
	uint32_t uid;
	uint16_t family;          /* of the listener that opened it */
	char exe[PH_EXE_LEN];     /* of the process that listened */
	uint32_t connections;     /* established through the window */
	struct { uint16_t family; uint8_t addr[16]; uint32_t count; } peers[PH_MAX_PEERS];
	unsigned npeers;
	uint32_t other_peer_connections; /* from peers beyond PH_MAX_PEERS */
	int64_t revoked_uid, revoked_pid;
	unsigned nchains;         /* host chains with porthole's rule when it opened */
	struct ph_window *next;
};

/* Every call the window state machine makes outward. */
struct ph_window_ops {
	void (*log)(int prio, const char *msg);  /* (log.h's log_to formats) */
	uint64_t (*now)(clockid_t clk);
	/* the deadline timer: fire at when_boot (CLOCK_BOOTTIME), 0: disarm */
	void (*timer_arm)(struct ph_daemon *d, uint64_t when_boot);
	/* the firewall (firewall.h): a window's set element */
	int (*fw_open)(struct ph_daemon *d, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why,
		       size_t whylen);
	int (*fw_close)(struct ph_daemon *d, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes);
	unsigned (*fw_chains)(struct ph_daemon *d, struct ph_chain_ref *out, unsigned max);
	/* the kernel reports connections through (mark, port) while open */
	void (*watch_window)(struct ph_daemon *d, uint32_t mark, uint16_t port, int open);
	/* a process: its start time (0: gone), its executable, and its
	 * budget id passed on to its later children (if it is still the
	 * process that started at start) */
	uint64_t (*proc_start)(pid_t pid);
	void (*proc_exe)(pid_t pid, char *buf, size_t len);
	void (*budget_tag)(struct ph_daemon *d, pid_t pid, uint64_t start, uint32_t budget);
	/* a mark whose element could not be removed: given to no one until then */
	void (*mark_hold)(struct ph_daemon *d, uint32_t mark, uint64_t until_boot);
	/* the audit log */
	int (*record_open)(struct ph_daemon *d, const struct ph_window *w, const struct ph_chain_ref *chains,
			   unsigned nchains);
	void (*record_close)(struct ph_daemon *d, const struct ph_window *w, uint32_t reason, uint64_t duration_ns,
			     uint64_t packets, uint64_t bytes);
	void (*record_refused)(struct ph_daemon *d, uid_t uid, pid_t pid, const char *request, const char *why);
	/* the session's client: an event, an error reply */
	void (*session_event)(struct ph_session *s, uint32_t kind, const struct ph_window *w, uint32_t reason,
			      int error, uint64_t packets, uint64_t bytes);
	void (*client_error)(struct ph_client *c, int code, const char *msg);
	/* the window id state file, the metrics file */
	void (*ids_save)(struct ph_daemon *d);
	void (*metrics)(struct ph_daemon *d);
};

/* window.c: the verbs. */
/* a listen on one of the session's ports: a window, or one more listener of it */
void window_listen(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e);
/* a listener closed: the window closes with its last one */
void window_unlisten(struct ph_daemon *d, uint64_t cookie);
/* a connection through the session's window on e->port: counted, its peer too */
void window_connection(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e);
/* after lost events: keep only the listeners live() still finds */
void window_keep_listeners(struct ph_daemon *d, int (*live)(void *arg, uint64_t cookie), void *arg);
int window_has_listener(const struct ph_window *w, uint64_t cookie);
void window_open(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e);
void window_close(struct ph_daemon *d, struct ph_window *w, uint32_t reason);
/* porthole close: by whom */
void window_revoke(struct ph_daemon *d, struct ph_window *w, uid_t uid, pid_t pid);
void window_close_session(struct ph_daemon *d, struct ph_session *s, uint32_t reason);
struct ph_window *window_find(struct ph_daemon *d, const struct ph_session *s, uint16_t port);
/* the deadline timer fired (its fd already read): close what is due */
void window_on_timer(struct ph_daemon *d);
void windows_shutdown(struct ph_daemon *d);

#endif
