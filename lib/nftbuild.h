/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside lib/ only: the expression, rule and set helpers nftrule.c,
 * nftserver.c and nftmatch.c share (nftrule.h is the interface the daemon
 * and the CLI use). Each x_*() appends one expression (or a short run of
 * them) to a rule: 0 or -ENOMEM. No logging. */
#ifndef PORTHOLE_NFTBUILD_H
#define PORTHOLE_NFTBUILD_H

#include <stddef.h>
#include <stdint.h>
#include "nl.h"

#define SET_ID 1
#define PORTS_SET_ID 2
#define PORTS_SET "ports"
#define RTN_LOCAL_TYPE 2
/* nft's own datatype numbers, so that `nft list` prints the set's type */
#define TYPE_MARK 19
#define TYPE_INET_SERVICE 13
#define XT_COMMENT_LEN 256

struct nftnl_expr;
struct nftnl_rule;
struct nftnl_set;

int x_add(struct nftnl_rule *r, struct nftnl_expr *e); /* takes e; -ENOMEM if NULL */
struct nftnl_expr *x_alloc(const char *name);
struct nftnl_expr *x_copy_expr(const struct nftnl_expr *src);
int x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
int x_ct(struct nftnl_rule *r, uint32_t key);
int x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
int x_tcp_dport(struct nftnl_rule *r, uint32_t dreg);
int x_l4proto_tcp(struct nftnl_rule *r);
int x_ct_state(struct nftnl_rule *r, uint32_t bits);
int x_ct_status(struct nftnl_rule *r, uint32_t bits);
int x_fib_local(struct nftnl_rule *r, uint32_t op);
int x_window_lookup(struct nftnl_rule *r, uint32_t mask);
int x_watched_port(struct nftnl_rule *r);
int x_masked_eq(struct nftnl_rule *r, uint32_t mask, uint32_t value);
int x_counter(struct nftnl_rule *r);
int x_verdict(struct nftnl_rule *r, int verdict);
int x_accept(struct nftnl_rule *r);
int x_comment(struct nftnl_rule *r, const char *text);
/* (ct ? ct mark : meta mark) set ... & ~mask | value */
int x_set_bits(struct nftnl_rule *r, int ct, uint32_t value, uint32_t mask);
/* iptables-nft's xt encodings: -j CONNMARK --set-xmark, -m connmark --mark */
int x_connmark_set(struct nftnl_rule *r, uint32_t value, uint32_t mask);
int x_connmark_match(struct nftnl_rule *r, uint32_t value, uint32_t mask);

/* a rule to fill; nb_rule_done() frees it and returns NULL when err */
struct nftnl_rule *nb_rule_new(int family, const char *table, const char *chain);
struct nftnl_rule *nb_rule_done(struct nftnl_rule *r, int err);
/* a handle on one of porthole's sets, by name: in the inet table, or in
 * the table of that family (NFPROTO_BRIDGE: the container windows' pins) */
struct nftnl_set *nb_own_set(const char *name);
struct nftnl_set *nb_set_in(int family, const char *name);
/* one element of one of porthole's sets, added (timeout_ms > 0: with that
 * timeout) or deleted */
int nb_batch_key_elem(struct nl_batch *b, const char *set, const void *key, uint32_t keylen, uint64_t timeout_ms,
		      int add_it);
int nb_batch_key_elem_in(struct nl_batch *b, int family, const char *set, const void *key, uint32_t keylen,
			 uint64_t timeout_ms, int add_it);
/* porthole's table of that family (NFPROTO_INET, or NFPROTO_BRIDGE for the
 * container windows' pins): made (owner: with the owner flag; it must not
 * exist) or deleted */
int nb_batch_table(struct nl_batch *b, int family, int del, int owner);
/* a base chain of type filter, policy accept, in porthole's table of that family */
int nb_batch_chain(struct nl_batch *b, int family, const char *name, uint32_t hook, int prio);
/* a set whose elements time out and count their packets, in porthole's
 * table of that family */
int nb_batch_timeout_set(struct nl_batch *b, int family, const char *name, uint32_t key_type, uint32_t key_len,
			 uint32_t set_id);
/* one rule message (type, flags) in the batch; r is freed either way */
int nb_batch_rule(struct nl_batch *b, struct nftnl_rule *r, uint16_t type, uint16_t flags);

#endif
