/* SPDX-License-Identifier: GPL-2.0-or-later */
/* From a listener in another network namespace (a container) to the DNAT
 * targets the daemon's own namespace reaches it by: each usable address A of
 * that namespace with the host-side bridge B its packets leave through
 * (docs/design/containers.md §2, "netns -> DNAT target").
 *
 * Read with rtnetlink only, without CAP_SYS_ADMIN (no setns): the process's
 * /proc/PID/ns/net (ptrace-read access, CAP_SYS_PTRACE), its nsid in our
 * namespace (RTM_GETNSID by fd, RTM_NEWNSID when it has none), and dumps of
 * its links and addresses from here (IFLA_/IFA_TARGET_NETNSID: CAP_NET_ADMIN
 * over its owning user namespace). An address counts when its interface is a
 * veth whose peer is in our namespace, that peer is enslaved to a bridge B,
 * and our route to A goes out B: an address the container gives itself that
 * our routes do not send to its bridge does not count. Loopback and
 * link-local addresses never do.
 *
 * No logging: -errno, with one line in `why` saying what did not hold. */
#ifndef PORTHOLE_NETNS_H
#define PORTHOLE_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETNS_MAX_TARGETS 16

struct netns_addr {
	int family;             /* AF_INET / AF_INET6 */
	uint8_t addr[16];       /* network order; 4 bytes for IPv4 */
};

struct netns_target {
	struct netns_addr a;    /* an address of the listener's namespace */
	uint32_t bridge;        /* ifindex, in our namespace, of the bridge to it */
	uint32_t port;          /* ifindex of the bridge port it is behind: the
				 * veth peer here of its interface there (the
				 * container window's pin, nftcontainer.h) */
};

struct netns_view {
	int32_t nsid;           /* the namespace's id in ours */
	int userns_own;         /* 1: owned by our user namespace (the initial
				 * one for a system service); 0: by another one,
				 * a rootless engine's (netns_resolve then fails
				 * with -EXDEV and gives no target) */
	unsigned n;
	struct netns_target t[NETNS_MAX_TARGETS];
};

/* The DNAT targets of a listener of process pid, bound to `bound` (an
 * address, or 0.0.0.0 / :: for any; v6only as the socket's IPV6_V6ONLY:
 * :: without it means both families; a v4-mapped address is its IPv4
 * address, ::ffff:0.0.0.0 IPv4's any), in the namespace whose inode is
 * netns_ino (the BPF event's).
 * 0 with out->n >= 1, or:
 *   -ESRCH         the process is gone, or its namespace is not netns_ino
 *                  any more (the pid was reused)
 *   -EADDRNOTAVAIL a specific address that is not the namespace's or does
 *                  not pass; a wildcard with no address that passes
 *   -EXDEV         the namespace is owned by another user namespace: its
 *                  root is no root of ours, and nothing it holds is
 *                  trusted (an error, not a flag the caller could miss;
 *                  userns_own says it too)
 *   -EINVAL        the namespace is our own, or bound is not an address
 *   other          what the kernel said (-EACCES, -EPERM: a capability)
 * why (may be NULL) gets one line for the caller's log in every case. */
int netns_resolve(pid_t pid, uint64_t netns_ino, const struct netns_addr *bound, int v6only,
		  struct netns_view *out, char *why, size_t whylen);

#endif
