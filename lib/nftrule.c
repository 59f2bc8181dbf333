// SPDX-License-Identifier: GPL-2.0-or-later
/* Building porthole's nf_tables objects with libnftnl (see nftrule.h). The
 * expression lists are the ones `nft --debug=netlink` prints for the same
 * rules, checked on Linux 6.18 with real packets. This file owns the owner
 * table (chains, sets, its own rules), the host rule, the windows' set
 * elements and the batch messages for them; nftbuild.c holds the
 * expressions, nftserver.c server windows and guard rules, nftmatch.c
 * recognising what is already in the ruleset. */
#include "nftbuild.h"
#include "nftrule.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

struct nftnl_rule *nr_host_rule(const struct ph_chain_ref *c, uint16_t port, uint32_t value, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(c->family, c->table, c->chain);
	uint16_t be = htons(port);

	if (!r)
		return NULL;
	return nb_rule_done(r, x_l4proto_tcp(r) || x_tcp_dport(r, NFT_REG_1) ||
			    x_cmp(r, NFT_CMP_EQ, &be, sizeof(be)) ||
			    x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, value) ||
			    x_counter(r) || x_accept(r) || x_comment(r, PH_RULE_TAG));
}

/* the rules of porthole's own chains */
enum {
	OWN_MARK_NEW,       /* pre: a new connection to a live window's socket, to a local address */
	OWN_COUNT,          /* pre: the rest of it, counted against its window */
	OWN_MARK_REST,      /* pre: every packet of it carries the mark */
	OWN_UNROUTE,        /* unroute: after DNAT, not local any more: the packet loses it */
	OWN_LOCAL_OK,       /* local: its first packet reached a live window's socket: leave */
	OWN_LOCAL_DROP,     /* local: ... or was sent elsewhere (REDIRECT, DNAT): dropped */
	OWN_FORWARD_DROP,   /* forward: a marked connection is never forwarded */
	OWN_MAX
};

static struct nftnl_rule *own_rule(int which, uint32_t value, uint32_t mask)
{
	const char *chain = which == OWN_UNROUTE ? PH_CHAIN_UNROUTE : which == OWN_FORWARD_DROP ? PH_CHAIN_FORWARD :
			    which >= OWN_LOCAL_OK ? PH_CHAIN_LOCAL : PH_CHAIN_PRE;
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, chain);
	int err;

	if (!r)
		return NULL;
	switch (which) {
	case OWN_MARK_NEW:
		err = x_l4proto_tcp(r) || x_watched_port(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) ||
		      x_fib_local(r, NFT_CMP_EQ) || x_window_lookup(r, mask) ||
		      x_set_bits(r, 0, value, mask) || x_set_bits(r, 1, value, mask);
		break;
	case OWN_COUNT:
		err = x_ct_state(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED)) || x_ct(r, NFT_CT_MARK) ||
		      x_masked_eq(r, mask, value) || x_l4proto_tcp(r) || x_window_lookup(r, mask);
		break;
	case OWN_MARK_REST: /* (the handshake's last ACK finds a request
			     * socket, which `socket` does not match) */
		err = x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, value) || x_set_bits(r, 0, value, mask);
		break;
	case OWN_UNROUTE:
		err = x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, value) ||
		      x_fib_local(r, NFT_CMP_NEQ) || x_set_bits(r, 0, 0, mask);
		break;
	case OWN_LOCAL_OK:
	case OWN_LOCAL_DROP:
		/* after every NAT and every host chain: the socket the SYN
		 * really reaches must be the window's */
		err = x_l4proto_tcp(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) || x_ct(r, NFT_CT_MARK) ||
		      x_masked_eq(r, mask, value) ||
		      (which == OWN_LOCAL_OK ? x_window_lookup(r, mask) || x_verdict(r, NFT_RETURN)
					     : x_verdict(r, NF_DROP));
		break;
	default: /* OWN_FORWARD_DROP: DNAT sent it to another host */
		err = x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, value) || x_verdict(r, NF_DROP);
		break;
	}
	return nb_rule_done(r, err);
}

/* ---- batch messages ------------------------------------------------------------- */

int nr_batch_rule(struct nl_batch *b, struct nftnl_rule *r, int add_it)
{
	/* no NLM_F_APPEND and no position: an added rule goes first */
	return nb_batch_rule(b, r, add_it ? NFT_MSG_NEWRULE : NFT_MSG_DELRULE,
			     add_it ? NLM_F_CREATE | NLM_F_ACK | NLM_F_ECHO : NLM_F_ACK);
}

static struct nftnl_set *set_new(void)
{
	return nb_own_set(PH_SET_WINDOWS);
}

