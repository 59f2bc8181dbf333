// SPDX-License-Identifier: GPL-2.0-or-later
/* Container windows' nf_tables objects (see nftcontainer.h): the sets cwin
 * and cwin6, the forward chain's admission rules F1 and F2, and the sets'
 * elements. The expression lists are the ones `nft --debug=netlink` prints
 * for the rule text in nftcontainer.h (Linux 6.18, nftables 1.0.6). No
 * logging; -errno returns. */
#include "nftcontainer.h"
#include "nftbuild.h"
#include "nftguard.h"
#include "nftrule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/if_ether.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#define CWIN_SET_ID  4
#define CWIN6_SET_ID 5
#define PIN_SET_ID   6
#define PIN6_SET_ID  7
/* nft's datatype numbers; a concatenation's type is theirs, 6 bits each,
 * the first field highest */
#define TYPE_IPADDR  7
#define TYPE_IP6ADDR 8
#define TYPE_IFINDEX 20
#define CONCAT_TYPE(addr) ((((((uint32_t)TYPE_IFINDEX << 6) | (addr)) << 6) | TYPE_INET_SERVICE) << 6 | TYPE_INET_SERVICE)
#define PIN_TYPE(addr) ((((uint32_t)(addr) << 6) | TYPE_IFINDEX) << 6 | TYPE_INET_SERVICE)
/* the key: ifindex, address, port, port (a pin's: address, ifindex,
 * port); each field in 32-bit words */
#define KEY_LEN(alen) (4 + (alen) + 4 + 4)
#define PIN_LEN(alen) ((alen) + 4 + 4)

struct fam {
	const char *set, *pin;
	uint32_t set_id, pin_id, type, pin_type;
	uint8_t nfproto;
	uint32_t alen, aoff; /* the destination address in the network header */
};

static const struct fam fams[2] = {
	{ PH_SET_CWIN, PH_SET_CWPIN, CWIN_SET_ID, PIN_SET_ID, CONCAT_TYPE(TYPE_IPADDR), PIN_TYPE(TYPE_IPADDR),
	  NFPROTO_IPV4, 4, 16 },
	{ PH_SET_CWIN6, PH_SET_CWPIN6, CWIN6_SET_ID, PIN6_SET_ID, CONCAT_TYPE(TYPE_IP6ADDR), PIN_TYPE(TYPE_IP6ADDR),
	  NFPROTO_IPV6, 16, 24 },
};

static const struct fam *fam_of(int family)
{
	return family == AF_INET ? &fams[0] : family == AF_INET6 ? &fams[1] : NULL;
}

/* cwin(6) in the inet table (pin = 0) or cwpin(6) in the bridge table */
static int batch_set(struct nl_batch *b, const struct fam *f, int pin)
{
	return pin ? nb_batch_timeout_set(b, NFPROTO_BRIDGE, f->pin, f->pin_type, PIN_LEN(f->alen), f->pin_id)
		   : nb_batch_timeout_set(b, NFPROTO_INET, f->set, f->type, KEY_LEN(f->alen), f->set_id);
}

static int x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
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

/* ct original proto-dst => dreg */
static int x_ct_orig_dport(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = x_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_PROTO_DST);
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	}
	return x_add(r, e);
}

/* meta nfproto F meta oif . (ip|ip6) daddr . tcp dport . ct original proto-dst @SET
 * (the key's fields in consecutive 32-bit registers from reg 1 on) */
static int x_cwin_lookup(struct nftnl_rule *r, const struct fam *f)
{
	uint32_t reg = NFT_REG32_01 + f->alen / 4; /* the register after the address */
	struct nftnl_expr *e;

	if (x_meta(r, NFT_META_NFPROTO, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &f->nfproto, sizeof(f->nfproto)) ||
	    x_meta(r, NFT_META_OIF, NFT_REG_1) ||
	    x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, f->aoff, f->alen, NFT_REG32_01) ||
	    x_tcp_dport(r, reg) || x_ct_orig_dport(r, reg + 1))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, f->set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, f->set_id);
	}
	return x_add(r, e);
}

