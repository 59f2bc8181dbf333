// SPDX-License-Identifier: GPL-2.0-or-later
/* The guard of server windows (cgroup_skb/ingress), a BPF object of its own:
 * loaded only when the config has a serve line, attached while a server
 * window is open (and until the connections it judged are ended).
 *
 * A web server that already holds the port (nginx, Apache, Caddy) gets a
 * guarded window: porthole's rule where the host would drop a connection to
 * it admits the connection and gives it the guarded mark (in conntrack;
 * porthole's table puts it on every packet of the connection, last of all
 * in the input hook). Connections the host admits on its own never carry
 * it: the allowed country browses as before.
 *
 * The guard judges the bytes the server will read, not packets: on a
 * guarded connection the server may read exactly one request, "GET
 * /.well-known/acme-challenge/TOKEN HTTP/1.x", header lines and the empty
 * line, in one segment, for a token that is live (its file exists now)
 * when the server has a webroot. TCP decides what the server reads, so the
 * guard follows TCP:
 * - a segment is judged only when it starts exactly where the server's
 *   stream goes on (the socket's rcv_nxt; for data on the handshake's last
 *   ACK, the ISN+1 its SYN announced): a segment that starts before (TCP
 *   would keep only its tail) or after (TCP would queue it) is dropped;
 * - the URG flag is dropped (the server would lose a byte: another stream);
 * - once a request was admitted, the only payload that passes is the same
 *   bytes at the same place (a keyed SipHash of them: a copy TCP threw away,
 *   e.g. by PAWS, sent again) or data TCP already has (it delivers none of
 *   it); anything else ends the connection's judging for good;
 * - a verdict belongs to one connection attempt: made at the SYN (which
 *   resets any older one of the same addresses), handed to the child socket
 *   only when its ISN matches, kept on the socket itself (sk storage) from
 *   then on, and judged by that state whatever the packet's marks (a host
 *   rule that rewrites marks, or a dead daemon's table, changes nothing).
 * A drop sends nothing back. A request for a token not live yet is held
 * (its retransmission judged again). Traffic to other ports without
 * porthole's marks leaves at the second test.
 *
 * The request is read by one bpf_loop over its bytes (a small state machine),
 * so the verifier walks each step once: the program verifies in a few
 * thousand instructions on every kernel. Helpers used: bpf_loop (5.17), sk
 * storage, ring buffers, bpf_tcp_sock, bpf_skc_to_tcp_sock (the socket's
 * network namespace, its inode read with CO-RE: cgroup_skb programs cannot
 * call bpf_get_netns_cookie before 6.2).
 *
 * A web server in a container (a `serve = container` line) is judged here
 * too: the program runs on the socket's cgroup whatever its network
 * namespace. The packet mark is zeroed crossing the veth into the
 * container's namespace, so for a socket there (guard_netns says which)
 * "guarded" is the DSCP guard_dscp that porthole's last chain (postrouting) puts
 * on a guarded connection's packets (and takes off what else goes to a served
 * socket). A forged guard_dscp gets no connection admitted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "guard.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_LISTEN_STATE 10
#define TCP_NEW_SYN_RECV_STATE 12
#define IPPROTO_TCP_NUM 6
#define PH_MAX_CGROUP_LEVEL 16

char LICENSE[] SEC("license") = "GPL";

const volatile __u8 guard_dscp = 0;  /* a served container's "guarded" carrier (0: none) */
const volatile __u32 mark_mask = 0;   /* porthole's mark bits */
const volatile __u32 guard_mark = 0;  /* the guarded value within mark_mask */
const volatile __u32 guard_cand = 0;  /* the candidate value: a SYN to a served socket */
const volatile __u64 sip_k0 = 0, sip_k1 = 0; /* the resend digest's secret key (the daemon's getrandom) */

/* the network namespaces whose sockets this guard judges, by inode: the
 * daemon's own (PH_GN_MARK: the packet mark says guarded) and those of
 * served containers (PH_GN_DSCP: the mark does not cross the veth, the
 * DSCP guard_dscp that porthole's last chain (postrouting) writes does) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PH_MAX_NETNS_BPF);
	__type(key, __u32);
	__type(value, __u8);
} guard_netns SEC(".maps");

/* the served ports: unmarked traffic to other ports leaves at once */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} guard_ports SEC(".maps");

