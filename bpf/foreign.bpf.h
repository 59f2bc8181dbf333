/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Listeners of other network namespaces (bpf/porthole.bpf.c's foreign
 * maps): tracked from their LISTEN, seen by the state tracepoint, or found
 * by the walk of every task's open files that the daemon runs once at start
 * (listeners older than the programs), until their close, which is
 * reported. Included by porthole.bpf.c after its maps and knobs. */
#ifndef PORTHOLE_FOREIGN_BPF_H
#define PORTHOLE_FOREIGN_BPF_H

/* What a foreign listener's record holds, as its LISTEN found it (tgid and
 * uid: the process that listened, or that holds it) */
static __always_inline void foreign_fill(struct ph_kforeign *r, struct sock *sk, struct net *net, __u64 cookie,
					 __u16 family, __u16 port, __u32 tgid, __u32 uid)
{
	struct cgroup *cgrp;

	__builtin_memset(r, 0, sizeof(*r));
	r->ev.ts_ns = bpf_ktime_get_boot_ns();
	r->ev.type = PH_EV_FOREIGN_LISTEN;
	r->ev.cookie = cookie;
	cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	r->ev.cgroup_id = cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
	r->ev.netns_ino = BPF_CORE_READ(net, ns.inum);
	r->ev.tgid = tgid;
	r->ev.uid = uid;
	r->ev.family = family;
	r->ev.port = port;
	r->netns_cookie = BPF_CORE_READ(net, net_cookie);
	r->userns_ino = BPF_CORE_READ(net, user_ns, ns.inum);
	if (family == AF_INET) {
		bpf_core_read(r->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
	} else {
		bpf_core_read(r->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		r->v6only = BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_ipv6only);
	}
}

/* Track a foreign listener (its close is reported from now on): 0, or -1
 * when it cannot be (the map, or the share of namespaces owned by another
 * user namespace, full: counted in foreign_untracked) */
static __always_inline int foreign_track(__u64 key, const struct ph_kforeign *r)
{
	if (r->userns_ino != PH_USERNS_INIT_INO &&
	    __sync_fetch_and_add(&foreign_userns_live, 1) >= PH_MAX_FOREIGN_USERNS_BPF) {
		__sync_fetch_and_add(&foreign_userns_live, -1);
		__sync_fetch_and_add(&foreign_untracked, 1);
		return -1;
	}
	if (bpf_map_update_elem(&foreign_listeners, &key, r, BPF_NOEXIST)) {
		if (r->userns_ino != PH_USERNS_INIT_INO)
			__sync_fetch_and_add(&foreign_userns_live, -1);
		/* (already tracked: the tracepoint and the walk below met) */
		if (!bpf_map_lookup_elem(&foreign_listeners, &key)) {
			__sync_fetch_and_add(&foreign_untracked, 1);
			if (r->userns_ino == PH_USERNS_INIT_INO)
				__sync_fetch_and_add(&foreign_untracked_init, 1);
		}
		return -1;
	}
	return 0;
}

/* A socket of another network namespace entered (type PH_EV_LISTEN) or left
 * LISTEN on a watched port: tracked from its LISTEN on, so that its close is
 * reported too; reported as a ph_kforeign. */
static __always_inline void on_foreign(struct sock *sk, struct net *net, __u16 type, __u16 family, __u16 port)
{
	__u64 key = (__u64)sk;
	struct ph_kforeign r, *old;

	if (type == PH_EV_UNLISTEN) {
		old = bpf_map_lookup_elem(&foreign_listeners, &key);
		if (!old)
			return; /* never tracked */
		r = *old;
		if (bpf_map_delete_elem(&foreign_listeners, &key))
			return;
		if (r.userns_ino != PH_USERNS_INIT_INO)
			__sync_fetch_and_add(&foreign_userns_live, -1);
		r.ev.type = PH_EV_FOREIGN_UNLISTEN;
		r.ev.ts_ns = bpf_ktime_get_boot_ns();
		r.ev.tgid = current_tgid();
		r.ev.uid = (__u32)bpf_get_current_uid_gid();
	} else {
		foreign_fill(&r, sk, net, bpf_get_socket_cookie(sk), family, port, current_tgid(),
			     (__u32)bpf_get_current_uid_gid());
		if (foreign_track(key, &r))
			return;
	}
	if (bpf_ringbuf_output(&foreign_events, &r, sizeof(r), 0))
		__sync_fetch_and_add(&lost_foreign, 1);
}

/* A task's process id as the daemon sees it (its PID namespace: pidns_ino),
 * or 0 when it is not visible there */
static __always_inline __u32 task_tgid_here(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);

	if (!pidns_ino)
		return BPF_CORE_READ(task, tgid);
	for (unsigned int i = 0; i < 32; i++) { /* MAX_PID_NS_LEVEL */
		struct upid up;
		if (i > level)
			break;
		if (bpf_core_read(&up, sizeof(up), &pid->numbers[i]))
			break;
		if (BPF_CORE_READ(up.ns, ns.inum) == pidns_ino)
			return (__u32)up.nr;
	}
	return 0;
}

/* Listeners older than the programs: the daemon runs this walk over every
 * task's open files once, after attaching. A TCP socket of another network
 * namespace that listens on a watched port is tracked as its LISTEN would
 * have been (with the task that holds it), so that its close is reported;
 * no event: the daemon reads the map after the walk. The socket reached
 * from a file is no trusted pointer to the verifier (6.18): no helper takes
 * it, so it cannot be given a cookie (it has none unless something asked
 * for one); its record carries an id of the walk's own instead, with the
 * top bit set (never a cookie). */
__u64 walk_ids = 0;

SEC("iter/task_file")
int ph_iter_foreign(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct ph_kforeign r;
	struct socket *sock;
	struct sock *sk;
	struct net *net;
	__u16 family, port;
	__u64 key;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_NUM ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN_STATE)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&watched_ports, &port))
		return 0;
	net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	if (!netns_cookie || BPF_CORE_READ(net, net_cookie) == netns_cookie)
		return 0;
	key = (__u64)sk;
	if (bpf_map_lookup_elem(&foreign_listeners, &key))
		return 0; /* seen already (another descriptor of it, or its LISTEN) */
	foreign_fill(&r, sk, net, (1ULL << 63) | __sync_add_and_fetch(&walk_ids, 1), family, port, task_tgid_here(task),
		     BPF_CORE_READ(task, cred, uid.val));
	if (foreign_track(key, &r))
		return 0;
	/* it left LISTEN while we looked (shutdown(2) in another thread):
	 * its tracepoint may have missed the entry; no stale one is kept */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN_STATE && !bpf_map_delete_elem(&foreign_listeners, &key) &&
	    r.userns_ino != PH_USERNS_INIT_INO)
		__sync_fetch_and_add(&foreign_userns_live, -1);
	return 0;
}

#endif
