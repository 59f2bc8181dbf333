// SPDX-License-Identifier: GPL-2.0-or-later
/* The building blocks of porthole's nf_tables objects (see nftbuild.h): one
 * function per expression, in the encoding `nft --debug=netlink` prints for
 * the same rule text, plus the rule, set and set-element helpers that
 * nftrule.c (the owner table, host rules) and nftserver.c (server windows,
 * guard rules) both build with. No logging; -errno returns. */
#include "nftbuild.h"
#include "nftrule.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* ---- expressions ------------------------------------------------------------ */

int x_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

struct nftnl_expr *x_alloc(const char *name)
{
	return nftnl_expr_alloc(name);
}

int x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = x_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return x_add(r, e);
}

static int x_meta_set(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = x_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	return x_add(r, e);
}

int x_ct(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = x_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return x_add(r, e);
}

static int x_ct_set(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = x_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	}
	return x_add(r, e);
}

int x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = x_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return x_add(r, e);
}

static int x_cmp_u32(struct nftnl_rule *r, uint32_t op, uint32_t v)
{
	return x_cmp(r, op, &v, sizeof(v));
}

/* reg1 = (reg1 & mask) ^ xor, 32 bits */
static int x_bitwise(struct nftnl_rule *r, uint32_t mask, uint32_t xor)
{
	struct nftnl_expr *e = x_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, sizeof(xor));
	}
	return x_add(r, e);
}

int x_tcp_dport(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = x_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	}
	return x_add(r, e);
}

int x_l4proto_tcp(struct nftnl_rule *r)
{
	uint8_t tcp = IPPROTO_TCP;

	if (x_meta(r, NFT_META_L4PROTO, NFT_REG_1))
		return -ENOMEM;
	return x_cmp(r, NFT_CMP_EQ, &tcp, sizeof(tcp));
}

/* ct state & bits != 0 */
int x_ct_state(struct nftnl_rule *r, uint32_t bits)
{
	if (x_ct(r, NFT_CT_STATE) || x_bitwise(r, bits, 0))
		return -ENOMEM;
	return x_cmp_u32(r, NFT_CMP_NEQ, 0);
}

/* ct status & bits != 0 */
int x_ct_status(struct nftnl_rule *r, uint32_t bits)
{
	if (x_ct(r, NFT_CT_STATUS) || x_bitwise(r, bits, 0))
		return -ENOMEM;
	return x_cmp_u32(r, NFT_CMP_NEQ, 0);
}

/* fib daddr type ==/!= local */
int x_fib_local(struct nftnl_rule *r, uint32_t op)
{
	struct nftnl_expr *e = x_alloc("fib");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	if (x_add(r, e))
		return -ENOMEM;
	return x_cmp_u32(r, op, RTN_LOCAL_TYPE);
}

/* socket mark & mask . tcp dport @windows (the key is 8 bytes: the mark in
 * the first 32-bit register, the port in the next, zero-padded) */
int x_window_lookup(struct nftnl_rule *r, uint32_t mask)
{
	struct nftnl_expr *e = x_alloc("socket");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
	}
	if (x_add(r, e) || x_bitwise(r, mask, 0) || x_tcp_dport(r, NFT_REG32_01))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PH_SET_WINDOWS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SET_ID);
	}
	return x_add(r, e);
}

/* tcp dport @ports: the first test, so that other traffic leaves at once */
int x_watched_port(struct nftnl_rule *r)
{
	struct nftnl_expr *e;

	if (x_tcp_dport(r, NFT_REG_1))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PORTS_SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, PORTS_SET_ID);
	}
	return x_add(r, e);
}

/* (reg1 & mask) == value */
int x_masked_eq(struct nftnl_rule *r, uint32_t mask, uint32_t value)
{
	if (x_bitwise(r, mask, 0))
		return -ENOMEM;
	return x_cmp_u32(r, NFT_CMP_EQ, value);
}

int x_counter(struct nftnl_rule *r)
{
	return x_add(r, x_alloc("counter"));
}

int x_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = x_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return x_add(r, e);
}

int x_accept(struct nftnl_rule *r)
{
	return x_verdict(r, NF_ACCEPT);
}