/* ip(6) daddr . meta oif . tcp dport != @cwpin(6) */
static int x_pin_miss(struct nftnl_rule *r, const struct fam *f)
{
	uint32_t reg = NFT_REG32_00 + f->alen / 4; /* the register after the address */
	struct nftnl_expr *e;

	if (x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, f->aoff, f->alen, NFT_REG32_00) ||
	    x_meta(r, NFT_META_OIF, reg) || x_tcp_dport(r, reg + 1))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, f->pin);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, f->pin_id);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	return x_add(r, e);
}

/* P: meta protocol ip(6) meta mark & MASK == CW meta l4proto tcp
 *    ip(6) daddr . meta oif . tcp dport != @cwpin(6) counter drop */
static struct nftnl_rule *pin_rule(const struct fam *f, uint32_t cw, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_BRIDGE, PH_TABLE, PH_CHAIN_PIN);
	uint16_t proto = htons(f->nfproto == NFPROTO_IPV4 ? ETH_P_IP : ETH_P_IPV6);

	if (!r)
		return NULL;
	return nb_rule_done(r, x_meta(r, NFT_META_PROTOCOL, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto)) ||
				       x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cw) || x_l4proto_tcp(r) ||
				       x_pin_miss(r, f) || x_counter(r) || x_verdict(r, NF_DROP));
}

/* T: ct mark & MASK == CW meta mark & MASK == VALUE meta mark set meta mark & ~MASK | CW
 * (after every host forward chain: the packet the host accepted by VALUE
 * leaves tagged CW, which the bridge table can read; it has no conntrack) */
static struct nftnl_rule *tag_rule(uint32_t cw, uint32_t value, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_CWTAG);

	if (!r)
		return NULL;
	return nb_rule_done(r, x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cw) ||
				       x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, value) ||
				       x_set_bits(r, 0, cw, mask));
}

/* F1 (first = 1): a new connection DNAT sent to a window's socket; F2: the
 * rest of it, while the element lives */
static struct nftnl_rule *cwin_rule(const struct fam *f, int first, uint32_t cw, uint32_t value, uint32_t mask)
{
	struct nftnl_rule *r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
	int err;

	if (!r)
		return NULL;
	if (first)
		err = x_l4proto_tcp(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) || x_ct_status(r, IPS_DST_NAT) ||
		      x_cwin_lookup(r, f) || x_set_bits(r, 1, cw, mask) || x_set_bits(r, 0, value, mask);
	else
		err = x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cw) || x_l4proto_tcp(r) || x_cwin_lookup(r, f) ||
		      x_set_bits(r, 0, value, mask);
	return nb_rule_done(r, err);
}

int nr_add_container_objects(struct nl_batch *b, uint32_t cw, uint32_t value, uint32_t mask, int owner)
{
	struct nftnl_rule *r;

	if (!cw || cw == value || (cw & ~mask))
		return -EINVAL;
	if (batch_set(b, &fams[0], 0) || batch_set(b, &fams[1], 0))
		return -ENOMEM;
	if (nb_batch_chain(b, NFPROTO_INET, PH_CHAIN_CWTAG, NF_INET_FORWARD, PH_PRIO_CWTAG) || nb_batch_table(b, NFPROTO_BRIDGE, 0, owner) ||
	    nb_batch_chain(b, NFPROTO_BRIDGE, PH_CHAIN_PIN, NF_BR_LOCAL_OUT, NF_BR_PRI_FILTER_BRIDGED) ||
	    batch_set(b, &fams[0], 1) || batch_set(b, &fams[1], 1))
		return -ENOMEM;
	r = tag_rule(cw, value, mask);
	if (!r || nr_batch_rule(b, r, 1))
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		r = pin_rule(&fams[i], cw, mask);
		if (!r || nr_batch_rule(b, r, 1))
			return -ENOMEM;
	}
	/* each rule is inserted first: F2 before F1, IPv6 before IPv4, so the
	 * chain reads F1 (v4, v6), F2 (v4, v6), then what was there */
	for (int first = 0; first <= 1; first++)
		for (int i = 1; i >= 0; i--) {
			r = cwin_rule(&fams[i], first, cw, value, mask);
			if (!r || nr_batch_rule(b, r, 1))
				return -ENOMEM;
		}
	return 0;
}

