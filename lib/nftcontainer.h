/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Container windows in porthole's own table (issue 23, design
 * docs/design/containers.md §4): a connection published by DNAT to a
 * container is admitted after DNAT, in the forward chain, when its final
 * destination is a container window's listening socket:
 *
 *   set cwin  { type iface_index . ipv4_addr . inet_service . inet_service; flags timeout; counter; }
 *   set cwin6 { type iface_index . ipv6_addr . inet_service . inet_service; flags timeout; counter; }
 *       element = (host bridge, container address, container port, published port)
 *   chain forward {                                          (first, before every drop of it)
 *     F1 meta l4proto tcp ct state new ct status dnat meta nfproto ipv4
 *          meta oif . ip daddr . tcp dport . ct original proto-dst @cwin
 *          ct mark set ct mark & ~MASK | CW  meta mark set meta mark & ~MASK | VALUE
 *        (the same with ip6 daddr @cwin6)
 *     F2 ct mark & MASK == CW meta l4proto tcp meta nfproto ipv4
 *          meta oif . ip daddr . tcp dport . ct original proto-dst @cwin
 *          meta mark set meta mark & ~MASK | VALUE                        (and @cwin6)
 *     ... ct mark & MASK == VALUE drop          (today's: marked for a local socket, sent away)
 *   }
 *
 * VALUE is what the host's one rule per chain and port accepts; CW
 * (config_container_mark()) only tells conntrack "admitted into a
 * container". F1 needs `ct status dnat`: a packet routed straight to the
 * container's address (no DNAT) is never admitted, and the published port
 * comes from conntrack's original tuple, which the sender cannot choose
 * apart from the port it connected to. F2 needs the element too: once it is
 * deleted or its timeout (the window's hard deadline) passes, no packet of
 * any connection is marked any more — nothing outlives the element, and
 * whatever the host's own rules then do with the rest of a connection they
 * do as if porthole were not there.
 *
 * The pin: a CW connection leaves only through the bridge port the
 * resolver saw its address behind (the host-side veth of the container's
 * eth0). The bridge table has no conntrack (ct in family bridge needs
 * nf_conntrack_bridge, not built on every kernel, and changes what the
 * bridge does), so the inet table tags what it admitted in a last forward
 * chain, and a table of family bridge, also named porthole, with the owner
 * flag like the inet one, made and deleted with it, reads the tag:
 *
 *   chain cwtag { type filter hook forward priority 2147483647;   (inet, after every host chain)
 *     T  ct mark & MASK == CW meta mark & MASK == VALUE meta mark set meta mark & ~MASK | CW
 *   }
 *   table bridge porthole {
 *     set cwpin  { type ipv4_addr . iface_index . inet_service; flags timeout; counter; }
 *     set cwpin6 { type ipv6_addr . iface_index . inet_service; flags timeout; counter; }
 *         element = (container address, bridge port, container port)
 *     chain output { type filter hook output priority -200;    (NF_BR_LOCAL_OUT)
 *       P  meta protocol ip meta mark & MASK == CW meta l4proto tcp
 *            ip daddr . meta oif . tcp dport != @cwpin counter drop    (and ip6, @cwpin6)
 *     }
 *   }
 *
 * The bridge's output hook sees each frame the host routed out the bridge,
 * once per port it goes to (a flooded frame's clones too), with oif = that
 * port. An address another container claims, whose frames the bridge sends
 * to any port but the pinned one (by its FDB, or flooded), is dropped
 * there. CW is never given to a session (config.h
 * config_container_mark), so a host process's own traffic is never judged.
 * Not covered: a container that answers ARP/ND for an address gets that
 * address's frames through its own port (L2 trust); the pin only makes sure
 * a window's connection goes to no other port than the resolver saw.
 *
 * The pin set's key has no published port: one pin serves every window
 * of one (address, port, container port); the caller adds it with the
 * first of them (nr_cwpin_add, in the same batch as the cwin element,
 * with the same timeout) and deletes it with the last.
 *
 * The sets and rules exist only when the daemon is configured for container
 * windows (nr_add_container_objects() is called then, like
 * nr_add_servers_set() for serve lines): a host without containers keeps
 * today's table and rules, and no mark value is taken from its sessions.
 * No logging; -errno returns. */
#ifndef PORTHOLE_NFTCONTAINER_H
#define PORTHOLE_NFTCONTAINER_H

#include <stdint.h>
#include "nl.h"

#define PH_SET_CWIN  "cwin"
#define PH_SET_CWIN6 "cwin6"
#define PH_SET_CWPIN  "cwpin"
#define PH_SET_CWPIN6 "cwpin6"
#define PH_CHAIN_PIN  "output"
#define PH_CHAIN_CWTAG "cwtag"
#define PH_PRIO_CWTAG 2147483647 /* forward: after every host chain */

/* One container window's element: what the forward hook sees of a
 * connection after DNAT (output interface, destination address and port)
 * and the port the client connected to before it. */
struct nr_cwin {
	int family;         /* AF_INET or AF_INET6 */
	uint32_t ifindex;   /* the host bridge the container's veth hangs on */
	uint32_t port;      /* the bridge port it hangs on: the host-side veth (netns_target.port);
			     * the pin's only */
	uint8_t addr[16];   /* the container's address (the first 4 bytes for AF_INET), network order */
	uint16_t cport;     /* the container socket's port */
	uint16_t pport;     /* the published port (conntrack's original destination port) */
};

/* Add cwin, cwin6 and the forward rules F1, F2 to a batch that already
 * holds nr_add_table() and every other rule of the forward chain (each rule
 * is inserted first: these end up ahead of the chain's drops), and the
 * bridge table with cwpin, cwpin6 and P. cw: the container-window conntrack
 * value; value, mask: socket_mark's; owner: nr_add_table()'s (give both the
 * same). nr_del_container_objects() deletes the bridge table: put it in the
 * batch that holds nr_del_table() (the inet table's objects go with it). */
int nr_add_container_objects(struct nl_batch *b, uint32_t cw, uint32_t value, uint32_t mask, int owner);
int nr_del_container_objects(struct nl_batch *b);

/* Add (with a timeout: the window's hard deadline; 0 is refused, -EINVAL)
 * or delete one element. Adding an element that exists fails (-EEXIST). */
int nr_cwin_add(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms);
int nr_cwin_del(struct nl_batch *b, const struct nr_cwin *w);
/* The same for w's pin (address, port, cport; ifindex and pport unused
 * but for the check): a port that is 0 or the bridge itself is refused
 * (-EINVAL), a pin that exists too (-EEXIST). */
int nr_cwpin_add(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms);
int nr_cwpin_del(struct nl_batch *b, const struct nr_cwin *w);

/* Behind a geo-block before DNAT (design §4, "Pre-DNAT geo-block"): the
 * drop in a prerouting chain at -189 ... -100 sees only the published
 * port, not the container. porthole marks there what it cannot judge yet,
 * the host's own rules decide whether the mark is needed, and after DNAT
 * the mark survives only into a window:
 *
 *   set cports { type inet_service; flags timeout; counter; }   (published ports of open windows)
 *   chain pre (-190), last:
 *     C  meta l4proto tcp ct state new tcp dport @cports fib daddr type local
 *          ct mark & MASK == 0 meta mark & MASK == 0 meta mark set meta mark & ~MASK | CC
 *   chain forward, after F1/F2 (F1 turns a CP connection CW when DNAT sent it to a window):
 *     F4 ct mark & MASK == CP counter drop
 *     F5 meta mark & MASK == CC meta mark set meta mark & ~MASK
 *   chain local (input, last): ct mark & MASK == CP counter drop; CC cleared as F5
 *
 * and in the host's chain, before each drop it reaches from such a
 * prerouting chain (lib/nftguard.h nft_cw_plan), per published port P:
 *
 *   A  meta l4proto tcp tcp dport P meta mark & MASK == CC <the drop's matches> ct mark set ct mark & ~MASK | CP
 *   B  meta l4proto tcp tcp dport P ct mark & (MASK & ~(CP ^ CW)) == CP counter accept
 *        (iptables-nft tables: -j CONNMARK --set-xmark CP/MASK, -m connmark --mark CP/(MASK & ~(CP ^ CW)))
 *
 * with comment "porthole cw DIGEST". B admits CP and CW alike (the rest of
 * a window's connection). Nothing outside the owner table sets CC, nothing
 * but A sets CP: a pair left behind admits nothing. */
#define PH_SET_CPORTS "cports"

struct nr_cw_marks {
	uint32_t cw, cp, cc, mask;
};

struct ph_chain_ref;
struct nftnl_rule;
/* cports and the rules C, F4, F5 and local's into a batch that holds
 * nr_add_container_objects(); -EINVAL for marks that collide. */
int nr_add_container_pre(struct nl_batch *b, uint32_t cp, uint32_t cc, uint32_t value, uint32_t mask);
/* one published port in cports (add_it) or out; no timeout: the caller
 * counts the windows of a port */
int nr_cports_elem(struct nl_batch *b, uint16_t port, int add_it);
/* rule A (accept 0) or B (1) for a drop point in chain (drop: the rule
 * whose matches A repeats, NULL for a policy). NULL: no memory, or a match
 * that cannot be repeated. */
struct nftnl_rule *nr_cw_pair_rule(const struct ph_chain_ref *chain, const struct nftnl_rule *drop, uint32_t digest,
				   int accept, uint16_t port, const struct nr_cw_marks *m);

#endif
