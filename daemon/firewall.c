// SPDX-License-Identifier: GPL-2.0-or-later
/* The firewall backend (see firewall.h).
 *
 * Host rules are reconciled, never tracked by handle alone: a scan at a
 * known ruleset generation finds every rule carrying our tag (in either
 * comment form), and one batch bound to that generation adds what is
 * missing and deletes what is surplus; the kernel refuses the batch if the
 * ruleset moved in between, and we scan again. Opening the first window
 * reuses the last scan while its generation is current, so the fast path is
 * one batch. Window elements live in our owner table, which nobody else can
 * change: they need no generation. */
#include "firewall.h"
#include "log.h"
#include "nftguard.h"
#include "nftrule.h"
#include "nftscan.h"
#include "nl.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

#define MAX_HOST_RULES (PH_MAX_CHAINS * PH_MAX_PORTS)
#define RECONCILE_ROUNDS 16

struct host_rule {
	struct ph_chain_ref chain;
	uint16_t port;
	uint64_t handle;
};

struct ph_fw {
	const struct ph_config *cfg;
	struct ph_nl *nl;
	int monfd;
	int joined;
	unsigned nwin;
	int degraded;             /* the host rules could not be put back after a change */
	/* the host as of generation genid (valid: we know it is current) */
	int valid;
	uint32_t genid;
	struct ph_chain_ref targets[PH_MAX_CHAINS];
	unsigned ntargets;
	struct host_rule rules[MAX_HOST_RULES]; /* ours, present at genid */
	unsigned nrules;
	struct nft_scan scan;                   /* scratch */
	/* server windows */
	uint32_t cand, guarded;                 /* their marks (cfg->nsrv > 0) */
	unsigned nsrvwin;                       /* open server windows */
	uint32_t levels;                        /* cgroup levels with a rule in our prerouting chain */
	unsigned nguard;                        /* guard rules in the host's chains, as last placed */
};

static int chain_eq(const struct ph_chain_ref *a, const struct ph_chain_ref *b)
{
	return a->family == b->family && !strcmp(a->table, b->table) && !strcmp(a->chain, b->chain);
}

/* ---- reading the host ------------------------------------------------------------ */

