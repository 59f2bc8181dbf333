// SPDX-License-Identifier: GPL-2.0-or-later
/* The nf_tables side of server windows (see nftrule.h, nftguard.h): the
 * owner table's set of served cgroups, its per-level candidate rules and
 * guarded-mark rules, and the guard rules (A, B) put into the host's chains
 * at each drop point, repeating the drop rule's matches. No logging; -errno
 * returns. */
#include "nftbuild.h"
#include "nftguard.h"
#include "nftrule.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

/* ---- server windows ---------------------------------------------------------------- */

#define SERVERS_SET_ID 3
#define TYPE_CGROUPV2 46 /* nft's "cgroupsv2" */

static struct nftnl_set *servers_set_new(void)
{
	return nb_own_set(PH_SET_SERVERS);
}

int nr_add_servers_set(struct nl_batch *b)
{
	struct nftnl_set *s = servers_set_new();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!s || !buf) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, (TYPE_CGROUPV2 << 6) | TYPE_INET_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 12);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SERVERS_SET_ID);
	nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
}

/* prerouting, for one cgroup level: a new connection to a local address
 * whose socket lives below a served cgroup with an open window becomes a
 * candidate; the host's chains decide whether it needs the guard */
struct nftnl_rule *nr_server_rule(unsigned level, uint32_t cand, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_PRE);
	struct nftnl_expr *e;
	int err;

	if (!r)
		return NULL;
	err = x_l4proto_tcp(r) || x_watched_port(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) ||
	      x_fib_local(r, NFT_CMP_EQ);
	if (!err) {
		e = x_alloc("socket");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
		}
		err = x_add(r, e) || x_tcp_dport(r, NFT_REG32_02);
	}
	if (!err) {
		e = x_alloc("lookup");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
			nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PH_SET_SERVERS);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SERVERS_SET_ID);
		}
		err = x_add(r, e) || x_set_bits(r, 0, cand, mask);
	}
	return nb_rule_done(r, err);
}

/* the rest of a guarded connection carries the guarded mark (conntrack has
 * it from the host chain's rule A); after DNAT a candidate not for this
 * host loses its mark */
int nr_add_guard_own_rules(struct nl_batch *b, uint32_t cand, uint32_t guarded, uint32_t mask, int csrv)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_PRE);

	if (!r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_set_bits(r, 0, guarded, mask)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	if (nr_batch_rule(b, r, 1))
		return -ENOMEM;
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_UNROUTE);
	if (!r || x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cand) || x_fib_local(r, NFT_CMP_NEQ) ||
	    x_set_bits(r, 0, 0, mask)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	if (nr_batch_rule(b, r, 1))
		return -ENOMEM;
	/* last of all on the way in: whatever a host rule did to the packet
	 * mark, the guard sees what conntrack says (the host's accept reads
	 * conntrack too) */
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_LOCAL);
	if (!r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_set_bits(r, 0, guarded, mask)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	if (nr_batch_rule(b, r, 1))
		return -ENOMEM;
	/* a guarded connection is never forwarded (DNAT before the guard);
	 * with container serve lines nr_add_csrv_objects says instead: except
	 * to a served container's socket */
	if (csrv)
		return 0;
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
	if (!r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_verdict(r, NF_DROP)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	return nr_batch_rule(b, r, 1);
}

static void server_key(uint8_t key[12], uint64_t cgid, uint16_t port)
{
	uint16_t be = htons(port);

	memset(key, 0, 12);
	memcpy(key, &cgid, 8);
	memcpy(key + 8, &be, 2);
}

int nr_server_element(struct nl_batch *b, uint64_t cgid, uint16_t port, uint64_t timeout_ms, int add_it)
{
	uint8_t key[12];

	server_key(key, cgid, port);
	return nb_batch_key_elem(b, PH_SET_SERVERS, key, sizeof(key), timeout_ms, add_it); /* 0: no deadline (always) */
}

/* ---- guard rules in the host's chains (see nftguard.h) ------------------------------- */

struct nftnl_rule *nr_guard_rule_for(const struct ph_chain_ref *chain, const struct nftnl_rule *drop, uint32_t digest,
				     int accept, uint16_t port, uint32_t cand, uint32_t guarded, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(chain->family, chain->table, chain->chain);
	int xt = chain->family == NFPROTO_IPV4 || chain->family == NFPROTO_IPV6; /* iptables-nft's shape */
	uint16_t be = htons(port);
	char tag[48];
	int err;

	if (!r)
		return NULL;
	snprintf(tag, sizeof(tag), "%s %08x", PH_GUARD_TAG, digest);
	err = x_l4proto_tcp(r) || x_tcp_dport(r, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &be, sizeof(be));
	if (!err && !accept) {
		err = x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cand);
		if (!err && drop)
			err = nr_copy_matches(r, drop);
		if (!err)
			err = xt ? x_connmark_set(r, guarded, mask) : x_set_bits(r, 1, guarded, mask);
	} else if (!err) {
		err = xt ? x_connmark_match(r, guarded, mask) : (x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded));
		if (!err)
			err = x_counter(r) || x_accept(r);
	}
	if (!err)
		err = x_comment(r, tag);
	return nb_rule_done(r, err);
}

int nr_batch_rule_at(struct nl_batch *b, struct nftnl_rule *r, uint64_t before)
{
	if (before)
		nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, before); /* no NLM_F_APPEND: before that rule */
	return nb_batch_rule(b, r, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_ACK | (before ? 0 : NLM_F_APPEND));
}
