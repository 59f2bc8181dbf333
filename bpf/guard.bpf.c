// SPDX-License-Identifier: GPL-2.0-or-later
/* The guard of server windows (cgroup_skb/ingress), a BPF object of its own:
 * loaded only when the config has a serve line, attached only while a
 * server window is open.
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
 * test.
 *
 * The request is read by one bpf_loop over its bytes (a small state machine),
 * so the verifier walks each step once: the program verifies in a few
 * thousand instructions on every kernel, not in a budget that grows with the
 * request's length. Helpers used: bpf_loop (5.17), sk storage, ring buffers,
 * bpf_skc_to_tcp_sock (the socket's network namespace, read with CO-RE:
 * cgroup_skb programs cannot call bpf_get_netns_cookie before 6.2). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "guard.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_LISTEN_STATE 10
#define IPPROTO_TCP_NUM 6
#define PH_MAX_CGROUP_LEVEL 16

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 netns_cookie = 0; /* the daemon's network namespace */
const volatile __u32 mark_mask = 0;   /* porthole's mark bits */
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
#define TOKEN_MASK (PH_TOKEN_MAX - 1)

/* "GET /.well-known/acme-challenge/" and " HTTP/1.", eight bytes a word
 * (constants in the code: a string in .rodata would cost a map read) */
#define W8(a, b, c, d, e, f, g, h)                                                                     \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |  \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define PREFIX_LEN 32
#define VERSION_LEN 11 /* " HTTP/1.x\r\n" */

static __always_inline char prefix_at(__u32 k)
{
	__u64 w = k < 8	   ? W8('G', 'E', 'T', ' ', '/', '.', 'w', 'e')
		  : k < 16 ? W8('l', 'l', '-', 'k', 'n', 'o', 'w', 'n')
		  : k < 24 ? W8('/', 'a', 'c', 'm', 'e', '-', 'c', 'h')
			   : W8('a', 'l', 'l', 'e', 'n', 'g', 'e', '/');

	return (char)(w >> ((k & 7) * 8));
}

static __always_inline char version_at(__u32 k)
{
	return (char)(W8(' ', 'H', 'T', 'T', 'P', '/', '1', '.') >> ((k & 7) * 8));
}

static __always_inline int tok_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The reader's state between two bytes of the request. */
enum { R_PREFIX, R_TOKEN, R_VERSION, R_LINE_START, R_HEADER, R_HEADER_COLON, R_HEADER_CR, R_END_CR };

struct req_scan {
	struct guard_scratch *s;
	__u32 len;          /* bytes in s->buf */
	__u32 state;        /* R_* */
	__u32 at;           /* where the current part (token, version) began */
	__u32 result;       /* 0 running, else enum ph_guard_why */
};

/* One byte of the request (bpf_loop callback); 1 stops the loop. */
static long req_step(__u32 idx, void *arg)
{
	struct req_scan *r = arg;
	struct guard_scratch *s = r->s;
	__u32 k;
	char c;

	if (idx >= r->len) {
		r->result = PH_GW_SPLIT; /* the segment ends before the empty line */
		return 1;
	}
	c = s->buf[idx & REQ_MASK];
	switch (r->state) {
	case R_PREFIX:
		if (c != prefix_at(idx))
			goto refuse_prefix;
		if (idx + 1 == PREFIX_LEN) {
			r->state = R_TOKEN;
			r->at = idx + 1;
		}
		return 0;
	case R_TOKEN:
		k = idx - r->at;
		if (tok_char(c)) {
			if (k >= PH_TOKEN_MAX)
				goto refuse_token;
			s->key.token[k & TOKEN_MASK] = c;
			s->key.len = k + 1;
			return 0;
		}
		if (k == 0)
			goto refuse_token;
		r->state = R_VERSION;
		r->at = idx;
		/* fall through: this byte is the version's first */
	case R_VERSION:
		k = idx - r->at;
		if (k < 8 ? c != version_at(k) : k == 8 ? c != '0' && c != '1' : c != (k == 9 ? '\r' : '\n')) {
			r->result = PH_GW_BAD_VERSION;
			return 1;
		}
		if (k == VERSION_LEN - 1)
			r->state = R_LINE_START;
		return 0;
	case R_LINE_START:
		if (c == '\r') {
			r->state = R_END_CR;
			return 0;
		}
		if (c == ' ' || c == '\t' || c == ':' || c < 0x21 || c > 0x7e)
			break; /* folding, an empty name, control bytes */
		r->state = R_HEADER;
		return 0;
	case R_HEADER:
	case R_HEADER_COLON:
		if (c == '\r') {
			if (r->state != R_HEADER_COLON)
				break;
			r->state = R_HEADER_CR;
			return 0;
		}
		if (c == ':')
			r->state = R_HEADER_COLON;
		else if (c != '\t' && (c < 0x20 || c > 0x7e))
			break;
		return 0;
	case R_HEADER_CR:
		if (c != '\n')
			break;
		r->state = R_LINE_START;
		return 0;
	case R_END_CR:
		if (c != '\n')
			break;
		r->result = idx + 1 == r->len ? PH_GW_ADMITTED : PH_GW_PIPELINED;
		return 1;
	}
	r->result = PH_GW_BAD_HEADER;
	return 1;
refuse_prefix:
	r->result = PH_GW_NOT_CHALLENGE;
	return 1;
refuse_token:
	s->key.len = 0;
	r->result = PH_GW_BAD_TOKEN;
	return 1;
}

