// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: flush the conntrack table of the current network
 * namespace (what `conntrack -F` does), over ctnetlink, so the bench needs no
 * conntrack-tools. Stale entries matter here: a SYN that reuses the source
 * port of an earlier connection whose entry is still in CLOSE state can be
 * classified "established" and pass a `ct state established accept` rule,
 * which would look like a hole to a prober.   usage: ct_flush */
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg nf;
	} req;
	char buf[4096];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	ssize_t n;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("ct_flush: netlink");
		return 1;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.nf.nfgen_family = AF_UNSPEC; /* every family */
	req.nf.version = NFNETLINK_V0;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		perror("ct_flush: send");
		return 1;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(struct nlmsghdr)) {
		perror("ct_flush: recv");
		return 1;
	}
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (h->nlmsg_type == NLMSG_ERROR) {
		int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		if (err) {
			fprintf(stderr, "ct_flush: %s\n", strerror(-err));
			return 1;
		}
	}
	return 0;
}
