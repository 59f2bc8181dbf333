// SPDX-License-Identifier: GPL-2.0
/* Kernel side of porthole: see a TCP socket start (or stop) listening on a
 * watched port and report it to the daemon through a ring buffer. Deciding
 * whether the socket belongs to a designated process is the daemon's job;
 * the kernel only filters on the port so that an idle host sends nothing.
 *
 * vmlinux.h is generated at build time from /sys/kernel/btf/vmlinux (see the
 * Makefile); every kernel struct is read with CO-RE. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "porthole.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_RECV_STATE 3
#define TCP_LISTEN_STATE 10
#define TCP_CLOSE_STATE 7
#define IPPROTO_TCP_NUM 6
#define SOL_SOCKET_NUM 1
#define SO_MARK_NUM 36

char LICENSE[] SEC("license") = "GPL";

/* Level of the session cgroups below the cgroup v2 root; set by the loader. */
const volatile __u32 session_level = 0;
/* Only sockets of the daemon's own network namespace matter (nft rules are
 * per namespace): the others are dropped here, so they never wake it. */
const volatile __u64 netns_cookie = 0;
/* Watch mode: the mark bits porthole owns and the value it writes there. */
const volatile __u32 mark_value = 0;
const volatile __u32 mark_mask = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_WATCHED_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} watched_ports SEC(".maps");

/* designations from the config, value: 1 + designation index */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_DESIGNATIONS_BPF);
	__type(key, __u32);
	__type(value, __u32);
} des_uid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_DESIGNATIONS_BPF);
	__type(key, struct ph_exe_key);
	__type(value, __u32);
} des_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_DESIGNATIONS_BPF);
	__type(key, __u64);
	__type(value, __u32);
} des_cgroup SEC(".maps");

/* Open windows, so that only connections through one are reported (a web
 * server on a watched port must not wake the daemon per connection): the
 * session cgroups with a window, and the ports with a watch-mode window. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} win_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_WATCHED_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} win_mark_ports SEC(".maps");

/* sockets the bind hook marked, by cookie: which designation */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PH_MARKED_SOCKS);
	__type(key, __u64);
	__type(value, __u32);
} marked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PH_RINGBUF_BYTES);
} events SEC(".maps");

static __always_inline __u64 ancestor_id(struct cgroup *cgrp, __u32 level)
{
	struct cgroup *anc;
	int cur;

	if (!cgrp || level == 0)
		return 0;
	cur = BPF_CORE_READ(cgrp, level);
	if (cur < (int)level || level > 64)
		return 0;
	anc = BPF_CORE_READ(cgrp, ancestors[level]);
	if (!anc)
		return 0;
	return BPF_CORE_READ(anc, kn, id);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ph_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct ph_kevent *e;
	struct cgroup *cgrp;
	__u16 family, port, type;
	__u64 id, session_cgid;

	if (newstate == TCP_LISTEN_STATE)
		type = PH_EV_LISTEN;
	else if (oldstate == TCP_LISTEN_STATE && newstate == TCP_CLOSE_STATE)
		type = PH_EV_UNLISTEN; /* (a child cloned from a listener also leaves LISTEN, for SYN_RECV) */
	else if (oldstate == TCP_SYN_RECV_STATE && newstate == TCP_ESTABLISHED_STATE)
		type = PH_EV_ACCEPT; /* passive open: who connected through a window */
	else
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_NUM)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&watched_ports, &port))
		return 0;
	if (netns_cookie && BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) != netns_cookie)
		return 0;

	cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	session_cgid = ancestor_id(cgrp, session_level);
	if (type == PH_EV_ACCEPT) {
		__u32 mark = BPF_CORE_READ(sk, sk_mark);
		if (!(session_cgid && bpf_map_lookup_elem(&win_cgroups, &session_cgid)) &&
		    !(mark_mask && (mark & mark_mask) == mark_value && bpf_map_lookup_elem(&win_mark_ports, &port)))
			return 0; /* not through an open window */
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cookie = bpf_get_socket_cookie(sk);
	e->cgroup_id = cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
	e->session_cgid = session_cgid;
	e->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	id = bpf_get_current_pid_tgid();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->type = type;
	e->family = family;
	e->port = port;
	e->mark = BPF_CORE_READ(sk, sk_mark);
	if (type != PH_EV_ACCEPT) {
		__u32 *des = bpf_map_lookup_elem(&marked, &e->cookie);
		if (des) {
			e->designation = *des;
			if (type == PH_EV_UNLISTEN)
				bpf_map_delete_elem(&marked, &e->cookie);
		}
	}
	if (type == PH_EV_ACCEPT) {
		e->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (family == AF_INET)
			bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
		else
			bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Watch mode. At bind() on a watched port, a process designated by the
 * config (uid, executable by device+inode, cgroup) gets its socket marked:
 * the window's rule admits only sockets carrying the mark. Names, comm and
 * argv play no part. Returns 1: the bind itself is never refused. */
static __always_inline __u32 designation_of_current(void)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct ph_exe_key key = {};
	struct task_struct *task;
	__u32 *des;

	des = bpf_map_lookup_elem(&des_uid, &uid);
	if (des)
		return *des;
	task = (struct task_struct *)bpf_get_current_task();
	key.dev = BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	des = bpf_map_lookup_elem(&des_exe, &key);
	if (des)
		return *des;
	for (int level = 1; level <= PH_MAX_CGROUP_LEVEL; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		des = bpf_map_lookup_elem(&des_cgroup, &id);
		if (des)
			return *des;
	}
	return 0;
}

static __always_inline int on_bind(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u64 cookie;
	__u32 des, mark = 0;
	int len = sizeof(mark);

	if (!mark_mask || !bpf_map_lookup_elem(&watched_ports, &port))
		return 1;
	if (netns_cookie && bpf_get_netns_cookie(ctx) != netns_cookie)
		return 1;
	des = designation_of_current();
	if (!des)
		return 1;
	bpf_getsockopt(ctx, SOL_SOCKET_NUM, SO_MARK_NUM, &mark, len);
	mark = (mark & ~mark_mask) | mark_value;
	if (bpf_setsockopt(ctx, SOL_SOCKET_NUM, SO_MARK_NUM, &mark, sizeof(mark)))
		return 1; /* unmarked: the rule will not match it, nothing opens */
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&marked, &cookie, &des, BPF_ANY);
	return 1;
}

SEC("cgroup/bind4")
int ph_bind4(struct bpf_sock_addr *ctx)
{
	return on_bind(ctx);
}

SEC("cgroup/bind6")
int ph_bind6(struct bpf_sock_addr *ctx)
{
	return on_bind(ctx);
}