struct rules_scan {
	struct ph_fw *f;
	int overflow;
};

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_scan *rs = data;
	struct ph_fw *f = rs->f;
	struct nftnl_rule *r = nftnl_rule_alloc();
	uint16_t port = 0;

	if (!r)
		return MNL_CB_ERROR;
	/* a server window's guard rules have their own books (guard_sync) */
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && nr_is_ours(r, &port) && !nr_is_guard(r, NULL)) {
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
			} else {
				rs->overflow = 1;
			}
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static struct nlmsghdr *build_rule_dump(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

/* Read the generation first: what the scan sees can only be newer, and a
 * batch bound to it is refused if it is. */
static int scan_host(struct ph_fw *f)
{
	struct rules_scan rs = { .f = f };
	int r;

	f->valid = 0;
	r = nl_genid(f->nl, &f->genid);
	if (r)
		return r;
	r = nft_scan(f->nl, f->cfg, &f->scan);
	if (r)
		return r;
	if (f->scan.overflow)
		log_warn("nft: more than %d base chains; only the first are considered", NFT_INSPECT_MAX);
	f->ntargets = 0;
	for (unsigned i = 0; i < f->scan.count; i++) {
		const struct nft_chain_info *c = &f->scan.chains[i];
		if (c->cls != CHAIN_TARGET)
			continue;
		if (f->ntargets == PH_MAX_CHAINS) {
			log_warn("nft: more than %d target chains; using the first %d", PH_MAX_CHAINS, PH_MAX_CHAINS);
			break;
		}
		f->targets[f->ntargets++] = c->ref;
	}
	f->nrules = 0;
	r = nl_request(f->nl, build_rule_dump, NULL, rules_cb, &rs);
	if (r)
		return r;
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

static int have_rule(const struct ph_fw *f, const struct ph_chain_ref *c, uint16_t port)
{
	for (unsigned i = 0; i < f->nrules; i++)
		if (chain_eq(&f->rules[i].chain, c) && f->rules[i].port == port)
			return 1;
	return 0;
}

/* A table owned by another process, with a chain that can drop: nobody but
 * its owner may add porthole's rule there. Judged on the last scan. */
static int owned_blocker(const struct ph_fw *f, char *why, size_t whylen)
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

struct elem { uint32_t mark; uint16_t port; uint64_t timeout_ms; };

/* One batch: fill it, commit it, map the verdict. res (the caller's, for
 * echoed handles and the kernel's words) is filled; *idx names the message
 * that failed (-1: the batch as a whole). */
static int run_batch(struct ph_fw *f, int use_genid, int (*fill)(struct nl_batch *, void *), void *arg,
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
		r = nr_add_element(b, hc->el->mark, hc->el->port, hc->el->timeout_ms);
	return r;
}

/* One batch bound to f->genid: add missing host rules, delete surplus ones,
 * and the element when given. -ERESTART: the host moved; scan again. */
static int reconcile_once(struct ph_fw *f, int want, const struct elem *el, unsigned *added, char *why, size_t whylen)
{
	struct ph_chain_ref add_c[MAX_HOST_RULES];
	uint16_t add_p[MAX_HOST_RULES];
	unsigned nadd = 0, del_idx[MAX_HOST_RULES], ndel = 0, seen_dup[MAX_HOST_RULES] = { 0 };
	struct nl_result *res;
	int r, idx;

	for (unsigned i = 0; i < f->nrules; i++) {
		int dup = 0;
		for (unsigned j = 0; j < i; j++)
			if (!seen_dup[j] && chain_eq(&f->rules[j].chain, &f->rules[i].chain) && f->rules[j].port == f->rules[i].port)
				dup = 1;
		if (dup || !want_rule(f, want, &f->rules[i].chain, f->rules[i].port)) {
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
	if (want && f->cfg->chains_mode != PH_CHAINS_NONE && owned_blocker(f, why, whylen))
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
		r = run_batch(f, 1, fill_host_change, &hc, res, &idx);
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

static int reconcile(struct ph_fw *f, int want, const struct elem *el, unsigned *added, char *why, size_t whylen)
{
	int r = -ERESTART;

	*added = 0;
	if (f->cfg->chains_mode == PH_CHAINS_NONE && !el)
		return 0;
	for (int round = 0; round < RECONCILE_ROUNDS && r == -ERESTART; round++) {
		if (!f->valid || round > 0) {
			r = scan_host(f);
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

static int commit_simple(struct ph_fw *f, int (*fill)(struct nl_batch *, void *), void *arg, char *why, size_t whylen)
{
	struct nl_result *res = malloc(sizeof(*res));
	int r, idx;

	if (!res)
		return -ENOMEM;
	r = run_batch(f, 0, fill, arg, res, &idx);
	if (r && why)
		snprintf(why, whylen, "%s%s%s", strerror(-r), res->extack[0] ? ": " : "", res->extack);
	free(res);
	return r;
}

static int fill_del_table(struct nl_batch *b, void *arg)
{
	(void)arg;
	return nr_del_table(b);
}

static int fill_add_table(struct nl_batch *b, void *arg)
{
	const struct ph_fw *f = arg;
	const struct ph_config *cfg = f->cfg;
	int r = nr_add_table(b, cfg->mark, cfg->mark_mask, 1, cfg->ports, cfg->nports);

	if (!r && cfg->nsrv)
		r = nr_add_servers_set(b) || nr_add_guard_own_rules(b, f->cand, f->guarded, cfg->mark_mask) ? -ENOMEM : 0;
	return r;
}

static int guard_sync(struct ph_fw *f, int want, char *why, size_t whylen);

int fw_open(struct ph_fw **out, const struct ph_config *cfg, unsigned *swept, char *why, size_t whylen)
{
	struct ph_fw *f = calloc(1, sizeof(*f));
	unsigned added;
	int r;

	*swept = 0;
	if (!f)
		return -ENOMEM;
	f->cfg = cfg;
	f->monfd = -1;
	if (cfg->nsrv && config_guard_marks(cfg, &f->cand, &f->guarded)) {
		snprintf(why, whylen, "socket_mark's mask has no room for the two marks of server windows");
		r = -ENOSPC;
		goto fail;
	}
	r = nl_open(&f->nl);
	if (r) {
		snprintf(why, whylen, "cannot open a netlink socket to nftables: %s", strerror(-r));
		goto fail;
	}
	r = nl_monitor_open(&f->monfd);
	if (r) {
		snprintf(why, whylen, "cannot open the nftables notification socket: %s", strerror(-r));
		goto fail;
	}
	/* leftovers: host rules of a daemon that died (or of a saved ruleset
	 * restored at boot), and a table of ours that lost its owner flag */
	r = scan_host(f);
	if (r) {
		snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
		goto fail;
	}
	*swept = f->nrules;
	if (f->scan.own_table) {
		if (f->scan.own_table_owned) {
			snprintf(why, whylen, "table inet %s is owned by another live process: is another portholed running "
				 "in this network namespace?", PH_TABLE);
			r = -EEXIST;
			goto fail;
		}
		r = commit_simple(f, fill_del_table, NULL, why, whylen);
		if (r)
			goto fail;
		f->valid = 0;
	}
	if (f->nrules) {
		r = reconcile(f, 0, NULL, &added, why, whylen);
		if (r)
			goto fail;
	}
	/* a dead daemon's guard rules too (they admit nothing without our table) */
	r = guard_sync(f, 0, why, whylen);
	if (r)
		goto fail;
	*swept += f->nguard;
	f->nguard = 0;
	r = commit_simple(f, fill_add_table, f, why, whylen);
	if (r) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", why);
		snprintf(why, whylen, "creating table inet %s: %s", PH_TABLE, tmp);
		goto fail;
	}
	f->valid = 0;
	*out = f;
	return 0;
fail:
	fw_close(f);
	return r;
}

void fw_close(struct ph_fw *f)
{
	char why[256];
	unsigned added;

	if (!f)
		return;
	if (f->nl) {
		if (f->nwin || f->nrules)
			reconcile(f, 0, NULL, &added, why, sizeof(why));
		if (f->nsrvwin || f->nguard)
			guard_sync(f, 0, why, sizeof(why));
		/* the kernel drops an owner table with our socket; be explicit */
		commit_simple(f, fill_del_table, NULL, NULL, 0);
		nl_close(f->nl);
	}
	if (f->monfd >= 0)
		close(f->monfd);
	free(f);
}

int fw_monitor_fd(const struct ph_fw *f)
{
	return f->monfd;
}

unsigned fw_chains(const struct ph_fw *f, struct ph_chain_ref *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nrules; i++) {
		int dup = 0;
		for (unsigned j = 0; j < i; j++)
			dup |= chain_eq(&f->rules[j].chain, &f->rules[i].chain);
		if (!dup && n < max)
			out[n] = f->rules[i].chain;
		n += !dup;
	}
	return n < max ? n : max;
}

/* ---- what porthole cannot write to ------------------------------------------------------- */


int fw_blocked(struct ph_fw *f, char *why, size_t whylen)
{
	int present, drop, r;

	if (f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0; /* static mode: the admin put the rule in place */
	for (int v6 = 0; v6 <= 1; v6++) {
		r = legacy_input_state(v6, &present, &drop);
		if (r < 0) {
			/* A legacy DROP cannot open a hole, only make a window
			 * useless: not knowing is said (once), not refused */
			static int said;
			if (!said++)
				log_warn("nft: %s: if it drops inbound tcp, nothing reaches a window; `porthole check` (as root) "
					 "reads it",
					 r == -EACCES ? (v6 ? "cannot tell whether an ip6tables-legacy filter table is loaded "
							      "(/proc/net/ip6_tables_names is root's, portholed runs as its own user)"
							    : "cannot tell whether an iptables-legacy filter table is loaded "
							      "(/proc/net/ip_tables_names is root's, portholed runs as its own user)")
					 : r == -EAFNOSUPPORT || r == -EPERM
						 ? (v6 ? "an ip6tables-legacy filter table is loaded and portholed cannot read its "
							 "rules (portholed.service's RestrictAddressFamilies= keeps out AF_INET6; "
							 "a drop-in can add it)"
						       : "an iptables-legacy filter table is loaded and portholed cannot read its "
							 "rules (portholed.service's RestrictAddressFamilies= keeps out AF_INET; "
							 "a drop-in can add it)")
						 : "an iptables-legacy filter table cannot be read");
			continue;
		}
		if (present && drop) {
			snprintf(why, whylen,
				 "%s-legacy rules in INPUT would drop what a window admits (nftables cannot override them): "
				 "add '%s-legacy -I INPUT -p tcp -m mark --mark 0x%x/0x%x -j ACCEPT' and set chains = none "
				 "(porthole check prints the rule)",
				 v6 ? "ip6tables" : "iptables", v6 ? "ip6tables" : "iptables", f->cfg->mark, f->cfg->mark_mask);
			return -EPERM;
		}
	}
	if (!f->valid) {
		r = scan_host(f);
		if (r) {
			snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
			return r;
		}
	}
	return owned_blocker(f, why, whylen);
	return 0;
}

/* ---- windows ---------------------------------------------------------------------------- */

static void monitor_join(struct ph_fw *f, int join)
{
	if (f->joined == join)
		return;
	if (nl_monitor_join(f->monfd, join) == 0)
		f->joined = join;
	if (!join) {
		int changed;
		/* what queued is moot now. The last scan stays: every batch is
		 * bound to its generation, so a stale one is refused and read again */
		nl_monitor_drain(f->monfd, nl_portid(f->nl), &changed);
	}
}

static int fill_elem(struct nl_batch *b, void *arg)
{
	const struct elem *el = arg;

	return el->timeout_ms ? nr_add_element(b, el->mark, el->port, el->timeout_ms)
			      : nr_del_element(b, el->mark, el->port);
}

int fw_window_open(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen)
{
	struct elem el = { mark, port, timeout_ms ? timeout_ms : 1 };
	unsigned added;
	int r;

	if (f->nwin == 0 || f->degraded) {
		/* subscribe first: a reload right after our insert is seen.
		 * Degraded (the host rules could not be put back after a
		 * change): no element-only window until they are back */
		monitor_join(f, 1);
		r = fw_blocked(f, why, whylen);
		if (!r)
			r = reconcile(f, 1, &el, &added, why, whylen);
		if (r) {
			if (!f->nsrvwin && !f->nwin)
				monitor_join(f, 0);
			return r;
		}
		f->degraded = 0;
	} else {
		r = commit_simple(f, fill_elem, &el, why, whylen);
		if (r)
			return r;
	}
	f->nwin++;
	return 0;
}

int fw_window_counters(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	*packets = *bytes = 0;
	return nr_get_element(f->nl, mark, port, packets, bytes);
}

int fw_window_close(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	struct elem el = { mark, port, 0 };
	char why[256];
	unsigned added;
	int r = 0, err = 0;

	if (fw_window_counters(f, mark, port, packets, bytes) == -ENOENT)
		r = 0; /* the kernel's timeout took it already */
	else
		for (int tries = 0; tries < 3; tries++) {
			r = commit_simple(f, fill_elem, &el, why, sizeof(why));
			if (r == -ENOENT)
				r = 0; /* the kernel's timeout took it between the two */
			if (!r)
				break;
		}
	if (r) {
		/* the window is closed in our books either way; say loudly that
		 * the kernel still holds the element until its deadline */
		log_err("nft: removing the element of window mark 0x%x port %u failed (%s): it admits until its "
			"deadline", mark, port, why);
		err = r;
	}
	if (f->nwin)
		f->nwin--;
	if (f->nwin == 0) {
		f->degraded = 0;
		/* nothing carries the mark any more: the host rules admit nothing,
		 * so a failure here leaves no hole; still, say so and retry */
		r = reconcile(f, 0, NULL, &added, why, sizeof(why));
		if (r)
			log_err("nft: removing porthole's rules from the host's chains: %s (they admit nothing without a "
				"window; retried at the next change)", why);
		if (!f->nsrvwin)
			monitor_join(f, 0);
	}
	return err;
}

int fw_on_change(struct ph_fw *f, unsigned *restored)
{
	char why[256];
	int changed = 0, r;

	*restored = 0;
	r = nl_monitor_drain(f->monfd, nl_portid(f->nl), &changed);
	if (r)
		log_errno(r, "nft: reading ruleset notifications");
	if (!changed && !r)
		return 0;
	f->valid = 0;
	if (f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0;
	if (f->nsrvwin) {
		unsigned before = f->nguard;
		r = guard_sync(f, 1, why, sizeof(why));
		if (r)
			log_err("nft: placing the guard rules of server windows after a ruleset change: %s (guarded "
				"connections are dropped until they are back)", why);
		else if (f->nguard && f->nguard != before)
			*restored += f->nguard;
	}
	if (!f->nwin)
		return 0;
	r = reconcile(f, 1, NULL, restored, why, sizeof(why));
	f->degraded = r != 0;
	if (r)
		log_err("nft: putting porthole's rules back after a ruleset change: %s (new windows are refused until "
			"they are back)", why);
	return r;
}

/* ---- server windows -------------------------------------------------------------------- */

struct guard_change {
	const struct ph_fw *f;
	const struct nft_guard_have *have;
	unsigned nhave;
	const struct nft_guard_item *items;
	unsigned nitems;
	const uint16_t *ports;
	unsigned nports;
};

static int fill_guard(struct nl_batch *b, void *arg)
{
	const struct guard_change *g = arg;
	int r = 0;

	for (unsigned i = 0; !r && i < g->nhave; i++) {
		struct nftnl_rule *rule = nftnl_rule_alloc();
		if (!rule)
			return -ENOMEM;
		nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, (uint32_t)g->have[i].chain.family);
		nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, g->have[i].chain.table);
		nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, g->have[i].chain.chain);
		nftnl_rule_set_u64(rule, NFTNL_RULE_HANDLE, g->have[i].handle);
		r = nr_batch_rule(b, rule, 0);
	}
	for (unsigned i = 0; !r && i < g->nitems; i++) {
		const struct nft_guard_item *it = &g->items[i];
		for (unsigned p = 0; !r && p < g->nports; p++)
			for (int accept = 0; !r && accept <= 1; accept++) {
				struct nftnl_rule *rule = nr_guard_rule_for(&it->chain, it->drop, it->digest, accept, g->ports[p],
									    g->f->cand, g->f->guarded, g->f->cfg->mark_mask);
				r = rule ? nr_batch_rule_at(b, rule, it->before) : -ENOMEM;
			}
	}
	return r;
}

/* is what is there exactly what the plan asks for (same places, same drops)? */
static int guard_matches(const struct nft_guard_have *have, unsigned nhave, const struct nft_guard_item *items,
			 unsigned nitems, const uint16_t *ports, unsigned nports)
{
	unsigned used[NFT_GUARD_MAX * 2] = { 0 };

	if (nhave != nitems * nports * 2 || nhave > ARRAY_SIZE(used))
		return 0;
	for (unsigned i = 0; i < nitems; i++)
		for (unsigned p = 0; p < nports; p++)
			for (int accept = 0; accept <= 1; accept++) {
				int found = 0;
				for (unsigned j = 0; j < nhave && !found; j++) {
					const struct nft_guard_have *h = &have[j];
					if (!used[j] && chain_eq(&h->chain, &items[i].chain) && h->anchor == items[i].before &&
					    h->digest == items[i].digest && h->port == ports[p] && h->accept == accept) {
						used[j] = 1;
						found = 1;
					}
				}
				if (!found)
					return 0;
			}
	return 1;
}

/* Place (want) or remove the guard rules, in one batch bound to the
 * generation they were planned at. */
static int guard_sync(struct ph_fw *f, int want, char *why, size_t whylen)
{
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports = 0;
	int r = -ERESTART;

	for (unsigned i = 0; i < f->cfg->nsrv; i++)
		for (unsigned p = 0; p < f->cfg->srv[i].nports; p++) {
			int dup = 0;
			for (unsigned q = 0; q < nports; q++)
				dup |= ports[q] == f->cfg->srv[i].ports[p];
			if (!dup && nports < PH_MAX_PORTS)
				ports[nports++] = f->cfg->srv[i].ports[p];
		}
	if (want && f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0; /* static mode: the admin placed them */
	for (int round = 0; round < RECONCILE_ROUNDS && r == -ERESTART; round++) {
		struct nft_guard_item *items = calloc(NFT_GUARD_MAX, sizeof(*items));
		struct nft_guard_have *have = calloc(NFT_GUARD_MAX * 2, sizeof(*have));
		struct nft_ruleset *rs = NULL;
		struct nl_result *res = malloc(sizeof(*res));
		unsigned nitems = 0, nhave;
		int idx;

		r = !items || !have || !res ? -ENOMEM : scan_host(f);
		if (!r)
			r = nft_ruleset_read(f->nl, &rs);
		if (r == -EINTR)
			r = -ERESTART;
		else if (r)
			snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
		if (!r && want)
			r = nft_guard_plan(rs, &f->scan, items, NFT_GUARD_MAX, &nitems, why, whylen);
		if (!r) {
			nhave = nft_guard_have(rs, have, NFT_GUARD_MAX * 2);
			if (!guard_matches(have, nhave, items, nitems, ports, nports)) {
				struct guard_change g = { f, have, nhave, items, nitems, ports, nports };
				if (nitems * nports * 2 > NFT_GUARD_MAX * 2) {
					snprintf(why, whylen, "too many places where the host drops for guarded windows");
					r = -E2BIG;
				} else {
					r = run_batch(f, 1, fill_guard, &g, res, &idx);
					if (r == -ERESTART || r == -EINTR || r == -ENOENT || r == -EBUSY)
						r = -ERESTART;
					else if (r)
						snprintf(why, whylen, "placing the guard rules of a server window: %s%s%s",
							 strerror(-r), res->extack[0] ? ": " : "", res->extack);
					else
						f->valid = 0;
				}
			}
			if (!r)
				f->nguard = want ? nitems * nports * 2 : nhave;
		}
		nft_ruleset_free(rs);
		free(items);
		free(have);
		free(res);
	}
	if (r == -ERESTART)
		snprintf(why, whylen, "the ruleset kept changing under porthole (%d tries)", RECONCILE_ROUNDS);
	return r;
}

struct srv_elem {
	const struct ph_fw *f;
	uint64_t cgid;
	unsigned level;
	uint16_t port;
	uint64_t timeout_ms;
	int add, add_level;
};

static int fill_srv_elem(struct nl_batch *b, void *arg)
{
	const struct srv_elem *e = arg;

	if (e->add_level) {
		struct nftnl_rule *r = nr_server_rule(e->level, e->f->cand, e->f->cfg->mark_mask);
		if (!r || nr_batch_rule(b, r, 1))
			return -ENOMEM;
	}
	return nr_server_element(b, e->cgid, e->port, e->timeout_ms, e->add);
}

int fw_server_open(struct ph_fw *f, uint64_t cgid, unsigned level, uint16_t port, uint64_t timeout_ms, char *why,
		   size_t whylen)
{
	struct srv_elem e = { f, cgid, level, port, timeout_ms, 1, 0 };
	int r;

	if (!f->cfg->nsrv || level == 0 || level > 31) {
		snprintf(why, whylen, "no server windows configured");
		return -EINVAL;
	}
	if (f->nsrvwin == 0) {
		monitor_join(f, 1);
		r = fw_blocked(f, why, whylen);
		if (!r)
			r = guard_sync(f, 1, why, whylen);
		if (r) {
			if (!f->nwin)
				monitor_join(f, 0);
			return r;
		}
	}
	e.add_level = !(f->levels & (1u << level));
	r = commit_simple(f, fill_srv_elem, &e, why, whylen);
	if (r) {
		if (f->nsrvwin == 0) {
			char tmp[256];
			guard_sync(f, 0, tmp, sizeof(tmp));
			if (!f->nwin)
				monitor_join(f, 0);
		}
		return r;
	}
	f->levels |= 1u << level;
	f->nsrvwin++;
	return 0;
}

int fw_server_close(struct ph_fw *f, uint64_t cgid, uint16_t port)
{
	struct srv_elem e = { f, cgid, 0, port, 0, 0, 0 };
	char why[512];
	int r = 0, err = 0;

	for (int tries = 0; tries < 3; tries++) {
		r = commit_simple(f, fill_srv_elem, &e, why, sizeof(why));
		if (r == -ENOENT)
			r = 0; /* the kernel's timeout took it */
		if (!r)
			break;
	}
	if (r) {
		log_err("nft: removing the element of a server window (cgroup %llu port %u) failed (%s): it admits until "
			"its deadline", (unsigned long long)cgid, port, why);
		err = r;
	}
	if (f->nsrvwin)
		f->nsrvwin--;
	if (f->nsrvwin == 0) {
		r = guard_sync(f, 0, why, sizeof(why));
		if (r)
			log_err("nft: removing the guard rules from the host's chains: %s (they admit nothing without a "
				"window)", why);
		if (!f->nwin)
			monitor_join(f, 0);
	}
	return err;
}

unsigned fw_guard_rules(const struct ph_fw *f)
{
	return f->nguard;
}
