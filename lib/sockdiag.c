// SPDX-License-Identifier: GPL-2.0-or-later
/* The host's TCP sockets (see sockdiag.h), read with NETLINK_SOCK_DIAG. */
#include "sockdiag.h"
#include "nl.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <libmnl/libmnl.h>

struct walk {
	int family;
	void (*cb)(const struct sockdiag_sock *s, void *arg);
	void *arg;
};

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *w = data;
	const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	struct sockdiag_sock s;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*msg))
		return MNL_CB_OK;
	memset(&s, 0, sizeof(s));
	s.family = w->family;
	s.sport = ntohs(msg->id.idiag_sport);
	memcpy(s.src, msg->id.idiag_src, w->family == AF_INET6 ? 16 : 4);
	mnl_attr_for_each(attr, nlh, sizeof(*msg)) {
		if (mnl_attr_get_type(attr) == INET_DIAG_MARK && mnl_attr_get_payload_len(attr) >= 4) {
			s.mark = mnl_attr_get_u32(attr);
			s.has_mark = 1;
		} else if (mnl_attr_get_type(attr) == INET_DIAG_CGROUP_ID && mnl_attr_get_payload_len(attr) >= 8) {
			s.cgroup = mnl_attr_get_u64(attr);
			s.has_cgroup = 1;
		}
	}
	w->cb(&s, w->arg);
	return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, int family, uint32_t states, struct walk *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	uint32_t seq = (uint32_t)family;
	int r;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = states;
	w->family = family;
	r = nl_talk(nl, nlh, msg_cb, w);
	return r == -ENOENT && family == AF_INET6 ? 0 : r; /* no IPv6: no sockets there */
}

int sockdiag_each(uint32_t states, void (*cb)(const struct sockdiag_sock *s, void *arg), void *arg)
{
	struct walk w = { 0, cb, arg };
	struct mnl_socket *nl;
	int r = nl_socket_bound(NETLINK_SOCK_DIAG, &nl);

	if (r)
		return r;
	r = dump_family(nl, AF_INET, states, &w);
	if (!r)
		r = dump_family(nl, AF_INET6, states, &w);
	mnl_socket_close(nl);
	return r;
}

struct acc {
	const uint16_t *ports;
	unsigned nports;
	uint32_t mask;
	uint32_t *marks;
	unsigned max, n;
};

static void mark_cb(const struct sockdiag_sock *s, void *arg)
{
	struct acc *a = arg;
	uint32_t m = s->mark & a->mask;
	int watched = 0;

	for (unsigned i = 0; i < a->nports; i++)
		watched |= a->ports[i] == s->sport;
	if (!watched || !s->has_mark || !m)
		return;
	for (unsigned i = 0; i < a->n; i++)
		if (a->marks[i] == m)
			return;
	if (a->n < a->max)
		a->marks[a->n++] = m;
}

int sockdiag_marks(const uint16_t *ports, unsigned nports, uint32_t mask, uint32_t *marks, unsigned max, unsigned *n)
{
	struct acc a = { ports, nports, mask, marks, max, 0 };
	/* bound, listening, connected: any may hold an old mark */
	int r = sockdiag_each(~0u, mark_cb, &a);

	*n = a.n;
	return r;
}

/* One SOCK_DESTROY on an open socket; its answer is an NLMSG_ERROR. */
static int destroy_one(struct mnl_socket *nl, uint32_t seq, const struct sockdiag_conn *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	size_t alen = c->family == AF_INET6 ? 16 : 4;

	nlh->nlmsg_type = SOCK_DESTROY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)c->family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	req->id.idiag_sport = htons(c->lport);
	req->id.idiag_dport = htons(c->rport);
	memcpy(req->id.idiag_src, c->laddr, alen);
	memcpy(req->id.idiag_dst, c->raddr, alen);
	req->id.idiag_cookie[0] = (uint32_t)c->cookie;
	req->id.idiag_cookie[1] = (uint32_t)(c->cookie >> 32);
	return nl_talk(nl, nlh, NULL, NULL);
}

int sockdiag_destroy(const struct sockdiag_conn *c, unsigned n, unsigned *destroyed)
{
	struct mnl_socket *nl;
	int r = nl_socket_bound(NETLINK_SOCK_DIAG, &nl), first = 0;

	*destroyed = 0;
	if (r)
		return r;
	for (unsigned i = 0; i < n; i++) {
		r = destroy_one(nl, i + 1, &c[i]);
		if (!r)
			(*destroyed)++;
		else if (r != -ENOENT && !first)
			first = r; /* gone already is what we want */
	}
	mnl_socket_close(nl);
	return first;
}
