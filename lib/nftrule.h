/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What porthole writes into nf_tables, built with libnftnl, in one place:
 *
 *   table inet porthole { flags owner;                  (gone when portholed's socket closes)
 *     set windows { type mark . inet_service; flags timeout; counter; }
 *     set ports { type inet_service; flags constant; elements = { 80, ... } }
 *     chain pre { type filter hook prerouting priority -190; policy accept;
 *       meta l4proto tcp tcp dport @ports ct state new fib daddr type local
 *           socket mark & MASK . tcp dport @windows
 *           meta mark set meta mark & ~MASK | VALUE  ct mark set ct mark & ~MASK | VALUE
 *       ct state established ct mark & MASK == VALUE meta l4proto tcp
 *           socket mark & MASK . tcp dport @windows          (per-window counters)
 *       ct mark & MASK == VALUE meta mark set meta mark & ~MASK | VALUE
 *     }
 *     chain unroute { type filter hook prerouting priority -90; ...   (after DNAT)
 *       meta mark & MASK == VALUE fib daddr type != local meta mark set meta mark & ~MASK
 *     }
 *     chain local { type filter hook input priority 2147483647; ...   (after every host chain)
 *       meta l4proto tcp ct state new ct mark & MASK == VALUE socket mark & MASK . tcp dport @windows return
 *       meta l4proto tcp ct state new ct mark & MASK == VALUE drop   (REDIRECT/DNAT to another socket)
 *     }
 *     chain forward { type filter hook forward priority -300; ...
 *       ct mark & MASK == VALUE drop                                 (DNAT to another host)
 *     }
 *   }
 *
 * The host's chains may accept a marked connection before DNAT decides
 * where it goes (a geo-block in prerouting): the last two chains make sure
 * that what porthole marked reaches the window's socket or nothing (an
 * nftables drop is final).
 *
 * and, in each host chain that could drop the traffic, while a window is
 * open, one rule per watched port in the exact shape iptables-nft writes
 * (so iptables -L/-S/-save and ufw keep working):
 *
 *   meta l4proto tcp tcp dport P meta mark & MASK == VALUE counter accept comment "porthole"
 *
 * Only the bits in MASK are ever read or written. Nothing outside the owner
 * table sets VALUE, so a host rule left behind (a crash, a saved ruleset
 * restored at boot) admits nothing. No logging; -errno returns.
 *
 * Built in nftrule.c (the owner table, the host rule, elements), nftserver.c
 * (server windows, guard rules), nftmatch.c (reading rules back), from the
 * expressions in nftbuild.c. */
#ifndef PORTHOLE_NFTRULE_H
#define PORTHOLE_NFTRULE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "nl.h"

#define PH_TABLE        "porthole"
#define PH_SET_WINDOWS  "windows"
#define PH_CHAIN_PRE    "pre"
#define PH_CHAIN_UNROUTE "unroute"
#define PH_PRIO_PRE     (-190)   /* after conntrack (-200), before mangle (-150) */
#define PH_PRIO_UNROUTE (-90)    /* after dstnat (-100) */
#define PH_CHAIN_LOCAL  "local"
#define PH_PRIO_LOCAL   2147483647 /* input: after every host chain */
#define PH_CHAIN_FORWARD "forward"
#define PH_PRIO_FORWARD (-300)
#define PH_RULE_TAG     "porthole"
#define PH_SET_SERVERS  "servers"
#define PH_GUARD_TAG    "porthole guard"  /* a server window's rules: "porthole guard DIGEST" */
#define PH_CW_TAG       "porthole cw"     /* a container window's pair before DNAT: "porthole cw DIGEST" */

struct nftnl_rule;

/* The host rule for one chain and port. */
struct nftnl_rule *nr_host_rule(const struct ph_chain_ref *c, uint16_t port, uint32_t value, uint32_t mask);

/* Add the whole owner table (table, set, chains, rules) to a batch. */
int nr_add_table(struct nl_batch *b, uint32_t value, uint32_t mask, int owner, const uint16_t *ports, unsigned nports);
/* Delete porthole's table (a leftover of a previous daemon without the owner
 * flag, or a saved copy restored at boot). */
int nr_del_table(struct nl_batch *b);

/* One window: element (mark . port) with a timeout (the hard deadline). */
int nr_add_element(struct nl_batch *b, uint32_t mark, uint16_t port, uint64_t timeout_ms);
int nr_del_element(struct nl_batch *b, uint32_t mark, uint16_t port);
/* Read one element's counters. -ENOENT when it is gone. */
int nr_get_element(struct ph_nl *n, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes);

/* Insert (at the top) / delete a rule; the batch owns nothing afterwards.
 * NEWRULE asks for an echo so the handle comes back. */
int nr_batch_rule(struct nl_batch *b, struct nftnl_rule *r, int add);

/* A rule porthole wrote: comment "porthole..." as rule userdata (what we
 * write) or as an xt comment match (what iptables-restore writes back after
 * an iptables-save round trip). *port: the tcp dport it matches, 0 if none. */
int nr_is_ours(const struct nftnl_rule *r, uint16_t *port);
/* ... and is one of a server window's guard rules ("porthole guard ..."):
 * NR_PAIR_GUARD and its digest; a container window's pair before DNAT
 * ("porthole cw ..."): NR_PAIR_CW; 0: neither. */
enum { NR_PAIR_GUARD = 1, NR_PAIR_CW = 2 };
int nr_is_guard(const struct nftnl_rule *r, uint32_t *digest);

/* Server windows (see nftguard.h for the host side): the set of served
 * cgroups (cgroup id . port, timeout = the window's deadline), one rule per
 * cgroup level in use, and the own rules that carry the guarded mark. */
int nr_add_servers_set(struct nl_batch *b);
struct nftnl_rule *nr_server_rule(unsigned level, uint32_t cand, uint32_t mask);
/* csrv: container serve lines (nftcsrv.h) put their own forward drop */
int nr_add_guard_own_rules(struct nl_batch *b, uint32_t cand, uint32_t guarded, uint32_t mask, int csrv);
int nr_server_element(struct nl_batch *b, uint64_t cgid, uint16_t port, uint64_t timeout_ms, int add);

/* What an expression of a drop rule is to its guard copy: repeated, left
 * out (verdicts, counters, logging), or impossible (*bad names it). */
enum { NR_EXPR_COPY = 1, NR_EXPR_SKIP, NR_EXPR_BAD };
struct nftnl_expr;
int nr_expr_role(const struct nftnl_expr *e, const char **bad);
/* drop's matches (nr_expr_role's COPY ones) appended to r; -ENOTSUP for a
 * BAD one (nftmatch.c; both pairs' rule A: server guards, container pairs) */
int nr_copy_matches(struct nftnl_rule *r, const struct nftnl_rule *drop);
/* Rule A (accept 0) or B (1) for a drop point in chain (drop: the rule whose
 * matches A repeats, NULL for a policy). */
struct nftnl_rule *nr_guard_rule_for(const struct ph_chain_ref *chain, const struct nftnl_rule *drop, uint32_t digest,
				     int accept, uint16_t port, uint32_t cand, uint32_t guarded, uint32_t mask);

#endif
