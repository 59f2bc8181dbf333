// SPDX-License-Identifier: GPL-2.0-or-later
/* The CLI's side of the control socket (see client.h): one connection per
 * command, every reply validated by ph_msg_check, every failure turned into
 * one message and one exit status here, so the verbs only say what they
 * asked. Also the printers for strings that come from outside the CLI. */
#include "client.h"
#include "config.h"
#include "json.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path = PH_DEFAULT_SOCKET;

void die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("porthole: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void client_init(void)
{
	sock_path = getenv("PORTHOLE_SOCKET");
	if (!sock_path || !*sock_path)
		sock_path = PH_DEFAULT_SOCKET;
}

void client_set_socket(const char *path)
{
	sock_path = path;
}

const char *client_socket(void)
{
	return sock_path;
}

int connect_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (copy_str(sa.sun_path, sizeof(sa.sun_path), sock_path)) {
		die_msg("socket path too long: %s", sock_path);
		return -EX_USAGE_;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		die_msg("socket: %s", strerror(errno));
		return -EX_OSERR_;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == EACCES || e == EPERM) {
			die_msg("cannot use %s: permission denied (root or group of the socket needed)", sock_path);
			return -EX_NOPERM_;
		}
		die_msg("cannot reach portholed at %s: %s (is the daemon running?)", sock_path, strerror(e));
		return -EX_UNAVAILABLE_;
	}
	return fd;
}

int recv_msg(int fd, void *buf, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (timeout_ms >= 0) {
		r = poll(&p, 1, timeout_ms);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
	}
	n = recv(fd, buf, PH_MSG_MAX, 0);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	return ph_msg_check(buf, (size_t)n);
}

int send_simple(int fd, uint16_t type, const void *payload, size_t plen)
{
	char buf[sizeof(struct ph_hdr) + 64];
	size_t len = ph_msg_init(buf, type, plen);

	if (plen)
		memcpy(ph_payload(buf), payload, plen);
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

int error_exit(const void *msg)
{
	const struct ph_error *e = ph_payload((void *)msg);
	char text[4 * PH_ERRMSG_LEN + 1];

	/* the daemon's text may quote what a client sent it */
	term_escape(text, sizeof(text), e->msg);
	die_msg("portholed refused: %s", text);
	/* a refusal of the request (permission, a limit, a child that cannot
	 * be tagged) is 77; anything else is the daemon failing, 70 */
	switch (e->code) {
	case EACCES: case EPERM: case EUSERS: case EBUSY: case EEXIST: case ENOSPC: case ESRCH:
		return EX_NOPERM_;
	default:
		return EX_SOFTWARE_;
	}
}

int reply_failure(int r)
{
	if (r == -ECONNRESET) {
		die_msg("portholed closed the connection (refused or stopped)");
		return EX_UNAVAILABLE_;
	}
	if (r == -ETIMEDOUT) {
		die_msg("no reply from portholed at %s", sock_path);
		return EX_UNAVAILABLE_;
	}
	die_msg("bad reply from portholed: %s", strerror(-r));
	return EX_SOFTWARE_;
}

void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void print_safe(FILE *f, const char *s)
{
	size_t n = term_escape(NULL, 0, s);
	char *buf = malloc(n + 1);

	if (!buf)
		return;
	term_escape(buf, n + 1, s);
	fputs(buf, f);
	free(buf);
}
