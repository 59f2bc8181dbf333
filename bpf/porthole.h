/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between the kernel programs (bpf/porthole.bpf.c) and the daemon's
 * loader (daemon/watch.c): the events, the session tag a process tree
 * carries, the map keys. Fixed widths, no pointers, explicit padding, so
 * both sides agree on the layout byte for byte. */
#ifndef PORTHOLE_BPF_H
#define PORTHOLE_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PH_EV_LISTEN        1 /* a marked socket entered TCP_LISTEN on a watched port */
#define PH_EV_UNLISTEN      2 /* ... and left it (closed) */
#define PH_EV_ACCEPT        3 /* a connection through an open window was established */
#define PH_EV_SESSION_EMPTY 4 /* the last tagged task of a session exited */

#define PH_MAX_WATCHED_PORTS 64
#define PH_RINGBUF_BYTES (256 * 1024)
#define PH_MAX_SESSIONS_BPF 4096
#define PH_MAX_LISTENERS_BPF 8192
#define PH_MAX_DESIGNATIONS_BPF 32
#define PH_MAX_CGROUP_LEVEL 16
#define PH_MAX_WINDOWS_BPF 4096

struct ph_kevent {
	__u64 ts_ns;        /* bpf_ktime_get_boot_ns() at the event */
	__u64 cookie;       /* socket cookie: identity of the listening socket */
	__u64 cgroup_id;    /* cgroup v2 id of the socket's own cgroup */
	__u32 netns_ino;    /* inode of the socket's network namespace */
	__u32 tgid;         /* process id of the current task */
	__u32 uid;
	__u16 type;         /* PH_EV_* */
	__u16 family;       /* AF_INET / AF_INET6 */
	__u16 port;         /* local port, host byte order */
	__u16 pad0;
	__u32 mark;         /* the socket's mark & porthole's mask: which window;
			     * SESSION_EMPTY: the session's mark */
	__u8 raddr[16];     /* PH_EV_ACCEPT: remote address (4 or 16 bytes by family) */
};

/* The tag of a `porthole run` process tree (task storage): set by the daemon
 * on the command's first process, inherited at every fork and clone. */
struct ph_tag {
	__u32 mark;         /* the session's window mark */
	__u32 pad0;
};

/* key of the designated-executables map: the kernel's s_dev and inode */
struct ph_exe_key {
	__u64 dev;
	__u64 ino;
};

/* an open window, for the accept filter: only connections through one wake
 * the daemon */
struct ph_win_key {
	__u32 mark;
	__u16 port;
	__u16 pad0;
};

/* a live listener on a watched port whose socket carries a porthole mark:
 * the kernel's own list, read back when events were lost */
struct ph_listener {
	__u32 mark;
	__u32 tgid;
	__u16 port;
	__u16 family;
	__u32 uid;
};

/* ---- guarded server windows ------------------------------------------------------
 * A connection through a server window carries the "guarded" mark (set by
 * porthole's rule where the host would drop it, kept in conntrack). Its first
 * payload segment must be one whole ACME challenge request; everything else
 * on it is dropped in the kernel (cgroup_skb/ingress). */
#define PH_MAX_SERVERS_BPF  16
#define PH_TOKEN_MAX        128
#define PH_GUARD_REQ_MAX    1024  /* bytes in the one request segment */
#define PH_MAX_TOKENS_BPF   1024
#define PH_GUARD_RINGBUF_BYTES (256 * 1024)

/* a served cgroup (key: its cgroup v2 id) */
#define PH_SRV_OPEN   1u  /* a window to it is open: first requests may pass */
#define PH_SRV_TOKENS 2u  /* only tokens listed in guard_tokens pass */
struct ph_guard_srv {
	__u32 index;        /* the serve line (0-based) */
	__u32 flags;        /* PH_SRV_* */
};

struct ph_token_key {
	__u32 server;       /* serve line index */
	__u32 len;          /* 1..PH_TOKEN_MAX */
	char token[PH_TOKEN_MAX]; /* zero-padded */
};

struct ph_guard_stats {
	__u64 admitted, dropped;
};

/* why a guarded request was admitted or dropped (audit: ph_guard_why_name) */
enum ph_guard_why {
	PH_GW_ADMITTED = 1,
	PH_GW_NOT_CHALLENGE,  /* not "GET /.well-known/acme-challenge/" */
	PH_GW_BAD_TOKEN,      /* token characters or length */
	PH_GW_TOKEN_NOT_LIVE, /* no such token file now */
	PH_GW_BAD_VERSION,    /* not " HTTP/1.1" / " HTTP/1.0" right after the token */
	PH_GW_BAD_HEADER,     /* a header line that is not printable ASCII, CRLF-ended, with a colon */
	PH_GW_SPLIT,          /* the segment ends before the empty line */
	PH_GW_PIPELINED,      /* bytes after the empty line */
	PH_GW_SECOND,         /* payload after the one request */
	PH_GW_HANDSHAKE_DATA, /* payload on a SYN (TCP Fast Open) */
	PH_GW_TOO_LONG,       /* more than PH_GUARD_REQ_MAX bytes */
	PH_GW_NO_WINDOW,      /* the socket's server has no open window */
	PH_GW_MALFORMED,      /* not TCP over IPv4/IPv6 as expected */
	PH_GW_MAX = PH_GW_MALFORMED,
};

struct ph_guard_event {
	__u64 ts_ns;
	__u32 server;       /* serve line index; ~0 when unknown */
	__u16 family;
	__u16 port;         /* local port */
	__u16 rport;        /* remote port */
	__u8 admitted;      /* 1: passed to the server */
	__u8 why;           /* enum ph_guard_why */
	__u32 token_len;    /* 0: no token read */
	__u8 raddr[16];
	char token[PH_TOKEN_MAX];
};

#endif
