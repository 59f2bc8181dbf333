// SPDX-License-Identifier: GPL-2.0-or-later
/* Recognising porthole's host rules (lib/nftrule.c), in memory with
 * libnftnl: the rule porthole builds, the form iptables-restore writes back
 * (an xt comment match), earlier versions' tags, and rules that only look
 * alike. A rule wrongly taken for ours would be deleted by the start-up
 * sweep; one of ours missed would stay behind. */
#include "nftrule.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

static struct nftnl_rule *with_comment(const char *comment)
{
	struct ph_chain_ref c = { .family = NFPROTO_IPV4 };
	struct nftnl_rule *r;
	struct nftnl_udata_buf *ud;

	strcpy(c.table, "filter");
	strcpy(c.chain, "INPUT");
	r = nr_host_rule(&c, 80, 0x2000, 0x3fff);
	if (!r)
		return NULL;
	nftnl_rule_unset(r, NFTNL_RULE_USERDATA);
	if (comment) {
		ud = nftnl_udata_buf_alloc(256);
		nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return r;
}

/* what iptables-nft writes for -m comment --comment TEXT */
static void add_xt_comment(struct nftnl_rule *r, const char *text)
{
	struct nftnl_expr *e = nftnl_expr_alloc("match");
	char *info = calloc(1, 256);

	strncpy(info, text, 255);
	nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, "comment");
	nftnl_expr_set_u32(e, NFTNL_EXPR_MT_REV, 0);
	nftnl_expr_set(e, NFTNL_EXPR_MT_INFO, info, 256); /* the expression takes it */
	nftnl_rule_add_expr(r, e);
}

int main(void)
{
	struct ph_chain_ref c = { .family = NFPROTO_INET };
	struct nftnl_rule *r;
	uint16_t port = 0;

	strcpy(c.table, "filter");
	strcpy(c.chain, "input");
	r = nr_host_rule(&c, 443, 0x2000, 0x3fff);
	CHECK(r && nr_is_ours(r, &port) == 1 && port == 443, "the rule porthole builds is ours, for its port (%u)", port);
	nftnl_rule_free(r);

	r = with_comment("porthole w=3");
	CHECK(r && nr_is_ours(r, NULL) == 1, "an earlier version's tag 'porthole w=3' is ours (swept)");
	nftnl_rule_free(r);
	r = with_comment("portholes are fun");
	CHECK(r && nr_is_ours(r, NULL) == 0, "a comment that merely starts with 'porthole' is not ours");
	nftnl_rule_free(r);
	r = with_comment("allow web");
	CHECK(r && nr_is_ours(r, NULL) == 0, "the host's own comment is not ours");
	nftnl_rule_free(r);
	r = with_comment(NULL);
	CHECK(r && nr_is_ours(r, NULL) == 0, "the same shape without a comment is not ours");
	add_xt_comment(r, "porthole");
	CHECK(nr_is_ours(r, &port) == 1 && port == 80, "after iptables-save|restore (an xt comment match) it is ours again");
	nftnl_rule_free(r);
	r = with_comment(NULL);
	add_xt_comment(r, "porthole-admin-note");
	CHECK(nr_is_ours(r, NULL) == 0, "an xt comment that merely starts with 'porthole' is not ours");
	nftnl_rule_free(r);
	return unit_done("unit/nftrule");
}
