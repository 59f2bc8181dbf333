// SPDX-License-Identifier: GPL-2.0-or-later
/* Kernel side of porthole.
 *
 * Sessions: the daemon tags the first process of a `porthole run` command
 * (task storage, set from user space through a pidfd); fork and clone pass
 * the tag on, and a per-session count of live tasks reports the session
 * empty when its last task exits. The process stays in whatever cgroup its
 * caller put it in. The bind hooks cannot read task storage on Linux 6.1
 * or 6.12 (cgroup sock_addr programs lack the helper): the tracepoints mirror
 * every tag into a map keyed by thread id, which the bind hooks read on
 * every kernel. A task's entry lives exactly as long as its task storage
 * (made after it at fork and exec, removed with it at exit), so a reused
 * thread id never finds an old tag.
 *
 * Marking: at bind() on a watched port, a socket of a tagged process, or of
 * a process designated by the config (uid; executable by device+inode;
 * cgroup ancestry), gets its window's mark in porthole's bits (SO_MARK, the
 * other bits untouched). Names, comm and argv play no part. nftables admits
 * connections only to sockets whose mark names an open window.
 *
 * Reporting: a marked socket entering or leaving LISTEN, and connections
 * accepted through an open window, go to the daemon through a ring buffer.
 * Other sockets of the daemon's network namespace never wake it. A TCP
 * socket of another network namespace (a container's) entering or leaving
 * LISTEN on a watched port is reported on a ring buffer of its own, with
 * what the daemon needs to find it behind a DNAT (its bound address, its
 * namespace and the user namespace owning that): the admission for it is
 * decided on those facts, never on the socket's mark. Such listeners that
 * were there before the programs are found by a walk over every task's open
 * files, which the daemon runs once at start (foreign.bpf.h).
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

/* Only sockets of the daemon's own network namespace matter (nft rules are
 * per namespace): the others are dropped here, so they never wake it. */
const volatile __u64 netns_cookie = 0;
/* The mark bits porthole owns. */
const volatile __u32 mark_mask = 0;
/* The daemon's PID namespace (kernel dev_t and inode of its nsfs file): pids
 * reported as the daemon sees them, so /proc/PID is the right process even
 * when the daemon runs in a container. 0: the initial namespace. */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

/* Events that could not be reported (ring buffer full): the daemon reads
 * this and resynchronises from the maps when it moves. */
__u64 lost_events = 0;
/* ... the same for foreign listeners (their ring buffer full) */
__u64 lost_foreign = 0;
/* foreign listeners not tracked (their map, or the share of namespaces owned
 * by another user namespace, full): never reported */
__u64 foreign_untracked = 0;
__u64 foreign_untracked_init = 0; /* of them, of namespaces owned by the initial user namespace */
/* tracked foreign listeners of namespaces owned by another user namespace */
__s64 foreign_userns_live = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_WATCHED_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} watched_ports SEC(".maps");

/* designations from the config; value: the designation's window mark */
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

/* the session tag of each task of a `porthole run` tree */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ph_tag);
} tags SEC(".maps");

/* the same tags by thread id (the kernel's, in the initial PID namespace),
 * for the bind hooks */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PH_MAX_TAGGED_TASKS_BPF);
	__type(key, __u32);
	__type(value, struct ph_tag);
} tid_tags SEC(".maps");

/* live tagged tasks per session (key: the session's mark) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_SESSIONS_BPF);
	__type(key, __u32);
	__type(value, __s64);
} session_tasks SEC(".maps");

/* open windows: connections through them are reported */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_WINDOWS_BPF);
	__type(key, struct ph_win_key);
	__type(value, __u8);
} windows SEC(".maps");

/* marked listeners on watched ports, by socket cookie */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_LISTENERS_BPF);
	__type(key, __u64);
	__type(value, struct ph_listener);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PH_RINGBUF_BYTES);
} events SEC(".maps");

/* listeners of other network namespaces on watched ports, by the socket's
 * address (a listener is always removed at its close, before it can be
 * freed; its cookie cannot be made where the walk of old listeners finds
 * it, see ph_iter_foreign) -- apart from listeners: they can never take a
 * host listener's place */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PH_MAX_FOREIGN_BPF + PH_MAX_FOREIGN_USERNS_BPF);
	__type(key, __u64);
	__type(value, struct ph_kforeign);
} foreign_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PH_FOREIGN_RINGBUF_BYTES);
} foreign_events SEC(".maps");

