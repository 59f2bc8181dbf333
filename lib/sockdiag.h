/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's TCP sockets, read from the kernel with NETLINK_SOCK_DIAG as
 * `ss` does: one walk over every socket of the wanted states (IPv4, then
 * IPv6), each with its port, address, mark (needs CAP_NET_ADMIN) and cgroup.
 *
 * What porthole asks of it: the porthole marks that sockets on the watched
 * ports already carry (a daemon that starts after another one died finds the
 * old sessions' sockets still marked: those values are not given to new
 * sessions, or an old listener could ride a new session's window), and who
 * listens on a served port (a server window to a server that does not
 * listen admits nothing); and the connections a closed server window's
 * guard judged, ended. No logging; -errno returns. */
#ifndef PORTHOLE_SOCKDIAG_H
#define PORTHOLE_SOCKDIAG_H

#include <stdint.h>

struct sockdiag_sock {
	int family;             /* AF_INET / AF_INET6 */
	uint16_t sport;         /* local port, host order */
	uint8_t src[16];        /* local address (4 bytes for IPv4) */
	int has_mark, has_cgroup;
	uint32_t mark;
	uint64_t cgroup;        /* the socket's cgroup v2 id */
};

/* cb for every TCP socket whose state bit (1 << TCP_*) is in states. */
int sockdiag_each(uint32_t states, void (*cb)(const struct sockdiag_sock *s, void *arg), void *arg);

int sockdiag_marks(const uint16_t *ports, unsigned nports, uint32_t mask, uint32_t *marks, unsigned max, unsigned *n);

/* An open TCP connection, to end (CAP_NET_ADMIN, CONFIG_INET_DIAG_DESTROY). */
struct sockdiag_conn {
	int family;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;  /* host order */
	uint64_t cookie;        /* the socket's cookie: only that socket */
};

/* SOCK_DESTROY each (the peer gets a RST, the owner an error): *destroyed
 * says how many; one already gone counts as done. Returns the first other
 * error (-EOPNOTSUPP: the kernel cannot destroy sockets). */
int sockdiag_destroy(const struct sockdiag_conn *c, unsigned n, unsigned *destroyed);

#endif