/* the connections the guard judged, by socket cookie: the daemon ends them
 * when the window closes */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ph_guard_sock);
} guard_socks SEC(".maps");

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

enum {
	GC_FRESH = 0,   /* nothing judged yet */
	GC_JUDGING,     /* a segment is being judged (another CPU): the rest wait */
	GC_ADMITTED,    /* one request passed: seq, len, digest say which bytes */
	GC_DROPPED,     /* judged and refused: nothing more passes */
	GC_WAITING,     /* a whole request for a token not (yet) live: judged again when it comes again */
	GC_UNGUARDED,   /* a connection the host admitted on its own: never judged, leaves at once */
};
#define guard_conn ph_guard_conn

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

/* Connection attempts, from their SYN until the child socket takes the
 * state over: the first data may complete the handshake (data on its last
 * ACK; TCP_DEFER_ACCEPT: Apache's default, nginx's `deferred`) and arrive on
 * the listener. Every SYN starts its 4-tuple afresh. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct ph_conn_key);
	__type(value, struct guard_conn);
} guard_pending SEC(".maps");

struct guard_scratch {
	char buf[PH_GUARD_REQ_MAX];
	struct ph_token_key key;
	__u32 pos;          /* the readers' own positions (see guard_request.bpf.h) */
	__u32 pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_scratch);
} guard_scratch SEC(".maps");

__u64 guard_lost_events = 0;
/* connections put in guard_socks since the daemon last emptied it: more
 * than it holds means some were pushed out (and cannot be ended by cookie) */
__u64 guard_socks_added = 0;

#define SIP_MASK (PH_GUARD_REQ_MAX - 1)
#include "guard_request.bpf.h"
#include "siphash.bpf.h"

/* Judge one request segment in s->buf[0..len): an enum ph_guard_why; the
 * token goes to s->key (len 0 if none was read). */
static __always_inline __u32 judge(struct guard_scratch *s, __u32 len, const struct ph_guard_srv *srv)
{
	struct req_scan r = { .buf = s->buf, .key = &s->key, .len = len, .pos = &s->pos, .state = R_TOKEN,
			      .at = PREFIX_LEN };
	__u32 why;

	s->key.len = 0;
	__builtin_memset(s->key.token, 0, sizeof(s->key.token));
	why = prefix_check(s->buf, len);
	if (why)
		return why;
	s->pos = PREFIX_LEN;
	bpf_loop(PH_GUARD_REQ_MAX, req_step, &r, 0);
	if (!r.result)
		return PH_GW_SPLIT;
	if (r.result != PH_GW_ADMITTED)
		return r.result;
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
	struct ph_conn_key ck;
};

#include "guard_socket.bpf.h"

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


/* ---- the segment and its connection ---------------------------------------------------- */

struct seg {
	__u32 off, plen, seq;
	__u8 syn, ack, urg, pad;
};

/* Read the segment's addresses, ports and TCP header. 0, or -1 when it is
 * not TCP over IPv4/IPv6 as expected (extension headers on a guarded
 * connection: fail closed). */
static __always_inline int parse(struct __sk_buff *skb, struct peer *p, struct seg *g)
{
	struct tcphdr th;
	__u32 o, tot;

	if (skb->protocol == bpf_htons(0x0800)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP_NUM)
			return -1;
		o = (__u32)ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		p->family = AF_INET;
		__builtin_memcpy(p->addr, &ip.saddr, 4);
		__builtin_memcpy(p->ck.daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(0x86DD)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_TCP_NUM)
			return -1;
		o = sizeof(ip6);
		tot = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
		p->family = AF_INET6;
		__builtin_memcpy(p->addr, &ip6.saddr, 16);
		__builtin_memcpy(p->ck.daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, o, &th, sizeof(th)))
		return -1;
	o += (__u32)th.doff * 4;
	if (o > tot)
		return -1;
	g->seq = bpf_ntohl(th.seq);
	g->syn = th.syn;
	g->ack = th.ack;
	g->urg = th.urg;
	p->port = bpf_ntohs(th.dest);
	p->rport = bpf_ntohs(th.source);
	__builtin_memcpy(p->ck.saddr, p->addr, 16);
	p->ck.sport = th.source;
	p->ck.dport = th.dest;
	p->ck.family = p->family;
	g->off = o;
	g->plen = tot - o;
	return 0;
}

