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
#include "porthole.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_RECV_STATE 3
#define TCP_LISTEN_STATE 10
#define IPPROTO_TCP_NUM 6

char LICENSE[] SEC("license") = "GPL";

/* Level of the session cgroups below the cgroup v2 root; set by the loader. */
const volatile __u32 session_level = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_WATCHED_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} watched_ports SEC(".maps");

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
	__u64 id;

	if (newstate == TCP_LISTEN_STATE)
		type = PH_EV_LISTEN;
	else if (oldstate == TCP_LISTEN_STATE)
		type = PH_EV_UNLISTEN;
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

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cookie = bpf_get_socket_cookie(sk);
	cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	e->cgroup_id = cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
	e->session_cgid = ancestor_id(cgrp, session_level);
	e->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	id = bpf_get_current_pid_tgid();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->type = type;
	e->family = family;
	e->port = port;
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
