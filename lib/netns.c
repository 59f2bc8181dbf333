// SPDX-License-Identifier: GPL-2.0-or-later
/* The netns resolver (see netns.h): one rtnetlink socket per call, every
 * request through nl_talk.
 *
 * The socket has NETLINK_GET_STRICT_CHK on: without it the kernel ignores
 * IFA_TARGET_NETNSID in an address dump and answers with our own
 * namespace's addresses (seen on 6.18). Each reply of a dump of theirs must
 * carry the target's id back too, or the dump is refused (-EPROTO).
 *
 * Ids in replies are relative to the requester's namespace, ours, even in a
 * dump of another namespace (rtnl_fill_ifinfo is given the socket's net): a
 * container-side veth whose peer is here says IFLA_LINK_NETNSID = our own
 * namespace's id in our namespace (assigned on demand, like the
 * container's), not the id the container gives us (test_netns.sh shows the
 * two differ and which one holds). */
#include "netns.h"
#include "netns_dump.h"
#include "nl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>


__attribute__((format(printf, 4, 5)))
static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static const char *addr_str(const struct netns_addr *a, char *s, size_t len)
{
	if (!inet_ntop(a->family, a->addr, s, (socklen_t)len))
		snprintf(s, len, "?");
	return s;
}


/* loopback and link-local never count, whatever scope they were given */
static int addr_usable(const struct nd_addr *x)
{
	const uint8_t *b = x->a.addr;
	static const uint8_t lo6[16] = { [15] = 1 };

	if (x->scope >= RT_SCOPE_LINK || (x->flags & IFA_F_DADFAILED))
		return 0;
	if (x->a.family == AF_INET)
		return b[0] != 127 && !(b[0] == 169 && b[1] == 254);
	return memcmp(b, lo6, 16) != 0 && !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

/* a reaches the listener from here: 0, *bridge and *port, or -EADDRNOTAVAIL and why */
static int check_addr(struct nd_ctx *c, const struct nd_addr *x, uint32_t *bridge, uint32_t *port, char *why,
		      size_t len)
{
	const struct nd_link *l = nd_their_link(c, x->index);
	struct nd_link peer, br, out;
	struct nd_route rt;
	char s[INET6_ADDRSTRLEN];
	int err;

	addr_str(&x->a, s, sizeof(s));
	/* an address still under duplicate address detection is not the
	 * container's yet: another one on the bridge may hold it */
	if (x->flags & (IFA_F_TENTATIVE | IFA_F_OPTIMISTIC))
		return say(why, len, -EADDRNOTAVAIL, "%s: %s (duplicate address detection not done)", s,
			   x->flags & IFA_F_OPTIMISTIC ? "optimistic" : "tentative");
	if (!l)
		return say(why, len, -EADDRNOTAVAIL, "%s: its interface %u is not in the netns's link dump", s,
			   x->index);
	if (strcmp(l->kind, "veth"))
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: not a veth (%s)", s, l->name,
			   l->kind[0] ? l->kind : "no kind");
	if (!l->has_link || !l->has_link_nsid || l->link_nsid != c->self_nsid)
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: its veth peer is not in our netns", s, l->name);
	err = nd_get_link(c, l->link, &peer);
	if (err)
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: its peer, our ifindex %u: %s", s, l->name, l->link,
			   strerror(-err));
	/* the peer must name it back: the same pair seen from both ends */
	if (strcmp(peer.kind, "veth") || !peer.has_link || peer.link != l->index || !peer.has_link_nsid ||
	    peer.link_nsid != c->nsid)
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: our ifindex %u (%s) is not its veth peer", s,
			   l->name, l->link, peer.name);
	if (!peer.master)
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: its peer %s is not enslaved to a bridge", s, l->name,
			   peer.name);
	err = nd_get_link(c, peer.master, &br);
	if (err || strcmp(br.kind, "bridge"))
		return say(why, len, -EADDRNOTAVAIL, "%s on %s: the master of its peer %s is not a bridge (%s)", s,
			   l->name, peer.name, err ? strerror(-err) : br.kind[0] ? br.kind : "no kind");
	err = nd_route_get(c, &x->a, &rt);
	if (err)
		return say(why, len, -EADDRNOTAVAIL, "%s: no route to it here (%s)", s, strerror(-err));
	if (rt.type != RTN_UNICAST || rt.oif != br.index) {
		if (nd_get_link(c, rt.oif, &out))
			snprintf(out.name, sizeof(out.name), "%u", rt.oif);
		return say(why, len, -EADDRNOTAVAIL, "%s: our route to it goes out %s%s, not bridge %s", s,
			   out.name, rt.type == RTN_UNICAST ? "" : " (not unicast)", br.name);
	}
	/* only a connected route counts: behind a next hop on the bridge is
	 * whoever that next hop forwards to, not this veth */
	if (rt.gateway)
		return say(why, len, -EADDRNOTAVAIL, "%s: our route to it goes out bridge %s via a next hop, not straight",
			   s, br.name);
	*bridge = br.index;
	*port = peer.index;
	return 0;
}

