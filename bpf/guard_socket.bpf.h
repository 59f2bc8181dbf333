/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the guard (bpf/guard.bpf.c) asks the kernel about a segment and its
 * socket: its network namespace, its DSCP, and the ISN of the request socket a
 * handshake is in; and the record of a judged socket. */
#ifndef PORTHOLE_GUARD_SOCKET_BPF_H
#define PORTHOLE_GUARD_SOCKET_BPF_H

/* How the guard reads the socket's network namespace (PH_GN_*, by its
 * inode in guard_netns); 0: not one of this guard's. */
static __always_inline __u8 netns_kind(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	__u32 ino;
	__u8 *k;

	if (!tp)
		return 0;
	ino = BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net, ns.inum);
	k = bpf_map_lookup_elem(&guard_netns, &ino);
	return k ? *k : 0;
}

/* The segment's DSCP (IPv4 TOS or IPv6 traffic class, less ECN); 0xff
 * when there is none to read. */
static __always_inline __u8 skb_dscp(struct __sk_buff *skb)
{
	__u8 b[2];

	if (bpf_skb_load_bytes(skb, 0, b, sizeof(b)))
		return 0xff;
	if (skb->protocol == bpf_htons(0x0800))
		return b[1] >> 2;
	if (skb->protocol == bpf_htons(0x86DD))
		return (__u8)(((b[0] & 0x0f) << 2) | (b[1] >> 6));
	return 0xff;
}

/* The ISN of the request socket this segment's handshake is in (the kernel's
 * own, whatever SYNs came since): 0 and *isn set, or -1 when there is none
 * (a SYN cookie's handshake: its ACK makes the child, whose stream starts
 * at this segment). */
static __always_inline int reqsk_isn(struct __sk_buff *skb, const struct peer *p, __u32 *isn)
{
	struct bpf_sock_tuple t = {};
	struct tcp_request_sock *rq;
	struct bpf_sock *sk;
	__u32 size;
	int r = -1;

	if (p->family == AF_INET) {
		__builtin_memcpy(&t.ipv4.saddr, p->ck.saddr, 4);
		__builtin_memcpy(&t.ipv4.daddr, p->ck.daddr, 4);
		t.ipv4.sport = p->ck.sport;
		t.ipv4.dport = p->ck.dport;
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, p->ck.saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, p->ck.daddr, 16);
		t.ipv6.sport = p->ck.sport;
		t.ipv6.dport = p->ck.dport;
		size = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return -1;
	if (sk->state == TCP_NEW_SYN_RECV_STATE) {
		rq = bpf_skc_to_tcp_request_sock(sk);
		if (rq) {
			*isn = BPF_CORE_READ(rq, rcv_isn);
			r = 0;
		}
	}
	bpf_sk_release(sk);
	return r;
}

/* Keep the judged socket's addresses by its cookie in guard_socks (the daemon
 * ends those connections when the window closes). */
static __always_inline void remember_sock(struct __sk_buff *skb, const struct peer *p)
{
	struct ph_guard_sock v = { .lport = p->port, .rport = p->rport, .family = p->family };
	__u64 cookie = bpf_get_socket_cookie(skb);

	__builtin_memcpy(v.raddr, p->addr, 16);
	__builtin_memcpy(v.laddr, p->ck.daddr, 16);
	bpf_map_update_elem(&guard_socks, &cookie, &v, BPF_ANY);
	__sync_fetch_and_add(&guard_socks_added, 1);
}

#endif
