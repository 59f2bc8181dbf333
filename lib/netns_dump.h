/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The netns resolver's rtnetlink requests (lib/netns.c's, nothing else's):
 * the nsid of a namespace, the links and addresses of the listener's
 * namespace (dumped from here with IFLA_/IFA_TARGET_NETNSID), one link of
 * ours, and our route to an address. Each returns 0 or -errno. */
#ifndef PORTHOLE_NETNS_DUMP_H
#define PORTHOLE_NETNS_DUMP_H

#include "netns.h"

#include <net/if.h>
#include <stdint.h>

struct mnl_socket;

#define NS_MAX_LINKS 64
#define NS_MAX_ADDRS 64

struct nd_link {
	uint32_t index, link, master;
	int32_t link_nsid, target_nsid;
	int has_link, has_link_nsid, has_target;
	char kind[16];
	char name[IFNAMSIZ];
};

struct nd_addr {
	struct netns_addr a;
	uint32_t index;
	uint8_t scope;
	uint32_t flags;
};

struct nd_ctx {
	struct mnl_socket *nl;
	uint32_t seq;
	int32_t nsid, self_nsid;
	int dump_family;        /* of the address dump under way */
	unsigned nlinks, naddrs;
	struct nd_link links[NS_MAX_LINKS];
	struct nd_addr addrs[NS_MAX_ADDRS];
	char buf[512] __attribute__((aligned(8))); /* one request: a header and an attribute or two */
};

/* our route to an address, as `ip route get` says it */
struct nd_route {
	uint8_t type;           /* RTN_* */
	uint32_t oif;
	int gateway;            /* it goes via a next hop (RTA_GATEWAY, RTA_VIA or
				 * RTA_MULTIPATH), not straight out oif */
};

/* the id, in our namespace, of the namespace fd is (assigned if it has none) */
int nd_ns_id(struct nd_ctx *c, int fd, int32_t *nsid);
/* c->links: the links of namespace c->nsid */
int nd_dump_links(struct nd_ctx *c);
/* one link of ours: -ENODEV if there is none of that index */
int nd_get_link(struct nd_ctx *c, uint32_t index, struct nd_link *l);
const struct nd_link *nd_their_link(const struct nd_ctx *c, uint32_t index);
/* c->addrs += the addresses of family in namespace c->nsid */
int nd_dump_addrs(struct nd_ctx *c, int family);
int nd_route_get(struct nd_ctx *c, const struct netns_addr *a, struct nd_route *rt);

#endif
