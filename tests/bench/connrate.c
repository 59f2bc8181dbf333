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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct linger l = { 1, 0 };
	long long conns = 0, failed = 0;
	double t0, t, dur;
	socklen_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: connrate ADDR PORT SECONDS\n");
		return 64;
	}
	dur = atof(argv[3]);
	if (strchr(argv[1], ':')) {
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
