/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where a server window's accept goes: where the host would drop.
 *
 * A guarded window must apply only to connections the host's own firewall
 * would have dropped: the allowed country keeps browsing as before. So its
 * rules go right before each rule that drops or rejects, in every chain the
 * target chains reach (by jump or goto), and at the end of a base chain
 * whose policy is drop, repeating that drop rule's own matches:
 *
 *   A: meta l4proto tcp tcp dport P meta mark & MASK == CAND  <the drop's matches>
 *        ct mark set ct mark & ~MASK | GUARD     (iptables-nft tables: -j CONNMARK --set-xmark)
 *   B: meta l4proto tcp tcp dport P ct mark & MASK == GUARD counter accept
 *        (iptables-nft tables: -m connmark --mark GUARD/MASK)
 *
 * both with comment "porthole guard DIGEST" (DIGEST: of the repeated
 * matches, so a changed drop rule is noticed). Only porthole's own table
 * sets CAND (on a new connection to a served socket), and only rule A sets
 * GUARD: without porthole's table the rules admit nothing. A drop whose
 * matches cannot be repeated (an anonymous set, a rate limit, anything with
 * a side effect) stops the window: fail closed, with the rule named. */
#ifndef PORTHOLE_NFTGUARD_H
#define PORTHOLE_NFTGUARD_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "nl.h"
#include "nftscan.h"

#define NFT_GUARD_MAX 256

struct nftnl_rule;
struct nft_ruleset;

/* Every chain and rule of the tables that hold a target chain. */
int nft_ruleset_read(struct ph_nl *n, struct nft_ruleset **out);
void nft_ruleset_free(struct nft_ruleset *rs);

/* One place porthole's pair goes. */
struct nft_guard_item {
	struct ph_chain_ref chain;
	uint64_t before;           /* the drop rule's handle; 0: the end of the chain (its policy) */
	uint32_t digest;
	const struct nftnl_rule *drop; /* in the ruleset; NULL for the policy */
};

/* One of porthole's guard rules now in the ruleset. */
struct nft_guard_have {
	struct ph_chain_ref chain;
	uint64_t handle;
	uint64_t anchor;           /* the next rule not porthole's; 0: none (the end) */
	uint32_t digest;
	uint16_t port;
	int accept;                /* rule B */
};

/* The drop points reachable from the scan's target chains. -ENOTSUP and the
 * rule in why when one cannot be repeated. */
int nft_guard_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items,
		   unsigned max, unsigned *n, char *why, size_t whylen);
/* The same pair for a guarded server in a container (nftcsrv.h): the drop
 * points reachable from the host's forward-hook chains (CHAIN_FORWARD,
 * CHAIN_FWD_VIA: the scan classes them so only with a published
 * designation or a container serve line). */
int nft_guard_fwd_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items,
		       unsigned max, unsigned *n, char *why, size_t whylen);
/* porthole's guard rules in the ruleset */
unsigned nft_guard_have(const struct nft_ruleset *rs, struct nft_guard_have *have, unsigned max);

/* Container windows behind a geo-block before DNAT (nftcontainer.h): the
 * drop points reachable from the prerouting target chains after porthole's
 * `pre` (-190) up to DNAT (-100), where the pair (A: CC and the drop's
 * matches -> ct CP; B: ct CP or CW -> accept, "porthole cw DIGEST") goes;
 * -ENOTSUP as nft_guard_plan. nft_pre_raw: -ENOTSUP and the chain in why
 * when a prerouting chain at or before -190 drops (by a rule, not a
 * reverse-path filter's fib match, or by its policy; porthole cannot mark
 * there: unsupported, a container window is refused). nft_cw_have: the
 * pairs now in the ruleset. */
#define NFT_PRIO_DNAT (-100)
int nft_cw_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items, unsigned max,
		unsigned *n, char *why, size_t whylen);
int nft_pre_raw(const struct nft_ruleset *rs, const struct nft_scan *scan, char *why, size_t whylen);
unsigned nft_cw_have(const struct nft_ruleset *rs, struct nft_guard_have *have, unsigned max);

/* Add a rule before handle `before` (0: at the end of its chain). */
int nr_batch_rule_at(struct nl_batch *b, struct nftnl_rule *r, uint64_t before);

#endif