int nr_del_container_objects(struct nl_batch *b)
{
	return nb_batch_table(b, NFPROTO_BRIDGE, 1, 0);
}

static int cwin_elem(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms, int add_it)
{
	const struct fam *f = fam_of(w->family);
	uint8_t key[KEY_LEN(16)] = { 0 };
	uint16_t cport = htons(w->cport), pport = htons(w->pport);

	if (!f || !w->ifindex || !w->cport || !w->pport || (add_it && !timeout_ms))
		return -EINVAL;
	/* oif in host order (meta's), the rest as on the wire */
	memcpy(key, &w->ifindex, 4);
	memcpy(key + 4, w->addr, f->alen);
	memcpy(key + 4 + f->alen, &cport, 2);
	memcpy(key + 8 + f->alen, &pport, 2);
	return nb_batch_key_elem(b, f->set, key, KEY_LEN(f->alen), timeout_ms, add_it);
}

int nr_cwin_add(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms)
{
	return cwin_elem(b, w, timeout_ms, 1);
}

int nr_cwin_del(struct nl_batch *b, const struct nr_cwin *w)
{
	return cwin_elem(b, w, 0, 0);
}

static int pin_elem(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms, int add_it)
{
	const struct fam *f = fam_of(w->family);
	uint8_t key[PIN_LEN(16)] = { 0 };
	uint16_t cport = htons(w->cport);

	if (!f || !w->port || w->port == w->ifindex || !w->cport || (add_it && !timeout_ms))
		return -EINVAL;
	memcpy(key, w->addr, f->alen);
	memcpy(key + f->alen, &w->port, 4);
	memcpy(key + 4 + f->alen, &cport, 2);
	return nb_batch_key_elem_in(b, NFPROTO_BRIDGE, f->pin, key, PIN_LEN(f->alen), timeout_ms, add_it);
}

int nr_cwpin_add(struct nl_batch *b, const struct nr_cwin *w, uint64_t timeout_ms)
{
	return pin_elem(b, w, timeout_ms, 1);
}

int nr_cwpin_del(struct nl_batch *b, const struct nr_cwin *w)
{
	return pin_elem(b, w, 0, 0);
}

/* ---- behind a geo-block before DNAT (CC, CP, cports; the pair) ------------------------ */

#define CPORTS_SET_ID 8

static int x_cports_lookup(struct nftnl_rule *r)
{
	struct nftnl_expr *e;

	if (x_tcp_dport(r, NFT_REG_1))
		return -ENOMEM;
	e = x_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, PH_SET_CPORTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, CPORTS_SET_ID);
	}
	return x_add(r, e);
}

/* appended: after what the chain holds (F1 and F2 first in forward) */
static int append(struct nl_batch *b, struct nftnl_rule *r)
{
	return r ? nr_batch_rule_at(b, r, 0) : -ENOMEM;
}

