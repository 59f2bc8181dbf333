// SPDX-License-Identifier: GPL-2.0-or-later
/* Building porthole's nf_tables objects with libnftnl (see nftrule.h). The
 * expression lists are the ones `nft --debug=netlink` prints for the same
 * rules, checked on Linux 6.18 with real packets. */
#include "nftrule.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define SET_ID 1
#define PORTS_SET_ID 2
#define PORTS_SET "ports"
#define RTN_LOCAL_TYPE 2
/* nft's own datatype numbers, so that `nft list` prints the set's type */
#define TYPE_MARK 19
#define TYPE_INET_SERVICE 13
#define XT_COMMENT_LEN 256

/* ---- expressions ------------------------------------------------------------ */

static int add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static struct nftnl_expr *e_alloc(const char *name)
{
	return nftnl_expr_alloc(name);
}

static int x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = e_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add(r, e);
}

static int x_meta_set(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = e_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	return add(r, e);
}

static int x_ct(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = e_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return add(r, e);
}

static int x_ct_set(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = e_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	}
	return add(r, e);
}

static int x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = e_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add(r, e);
}

static int x_cmp_u32(struct nftnl_rule *r, uint32_t op, uint32_t v)
{
	return x_cmp(r, op, &v, sizeof(v));
}

/* reg1 = (reg1 & mask) ^ xor, 32 bits */
static int x_bitwise(struct nftnl_rule *r, uint32_t mask, uint32_t xor)
{
	struct nftnl_expr *e = e_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, sizeof(xor));
	}
	return add(r, e);
}

static int x_tcp_dport(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = e_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	}
	return add(r, e);
}

static int x_l4proto_tcp(struct nftnl_rule *r)
{
	uint8_t tcp = IPPROTO_TCP;

	if (x_meta(r, NFT_META_L4PROTO, NFT_REG_1))
		return -ENOMEM;
	return x_cmp(r, NFT_CMP_EQ, &tcp, sizeof(tcp));
}

/* ct state & bits != 0 */
static int x_ct_state(struct nftnl_rule *r, uint32_t bits)
{
	if (x_ct(r, NFT_CT_STATE) || x_bitwise(r, bits, 0))
		return -ENOMEM;
	return x_cmp_u32(r, NFT_CMP_NEQ, 0);
}

/* fib daddr type ==/!= local */
static int x_fib_local(struct nftnl_rule *r, uint32_t op)
{
	struct nftnl_expr *e = e_alloc("fib");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	if (add(r, e))
		return -ENOMEM;
	return x_cmp_u32(r, op, RTN_LOCAL_TYPE);
}

/* socket mark & mask . tcp dport @windows (the key is 8 bytes: the mark in
 * the first 32-bit register, the port in the next, zero-padded) */
static int x_window_lookup(struct nftnl_rule *r, uint32_t mask)
{
	struct nftnl_expr *e = e_alloc("socket");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
	}
	if (add(r, e) || x_bitwise(r, mask, 0) || x_tcp_dport(r, NFT_REG32_01))
		return -ENOMEM;
	e = e_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PH_SET_WINDOWS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SET_ID);
	}
	return add(r, e);
}

/* tcp dport @ports: the first test, so that other traffic leaves at once */
static int x_watched_port(struct nftnl_rule *r)
{
	struct nftnl_expr *e;

	if (x_tcp_dport(r, NFT_REG_1))
		return -ENOMEM;
	e = e_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PORTS_SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, PORTS_SET_ID);
	}
	return add(r, e);
}

/* (reg1 & mask) == value */
static int x_masked_eq(struct nftnl_rule *r, uint32_t mask, uint32_t value)
{
	if (x_bitwise(r, mask, 0))
		return -ENOMEM;
	return x_cmp_u32(r, NFT_CMP_EQ, value);
}

static int x_counter(struct nftnl_rule *r)
{
	return add(r, e_alloc("counter"));
}

static int x_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = e_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return add(r, e);
}

static int x_accept(struct nftnl_rule *r)
{
	return x_verdict(r, NF_ACCEPT);
}

