// SPDX-License-Identifier: GPL-2.0-or-later
/* The drop points of the host's ruleset, for server windows (see nftguard.h). */
#include "nftguard.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

struct rs_chain {
	struct ph_chain_ref ref;
	int base, policy_drop;
};

struct rs_rule {
	struct ph_chain_ref ref;
	uint64_t handle;
	struct nftnl_rule *r;
};

struct nft_ruleset {
	struct rs_chain *chains;
	unsigned nchains, ccap;
	struct rs_rule *rules;
	unsigned nrules, rcap;
	int enomem;
};

static int ref_eq(const struct ph_chain_ref *a, const struct ph_chain_ref *b)
{
	return a->family == b->family && !strcmp(a->table, b->table) && !strcmp(a->chain, b->chain);
}

static int set_ref(struct ph_chain_ref *ref, int family, const char *table, const char *chain)
{
	if (!table || !chain || strlen(table) >= PH_NAME_LEN || strlen(chain) >= PH_NAME_LEN)
		return -1;
	ref->family = family;
	copy_str(ref->table, PH_NAME_LEN, table);
	copy_str(ref->chain, PH_NAME_LEN, chain);
	return 0;
}

static struct nlmsghdr *build_dump(char *buf, uint32_t seq, void *arg)
{
	return nftnl_nlmsg_build_hdr(buf, (uint16_t)(uintptr_t)arg, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_ruleset *rs = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct rs_chain *rc;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0) {
		if (rs->nchains == rs->ccap) {
			unsigned cap = rs->ccap ? rs->ccap * 2 : 64;
			struct rs_chain *n = realloc(rs->chains, cap * sizeof(*n));
			if (!n) {
				rs->enomem = 1;
				goto out;
			}
			rs->chains = n;
			rs->ccap = cap;
		}
		rc = &rs->chains[rs->nchains];
		memset(rc, 0, sizeof(*rc));
		if (set_ref(&rc->ref, (int)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY), nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			    nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)) == 0) {
			rc->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
			rc->policy_drop = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
					  nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
			rs->nchains++;
		}
	}
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_ruleset *rs = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rs_rule *rr;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto drop;
	if (rs->nrules == rs->rcap) {
		unsigned cap = rs->rcap ? rs->rcap * 2 : 256;
		struct rs_rule *n = realloc(rs->rules, cap * sizeof(*n));
		if (!n) {
			rs->enomem = 1;
			goto drop;
		}
		rs->rules = n;
		rs->rcap = cap;
	}
	rr = &rs->rules[rs->nrules];
	if (set_ref(&rr->ref, (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), nftnl_rule_get_str(r, NFTNL_RULE_TABLE),
		    nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)))
		goto drop;
	rr->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	rr->r = r;
	rs->nrules++;
	return MNL_CB_OK;
drop:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

void nft_ruleset_free(struct nft_ruleset *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->nrules; i++)
		nftnl_rule_free(rs->rules[i].r);
	free(rs->rules);
	free(rs->chains);
	free(rs);
}

int nft_ruleset_read(struct ph_nl *n, struct nft_ruleset **out)
{
	struct nft_ruleset *rs = calloc(1, sizeof(*rs));
	int r;

	if (!rs)
		return -ENOMEM;
	r = nl_request(n, build_dump, (void *)(uintptr_t)NFT_MSG_GETCHAIN, chain_cb, rs);
	if (!r)
		r = nl_request(n, build_dump, (void *)(uintptr_t)NFT_MSG_GETRULE, rule_cb, rs);
	if (!r && rs->enomem)
		r = -ENOMEM;
	if (r) {
		nft_ruleset_free(rs);
		return r;
	}
	*out = rs;
	return 0;
}

/* ---- what a rule does --------------------------------------------------------------- */

enum { V_NONE, V_DROP, V_JUMP };

struct verdict {
	int v;
	char target[PH_NAME_LEN];
	const char *bad;          /* an expression that cannot be repeated */
	uint32_t digest;
};

static void fnv(uint32_t *h, const char *s)
{
	for (; *s; s++) {
		*h ^= (unsigned char)*s;
		*h *= 16777619u;
	}
}

static int verdict_cb(struct nftnl_expr *e, void *data)
{
	struct verdict *v = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME), *bad = NULL;
	int role = nr_expr_role(e, &bad);

	if (!strcmp(name, "reject")) {
		v->v = V_DROP;
	} else if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
		int code = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		if (code == NF_DROP) {
			v->v = V_DROP;
		} else if ((code == NFT_JUMP || code == NFT_GOTO) && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) {
			v->v = V_JUMP;
			copy_str(v->target, sizeof(v->target), nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
		}
	} else if (!strcmp(name, "target")) {
		const char *t = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
		if (t && (!strcmp(t, "REJECT") || !strcmp(t, "DROP")))
			v->v = V_DROP;
	}
	if (role == NR_EXPR_BAD && !v->bad)
		v->bad = bad;
	if (role == NR_EXPR_COPY) {
		char buf[512];
		if (nftnl_expr_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0) > 0)
			fnv(&v->digest, buf);
		fnv(&v->digest, "|");
	}
	return 0;
}