int nr_add_container_pre(struct nl_batch *b, uint32_t cp, uint32_t cc, uint32_t value, uint32_t mask)
{
	struct nftnl_rule *r;
	int err;

	if (!cp || !cc || cp == cc || cp == value || cc == value || ((cp | cc) & ~mask))
		return -EINVAL;
	if (nb_batch_timeout_set(b, NFPROTO_INET, PH_SET_CPORTS, TYPE_INET_SERVICE, 2, CPORTS_SET_ID))
		return -ENOMEM;
	/* pre: CC on a new connection to a local published port of an open
	 * container window that nothing else marked */
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_PRE);
	err = !r || x_l4proto_tcp(r) || x_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW)) || x_cports_lookup(r) ||
	      x_fib_local(r, NFT_CMP_EQ) || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, 0) ||
	      x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, 0) || x_set_bits(r, 0, cc, mask);
	if (append(b, nb_rule_done(r, err)))
		return -ENOMEM;
	/* forward, after F1 (which made a CP connection CW when DNAT sent it
	 * to a window's socket): F4, the rest of CP drops; F5, CC cleared */
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
	err = !r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cp) || x_counter(r) || x_verdict(r, NF_DROP);
	if (append(b, nb_rule_done(r, err)))
		return -ENOMEM;
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_FORWARD);
	err = !r || x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cc) || x_set_bits(r, 0, 0, mask);
	if (append(b, nb_rule_done(r, err)))
		return -ENOMEM;
	/* unroute (prerouting, after DNAT): a pre-admitted connection whose
	 * destination is still (or now) local drops here, before conntrack
	 * can confirm it (IPv6 confirms at input INT_MAX - 1, before `local`) */
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_UNROUTE);
	err = !r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cp) || x_fib_local(r, NFT_CMP_EQ) || x_counter(r) ||
	      x_verdict(r, NF_DROP);
	if (append(b, nb_rule_done(r, err)))
		return -ENOMEM;
	/* local (input, last): a pre-admitted connection that ended up here
	 * (no DNAT, REDIRECT, DNAT to a host address) drops; CC cleared */
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_LOCAL);
	err = !r || x_ct(r, NFT_CT_MARK) || x_masked_eq(r, mask, cp) || x_counter(r) || x_verdict(r, NF_DROP);
	if (append(b, nb_rule_done(r, err)))
		return -ENOMEM;
	r = nb_rule_new(NFPROTO_INET, PH_TABLE, PH_CHAIN_LOCAL);
	err = !r || x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, mask, cc) || x_set_bits(r, 0, 0, mask);
	return append(b, nb_rule_done(r, err));
}

int nr_cports_elem(struct nl_batch *b, uint16_t port, int add_it)
{
	uint16_t be = htons(port);

	if (!port)
		return -EINVAL;
	return nb_batch_key_elem(b, PH_SET_CPORTS, &be, sizeof(be), 0, add_it); /* no timeout: refcounted by the caller */
}

struct nftnl_rule *nr_cw_pair_rule(const struct ph_chain_ref *chain, const struct nftnl_rule *drop, uint32_t digest,
				   int accept, uint16_t port, const struct nr_cw_marks *m)
{
	struct nftnl_rule *r = nb_rule_new(chain->family, chain->table, chain->chain);
	int xt = chain->family == NFPROTO_IPV4 || chain->family == NFPROTO_IPV6; /* iptables-nft's shape */
	uint32_t both = m->mask & ~(m->cp ^ m->cw); /* CP and CW differ in one bit: this reads both */
	uint16_t be = htons(port);
	char tag[48];
	int err;

	if (!r)
		return NULL;
	snprintf(tag, sizeof(tag), "%s %08x", PH_CW_TAG, digest);
	err = x_l4proto_tcp(r) || x_tcp_dport(r, NFT_REG_1) || x_cmp(r, NFT_CMP_EQ, &be, sizeof(be));
	if (!err && !accept) {
		err = x_meta(r, NFT_META_MARK, NFT_REG_1) || x_masked_eq(r, m->mask, m->cc);
		if (!err && drop)
			err = nr_copy_matches(r, drop);
		if (!err)
			err = xt ? x_connmark_set(r, m->cp, m->mask) : x_set_bits(r, 1, m->cp, m->mask);
	} else if (!err) {
		err = xt ? x_connmark_match(r, m->cp & both, both) : (x_ct(r, NFT_CT_MARK) || x_masked_eq(r, both, m->cp & both));
		if (!err)
			err = x_counter(r) || x_accept(r);
	}
	if (!err)
		err = x_comment(r, tag);
	return nb_rule_done(r, err);
}
