// SPDX-License-Identifier: GPL-2.0-or-later
/* The host's ruleset, read-only (see nftscan.h). */
#include "nftscan.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_TPROXY.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#define MAX_OWNED 64

struct tables {
	struct { int family; char name[PH_NAME_LEN]; } owned[MAX_OWNED];
	unsigned nowned;
	int own, own_owned;
};

struct ctx {
	const struct ph_config *cfg;
	struct tables t;
	struct nft_scan *out;
	void (*each)(const struct nftnl_rule *r, void *arg);
	void *arg;
};

static struct nlmsghdr *build_dump(char *buf, uint32_t seq, void *arg)
{
	return nftnl_nlmsg_build_hdr(buf, (uint16_t)(uintptr_t)arg, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

static int dump(struct ph_nl *n, int msg, mnl_cb_t cb, void *data)
{
	return nl_request(n, build_dump, (void *)(uintptr_t)msg, cb, data);
}

static int is_own(int family, const char *table)
{
	return family == NFPROTO_INET && !strcmp(table, PH_TABLE);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tables *t = data;
	struct nftnl_table *tb = nftnl_table_alloc();

	if (!tb)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, tb) == 0) {
		int family = (int)nftnl_table_get_u32(tb, NFTNL_TABLE_FAMILY);
		const char *name = nftnl_table_get_str(tb, NFTNL_TABLE_NAME);
		int owned = (nftnl_table_get_u32(tb, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_OWNER) != 0;
		if (name && is_own(family, name)) {
			t->own = 1;
			t->own_owned = owned;
		} else if (name && owned && t->nowned < MAX_OWNED) {
			t->owned[t->nowned].family = family;
			copy_str(t->owned[t->nowned].name, PH_NAME_LEN, name);
			t->nowned++;
		}
	}
	nftnl_table_free(tb);
	return MNL_CB_OK;
}

static int table_owned(const struct tables *t, int family, const char *name)
{
	for (unsigned i = 0; i < t->nowned; i++)
		if (t->owned[i].family == family && !strcmp(t->owned[i].name, name))
			return 1;
	return 0;
}

static enum chain_class classify(const struct ph_config *cfg, const struct nft_chain_info *c)
{
	int f = c->ref.family;

