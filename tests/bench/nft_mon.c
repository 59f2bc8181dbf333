// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: watch the nftables ruleset of the current network
 * namespace (netlink group NFNLGRP_NFTABLES) and print one line per change
 * porthole makes, stamped with CLOCK_MONOTONIC when the notification is read:
 *   "NS elem+ MARK PORT" / "NS elem- MARK PORT"
 *       an element (MARK . PORT) added to / deleted from porthole's set
 *       (table inet porthole, set windows): a window opening / closing;
 *   "NS rule+ TABLE CHAIN" / "NS rule- TABLE CHAIN"
 *       a rule tagged with a "porthole..." comment added to / deleted from a
 *       host chain (any table but porthole's own): what the first window's
 *       batch adds and the last window's close removes.
 * MARK in hex, as portholed logs it ("mark 0x185"). The kernel sends the
 * notifications when the batch commits, so the stamp is an upper bound of the
 * moment the change took effect (this process waits in recv(), so it is a
 * tight one). Prints "ready" once subscribed; "NS lost 0" when the socket
 * overflowed (events lost); runs until killed.   usage: nft_mon */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

#define TAG "porthole"

/* the attributes of a message or a nest: tb[type] (types <= max), NULL if absent */
static void attrs(const void *data, size_t len, const struct nlattr **tb, int max)
{
	const struct nlattr *a = data;

	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	while (len >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len) {
		int type = a->nla_type & NLA_TYPE_MASK;
		size_t step = NLA_ALIGN(a->nla_len);
		if (type <= max)
			tb[type] = a;
		if (step >= len)
			break;
		len -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
}

static const void *payload(const struct nlattr *a) { return (const char *)a + NLA_HDRLEN; }
static size_t plen(const struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }

static int str_is(const struct nlattr *a, const char *s)
{
	return a && plen(a) >= strlen(s) + 1 && !strcmp(payload(a), s);
}

static void set_elems(long long now, const struct nlmsghdr *h, int add)
{
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1], *el, *etb[NFTA_SET_ELEM_MAX + 1],
		*ktb[NFTA_DATA_MAX + 1];
	const char *p = (const char *)NLMSG_DATA(h) + sizeof(struct nfgenmsg);
	size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg)), left;

	attrs(p, len, tb, NFTA_SET_ELEM_LIST_MAX);
	if (!str_is(tb[NFTA_SET_ELEM_LIST_TABLE], TAG) || !str_is(tb[NFTA_SET_ELEM_LIST_SET], "windows") ||
	    !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return;
	/* every NFTA_LIST_ELEM of the nest */
	el = payload(tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
	left = plen(tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
	while (left >= sizeof(*el) && el->nla_len >= sizeof(*el) && el->nla_len <= left) {
		size_t step = NLA_ALIGN(el->nla_len);
		attrs(payload(el), plen(el), etb, NFTA_SET_ELEM_MAX);
		if (etb[NFTA_SET_ELEM_KEY]) {
			attrs(payload(etb[NFTA_SET_ELEM_KEY]), plen(etb[NFTA_SET_ELEM_KEY]), ktb, NFTA_DATA_MAX);
			/* mark . inet_service: 4 bytes host order, 2 bytes network order (+2 pad) */
			if (ktb[NFTA_DATA_VALUE] && plen(ktb[NFTA_DATA_VALUE]) >= 6) {
				const unsigned char *k = payload(ktb[NFTA_DATA_VALUE]);
				uint32_t mark;
				uint16_t port;
				memcpy(&mark, k, 4);
				memcpy(&port, k + 4, 2);
				printf("%lld elem%c 0x%x %u\n", now, add ? '+' : '-', mark, ntohs(port));
			}
		}
		if (step >= left)
			break;
		left -= step;
		el = (const struct nlattr *)((const char *)el + step);
	}
}

static void rule(long long now, const struct nlmsghdr *h, int add)
{
	const struct nlattr *tb[NFTA_RULE_MAX + 1];
	const char *p = (const char *)NLMSG_DATA(h) + sizeof(struct nfgenmsg);
	size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
	const char *table, *chain;

	attrs(p, len, tb, NFTA_RULE_MAX);
	if (!tb[NFTA_RULE_TABLE] || !tb[NFTA_RULE_CHAIN] || str_is(tb[NFTA_RULE_TABLE], TAG))
		return;
	/* the tag: in the comment (userdata, what porthole writes) or, after an
	 * iptables-save round trip, in an xt comment match: anywhere in the rule */
	if (!memmem(p, len, TAG, strlen(TAG)))
		return;
	table = payload(tb[NFTA_RULE_TABLE]);
	chain = payload(tb[NFTA_RULE_CHAIN]);
	printf("%lld rule%c %s %s\n", now, add ? '+' : '-', table, chain);
}

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

			if ((h->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
				continue;
			if (type == NFT_MSG_NEWSETELEM || type == NFT_MSG_DELSETELEM)
				set_elems(now, h, type == NFT_MSG_NEWSETELEM);
			else if (type == NFT_MSG_NEWRULE || type == NFT_MSG_DELRULE)
				rule(now, h, type == NFT_MSG_NEWRULE);
		}
		fflush(stdout);
	}
}