static void rule_verdict(const struct nftnl_rule *r, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->digest = 2166136261u;
	nftnl_expr_foreach((struct nftnl_rule *)r, verdict_cb, v);
}

static const struct rs_chain *find_chain(const struct nft_ruleset *rs, const struct ph_chain_ref *ref)
{
	for (unsigned i = 0; i < rs->nchains; i++)
		if (ref_eq(&rs->chains[i].ref, ref))
			return &rs->chains[i];
	return NULL;
}

struct walk {
	const struct nft_ruleset *rs;
	struct ph_chain_ref seen[NFT_GUARD_MAX];
	unsigned nseen;
	struct nft_guard_item *items;
	unsigned max, n;
	char *why;
	size_t whylen;
	const char *what;          /* "a guarded window" / "a container window" */
};

static int walk_chain(struct walk *w, const struct ph_chain_ref *ref, int depth)
{
	const struct rs_chain *c = find_chain(w->rs, ref);
	int r;

	for (unsigned i = 0; i < w->nseen; i++)
		if (ref_eq(&w->seen[i], ref))
			return 0;
	if (!c)
		return 0;
	if (w->nseen == NFT_GUARD_MAX || depth > 16) {
		snprintf(w->why, w->whylen, "the host's chains jump too deep or too wide to place the rules of %s", w->what);
		return -E2BIG;
	}
	w->seen[w->nseen++] = *ref;
	for (unsigned i = 0; i < w->rs->nrules; i++) {
		const struct rs_rule *rr = &w->rs->rules[i];
		struct verdict v;
		if (!ref_eq(&rr->ref, ref) || nr_is_ours(rr->r, NULL))
			continue;
		rule_verdict(rr->r, &v);
		if (v.v == V_JUMP) {
			struct ph_chain_ref t = *ref;
			copy_str(t.chain, PH_NAME_LEN, v.target);
			r = walk_chain(w, &t, depth + 1);
			if (r)
				return r;
		} else if (v.v == V_DROP) {
			if (v.bad) {
				snprintf(w->why, w->whylen,
					 "the rule with handle %llu in %s %s %s drops with a match porthole cannot repeat "
					 "(%s); %s must go exactly where the host drops: give that rule a "
					 "named set, or use chains = none and place its rules yourself",
					 (unsigned long long)rr->handle, family_name(ref->family), ref->table, ref->chain, v.bad,
					 w->what);
				return -ENOTSUP;
			}
			if (w->n == w->max)
				goto full;
			w->items[w->n].chain = *ref;
			w->items[w->n].before = rr->handle;
			w->items[w->n].digest = v.digest;
			w->items[w->n].drop = rr->r;
			w->n++;
		}
	}
	if (c->base && c->policy_drop) {
		if (w->n == w->max)
			goto full;
		w->items[w->n].chain = *ref;
		w->items[w->n].before = 0;
		w->items[w->n].digest = 2166136261u;
		w->items[w->n].drop = NULL;
		w->n++;
	}
	return 0;
full:
	snprintf(w->why, w->whylen, "more than %u places where the host drops: too many for %s", w->max, w->what);
	return -E2BIG;
}

/* the chains a container window's pair starts from: prerouting, after
 * porthole's `pre` (it sets CC) and before or at DNAT (pre = 1); or the
 * ones before porthole can mark (pre = 2: raw) */
static int pre_root(const struct nft_chain_info *c, int pre)
{
	int f = c->ref.family;

	if (c->hook != NF_INET_PRE_ROUTING || (f != NFPROTO_INET && f != NFPROTO_IPV4 && f != NFPROTO_IPV6) ||
	    strcmp(c->type, "filter") || c->cls == CHAIN_OURS || c->cls == CHAIN_ENGINE)
		return 0;
	return pre == 1 ? c->cls == CHAIN_TARGET && c->prio > PH_PRIO_PRE && c->prio <= NFT_PRIO_DNAT
			: c->prio <= PH_PRIO_PRE;
}

