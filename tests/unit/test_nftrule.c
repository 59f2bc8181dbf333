// SPDX-License-Identifier: GPL-2.0-or-later
/* Recognising porthole's host rules (lib/nftmatch.c), in memory with
 * libnftnl: the rule porthole builds, the form iptables-restore writes back
 * (an xt comment match), earlier versions' tags, and rules that only look
 * alike. A rule wrongly taken for ours would be deleted by the start-up
 * sweep; one of ours missed would stay behind. */
#include "nftcontainer.h"
#include "nftcsrv.h"
#include "nftrule.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
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

/* the names of a rule's expressions, blank-separated */
struct names { char buf[512]; };

static int name_cb(struct nftnl_expr *e, void *data)
{
	struct names *n = data;
	size_t l = strlen(n->buf);

	snprintf(n->buf + l, sizeof(n->buf) - l, "%s%s", l ? " " : "", nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
	return 0;
}

static const char *expr_names(struct nftnl_rule *r, struct names *n)
{
	n->buf[0] = '\0';
	nftnl_expr_foreach(r, name_cb, n);
	return n->buf;
}

/* a host drop rule: ip saddr @SET [limit] counter drop */
static struct nftnl_rule *drop_rule(const char *set, int limit)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "filter");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "INPUT");
	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 12);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, 1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_rule_add_expr(r, e);
	if (limit)
		nftnl_rule_add_expr(r, nftnl_expr_alloc("limit"));
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
	e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	nftnl_rule_add_expr(r, e);
	return r;
}

struct roles { int copy, skip, bad; const char *bad_name; };

static int role_cb(struct nftnl_expr *e, void *data)
{
	struct roles *ro = data;
	const char *bad;
	int role = nr_expr_role(e, &bad);

	ro->copy += role == NR_EXPR_COPY;
	ro->skip += role == NR_EXPR_SKIP;
	if (role == NR_EXPR_BAD) {
		ro->bad++;
		ro->bad_name = bad;
	}
	return 0;
}

static void test_guard_rules(void)
{
	struct ph_chain_ref ipt = { .family = NFPROTO_IPV4 }, inet = { .family = NFPROTO_INET };
	struct nftnl_rule *drop = drop_rule("blocked", 0), *r;
	struct roles ro = { 0 };
	struct names n;
	uint32_t digest = 0;
	uint16_t port = 0;

	strcpy(ipt.table, "filter");
	strcpy(ipt.chain, "INPUT");
	strcpy(inet.table, "filter");
	strcpy(inet.chain, "input");
	nftnl_expr_foreach(drop, role_cb, &ro);
	CHECK(ro.copy == 2 && ro.skip == 2 && ro.bad == 0, "a drop on a named set: 2 expressions repeated, counter and "
	      "verdict left out (%d %d %d)", ro.copy, ro.skip, ro.bad);
	r = nr_guard_rule_for(&ipt, drop, 0xabcdef01, 0, 80, 0x3fff, 0x3ffe, 0x3fff);
	CHECK(r && !strcmp(expr_names(r, &n), "meta cmp payload cmp meta bitwise cmp payload lookup target"),
	      "rule A, iptables-nft table: our matches, the drop's, then -j CONNMARK (%s)", r ? n.buf : "none");
	CHECK(r && nr_is_guard(r, &digest) == 1 && digest == 0xabcdef01, "rule A carries 'porthole guard DIGEST' (%08x)",
	      digest);
	CHECK(r && nr_is_ours(r, &port) == 1 && port == 80, "rule A is one of ours, for port 80 (swept at start)");
	nftnl_rule_free(r);
	r = nr_guard_rule_for(&ipt, drop, 1, 1, 80, 0x3fff, 0x3ffe, 0x3fff);
	CHECK(r && !strcmp(expr_names(r, &n), "meta cmp payload cmp match counter immediate"),
	      "rule B, iptables-nft table: -m connmark ... counter accept (%s)", r ? n.buf : "none");
	nftnl_rule_free(r);
	r = nr_guard_rule_for(&inet, NULL, 2, 0, 80, 0x3fff, 0x3ffe, 0x3fff);
	CHECK(r && !strcmp(expr_names(r, &n), "meta cmp payload cmp meta bitwise cmp ct bitwise ct"),
	      "rule A for a drop policy, native table: ct mark set, nothing repeated (%s)", r ? n.buf : "none");
	nftnl_rule_free(r);
	r = nr_guard_rule_for(&inet, NULL, 2, 1, 80, 0x3fff, 0x3ffe, 0x3fff);
	CHECK(r && !strcmp(expr_names(r, &n), "meta cmp payload cmp ct bitwise cmp counter immediate"),
	      "rule B, native table: ct mark == GUARDED counter accept (%s)", r ? n.buf : "none");
	CHECK(r && nr_is_guard(r, NULL) == 1, "rule B is a guard rule");
	nftnl_rule_free(r);
	nftnl_rule_free(drop);

	drop = drop_rule("__set0", 0);
	memset(&ro, 0, sizeof(ro));
	nftnl_expr_foreach(drop, role_cb, &ro);
	CHECK(ro.bad == 1 && ro.bad_name && strstr(ro.bad_name, "anonymous"), "an anonymous set cannot be repeated (%s)",
	      ro.bad_name ? ro.bad_name : "");
	r = nr_guard_rule_for(&ipt, drop, 3, 0, 80, 0x3fff, 0x3ffe, 0x3fff);
	CHECK(!r, "no rule A is built for it");
	nftnl_rule_free(drop);
	drop = drop_rule("blocked", 1);
	memset(&ro, 0, sizeof(ro));
	nftnl_expr_foreach(drop, role_cb, &ro);
	CHECK(ro.bad == 1 && ro.bad_name && !strcmp(ro.bad_name, "limit"), "a rate limit cannot be repeated (%s)",
	      ro.bad_name ? ro.bad_name : "");
	nftnl_rule_free(drop);
	{
		struct nftnl_rule *m = with_comment(NULL);
		struct nftnl_expr *e = nftnl_expr_alloc("match");
		nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, "recent");
		nftnl_expr_set_u32(e, NFTNL_EXPR_MT_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_MT_INFO, calloc(1, 16), 16);
		nftnl_rule_add_expr(m, e);
		memset(&ro, 0, sizeof(ro));
		nftnl_expr_foreach(m, role_cb, &ro);
		CHECK(ro.bad == 1 && !strcmp(ro.bad_name, "recent"), "an xt match with state (-m recent) cannot be repeated");
		nftnl_rule_free(m);
	}
	r = with_comment(PH_GUARD_TAG " 12345678");
	CHECK(r && nr_is_guard(r, &digest) == 1 && digest == 0x12345678, "a guard tag is read with its digest");
	nftnl_rule_free(r);
	r = with_comment("porthole");
	CHECK(r && nr_is_guard(r, NULL) == 0, "the plain host rule is not a guard rule (the two are reconciled apart)");
	nftnl_rule_free(r);
}

