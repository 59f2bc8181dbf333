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

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct timespec ts;
	int fd, one = 1, v6;
	socklen_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: lat_listen ADDR PORT TIMEOUT_MS\n");
		return 64;
	}
	v6 = strchr(argv[1], ':') != NULL;
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(argv[2]));
		inet_pton(AF_INET6, argv[1], &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)atoi(argv[2]));
		inet_pton(AF_INET, argv[1], &s4->sin_addr);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("lat_listen");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (listen(fd, 64) < 0) {
		perror("lat_listen");
		return 1;
	}
	printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fflush(stdout);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, atoi(argv[3])) == 1) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	close(fd);
	return 0;
}
