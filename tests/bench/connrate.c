// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: TCP connections per second to ADDR:PORT for SECONDS: a
 * loop of blocking connect() + close() (closed with a RST, so no TIME_WAIT
 * piles up and ports never run out). Every connection sends SYN, ACK and RST
 * into the host's input hook, so the figure moves with the per-packet cost
 * of the rules in front of them. Prints "CONNS SECONDS RATE FAILED".
 *   usage: connrate ADDR PORT SECONDS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

static double now_s(void)
{
	return mono() / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct linger l = { 1, 0 };
	long long conns = 0, failed = 0;
	double t0, t, dur;
	socklen_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: connrate ADDR PORT SECONDS\n");
		return 64;
	}
	dur = atof(argv[3]);
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	t0 = now_s();
	do {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		struct timeval tv = { 1, 0 }; /* a dropped SYN must not hang the loop */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			conns++;
		else
			failed++;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
		t = now_s();
	} while (t - t0 < dur);
	printf("%lld %.3f %.1f %lld\n", conns, t - t0, conns / (t - t0), failed);
	return failed && !conns;
}
