// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: the "pre-hook" alternative to porthole, timed like
 * porthole's open latency. Stamps CLOCK_MONOTONIC (t0), runs the hook command
 * (e.g. `nft -e -a insert rule inet filter input tcp dport 80 accept`) and
 * waits for it, then binds ADDR:PORT, stamps again right before listen() and
 * listens: the listener is up once the hook is done, as with certbot's
 * --pre-hook. Prints "T0 TLISTEN" (ns) on a line of its own after the hook's
 * own output (its stdout is ours: nft -e prints the new rule's handle there),
 * then accepts one connection (or gives up after TIMEOUT_MS) and exits.
 * A prober elsewhere (synprobe) gives t1; t1 - T0 is the hook's open latency.
 * Exit status 2 if the hook failed (nothing is listened on then).
 *   usage: hook_listen ADDR PORT TIMEOUT_MS -- CMD [ARGS...] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	long long t0, tl;
	int fd, one = 1, status;
	socklen_t len;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: hook_listen ADDR PORT TIMEOUT_MS -- CMD [ARGS...]\n");
		return 64;
	}
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	fflush(stdout);
	t0 = mono();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[5], argv + 5);
		perror(argv[5]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "hook_listen: the hook failed\n");
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("bind");
		return 1;
	}
	tl = mono();
	if (listen(fd, 64) < 0) {
		perror("listen");
		return 1;
	}
	printf("%lld %lld\n", t0, tl);
	fflush(stdout);
	accept_one(fd, atoi(argv[3]));
	return 0;
}
