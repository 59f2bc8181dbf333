// SPDX-License-Identifier: GPL-2.0-or-later
/* Kernel side of porthole.
 *
 * Sessions: the daemon tags the first process of a `porthole run` command
 * (task storage, set from user space through a pidfd); fork and clone pass
 * the tag on, and a per-session count of live tasks reports the session
 * empty when its last task exits. The process stays in whatever cgroup its
 * caller put it in.
 *
 * Marking: at bind() on a watched port, a socket of a tagged process, or of
 * a process designated by the config (uid; executable by device+inode;
 * cgroup ancestry), gets its window's mark in porthole's bits (SO_MARK, the
 * other bits untouched). Names, comm and argv play no part. nftables admits
 * connections only to sockets whose mark names an open window.
 *
 * Reporting: a marked socket entering or leaving LISTEN, and connections
 * accepted through an open window, go to the daemon through a ring buffer.
 * Sockets of other network namespaces and unmarked sockets never wake it.
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

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ph_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ph_tag *pt, *ct, v;
	__s64 *cnt;

	pt = bpf_task_storage_get(&tags, parent, NULL, 0);
	if (!pt)
		return 0;
	v = *pt;
	cnt = bpf_map_lookup_elem(&session_tasks, &v.mark);
	if (!cnt)
		return 0; /* the session is over: the tag spreads no further */
	/* count first: the child cannot run, so cannot exit, before this
	 * tracepoint returns */
	__sync_fetch_and_add(cnt, 1);
	ct = bpf_task_storage_get(&tags, child, &v, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ct)
		__sync_fetch_and_add(cnt, -1); /* untagged: it cannot get a window */
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ph_exit, struct task_struct *p)
{
	struct ph_kevent *e;
	struct ph_tag *t;
	__s64 *cnt;
	__u32 mark;

	t = bpf_task_storage_get(&tags, p, NULL, 0);
	if (!t)
		return 0;
	mark = t->mark;
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
	struct task_struct *task;
	struct ph_tag *t;
	__u32 want, mark = 0;

	if (!mark_mask || !bpf_map_lookup_elem(&watched_ports, &port))
		return 1;
	if (netns_cookie && bpf_get_netns_cookie(ctx) != netns_cookie)
		return 1;
	task = bpf_get_current_task_btf();
	t = bpf_task_storage_get(&tags, task, NULL, 0);
	/* a thread whose tag could not be given at clone (storage busy or out
	 * of memory) still belongs to its tagged process */
	if (!t)
		t = bpf_task_storage_get(&tags, task->group_leader, NULL, 0);
	want = t ? t->mark : designation_mark();
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

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ph_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct ph_kevent *e;
	struct cgroup *cgrp;
	__u16 family, port, type;
	__u64 cookie;
	__u32 mark;

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
	mark = BPF_CORE_READ(sk, sk_mark) & mark_mask;
	if (!mark)
		return 0; /* not a socket porthole marked: never ours */
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!bpf_map_lookup_elem(&watched_ports, &port))
		return 0;
	if (netns_cookie && BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) != netns_cookie)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	if (type == PH_EV_ACCEPT) {
		struct ph_win_key k = { .mark = mark, .port = port };
		if (!bpf_map_lookup_elem(&windows, &k))
			return 0; /* not through an open window */
	} else if (type == PH_EV_LISTEN) {
		struct ph_listener l = { .mark = mark, .tgid = current_tgid(), .port = port, .family = family,
					 .uid = (__u32)bpf_get_current_uid_gid() };
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
	e->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->tgid = current_tgid();
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->type = type;
	e->family = family;
	e->port = port;
	e->mark = mark;
	if (type == PH_EV_ACCEPT) {
		if (family == AF_INET)
			bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
		else
			bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- the guard of server windows ----------------------------------------------------
 *
 * A web server that already holds the port (nginx, Apache, Caddy) gets a
 * guarded window: porthole's rule where the host would drop a connection to
 * it admits the connection and gives it the guarded mark (in conntrack, so
 * every segment of it carries the mark). Connections the host admits on its
 * own never carry it: the allowed country browses as before.
 *
 * On a guarded connection the first payload segment must be exactly one
 * request, "GET /.well-known/acme-challenge/TOKEN HTTP/1.x", header lines and
 * the empty line ending at the end of the segment, for a token that is live
 * (its file exists now) when the server has a webroot. Everything else is
 * dropped: a second payload (pipelining, a second request), payload on a
 * SYN, a request split over segments. A drop sends nothing back. A request
 * for a token not live yet is held (its retransmission judged again).
 * Traffic without porthole's guarded or candidate mark leaves at the first
 * test. */

const volatile __u32 guard_mark = 0;  /* the guarded value within mark_mask */
const volatile __u32 guard_cand = 0;  /* the candidate value: a SYN to a served socket */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_SERVERS_BPF);
	__type(key, __u64);                  /* cgroup v2 id of the served cgroup */
	__type(value, struct ph_guard_srv);
} guard_servers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_TOKENS_BPF);
	__type(key, struct ph_token_key);
	__type(value, __u8);
} guard_tokens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PH_MAX_SERVERS_BPF);
	__type(key, __u32);
	__type(value, struct ph_guard_stats);
} guard_stats SEC(".maps");