/* The served cgroup of the socket (the deepest one wins); 0 if none. */
static __always_inline int served(struct __sk_buff *skb, struct ph_guard_srv *srv)
{
	struct ph_guard_srv *sv;
	int found = 0;

	for (int level = 1; level <= PH_MAX_CGROUP_LEVEL; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!id)
			break;
		sv = bpf_map_lookup_elem(&guard_servers, &id);
		if (sv) {
			*srv = *sv;
			found = 1;
		}
	}
	return found;
}

/* Copy the segment's payload into the scratch buffer. The length's bound is
 * made in a register right at the call (Linux 6.1's verifier loses it when
 * the compiler keeps the length on the stack: "R4 min value is negative"). */
static __always_inline int load_request(struct __sk_buff *skb, __u32 off, struct guard_scratch *s, __u32 len)
{
	__u64 n = len, o = off;

	if (n == 0)
		return -1;
	/* 1..PH_GUARD_REQ_MAX by arithmetic, not by a test of != 0 (which the
	 * older verifier does not turn into a lower bound) */
	n -= 1;
	asm volatile("%[n] &= %[m]" : [n] "+r"(n) : [m] "i"(REQ_MASK));
	n += 1;
	asm volatile("%[o] &= 0xffff" : [o] "+r"(o));
	return bpf_skb_load_bytes(skb, (__u32)o, s->buf, (__u32)n);
}

/* Judge one payload segment of a guarded connection whose state is gc and
 * whose stream goes on at rcv_nxt. 1 passes it. */
static __always_inline int judge_segment(struct __sk_buff *skb, struct guard_conn *gc, __u32 rcv_nxt, int listener,
					 const struct seg *g, const struct peer *p)
{
	struct ph_guard_srv srv = {};
	struct guard_scratch *s = NULL;
	__u32 zero = 0, why, plen = g->plen, off = g->off;
	__u64 state;
	int found;

	found = served(skb, &srv);
	if (g->urg) {
		why = PH_GW_URGENT;
		goto final;
	}
	if ((__s32)(g->seq + plen - rcv_nxt) <= 0) {
		/* all of it is data TCP has already: it delivers none of it. A
		 * request socket has none: there, such a segment is a lie */
		if (!listener)
			return 1;
		why = PH_GW_NOT_NEXT;
		goto final;
	}
	state = gc->state;
	if (state == GC_DROPPED || state == GC_JUDGING)
		return 0;
	if (plen >= PH_GUARD_REQ_MAX) {
		why = state == GC_ADMITTED ? PH_GW_SECOND : PH_GW_TOO_LONG;
		goto final;
	}
	s = bpf_map_lookup_elem(&guard_scratch, &zero);
	if (!s)
		return 0;
	plen &= REQ_MASK;
	if (plen == 0 || load_request(skb, off, s, plen))
		return 0;
	if (state == GC_ADMITTED) {
		if (g->seq == gc->seq && plen == gc->len && siphash(s->buf, plen, &s->pos, sip_k0, sip_k1) == gc->digest)
			return 1; /* the admitted bytes again: TCP threw the first copy away, or will keep one */
		s = NULL;
		why = g->seq == gc->seq ? PH_GW_RESEND_CHANGED : PH_GW_SECOND;
		goto final;
	}
	if (g->seq != rcv_nxt) {
		/* TCP would keep only a tail of it, or queue it for later:
		 * the client sends it again where the stream goes on */
		guard_report(found ? &srv : NULL, PH_GW_NOT_NEXT, NULL, p);
		return 0;
	}
	/* GC_FRESH or GC_WAITING: one segment at a time is judged */
	if (__sync_val_compare_and_swap(&gc->state, state, GC_JUDGING) != state)
		return 0;
	if (!found || !(srv.flags & PH_SRV_OPEN))
		why = PH_GW_NO_WINDOW;
	else
		why = judge(s, plen, &srv);
	if (why == PH_GW_ADMITTED) {
		gc->seq = g->seq;
		gc->len = plen;
		gc->digest = siphash(s->buf, plen, &s->pos, sip_k0, sip_k1);
		gc->state = GC_ADMITTED;
	} else if (why == PH_GW_TOKEN_NOT_LIVE) {
		/* The ACME client may have written the token file an instant
		 * ago, before the daemon put it in the map: the request is
		 * dropped (nothing is acknowledged) and TCP sends it again; that
		 * copy is judged again. Reported once. */
		gc->state = GC_WAITING;
		if (state == GC_WAITING)
			return 0;
	} else {
		gc->state = GC_DROPPED;
	}
	guard_report(found ? &srv : NULL, why, &s->key, p);
	return why == PH_GW_ADMITTED;
final:
	if (gc->state != GC_DROPPED) {
		gc->state = GC_DROPPED;
		guard_report(found ? &srv : NULL, why, NULL, p);
	}
	return 0;
}