/* Judge one request segment in s->buf[0..len): an enum ph_guard_why; the
 * token goes to s->key (len 0 if none was read). */
static __always_inline __u32 judge(struct guard_scratch *s, __u32 len, const struct ph_guard_srv *srv)
{
	struct req_scan r = { .s = s, .len = len };

	s->key.len = 0;
	__builtin_memset(s->key.token, 0, sizeof(s->key.token));
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

/* The network namespace of the socket a segment is for. */
static __always_inline __u64 sk_netns_cookie(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	if (!tp)
		return 0;
	return BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net, net_cookie);
}

/* The verdict of the segment's connection: sk storage on an established
 * socket, the pending map while the listener still holds the handshake. */
static __always_inline struct guard_conn *conn_state(struct bpf_sock *sk, const struct conn_key *ck)
{
	struct guard_conn *gc, *pg, fresh = {};

	if (sk->state == TCP_LISTEN_STATE) {
		/* data completing the handshake: judged like any first
		 * request, the verdict kept for the child by address */
		bpf_map_update_elem(&guard_pending, ck, &fresh, BPF_NOEXIST);
		return bpf_map_lookup_elem(&guard_pending, ck);
	}
	gc = bpf_sk_storage_get(&guard_conns, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (gc && !gc->state) {
		pg = bpf_map_lookup_elem(&guard_pending, ck);
		if (pg) {
			gc->state = pg->state;
			gc->seq = pg->seq;
			gc->len = pg->len;
			bpf_map_delete_elem(&guard_pending, ck);
		}
	}
	return gc;
}

/* Read the segment's addresses and ports into p; its payload's offset and
 * length into off/plen. 0, or -1 when it is not TCP over IPv4/IPv6 as
 * expected (extension headers on a guarded connection: fail closed). */
static __always_inline int parse(struct __sk_buff *skb, struct peer *p, __u32 *off, __u32 *plen, __u32 *seq,
				 int *syn)
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
	*seq = bpf_ntohl(th.seq);
	*syn = th.syn;
	p->port = bpf_ntohs(th.dest);
	p->rport = bpf_ntohs(th.source);
	__builtin_memcpy(p->ck.saddr, p->addr, 16);
	p->ck.sport = th.source;
	p->ck.dport = th.dest;
	p->ck.family = p->family;
	*off = o;
	*plen = tot - o;
	return 0;
}

SEC("cgroup_skb/ingress")
int ph_guard(struct __sk_buff *skb)
{
	struct ph_guard_srv srv = {}, *sv;
	struct guard_scratch *s = NULL;
	struct peer p = {};
	struct guard_conn *gc;
	struct bpf_sock *sk;
	__u32 m = skb->mark & mark_mask, zero = 0, off = 0, plen = 0, seq = 0, why;
	int found = 0, syn = 0;

	if (!guard_mark || (m != guard_mark && m != guard_cand))
		return 1; /* not a connection through a server window */
	sk = skb->sk;
	if (!sk)
		return 0;
	if (netns_cookie && sk_netns_cookie(sk) != netns_cookie)
		return 1; /* another daemon's namespace: its own guard judges */
	if (parse(skb, &p, &off, &plen, &seq, &syn))
		return 0;
	if (!plen)
		return 1; /* handshake, ACKs, FIN, RST: no request in them */
	if (m == guard_cand || syn) {
		guard_report(NULL, PH_GW_HANDSHAKE_DATA, NULL, &p); /* data on a SYN (TCP Fast Open) */
		return 0;
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
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 0;
	gc = conn_state(sk, &p.ck);
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
		s = bpf_map_lookup_elem(&guard_scratch, &zero);
		if (!s)
			return 0;
		/* the bound right at the call: older verifiers lose it across
		 * a spill of the length */
		off &= 0xffff;
		plen &= REQ_MASK;
		if (plen == 0 || bpf_skb_load_bytes(skb, off, s->buf, plen))
			return 0;
		why = judge(s, plen, &srv);
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
}