static int x_comment(struct nftnl_rule *r, const char *text)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, text)) {
		nftnl_udata_buf_free(ud);
		return -ENOMEM;
	}
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

/* reg1 <- KEY; reg1 = reg1 & ~mask | value; KEY <- reg1 (meta or ct mark) */
static int x_set_bits(struct nftnl_rule *r, int ct, uint32_t value, uint32_t mask)
{
	if ((ct ? x_ct(r, NFT_CT_MARK) : x_meta(r, NFT_META_MARK, NFT_REG_1)) || x_bitwise(r, ~mask, value))
		return -ENOMEM;
	return ct ? x_ct_set(r, NFT_CT_MARK) : x_meta_set(r, NFT_META_MARK);
}

static struct nftnl_rule *rule_new(int family, const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static struct nftnl_rule *rule_done(struct nftnl_rule *r, int err)
{
	if (err) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

struct nftnl_rule *nr_host_rule(const struct ph_chain_ref *c, uint16_t port, uint32_t value, uint32_t mask)
{
	struct nftnl_rule *r = rule_new(c->family, c->table, c->chain);
	uint16_t be = htons(port);

	if (!r)
		return NULL;
	return rule_done(r, x_l4proto_tcp(r) || x_tcp_dport(r, NFT_REG_1) ||
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
	struct nftnl_rule *r = rule_new(NFPROTO_INET, PH_TABLE, chain);
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
	return rule_done(r, err);
}

/* ---- batch messages ------------------------------------------------------------- */

int nr_batch_rule(struct nl_batch *b, struct nftnl_rule *r, int add_it)
{
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!buf) {
		nftnl_rule_free(r);
		return -E2BIG;
	}
	/* no NLM_F_APPEND and no position: an added rule goes first */
	nlh = nftnl_rule_nlmsg_build_hdr(buf, add_it ? NFT_MSG_NEWRULE : NFT_MSG_DELRULE,
					 (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
					 add_it ? NLM_F_CREATE | NLM_F_ACK | NLM_F_ECHO : NLM_F_ACK, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nl_batch_push(b);
}

static int batch_chain(struct nl_batch *b, const char *name, uint32_t hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!c || !buf) {
		nftnl_chain_free(c);
		return -ENOMEM;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, PH_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nl_batch_push(b);
}

static int batch_table(struct nl_batch *b, int del, int owner)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!t || !buf) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, PH_TABLE);
	if (!del)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, owner ? NFT_TABLE_F_OWNER : 0);
	nlh = nftnl_table_nlmsg_build_hdr(buf, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, NFPROTO_INET,
					  del ? NLM_F_ACK : NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nl_batch_push(b);
}

/* a handle on one of porthole's sets, by name */
static struct nftnl_set *own_set(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PH_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

static struct nftnl_set *set_new(void)
{
	return own_set(PH_SET_WINDOWS);
}

static int batch_set(struct nl_batch *b)
{
	struct nftnl_set *s = set_new();
	struct nftnl_expr *ctr = e_alloc("counter");
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!s || !ctr || !buf) {
		nftnl_set_free(s);
		nftnl_expr_free(ctr);
		return -ENOMEM;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, (TYPE_MARK << 6) | TYPE_INET_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 8);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SET_ID);
	nftnl_set_add_expr(s, ctr); /* every element counts its packets */
	nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
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
	int err = batch_table(b, 0, owner) || batch_set(b) || batch_ports(b, ports, nports) ||
		  batch_chain(b, PH_CHAIN_PRE, NF_INET_PRE_ROUTING, PH_PRIO_PRE) ||
		  batch_chain(b, PH_CHAIN_UNROUTE, NF_INET_PRE_ROUTING, PH_PRIO_UNROUTE) ||
		  batch_chain(b, PH_CHAIN_LOCAL, NF_INET_LOCAL_IN, PH_PRIO_LOCAL) ||
		  batch_chain(b, PH_CHAIN_FORWARD, NF_INET_FORWARD, PH_PRIO_FORWARD);

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
	return batch_table(b, 1, 0);
}

static void elem_key(uint8_t key[8], uint32_t mark, uint16_t port)
{
	uint16_t be = htons(port);

	memset(key, 0, 8);
	memcpy(key, &mark, 4);
	memcpy(key + 4, &be, 2);
}

