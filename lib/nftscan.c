// SPDX-License-Identifier: GPL-2.0-or-later
/* The host's ruleset, read-only (see nftscan.h). */
#include "nftscan.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_TPROXY.h>
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
	unsigned engines;         /* NFT_ENG_* seen by their tables */
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

/* porthole's tables: inet's and the bridge one of container windows (the pin) */
static int is_ours_table(int family, const char *table)
{
	return is_own(family, table) || (family == NFPROTO_BRIDGE && !strcmp(table, PH_TABLE));
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
		if (name && (family == NFPROTO_IPV4 || family == NFPROTO_IPV6) && !strcmp(name, "docker-bridges"))
			t->engines |= NFT_ENG_DOCKER_NFT;
		if (name && family == NFPROTO_INET && !strcmp(name, "netavark"))
			t->engines |= NFT_ENG_NETAVARK_NFT;
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

int nft_forward_wanted(const struct ph_config *cfg)
{
	return cfg && cfg->chains_mode == PH_CHAINS_AUTO && config_has_published(cfg);
}

/* A container engine's own table: Docker >= 29 and netavark >= 1.10 say
 * not to modify them, and accept their published ports themselves */
static int engine_table(int f, const char *table)
{
	return ((f == NFPROTO_IPV4 || f == NFPROTO_IPV6) && !strcmp(table, "docker-bridges")) ||
	       (f == NFPROTO_INET && !strcmp(table, "netavark"));
}

/* A forward-hook filter chain, with container windows (nft_forward_wanted):
 * DNATed connections to a container cross it, so one that may drop gets the
 * rule, unless a DOCKER-USER of its family takes it: iptables' FORWARD jumps
 * there before anything else drops or jumps (Docker keeps that jump at its
 * top; a drop an admin inserted above it makes FORWARD a target too, until
 * Docker's next start puts the jump back above) */
static enum chain_class classify_forward(const struct nft_scan *sc, const struct nft_chain_info *c)
{
	int f = c->ref.family;

	if (engine_table(f, c->ref.table))
		return CHAIN_ENGINE;
	if (!chain_may_drop(c))
		return CHAIN_OTHER;
	if (c->owned)
		return CHAIN_OWNED;
	if (f != NFPROTO_INET && !strcmp(c->ref.table, "filter") && !strcmp(c->ref.chain, "FORWARD") &&
	    sc->docker_user[f == NFPROTO_IPV6] && !strcmp(c->first_jump, "DOCKER-USER"))
		return CHAIN_FWD_VIA;
	return CHAIN_FORWARD;
}

static enum chain_class classify(const struct ph_config *cfg, const struct nft_scan *sc, const struct nft_chain_info *c)
{
	int f = c->ref.family;

	if (is_own(f, c->ref.table))
		return CHAIN_OURS;
	if ((f == NFPROTO_NETDEV && c->hook == NF_NETDEV_INGRESS) || (f == NFPROTO_INET && c->hook == NF_INET_INGRESS))
		return CHAIN_INGRESS;
	if (f != NFPROTO_INET && f != NFPROTO_IPV4 && f != NFPROTO_IPV6)
		return CHAIN_OTHER;
	if (c->hook == NF_INET_FORWARD && !strcmp(c->type, "filter") && nft_forward_wanted(cfg))
		return classify_forward(sc, c);
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
	case CHAIN_FORWARD: return "porthole puts its one rule here for container windows while a window is open";
	case CHAIN_FWD_VIA: return "its DOCKER-USER chain holds porthole's rule";
	case CHAIN_ENGINE: return "a container engine's own table: porthole never writes there";
	}
	return "";
}

/* The container engines' chains in iptables-nft's tables (any chain, base
 * or not), and their admin chains */
