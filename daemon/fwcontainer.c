// SPDX-License-Identifier: GPL-2.0-or-later
/* Container windows in the firewall backend (see firewall.h, fwpriv.h):
 * their cwin elements and pins (lib/nftcontainer.h) go in one batch, the
 * first window's with the host rules, like a window's set element; a
 * container window counts as a window for the host rules (placed with the
 * first window of any kind, lingering after the last).
 *
 * Behind a geo-block before DNAT: the published ports with an element are
 * counted here; the first element of a port puts the port in cports (same
 * batch) after the pairs for it are placed before each drop of the
 * prerouting chains (fw_cw_sync, one batch bound to the generation it was
 * planned at, like the guard rules of server windows); the last one takes
 * both away. A drop in prerouting before porthole can mark (raw
 * priority), a drop whose matches cannot be repeated, or a mask without
 * room for CP and CC refuse the window (fail closed). */
#include "fwpriv.h"
#include "log.h"
#include "nftcontainer.h"
#include "nftguard.h"
#include "nftrule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/rule.h>

struct cw_batch {
	const struct nr_cwin *el, *pins;
	unsigned nel, npins;
	uint64_t timeout_ms; /* 0: delete */
	const uint16_t *cports; /* published ports to add to cports (with timeout_ms) or delete */
	unsigned ncports;
};

static int fill_cw(struct nl_batch *b, const void *arg)
{
	const struct cw_batch *c = arg;
	int r = 0;

	for (unsigned i = 0; !r && i < c->nel; i++)
		r = c->timeout_ms ? nr_cwin_add(b, &c->el[i], c->timeout_ms) : nr_cwin_del(b, &c->el[i]);
	for (unsigned i = 0; !r && i < c->npins; i++)
		r = c->timeout_ms ? nr_cwpin_add(b, &c->pins[i], c->timeout_ms) : nr_cwpin_del(b, &c->pins[i]);
	for (unsigned i = 0; !r && i < c->ncports; i++)
		r = nr_cports_elem(b, c->cports[i], c->timeout_ms != 0);
	return r;
}

/* ---- the pairs before DNAT ----------------------------------------------------------- */

struct pair_change {
	const struct ph_fw *f;
	const struct nft_guard_have *have;
	unsigned nhave;
	const struct nft_guard_item *items;
	unsigned nitems;
};

static int fill_pairs(struct nl_batch *b, void *arg)
{
	const struct pair_change *g = arg;
	const struct ph_fw *f = g->f;
	struct nr_cw_marks m = { f->cw, f->cp, f->cc, f->cfg->mark_mask };
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
	for (unsigned i = 0; !r && i < g->nitems; i++)
		for (unsigned p = 0; !r && p < f->ncwport; p++)
			for (int accept = 0; !r && accept <= 1; accept++) {
				const struct nft_guard_item *it = &g->items[i];
				struct nftnl_rule *rule = nr_cw_pair_rule(&it->chain, it->drop, it->digest, accept, f->cwport[p], &m);
				r = rule ? nr_batch_rule_at(b, rule, it->before) : -ENOMEM;
			}
	return r;
}

/* what is there is what the plan asks for: each drop point and port, A then B */
static int pairs_match(const struct ph_fw *f, const struct nft_guard_have *have, unsigned nhave,
		       const struct nft_guard_item *items, unsigned nitems)
{
	unsigned char used[NFT_GUARD_MAX * 2] = { 0 };

	if (nhave != nitems * f->ncwport * 2 || nhave > sizeof(used))
		return 0;
	for (unsigned i = 0; i < nitems; i++)
		for (unsigned p = 0; p < f->ncwport; p++)
			for (int accept = 0; accept <= 1; accept++) {
				int found = 0;
				for (unsigned j = 0; j < nhave && !found; j++) {
					const struct nft_guard_have *h = &have[j];
					if (!used[j] && chain_eq(&h->chain, &items[i].chain) && h->anchor == items[i].before &&
					    h->digest == items[i].digest && h->port == f->cwport[p] && h->accept == accept)
						used[j] = found = 1;
				}
				if (!found)
					return 0;
			}
	return 1;
}

/* one round: scan, plan, compare, change; -ERESTART when the ruleset moved */
static int cw_sync_round(struct ph_fw *f, int want, struct nft_guard_item *items, struct nft_guard_have *have,
			 struct nl_result *res, char *why, size_t whylen)
{
	struct nft_ruleset *rs = NULL;
	unsigned nitems = 0, nhave;
	int idx, refuse = 0, r = fw_scan_host(f);