/* One element of one of porthole's sets, added (timeout_ms > 0: with that
 * timeout) or deleted. */
static int batch_key_elem(struct nl_batch *b, const char *set, const void *key, uint32_t keylen, uint64_t timeout_ms,
			  int add_it)
{
	struct nftnl_set *s = own_set(set);
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!s || !e || !buf) {
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		return -ENOMEM;
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, keylen);
	if (add_it && timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	nlh = nftnl_nlmsg_build_hdr(buf, add_it ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_INET,
				    add_it ? NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK : NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
}

static int batch_elem(struct nl_batch *b, uint32_t mark, uint16_t port, uint64_t timeout_ms, int add_it)
{
	uint8_t key[8];

	elem_key(key, mark, port);
	return batch_key_elem(b, PH_SET_WINDOWS, key, sizeof(key), timeout_ms, add_it);
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

static int guard_comment_cb(const struct nftnl_udata *attr, void *data)
{
	size_t tl = strlen(PH_GUARD_TAG), n = nftnl_udata_len(attr);
	const char *s = nftnl_udata_get(attr);
	uint32_t *d = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && n > tl + 1 && !memcmp(s, PH_GUARD_TAG " ", tl + 1)) {
		char hex[9] = { 0 };
		memcpy(hex, s + tl + 1, n - tl - 1 < 8 ? n - tl - 1 : 8);
		d[0] = 1;
		d[1] = (uint32_t)strtoul(hex, NULL, 16);
	}
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

/* ---- server windows ---------------------------------------------------------------- */

#define SERVERS_SET_ID 3
#define TYPE_CGROUPV2 46 /* nft's "cgroupsv2" */

static struct nftnl_set *servers_set_new(void)
{
	return own_set(PH_SET_SERVERS);
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
	struct nftnl_rule *r = rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_PRE);
	struct nftnl_expr *e;
	int err;

	if (!r)
		return NULL;
	err = x_l4proto_tcp(r) || x_watched_port(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) ||
	      x_fib_local(r, NFT_CMP_EQ);
	if (!err) {
		e = e_alloc("socket");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
		}
		err = add(r, e) || x_tcp_dport(r, NFT_REG32_02);
	}
	if (!err) {
		e = e_alloc("lookup");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
			nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PH_SET_SERVERS);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SERVERS_SET_ID);
		}
		err = add(r, e) || x_set_bits(r, 0, cand, mask);
	}
	return rule_done(r, err);
}

/* the rest of a guarded connection carries the guarded mark (conntrack has
 * it from the host chain's rule A); after DNAT a candidate not for this
 * host loses its mark */
int nr_add_guard_own_rules(struct nl_batch *b, uint32_t cand, uint32_t guarded, uint32_t mask)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_PRE);

	if (!r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_set_bits(r, 0, guarded, mask)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	if (nr_batch_rule(b, r, 1))
		return -ENOMEM;
	r = rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_UNROUTE);
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
	r = rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_LOCAL);
	if (!r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_set_bits(r, 0, guarded, mask)) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	if (nr_batch_rule(b, r, 1))
		return -ENOMEM;
	/* a guarded connection is never forwarded (DNAT before the guard) */
	r = rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
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
	return batch_key_elem(b, PH_SET_SERVERS, key, sizeof(key), timeout_ms, add_it); /* 0: no deadline (always) */
}

/* ---- guard rules in the host's chains (see nftguard.h) ------------------------------- */

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

/* a copy of every attribute an expression has (the match/target blobs are
 * taken over by libnftnl, so they get a buffer of their own) */
static struct nftnl_expr *copy_expr(const struct nftnl_expr *src)
{
	const char *name = nftnl_expr_get_str(src, NFTNL_EXPR_NAME);
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	int blob_attr = !strcmp(name, "match") ? NFTNL_EXPR_MT_INFO : -1;