static void engine_chain(struct nft_scan *sc, int f, const char *table, const char *name)
{
	if (f != NFPROTO_IPV4 && f != NFPROTO_IPV6)
		return;
	if ((!strcmp(table, "filter") || !strcmp(table, "nat")) && (!strcmp(name, "DOCKER") || !strcmp(name, "DOCKER-USER")))
		sc->engines |= NFT_ENG_DOCKER_IPT;
	if (!strncmp(name, "NETAVARK", 8) && strcmp(table, "docker-bridges"))
		sc->engines |= NFT_ENG_NETAVARK_IPT;
	if (!strncmp(name, "CNI-", 4))
		sc->engines |= NFT_ENG_CNI;
	if (strcmp(table, "filter") || (strcmp(name, "DOCKER-USER") && strcmp(name, "CNI-ADMIN")))
		return;
	if (!strcmp(name, "DOCKER-USER"))
		sc->docker_user[f == NFPROTO_IPV6] = 1;
	if (sc->nfwd_user < NFT_FWD_USER_MAX) {
		struct ph_chain_ref *r = &sc->fwd_user[sc->nfwd_user++];
		r->family = f;
		copy_str(r->table, PH_NAME_LEN, table);
		copy_str(r->chain, PH_NAME_LEN, name);
	}
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *x = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nft_chain_info *ci;
	const char *table, *name;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	if (!table || !name || strlen(table) >= PH_NAME_LEN || strlen(name) >= PH_NAME_LEN)
		goto out;
	engine_chain(x->out, (int)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY), table, name);
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
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

/* What a rule's registers hold of a mark, in 32-bit units: the verdict
 * register's four, then NFT_REG32_00..15 (NFT_REG_1..4 are four units each) */
#define NREG 20

struct reg {
	uint32_t m;               /* the mark bits it may hold (0: no mark) */
	uint32_t lo, hi;          /* raw: the values its ordering compares leave */
	uint8_t raw;              /* the whole mark, compared by value */
	uint8_t be;               /* in network byte order (nft swaps it before a range) */
	uint8_t ranged;           /* lo/hi narrowed, judged when the register is done with */
};

struct rule_acc {
	int drops, jumps;
	char jump_to[PH_NAME_LEN];  /* the chain it jumps or goes to */
	uint32_t mask;            /* porthole's bits */
	int mark_hit;             /* porthole's bits are read or written */
	int old_default;          /* matches mark & 0x3fff == 0x2000: the former default */
	struct reg r[NREG];
};

static int reg_unit(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)reg * 4;
	if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
		return (int)(reg - NFT_REG32_00) + 4;
	return -1;
}

/* Some value in [lo, hi] has one of bits: for each bit, the least value
 * >= lo that has it (lo, or lo's higher bits, the bit, zeros below) */
static int range_has(uint32_t lo, uint32_t hi, uint32_t bits)
{
	for (unsigned k = 0; k < 32 && lo <= hi; k++) {
		uint32_t b = 1u << k;
		if ((bits & b) && ((lo & b) ? lo : (lo | b) & ~(b - 1)) <= hi)
			return 1;
	}
	return 0;
}

static void settle(struct rule_acc *a, struct reg *r)
{
	if (r->ranged && range_has(r->lo, r->hi, a->mask))
		a->mark_hit = 1;
	memset(r, 0, sizeof(*r));
}

/* A load into reg: that unit and every later one are done with (nft fills a
 * concatenation's registers in order, and starts each statement at the first) */
static struct reg *load(struct rule_acc *a, uint32_t reg)
{
	int u = reg_unit(reg);

	for (int i = u; u >= 0 && i < NREG; i++)
		settle(a, &a->r[i]);
	return u >= 0 ? &a->r[u] : NULL;
}

/* A read of n units from reg on, by a set's key (a lookup, the key of a
 * concatenation, a map) or a wider compare: every bit they may hold */
static void read_all(struct rule_acc *a, uint32_t reg, int n)
{
	int u = reg_unit(reg);

	for (int i = u; u >= 0 && i < NREG && i < u + n; i++)
		if (a->r[i].m & a->mask)
			a->mark_hit = 1;
}

static uint32_t data4(struct nftnl_expr *e, uint16_t attr, const struct reg *r, uint32_t *len)
{
	const void *d = nftnl_expr_get(e, attr, len);
	uint32_t v = 0;

	if (d && *len == 4)
		memcpy(&v, d, 4);
	return r->be ? ntohl(v) : v;
}

/* cmp and range on a mark: a masked one reads the mask's bits; the whole
 * mark a value (eq, neq: `meta mark != 0` is not a use of porthole's bits)
 * or the values between bounds (nft's ranges: two compares, or `range`
 * for !=) */