#define GC_ADMITTED 1
#define GC_DROPPED  2
#define GC_WAITING  3 /* a whole request for a token not (yet) live: its retransmission is judged again */
struct guard_conn {
	__u32 state;
	__u32 seq, len;     /* the admitted segment: its retransmission passes */
	__u32 pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct guard_conn);
} guard_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PH_GUARD_RINGBUF_BYTES);
} guard_events SEC(".maps");

/* Connections judged while still a request socket: the first data segment
 * that completes the handshake (a server with TCP_DEFER_ACCEPT: Apache's
 * default, nginx's `deferred`) arrives on the listener. The child socket
 * takes the verdict over from here, so a second request is still a second. */
struct conn_key {
	__u8 saddr[16], daddr[16];
	__u16 sport, dport;
	__u32 family;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct conn_key);
	__type(value, struct guard_conn);
} guard_pending SEC(".maps");

struct guard_scratch {
	char buf[PH_GUARD_REQ_MAX];
	struct ph_token_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_scratch);
} guard_scratch SEC(".maps");

__u64 guard_lost_events = 0;

#define REQ_MASK (PH_GUARD_REQ_MAX - 1)

static __always_inline int tok_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

struct hdr_scan {
	const char *buf;
	__u32 start, len;
	__u32 state;        /* 0 line start, 1 name/value, 2 seen ':', 3 CR of a header line, 4 CR of the empty line */
	__u32 result;       /* 0 running, else enum ph_guard_why (ADMITTED: the empty line ends the segment) */
};

/* one byte of the header block (bpf_loop callback): 1 stops */
static long hdr_step(__u32 idx, void *arg)
{
	struct hdr_scan *h = arg;
	__u32 pos = h->start + idx;
	char c;

	if (pos >= h->len)
		return 1;
	c = h->buf[pos & REQ_MASK];
	switch (h->state) {
	case 0:
		if (c == '\r') {
			h->state = 4;
			return 0;
		}
		if (c == ' ' || c == '\t' || c == ':' || c < 0x21 || c > 0x7e)
			break; /* folding, an empty name, control bytes */
		h->state = 1;
		return 0;
	case 1:
	case 2:
		if (c == '\r') {
			if (h->state != 2)
				break;
			h->state = 3;
			return 0;
		}
		if (c == ':')
			h->state = 2;
		else if (c != '\t' && (c < 0x20 || c > 0x7e))
			break;
		return 0;
	case 3:
		if (c != '\n')
			break;
		h->state = 0;
		return 0;
	case 4:
		if (c != '\n')
			break;
		h->result = pos + 1 == h->len ? PH_GW_ADMITTED : PH_GW_PIPELINED;
		return 1;
	}
	h->result = PH_GW_BAD_HEADER;
	return 1;
}

#define CHALLENGE_PREFIX "GET /.well-known/acme-challenge/"
#define HTTP_VERSION_PREFIX " HTTP/1."

/* Judge one request segment in s->buf[0..len): an enum ph_guard_why; the
 * token goes to s->key (len 0 if none was read). */
