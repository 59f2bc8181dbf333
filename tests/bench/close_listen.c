// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: a listener that keeps accepting (and closing) connections
 * until it is killed, so that a steady stream of probes never fills its accept
 * queue. Prints "PID LISTEN_NS" (CLOCK_MONOTONIC right before listen()) once
 * it listens. With EXIT_AFTER_MS > 0 it exits by itself EXIT_AFTER_MS after
 * its first accepted connection, printing "exit NS" (CLOCK_MONOTONIC right
 * before _exit) first: the "client exits" case of the close latency.
 * Used as the close-latency target, as a long-lived window holder, and as the
 * port-22 server of the connection-rate test.
 *   usage: close_listen ADDR PORT [EXIT_AFTER_MS] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	long long exit_after, deadline = 0, tl;
	int fd, one = 1;
	socklen_t len;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: close_listen ADDR PORT [EXIT_AFTER_MS]\n");
		return 64;
	}
	exit_after = argc > 3 ? atoll(argv[3]) * 1000000LL : 0;
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("close_listen: bind");
		return 1;
	}
	tl = mono();
	if (listen(fd, 4096) < 0) {
		perror("close_listen: listen");
		return 1;
	}
	printf("%d %lld\n", (int)getpid(), tl);
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int timeout = -1;

		if (deadline) {
			long long left = deadline - mono();
			if (left <= 0) {
				printf("exit %lld\n", mono());
				fflush(stdout);
				_exit(0);
			}
			timeout = (int)((left + 999999) / 1000000);
		}
		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			return 1;
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				break;
			close(c);
			if (exit_after && !deadline)
				deadline = mono() + exit_after;
		}
	}
}