static void compare(struct rule_acc *a, struct nftnl_expr *e, int is_range)
{
	uint32_t reg = nftnl_expr_get_u32(e, is_range ? NFTNL_EXPR_RANGE_SREG : NFTNL_EXPR_CMP_SREG);
	uint32_t op = nftnl_expr_get_u32(e, is_range ? NFTNL_EXPR_RANGE_OP : NFTNL_EXPR_CMP_OP);
	int u = reg_unit(reg);
	struct reg *r = u >= 0 ? &a->r[u] : NULL;
	uint32_t len = 0, v, hi, lo;

	if (!r)
		return;
	v = data4(e, is_range ? NFTNL_EXPR_RANGE_FROM_DATA : NFTNL_EXPR_CMP_DATA, r, &len);
	if (len != 4)
		read_all(a, reg, (int)(len + 3) / 4);
	if (!r->m || len != 4)
		return;
	if (!r->raw || (!r->be && (is_range || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ)))) {
		if (r->m & a->mask)
			a->mark_hit = 1;
		if (!is_range && op == NFT_CMP_EQ && r->m == PH_FORMER_MARK_MASK && v == PH_FORMER_MARK)
			a->old_default = 1;
	} else if (is_range) {
		hi = data4(e, NFTNL_EXPR_RANGE_TO_DATA, r, &len);
		if (op == NFT_RANGE_EQ ? range_has(v, hi, a->mask)
				       : (v && range_has(0, v - 1, a->mask)) || (hi != UINT32_MAX && range_has(hi + 1, UINT32_MAX, a->mask)))
			a->mark_hit = 1;
	} else if (op == NFT_CMP_EQ || op == NFT_CMP_NEQ) {
		if (v & a->mask)
			a->mark_hit = 1;
	} else {
		lo = op == NFT_CMP_GTE ? v : op == NFT_CMP_GT ? v + 1 : 0;
		hi = op == NFT_CMP_LTE ? v : op == NFT_CMP_LT ? v - 1 : UINT32_MAX;
		if ((op == NFT_CMP_GT && v == UINT32_MAX) || (op == NFT_CMP_LT && !v))
			lo = 1, hi = 0; /* nothing */
		r->lo = lo > r->lo ? lo : r->lo;
		r->hi = hi < r->hi ? hi : r->hi;
		r->ranged = 1;
	}
}

/* bitwise and byteorder: the mark moves on, masked, shifted or swapped */
static void transform(struct rule_acc *a, struct nftnl_expr *e, int is_bitwise)
{
	int u = reg_unit(nftnl_expr_get_u32(e, is_bitwise ? NFTNL_EXPR_BITWISE_SREG : NFTNL_EXPR_BYTEORDER_SREG));
	struct reg src = u >= 0 ? a->r[u] : (struct reg){ 0 };
	struct reg *d = load(a, nftnl_expr_get_u32(e, is_bitwise ? NFTNL_EXPR_BITWISE_DREG : NFTNL_EXPR_BYTEORDER_DREG));
	uint32_t len = 0, mask;

	if (!d || !src.m)
		return;
	*d = (struct reg){ .m = src.m, .raw = src.raw, .be = src.be, .hi = UINT32_MAX };
	if (is_bitwise) {
		mask = data4(e, NFTNL_EXPR_BITWISE_MASK, &src, &len);
		d->m = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) == NFT_BITWISE_BOOL && len == 4 ? src.m & mask : UINT32_MAX;
		d->raw = 0;
	} else if (nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_SIZE) == 4) {
		d->be = nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_OP) == NFT_BYTEORDER_HTON;
	} else {
		d->m = UINT32_MAX;
		d->raw = 0;
	}
}

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

/* the expressions that load a register besides meta, ct, bitwise, byteorder */
static const struct { const char *name; uint16_t dreg; } loaders[] = {
	{ "payload", NFTNL_EXPR_PAYLOAD_DREG }, { "exthdr", NFTNL_EXPR_EXTHDR_DREG }, { "immediate", NFTNL_EXPR_IMM_DREG },
	{ "lookup", NFTNL_EXPR_LOOKUP_DREG }, { "fib", NFTNL_EXPR_FIB_DREG }, { "rt", NFTNL_EXPR_RT_DREG },
	{ "numgen", NFTNL_EXPR_NG_DREG }, { "hash", NFTNL_EXPR_HASH_DREG }, { "osf", NFTNL_EXPR_OSF_DREG },
	{ "xfrm", NFTNL_EXPR_XFRM_DREG }, { "tunnel", NFTNL_EXPR_TUNNEL_DREG },
};

