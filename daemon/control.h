/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: created under a tight umask with mode 0660 and group
 * socket_group, a second daemon refused (lock file), a stale socket removed.
 * Each client's credentials come from SO_PEERCRED at accept time; only root
 * and members of socket_group are served. Messages are validated with
 * ph_msg_check() before they reach the handler. */
#ifndef PORTHOLE_CONTROL_H
#define PORTHOLE_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

#define PH_MAX_CLIENTS 256
#define PH_MAX_CLIENTS_PER_UID 32 /* a non-root user's connections at once */
#define PH_ROOT_CLIENTS 16        /* kept for root alone */
#define PH_CLIENT_IDLE_SEC 10

struct ph_session;

/* What epoll hands back (data.ptr): a handler and its object, never a guess
 * at a type. */
struct ph_handler {
	void (*fn)(void *ctx, void *obj, uint32_t events);
	void *obj;
};

struct ph_client {
	struct ph_handler h;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int authorized;
	int dead;                    /* dropped; freed by control_reap() */
	uint64_t last_ns;            /* CLOCK_BOOTTIME of the last request */
	struct ph_session *session;  /* the session this client started, if any */
	struct ph_client *next;
};

struct ph_control {
	int listen_fd;
	int lock_fd;
	int timer_fd;                /* idle-client timer, armed only while needed */
	char path[108];
	char lock_path[128];
	gid_t gid;
	struct ph_client *clients;
	struct ph_client *graveyard; /* dropped clients, freed after the event batch */
	unsigned nclients;
	int no_rights;               /* SO_PASSRIGHTS off: the kernel refuses passed fds */
	/* a connection refused for a limit: the daemon records it */
	void (*refused)(void *ctx, uid_t uid, pid_t pid, const char *why);
	void *refused_ctx;
};

/* Request handler: msg validated, type > 0. Returns 0 to keep the client,
 * <0 to drop it. No descriptor is ever accepted from a client. */
typedef int (*control_handler)(void *ctx, struct ph_client *c, int type, const void *payload, size_t len);

int control_open(struct ph_control *ctl, const struct ph_config *cfg);
void control_close(struct ph_control *ctl);
/* Accept pending connections; returns new clients through the callback. */
int control_accept(struct ph_control *ctl, void (*added)(void *ctx, struct ph_client *c), void *ctx);
/* Read and dispatch one message. <0: the client must be dropped. */
int control_read(struct ph_control *ctl, struct ph_client *c, control_handler h, void *ctx);
void control_drop(struct ph_control *ctl, struct ph_client *c);
/* Free the clients dropped since the last call. */
void control_reap(struct ph_control *ctl);
int control_send(struct ph_client *c, const void *msg, size_t len);
int control_send_error(struct ph_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Drop clients idle past PH_CLIENT_IDLE_SEC; rearm the timer. */
void control_expire(struct ph_control *ctl);

#endif