/* The current process's pid in the daemon's PID namespace; 0 when it is
 * not visible there. */
static __always_inline __u32 current_tgid(void)
{
	struct bpf_pidns_info ns;

	if (!pidns_ino)
		return bpf_get_current_pid_tgid() >> 32;
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ns.tgid;
}

static __always_inline struct ph_kevent *reserve(void)
{
	struct ph_kevent *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	return e;
}

/* ---- sessions: a process tree carries its tag ----------------------------------- */

/* Tag task t (whose task storage holds v already) by thread id too; on
 * failure its task storage goes: a task is tagged in both or in neither. */
static __always_inline int mirror_tag(struct task_struct *t, const struct ph_tag *v)
{
	__u32 tid = BPF_CORE_READ(t, pid);

	if (bpf_map_update_elem(&tid_tags, &tid, v, BPF_ANY) == 0)
		return 0;
	bpf_task_storage_delete(&tags, t);
	return -1;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ph_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ph_tag *pt, *ct, v;
	__s64 *cnt;

	pt = bpf_task_storage_get(&tags, parent, NULL, 0);
	/* a thread the daemon could not tag (it tags a process through its
	 * pidfd: the leader) forks for its process */
	if (!pt)
		pt = bpf_task_storage_get(&tags, parent->group_leader, NULL, 0);
	if (!pt)
		return 0;
	v = *pt;
	cnt = v.mark ? bpf_map_lookup_elem(&session_tasks, &v.mark) : NULL;
	if (!cnt && !v.budget)
		return 0; /* the session is over: the tag spreads no further */
	/* count first: the child cannot run, so cannot exit, before this
	 * tracepoint returns */
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	ct = bpf_task_storage_get(&tags, child, &v, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if ((!ct || mirror_tag(child, &v)) && cnt)
		__sync_fetch_and_add(cnt, -1); /* untagged: it cannot get a window */
	return 0;
}

/* The daemon tags a session's first process through its pidfd while it
 * waits to exec the command: its thread-id entry is made here, before the
 * command's first instruction. (A failure leaves it untagged, and the
 * session's count then never reaches zero through it: the daemon ends the
 * session when the process is gone.) */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(ph_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct ph_tag *t, v;

	t = bpf_task_storage_get(&tags, p, NULL, 0);
	if (!t)
		return 0;
	v = *t;
	if (old_pid != BPF_CORE_READ(p, pid)) {
		__u32 old = old_pid; /* a thread's exec took the leader's id */
		bpf_map_delete_elem(&tid_tags, &old);
	}
	mirror_tag(p, &v);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ph_exit, struct task_struct *p)
{
	struct ph_kevent *e;
	struct ph_tag *t;
	__u32 mark, tid;
	__s64 *cnt;

	t = bpf_task_storage_get(&tags, p, NULL, 0);
	if (!t)
		return 0;
	mark = t->mark;
	tid = BPF_CORE_READ(p, pid);
	bpf_map_delete_elem(&tid_tags, &tid);
	bpf_task_storage_delete(&tags, p);
	cnt = bpf_map_lookup_elem(&session_tasks, &mark);
	if (!cnt || __sync_fetch_and_add(cnt, -1) != 1)
		return 0;
	e = reserve();
	if (!e)
		return 0;
	e->type = PH_EV_SESSION_EMPTY;
	e->mark = mark;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- marking at bind --------------------------------------------------------------- */

static __always_inline __u32 designation_mark(void)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct ph_exe_key key = {};
	struct task_struct *task;
	__u32 *m;

	m = bpf_map_lookup_elem(&des_uid, &uid);
	if (m)
		return *m;
	task = (struct task_struct *)bpf_get_current_task();
	key.dev = BPF_CORE_READ(task, mm, exe_file, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	m = bpf_map_lookup_elem(&des_exe, &key);
	if (m)
		return *m;
	for (int level = 1; level <= PH_MAX_CGROUP_LEVEL; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		m = bpf_map_lookup_elem(&des_cgroup, &id);
		if (m)
			return *m;
	}
	return 0;
}

static __always_inline int on_bind(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32, want, mark = 0;
	struct ph_tag *t;

	if (!mark_mask || !bpf_map_lookup_elem(&watched_ports, &port))
		return 1;
	if (netns_cookie && bpf_get_netns_cookie(ctx) != netns_cookie)
		return 1;
	t = bpf_map_lookup_elem(&tid_tags, &tid);
	/* a thread whose tag could not be given at clone (storage busy or out
	 * of memory) still belongs to its tagged process */
	if (!t)
		t = bpf_map_lookup_elem(&tid_tags, &tgid);
	want = t && t->mark ? t->mark : designation_mark();
	if (t && t->mark && t->uid != PH_TAG_ANY_UID) {
		/* a user's session: a process of it that became someone else
		 * (a setuid binary it executed) binds for that one, not for
		 * the session */
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		if (BPF_CORE_READ(task, cred, euid.val) != t->uid)
			want = 0;
	}
	bpf_getsockopt(ctx, SOL_SOCKET_NUM, SO_MARK_NUM, &mark, sizeof(mark));
	if (!want && !(mark & mark_mask))
		return 1;
	/* an undesignated process binding a socket that already carries a
	 * porthole mark (passed to it, or left from a failed bind) loses it */
	mark = (mark & ~mark_mask) | (want & mark_mask);
	/* a failure leaves it unmarked: nftables admits nothing to it */
	bpf_setsockopt(ctx, SOL_SOCKET_NUM, SO_MARK_NUM, &mark, sizeof(mark));
	return 1; /* the bind itself is never refused */
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

/* ---- listeners and connections ---------------------------------------------------- */

#include "foreign.bpf.h"

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ph_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct ph_kevent *e;
	struct cgroup *cgrp;
	struct net *net;
	__u16 family, port, type;
	__u32 mark, budget = 0;
	__u64 cookie;

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
	if (type == PH_EV_UNLISTEN) {
		/* A tracked foreign listener's close, whatever its port reads
		 * now: one whose port came from the ephemeral range has released
		 * it (inet_put_port: inet_num 0) before this tracepoint fires,
		 * and a close missed would leave its record to a later socket
		 * at the same address. */
		__u64 fkey = (__u64)sk;
		if (bpf_map_lookup_elem(&foreign_listeners, &fkey)) {
			on_foreign(sk, BPF_CORE_READ(sk, __sk_common.skc_net.net), type, 0, 0);
			return 0;
		}
	}
	mark = BPF_CORE_READ(sk, sk_mark) & mark_mask;
	if (!mark && type == PH_EV_ACCEPT)
		return 0; /* not a socket porthole marked: never ours */
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&watched_ports, &port))
		return 0;
	net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	if (netns_cookie && BPF_CORE_READ(net, net_cookie) != netns_cookie) {
		/* another namespace's: its mark means nothing here */
		if (type != PH_EV_ACCEPT)
			on_foreign(sk, net, type, family, port);
		return 0;
	}
	if (!mark)
		return 0; /* not a socket porthole marked: never ours */
	cookie = bpf_get_socket_cookie(sk);
	if (type == PH_EV_ACCEPT) {
		struct ph_win_key k = { .mark = mark, .port = port };
		if (!bpf_map_lookup_elem(&windows, &k))
			return 0; /* not through an open window */
	} else if (type == PH_EV_LISTEN) {
		struct ph_listener l = { .mark = mark, .tgid = current_tgid(), .port = port, .family = family,
					 .uid = (__u32)bpf_get_current_uid_gid() };
		struct task_struct *task = bpf_get_current_task_btf();
		struct ph_tag *t = bpf_task_storage_get(&tags, task, NULL, 0);

		if (!t)
			t = bpf_task_storage_get(&tags, task->group_leader, NULL, 0);
		budget = t ? t->budget : 0;
		bpf_map_update_elem(&listeners, &cookie, &l, BPF_ANY);
	} else {
		/* only listeners we saw start; a marked socket is always seen */
		if (bpf_map_delete_elem(&listeners, &cookie))
			return 0;
	}

	e = reserve();
	if (!e)
		return 0;
	e->cookie = cookie;
	cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	e->cgroup_id = cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
	e->netns_ino = BPF_CORE_READ(net, ns.inum);
	e->tgid = current_tgid();
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->type = type;
	e->family = family;
	e->port = port;
	e->mark = mark;
	e->budget = budget;
	if (type == PH_EV_ACCEPT) {
		if (family == AF_INET)
			bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
		else
			bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
