/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control protocol between portholed and porthole: one definition for
 * both sides. Messages travel over a SOCK_SEQPACKET unix socket, one message
 * per datagram: a fixed header (magic, version, type, total length) followed
 * by a payload whose size is fixed per type (or, for STATUS_REPLY, a count
 * times a fixed entry). ph_msg_check() validates all of it before anyone
 * reads a field. Integers are in host byte order (the socket is local). */
#ifndef PORTHOLE_PROTO_H
#define PORTHOLE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PH_PROTO_MAGIC   0x31485050u /* "PPH1" */
#define PH_PROTO_VERSION 4 /* 2: RUN names the child by pid; no descriptor passing. 3: run --serve, server windows in STATUS.
                             4: run --container */
#define PH_MSG_MAX       16384
#define PH_MAX_PORTS     8
#define PH_ERRMSG_LEN    200
#define PH_PATH_LEN      256
#define PH_EXE_LEN       128
#define PH_STATUS_MAX    64
#define PH_RUN_CONTAINER_LEN 136 /* "podman:" + a container name (< 128) */

enum ph_msg_type {
	PH_MSG_RUN = 1,          /* CLI -> daemon: start a session for the caller's waiting child */
	PH_MSG_RUN_OK = 2,       /* daemon -> CLI: the session exists, the child is tagged */
	PH_MSG_EVENT = 3,        /* daemon -> CLI: window opened/closed, session ended */
	PH_MSG_ERROR = 4,        /* daemon -> CLI: request failed or refused */
	PH_MSG_STATUS = 5,       /* CLI -> daemon: list open windows */
	PH_MSG_STATUS_REPLY = 6,
	PH_MSG_CLOSE = 7,        /* CLI -> daemon: revoke a window */
	PH_MSG_OK = 8,
	PH_MSG_TYPE_MAX = 8,
};

enum ph_event_kind {
	PH_EVENT_WINDOW_OPEN = 1,
	PH_EVENT_WINDOW_CLOSE = 2,
	PH_EVENT_WINDOW_FAILED = 3, /* a listen was seen but no window could open */
	PH_EVENT_SESSION_END = 4,
};

enum ph_close_reason {
	PH_REASON_NONE = 0,
	PH_REASON_LISTENER_CLOSED = 1,
	PH_REASON_EXITED = 2,
	PH_REASON_DEADLINE = 3,
	PH_REASON_REVOKED = 4,
	PH_REASON_SHUTDOWN = 5,
	PH_REASON_RECOVERED = 6,
	PH_REASON_TOKENS_GONE = 7,   /* a server window: no token file is left */
	PH_REASON_SERVER_GONE = 8,   /* a server window: its cgroup went away */
	PH_REASON_MAX = 8,
};

struct ph_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;       /* header + payload, bytes */
	uint32_t reserved;  /* must be 0 */
};

struct ph_run {
	uint16_t nports;      /* 0: the daemon's configured ports */
	uint16_t pad0;
	uint32_t max_window;  /* seconds; 0: the daemon's max_window */
	uint16_t ports[PH_MAX_PORTS];
	uint32_t pid;         /* the caller's child, waiting to exec the command */
	uint32_t pad1;
	char serve[PH_PATH_LEN];   /* run --serve: a serve line's server ("unit:NAME", "cgroup:PATH"); "" none */
	char webroot[PH_PATH_LEN]; /* run --webroot: must be that serve line's webroot; "" none */
	char container[PH_RUN_CONTAINER_LEN]; /* run --container: "docker:NAME" or "podman:NAME" (root only); "" none */
};

struct ph_run_ok {
	uint64_t session_id;
	uint32_t max_window;
	uint16_t nports;
	uint16_t pad0;
	uint16_t ports[PH_MAX_PORTS];
	char cgroup[PH_PATH_LEN]; /* the command's own cgroup (its caller's) */
};

struct ph_event {
	uint32_t kind;        /* enum ph_event_kind */
	uint32_t reason;      /* enum ph_close_reason, for WINDOW_CLOSE */
	uint64_t window_id;
	uint64_t session_id;
	uint64_t deadline_ns; /* CLOCK_REALTIME, for WINDOW_OPEN */
	uint64_t packets;     /* admitted through the window, for WINDOW_CLOSE */
	uint64_t bytes;
	uint32_t pid;
	uint16_t port;
	uint16_t nchains;     /* chains the rule went into */
	int32_t error;        /* errno, for WINDOW_FAILED */
	uint32_t pad0;
};

struct ph_error {
	int32_t code;         /* positive errno value */
	uint32_t pad0;
	char msg[PH_ERRMSG_LEN];
};

struct ph_close {
	uint64_t window_id;
};

struct ph_status_entry {
	uint64_t window_id;
	uint64_t session_id;
	uint64_t opened_ns;   /* CLOCK_REALTIME */
	uint64_t deadline_ns; /* CLOCK_REALTIME */
	uint64_t packets;
	uint64_t bytes;
	uint32_t pid;
	uint16_t port;
	uint16_t nchains;
	uint32_t nlisteners;
	uint32_t kind;        /* PH_WIN_* */
	char exe[PH_EXE_LEN]; /* server windows: the serve line's unit or cgroup */
	char cgroup[PH_PATH_LEN];
	char tokens[PH_PATH_LEN]; /* server windows: live tokens, blank-separated (cut to fit);
				   * container windows: the DNAT targets ("ADDR:PORT via BRIDGE/PORT ...") */
	uint64_t admitted, dropped; /* server windows: guarded requests so far */
};

enum { PH_WIN_PROCESS = 0, PH_WIN_SERVER = 1, PH_WIN_CONTAINER = 2 };

struct ph_status_reply {
	uint32_t count;
	uint32_t pad0;
	struct ph_status_entry entries[];
};

/* Fill the header for a message of this type and payload size; returns the
 * total length. buf must hold sizeof(struct ph_hdr) + payload_len bytes. */
size_t ph_msg_init(void *buf, uint16_t type, size_t payload_len);
static inline void *ph_payload(void *buf) { return (char *)buf + sizeof(struct ph_hdr); }

/* Validate a received message of n bytes: magic, version, length, payload
 * size for its type, NUL-terminated strings, value ranges. Returns the type
 * (> 0), or -EBADMSG (malformed), -EPROTO (bad magic), -EPROTONOSUPPORT
 * (other version), -EMSGSIZE (length mismatch or too large). */
int ph_msg_check(const void *buf, size_t n);

/* run --container's value: ENGINE:NAME, ENGINE docker or podman, NAME a
 * container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, < 128 characters). 0 and
 * *engine (1 docker, 2 podman: config.h's PH_ENGINE_*) and name; or -EINVAL
 * and why (one line). */
int ph_run_container_parse(const char *v, int *engine, const char **name, char *why, size_t whylen);

const char *ph_reason_name(uint32_t reason);
const char *ph_msg_type_name(uint32_t type);

#endif