static __always_inline __u32 judge(struct guard_scratch *s, __u32 len, const struct ph_guard_srv *srv)
{
	const __u32 plen = sizeof(CHALLENGE_PREFIX) - 1;
	struct hdr_scan h = {};
	__u32 pos, tl = 0;

	s->key.len = 0;
	for (__u32 i = 0; i < plen; i++) {
		if (i >= len)
			return PH_GW_SPLIT;
		if (s->buf[i] != CHALLENGE_PREFIX[i])
			return PH_GW_NOT_CHALLENGE;
	}
	for (__u32 i = 0; i < PH_TOKEN_MAX + 1; i++) {
		pos = plen + i;
		if (pos >= len || !tok_char(s->buf[pos & REQ_MASK]))
			break;
		tl++;
	}
	pos = plen + tl;
	if (pos >= len)
		return PH_GW_SPLIT;
	if (tl == 0 || tl > PH_TOKEN_MAX)
		return PH_GW_BAD_TOKEN;
	for (__u32 i = 0; i < PH_TOKEN_MAX; i++)
		s->key.token[i] = i < tl ? s->buf[(plen + i) & REQ_MASK] : 0;
	s->key.len = tl;
	for (__u32 i = 0; i < 11; i++) {
		char c = s->buf[(pos + i) & REQ_MASK];
		if (pos + i >= len)
			return PH_GW_SPLIT;
		if (i < 8 ? c != HTTP_VERSION_PREFIX[i] : i == 8 ? c != '0' && c != '1' : c != (i == 9 ? '\r' : '\n'))
			return PH_GW_BAD_VERSION;
	}
	h.buf = s->buf;
	h.start = pos + 11;
	h.len = len;
	bpf_loop(PH_GUARD_REQ_MAX, hdr_step, &h, 0);
	if (!h.result)
		return PH_GW_SPLIT;
	if (h.result != PH_GW_ADMITTED)
		return h.result;
	if (srv->flags & PH_SRV_TOKENS) {
		s->key.server = srv->index;
		if (!bpf_map_lookup_elem(&guard_tokens, &s->key))
			return PH_GW_TOKEN_NOT_LIVE;
	}
	return PH_GW_ADMITTED;
}

struct peer {
	__u8 addr[16];
	__u16 family, port, rport;
	struct conn_key ck;
};

