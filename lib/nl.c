// SPDX-License-Identifier: GPL-2.0-or-later
/* Netlink transport to nf_tables (see nl.h). nfnetlink processes a batch
 * synchronously inside sendmsg, so when it returns every ACK, error and echo
 * is queued on the socket: the drain reads without blocking until every
 * message is accounted for or the queue is empty. */
#include "nl.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

#define NL_BUF_SIZE (256 * 1024)
#define NL_RBUF_SIZE (64 * 1024)

struct ph_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char *buf;   /* outgoing requests and batches */
	char *rbuf;  /* replies */
};

struct nl_batch {
	struct ph_nl *n;
	struct mnl_nlmsg_batch *b;
	uint32_t first_seq, begin_seq;
	unsigned nmsg;
};

int nl_socket_bound(int bus, struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	int r;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	*out = nl;
	return 0;
}

int nl_talk(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4] __attribute__((aligned(8)));
	uint32_t seq = req->nlmsg_seq, portid = mnl_socket_get_portid(nl);

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		int ret;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		ret = mnl_cb_run(buf, (size_t)r, seq, portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int nl_open(struct ph_nl **out)
{
	struct ph_nl *n;
	int one = 1, err;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->buf = malloc(NL_BUF_SIZE);
	n->rbuf = malloc(NL_RBUF_SIZE);
	if (!n->buf || !n->rbuf) {
		err = -ENOMEM;
		goto fail;
	}
	n->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->sock || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	/* extended ACKs carry the kernel's own explanation of an error */
	mnl_socket_setsockopt(n->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (uint32_t)now_ns(CLOCK_MONOTONIC);
	*out = n;
	return 0;
fail:
	nl_close(n);
	return err;
}

void nl_close(struct ph_nl *n)
{
	if (!n)
		return;
	if (n->sock)
		mnl_socket_close(n->sock);
	free(n->buf);
	free(n->rbuf);
	free(n);
}

uint32_t nl_portid(const struct ph_nl *n)
{
	return n->portid;
}

/* One read from the socket; EINTR retried. */
static ssize_t nl_recv(struct ph_nl *n, int flags)
{
	for (;;) {
		ssize_t r = recv(mnl_socket_get_fd(n->sock), n->rbuf, NL_RBUF_SIZE, flags);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

/* 1 if the buffer holds the end of the reply to seq (DONE or an error) */
static int reply_ended(const char *buf, ssize_t r, uint32_t seq)
{
	int len = (int)r;

	for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len))
		if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))
			return 1;
	return 0;
}

static void nl_drain(struct ph_nl *n, uint32_t seq)
{
	for (int i = 0; i < 100000; i++) {
		ssize_t r = nl_recv(n, 0);
		if (r <= 0 || reply_ended(n->rbuf, r, seq))
			return;
	}
}

int nl_request(struct ph_nl *n, nl_build_fn build, void *arg, mnl_cb_t cb, void *data)
{
	uint32_t seq = ++n->seq;
	struct nlmsghdr *nlh = build(n->buf, seq, arg);

	if (!nlh)
		return -ENOMEM;
	if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t r = nl_recv(n, 0);
		int ret;

		if (r < 0) {
			if (r == -ENOBUFS)
				nl_drain(n, seq); /* replies were lost: what is left of this one must go */
			return (int)r;
		}
		errno = 0;
		ret = mnl_cb_run(n->rbuf, (size_t)r, seq, n->portid, cb, data);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0) {
			/* a dump interrupted by a concurrent change (EINTR) or a
			 * callback's error: the rest of the reply is still to come;
			 * read it to its end so the next request starts clean */
			int err = errno ? -errno : -EIO;
			if (!reply_ended(n->rbuf, r, seq))
				nl_drain(n, seq);
			return err;
		}
	}
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_get_payload_len(a) == 4)
			*(uint32_t *)data = ntohl(mnl_attr_get_u32(a));
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *build_gen_get(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, seq);
}

int nl_genid(struct ph_nl *n, uint32_t *genid)
{
	*genid = 0;
	return nl_request(n, build_gen_get, NULL, gen_cb, genid);
}

/* ---- batches ---------------------------------------------------------------- */

struct nl_batch *nl_batch_begin(struct ph_nl *n, int use_genid, uint32_t genid)
{
	struct nl_batch *b = calloc(1, sizeof(*b));
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	if (!b)
		return NULL;
	b->n = n;
	b->b = mnl_nlmsg_batch_start(n->buf, NL_BUF_SIZE);
	if (!b->b) {
		free(b);
		return NULL;
	}
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b->b));
	nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = b->begin_seq = ++n->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	if (use_genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	mnl_nlmsg_batch_next(b->b);
	b->first_seq = n->seq + 1;
	return b;
}