/* container windows' elements and objects refuse what would be wider or
 * longer than a window before anything reaches a batch (none is given) */
static void test_cwin_args(void)
{
	struct nr_cwin w = { .family = AF_INET, .ifindex = 3, .port = 5, .addr = { 192, 0, 2, 2 }, .cport = 80, .pport = 80 };
	struct nr_cwin bad;

	CHECK(nr_cwin_add(NULL, &w, 0) == -EINVAL, "a container window's element without a timeout is refused");
	bad = w, bad.family = AF_UNIX;
	CHECK(nr_cwin_add(NULL, &bad, 1000) == -EINVAL && nr_cwin_del(NULL, &bad) == -EINVAL, "a family other than IPv4/IPv6 is refused");
	bad = w, bad.ifindex = 0;
	CHECK(nr_cwin_add(NULL, &bad, 1000) == -EINVAL, "an element without a bridge is refused");
	bad = w, bad.port = 0;
	CHECK(nr_cwpin_add(NULL, &bad, 1000) == -EINVAL && nr_cwpin_del(NULL, &bad) == -EINVAL,
	      "a pin without its bridge port is refused");
	bad = w, bad.port = w.ifindex;
	CHECK(nr_cwpin_add(NULL, &bad, 1000) == -EINVAL, "a pin to the bridge itself is refused");
	CHECK(nr_cwpin_add(NULL, &w, 0) == -EINVAL, "a pin without a timeout is refused");
	bad = w, bad.cport = 0;
	CHECK(nr_cwpin_add(NULL, &bad, 1000) == -EINVAL, "a pin without the container's port is refused");
	bad = w, bad.family = AF_UNIX;
	CHECK(nr_cwpin_add(NULL, &bad, 1000) == -EINVAL, "a pin of a family other than IPv4/IPv6 is refused");
	bad = w, bad.cport = 0;
	CHECK(nr_cwin_add(NULL, &bad, 1000) == -EINVAL, "an element without the container's port is refused");
	bad = w, bad.pport = 0;
	CHECK(nr_cwin_add(NULL, &bad, 1000) == -EINVAL, "an element without the published port is refused");
	CHECK(nr_add_container_objects(NULL, 0x2000, 0x2000, 0x3fff, 1) == -EINVAL, "CW equal to VALUE is refused");
	CHECK(nr_add_container_objects(NULL, 0x4000, 0x2000, 0x3fff, 1) == -EINVAL, "CW outside the mask is refused");
	CHECK(nr_add_container_objects(NULL, 0, 0x2000, 0x3fff, 1) == -EINVAL, "CW 0 is refused");
	CHECK(nr_add_csrv_objects(NULL, 0xff000000, 0xfe000000, 0xff000000, 0) == -EINVAL, "csrv: DSCP 0 is refused");
	CHECK(nr_add_csrv_objects(NULL, 0xff000000, 0xfe000000, 0xff000000, 64) == -EINVAL, "csrv: DSCP 64 is refused");
	CHECK(nr_add_csrv_objects(NULL, 0xfe000000, 0xfe000000, 0xff000000, 3) == -EINVAL,
	      "csrv: candidate equal to guarded is refused");
	CHECK(nr_add_csrv_objects(NULL, 0xff000000, 0x1fe, 0xff000000, 3) == -EINVAL, "csrv: guarded outside the mask is refused");
	{
		struct nr_csrv e = { .family = AF_INET, .ifindex = 3, .port = 80 };
		e.port = 0;
		CHECK(nr_csrv_add(NULL, &e, 0) == -EINVAL, "csrv: an element without a port is refused (timeout 0: always)");
		e.port = 80;
		e.family = AF_UNIX;
		CHECK(nr_csrv_add(NULL, &e, 1000) == -EINVAL, "csrv: an element of another family is refused");
		e.family = AF_INET6;
		e.ifindex = 0;
		CHECK(nr_csrv_del(NULL, &e) == -EINVAL, "csrv: an element without its bridge is refused");
	}
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
	test_guard_rules();
	test_cwin_args();
	return unit_done("unit/nftrule");
}