	if (!e)
		return NULL;
	for (uint16_t t = NFTNL_EXPR_BASE; t < 32; t++) {
		uint32_t len = 0;
		const void *d;
		if (!nftnl_expr_is_set(src, t))
			continue;
		d = nftnl_expr_get(src, t, &len);
		if (!d)
			continue;
		if (t == blob_attr) {
			void *copy = malloc(len ? len : 1);
			if (!copy) {
				nftnl_expr_free(e);
				return NULL;
			}
			memcpy(copy, d, len);
			nftnl_expr_set(e, t, copy, len);
		} else {
			nftnl_expr_set(e, t, d, len);
		}
	}
	return e;
}

static int x_xt(struct nftnl_rule *r, int target, const char *name, uint32_t rev, const void *info, size_t len)
{
	struct nftnl_expr *e = e_alloc(target ? "target" : "match");
	void *copy = malloc(len);

	if (!e || !copy) {
		nftnl_expr_free(e);
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, info, len);
	nftnl_expr_set_str(e, target ? NFTNL_EXPR_TG_NAME : NFTNL_EXPR_MT_NAME, name);
	nftnl_expr_set_u32(e, target ? NFTNL_EXPR_TG_REV : NFTNL_EXPR_MT_REV, rev);
	nftnl_expr_set(e, target ? NFTNL_EXPR_TG_INFO : NFTNL_EXPR_MT_INFO, copy, (uint32_t)len);
	return add(r, e);
}

/* -j CONNMARK --set-xmark VALUE/MASK (revision 1: ctmark, ctmask, nfmask, mode) */
static int x_connmark_set(struct nftnl_rule *r, uint32_t value, uint32_t mask)
{
	uint8_t info[16] = { 0 };

	memcpy(info, &value, 4);
	memcpy(info + 4, &mask, 4);
	return x_xt(r, 1, "CONNMARK", 1, info, sizeof(info)); /* nfmask 0, mode XT_CONNMARK_SET */
}

/* -m connmark --mark VALUE/MASK (revision 1: mark, mask, invert) */
static int x_connmark_match(struct nftnl_rule *r, uint32_t value, uint32_t mask)
{
	uint8_t info[12] = { 0 };

	memcpy(info, &value, 4);
	memcpy(info + 4, &mask, 4);
	return x_xt(r, 0, "connmark", 1, info, sizeof(info));
}

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
	c->err = add(c->r, copy_expr(e));
	return 0;
}

struct nftnl_rule *nr_guard_rule_for(const struct ph_chain_ref *chain, const struct nftnl_rule *drop, uint32_t digest,
				     int accept, uint16_t port, uint32_t cand, uint32_t guarded, uint32_t mask)
{
	struct nftnl_rule *r = rule_new(chain->family, chain->table, chain->chain);
	int xt = chain->family == NFPROTO_IPV4 || chain->family == NFPROTO_IPV6; /* iptables-nft's shape */
	uint16_t be = htons(port);
	char tag[48];
	int err;

	if (!r)
		return NULL;
	snprintf(tag, sizeof(tag), "%s %08x", PH_GUARD_TAG, digest);
	err = x_l4proto_tcp(r) || x_tcp_dport(r, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &be, sizeof(be));
	if (!err && !accept) {
		struct copy_ctx c = { r, 0 };
		err = x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cand);
		if (!err && drop) {
			nftnl_expr_foreach((struct nftnl_rule *)drop, copy_cb, &c);
			err = c.err;
		}
		if (!err)
			err = xt ? x_connmark_set(r, guarded, mask) : x_set_bits(r, 1, guarded, mask);
	} else if (!err) {
		err = xt ? x_connmark_match(r, guarded, mask) : (x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded));
		if (!err)
			err = x_counter(r) || x_accept(r);
	}
	if (!err)
		err = x_comment(r, tag);
	return rule_done(r, err);
}

int nr_batch_rule_at(struct nl_batch *b, struct nftnl_rule *r, uint64_t before)
{
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!buf) {
		nftnl_rule_free(r);
		return -E2BIG;
	}
	if (before)
		nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, before); /* no NLM_F_APPEND: before that rule */
	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
					 NLM_F_CREATE | NLM_F_ACK | (before ? 0 : NLM_F_APPEND), seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nl_batch_push(b);
}