int x_comment(struct nftnl_rule *r, const char *text)
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
int x_set_bits(struct nftnl_rule *r, int ct, uint32_t value, uint32_t mask)
{
	if ((ct ? x_ct(r, NFT_CT_MARK) : x_meta(r, NFT_META_MARK, NFT_REG_1)) || x_bitwise(r, ~mask, value))
		return -ENOMEM;
	return ct ? x_ct_set(r, NFT_CT_MARK) : x_meta_set(r, NFT_META_MARK);
}

struct nftnl_rule *nb_rule_new(int family, const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

struct nftnl_rule *nb_rule_done(struct nftnl_rule *r, int err)
{
	if (err) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

struct nftnl_set *nb_set_in(int family, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PH_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, (uint32_t)family);
	return s;
}

struct nftnl_set *nb_own_set(const char *name)
{
	return nb_set_in(NFPROTO_INET, name);
}
int nb_batch_key_elem(struct nl_batch *b, const char *set, const void *key, uint32_t keylen, uint64_t timeout_ms,
			  int add_it)
{
	return nb_batch_key_elem_in(b, NFPROTO_INET, set, key, keylen, timeout_ms, add_it);
}

int nb_batch_key_elem_in(struct nl_batch *b, int family, const char *set, const void *key, uint32_t keylen,
			 uint64_t timeout_ms, int add_it)
{
	struct nftnl_set *s = nb_set_in(family, set);
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
	nlh = nftnl_nlmsg_build_hdr(buf, add_it ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, (uint16_t)family,
				    add_it ? NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK : NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
}

/* a copy of every attribute an expression has (the match/target blobs are
 * taken over by libnftnl, so they get a buffer of their own) */
struct nftnl_expr *x_copy_expr(const struct nftnl_expr *src)
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
	struct nftnl_expr *e = x_alloc(target ? "target" : "match");
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
	return x_add(r, e);
}

/* -j CONNMARK --set-xmark VALUE/MASK (revision 1: ctmark, ctmask, nfmask, mode) */
int x_connmark_set(struct nftnl_rule *r, uint32_t value, uint32_t mask)
{
	uint8_t info[16] = { 0 };

	memcpy(info, &value, 4);
	memcpy(info + 4, &mask, 4);
	return x_xt(r, 1, "CONNMARK", 1, info, sizeof(info)); /* nfmask 0, mode XT_CONNMARK_SET */
}

/* -m connmark --mark VALUE/MASK (revision 1: mark, mask, invert) */
int x_connmark_match(struct nftnl_rule *r, uint32_t value, uint32_t mask)
{
	uint8_t info[12] = { 0 };

	memcpy(info, &value, 4);
	memcpy(info + 4, &mask, 4);
	return x_xt(r, 0, "connmark", 1, info, sizeof(info));
}

int nb_batch_rule(struct nl_batch *b, struct nftnl_rule *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!buf) {
		nftnl_rule_free(r);
		return -E2BIG;
	}
	nlh = nftnl_rule_nlmsg_build_hdr(buf, type, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), flags, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nl_batch_push(b);
}

int nb_batch_table(struct nl_batch *b, int family, int del, int owner)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!t || !buf) {
		if (t)
			nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, PH_TABLE);
	if (!del)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, owner ? NFT_TABLE_F_OWNER : 0);
	nlh = nftnl_table_nlmsg_build_hdr(buf, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, (uint16_t)family,
					  del ? NLM_F_ACK : NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nl_batch_push(b);
}

int nb_batch_chain(struct nl_batch *b, int family, const char *name, uint32_t hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!c || !buf) {
		if (c)
			nftnl_chain_free(c);
		return -ENOMEM;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, PH_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, (uint16_t)family, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nl_batch_push(b);
}

int nb_batch_timeout_set(struct nl_batch *b, int family, const char *name, uint32_t key_type, uint32_t key_len,
			 uint32_t set_id)
{
	struct nftnl_set *s = nb_set_in(family, name);
	struct nftnl_expr *ctr = x_alloc("counter");
	struct nlmsghdr *nlh;
	uint32_t seq;
	char *buf = nl_batch_msg(b, &seq);

	if (!s || !ctr || !buf) {
		nftnl_set_free(s);
		nftnl_expr_free(ctr);
		return -ENOMEM;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
	nftnl_set_add_expr(s, ctr); /* each element counts its packets */
	nlh = nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, (uint16_t)family, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nl_batch_push(b);
}