/* The mark bits a rule reads or writes (the registers that hold a mark, from
 * its load to what reads it), whether it drops or jumps */
static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct rule_acc *a = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	int meta = !strcmp(name, "meta"), ct = !strcmp(name, "ct"), sock = !strcmp(name, "socket");

	if (meta || ct || sock) {
		/* socket mark: the listener's mark, which porthole gives a window's sockets */
		uint32_t key = nftnl_expr_get_u32(e, meta ? NFTNL_EXPR_META_KEY : ct ? NFTNL_EXPR_CT_KEY : NFTNL_EXPR_SOCKET_KEY);
		int is_mark = meta ? key == NFT_META_MARK : ct ? key == NFT_CT_MARK : key == NFT_SOCKET_MARK;
		struct reg *r;
		if (is_mark && !sock && nftnl_expr_is_set(e, meta ? NFTNL_EXPR_META_SREG : NFTNL_EXPR_CT_SREG))
			a->mark_hit = 1; /* writes a mark: assume it may touch our bits */
		r = load(a, nftnl_expr_get_u32(e, meta ? NFTNL_EXPR_META_DREG : ct ? NFTNL_EXPR_CT_DREG : NFTNL_EXPR_SOCKET_DREG));
		if (r && is_mark)
			*r = (struct reg){ .m = UINT32_MAX, .raw = 1, .hi = UINT32_MAX };
		return 0;
	}
	if (!strcmp(name, "cmp") || !strcmp(name, "range"))
		compare(a, e, !strcmp(name, "range"));
	else if (!strcmp(name, "bitwise") || !strcmp(name, "byteorder"))
		transform(a, e, !strcmp(name, "bitwise"));
	else if (!strcmp(name, "lookup"))
		read_all(a, nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG), NREG); /* a set of marks: assume all bits */
	else if (!strcmp(name, "dynset"))
		read_all(a, nftnl_expr_get_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY), NREG);
	for (unsigned i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (!strcmp(name, loaders[i].name) && nftnl_expr_is_set(e, loaders[i].dreg))
			load(a, nftnl_expr_get_u32(e, loaders[i].dreg));
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
		if ((v == NFT_JUMP || v == NFT_GOTO) && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
			copy_str(a->jump_to, sizeof(a->jump_to), nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
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
		for (unsigned i = 0; i < NREG; i++)
			settle(&a, &a.r[i]);
		if (a.old_default && !ours && t && ch && !is_own(fam, t) && x->cfg &&
		    (x->cfg->mark != PH_FORMER_MARK || x->cfg->mark_mask != PH_FORMER_MARK_MASK) && !x->out->former_users++)
			snprintf(x->out->former_user, sizeof(x->out->former_user), "%s %s %s", family_name(fam), t, ch);
		if (a.mark_hit && !ours && t && ch && !is_ours_table(fam, t)) {
			if (!x->out->mark_users++)
				snprintf(x->out->mark_user, sizeof(x->out->mark_user), "%s %s %s", family_name(fam), t, ch);
		}
		for (unsigned i = 0; t && ch && i < x->out->count; i++) {
			struct nft_chain_info *ci = &x->out->chains[i];
			if (ci->ref.family == fam && !strcmp(ci->ref.table, t) && !strcmp(ci->ref.chain, ch)) {
				ci->drop_rules += a.drops;
				ci->jumps += a.jumps;
				ci->ours += ours;
				if (!ci->stopped && (a.drops || a.jumps)) {
					ci->stopped = 1;
					copy_str(ci->first_jump, sizeof(ci->first_jump), a.drops ? "" : a.jump_to);
				}
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
			out->chains[i].cls = classify(cfg, out, &out->chains[i]);
		out->own_table = x->t.own;
		out->engines |= x->t.engines;
		out->own_table_owned = x->t.own_owned;
	}
	free(x);
	return r;
}

int nft_rule_stops(const struct nftnl_rule *r)
{
	struct rule_acc a = { 0 };

	nftnl_expr_foreach((struct nftnl_rule *)r, expr_cb, &a);
	return a.drops || a.jumps;
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
