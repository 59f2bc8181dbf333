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
 * network namespace, read with CO-RE: cgroup_skb programs cannot call
 * bpf_get_netns_cookie before 6.2). */
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
const volatile __u64 sip_k0 = 0, sip_k1 = 0; /* the resend digest's secret key (the daemon's getrandom) */

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
};
struct guard_conn {
	__u64 state;        /* GC_* (64 bits: compared and swapped) */
	__u32 seq, len;     /* the admitted segment */
	__u64 digest;       /* keyed hash of the admitted bytes */
	__u32 isn;          /* pending: the client's ISN, from its SYN */
	__u32 guarded;      /* pending: the host would have dropped it (a guarded-marked packet seen) */
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
	struct ph_conn_key ck;
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

/* ---- the resend digest: SipHash-2-4 with the daemon's secret key ------------------------ */

struct sip {
	const struct guard_scratch *s;
	__u32 len;
	__u64 v0, v1, v2, v3;
};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
static __always_inline void sip_round(struct sip *h)
{
	h->v0 += h->v1; h->v1 = ROTL(h->v1, 13); h->v1 ^= h->v0; h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3; h->v3 = ROTL(h->v3, 16); h->v3 ^= h->v2;
	h->v0 += h->v3; h->v3 = ROTL(h->v3, 21); h->v3 ^= h->v0;
	h->v2 += h->v1; h->v1 = ROTL(h->v1, 17); h->v1 ^= h->v2; h->v2 = ROTL(h->v2, 32);
}

/* one whole 8-byte block (bpf_loop callback) */
static long sip_block(__u32 idx, void *arg)
{
	struct sip *h = arg;
	__u64 m;

	__builtin_memcpy(&m, &h->s->buf[(idx * 8) & (REQ_MASK & ~7u)], 8);
	h->v3 ^= m;
	sip_round(h);
	sip_round(h);
	h->v0 ^= m;
	return 0;
}

static __always_inline __u64 digest(const struct guard_scratch *s, __u32 len)
{
	struct sip h = { .s = s, .len = len, .v0 = sip_k0 ^ 0x736f6d6570736575ULL, .v1 = sip_k1 ^ 0x646f72616e646f6dULL,
			 .v2 = sip_k0 ^ 0x6c7967656e657261ULL, .v3 = sip_k1 ^ 0x7465646279746573ULL };
	__u32 full = (len / 8) & (PH_GUARD_REQ_MAX / 8 - 1), off = full * 8;
	__u64 m = (__u64)(len & 0xff) << 56;

	bpf_loop(full, sip_block, &h, 0);
	/* the last block: the rest of the bytes and the length */
	for (__u32 j = 0; j < 7; j++)
		if (off + j < len)
			m |= (__u64)(__u8)s->buf[(off + j) & REQ_MASK] << (8 * j);
	h.v3 ^= m;
	sip_round(&h);
	sip_round(&h);
	h.v0 ^= m;
	h.v2 ^= 0xff;
	sip_round(&h);
	sip_round(&h);
	sip_round(&h);
	sip_round(&h);
	return h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
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

static __always_inline void remember_sock(struct __sk_buff *skb, const struct peer *p)
{
	struct ph_guard_sock v = { .lport = p->port, .rport = p->rport, .family = p->family };
	__u64 cookie = bpf_get_socket_cookie(skb);

	__builtin_memcpy(v.raddr, p->addr, 16);
	__builtin_memcpy(v.laddr, p->ck.daddr, 16);
	bpf_map_update_elem(&guard_socks, &cookie, &v, BPF_ANY);
	__sync_fetch_and_add(&guard_socks_added, 1);
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

/* Judge one payload segment of a guarded connection whose state is gc and
 * whose stream goes on at rcv_nxt. 1 passes it. */
static __always_inline int judge_segment(struct __sk_buff *skb, struct guard_conn *gc, __u32 rcv_nxt,
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
	if ((__s32)(g->seq + plen - rcv_nxt) <= 0)
		return 1; /* all of it is data TCP has already: it delivers none of it */
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
	/* the bound right at the call: older verifiers lose it across a spill */
	off &= 0xffff;
	plen &= REQ_MASK;
	if (plen == 0 || bpf_skb_load_bytes(skb, off, s->buf, plen))
		return 0;
	if (state == GC_ADMITTED) {
		if (g->seq == gc->seq && plen == gc->len && digest(s, plen) == gc->digest)
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
		gc->digest = digest(s, plen);
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
	struct guard_conn *gc, *pg, fresh = {};
	struct peer p = {};
	struct seg g = {};
	struct bpf_sock *sk;
	struct bpf_tcp_sock *tp;
	__u16 lport;
	__u32 rcv_nxt;

	sk = skb->sk;
	if (!sk)
		return !marked;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP_NUM)
		return !marked;
	lport = (__u16)sk->src_port;
	if (!marked && !bpf_map_lookup_elem(&guard_ports, &lport))
		return 1; /* not a served port: never a guarded connection */
	if (netns_cookie && sk_netns_cookie(sk) != netns_cookie)
		return 1; /* another daemon's namespace: its own guard judges */
	if (parse(skb, &p, &g))
		return !marked && !(sk->state != TCP_LISTEN_STATE && bpf_sk_storage_get(&guard_conns, sk, NULL, 0));

	if (sk->state == TCP_LISTEN_STATE) {
		if (g.syn && !g.ack) {
			if (!marked)
				return 1;
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
		rcv_nxt = pg->isn + 1;
	} else {
		gc = bpf_sk_storage_get(&guard_conns, sk, NULL, 0);
		if (!gc) {
			pg = bpf_map_lookup_elem(&guard_pending, &p.ck);
			if (!pg && m != guard_mark)
				return 1;
			if (pg && !pg->guarded && m != guard_mark) {
				bpf_map_delete_elem(&guard_pending, &p.ck); /* the allowed country's: not ours */
				return 1;
			}
			gc = bpf_sk_storage_get(&guard_conns, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
			if (!gc)
				return 0; /* no state, no judging: fail closed */
			tp = bpf_tcp_sock(sk);
			/* the child inherits the attempt's state only if it is
			 * that attempt: its ISN is rcv_nxt less what it
			 * received, less one */
			if (pg && tp && pg->isn == tp->rcv_nxt - (__u32)tp->bytes_received - 1) {
				gc->seq = pg->seq;
				gc->len = pg->len;
				gc->digest = pg->digest;
				gc->state = pg->state == GC_JUDGING ? GC_DROPPED : pg->state;
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
	return judge_segment(skb, gc, rcv_nxt, &g, &p);
}