/* ---- the namespace's file ------------------------------------------------------- */

static int open_ns(pid_t pid, uint64_t ino, int *fd, char *why, size_t len)
{
	char path[64];
	struct stat st;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		err = -errno;
		if (err == -ENOENT || err == -ESRCH)
			return say(why, len, -ESRCH, "process %d is gone", (int)pid);
		return say(why, len, err, "%s: %s", path, strerror(-err));
	}
	if (fstat(*fd, &st) < 0)
		return say(why, len, -errno, "%s: %s", path, strerror(errno));
	if ((uint64_t)st.st_ino != ino)
		return say(why, len, -ESRCH, "process %d's netns is %llu, not %llu: the pid was reused", (int)pid,
			   (unsigned long long)st.st_ino, (unsigned long long)ino);
	return 0;
}

static int same_file(int fd, const char *path, int *same)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return -errno;
	*same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

/* NS_GET_USERNS answers EPERM for an owner that is not our user namespace
 * or below it: not ours either */
static int userns_own(int nsfd, int *own)
{
	int u = ioctl(nsfd, NS_GET_USERNS), err;

	*own = 0;
	if (u < 0)
		return errno == EPERM ? 0 : -errno;
	err = same_file(u, "/proc/self/ns/user", own);
	close(u);
	return err;
}

/* ---- the resolver --------------------------------------------------------------- */

struct want {
	int v4, v6, specific;
	struct netns_addr a;
};

static int parse_bound(const struct netns_addr *b, int v6only, struct want *w, char *why, size_t len)
{
	static const uint8_t zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(w, 0, sizeof(*w));
	w->a = *b;
	if (b->family == AF_INET) {
		w->v4 = 1;
		w->specific = memcmp(b->addr, zero, 4) != 0;
	} else if (b->family == AF_INET6 && !memcmp(b->addr, mapped, 12)) {
		if (v6only)
			return say(why, len, -EADDRNOTAVAIL, "a v4-mapped address on an IPv6-only socket");
		/* ::ffff:0.0.0.0 is what an IPv6 socket binds for IPv4's any */
		w->v4 = 1;
		w->specific = memcmp(b->addr + 12, zero, 4) != 0;
		w->a.family = AF_INET;
		memcpy(w->a.addr, b->addr + 12, 4);
		memset(w->a.addr + 4, 0, 12);
	} else if (b->family == AF_INET6) {
		w->v6 = 1;
		w->specific = memcmp(b->addr, zero, 16) != 0;
		w->v4 = !w->specific && !v6only;
	} else {
		return say(why, len, -EINVAL, "address family %d", b->family);
	}
	return 0;
}

