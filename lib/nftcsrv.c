// SPDX-License-Identifier: GPL-2.0-or-later
/* Guarded container servers' nf_tables objects (see nftcsrv.h). The
 * expression lists are the ones `nft --debug=netlink` prints for the rule
 * text in nftcsrv.h (Linux 6.18, nftables 1.0.6). */
#include "nftcsrv.h"
#include "nftbuild.h"
#include "nftguard.h"
#include "nftrule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

/* well clear of the other sets' ids (1..7, and what step 5 adds) */
#define CSRV_SET_ID  12
#define CSRV6_SET_ID 13
#define TYPE_IPADDR  7
#define TYPE_IP6ADDR 8
#define TYPE_IFINDEX 20
#define CSRV_TYPE(addr) (((((uint32_t)TYPE_IFINDEX << 6) | (addr)) << 6) | TYPE_INET_SERVICE)
#define CSRV_LEN(alen) (4 + (alen) + 4)

struct fam {
	const char *set;
	uint32_t set_id, type;
	uint8_t nfproto;
	uint32_t alen, aoff;   /* the destination address in the network header */
};

static const struct fam fams[2] = {
	{ PH_SET_CSRV, CSRV_SET_ID, CSRV_TYPE(TYPE_IPADDR), NFPROTO_IPV4, 4, 16 },
	{ PH_SET_CSRV6, CSRV6_SET_ID, CSRV_TYPE(TYPE_IP6ADDR), NFPROTO_IPV6, 16, 24 },
};

static int x_nfproto(struct nftnl_rule *r, const struct fam *f)
{
	return x_meta(r, NFT_META_NFPROTO, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &f->nfproto, sizeof(f->nfproto));
}

static int x_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = x_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return x_add(r, e);
}

/* reg 1 = (reg 1 & mask) ^ xor, len bytes (network order data) */
static int x_bits(struct nftnl_rule *r, const void *mask, const void *xor, uint32_t len)
{
	struct nftnl_expr *e = x_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	}
	return x_add(r, e);
}

/* the first two bytes of the network header, rewritten from reg 1 (IPv4:
 * its header checksum fixed) */
static int x_write2(struct nftnl_rule *r, const struct fam *f)
{
	struct nftnl_expr *e = x_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE,
				   f->nfproto == NFPROTO_IPV4 ? NFT_PAYLOAD_CSUM_INET : NFT_PAYLOAD_CSUM_NONE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, f->nfproto == NFPROTO_IPV4 ? 10 : 0);
	}
	return x_add(r, e);
}

/* the DSCP field within the first 16 bits of the header, network order:
 * IPv4's TOS is the second byte (DSCP its top 6 bits); IPv6's traffic
 * class straddles the two bytes */
static uint16_t dscp_mask(const struct fam *f)
{
	return htons(f->nfproto == NFPROTO_IPV4 ? 0x00fc : 0x0fc0);
}

static uint16_t dscp_bits(const struct fam *f, uint8_t dscp)
{
	return htons(f->nfproto == NFPROTO_IPV4 ? (uint16_t)(dscp << 2) : (uint16_t)(dscp << 6));
}

/* ip(6) dscp set dscp: reg 1 = first 16 bits & ~field ^ bits, written back */
static int x_dscp_set(struct nftnl_rule *r, const struct fam *f, uint8_t dscp)
{
	uint16_t keep = (uint16_t)~dscp_mask(f), bits = dscp_bits(f, dscp);

	return x_load(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 2, NFT_REG_1) || x_bits(r, &keep, &bits, 2) || x_write2(r, f);
}

/* ip(6) dscp == dscp */
static int x_dscp_is(struct nftnl_rule *r, const struct fam *f, uint8_t dscp)
{
	uint16_t m = dscp_mask(f), bits = dscp_bits(f, dscp), zero = 0;

	return x_load(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 2, NFT_REG_1) || x_bits(r, &m, &zero, 2) ||
	       x_cmp(r, NFT_CMP_EQ, &bits, 2);
}

static int x_ct_original(struct nftnl_rule *r)
{
	uint8_t dir = IP_CT_DIR_ORIGINAL;

	return x_ct(r, NFT_CT_DIRECTION) || x_cmp(r, NFT_CMP_EQ, &dir, 1);
}

/* meta nfproto F meta l4proto tcp meta oif . ip(6) daddr . tcp dport [!=] @csrv(6) */
static int x_csrv_lookup(struct nftnl_rule *r, const struct fam *f, int miss)
{
	uint32_t reg = NFT_REG32_01 + f->alen / 4; /* the register after the address */
	struct nftnl_expr *e;

	if (x_nfproto(r, f) || x_l4proto_tcp(r) || x_meta(r, NFT_META_OIF, NFT_REG_1) ||
	    x_load(r, NFT_PAYLOAD_NETWORK_HEADER, f->aoff, f->alen, NFT_REG32_01) || x_tcp_dport(r, reg))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, f->set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, f->set_id);
		if (miss)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	return x_add(r, e);
}

