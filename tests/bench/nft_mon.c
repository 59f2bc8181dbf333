// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: watch the nftables ruleset of the current network
 * namespace (netlink group NFNLGRP_NFTABLES) and print one line per rule that
 * porthole adds or removes, stamped with CLOCK_MONOTONIC when the notification
 * is read:  "NS add|del ID"  (ID from the rule's "porthole w=ID" comment).
 * The kernel sends the notification when the batch commits, so the stamp is
 * an upper bound of the moment the rule entered or left the ruleset (this
 * process waits in recv(), so it is a tight one). Prints "ready" once
 * subscribed; runs until killed.   usage: nft_mon */
#define _GNU_SOURCE
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

int main(void)
{
	static char buf[1 << 20];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, grp = NFNLGRP_NFTABLES, rcv = 8 << 20;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		perror("nft_mon: netlink");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		long long now = mono();

		if (n < 0) {
			perror("nft_mon: recv"); /* ENOBUFS: events lost, keep going */
			printf("%lld lost 0\n", now);
			fflush(stdout);
			continue;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			int type = h->nlmsg_type & 0xff;
			const char *what, *p;

			if ((h->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
				continue;
			if (type == NFT_MSG_NEWRULE)
				what = "add";
			else if (type == NFT_MSG_DELRULE)
				what = "del";
			else
				continue;
			p = memmem(h, h->nlmsg_len, "porthole w=", 11);
			if (!p)
				continue;
			printf("%lld %s %lld\n", now, what, atoll(p + 11));
		}
		fflush(stdout);
	}
}
