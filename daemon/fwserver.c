// SPDX-License-Identifier: GPL-2.0-or-later
/* Server windows in the firewall backend (see firewall.h, fwpriv.h): the
 * served cgroup's element and its prerouting rule in porthole's table, and,
 * while any server window is open, the guard rules where the host drops
 * (planned by lib/nftguard.c), placed and removed in one batch bound to the
 * generation they were planned at. */
#include "fwpriv.h"
#include "log.h"
#include "nftcsrv.h"
#include "nftguard.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/rule.h>

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
int fw_guard_sync(struct ph_fw *f, int want, char *why, size_t whylen)
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

		r = !items || !have || !res ? -ENOMEM : fw_scan_host(f);
		if (!r)
			r = nft_ruleset_read(f->nl, &rs);
		if (r == -EINTR)
			r = -ERESTART;
		else if (r)
			snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
		if (!r && want)
			r = nft_guard_plan(rs, &f->scan, items, NFT_GUARD_MAX, &nitems, why, whylen);
		if (!r && want && config_has_csrv(f->cfg)) {
			/* a served container's connections cross the forward hook */
			unsigned more = 0;
			r = nft_guard_fwd_plan(rs, &f->scan, items + nitems, NFT_GUARD_MAX - nitems, &more, why, whylen);
			nitems += more;
		}
		if (!r) {
			nhave = nft_guard_have(rs, have, NFT_GUARD_MAX * 2);
			if (!guard_matches(have, nhave, items, nitems, ports, nports)) {
				struct guard_change g = { f, have, nhave, items, nitems, ports, nports };
				if (nitems * nports * 2 > NFT_GUARD_MAX * 2) {
					snprintf(why, whylen, "too many places where the host drops for guarded windows");
					r = -E2BIG;
				} else {
					r = fw_run_batch(f, 1, fill_guard, &g, res, &idx);
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
		fw_monitor_join(f, 1);
		r = fw_blocked(f, why, whylen);
		if (!r)
			r = fw_guard_sync(f, 1, why, whylen);
		if (r) {
			if (!f->nwin && !f->lingering)
				fw_monitor_join(f, 0);
			return r;
		}
	}
	e.add_level = !(f->levels & (1u << level));
	r = fw_commit(f, fill_srv_elem, &e, why, whylen);
	if (r) {
		if (f->nsrvwin == 0) {
			char tmp[256];
			fw_guard_sync(f, 0, tmp, sizeof(tmp));
			if (!f->nwin && !f->lingering)
				fw_monitor_join(f, 0);
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
		r = fw_commit(f, fill_srv_elem, &e, why, sizeof(why));
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
		r = fw_guard_sync(f, 0, why, sizeof(why));
		if (r)
			log_err("nft: removing the guard rules from the host's chains: %s (they admit nothing without a "
				"window)", why);
		if (!f->nwin && !f->lingering)
			fw_monitor_join(f, 0);
	}
	return err;
}

/* ---- a guarded server in a container (nftcsrv.h) ------------------------------------- */

struct csrv_elems {
	const struct nr_csrv *el;
	unsigned n;
	uint64_t timeout_ms;
	int add;
};

static int fill_csrv(struct nl_batch *b, void *arg)
{
	const struct csrv_elems *e = arg;
	int r = 0;

	for (unsigned i = 0; !r && i < e->n; i++)
		r = e->add ? nr_csrv_add(b, &e->el[i], e->timeout_ms) : nr_csrv_del(b, &e->el[i]);
	return r;
}

int fw_csrv_open(struct ph_fw *f, const struct nr_csrv *el, unsigned n, uint64_t timeout_ms, int first, char *why,
		 size_t whylen)
{
	struct csrv_elems e = { el, n, timeout_ms, 1 };
	int r;

	if (!config_has_csrv(f->cfg)) {
		snprintf(why, whylen, "no container serve line configured");
		return -EINVAL;
	}
	if (first && f->nsrvwin == 0) {
		fw_monitor_join(f, 1);
		r = fw_blocked(f, why, whylen);
		if (!r)
			r = fw_guard_sync(f, 1, why, whylen);
		if (r) {
			if (!f->nwin && !f->lingering)
				fw_monitor_join(f, 0);
			return r;
		}
	}
	r = n ? fw_commit(f, fill_csrv, &e, why, whylen) : 0;
	if (r) {
		if (first && f->nsrvwin == 0) {
			char tmp[256];
			fw_guard_sync(f, 0, tmp, sizeof(tmp));
			if (!f->nwin && !f->lingering)
				fw_monitor_join(f, 0);
		}
		return r;
	}
	if (first)
		f->nsrvwin++;
	return 0;
}

int fw_csrv_close(struct ph_fw *f, const struct nr_csrv *el, unsigned n, int last)
{
	char why[512];
	int r = 0, err = 0;

	/* one at a time: one the kernel's timeout took (ENOENT) fails no other */
	for (unsigned i = 0; i < n; i++) {
		struct csrv_elems e = { &el[i], 1, 0, 0 };
		r = fw_commit(f, fill_csrv, &e, why, sizeof(why));
		if (r && r != -ENOENT) {
			log_err("nft: removing the csrv element of a container server window failed (%s): it admits until "
				"its deadline", why);
			err = r;
		}
	}
	if (!last)
		return err;
	if (f->nsrvwin)
		f->nsrvwin--;
	if (f->nsrvwin == 0) {
		r = fw_guard_sync(f, 0, why, sizeof(why));
		if (r)
			log_err("nft: removing the guard rules from the host's chains: %s (they admit nothing without a "
				"window)", why);
		if (!f->nwin && !f->lingering)
			fw_monitor_join(f, 0);
	}
	return err;
}

unsigned fw_guard_rules(const struct ph_fw *f)
{
	return f->nguard;
}
