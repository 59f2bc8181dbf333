/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every benchmark helper needs: CLOCK_MONOTONIC in nanoseconds (shared
 * by all network namespaces, so stamps taken in two of them subtract), an
 * address:port parsed into a sockaddr, and a listener's one connection. */
#ifndef PORTHOLE_BENCHLIB_H
#define PORTHOLE_BENCHLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline long long mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ADDR (IPv4 or IPv6 literal) and PORT -> *ss; returns the address length,
 * 0 if ADDR is not an address */
static inline socklen_t parse_sockaddr(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(port));
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? sizeof(*s6) : 0;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? sizeof(*s4) : 0;
}

/* accept one connection on listener FD within TIMEOUT_MS (or none), close it
 * and the listener */
static inline void accept_one(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) == 1) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	close(fd);
}

#endif