static int batch_ports(struct nl_batch *b, const uint16_t *ports, unsigned nports)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PH_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, PORTS_SET);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_CONSTANT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, TYPE_INET_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
	nftnl_set_set_u32(s, NFTNL_SET_ID, PORTS_SET_ID);
	buf = nl_batch_msg(b, &seq);
	if (!buf) {
		nftnl_set_free(s);
		return -E2BIG;
	}
	nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	if (nl_batch_push(b)) {
		nftnl_set_free(s);
		return -E2BIG;
	}
	for (unsigned i = 0; i < nports; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint16_t be = htons(ports[i]);
		if (!e) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &be, sizeof(be));
		nftnl_set_elem_add(s, e);
	}
	buf = nl_batch_msg(b, &seq);
	if (!buf) {
		nftnl_set_free(s);
		return -E2BIG;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
}

int nr_add_table(struct nl_batch *b, uint32_t value, uint32_t mask, int owner, const uint16_t *ports, unsigned nports)
{
	int err = nb_batch_table(b, NFPROTO_INET, 0, owner) ||
		  nb_batch_timeout_set(b, NFPROTO_INET, PH_SET_WINDOWS, (TYPE_MARK << 6) | TYPE_INET_SERVICE, 8, SET_ID) ||
		  batch_ports(b, ports, nports) ||
		  nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_PRE, NF_INET_PRE_ROUTING, PH_PRIO_PRE) ||
		  nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_UNROUTE, NF_INET_PRE_ROUTING, PH_PRIO_UNROUTE) ||
		  nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_LOCAL, NF_INET_LOCAL_IN, PH_PRIO_LOCAL) ||
		  nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_FORWARD, NF_INET_FORWARD, PH_PRIO_FORWARD);

	if (err)
		return -ENOMEM;
	/* each insert goes first: add them last to first */
	for (int which = OWN_MAX - 1; which >= 0; which--) {
		struct nftnl_rule *r = own_rule(which, value, mask);
		if (!r || nr_batch_rule(b, r, 1))
			return -ENOMEM;
	}
	return 0;
}

int nr_del_table(struct nl_batch *b)
{
	return nb_batch_table(b, NFPROTO_INET, 1, 0);
}

static void elem_key(uint8_t key[8], uint32_t mark, uint16_t port)
{
	uint16_t be = htons(port);

	memset(key, 0, 8);
	memcpy(key, &mark, 4);
	memcpy(key + 4, &be, 2);
}

static int batch_elem(struct nl_batch *b, uint32_t mark, uint16_t port, uint64_t timeout_ms, int add_it)
{
	uint8_t key[8];

	elem_key(key, mark, port);
	return nb_batch_key_elem(b, PH_SET_WINDOWS, key, sizeof(key), timeout_ms, add_it);
}

int nr_add_element(struct nl_batch *b, uint32_t mark, uint16_t port, uint64_t timeout_ms)
{
	return batch_elem(b, mark, port, timeout_ms ? timeout_ms : 1, 1);
}

int nr_del_element(struct nl_batch *b, uint32_t mark, uint16_t port)
{
	return batch_elem(b, mark, port, 0, 0);
}

struct elem_q {
	uint32_t mark;
	uint16_t port;
	struct nftnl_set *s;
};

static struct nlmsghdr *build_elem_get(char *buf, uint32_t seq, void *arg)
{
	struct elem_q *q = arg;
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;
	uint8_t key[8];

	if (!e)
		return NULL;
	elem_key(key, q->mark, q->port);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	nftnl_set_elem_add(q->s, e);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, q->s);
	return nlh;
}

struct elem_ctr {
	uint64_t packets, bytes;
	int found;
};

static int elem_expr_cb(struct nftnl_expr *e, void *data)
{
	struct elem_ctr *c = data;

	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter")) {
		c->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		c->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static int elem_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elem_ctr *c = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0 && (it = nftnl_set_elems_iter_create(s))) {
		while ((e = nftnl_set_elems_iter_next(it))) {
			c->found = 1;
			nftnl_set_elem_expr_foreach(e, elem_expr_cb, c);
		}
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

int nr_get_element(struct ph_nl *n, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	struct elem_q q = { .mark = mark, .port = port, .s = set_new() };
	struct elem_ctr c = { 0 };
	int r;

	if (!q.s)
		return -ENOMEM;
	r = nl_request(n, build_elem_get, &q, elem_reply_cb, &c);
	nftnl_set_free(q.s);
	if (r)
		return r;
	if (!c.found)
		return -ENOENT;
	*packets = c.packets;
	*bytes = c.bytes;
	return 0;
}