static int plan(const struct nft_ruleset *rs, const struct nft_scan *scan, int pre, struct nft_guard_item *items,
		unsigned max, unsigned *n, char *why, size_t whylen)
{
	struct walk *w = calloc(1, sizeof(*w));
	int r = 0;

	if (!w)
		return -ENOMEM;
	w->rs = rs;
	w->items = items;
	w->max = max;
	w->why = why;
	w->whylen = whylen;
	w->what = pre == 1 || pre == 2 ? "a container window" : "a guarded window";
	for (unsigned i = 0; i < scan->count && !r; i++) {
		enum chain_class k = scan->chains[i].cls;
		if (pre == 3 ? k == CHAIN_FORWARD || k == CHAIN_FWD_VIA : pre ? pre_root(&scan->chains[i], pre) : k == CHAIN_TARGET)
			r = walk_chain(w, &scan->chains[i].ref, 0);
	}
	*n = w->n;
	free(w);
	return r;
}

int nft_guard_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items,
		   unsigned max, unsigned *n, char *why, size_t whylen)
{
	return plan(rs, scan, 0, items, max, n, why, whylen);
}

int nft_guard_fwd_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items,
		       unsigned max, unsigned *n, char *why, size_t whylen)
{
	return plan(rs, scan, 3, items, max, n, why, whylen);
}

int nft_cw_plan(const struct nft_ruleset *rs, const struct nft_scan *scan, struct nft_guard_item *items, unsigned max,
		unsigned *n, char *why, size_t whylen)
{
	return plan(rs, scan, 1, items, max, n, why, whylen);
}

static int has_fib_cb(struct nftnl_expr *e, void *data)
{
	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "fib"))
		*(int *)data = 1;
	return 0;
}

int nft_pre_raw(const struct nft_ruleset *rs, const struct nft_scan *scan, char *why, size_t whylen)
{
	struct nft_guard_item *items = calloc(NFT_GUARD_MAX, sizeof(*items));
	unsigned n = 0;
	int r;

	if (!items)
		return -ENOMEM;
	r = plan(rs, scan, 2, items, NFT_GUARD_MAX, &n, why, whylen);
	for (unsigned i = 0; !r && i < n; i++) {
		const struct nft_guard_item *it = &items[i];
		int fib = 0;
		const struct nft_chain_info *c = NULL;
		if (it->drop)
			nftnl_expr_foreach((struct nftnl_rule *)it->drop, has_fib_cb, &fib);
		if (fib)
			continue; /* a reverse-path filter (firewalld's): only what porthole never admits */
		for (unsigned j = 0; j < scan->count && !c; j++)
			if (ref_eq(&scan->chains[j].ref, &it->chain))
				c = &scan->chains[j];
		snprintf(why, whylen,
			 "%s %s %s drops in prerouting at priority %d%s, before porthole can mark a connection (%d): a "
			 "container window cannot be opened through it (move the block to priority mangle (-150), "
			 "DOCKER-USER or a forward chain)", family_name(it->chain.family), it->chain.table, it->chain.chain,
			 c ? (int)c->prio : PH_PRIO_PRE, c ? "" : " or before (by a jump)", PH_PRIO_PRE);
		r = -ENOTSUP;
	}
	if (r == -ENOTSUP && !why[0])
		snprintf(why, whylen, "a prerouting chain before porthole can mark drops");
	free(items);
	return r;
}

static unsigned pair_have(const struct nft_ruleset *rs, int kind, struct nft_guard_have *have, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rs->nrules; i++) {
		const struct rs_rule *rr = &rs->rules[i];
		struct nft_guard_have *h;
		uint32_t digest;
		if (nr_is_guard(rr->r, &digest) != kind)
			continue;
		if (n == max)
			break;
		h = &have[n++];
		memset(h, 0, sizeof(*h));
		h->chain = rr->ref;
		h->handle = rr->handle;
		h->digest = digest;
		nr_is_ours(rr->r, &h->port);
		{
			/* B ends in accept; A sets a mark and has no verdict */
			struct nftnl_expr_iter *it = nftnl_expr_iter_create(rr->r);
			struct nftnl_expr *e;
			while (it && (e = nftnl_expr_iter_next(it)))
				if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "immediate") &&
				    nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
				    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_ACCEPT)
					h->accept = 1;
			nftnl_expr_iter_destroy(it);
		}
		/* the anchor: the next rule of the chain that is not a guard rule */
		for (unsigned j = i + 1; j < rs->nrules; j++) {
			if (!ref_eq(&rs->rules[j].ref, &rr->ref))
				continue;
			if (nr_is_guard(rs->rules[j].r, NULL))
				continue;
			h->anchor = rs->rules[j].handle;
			break;
		}
	}
	return n;
}

unsigned nft_guard_have(const struct nft_ruleset *rs, struct nft_guard_have *have, unsigned max)
{
	return pair_have(rs, NR_PAIR_GUARD, have, max);
}

unsigned nft_cw_have(const struct nft_ruleset *rs, struct nft_guard_have *have, unsigned max)
{
	return pair_have(rs, NR_PAIR_CW, have, max);
}