char *nl_batch_msg(struct nl_batch *b, uint32_t *seq)
{
	if (b->nmsg >= NL_MAX_BATCH)
		return NULL;
	*seq = ++b->n->seq;
	return mnl_nlmsg_batch_current(b->b);
}

int nl_batch_push(struct nl_batch *b)
{
	b->nmsg++;
	/* false: the buffer is full; the message just written is still in,
	 * but nothing more fits */
	return mnl_nlmsg_batch_next(b->b) ? 0 : -E2BIG;
}

unsigned nl_batch_count(const struct nl_batch *b)
{
	return b->nmsg;
}

void nl_batch_abort(struct nl_batch *b)
{
	if (!b)
		return;
	mnl_nlmsg_batch_stop(b->b);
	free(b);
}

static void parse_extack(const struct nlmsghdr *nlh, char *out, size_t outlen)
{
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	mnl_attr_for_each(a, nlh, sizeof(struct nlmsgerr)) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			copy_str(out, outlen, mnl_attr_get_str(a)) ;
	}
}

static void batch_reply(const struct nl_batch *b, const struct nlmsghdr *nlh, struct nl_result *res)
{
	uint32_t idx = nlh->nlmsg_seq - b->first_seq;

	if (nlh->nlmsg_seq == b->begin_seq && nlh->nlmsg_type == NLMSG_ERROR) {
		res->begin_err = ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
		return;
	}
	if (idx >= b->nmsg)
		return; /* END's ACK or a stray */
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
		res->acked[idx] = 1;
		res->err[idx] = e->error;
		if (e->error && !res->extack[0])
			parse_extack(nlh, res->extack, sizeof(res->extack));
	} else if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE) {
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0)
			res->handle[idx] = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
		nftnl_rule_free(r);
	}
}

int nl_batch_commit(struct nl_batch *b, struct nl_result *res)
{
	struct ph_nl *n = b->n;
	int err = 0;

	memset(res, 0, sizeof(*res));
	res->nmsg = b->nmsg;
	nftnl_batch_end(mnl_nlmsg_batch_current(b->b), ++n->seq);
	mnl_nlmsg_batch_next(b->b);
	if (mnl_socket_sendto(n->sock, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		unsigned pending = 0;
		ssize_t r;
		int len;

		for (unsigned i = 0; i < b->nmsg; i++)
			pending += !res->acked[i];
		if (!pending || res->begin_err)
			break;
		r = nl_recv(n, MSG_DONTWAIT);
		if (r == -EAGAIN)
			break; /* all the kernel had to say was queued: the rest was aborted */
		if (r < 0) {
			err = (int)r;
			break;
		}
		len = (int)r;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)n->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			batch_reply(b, nlh, res);
	}
	/* whatever else is queued (END's ACK) belongs to this batch */
	while (nl_recv(n, MSG_DONTWAIT) > 0)
		;
out:
	nl_batch_abort(b);
	return err;
}

int nl_result_error(const struct nl_result *res, int *idx)
{
	if (idx)
		*idx = -1;
	if (res->begin_err)
		return res->begin_err;
	for (unsigned i = 0; i < res->nmsg; i++) {
		if (res->err[i] || !res->acked[i]) {
			if (idx)
				*idx = (int)i;
			return res->err[i] ? res->err[i] : -EIO;
		}
	}
	return 0;
}

/* ---- notifications ------------------------------------------------------------ */

int nl_monitor_open(int *fd)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	int bufsz = 1 << 20;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(s);
		return err;
	}
	/* a reload of a large geo set emits one event per element: a big
	 * buffer, and ENOBUFS counts as "something changed" anyway */
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	*fd = s;
	return 0;
}

int nl_monitor_join(int fd, int join)
{
	int grp = NFNLGRP_NFTABLES;

	if (setsockopt(fd, SOL_NETLINK, join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &grp,
		       sizeof(grp)) < 0)
		return -errno;
	return 0;
}

int nl_monitor_drain(int fd, uint32_t self_portid, int *changed)
{
	char buf[16384] __attribute__((aligned(8)));

	*changed = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int len;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ENOBUFS) {
				*changed = 1; /* events lost: assume the worst */
				continue;
			}
			return -errno;
		}
		len = (int)r;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			/* one NEWGEN per committed transaction; its nlmsg_pid is
			 * the committing socket's port id (not a process id: a
			 * pid compares wrong inside a PID namespace) */
			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
			    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN && nlh->nlmsg_pid != self_portid)
				*changed = 1;
		}
	}
}