	if (!r)
		r = nft_ruleset_read(f->nl, &rs);
	if (r == -EINTR)
		return -ERESTART;
	if (r) {
		snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
		goto out;
	}
	if (want) {
		r = nft_pre_raw(rs, &f->scan, why, whylen);
		if (!r)
			r = nft_cw_plan(rs, &f->scan, items, NFT_GUARD_MAX, &nitems, why, whylen);
		if (!r && nitems && !f->cp) {
			snprintf(why, whylen, "a geo-block drops in prerouting before DNAT and socket_mark's mask 0x%x has no "
				 "room for the two marks a container window needs there (widen it)", f->cfg->mark_mask);
			r = -ENOSPC;
		}
		if (!r && nitems * f->ncwport * 2 > NFT_GUARD_MAX * 2) {
			snprintf(why, whylen, "too many places where the host drops before DNAT for container windows");
			r = -E2BIG;
		}
		if (r)
			goto out;
		if (nitems && f->scan.mark_users) {
			/* a host rule that writes the marks (`ct mark set meta mark`)
			 * turns CP into what F4 and `local` let by: no pairs at all */
			snprintf(why, whylen, "%s reads or writes socket_mark's bits (mask 0x%x): a container window's marks "
				 "cannot be trusted before DNAT (pick other bits with socket_mark)", f->scan.mark_user,
				 f->cfg->mark_mask);
			refuse = -EPERM;
			want = 0;
		}
	}
	nhave = nft_cw_have(rs, have, NFT_GUARD_MAX * 2);
	if (!want)
		nitems = 0;
	if (!pairs_match(f, have, nhave, items, want ? nitems : 0) || (!want && nhave)) {
		unsigned keep = f->ncwport;
		struct pair_change g = { f, have, nhave, items, nitems };
		if (!want)
			f->ncwport = 0; /* fill_pairs adds nothing */
		r = fw_run_batch(f, 1, fill_pairs, &g, res, &idx);
		f->ncwport = keep;
		if (r == -ERESTART || r == -EINTR || r == -ENOENT || r == -EBUSY)
			r = -ERESTART;
		else if (r)
			snprintf(why, whylen, "placing a container window's rules before DNAT: %s%s%s", strerror(-r),
				 res->extack[0] ? ": " : "", res->extack);
		else
			f->valid = 0;
	}
	if (!r)
		f->ncwpair = want ? nitems * f->ncwport * 2 : 0;
	if (!r)
		r = refuse;
out:
	nft_ruleset_free(rs);
	return r;
}