SEC("cgroup_skb/ingress")
int ph_guard(struct __sk_buff *skb)
{
	__u32 m = skb->mark & mark_mask;
	int marked = guard_mark && (m == guard_mark || m == guard_cand);
	struct guard_conn *gc = NULL, *pg, fresh = {};
	struct peer p = {};
	struct seg g = {};
	struct bpf_sock *sk;
	struct bpf_tcp_sock *tp;
	__u32 rcv_nxt, child_isn;
	__u64 got;
	__u16 lport;
	__u8 kind;

	sk = skb->sk;
	if (!sk)
		return !marked;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP_NUM)
		return !marked;
	lport = (__u16)sk->src_port;
	if (!marked && !bpf_map_lookup_elem(&guard_ports, &lport))
		return 1; /* not a served port: never a guarded connection */
	kind = netns_kind(sk);
	switch (kind) {
	case PH_GN_MARK:
		break;
	case PH_GN_DSCP:
		/* a served container's socket: what porthole's last forward
		 * chain wrote decides, whatever the container's own mark */
		m = guard_dscp && skb_dscp(skb) == guard_dscp ? guard_mark : 0;
		marked = m != 0;
		break;
	default:
		return 1; /* another daemon's namespace: its own guard judges */
	}
	if (sk->state != TCP_LISTEN_STATE) {
		gc = bpf_sk_storage_get(&guard_conns, sk, NULL, 0);
		if (gc && gc->state == GC_UNGUARDED) {
			if (m != guard_mark)
				return 1; /* the allowed country's, known as such since its first packet */
			if (kind == PH_GN_DSCP)
				/* the carrier can be forged on the way in (a
				 * neighbour on the bridge): the packet goes,
				 * the connection stays the allowed country's */
				return 0;
			/* conntrack says the host would have dropped it, yet its
			 * first packet came unmarked (one conntrack did not
			 * track): never judged, so nothing of it passes */
			gc->state = GC_DROPPED;
			return 0;
		}
	}
	if (parse(skb, &p, &g))
		return !marked && !(sk->state != TCP_LISTEN_STATE && bpf_sk_storage_get(&guard_conns, sk, NULL, 0));

	if (sk->state == TCP_LISTEN_STATE) {
		if (g.syn && !g.ack) {
			if (!marked) {
				/* an attempt the host admits on its own: what a
				 * forged carrier left of this 4-tuple goes */
				bpf_map_delete_elem(&guard_pending, &p.ck);
				return 1;
			}
			if (g.plen) { /* data on a SYN (TCP Fast Open) */
				guard_report(NULL, PH_GW_HANDSHAKE_DATA, NULL, &p);
				return 0;
			}
			{
				struct ph_guard_srv srv;
				if (!served(skb, &srv))
					return 0; /* REDIRECT or DNAT sent it to another local socket */
			}
			/* a new connection attempt: whatever an older one of
			 * the same addresses had is gone */
			fresh.isn = g.seq;
			fresh.guarded = m == guard_mark;
			bpf_map_update_elem(&guard_pending, &p.ck, &fresh, BPF_ANY);
			return 1;
		}
		pg = bpf_map_lookup_elem(&guard_pending, &p.ck);
		if (!pg)
			return !(marked && g.plen); /* data with no SYN seen: not judged, not passed */
		if (m == guard_mark)
			pg->guarded = 1;
		if (!pg->guarded)
			return 1; /* the host admits it on its own (the allowed country) */
		gc = pg;
		if (g.plen) {
			/* where the stream starts is the request socket's, not
			 * the last SYN's: a second SYN out of its window moves
			 * nothing in the kernel */
			__u32 isn;
			if (reqsk_isn(skb, &p, &isn) == 0) {
				if (pg->isn != isn) {
					/* another attempt's state: this one's is fresh */
					pg->state = GC_FRESH;
					pg->isn = isn;
				}
				rcv_nxt = isn + 1;
			} else {
				rcv_nxt = g.seq; /* a SYN cookie's ACK: the child's stream starts here */
			}
		}
	} else {
		gc = bpf_sk_storage_get(&guard_conns, sk, NULL, 0);
		if (!gc) {
			pg = bpf_map_lookup_elem(&guard_pending, &p.ck);
			tp = bpf_tcp_sock(sk);
			if (!tp)
				return 0;
			got = tp->bytes_received;
			child_isn = tp->rcv_nxt - (__u32)got - 1;
			barrier_var(got); /* read here, from the socket (no pointer arithmetic on it later) */
			if (!pg && got) {
				/* it took data on its handshake's last ACK, and what
				 * was judged of it is gone (pushed out of the pending
				 * list): nothing more of it passes */
				fresh.state = GC_DROPPED;
				bpf_sk_storage_get(&guard_conns, sk, &fresh, BPF_SK_STORAGE_GET_F_CREATE);
				remember_sock(skb, &p);
				return 0;
			}
			if (m != guard_mark && (!pg || !pg->guarded)) {
				/* the host admitted it on its own (the allowed
				 * country): said once, so that its later packets
				 * leave at the third test */
				if (pg)
					bpf_map_delete_elem(&guard_pending, &p.ck);
				fresh.state = GC_UNGUARDED; /* made with it: no CPU sees it half-made */
				bpf_sk_storage_get(&guard_conns, sk, &fresh, BPF_SK_STORAGE_GET_F_CREATE);
				return 1;
			}
			gc = bpf_sk_storage_get(&guard_conns, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
			if (!gc)
				return 0; /* no state, no judging: fail closed */
			/* the child inherits the attempt's state only if it is
			 * that attempt: its ISN is rcv_nxt less what it
			 * received, less one */
			if (pg && pg->isn == child_isn) {
				gc->seq = pg->seq;
				gc->len = pg->len;
				gc->digest = pg->digest;
				gc->state = pg->state == GC_JUDGING ? GC_DROPPED : pg->state;
			} else if (got) {
				gc->state = GC_DROPPED; /* data judged for another attempt, or never */
			}
			if (pg)
				bpf_map_delete_elem(&guard_pending, &p.ck);
			remember_sock(skb, &p);
		}
		tp = bpf_tcp_sock(sk);
		if (!tp)
			return 0;
		rcv_nxt = tp->rcv_nxt;
	}
	if (g.urg) {
		/* even without data: TCP keeps an urgent pointer into bytes
		 * still to come and takes that byte out of them */
		if (gc->state != GC_DROPPED) {
			gc->state = GC_DROPPED;
			guard_report(NULL, PH_GW_URGENT, NULL, &p);
		}
		return 0;
	}
	if (!g.plen)
		return 1; /* ACKs, FIN, RST: no bytes for the server in them */
	return judge_segment(skb, gc, rcv_nxt, sk->state == TCP_LISTEN_STATE, &g, &p);
}
