// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper for the close latency: send a fresh SYN to ADDR:PORT every
 * INTERVAL_US and record, for each attempt, its send time (CLOCK_MONOTONIC
 * right before connect()) and whether it was answered. A SYN-ACK and a RST
 * both count as answered: either way the SYN passed the firewall. When a
 * listener dies while a plain `tcp dport 80 accept` rule is in place, SYNs
 * are answered with RST until the rule is gone; after that they are dropped
 * (no answer within RESP_MS). Answered connections are closed with a RST (no
 * TIME_WAIT).
 *
 * With KILL_PID, HOLD_MS after the first answer it stamps CLOCK_MONOTONIC and
 * sends SIGKILL to KILL_PID (the listener; the kill() call is the only thing
 * between the stamp and the signal). Without it, the listener is expected to
 * go away by itself.
 *
 * It stops once TAIL_N consecutive attempts after the last answered one went
 * unanswered, and prints one line of key=value pairs (ns, CLOCK_MONOTONIC):
 *   open=  first answer seen        kill=  kill stamp (0 if none)
 *   last=  send time of the last answered SYN
 *   next=  send time of the first unanswered SYN after it
 *   lport= source port of the last answered SYN, last_rst= 1 if it got a RST
 *   answered= refused= refused_after_kill= dropped= sent= errors=
 * or "timeout ..." (exit status 1) when that did not happen within TIMEOUT_MS.
 *   usage: close_probe ADDR PORT INTERVAL_US TAIL_N TIMEOUT_MS [KILL_PID HOLD_MS] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "benchlib.h"

#define CAP 16384 /* attempts tracked at once (power of two) */
#define RESP_NS (50 * 1000000LL)

enum { A_FREE, A_PENDING, A_ANSWERED, A_DROPPED };

struct attempt {
	long long sent;
	int fd;
	int state;
};

static struct attempt att[CAP];
static long long t_open, t_kill, last_sent, last_seq = -1;
static long long answered, refused, refused_after_kill, dropped, errors;
static int last_lport, last_rst;

static int lport(int fd)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return 0;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
}

/* attempt S got an answer (rst: a RST) or none (state A_DROPPED); closes it */
static void resolve(long long s, int state, int rst)
{
	struct attempt *a = &att[s & (CAP - 1)];

	a->state = state;
	if (state == A_ANSWERED) {
		answered++;
		if (rst) {
			refused++;
			if (t_kill && a->sent >= t_kill)
				refused_after_kill++;
		}
		if (!t_open)
			t_open = mono();
		if (s > last_seq) {
			last_seq = s;
			last_sent = a->sent;
			last_lport = lport(a->fd);
			last_rst = rst;
		}
		struct linger l = { 1, 0 }; /* close with a RST: no TIME_WAIT */
		setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	} else {
		dropped++;
	}
	close(a->fd);
	a->fd = -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	long long interval, end, next_send = 0, hold = 0, next_sent = 0, seq = 0, oldest = 0, tail_n;
	struct epoll_event evs[64];
	struct rlimit rl = { 8192, 8192 };
	pid_t kill_pid = 0;
	socklen_t len;
	int ep;

	if (argc != 6 && argc != 8) {
		fprintf(stderr, "usage: close_probe ADDR PORT INTERVAL_US TAIL_N TIMEOUT_MS [KILL_PID HOLD_MS]\n");
		return 64;
	}
	interval = atoll(argv[3]) * 1000LL;
	tail_n = atoll(argv[4]);
	if (tail_n < 1 || tail_n > CAP / 2) {
		fprintf(stderr, "close_probe: TAIL_N must be 1..%d\n", CAP / 2);
		return 64;
	}
	if (argc == 8) {
		kill_pid = (pid_t)atoi(argv[6]);
		hold = atoll(argv[7]) * 1000000LL;
	}
	len = parse_sockaddr(argv[1], argv[2], &ss);
	if (!len) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 64;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	ep = epoll_create1(0);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	end = mono() + atoll(argv[5]) * 1000000LL;
	for (;;) {
		long long now = mono();

		if (now >= end) {
			printf("timeout open=%lld kill=%lld last=%lld lport=%d answered=%lld dropped=%lld sent=%lld\n",
			       t_open, t_kill, last_sent, last_lport, answered, dropped, seq);
			return 1;
		}
		if (kill_pid && t_open && !t_kill && now >= t_open + hold) {
			t_kill = mono();
			if (kill(kill_pid, SIGKILL) < 0) {
				perror("kill");
				return 1;
			}
			now = mono();
		}
		if (now >= next_send && seq - oldest < CAP) {
			struct attempt *a = &att[seq & (CAP - 1)];
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0), r;

			if (fd < 0) {
				perror("socket");
				return 1;
			}
			a->fd = fd;
			a->state = A_PENDING;
			a->sent = mono();
			r = connect(fd, (struct sockaddr *)&ss, len);
			if (r == 0 || errno == ECONNREFUSED) {
				resolve(seq, A_ANSWERED, r != 0);
			} else if (errno == EINPROGRESS) {
				struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = (unsigned long long)seq };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			} else {
				errors++;
				resolve(seq, A_DROPPED, 0);
			}
			seq++;
			next_send = next_send + interval > now ? next_send + interval : now + interval;
		}
		int n = epoll_wait(ep, evs, 64, 0);
		for (int i = 0; i < n; i++) {
			long long s = (long long)evs[i].data.u64;
			struct attempt *a = &att[s & (CAP - 1)];
			int err = 0;
			socklen_t el = sizeof(err);

			if (a->state != A_PENDING)
				continue;
			getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err == 0 || err == ECONNREFUSED) {
				resolve(s, A_ANSWERED, err != 0);
			} else {
				errors++;
				resolve(s, A_DROPPED, 0);
			}
		}
		/* attempts unanswered for RESP_NS were dropped; resolve in order */
		now = mono();
		while (oldest < seq) {
			struct attempt *a = &att[oldest & (CAP - 1)];
			if (a->state == A_PENDING) {
				if (now - a->sent < RESP_NS)
					break;
				resolve(oldest, A_DROPPED, 0);
			}
			oldest++;
		}
		if (t_open && (!kill_pid || t_kill) && last_seq >= 0 && oldest > last_seq + tail_n) {
			next_sent = att[(last_seq + 1) & (CAP - 1)].sent;
			break;
		}
		struct timespec ts = { 0, 10000 };
		nanosleep(&ts, NULL);
	}
	printf("open=%lld kill=%lld last=%lld next=%lld lport=%d last_rst=%d answered=%lld refused=%lld "
	       "refused_after_kill=%lld dropped=%lld sent=%lld errors=%lld\n",
	       t_open, t_kill, last_sent, next_sent, last_lport, last_rst, answered, refused, refused_after_kill,
	       dropped, seq, errors);
	return 0;
}
