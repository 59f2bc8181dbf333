/* Shared between the kernel programs (bpf/porthole.bpf.c) and the daemon's
 * loader (daemon/watch.c): the event that reports a TCP socket starting or
 * stopping to listen on a watched port. Fixed widths, no pointers, explicit
 * padding, so both sides agree on the layout byte for byte. */
#ifndef PORTHOLE_BPF_H
#define PORTHOLE_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PH_EV_LISTEN   1 /* socket entered TCP_LISTEN */
#define PH_EV_UNLISTEN 2 /* socket left TCP_LISTEN (closed) */
#define PH_EV_ACCEPT   3 /* a connection to a watched port was established */

#define PH_MAX_WATCHED_PORTS 64
#define PH_RINGBUF_BYTES (256 * 1024)

struct ph_kevent {
	__u64 ts_ns;        /* bpf_ktime_get_boot_ns() at the state change */
	__u64 cookie;       /* socket cookie: identity of the listening socket */
	__u64 cgroup_id;    /* cgroup v2 id of the socket's own cgroup */
	__u64 session_cgid; /* id of that cgroup's ancestor at session_level, 0 if shallower */
	__u32 netns_ino;    /* inode of the socket's network namespace */
	__u32 pid;          /* thread id of the current task */
	__u32 tgid;         /* process id of the current task */
	__u32 uid;
	__u16 type;         /* PH_EV_* */
	__u16 family;       /* AF_INET / AF_INET6 */
	__u16 port;         /* local port, host byte order */
	__u16 rport;        /* PH_EV_ACCEPT: remote port, host byte order */
	__u32 pad1;
	__u8 raddr[16];     /* PH_EV_ACCEPT: remote address (4 or 16 bytes by family) */
	__u32 designation;  /* 1 + index of the config designation that marked the socket; 0: none */
	__u32 mark;         /* the socket's mark */
};

#define PH_MAX_DESIGNATIONS_BPF 32
#define PH_MAX_CGROUP_LEVEL 16
#define PH_MARKED_SOCKS 8192

/* key of the designated-executables map: the kernel's s_dev and inode */
struct ph_exe_key {
	__u64 dev;
	__u64 ino;
};

#endif
