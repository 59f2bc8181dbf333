// SPDX-License-Identifier: GPL-2.0-or-later
/* The netns resolver's rtnetlink requests (see netns_dump.h and, for the
 * ids and strict checking they rely on, netns.c's opening comment). */
#include "netns_dump.h"
#include "nl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

static struct nlmsghdr *nd_msg(struct nd_ctx *c, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(c->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++c->seq;
	return nlh;
}
/* ---- nsid --------------------------------------------------------------------- */

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg)) {
		if (mnl_attr_get_type(a) == NETNSA_NSID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*(int32_t *)data = (int32_t)mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *nsid_msg(struct nd_ctx *c, uint16_t type, int fd)
{
	struct nlmsghdr *nlh = nd_msg(c, type, NLM_F_ACK);
	struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
	return nlh;
}

/* The id, in our namespace, of the namespace fd is: asked, and assigned
 * (RTM_NEWNSID, CAP_NET_ADMIN here) when it has none yet. */
int nd_ns_id(struct nd_ctx *c, int fd, int32_t *nsid)
{
	for (int pass = 0;; pass++) {
		struct nlmsghdr *nlh = nsid_msg(c, RTM_GETNSID, fd);
		int err;

		*nsid = NETNSA_NSID_NOT_ASSIGNED;
		err = nl_talk(c->nl, nlh, nsid_cb, nsid);
		if (err)
			return err;
		if (*nsid >= 0)
			return 0;
		if (pass)
			return -ENOENT;
		nlh = nsid_msg(c, RTM_NEWNSID, fd);
		mnl_attr_put_u32(nlh, NETNSA_NSID, (uint32_t)NETNSA_NSID_NOT_ASSIGNED); /* any free id */
		err = nl_talk(c->nl, nlh, NULL, NULL);
		if (err && err != -EEXIST) /* EEXIST: assigned since we asked */
			return err;
	}
}

/* ---- links -------------------------------------------------------------------- */

static void parse_link(const struct nlmsghdr *nlh, struct nd_link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *n;

	memset(l, 0, sizeof(*l));
	l->index = (uint32_t)ifi->ifi_index;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_LINK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				l->link = mnl_attr_get_u32(a);
				l->has_link = 1;
			}
			break;
		case IFLA_LINK_NETNSID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				l->link_nsid = (int32_t)mnl_attr_get_u32(a);
				l->has_link_nsid = 1;
			}
			break;
		case IFLA_TARGET_NETNSID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				l->target_nsid = (int32_t)mnl_attr_get_u32(a);
				l->has_target = 1;
			}
			break;
		case IFLA_MASTER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				l->master = mnl_attr_get_u32(a);
			break;
		case IFLA_LINKINFO:
			mnl_attr_for_each_nested(n, a) {
				if (mnl_attr_get_type(n) == IFLA_INFO_KIND &&
				    mnl_attr_validate(n, MNL_TYPE_NUL_STRING) == 0)
					snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(n));
			}
			break;
		}
	}
}

static int links_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nd_ctx *c = data;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	if (c->nlinks == NS_MAX_LINKS) {
		errno = E2BIG;
		return MNL_CB_ERROR;
	}
	parse_link(nlh, &c->links[c->nlinks]);
	if (!c->links[c->nlinks].has_target || c->links[c->nlinks].target_nsid != c->nsid) {
		errno = EPROTO; /* a link of another namespace than asked */
		return MNL_CB_ERROR;
	}
	c->nlinks++;
	return MNL_CB_OK;
}

static int one_link_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWLINK && mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct ifinfomsg))
		parse_link(nlh, data);
	return MNL_CB_OK;
}

static struct nlmsghdr *link_msg(struct nd_ctx *c, uint16_t flags, uint32_t index)
{
	struct nlmsghdr *nlh = nd_msg(c, RTM_GETLINK, flags);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)index;
	return nlh;
}

/* the links of the listener's namespace */
int nd_dump_links(struct nd_ctx *c)
{
	struct nlmsghdr *nlh = link_msg(c, NLM_F_DUMP, 0);

	mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, (uint32_t)c->nsid);
	c->nlinks = 0;
	return nl_talk(c->nl, nlh, links_cb, c);
}

/* one link of ours: -ENODEV if there is none of that index */
int nd_get_link(struct nd_ctx *c, uint32_t index, struct nd_link *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	err = nl_talk(c->nl, link_msg(c, NLM_F_ACK, index), one_link_cb, l);
	if (!err && l->index != index)
		err = -ENODEV;
	return err;
}

const struct nd_link *nd_their_link(const struct nd_ctx *c, uint32_t index)
{
	for (unsigned i = 0; i < c->nlinks; i++)
		if (c->links[i].index == index)
			return &c->links[i];
	return NULL;
}

/* ---- addresses and routes ------------------------------------------------------- */

static int addrs_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nd_ctx *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *local = NULL, *address = NULL;
	size_t alen;
	struct nd_addr *x;
	int target = 0;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_family != c->dump_family)
		return MNL_CB_OK; /* (a kernel without IPv6 answers an AF_INET6 dump with all it has) */
	if (c->naddrs == NS_MAX_ADDRS) {
		errno = E2BIG;
		return MNL_CB_ERROR;
	}
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	x = &c->addrs[c->naddrs];
	memset(x, 0, sizeof(*x));
	x->flags = ifa->ifa_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		uint16_t t = mnl_attr_get_type(a);
		if ((t == IFA_LOCAL || t == IFA_ADDRESS) && mnl_attr_get_payload_len(a) == alen)
			*(t == IFA_LOCAL ? &local : &address) = a;
		else if (t == IFA_FLAGS && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			x->flags = mnl_attr_get_u32(a);
		else if (t == IFA_TARGET_NETNSID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			target = (int32_t)mnl_attr_get_u32(a) == c->nsid;
	}
	if (!target) {
		errno = EPROTO; /* an address of another namespace than asked */
		return MNL_CB_ERROR;
	}
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's on a
	 * point-to-point link, the same otherwise */
	a = local ? local : address;
	if (!a)
		return MNL_CB_OK;
	x->a.family = ifa->ifa_family;
	memcpy(x->a.addr, mnl_attr_get_payload(a), alen);
	x->index = ifa->ifa_index;
	x->scope = ifa->ifa_scope;
	c->naddrs++;
	return MNL_CB_OK;
}

int nd_dump_addrs(struct nd_ctx *c, int family)
{
	struct nlmsghdr *nlh = nd_msg(c, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)family;
	c->dump_family = family;
	mnl_attr_put_u32(nlh, IFA_TARGET_NETNSID, (uint32_t)c->nsid);
	return nl_talk(c->nl, nlh, addrs_cb, c);
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nd_route *rt = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	rt->type = rtm->rtm_type;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_OIF:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				rt->oif = mnl_attr_get_u32(a);
			break;
		case RTA_GATEWAY:
		case RTA_VIA:
		case RTA_MULTIPATH:
		case RTA_NH_ID: /* a nexthop object: whatever it holds, not a connected route */
			rt->gateway = 1;
			break;
		}
	}
	return MNL_CB_OK;
}

/* our route to a: what `ip route get` says */
int nd_route_get(struct nd_ctx *c, const struct netns_addr *a, struct nd_route *rt)
{
	struct nlmsghdr *nlh = nd_msg(c, RTM_GETROUTE, NLM_F_ACK);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t alen = a->family == AF_INET ? 4 : 16;

	rtm->rtm_family = (uint8_t)a->family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, a->addr);
	memset(rt, 0, sizeof(*rt));
	return nl_talk(c->nl, nlh, route_cb, rt);
}
