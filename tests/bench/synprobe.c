// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: send a fresh SYN to ADDR:PORT every INTERVAL_US until one
 * is answered (connect succeeds), then print CLOCK_MONOTONIC (ns) of that
 * moment. A dropped SYN is only retransmitted after a second, so instead of
 * waiting, keep up to 64 attempts in flight and start a new one each interval.
 * A refused attempt (RST) counts as answered too: it passed the firewall.
 * Prints "timeout" after TIMEOUT_MS.
 * FLAGS (optional, letters): 'a' counts only a SYN-ACK as the answer (a
 * refused attempt is closed and probing goes on: for a rule that opens the
 * port before anything listens, where a RST only says "firewall open, no
 * listener yet"); 'f' prints a second line, the send time of the first SYN
 * (the caller checks that probing had begun before the listener came up).
 * usage: synprobe ADDR PORT TIMEOUT_MS [INTERVAL_US [FLAGS]] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

#define INFLIGHT 64

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct pollfd p[INFLIGHT];
	long long born[INFLIGHT], end, next = 0, interval, first = 0;
	const char *flags = argc > 5 ? argv[5] : "";
	int synack_only = strchr(flags, 'a') != NULL, show_first = strchr(flags, 'f') != NULL;
	socklen_t len;

	if (argc < 4) {
		fprintf(stderr, "usage: synprobe ADDR PORT TIMEOUT_MS [INTERVAL_US [FLAGS]]\n");
		return 64;
	}
	interval = (argc > 4 ? atoll(argv[4]) : 100) * 1000LL;
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	for (int i = 0; i < INFLIGHT; i++)
		p[i].fd = -1;
	end = mono() + atoll(argv[3]) * 1000000LL;
	for (;;) {
		long long now = mono();
		if (now >= end) {
			printf("timeout\n");
			return 1;
		}
		if (now >= next) {
			int slot = -1;
			for (int i = 0; i < INFLIGHT; i++) {
				if (p[i].fd < 0) { slot = i; break; }
				if (slot < 0 || born[i] < born[slot]) slot = i;
			}
			if (p[slot].fd >= 0) {
				close(p[slot].fd); /* recycle the oldest attempt */
				p[slot].fd = -1;
			}
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				perror("socket");
				return 1;
			}
			if (!first)
				first = mono();
			if (connect(fd, (struct sockaddr *)&ss, len) == 0 || (errno == ECONNREFUSED && !synack_only)) {
				printf("%lld\n", mono());
				if (show_first)
					printf("%lld\n", first);
				return 0;
			}
			if (errno == ECONNREFUSED) {
				close(fd);
				next = now + interval;
				continue;
			}
			p[slot].fd = fd;
			p[slot].events = POLLOUT;
			born[slot] = now;
			next = now + interval;
		}
		if (poll(p, INFLIGHT, 0) > 0) {
			for (int i = 0; i < INFLIGHT; i++) {
				if (p[i].fd >= 0 && p[i].revents) {
					int err = 0;
					socklen_t el = sizeof(err);
					getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
					if (err == 0 || (err == ECONNREFUSED && !synack_only)) {
						printf("%lld\n", mono());
						if (show_first)
							printf("%lld\n", first);
						return 0;
					}
					close(p[i].fd);
					p[i].fd = -1;
				}
			}
		}
		struct timespec ts = { 0, 10000 };
		nanosleep(&ts, NULL);
	}
}
