/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the host's ruleset, read-only, for the daemon and `porthole check`
 * alike: every base chain with its hook, priority, policy and drop rules,
 * whether its table is owned by another process, and one classification of
 * what porthole can do there (the one place that rule lives). Also the
 * iptables-legacy tables, which nftables cannot override. */
#ifndef PORTHOLE_NFTSCAN_H
#define PORTHOLE_NFTSCAN_H

#include <stdint.h>
#include "config.h"
#include "nl.h"

#define NFT_INSPECT_MAX 256

enum chain_class {
	CHAIN_TARGET = 1,  /* porthole puts its rule here */
	CHAIN_OURS,        /* porthole's own table */
	CHAIN_OWNED,       /* another process owns the table (firewalld >= 2.2): EPERM */
	CHAIN_INGRESS,     /* runs before the socket lookup: a drop here cannot be opened */
	CHAIN_OTHER,       /* not on a path that filters inbound traffic to this host */
	CHAIN_NOT_LISTED,  /* chains = LIST and this one is not in it */
	/* forward hook, only with a `published` designation and chains = auto
	 * (container windows: DNATed connections cross the forward hook);
	 * without one, forward chains are CHAIN_OTHER */
	CHAIN_FORWARD,     /* may drop: porthole puts its rule at its top */
	CHAIN_FWD_VIA,     /* ip/ip6 filter FORWARD with a DOCKER-USER: the rule goes there */
	CHAIN_ENGINE,      /* a container engine's own table (Docker >= 29, netavark >= 1.10): never written */
};

/* Container engines and backends, from their tables and chains */
enum {
	NFT_ENG_DOCKER_IPT = 1,    /* DOCKER / DOCKER-USER chains (iptables-nft) */
	NFT_ENG_NETAVARK_IPT = 2,  /* NETAVARK* chains (netavark's iptables driver) */
	NFT_ENG_DOCKER_NFT = 4,    /* table ip/ip6 docker-bridges (Docker >= 29, nftables) */
	NFT_ENG_NETAVARK_NFT = 8,  /* table inet netavark (netavark >= 1.10, nftables) */
	NFT_ENG_CNI = 16,          /* CNI-* chains */
};
#define NFT_FWD_USER_MAX 4

struct nft_chain_info {
	struct ph_chain_ref ref;
	int base;
	uint32_t hook;
	int32_t prio;
	char type[16];
	int policy_drop;          /* policy drop */
	unsigned drop_rules;      /* rules ending in drop or reject */
	unsigned jumps;           /* rules that jump or go to another chain */
	unsigned ours;            /* porthole's host rules in it */
	int stopped;              /* a rule of it drops, rejects, jumps or goes to */
	char first_jump[PH_NAME_LEN]; /* the first of them jumps (or goes) there; "" if it drops */
	unsigned mark_users;      /* rules reading or writing mark bits within porthole's mask */
	int owned;                /* its table has the owner flag (and is not ours) */
	enum chain_class cls;
};

struct nft_scan {
	struct nft_chain_info chains[NFT_INSPECT_MAX];
	unsigned count;
	int overflow;
	int own_table;            /* inet porthole exists */
	int own_table_owned;      /* ... with the owner flag */
	unsigned mark_users;      /* rules outside porthole's table touching its mark bits */
	char mark_user[160];      /* the first of them, "family table chain" */
	unsigned former_users;    /* rules matching the former default mark 0x2000/0x3fff, when
				     the config's socket_mark is another (a static rule not updated) */
	char former_user[160];    /* the first of them */
	unsigned engines;         /* NFT_ENG_* seen */
	/* the engines' admin chains (regular chains in ip/ip6 filter):
	 * DOCKER-USER, CNI-ADMIN. Forward targets with a `published` line. */
	struct ph_chain_ref fwd_user[NFT_FWD_USER_MAX];
	unsigned nfwd_user;
	int docker_user[2];       /* ip, ip6 filter DOCKER-USER exists */
};

struct nftnl_rule;
/* Dump tables, chains and rules; classify every base chain against cfg. */
int nft_scan(struct ph_nl *n, const struct ph_config *cfg, struct nft_scan *out);
/* The same, and each(rule, arg) for every rule of the one rule dump (a
 * caller that needs rules too reads the ruleset once, not twice). */
int nft_scan_each(struct ph_nl *n, const struct ph_config *cfg, struct nft_scan *out,
		  void (*each)(const struct nftnl_rule *r, void *arg), void *arg);
/* One line on why a class means what it means, for logs and `check`. */
const char *chain_class_why(enum chain_class c);
/* A chain that could drop inbound traffic (policy, drop/reject, or a jump
 * to a chain that might). */
int chain_may_drop(const struct nft_chain_info *c);
const char *hook_name(int family, uint32_t hook);
/* porthole's rule goes into the host's forward-hook chains too: a
 * `published` designation and chains = auto */
int nft_forward_wanted(const struct ph_config *cfg);
/* A rule that ends its chain's walk for some packets before a rule below
 * it: a jump, goto, drop or reject (a host rule must sit above all of them) */
int nft_rule_stops(const struct nftnl_rule *r);

/* iptables-legacy: whether the legacy filter table of one family (v6: ip6)
 * exists in this network namespace, and whether its INPUT chain can drop
 * (a policy other than ACCEPT, or any rule in it). present: 0/1. Needs
 * CAP_NET_ADMIN; -EPERM without it. */
int legacy_input_state(int v6, int *present, int *may_drop);

#endif
