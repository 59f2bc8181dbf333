// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: a bounded request flood at ADDR:PORT. RATE new TCP
 * connections per second for SECONDS (paced every millisecond), each sending
 * one request and closed with a RST after at most HOLD_MS (or as soon as the
 * server answers or closes): every other one a challenge-shaped request for
 * a token that does not exist (GET /.well-known/acme-challenge/<43 random
 * base64url characters>), the others junk (random bytes, a bare "GET /", a
 * request line without its end, a POST, an oversized header). At most MAX
 * connections in flight: when full, a due connection is counted as skipped,
 * never queued (the run ends on time). Prints
 *   "attempted N connected N sent N answered N failed N skipped N seconds S rate R"
 *   usage: flood ADDR PORT RATE SECONDS [HOLD_MS [MAX]] */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "benchlib.h"

struct conn {
	int fd;
	int sent;
	long long deadline;
};

static struct conn *conns;
static int nmax, epfd;
static long long n_attempt, n_conn, n_sent, n_answer, n_fail, n_skip;
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned long long rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void finish(struct conn *c)
{
	struct linger l = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd); /* RST: no TIME_WAIT, no FIN retransmissions */
	c->fd = -1;
}

static size_t request(char *buf, size_t len, unsigned long long k)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = 0;

	if (k % 2 == 0) {
		char tok[44];
		for (int i = 0; i < 43; i++)
			tok[i] = b64[rnd() % 64];
		tok[43] = '\0';
		return (size_t)snprintf(buf, len,
					"GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: example.org\r\n"
					"User-Agent: flood\r\nAccept: */*\r\nConnection: close\r\n\r\n", tok);
	}
	switch ((k / 2) % 5) {
	case 0: /* random bytes */
		n = 1 + rnd() % 200;
		for (size_t i = 0; i < n && i < len; i++)
			buf[i] = (char)rnd();
		return n < len ? n : len;
	case 1:
		return (size_t)snprintf(buf, len, "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
	case 2:
		return (size_t)snprintf(buf, len, "GET /.well-known/acme-challenge/");
	case 3:
		return (size_t)snprintf(buf, len, "POST /.well-known/acme-challenge/x HTTP/1.1\r\nHost: e\r\n"
					"Content-Length: 4\r\n\r\nabcd");
	default:
		n = (size_t)snprintf(buf, len, "GET /.well-known/acme-challenge/x HTTP/1.1\r\nX-Pad: ");
		while (n + 4 < len && n < 1200)
			buf[n++] = 'a';
		memcpy(buf + n, "\r\n\r\n", 4);
		return n + 4;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct epoll_event evs[256];
	long long t0, t, next, end, step, hold_ns;
	double rate;
	socklen_t alen;
	char buf[1500];

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: flood ADDR PORT RATE SECONDS [HOLD_MS [MAX]]\n");
		return 64;
	}
	alen = parse_sockaddr(argv[1], argv[2], &ss);
	rate = atof(argv[3]);
	if (!alen || rate <= 0 || rate > 100000 || atof(argv[4]) <= 0 || atof(argv[4]) > 60) {
		fprintf(stderr, "flood: bad address, or RATE not 1-100000, or SECONDS not 1-60\n");
		return 64;
	}
	hold_ns = (argc > 5 ? atoll(argv[5]) : 200) * 1000000LL;
	nmax = argc > 6 ? atoi(argv[6]) : 4096;
	if (nmax < 1 || nmax > 60000)
		nmax = 4096;
	rng ^= (unsigned long long)mono();
	conns = calloc((size_t)nmax, sizeof(*conns));
	epfd = epoll_create1(0);
	if (!conns || epfd < 0) {
		perror("flood");
		return 1;
	}
	for (int i = 0; i < nmax; i++)
		conns[i].fd = -1;
	step = (long long)(1e9 / rate);
	t0 = next = mono();
	end = t0 + (long long)(atof(argv[4]) * 1e9);
	int free_hint = 0;
	for (;;) {
		t = mono();
		/* due connections (the pacing never catches up more than 1 s) */
		if (next < t - 1000000000LL)
			next = t - 1000000000LL;
		while (next <= t && next < end) {
			int slot = -1;
			next += step;
			n_attempt++;
			for (int i = 0; i < nmax; i++) {
				int j = (free_hint + i) % nmax;
				if (conns[j].fd < 0) {
					slot = j;
					break;
				}
			}
			if (slot < 0) {
				n_skip++;
				continue;
			}
			free_hint = slot + 1;
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				n_fail++;
				continue;
			}
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (connect(fd, (struct sockaddr *)&ss, alen) < 0 && errno != EINPROGRESS) {
				n_fail++;
				close(fd);
				continue;
			}
			conns[slot] = (struct conn){ fd, 0, t + hold_ns };
			struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)slot };
			epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
		}
		int n = epoll_wait(epfd, evs, 256, 1);
		for (int i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			if (c->fd < 0)
				continue;
			if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
				if (!c->sent)
					n_fail++;
				finish(c);
				continue;
			}
			if (!c->sent && (evs[i].events & EPOLLOUT)) {
				size_t len = request(buf, sizeof(buf), (unsigned long long)n_conn);
				n_conn++;
				if (send(c->fd, buf, len, MSG_NOSIGNAL) > 0)
					n_sent++;
				c->sent = 1;
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[i].data.u32 };
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP)) {
				n_answer++;
				finish(c);
			}
		}
		t = mono();
		for (int i = 0; i < nmax; i++)
			if (conns[i].fd >= 0 && conns[i].deadline <= t) {
				if (!conns[i].sent)
					n_fail++; /* no handshake within HOLD_MS */
				finish(&conns[i]);
			}
		if (t >= end) {
			int open = 0;
			for (int i = 0; i < nmax; i++)
				open += conns[i].fd >= 0;
			if (!open || t >= end + hold_ns)
				break;
		}
	}
	for (int i = 0; i < nmax; i++)
		if (conns[i].fd >= 0)
			finish(&conns[i]);
	double secs = (mono() - t0) / 1e9;
	printf("attempted %lld connected %lld sent %lld answered %lld failed %lld skipped %lld seconds %.2f rate %.0f\n",
	       n_attempt, n_conn, n_sent, n_answer, n_fail, n_skip, secs, n_conn / secs);
	return 0;
}