int fw_cw_sync(struct ph_fw *f, char *why, size_t whylen)
{
	int want = f->ncwport > 0, r = -ERESTART;
	struct nft_guard_item *items;
	struct nft_guard_have *have;
	struct nl_result *res;

	if (want && f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0; /* static mode: the admin placed them */
	items = calloc(NFT_GUARD_MAX, sizeof(*items));
	have = calloc(NFT_GUARD_MAX * 2, sizeof(*have));
	res = malloc(sizeof(*res));
	if (!items || !have || !res)
		r = -ENOMEM;
	for (int round = 0; round < RECONCILE_ROUNDS && r == -ERESTART; round++)
		r = cw_sync_round(f, want, items, have, res, why, whylen);
	if (r == -ERESTART)
		snprintf(why, whylen, "the ruleset kept changing under porthole (%d tries)", RECONCILE_ROUNDS);
	else if (r == -ENOMEM)
		snprintf(why, whylen, "out of memory");
	free(items);
	free(have);
	free(res);
	return r;
}

static int port_at(const struct ph_fw *f, uint16_t port)
{
	for (unsigned i = 0; i < f->ncwport; i++)
		if (f->cwport[i] == port)
			return (int)i;
	return -1;
}

static void port_drop(struct ph_fw *f, unsigned i)
{
	f->ncwport--;
	f->cwport[i] = f->cwport[f->ncwport];
	f->cwrefs[i] = f->cwrefs[f->ncwport];
}

static int fill_cw_batch(struct nl_batch *b, void *arg)
{
	return fill_cw(b, arg);
}

int fw_container_open(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		      unsigned npins, uint64_t timeout_ms, char *why, size_t whylen)
{
	uint16_t fresh[PH_MAX_PORTS];
	unsigned nfresh = 0;
	struct cw_batch c = { el, pins, nel, npins, timeout_ms, fresh, 0 };
	struct elem e = { 0, 0, timeout_ms, fill_cw, &c };
	int r;

	if (!f->published) {
		snprintf(why, whylen, "porthole's table has no container objects (no published designation)");
		return -EOPNOTSUPP;
	}
	if (!timeout_ms) {
		snprintf(why, whylen, "no time left before the deadline");
		return -EINVAL;
	}
	if (!nel && !npins && f->nwin) {
		/* every element is another window's already: one window more */
		f->nwin++;
		return 0;
	}
	/* the published ports this window is the first for: their pairs
	 * before DNAT first, then cports with the elements */
	for (unsigned i = 0; i < nel; i++) {
		int dup = port_at(f, el[i].pport) >= 0;
		for (unsigned j = 0; j < nfresh; j++)
			dup |= fresh[j] == el[i].pport;
		if (dup)
			continue;
		if (f->ncwport == PH_MAX_PORTS) {
			snprintf(why, whylen, "more published ports than watched ports");
			r = -E2BIG;
			goto undo;
		}
		fresh[nfresh++] = el[i].pport;
		f->cwport[f->ncwport] = el[i].pport;
		f->cwrefs[f->ncwport++] = 0;
	}
	if (nfresh) {
		r = fw_cw_sync(f, why, whylen);
		if (r)
			goto undo;
	}
	c.ncports = f->cp ? nfresh : 0;
	r = fw_win_open(f, &e, why, whylen);
	if (r)
		goto undo;
	for (unsigned i = 0; i < nel; i++)
		f->cwrefs[port_at(f, el[i].pport)]++;
	return 0;
undo:
	if (nfresh) {
		char tmp[256];
		for (unsigned j = 0; j < nfresh; j++)
			port_drop(f, (unsigned)port_at(f, fresh[j]));
		if (fw_cw_sync(f, tmp, sizeof(tmp)))
			log_err("nft: taking a refused container window's rules out of the prerouting chains: %s (they admit "
				"nothing without its element)", tmp);
	}
	return r;
}

int fw_container_close(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		       unsigned npins)
{
	struct cw_batch c = { el, pins, nel, npins, 0, NULL, 0 };
	uint16_t gone[PH_MAX_PORTS];
	unsigned ngone = 0;
	char why[256];
	int r = 0;

	if (nel || npins) {
		r = fw_commit(f, fill_cw_batch, &c, why, sizeof(why));
		if (r == -ENOENT) {
			/* the kernel's timeout took some: the rest one by one */
			r = 0;
			for (unsigned i = 0; i < nel + npins; i++) {
				struct cw_batch one = { i < nel ? &el[i] : NULL, i < nel ? NULL : &pins[i - nel], i < nel,
							i >= nel, 0, NULL, 0 };
				int e = fw_commit(f, fill_cw_batch, &one, why, sizeof(why));
				if (e && e != -ENOENT)
					r = e;
			}
		}
		if (r)
			log_debug("nft: removing a container window's elements: %s", why);
	}
	/* the last element of a published port: out of cports, its pairs go */
	for (unsigned i = 0; i < nel; i++) {
		int at = port_at(f, el[i].pport);
		if (at < 0 || --f->cwrefs[at])
			continue;
		gone[ngone++] = el[i].pport;
		port_drop(f, (unsigned)at);
	}
	if (ngone && f->cp) {
		for (unsigned i = 0; i < ngone; i++) {
			struct cw_batch one = { NULL, NULL, 0, 0, 0, &gone[i], 1 };
			int e = fw_commit(f, fill_cw_batch, &one, why, sizeof(why));
			if (e && e != -ENOENT)
				log_err("nft: taking port %u out of cports: %s", gone[i], why);
		}
	}
	if (ngone && (f->ncwpair || !f->ncwport)) {
		int e = fw_cw_sync(f, why, sizeof(why));
		if (e)
			log_err("nft: taking a container window's rules out of the prerouting chains: %s (they admit nothing "
				"without its element)", why);
	}
	fw_win_release(f);
	return r;
}

/* ---- a served container's port (container_serve.c) ------------------------------------ */

int fw_cw_port_hold(struct ph_fw *f, uint16_t port, char *why, size_t whylen)
{
	struct cw_batch c = { NULL, NULL, 0, 0, 1, &port, 1 }; /* (timeout_ms 1: add; cports has none) */
	int at = port_at(f, port), r;

	if (!f->published || !port)
		return 0; /* (a serve line is a published one: not reached) */
	if (at >= 0) {
		f->cwrefs[at]++;
		return 0;
	}
	if (f->ncwport == PH_MAX_PORTS) {
		snprintf(why, whylen, "more published ports than watched ports");
		return -E2BIG;
	}
	f->cwport[f->ncwport] = port;
	f->cwrefs[f->ncwport++] = 0;
	r = fw_cw_sync(f, why, whylen);
	if (!r && f->cp)
		r = fw_commit(f, fill_cw_batch, &c, why, whylen);
	if (r) {
		char tmp[256];
		port_drop(f, (unsigned)port_at(f, port));
		if (fw_cw_sync(f, tmp, sizeof(tmp)))
			log_err("nft: taking a refused server window's rules out of the prerouting chains: %s (they admit "
				"nothing without its element)", tmp);
		return r;
	}
	f->cwrefs[port_at(f, port)]++;
	return 0;
}

void fw_cw_port_release(struct ph_fw *f, uint16_t port)
{
	int at = port_at(f, port);
	char why[256];

	if (at < 0 || --f->cwrefs[at])
		return;
	port_drop(f, (unsigned)at);
	if (f->cp) {
		struct cw_batch one = { NULL, NULL, 0, 0, 0, &port, 1 };
		int e = fw_commit(f, fill_cw_batch, &one, why, sizeof(why));
		if (e && e != -ENOENT)
			log_err("nft: taking port %u out of cports: %s", port, why);
	}
	if (fw_cw_sync(f, why, sizeof(why)))
		log_err("nft: taking a server window's rules out of the prerouting chains: %s (they admit nothing "
			"without its element)", why);
}
