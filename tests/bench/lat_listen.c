// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: bind ADDR:PORT, listen, print CLOCK_MONOTONIC (ns) taken
 * right before listen() is called (a stamp taken after it returns can come
 * late when this process is preempted; before the call, the figure can only
 * overstate the latency by the syscall's own time), then accept one
 * connection (or give up after TIMEOUT_MS) and exit. CLOCK_MONOTONIC is shared by every network namespace,
 * so a prober elsewhere can subtract.  usage: lat_listen ADDR PORT TIMEOUT_MS */
#include <arpa/inet.h>
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
	int fd, one = 1;
	socklen_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: lat_listen ADDR PORT TIMEOUT_MS\n");
		return 64;
	}
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("lat_listen");
		return 1;
	}
	long long t0 = mono();
	if (listen(fd, 64) < 0) {
		perror("lat_listen");
		return 1;
	}
	printf("%lld\n", t0);
	fflush(stdout);
	accept_one(fd, atoi(argv[3]));
	return 0;
}
