/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guarded server windows to a web server in a container (issue 23 case 3,
 * docs/design/containers.md §5), the nf_tables half, in porthole's own
 * table (the host's chains get the guard pair of lib/nftguard.h at their
 * forward-hook drop points):
 *
 *   sets csrv  { type iface_index . ipv4_addr . inet_service; flags timeout }
 *        csrv6 { ... ipv6_addr ... }   (bridge, container address, container port)
 *   forward (-300):
 *     S1 meta l4proto tcp ct state new ct status dnat meta nfproto ipv4
 *          meta oif . ip daddr . tcp dport @csrv meta mark set meta mark & ~MASK | CAND   (and ip6)
 *     S2 ct direction original ct mark & MASK == GUARDED meta nfproto ipv4
 *          meta oif . ip daddr . tcp dport != @csrv drop                                (and ip6)
 *        (S2 replaces the "a guarded connection is never forwarded" drop)
 *   csrvtag (postrouting, INT_MAX: after every host chain, forward's and
 *   postrouting's: a host rule that rewrites the DSCP there runs before):
 *     T1 ip dscp X meta oif . ip daddr . tcp dport @csrv ip dscp set cs0 (and ip6)
 *        (X is read only in a served container's namespace, on its served
 *        ports: a packet going elsewhere keeps its DSCP)
 *     T2 ct direction original ct mark & MASK == GUARDED ip dscp set X (and ip6)
 *
 * Behind a geo-block before DNAT (nftcontainer.h's CC/CP: the window's
 * port joins cports, the pair "porthole cw" at the prerouting drop points
 * turns CC into ct CP), appended to forward before F4 (which drops the
 * rest of CP):
 *     S3 ct mark & MASK == CP meta l4proto tcp ct state new ct status dnat meta nfproto ipv4
 *          meta oif . ip daddr . tcp dport @csrv ct mark set ct mark & ~MASK | GUARDED  (and ip6)
 *        (the guard judges it, T2 writes the carrier; the rest of it
 *        passes the prerouting drop by the guard pair's B, which
 *        fw_guard_sync puts there for the serve line's ports)
 *
 * The packet mark does not cross the veth into the container's network
 * namespace; the DSCP does, and the guard (bpf/guard.bpf.c) reads X there
 * for a socket of a served container's namespace. No logging; -errno. */
#ifndef PORTHOLE_NFTCSRV_H
#define PORTHOLE_NFTCSRV_H

#include <stdint.h>
#include "nl.h"

#define PH_SET_CSRV       "csrv"
#define PH_SET_CSRV6      "csrv6"
#define PH_CHAIN_CSRVTAG  "csrvtag"
#define PH_PRIO_CSRVTAG   2147483647

/* One served container listener: (bridge, address, port). */
struct nr_csrv {
	int family;            /* AF_INET, AF_INET6 */
	uint32_t ifindex;      /* the bridge in the host's namespace */
	uint8_t addr[16];
	uint16_t port;         /* the container's port (after DNAT) */
};

/* The sets, S1, S2 and the csrvtag chain with T1, T2; dscp 1..63. With
 * them, nr_add_guard_own_rules(..., csrv = 1) leaves out its own forward
 * drop (S2 is that drop, less the served containers' sockets). */
int nr_add_csrv_objects(struct nl_batch *b, uint32_t cand, uint32_t guarded, uint32_t mask, uint8_t dscp);
/* S3 (v4, v6), appended to forward: after nr_add_csrv_objects, before
 * nr_add_container_pre (F4 after it). */
int nr_add_csrv_pre(struct nl_batch *b, uint32_t cp, uint32_t guarded, uint32_t mask);
int nr_csrv_add(struct nl_batch *b, const struct nr_csrv *e, uint64_t timeout_ms);
int nr_csrv_del(struct nl_batch *b, const struct nr_csrv *e);

#endif