static __always_inline void guard_report(const struct ph_guard_srv *srv, __u32 why, const struct ph_token_key *key,
					 const struct peer *p)
{
	struct ph_guard_stats *st;
	struct ph_guard_event *e;
	__u32 idx = srv ? srv->index : 0;

	st = srv ? bpf_map_lookup_elem(&guard_stats, &idx) : NULL;
	if (st) {
		if (why == PH_GW_ADMITTED)
			__sync_fetch_and_add(&st->admitted, 1);
		else
			__sync_fetch_and_add(&st->dropped, 1);
	}
	e = bpf_ringbuf_reserve(&guard_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&guard_lost_events, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->server = srv ? srv->index : ~0u;
	e->family = p->family;
	e->port = p->port;
	e->rport = p->rport;
	e->admitted = why == PH_GW_ADMITTED;
	e->why = (__u8)why;
	__builtin_memcpy(e->raddr, p->addr, 16);
	if (key && key->len && key->len <= PH_TOKEN_MAX) {
		e->token_len = key->len;
		__builtin_memcpy(e->token, key->token, PH_TOKEN_MAX);
	}
	bpf_ringbuf_submit(e, 0);
}

SEC("cgroup_skb/ingress")
int ph_guard(struct __sk_buff *skb)
{
	struct ph_guard_srv srv = {}, *sv;
	struct guard_scratch *s = NULL;
	struct peer p = {};
	struct guard_conn *gc;
	struct bpf_sock *sk;
	__u32 m = skb->mark & mark_mask, zero = 0, off, tot, plen, seq, why;
	int found = 0;

	if (!guard_mark || (m != guard_mark && m != guard_cand))
		return 1; /* not a connection through a server window */
	if (netns_cookie && bpf_get_netns_cookie(skb) != netns_cookie)
		return 1; /* another daemon's namespace: its own guard judges */
	if (skb->protocol == bpf_htons(0x0800)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP_NUM)
			return 0;
		off = (__u32)ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		p.family = AF_INET;
		__builtin_memcpy(p.addr, &ip.saddr, 4);
		__builtin_memcpy(p.ck.daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(0x86DD)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_TCP_NUM)
			return 0; /* extension headers on a guarded connection: fail closed */
		off = sizeof(ip6);
		tot = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
		p.family = AF_INET6;
		__builtin_memcpy(p.addr, &ip6.saddr, 16);
		__builtin_memcpy(p.ck.daddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	{
		struct tcphdr th;
		if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)))
			return 0;
		off += (__u32)th.doff * 4;
		seq = bpf_ntohl(th.seq);
		p.port = bpf_ntohs(th.dest);
		p.rport = bpf_ntohs(th.source);
		__builtin_memcpy(p.ck.saddr, p.addr, 16);
		p.ck.sport = th.source;
		p.ck.dport = th.dest;
		p.ck.family = p.family;
		if (off > tot)
			return 0;
		plen = tot - off;
		if (!plen)
			return 1; /* handshake, ACKs, FIN, RST: no request in them */
		if (m == guard_cand || th.syn)
			goto handshake; /* data on a SYN (TCP Fast Open) */
	}
	for (int level = 1; level <= PH_MAX_CGROUP_LEVEL; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!id)
			break;
		sv = bpf_map_lookup_elem(&guard_servers, &id);
		if (sv) {
			srv = *sv; /* the deepest served cgroup wins */
			found = 1;
		}
	}
	sk = skb->sk;
	if (!sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 0;
	if (sk->state == TCP_LISTEN_STATE) {
		/* data completing the handshake: judged like any first
		 * request, the verdict kept for the child by address */
		struct guard_conn fresh = {};
		bpf_map_update_elem(&guard_pending, &p.ck, &fresh, BPF_NOEXIST);
		gc = bpf_map_lookup_elem(&guard_pending, &p.ck);
	} else {
		gc = bpf_sk_storage_get(&guard_conns, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (gc && !gc->state) {
			struct guard_conn *pg = bpf_map_lookup_elem(&guard_pending, &p.ck);
			if (pg) {
				gc->state = pg->state;
				gc->seq = pg->seq;
				gc->len = pg->len;
				bpf_map_delete_elem(&guard_pending, &p.ck);
			}
		}
	}
	if (!gc)
		return 0;
	if (gc->state == GC_ADMITTED) {
		if (seq == gc->seq && plen == gc->len)
			return 1; /* the request again (its ACK was lost) */
		gc->state = GC_DROPPED;
		guard_report(found ? &srv : NULL, PH_GW_SECOND, NULL, &p);
		return 0;
	}
	if (gc->state == GC_DROPPED)
		return 0; /* judged already, and reported */
	if (gc->state == GC_WAITING && (seq != gc->seq || plen != gc->len)) {
		/* only the same request again is judged again */
		gc->state = GC_DROPPED;
		guard_report(found ? &srv : NULL, PH_GW_SECOND, NULL, &p);
		return 0;
	}
	if (!found || !(srv.flags & PH_SRV_OPEN)) {
		why = PH_GW_NO_WINDOW;
	} else if (plen >= PH_GUARD_REQ_MAX) {
		why = PH_GW_TOO_LONG;
	} else {
		__u32 l = plen & REQ_MASK;
		s = bpf_map_lookup_elem(&guard_scratch, &zero);
		if (!s || !l || bpf_skb_load_bytes(skb, off, s->buf, l))
			return 0;
		why = judge(s, l, &srv);
	}
	if (why == PH_GW_TOKEN_NOT_LIVE) {
		/* The ACME client may have written the token file an instant
		 * ago, before the daemon put it in the map: the request is
		 * dropped (nothing is acknowledged) and TCP sends it again; that
		 * copy is judged again. Reported once. */
		int first = gc->state != GC_WAITING;
		gc->state = GC_WAITING;
		gc->seq = seq;
		gc->len = plen;
		if (first)
			guard_report(found ? &srv : NULL, why, s ? &s->key : NULL, &p);
		return 0;
	}
	if (why == PH_GW_ADMITTED) {
		gc->state = GC_ADMITTED;
		gc->seq = seq;
		gc->len = plen;
	} else {
		gc->state = GC_DROPPED;
	}
	guard_report(found ? &srv : NULL, why, s ? &s->key : NULL, &p);
	return why == PH_GW_ADMITTED;
handshake:
	guard_report(NULL, PH_GW_HANDSHAKE_DATA, NULL, &p);
	return 0;
}