/* S1: a new connection DNAT sent to a served container's socket is a candidate */
static struct nftnl_rule *cand_rule(const struct fam *f, uint32_t cand, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);

	if (!r)
		return NULL;
	return nb_rule_done(r, x_l4proto_tcp(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) ||
				       x_ct_status(r, IPS_DST_NAT) || x_csrv_lookup(r, f, 0) || x_set_bits(r, 0, cand, mask));
}

/* S2: a guarded connection goes nowhere but to a served container's socket */
static struct nftnl_rule *drop_rule(const struct fam *f, uint32_t guarded, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);

	if (!r)
		return NULL;
	return nb_rule_done(r, x_ct_original(r) || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) ||
				       x_csrv_lookup(r, f, 1) || x_verdict(r, NF_DROP));
}

/* T1 (set = 0): X taken off what goes to @csrv; T2 (set = 1): X put on a guarded connection's packets */
static struct nftnl_rule *tag_rule(const struct fam *f, int set, uint32_t guarded, uint32_t mask, uint8_t dscp)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_CSRVTAG);
	int err;

	if (!r)
		return NULL;
	if (set)
		err = x_ct_original(r) || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, guarded) || x_nfproto(r, f) ||
		      x_dscp_set(r, f, dscp);
	else
		/* (only toward a served container's socket: where the guard reads X) */
		err = x_nfproto(r, f) || x_dscp_is(r, f, dscp) || x_csrv_lookup(r, f, 0) || x_dscp_set(r, f, 0);
	return nb_rule_done(r, err);
}

static int push(struct nl_batch *b, struct nftnl_rule *r)
{
	return !r || nr_batch_rule(b, r, 1) ? -ENOMEM : 0;
}

int nr_add_csrv_objects(struct nl_batch *b, uint32_t cand, uint32_t guarded, uint32_t mask, uint8_t dscp)
{
	if (!dscp || dscp > 63 || !cand || !guarded || cand == guarded || (cand & ~mask) || (guarded & ~mask))
		return -EINVAL;
	for (int i = 0; i < 2; i++)
		if (nb_batch_timeout_set(b, NFPROTO_INET, fams[i].set, fams[i].type, CSRV_LEN(fams[i].alen),
					 fams[i].set_id))
			return -ENOMEM;
	/* postrouting, not forward: a host rule that rewrites the DSCP in
	 * postrouting (QoS, iptables' mangle DSCP) comes before it, and cannot
	 * take X off a guarded connection (its SYN would come unguarded) */
	if (nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_CSRVTAG, NF_INET_POST_ROUTING, PH_PRIO_CSRVTAG))
		return -ENOMEM;
	/* each rule is inserted first: the chain reads T1, T2 (v4), T1, T2 (v6) */
	for (int i = 1; i >= 0; i--)
		for (int set = 1; set >= 0; set--)
			if (push(b, tag_rule(&fams[i], set, guarded, mask, dscp)))
				return -ENOMEM;
	/* the forward chain reads S1 (v4, v6), S2 (v4, v6), then what was there */
	for (int i = 1; i >= 0; i--)
		if (push(b, drop_rule(&fams[i], guarded, mask)))
			return -ENOMEM;
	for (int i = 1; i >= 0; i--)
		if (push(b, cand_rule(&fams[i], cand, mask)))
			return -ENOMEM;
	return 0;
}

int nr_add_csrv_pre(struct nl_batch *b, uint32_t cp, uint32_t guarded, uint32_t mask)
{
	if (!cp || !guarded || cp == guarded || (cp & ~mask) || (guarded & ~mask))
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
		int err = !r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cp) || x_l4proto_tcp(r) ||
			  x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) || x_ct_status(r, IPS_DST_NAT) ||
			  x_csrv_lookup(r, &fams[i], 0) || x_set_bits(r, 1, guarded, mask);
		r = nb_rule_done(r, err);
		if (!r || nr_batch_rule_at(b, r, 0)) /* appended */
			return -ENOMEM;
	}
	return 0;
}

static int csrv_elem(struct nl_batch *b, const struct nr_csrv *e, uint64_t timeout_ms, int add_it)
{
	const struct fam *f = e->family == AF_INET ? &fams[0] : e->family == AF_INET6 ? &fams[1] : NULL;
	uint8_t key[CSRV_LEN(16)] = { 0 };
	uint16_t port = htons(e->port);

	/* timeout_ms 0: no deadline (an always line's window, open while the
	 * container listens, as a host server's always element) */
	if (!f || !e->ifindex || !e->port)
		return -EINVAL;
	memcpy(key, &e->ifindex, 4); /* oif in host order (meta's), the rest as on the wire */
	memcpy(key + 4, e->addr, f->alen);
	memcpy(key + 4 + f->alen, &port, 2);
	return nb_batch_key_elem(b, f->set, key, CSRV_LEN(f->alen), timeout_ms, add_it);
}

int nr_csrv_add(struct nl_batch *b, const struct nr_csrv *e, uint64_t timeout_ms)
{
	return csrv_elem(b, e, timeout_ms, 1);
}

int nr_csrv_del(struct nl_batch *b, const struct nr_csrv *e)
{
	return csrv_elem(b, e, 0, 0);
}