static int resolve(struct nd_ctx *c, int fd, int self, const struct want *w, struct netns_view *out, char *why,
		   size_t len)
{
	char s[INET6_ADDRSTRLEN], last[200] = "";
	unsigned refused = 0;
	int err, found = 0;

	if (setsockopt(mnl_socket_get_fd(c->nl), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &(int){ 1 }, sizeof(int)))
		return say(why, len, -errno, "rtnetlink strict checking (Linux >= 4.20): %s", strerror(errno));
	if ((err = nd_ns_id(c, fd, &c->nsid)) || (err = nd_ns_id(c, self, &c->self_nsid)))
		return say(why, len, err, "the netns's id here (RTM_GETNSID/NEWNSID): %s", strerror(-err));
	out->nsid = c->nsid;
	if ((err = nd_dump_links(c)))
		return say(why, len, err, "the netns's links: %s", strerror(-err));
	if ((w->v4 && (err = nd_dump_addrs(c, AF_INET))) || (w->v6 && (err = nd_dump_addrs(c, AF_INET6))))
		return say(why, len, err, "the netns's addresses: %s", strerror(-err));
	for (unsigned i = 0; i < c->naddrs; i++) {
		const struct nd_addr *x = &c->addrs[i];
		struct netns_target *t = &out->t[out->n];

		if (out->n == NETNS_MAX_TARGETS)
			break;
		if ((x->a.family == AF_INET ? !w->v4 : !w->v6) || !addr_usable(x))
			continue;
		if (w->specific && memcmp(x->a.addr, w->a.addr, x->a.family == AF_INET ? 4 : 16))
			continue;
		found = 1;
		if (check_addr(c, x, &t->bridge, &t->port, last, sizeof(last))) {
			refused++;
			continue;
		}
		t->a = x->a;
		out->n++;
	}
	if (w->specific && !found)
		return say(why, len, -EADDRNOTAVAIL, "%s is not a usable address of the netns",
			   addr_str(&w->a, s, sizeof(s)));
	if (!out->n)
		return say(why, len, -EADDRNOTAVAIL, "%s",
			   refused ? last : "the netns has no address that is not loopback or link-local");
	if (refused)
		return say(why, len, 0, "nsid %d: %u target%s, %u address%s refused, the last: %s", c->nsid, out->n,
			   out->n == 1 ? "" : "s", refused, refused == 1 ? "" : "es", last);
	return say(why, len, 0, "nsid %d: %u target%s", c->nsid, out->n, out->n == 1 ? "" : "s");
}

int netns_resolve(pid_t pid, uint64_t netns_ino, const struct netns_addr *bound, int v6only,
		  struct netns_view *out, char *why, size_t whylen)
{
	struct nd_ctx *c = NULL;
	struct want w;
	int fd = -1, self = -1, same, err;

	memset(out, 0, sizeof(*out));
	out->nsid = NETNSA_NSID_NOT_ASSIGNED;
	if ((err = parse_bound(bound, v6only, &w, why, whylen)) || (err = open_ns(pid, netns_ino, &fd, why, whylen)))
		goto out;
	if ((err = userns_own(fd, &out->userns_own))) {
		say(why, whylen, err, "the netns's user namespace (NS_GET_USERNS): %s", strerror(-err));
		goto out;
	}
	if (!out->userns_own) {
		err = say(why, whylen, -EXDEV, "process %d's netns is owned by another user namespace (a rootless "
			  "engine's): its root may claim any address there", (int)pid);
		goto out;
	}
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || (err = same_file(fd, "/proc/self/ns/net", &same))) {
		err = self < 0 ? -errno : err;
		say(why, whylen, err, "our own netns: %s", strerror(-err));
		goto out;
	}
	if (same) {
		err = say(why, whylen, -EINVAL, "process %d is in our own netns", (int)pid);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		err = say(why, whylen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((err = nl_socket_bound(NETLINK_ROUTE, &c->nl))) {
		say(why, whylen, err, "rtnetlink socket: %s", strerror(-err));
		goto out;
	}
	err = resolve(c, fd, self, &w, out, why, whylen);
out:
	if (c && c->nl)
		mnl_socket_close(c->nl);
	free(c);
	if (self >= 0)
		close(self);
	if (fd >= 0)
		close(fd);
	if (err)
		out->n = 0;
	return err;
}
