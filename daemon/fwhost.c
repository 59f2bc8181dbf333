// SPDX-License-Identifier: GPL-2.0-or-later
/* The firewall backend's view of the host (see fwpriv.h): reading the
 * ruleset at a known generation, and reconciling porthole's rules in the
 * host's chains with one batch bound to that generation.
 *
 * Host rules are reconciled, never tracked by handle alone: a scan at a
 * known ruleset generation finds every rule carrying our tag (in either
 * comment form), and one batch bound to that generation adds what is
 * missing and deletes what is surplus; the kernel refuses the batch if the
 * ruleset moved in between, and we scan again. */
#include "fwpriv.h"
#include "log.h"
#include "nftguard.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

/* ---- reading the host ------------------------------------------------------------ */

struct rules_scan {
	struct ph_fw *f;
	int overflow;
	struct ph_chain_ref cur;  /* the chain of the last rule (a dump gives a chain's rules in order) */
	int stopped;              /* ... and a rule of it above jumps, goes to, drops or rejects */
};

/* one rule of the scan's dump: ours in a host chain (not a guard rule) */
static void collect_rule(const struct nftnl_rule *r, void *data)
{
	struct rules_scan *rs = data;
	struct ph_fw *f = rs->f;
	uint16_t port = 0;
	const char *rt = nftnl_rule_get_str(r, NFTNL_RULE_TABLE), *rc = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	int rf = (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);

	if (!rt || !rc)
		return;
	if (rs->cur.family != rf || strcmp(rs->cur.table, rt) || strcmp(rs->cur.chain, rc)) {
		rs->cur.family = rf;
		copy_str(rs->cur.table, PH_NAME_LEN, rt);
		copy_str(rs->cur.chain, PH_NAME_LEN, rc);
		rs->stopped = 0;
	}

	/* a server window's guard rules have their own books (guard_sync) */
	if (nr_is_ours(r, &port) && !nr_is_guard(r, NULL)) {
		const char *t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE), *c = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		int fam = (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
		/* our own table's rules carry no tag; never ours to sweep */
		if (t && c && !(fam == NFPROTO_INET && !strcmp(t, PH_TABLE))) {
			if (f->nrules < MAX_HOST_RULES) {
				struct host_rule *h = &f->rules[f->nrules++];
				h->chain.family = fam;
				copy_str(h->chain.table, PH_NAME_LEN, t);
				copy_str(h->chain.chain, PH_NAME_LEN, c);
				h->port = port;
				h->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
				h->below = rs->stopped;
			} else {
				rs->overflow = 1;
			}
		}
	} else if (!rs->stopped) {
		rs->stopped = nft_rule_stops(r);
	}
}

static void add_target(struct ph_fw *f, const struct ph_chain_ref *c, int placed)
{
	for (unsigned i = 0; i < f->ntargets; i++)
		if (chain_eq(&f->targets[i], c))
			return;
	if (f->ntargets == PH_MAX_CHAINS) {
		log_warn("nft: more than %d target chains; %s %s %s gets no rule", PH_MAX_CHAINS, family_name(c->family),
			 c->table, c->chain);
		return;
	}
	f->placed[f->ntargets] = (unsigned char)placed;
	f->targets[f->ntargets++] = *c;
}

/* Read the generation first: what the scan sees can only be newer, and a
 * batch bound to it is refused if it is. */
int fw_scan_host(struct ph_fw *f)
{
	struct rules_scan rs = { .f = f };
	int r;

	f->valid = 0;
	r = nl_genid(f->nl, &f->genid);
	if (r)
		return r;
	f->nrules = 0;
	r = nft_scan_each(f->nl, f->cfg, &f->scan, collect_rule, &rs);
	if (r)
		return r;
	if (f->scan.overflow)
		log_warn("nft: more than %d base chains; only the first are considered", NFT_INSPECT_MAX);
	f->ntargets = 0;
	for (unsigned i = 0; i < f->scan.count; i++)
		if (f->scan.chains[i].cls == CHAIN_TARGET)
			add_target(f, &f->scan.chains[i].ref, 0);
	/* container windows: the engines' admin chains (DOCKER-USER,
	 * CNI-ADMIN), and the forward base chains that may drop */
	for (unsigned i = 0; nft_forward_wanted(f->cfg) && i < f->scan.nfwd_user; i++)
		add_target(f, &f->scan.fwd_user[i], 1);
	for (unsigned i = 0; i < f->scan.count; i++)
		if (f->scan.chains[i].cls == CHAIN_FORWARD)
			add_target(f, &f->scan.chains[i].ref, 1);
	if (rs.overflow)
		return -E2BIG;
	f->valid = 1;
	return 0;
}

