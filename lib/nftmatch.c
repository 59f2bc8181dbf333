// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading rules back (see nftrule.h): which rules in a ruleset porthole
 * wrote (its tag as rule userdata, or as the xt comment match an
 * iptables-save round trip leaves), which are a server window's guard rules
 * and their digest, and what each expression of a host's drop rule is to a
 * guard copy. Nothing here builds a message. No logging; -errno returns. */
#include "nftbuild.h"
#include "nftrule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

/* ---- recognising our rules ------------------------------------------------------- */

static int tag_ok(const char *s, size_t n)
{
	size_t tl = strlen(PH_RULE_TAG);

	/* "porthole" exactly, or followed by a blank ("porthole w=3" from
	 * earlier versions): never a comment that merely starts so */
	return n >= tl && !memcmp(s, PH_RULE_TAG, tl) && (n == tl || s[tl] == '\0' || s[tl] == ' ');
}

static int udata_comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT &&
	    tag_ok(nftnl_udata_get(attr), nftnl_udata_len(attr)))
		*(int *)data = 1;
	return 0;
}

struct ours_scan {
	int tagged;
	uint16_t port;
	int expect_dport; /* the last payload load was the tcp dport */
};

static int ours_expr_cb(struct nftnl_expr *e, void *data)
{
	struct ours_scan *o = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!strcmp(name, "match") && nftnl_expr_is_set(e, NFTNL_EXPR_MT_NAME) &&
	    !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME), "comment")) {
		uint32_t len = 0;
		const char *info = nftnl_expr_get(e, NFTNL_EXPR_MT_INFO, &len);
		if (info && len >= 1)
			o->tagged |= tag_ok(info, strnlen(info, len < XT_COMMENT_LEN ? len : XT_COMMENT_LEN));
	} else if (!strcmp(name, "payload")) {
		o->expect_dport = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_TRANSPORT_HEADER &&
				  nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 2 &&
				  nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2;
	} else if (!strcmp(name, "cmp") && o->expect_dport) {
		uint32_t len = 0;
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		uint16_t be;
		if (d && len == 2) {
			memcpy(&be, d, 2);
			o->port = ntohs(be);
		}
		o->expect_dport = 0;
	} else {
		o->expect_dport = 0;
	}
	return 0;
}

static int pair_tag(const char *s, size_t n, const char *tag, uint32_t *d, uint32_t kind)
{
	size_t tl = strlen(tag);

	if (n > tl + 1 && !memcmp(s, tag, tl) && s[tl] == ' ') {
		char hex[9] = { 0 };
		memcpy(hex, s + tl + 1, n - tl - 1 < 8 ? n - tl - 1 : 8);
		d[0] = kind;
		d[1] = (uint32_t)strtoul(hex, NULL, 16);
		return 1;
	}
	return 0;
}

static int guard_comment_cb(const struct nftnl_udata *attr, void *data)
{
	size_t n = nftnl_udata_len(attr);
	const char *s = nftnl_udata_get(attr);
	uint32_t *d = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && !pair_tag(s, n, PH_GUARD_TAG, d, NR_PAIR_GUARD))
		pair_tag(s, n, PH_CW_TAG, d, NR_PAIR_CW);
	return 0;
}

int nr_is_guard(const struct nftnl_rule *r, uint32_t *digest)
{
	uint32_t d[2] = { 0, 0 };

	if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		uint32_t len = 0;
		const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		if (ud)
			nftnl_udata_parse(ud, len, guard_comment_cb, d);
	}
	if (digest)
		*digest = d[1];
	return (int)d[0];
}

int nr_is_ours(const struct nftnl_rule *r, uint16_t *port)
{
	struct ours_scan o = { 0 };

	if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		uint32_t len = 0;
		const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		if (ud)
			nftnl_udata_parse(ud, len, udata_comment_cb, &o.tagged);
	}
	nftnl_expr_foreach((struct nftnl_rule *)r, ours_expr_cb, &o);
	if (port)
		*port = o.port;
	return o.tagged;
}

/* ---- a drop rule's expressions, to a guard copy (see nftguard.h) --------------------- */

int nr_expr_role(const struct nftnl_expr *e, const char **bad)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	*bad = name;
	if (!strcmp(name, "counter") || !strcmp(name, "log") || !strcmp(name, "reject"))
		return NR_EXPR_SKIP;
	if (!strcmp(name, "immediate"))
		return nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT ? NR_EXPR_SKIP : NR_EXPR_BAD;
	if (!strcmp(name, "target")) {
		const char *t = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
		return t && (!strcmp(t, "REJECT") || !strcmp(t, "DROP")) ? NR_EXPR_SKIP : NR_EXPR_BAD;
	}
	if (!strcmp(name, "match")) {
		/* xt matches with state of their own: a copy would count apart */
		static const char *const stateful[] = { "recent", "hashlimit", "limit", "connlimit", "quota", "quota2",
							"statistic", "nfacct", "cluster", NULL };
		const char *m = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);
		for (unsigned i = 0; m && stateful[i]; i++)
			if (!strcmp(m, stateful[i])) {
				*bad = m;
				return NR_EXPR_BAD;
			}
		return m ? NR_EXPR_COPY : NR_EXPR_BAD;
	}
	if (!strcmp(name, "cmp") || !strcmp(name, "bitwise") || !strcmp(name, "range") || !strcmp(name, "fib") ||
	    !strcmp(name, "byteorder") || !strcmp(name, "rt") || !strcmp(name, "socket"))
		return NR_EXPR_COPY;
	if (!strcmp(name, "payload"))
		return nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG) ? NR_EXPR_BAD : NR_EXPR_COPY;
	if (!strcmp(name, "meta"))
		return nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) ? NR_EXPR_BAD : NR_EXPR_COPY;
	if (!strcmp(name, "ct"))
		return nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG) ? NR_EXPR_BAD : NR_EXPR_COPY;
	if (!strcmp(name, "exthdr"))
		return nftnl_expr_is_set(e, NFTNL_EXPR_EXTHDR_SREG) ? NR_EXPR_BAD : NR_EXPR_COPY;
	if (!strcmp(name, "lookup")) {
		const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
		if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) || !set || !strncmp(set, "__set", 5)) {
			*bad = "an anonymous set or a map";
			return NR_EXPR_BAD;
		}
		return NR_EXPR_COPY;
	}
	return NR_EXPR_BAD; /* limit, quota, dynset, connlimit, ...: a side effect or state of its own */
}

/* ---- the matches of a drop rule, repeated in a pair's rule A ---------------------------- */

struct copy_ctx {
	struct nftnl_rule *r;
	int err;
};

static int copy_cb(struct nftnl_expr *e, void *data)
{
	struct copy_ctx *c = data;
	const char *bad;
	int role = nr_expr_role(e, &bad);

	if (c->err || role == NR_EXPR_SKIP)
		return 0;
	if (role == NR_EXPR_BAD) {
		c->err = -ENOTSUP;
		return 0;
	}
	c->err = x_add(c->r, x_copy_expr(e));
	return 0;
}

int nr_copy_matches(struct nftnl_rule *r, const struct nftnl_rule *drop)
{
	struct copy_ctx c = { r, 0 };

	nftnl_expr_foreach((struct nftnl_rule *)drop, copy_cb, &c);
	return c.err;
}
