// SPDX-License-Identifier: GPL-2.0-or-later
/* Which porthole marks the host's TCP sockets on the watched ports carry
 * now (see sockdiag.h), read with NETLINK_SOCK_DIAG as `ss -m` does. */
#include "sockdiag.h"

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

struct acc {
	const uint16_t *ports;
	unsigned nports;
	uint32_t mask;
	uint32_t *marks;
	unsigned max, n;
};

static void add_mark(struct acc *a, uint32_t m)
{
	for (unsigned i = 0; i < a->n; i++)
		if (a->marks[i] == m)
			return;
	if (a->n < a->max)
		a->marks[a->n++] = m;
}

static int cb(const struct nlmsghdr *nlh, void *data)
{
	struct acc *a = data;
	const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	uint16_t sport = ntohs(msg->id.idiag_sport);
	int watched = 0;

	for (unsigned i = 0; i < a->nports; i++)
		watched |= a->ports[i] == sport;
	if (!watched)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*msg)) {
		if (mnl_attr_get_type(attr) == INET_DIAG_MARK && mnl_attr_get_payload_len(attr) >= 4) {
			uint32_t m = mnl_attr_get_u32(attr) & a->mask;
			if (m)
				add_mark(a, m);
		}
	}
	return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, int family, struct acc *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	uint32_t seq = (uint32_t)family, portid = mnl_socket_get_portid(nl);
	ssize_t r;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u; /* bound, listening, connected: any may hold an old mark */
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		int ret;
		r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return errno == EINTR ? -EINTR : -errno;
		ret = mnl_cb_run(buf, (size_t)r, seq, portid, cb, a);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int sockdiag_marks(const uint16_t *ports, unsigned nports, uint32_t mask, uint32_t *marks, unsigned max, unsigned *n)
{
	struct acc a = { ports, nports, mask, marks, max, 0 };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	int r;

	*n = 0;
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	r = dump_family(nl, AF_INET, &a);
	if (!r)
		r = dump_family(nl, AF_INET6, &a);
	mnl_socket_close(nl);
	*n = a.n;
	return r;
}