	if (is_own(f, c->ref.table))
		return CHAIN_OURS;
	if ((f == NFPROTO_NETDEV && c->hook == NF_NETDEV_INGRESS) || (f == NFPROTO_INET && c->hook == NF_INET_INGRESS))
		return CHAIN_INGRESS;
	if (f != NFPROTO_INET && f != NFPROTO_IPV4 && f != NFPROTO_IPV6)
		return CHAIN_OTHER;
	if (c->hook != NF_INET_PRE_ROUTING && c->hook != NF_INET_LOCAL_IN)
		return CHAIN_OTHER;
	if (strcmp(c->type, "filter"))
		return CHAIN_OTHER;
	if (c->owned)
		return CHAIN_OWNED;
	if (cfg && cfg->chains_mode == PH_CHAINS_LIST) {
		for (unsigned i = 0; i < cfg->nchains; i++) {
			const struct ph_chain_ref *r = &cfg->chains[i];
			if (r->family == f && !strcmp(r->table, c->ref.table) && !strcmp(r->chain, c->ref.chain))
				return CHAIN_TARGET;
		}
		return CHAIN_NOT_LISTED;
	}
	if (cfg && cfg->chains_mode == PH_CHAINS_NONE)
		return CHAIN_NOT_LISTED;
	return CHAIN_TARGET;
}

const char *chain_class_why(enum chain_class c)
{
	switch (c) {
	case CHAIN_TARGET: return "porthole puts its one rule here while a window is open";
	case CHAIN_OURS: return "porthole's own table";
	case CHAIN_OWNED: return "its table is owned by another process: nobody else may add a rule (EPERM)";
	case CHAIN_INGRESS: return "an ingress chain runs before the socket lookup: a drop here cannot be opened per socket";
	case CHAIN_OTHER: return "not on the path of inbound traffic to this host";
	case CHAIN_NOT_LISTED: return "not in the configured chains";
	}
	return "";
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *x = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nft_chain_info *ci;
	const char *table, *name;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		goto out;
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	if (!table || !name || strlen(table) >= PH_NAME_LEN || strlen(name) >= PH_NAME_LEN)
		goto out;
	if (x->out->count == NFT_INSPECT_MAX) {
		x->out->overflow = 1;
		goto out;
	}
	ci = &x->out->chains[x->out->count++];
	memset(ci, 0, sizeof(*ci));
	ci->base = 1;
	ci->ref.family = (int)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	copy_str(ci->ref.table, PH_NAME_LEN, table);
	copy_str(ci->ref.chain, PH_NAME_LEN, name);
	ci->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	ci->prio = nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO) ? nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) : 0;
	copy_str(ci->type, sizeof(ci->type),
		 nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter");
	ci->policy_drop = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
			  nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
	ci->owned = table_owned(&x->t, ci->ref.family, table);
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

struct rule_acc {
	int drops, jumps;
	uint32_t mask;            /* porthole's bits */
	int mark_load;            /* the last expression loaded a meta or ct mark */
	int mark_hit;             /* ... and porthole's bits are read or written */
	uint32_t load_mask;       /* the bitwise mask applied to the loaded mark */
	int old_default;          /* matches mark & 0x3fff == 0x2000: the former default */
};

/* An iptables-nft match or target (xt) on marks: the bits it reads or
 * writes, and whether it is the former default's `-m mark --mark
 * 0x2000/0x3fff` or `-m connmark --mark 0x2000/0x3fff` (netavark's and
 * CNI's `-j MARK --set-xmark 0x2000/0x2000` shows up here: iptables-nft
 * writes all but -m mark as xt expressions) */
static void xt_mark_bits(struct nftnl_expr *e, int target, struct rule_acc *a)
{
	const char *name = nftnl_expr_get_str(e, target ? NFTNL_EXPR_TG_NAME : NFTNL_EXPR_MT_NAME);
	uint32_t len = 0, bits = 0, rev = nftnl_expr_get_u32(e, target ? NFTNL_EXPR_TG_REV : NFTNL_EXPR_MT_REV);
	const void *info = nftnl_expr_get(e, target ? NFTNL_EXPR_TG_INFO : NFTNL_EXPR_MT_INFO, &len);

	if (!name || !info)
		return;
	if (!target && (!strcmp(name, "mark") || !strcmp(name, "connmark")) && len >= sizeof(struct xt_mark_mtinfo1)) {
		struct xt_mark_mtinfo1 m; /* same layout as xt_connmark_mtinfo1 */
		memcpy(&m, info, sizeof(m));
		bits = m.mask;
		if (!m.invert && m.mark == PH_FORMER_MARK && m.mask == PH_FORMER_MARK_MASK)
			a->old_default = 1;
	} else if (target && !strcmp(name, "MARK") && len >= sizeof(struct xt_mark_tginfo2)) {
		struct xt_mark_tginfo2 m;
		memcpy(&m, info, sizeof(m));
		bits = m.mask | m.mark;
	} else if (target && !strcmp(name, "CONNMARK") && len >= sizeof(struct xt_connmark_tginfo1)) {
		struct xt_connmark_tginfo1 m;
		memcpy(&m, info, sizeof(m));
		bits = m.ctmask | m.nfmask | m.ctmark;
	} else if (target && !strcmp(name, "TPROXY") && len >= sizeof(struct xt_tproxy_target_info)) {
		/* revisions 0 and 1 (v4, v6) begin with mark_mask, mark_value: the
		 * mark becomes (mark & ~mark_mask) ^ mark_value */
		struct xt_tproxy_target_info m;
		memcpy(&m, info, sizeof(m));
		bits = rev <= 1 ? m.mark_mask | m.mark_value : UINT32_MAX;
	} else if (target && !strcmp(name, "HMARK")) {
		bits = UINT32_MAX; /* the mark becomes hash % modulus + offset: all of it */
	}
	if (bits & a->mask)
		a->mark_hit = 1;
}

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct rule_acc *a = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!strcmp(name, "meta") || !strcmp(name, "ct")) {
		uint32_t key = nftnl_expr_get_u32(e, !strcmp(name, "meta") ? NFTNL_EXPR_META_KEY : NFTNL_EXPR_CT_KEY);
		int is_mark = !strcmp(name, "meta") ? key == NFT_META_MARK : key == NFT_CT_MARK;
		int sets = nftnl_expr_is_set(e, !strcmp(name, "meta") ? NFTNL_EXPR_META_SREG : NFTNL_EXPR_CT_SREG);
		if (is_mark && sets)
			a->mark_hit = 1; /* writes a mark: assume it may touch our bits */
		a->mark_load = is_mark && !sets;
		a->load_mask = 0;
		return 0;
	}
	if (a->mark_load) {
		/* the mask applied (bitwise) or compared (cmp) right after a load */
		uint32_t len = 0, v = 0;
		const void *d = NULL;
		int is_bitwise = !strcmp(name, "bitwise"), is_cmp = !strcmp(name, "cmp");
		if (is_bitwise)
			d = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
		else if (is_cmp)
			d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		else if (!strcmp(name, "lookup"))
			v = UINT32_MAX; /* a set of marks: assume all bits */
		if (d && len >= 4)
			memcpy(&v, d, 4);
		if (v & a->mask)
			a->mark_hit = 1;
		if (is_cmp && a->load_mask == PH_FORMER_MARK_MASK && v == PH_FORMER_MARK &&
		    nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ)
			a->old_default = 1;
		a->load_mask = is_bitwise ? v : 0;
		a->mark_load = is_bitwise; /* the cmp after the mask still belongs to the load */
	}
	if (!strcmp(name, "match") || !strcmp(name, "target"))
		xt_mark_bits(e, !strcmp(name, "target"), a);
	if (!strcmp(name, "reject")) {
		a->drops = 1;
	} else if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
		int v = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		if (v == NF_DROP)
			a->drops = 1;
		else if (v == NFT_JUMP || v == NFT_GOTO)
			a->jumps = 1;
	} else if (!strcmp(name, "target")) {
		/* an iptables-nft target: REJECT, DROP-like, or a jump to a user chain */
		const char *t = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
		if (t && !strcmp(t, "REJECT"))
			a->drops = 1;
	}
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *x = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rule_acc a = { .mask = x->cfg ? x->cfg->mark_mask : 0 };

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		const char *t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE), *ch = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		int fam = (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
		int ours = nr_is_ours(r, NULL);

		nftnl_expr_foreach(r, expr_cb, &a);
		if (a.old_default && !ours && t && ch && !is_own(fam, t) && x->cfg &&
		    (x->cfg->mark != PH_FORMER_MARK || x->cfg->mark_mask != PH_FORMER_MARK_MASK) && !x->out->former_users++)
			snprintf(x->out->former_user, sizeof(x->out->former_user), "%s %s %s", family_name(fam), t, ch);
		if (a.mark_hit && !ours && t && ch && !is_own(fam, t)) {
			if (!x->out->mark_users++)
				snprintf(x->out->mark_user, sizeof(x->out->mark_user), "%s %s %s", family_name(fam), t, ch);
		}
		for (unsigned i = 0; t && ch && i < x->out->count; i++) {
			struct nft_chain_info *ci = &x->out->chains[i];
			if (ci->ref.family == fam && !strcmp(ci->ref.table, t) && !strcmp(ci->ref.chain, ch)) {
				ci->drop_rules += a.drops;
				ci->jumps += a.jumps;
				ci->ours += ours;
			}
		}
		if (x->each)
			x->each(r, x->arg);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_scan(struct ph_nl *n, const struct ph_config *cfg, struct nft_scan *out)
{
	return nft_scan_each(n, cfg, out, NULL, NULL);
}

int nft_scan_each(struct ph_nl *n, const struct ph_config *cfg, struct nft_scan *out,
		  void (*each)(const struct nftnl_rule *r, void *arg), void *arg)
{
	struct ctx *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	x->cfg = cfg;
	x->out = out;
	x->each = each;
	x->arg = arg;
	r = dump(n, NFT_MSG_GETTABLE, table_cb, &x->t);
	if (!r)
		r = dump(n, NFT_MSG_GETCHAIN, chain_cb, x);
	if (!r)
		r = dump(n, NFT_MSG_GETRULE, rule_cb, x);
	if (!r) {
		for (unsigned i = 0; i < out->count; i++)
			out->chains[i].cls = classify(cfg, &out->chains[i]);
		out->own_table = x->t.own;
		out->own_table_owned = x->t.own_owned;
	}
	free(x);
	return r;
}

int chain_may_drop(const struct nft_chain_info *c)
{
	return c->policy_drop || c->drop_rules || c->jumps;
}

const char *hook_name(int family, uint32_t hook)
{
	if (family == NFPROTO_NETDEV)
		return hook == NF_NETDEV_INGRESS ? "ingress" : "egress";
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	case NF_INET_INGRESS: return "ingress";
	}
	return "?";
}