/* ---- reconciling -------------------------------------------------------------------- */

static int want_rule(const struct ph_fw *f, int want, const struct ph_chain_ref *c, uint16_t port)
{
	if (!want)
		return 0;
	for (unsigned i = 0; i < f->ntargets; i++)
		if (chain_eq(&f->targets[i], c))
			for (unsigned p = 0; p < f->cfg->nports; p++)
				if (f->cfg->ports[p] == port)
					return 1;
	return 0;
}

/* ours, but below a jump or drop of a chain where it must come first
 * (something inserted above it): moved, i.e. deleted and inserted at the
 * top again in the same batch */
static int misplaced(const struct ph_fw *f, const struct host_rule *h)
{
	if (!h->below || f->no_move)
		return 0;
	for (unsigned i = 0; i < f->ntargets; i++)
		if (f->placed[i] && chain_eq(&f->targets[i], &h->chain))
			return 1;
	return 0;
}

static int have_rule(const struct ph_fw *f, const struct ph_chain_ref *c, uint16_t port)
{
	for (unsigned i = 0; i < f->nrules; i++)
		if (chain_eq(&f->rules[i].chain, c) && f->rules[i].port == port && !misplaced(f, &f->rules[i]))
			return 1;
	return 0;
}

/* A table owned by another process, with a chain that can drop: nobody but
 * its owner may add porthole's rule there. Judged on the last scan. */
int fw_owned_blocker(const struct ph_fw *f, char *why, size_t whylen)
{
	for (unsigned i = 0; i < f->scan.count; i++) {
		const struct nft_chain_info *c = &f->scan.chains[i];
		if (c->cls == CHAIN_OWNED && chain_may_drop(c)) {
			snprintf(why, whylen,
				 "table %s %s is owned by another process (firewalld >= 2.2: NftablesTableOwner=yes) and its "
				 "chain %s can drop: set NftablesTableOwner=no in firewalld.conf, or add "
				 "'meta l4proto tcp meta mark & 0x%x == 0x%x accept' to that chain yourself and set chains = none",
				 family_name(c->ref.family), c->ref.table, c->ref.chain, f->cfg->mark_mask, f->cfg->mark);
			return -EPERM;
		}
	}
	return 0;
}

/* One batch: fill it, commit it, map the verdict. res (the caller's, for
 * echoed handles and the kernel's words) is filled; *idx names the message
 * that failed (-1: the batch as a whole). */
int fw_run_batch(struct ph_fw *f, int use_genid, int (*fill)(struct nl_batch *, void *), void *arg,
		     struct nl_result *res, int *idx)
{
	struct nl_batch *b = nl_batch_begin(f->nl, use_genid, f->genid);
	int r;

	*idx = -1;
	memset(res, 0, sizeof(*res));
	if (!b)
		return -ENOMEM;
	r = fill(b, arg);
	if (r) {
		nl_batch_abort(b);
		return r;
	}
	r = nl_batch_commit(b, res);
	return r ? r : nl_result_error(res, idx);
}

struct host_change {
	struct ph_fw *f;
	const unsigned *del_idx;
	unsigned ndel;
	const struct ph_chain_ref *add_c;
	const uint16_t *add_p;
	unsigned nadd;
	const struct elem *el;
};

