// SPDX-License-Identifier: GPL-2.0-or-later
/* Ending tracked connections by mark (see conntrack.h). */
#include "conntrack.h"
#include "nl.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libmnl/libmnl.h>

int ct_flush_mark(uint32_t value, uint32_t mask)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t seq = (uint32_t)time(NULL);
	int r = nl_socket_bound(NETLINK_NETFILTER, &nl);

	if (r)
		return r;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC; /* every family: a flush filtered by the mark */
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(value));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	r = nl_talk(nl, nlh, NULL, NULL);
	mnl_socket_close(nl);
	return r == -ENOENT ? 0 : r; /* nothing matched */
}