/* ---- iptables-legacy --------------------------------------------------------------- */

/* The legacy table's INPUT chain: from its hook entry to its underflow (the
 * policy) there are rules, or the policy is not ACCEPT. Read with the same
 * getsockopt iptables-legacy-save uses. */
int legacy_input_state(int v6, int *present, int *may_drop)
{
	int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int fd;
	struct ipt_getinfo info; /* the ip6t_getinfo layout is the same */
	socklen_t len = sizeof(info);
	char names[256];
	int r = 0;

	*present = *may_drop = 0;
	/* no legacy table loaded: nothing to ask (and asking would load one).
	 * The list is root's (0440): a daemon of its own user cannot tell */
	r = read_small_file(v6 ? "/proc/self/net/ip6_tables_names" : "/proc/self/net/ip_tables_names", names, sizeof(names));
	if (r || !strstr(names, "filter"))
		return r == -ENOENT ? 0 : r;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* any inet socket reaches nf_sockopt: no CAP_NET_RAW */
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	copy_str(info.name, sizeof(info.name), "filter");
	if (getsockopt(fd, level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	*present = 1;
	if (!(info.valid_hooks & (1u << NF_INET_LOCAL_IN)))
		goto out;
	if (info.hook_entry[NF_INET_LOCAL_IN] != info.underflow[NF_INET_LOCAL_IN]) {
		*may_drop = 1; /* rules in INPUT: any of them may drop */
		goto out;
	}
	{
		/* the policy: a standard target at the underflow entry */
		size_t sz = sizeof(struct ipt_get_entries) + info.size;
		struct ipt_get_entries *ge = calloc(1, sz);
		socklen_t gl = (socklen_t)sz;
		if (!ge) {
			r = -ENOMEM;
			goto out;
		}
		copy_str(ge->name, sizeof(ge->name), "filter");
		ge->size = info.size;
		if (getsockopt(fd, level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, ge, &gl) < 0) {
			r = -errno;
		} else {
			unsigned off = info.underflow[NF_INET_LOCAL_IN];
			const char *base = (const char *)ge->entrytable;
			uint16_t target_offset = v6 ? ((const struct ip6t_entry *)(base + off))->target_offset
						    : ((const struct ipt_entry *)(base + off))->target_offset;
			const struct xt_standard_target *t = (const void *)(base + off + target_offset);
			if (off + target_offset + sizeof(*t) > info.size || t->verdict != -NF_ACCEPT - 1)
				*may_drop = 1;
		}
		free(ge);
	}
out:
	close(fd);
	return r;
}