static int fill_host_change(struct nl_batch *b, void *arg)
{
	const struct host_change *hc = arg;
	const struct ph_fw *f = hc->f;
	int r = 0;

	for (unsigned i = 0; !r && i < hc->ndel; i++) {
		const struct host_rule *h = &f->rules[hc->del_idx[i]];
		struct nftnl_rule *rule = nftnl_rule_alloc();
		if (!rule)
			return -ENOMEM;
		nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, (uint32_t)h->chain.family);
		nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, h->chain.table);
		nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, h->chain.chain);
		nftnl_rule_set_u64(rule, NFTNL_RULE_HANDLE, h->handle);
		r = nr_batch_rule(b, rule, 0);
	}
	for (unsigned i = 0; !r && i < hc->nadd; i++) {
		struct nftnl_rule *rule = nr_host_rule(&hc->add_c[i], hc->add_p[i], f->cfg->mark, f->cfg->mark_mask);
		r = rule ? nr_batch_rule(b, rule, 1) : -ENOMEM;
	}
	if (!r && hc->el)
		r = hc->el->fill ? hc->el->fill(b, hc->el->arg)
				 : nr_add_element(b, hc->el->mark, hc->el->port, hc->el->timeout_ms);
	return r;
}

#define MOVE_BURST 10
#define MOVE_PERIOD 60 /* seconds */

/* Whether a misplaced rule may be moved now (see ph_fw.moves); a refusal is
 * said once a period */
static int move_allowed(struct ph_fw *f)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!f->move_t0 || ts.tv_sec - f->move_t0 >= MOVE_PERIOD) {
		f->move_t0 = ts.tv_sec;
		f->moves = 0;
	}
	if (f->moves < MOVE_BURST)
		return 1;
	if (f->moves++ == MOVE_BURST)
		log_warn("nft: porthole's rule was put below a jump or drop %d times within %d s (another tool keeps its "
			 "own rule at the top?); it stays where it is for now: a window may not get through there",
			 MOVE_BURST, MOVE_PERIOD);
	return 0;
}

/* One batch bound to f->genid: add missing host rules, delete surplus ones,
 * and the element when given. -ERESTART: the host moved; scan again. */
