/* nftables backend: finds the host's chains that can drop inbound traffic,
 * inserts a window's rules at their top in one netlink batch, reads their
 * counters, deletes them in one batch, and sweeps every rule carrying our tag.
 * Talks netlink through libnftnl + libmnl; never runs nft, never dumps and
 * reloads a ruleset. Knows nothing about windows beyond struct nft_rule_spec. */
#ifndef PORTHOLE_NFT_H
#define PORTHOLE_NFT_H

#include <stdint.h>
#include "config.h"

#define PH_RULE_TAG "porthole w="

struct ph_nft;

struct nft_rule_spec {
	uint64_t window_id;
	uint16_t port;
	uint32_t cgroup_level;   /* socket cgroupv2 level L ... */
	uint64_t cgroup_id;      /* ... == this id */
	int by_mark;             /* instead: socket mark & mark_mask == mark */
	uint32_t mark, mark_mask;
	uint64_t deadline_ns;    /* meta time < this (CLOCK_REALTIME ns) */
};

struct nft_rule_ref {
	struct ph_chain_ref chain;
	uint64_t handle;
	uint64_t window_id;      /* the tag it must carry; 0: any porthole tag */
};

int nft_open(struct ph_nft **out);
void nft_close(struct ph_nft *n);

/* Chains a window's rule must go into. auto: every filter-type base chain of
 * families inet/ip/ip6 on the prerouting or input hook, skipping tables owned
 * by another process. An explicit list is checked to exist. Chains that can
 * drop inbound traffic but cannot match a socket (netdev/inet ingress) are
 * counted in *unopenable and logged once per call when log_unopenable. */
int nft_find_chains(struct ph_nft *n, const struct ph_config *c, struct ph_chain_ref *out,
		    unsigned max, unsigned *count, unsigned *unopenable, int log_unopenable);

/* Insert the rule at the top of each chain, all in one batch: either every
 * rule is in (refs[i].handle set) or none is. */
int nft_insert_window(struct ph_nft *n, const struct nft_rule_spec *spec,
		      const struct ph_chain_ref *chains, unsigned nchains, struct nft_rule_ref *refs);

/* Open a window: insert the rule at the top of every target chain in one
 * batch bound to the ruleset generation the target chains were read at (a
 * cache, re-read when the kernel reports the generation changed). *nrefs: the
 * rules inserted (0: no target chain, nothing blocks). All or nothing. */
int nft_open_window(struct ph_nft *n, const struct ph_config *cfg, const struct nft_rule_spec *spec,
		    struct nft_rule_ref *refs, unsigned *nrefs);
/* Forget the cached target chains (the ruleset changed). */
void nft_forget_chains(struct ph_nft *n);

/* Packets/bytes admitted: the largest counter among the rules (a packet that
 * crosses two chains is counted once). Missing rules are skipped. */
int nft_read_counters(struct ph_nft *n, const struct nft_rule_ref *refs, unsigned nrefs,
		      uint64_t *packets, uint64_t *bytes);

/* Delete the rules in one batch; rules already gone (a ruleset reload) are
 * not an error. packets/bytes (may be NULL; start them at 0): the largest
 * counters among the rules, read by the same check that proves each rule is
 * still ours. */
int nft_delete_rules(struct ph_nft *n, const struct nft_rule_ref *refs, unsigned nrefs,
		     uint64_t *packets, uint64_t *bytes);

/* Delete every rule tagged PH_RULE_TAG in every table; *removed counts them. */
int nft_sweep(struct ph_nft *n, unsigned *removed);

/* 1 if the rule at ref's handle still exists and carries ref's tag (a
 * reloaded table reuses handles: a handle alone proves nothing), 0 if not. */
int nft_rule_present(struct ph_nft *n, const struct nft_rule_ref *ref);

/* For `porthole check`: every base chain of the ruleset, read-only. */
#define NFT_INSPECT_MAX 128
struct nft_chain_info {
	struct ph_chain_ref ref;
	uint32_t hook;
	int32_t prio;
	char type[16];
	int policy_drop;          /* policy drop */
	unsigned drop_rules;      /* rules ending in drop or reject */
	int owned;                /* its table has the owner flag */
};
int nft_inspect(struct ph_nft *n, struct nft_chain_info *out, unsigned max, unsigned *count);

/* Probe, in the current network namespace (the caller makes a throwaway
 * one), whether the kernel accepts what porthole needs: a table with the
 * owner flag, `socket cgroupv2`, `meta time`, `socket mark`. 1/0 each. */
int nft_probe_features(struct ph_nft *n, int *owner, int *cgroupv2, int *meta_time, int *socket_mark);

/* Ruleset change notifications (NFNLGRP_NFTABLES), subscribed only while a
 * window is open. nft_monitor_drain() sets *changed when another process
 * committed a transaction (or events were lost). */
int nft_monitor_start(struct ph_nft *n, int *fd);
void nft_monitor_stop(struct ph_nft *n);
/* Leave the group, keep the socket (nft_monitor_start joins again). */
void nft_monitor_pause(struct ph_nft *n);
int nft_monitor_drain(struct ph_nft *n, int *changed);

#endif
