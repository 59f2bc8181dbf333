/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one netlink transport to nf_tables, in the manner of nftables'
 * src/mnl.c: a request (a dump, or a GET answered with an ACK) runs one
 * receive loop until its end; a change is one batch (BEGIN, messages with
 * ACK requested, END, one sendmsg), optionally bound to a ruleset
 * generation, after which every reply is drained and each error is mapped
 * back to its message by sequence number. A sent message is not a committed
 * change until its ACK is read. No logging: errors come back as -errno plus
 * the kernel's extended-ACK text. */
#ifndef PORTHOLE_NL_H
#define PORTHOLE_NL_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

#define NL_MAX_BATCH 512

struct ph_nl;

int nl_open(struct ph_nl **out);
void nl_close(struct ph_nl *n);
/* A bare netlink socket of another family (sock_diag, ctnetlink), bound
 * with an automatic port id: 0, or -errno and nothing open. */
int nl_socket_bound(int bus, struct mnl_socket **out);
/* On such a socket, one request and its whole reply: send req, read until
 * the dump's DONE or the request's ACK (or error), cb on each message (NULL:
 * none expected). 0, or -errno (the kernel's error for the request). The
 * one receive loop of sock_diag, ctnetlink and `porthole check`'s rtnetlink
 * dumps; nftables goes through struct ph_nl (batches, generation, drain). */
int nl_talk(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data);
/* the socket's netlink port id: what the kernel puts in nlmsg_pid of the
 * notifications for our own commits */
uint32_t nl_portid(const struct ph_nl *n);

/* One request: build(buf, seq, arg) writes the message; cb runs on each
 * reply message until NLMSG_DONE or the ACK. A reply of ENOENT returns
 * -ENOENT. */
typedef struct nlmsghdr *(*nl_build_fn)(char *buf, uint32_t seq, void *arg);
int nl_request(struct ph_nl *n, nl_build_fn build, void *arg, mnl_cb_t cb, void *data);

/* The current ruleset generation. */
int nl_genid(struct ph_nl *n, uint32_t *genid);

/* A batch. nl_batch_msg() returns where the next message goes and its
 * sequence number; nl_batch_push() closes that message. */
struct nl_batch;
struct nl_result {
	int begin_err;                   /* refused as a whole: -ERESTART when stale */
	unsigned nmsg;
	int err[NL_MAX_BATCH];           /* per message: 0 or -errno */
	uint8_t acked[NL_MAX_BATCH];
	uint64_t handle[NL_MAX_BATCH];   /* from an echoed NEWRULE */
	char extack[256];                /* the kernel's words for the first error */
};
/* use_genid: the kernel refuses the batch (-ERESTART) if the ruleset is no
 * longer at generation genid */
struct nl_batch *nl_batch_begin(struct ph_nl *n, int use_genid, uint32_t genid);
char *nl_batch_msg(struct nl_batch *b, uint32_t *seq);
int nl_batch_push(struct nl_batch *b);
unsigned nl_batch_count(const struct nl_batch *b);
/* END, send, drain. 0 when the talk worked (look at res for the verdicts);
 * -errno when the socket failed. Frees the batch. */
int nl_batch_commit(struct nl_batch *b, struct nl_result *res);
void nl_batch_abort(struct nl_batch *b);
/* The first error of a committed batch (begin_err, a message's error, or a
 * message never acknowledged: -EIO), with its index in *idx (-1: begin). */
int nl_result_error(const struct nl_result *res, int *idx);

/* Ruleset change notifications (NFNLGRP_NFTABLES) on a socket of their own.
 * nl_monitor_drain() sets *changed when a transaction was committed by any
 * socket other than self_portid, or when events were lost (ENOBUFS). */
int nl_monitor_open(int *fd);
int nl_monitor_join(int fd, int join);
int nl_monitor_drain(int fd, uint32_t self_portid, int *changed);

#endif
