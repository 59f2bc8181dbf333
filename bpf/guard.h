/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between the guard of server windows (bpf/guard.bpf.c) and its
 * loader (daemon/guard.c): the served-cgroup and token map entries, the
 * verdict reasons and the event the guard reports. Fixed widths, no
 * pointers, explicit padding. */
#ifndef PORTHOLE_GUARD_H
#define PORTHOLE_GUARD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- guarded server windows ------------------------------------------------------
 * A connection through a server window carries the "guarded" mark (set by
 * porthole's rule where the host would drop it, kept in conntrack). Its first
 * payload segment must be one whole ACME challenge request; everything else
 * on it is dropped in the kernel (cgroup_skb/ingress). */
#define PH_MAX_SERVERS_BPF  16
#define PH_TOKEN_MAX        128
/* a token's characters (RFC 8555's base64url alphabet): the guard's reader
 * and the daemon's token sources use this one definition */
#define PH_TOKEN_CHAR(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') || \
			  (c) == '-' || (c) == '_')
#define PH_GUARD_REQ_MAX    1024  /* bytes in the one request segment */
#define PH_MAX_TOKENS_BPF   1024
#define PH_GUARD_RINGBUF_BYTES (256 * 1024)

/* the network namespaces the guard judges (key: inode) */
#define PH_MAX_NETNS_BPF 64
#define PH_GN_MARK 1u  /* the daemon's: skb->mark carries "guarded" */
#define PH_GN_DSCP 2u  /* a served container's: the DSCP guard_dscp does */

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

/* a connection attempt, from its SYN on (the guard's pending map) */
struct ph_conn_key {
	__u8 saddr[16], daddr[16];  /* the peer's, ours */
	__u16 sport, dport;         /* network byte order */
	__u32 family;
};

/* the guard's state of one connection (sk storage), or of one connection
 * attempt (the pending map, by struct ph_conn_key) */
struct ph_guard_conn {
	__u64 state;        /* the guard's GC_* (64 bits: compared and swapped) */
	__u32 seq, len;     /* the admitted segment */
	__u64 digest;       /* keyed hash of the admitted bytes */
	__u32 isn;          /* pending: the client's ISN (its SYN's, then its request socket's) */
	__u32 guarded;      /* pending: the host would have dropped it (a guarded-marked packet seen) */
};

/* a connection the guard judged: the daemon ends it when its window closes */
struct ph_guard_sock {
	__u8 laddr[16], raddr[16];
	__u16 lport, rport;  /* host byte order */
	__u16 family;
	__u16 pad0;
	__u32 pad1;
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
	PH_GW_URGENT,         /* the URG flag: the server would read another stream */
	PH_GW_NOT_NEXT,       /* payload that does not start where the server's stream goes on */
	PH_GW_RESEND_CHANGED, /* the admitted request's sequence range again, with other bytes */
	PH_GW_MAX = PH_GW_RESEND_CHANGED,
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
