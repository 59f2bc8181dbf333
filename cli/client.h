// SPDX-License-Identifier: GPL-2.0-or-later
/* What every verb of the CLI shares: the exit statuses, the one connection
 * to portholed (socket path from --socket, $PORTHOLE_SOCKET or the default;
 * send, receive with a timeout, error replies mapped to messages and exit
 * statuses), the "porthole: " message helper, the time formatter, and the
 * printer for strings that come from the daemon or the audit log to a
 * terminal (--json output goes through lib/json.c's writer). */
#ifndef PORTHOLE_CLI_CLIENT_H
#define PORTHOLE_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* exit statuses, documented in the README and porthole(8) */
enum {
	EX_OK_ = 0,
	EX_NOTFOUND = 1,      /* close: no such open window */
	EX_USAGE_ = 64,
	EX_UNAVAILABLE_ = 69, /* daemon not running / unreachable */
	EX_SOFTWARE_ = 70,    /* protocol error, unexpected reply */
	EX_OSERR_ = 71,       /* fork, pipe, pidfd failed */
	EX_NOINPUT_ = 66,     /* log: the audit log cannot be read */
	EX_NOPERM_ = 77,      /* refused by the daemon or the socket's permissions */
	EX_CONFIG_ = 78,      /* log: the config file is bad */
	EX_ROOT_ONLY = 79,    /* run --container by a user other than root */
	EX_CANNOT_EXEC = 126,
	EX_NOT_FOUND = 127,
};

/* "porthole: MESSAGE\n" on stderr; does not exit. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The control socket: $PORTHOLE_SOCKET if set and not empty, else
 * PH_DEFAULT_SOCKET, until client_set_socket (--socket) replaces it. */
void client_init(void);
void client_set_socket(const char *path);
const char *client_socket(void);

/* Connect to portholed; the fd, or a negated exit status (message printed). */
int connect_daemon(void);
/* Receive one message into buf (PH_MSG_MAX bytes) within timeout_ms (-1:
 * wait); validated: its type, or -ETIMEDOUT, -ECONNRESET, -errno. */
int recv_msg(int fd, void *buf, int timeout_ms);
/* Send a message with a payload of at most 64 bytes: 0 or -errno. */
int send_simple(int fd, uint16_t type, const void *payload, size_t plen);
/* A PH_MSG_ERROR reply: print it, return the exit status it means. */
int error_exit(const void *msg);
/* A failed receive (recv_msg's negative result): print it, return the exit status. */
int reply_failure(int r);

/* "2026-11-28T12:39:17Z" */
void fmt_time(uint64_t realtime_ns, char *buf, size_t len);


/* term_escape(s) (lib/json.h), written to f without a length limit. */
void print_safe(FILE *f, const char *s);

#endif