static int reconcile_once(struct ph_fw *f, int want, const struct elem *el, unsigned *added, char *why, size_t whylen)
{
	struct ph_chain_ref add_c[MAX_HOST_RULES];
	uint16_t add_p[MAX_HOST_RULES];
	unsigned nadd = 0, del_idx[MAX_HOST_RULES], ndel = 0, seen_dup[MAX_HOST_RULES] = { 0 };
	struct nl_result *res;
	int r, idx, moving = 0;

	f->no_move = 0;
	for (unsigned i = 0; want && i < f->nrules; i++)
		moving |= misplaced(f, &f->rules[i]);
	if (moving && !move_allowed(f))
		f->no_move = 1, moving = 0;
	for (unsigned i = 0; i < f->nrules; i++) {
		int dup = 0;
		for (unsigned j = 0; j < i; j++)
			if (!seen_dup[j] && chain_eq(&f->rules[j].chain, &f->rules[i].chain) && f->rules[j].port == f->rules[i].port)
				dup = 1;
		if (dup || !want_rule(f, want, &f->rules[i].chain, f->rules[i].port) || (want && misplaced(f, &f->rules[i]))) {
			del_idx[ndel++] = i;
			seen_dup[i] = 1;
		}
	}
	for (unsigned c = 0; want && c < f->ntargets; c++)
		for (unsigned p = 0; p < f->cfg->nports; p++)
			if (!have_rule(f, &f->targets[c], f->cfg->ports[p])) {
				add_c[nadd] = f->targets[c];
				add_p[nadd++] = f->cfg->ports[p];
			}
	*added = nadd;
	if (want && f->cfg->chains_mode != PH_CHAINS_NONE && fw_owned_blocker(f, why, whylen))
		return -EPERM;
	if (want && f->cfg->chains_mode == PH_CHAINS_LIST && f->ntargets == 0) {
		snprintf(why, whylen, "none of the configured chains exists");
		return -ENOENT;
	}
	if (!nadd && !ndel && !el)
		return 0;
	res = malloc(sizeof(*res));
	if (!res)
		return -ENOMEM;
	{
		struct host_change hc = { f, del_idx, ndel, add_c, add_p, nadd, el };
		r = fw_run_batch(f, 1, fill_host_change, &hc, res, &idx);
	}
	if (r == -ERESTART || r == -EINTR) {
		free(res);
		return -ERESTART;
	}
	if (r) {
		if (idx >= 0 && (unsigned)idx < ndel)
			snprintf(why, whylen, "removing porthole's rule from %s %s %s: %s%s%s",
				 family_name(f->rules[del_idx[idx]].chain.family), f->rules[del_idx[idx]].chain.table,
				 f->rules[del_idx[idx]].chain.chain, strerror(-r), res->extack[0] ? ": " : "", res->extack);
		else if (idx >= 0 && (unsigned)idx < ndel + nadd)
			snprintf(why, whylen, "adding porthole's rule to %s %s %s: %s%s%s",
				 family_name(add_c[idx - ndel].family), add_c[idx - ndel].table, add_c[idx - ndel].chain,
				 strerror(-r), res->extack[0] ? ": " : "", res->extack);
		else
			snprintf(why, whylen, "nftables refused the window: %s%s%s", strerror(-r),
				 res->extack[0] ? ": " : "", res->extack);
		free(res);
		/* a rule deleted under us (ENOENT) or a busy chain: look again */
		return r == -ENOENT || r == -EBUSY ? -ERESTART : r;
	}
	/* committed: generation genid + 1 is ours, and we know what it holds */
	f->moves += moving;
	{
		struct host_rule keep[MAX_HOST_RULES];
		unsigned nkeep = 0;
		for (unsigned i = 0; i < f->nrules; i++) {
			int gone = 0;
			for (unsigned j = 0; j < ndel; j++)
				gone |= del_idx[j] == i;
			if (!gone)
				keep[nkeep++] = f->rules[i];
		}
		for (unsigned i = 0; i < nadd && nkeep < MAX_HOST_RULES; i++) {
			keep[nkeep].chain = add_c[i];
			keep[nkeep].port = add_p[i];
			keep[nkeep].handle = res->handle[ndel + i];
			keep[nkeep].below = 0;
			if (!keep[nkeep].handle)
				f->valid = 0; /* no echo: the next scan finds it by its tag */
			nkeep++;
		}
		memcpy(f->rules, keep, nkeep * sizeof(keep[0]));
		f->nrules = nkeep;
		f->genid++;
	}
	free(res);
	return 0;
}

int fw_reconcile(struct ph_fw *f, int want, const struct elem *el, unsigned *added, char *why, size_t whylen)
{
	int r = -ERESTART;

	*added = 0;
	if (f->cfg->chains_mode == PH_CHAINS_NONE && !el)
		return 0;
	for (int round = 0; round < RECONCILE_ROUNDS && r == -ERESTART; round++) {
		if (!f->valid || round > 0) {
			r = fw_scan_host(f);
			if (r == -EINTR) {
				r = -ERESTART; /* the ruleset changed during the dump: again */
				continue;
			}
			if (r) {
				snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
				return r;
			}
		}
		r = reconcile_once(f, want, el, added, why, whylen);
	}
	if (r == -ERESTART)
		snprintf(why, whylen, "the ruleset kept changing under porthole (%d tries)", RECONCILE_ROUNDS);
	return r;
}

/* ---- life -------------------------------------------------------------------------- */

int fw_commit(struct ph_fw *f, int (*fill)(struct nl_batch *, void *), void *arg, char *why, size_t whylen)
{
	struct nl_result *res = malloc(sizeof(*res));
	int r, idx;

	if (!res)
		return -ENOMEM;
	r = fw_run_batch(f, 0, fill, arg, res, &idx);
	if (r && why)
		snprintf(why, whylen, "%s%s%s", strerror(-r), res->extack[0] ? ": " : "", res->extack);
	free(res);
	return r;
}
