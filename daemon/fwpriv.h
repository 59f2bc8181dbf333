/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the firewall backend's files share (firewall.c: life, windows and the
 * linger; fwhost.c: reading the host and reconciling porthole's rules in its
 * chains; fwserver.c: server windows and their guard rules; fwcontainer.c:
 * container windows' elements). Nothing outside these files includes it: the rest of the daemon sees firewall.h. */
#ifndef PORTHOLE_FWPRIV_H
#define PORTHOLE_FWPRIV_H

#include "firewall.h"
#include "nftscan.h"
#include "nl.h"

#include <string.h>

#define MAX_HOST_RULES (PH_MAX_CHAINS * PH_MAX_PORTS)
#define RECONCILE_ROUNDS 16

/* A window's element (mark . port), or, with fill, whatever fill adds or
 * deletes instead (container windows' elements, fwcontainer.c) */
struct elem {
	uint32_t mark;
	uint16_t port;
	uint64_t timeout_ms;
	int (*fill)(struct nl_batch *b, const void *arg);
	const void *arg;
};

struct host_rule {
	struct ph_chain_ref chain;
	uint16_t port;
	uint64_t handle;
	int below;                /* below a jump, goto, drop or reject of its chain */
};

struct ph_fw {
	const struct ph_config *cfg;
	struct ph_nl *nl;
	int monfd;
	int joined;
	unsigned nwin;
	int degraded;             /* the host rules could not be put back after a change */
	int timerfd;              /* the linger's end (fw_timer_fd) */
	int lingering;            /* no window, the host rules kept (and watched) until the timer fires */
	int legacy_unknown_said;  /* fw_blocked's warning that a legacy table cannot be read: said once */
	/* the host as of generation genid (valid: we know it is current) */
	int valid;
	uint32_t genid;
	struct ph_chain_ref targets[PH_MAX_CHAINS];
	unsigned char placed[PH_MAX_CHAINS];    /* the rule must sit above every jump/drop there (forward
						   chains: Docker re-inserts its jump at FORWARD's top) */
	unsigned ntargets;
	/* moving a misplaced rule back to the top: at most MOVE_BURST batches a
	 * MOVE_PERIOD (a tool that puts its own rule back at the top whenever
	 * the ruleset changes would otherwise fight porthole forever) */
	long move_t0;
	unsigned moves;
	int no_move;              /* the budget is spent: misplaced rules stay where they are */
	struct host_rule rules[MAX_HOST_RULES]; /* ours, present at genid */
	unsigned nrules;
	struct nft_scan scan;                   /* scratch */
	/* server windows */
	uint32_t cand, guarded;                 /* their marks (cfg->nsrv > 0) */
	unsigned nsrvwin;                       /* open server windows */
	uint32_t levels;                        /* cgroup levels with a rule in our prerouting chain */
	unsigned nguard;                        /* guard rules in the host's chains, as last placed */
	/* container windows (config_has_published) */
	int published;
	uint32_t cw;                            /* their conntrack mark */
	/* ... behind a geo-block before DNAT (fwcontainer.c) */
	uint32_t cp, cc;                        /* 0: the mask has no room (such a block refuses windows) */
	uint16_t cwport[PH_MAX_PORTS];          /* published ports with a cwin element, in cports */
	unsigned cwrefs[PH_MAX_PORTS];          /* ... their elements */
	unsigned ncwport;
	unsigned ncwpair;                       /* pair rules in the host's chains, as last placed */
};

static inline int chain_eq(const struct ph_chain_ref *a, const struct ph_chain_ref *b)
{
	return a->family == b->family && !strcmp(a->table, b->table) && !strcmp(a->chain, b->chain);
}

/* fwhost.c. A scan at a known generation (f->valid, f->genid); a batch bound
 * to it adding what is missing (want) and deleting what is surplus, with the
 * element el when given; a batch with no generation (our own table). */
int fw_scan_host(struct ph_fw *f);
int fw_owned_blocker(const struct ph_fw *f, char *why, size_t whylen);
int fw_run_batch(struct ph_fw *f, int use_genid, int (*fill)(struct nl_batch *, void *), void *arg,
		 struct nl_result *res, int *idx);
int fw_reconcile(struct ph_fw *f, int want, const struct elem *el, unsigned *added, char *why, size_t whylen);
int fw_commit(struct ph_fw *f, int (*fill)(struct nl_batch *, void *), void *arg, char *why, size_t whylen);
/* fwserver.c: place (want) or remove the guard rules */
int fw_guard_sync(struct ph_fw *f, int want, char *why, size_t whylen);
/* fwcontainer.c: place the pairs for the ports in cwport (none: remove
 * them) where a geo-block drops before DNAT */
int fw_cw_sync(struct ph_fw *f, char *why, size_t whylen);
/* firewall.c: (un)subscribe to ruleset notifications */
void fw_monitor_join(struct ph_fw *f, int join);
/* firewall.c: a window (of any kind) opens with el in the batch (the host
 * rules with it when it is the first), or one closed (the host rules
 * linger, then go, after the last) */
int fw_win_open(struct ph_fw *f, const struct elem *el, char *why, size_t whylen);
void fw_win_release(struct ph_fw *f);

#endif
