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
/* On the foreign ring buffer only (struct ph_kforeign): */
#define PH_EV_FOREIGN_LISTEN   5 /* a TCP socket of another network namespace entered LISTEN on a watched port */
#define PH_EV_FOREIGN_UNLISTEN 6 /* ... and left it (closed) */

#define PH_MAX_WATCHED_PORTS 64
#define PH_RINGBUF_BYTES (256 * 1024)
#define PH_MAX_SESSIONS_BPF 4096
#define PH_MAX_TAGGED_TASKS_BPF 65536 /* live tasks of all sessions together */
#define PH_MAX_LISTENERS_BPF 8192
#define PH_MAX_DESIGNATIONS_BPF 32
#define PH_MAX_CGROUP_LEVEL 16
#define PH_MAX_WINDOWS_BPF 4096
/* Foreign listeners tracked at once: those of network namespaces owned by
 * the initial user namespace (made by root: containers of a rootful engine),
 * and apart, so that an unprivileged user's own namespaces cannot crowd them
 * out, those of namespaces owned by another user namespace (unshare -Urn). */
#define PH_MAX_FOREIGN_BPF 4096
#define PH_MAX_FOREIGN_USERNS_BPF 512
#define PH_FOREIGN_RINGBUF_BYTES (64 * 1024)
#define PH_USERNS_INIT_INO 0xEFFFFFFDu /* the initial user namespace's inode (PROC_USER_INIT_INO) */

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
	__u32 budget;       /* PH_EV_LISTEN: the max_window budget the listening task carries (0: none) */
	__u32 pad1;
};

/* The tag of a `porthole run` process tree (task storage): set by the daemon
 * on the command's first process, inherited at every fork and clone. A
 * designated process (watch mode) gets one at its first window that carries
 * only its budget: the mark stays the designation's, decided at bind. */
struct ph_tag {
	__u32 mark;         /* the session's window mark; 0: a budget tag only */
	__u32 uid;          /* the session's owner; PH_TAG_ANY_UID: root's session */
	__u32 budget;       /* a designated process's max_window budget (watch mode), passed
			     * on at fork: a child that listens again spends its parent's */
	__u32 pad0;
};
#define PH_TAG_ANY_UID 0xffffffffu

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

/* A listener on a watched port in another network namespace (a container's),
 * whatever its mark: the event (on a ring buffer of its own, so that a flood
 * of them never costs the host's events a place) and the value of the
 * kernel's list of them (foreign_listeners, by socket cookie), read back
 * when events were lost. ev carries cookie, cgroup_id, netns_ino, tgid, uid,
 * type, family, port (mark 0: never looked at). */
struct ph_kforeign {
	struct ph_kevent ev;
	__u64 netns_cookie; /* the socket's network namespace's cookie */
	__u32 userns_ino;   /* inode of the user namespace owning that network namespace */
	__u8 v6only;        /* AF_INET6: IPV6_V6ONLY (a wildcard then takes no IPv4) */
	__u8 pad0[3];
	__u8 laddr[16];     /* the bound address (4 or 16 bytes by family; zero: the wildcard) */
};

#include "guard.h"

#endif
