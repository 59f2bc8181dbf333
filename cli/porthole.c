/* porthole: the unprivileged CLI. Verbs come from a table, each with its own
 * usage; all of them talk to portholed over the control socket (see
 * common/proto.h). `run` places the command in a session cgroup *before* it
 * executes, so every socket it creates belongs to the session, and refuses
 * to run it at all when the daemon cannot give it a session (fail closed). */
#include "config.h"
#include "json.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/porthole/porthole.sock"

/* exit statuses, documented in the README and porthole(8) */
enum {
	EX_OK_ = 0,
	EX_NOTFOUND = 1,     /* close: no such open window */
	EX_USAGE_ = 64,
	EX_UNAVAILABLE_ = 69, /* daemon not running / unreachable */
	EX_SOFTWARE_ = 70,   /* protocol error, unexpected reply */
	EX_OSERR_ = 71,      /* fork, pipe, pidfd failed */
	EX_NOINPUT_ = 66,    /* log: the audit log cannot be read */
	EX_NOPERM_ = 77,     /* refused by the daemon or the socket's permissions */
	EX_CONFIG_ = 78,     /* log: the config file is bad */
	EX_CANNOT_EXEC = 126,
	EX_NOT_FOUND = 127,
};

static const char *sock_path;

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("porthole: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int connect_daemon(void)
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

/* Receive one message into buf (PH_MSG_MAX); validate; returns type or <0. */
static int recv_msg(int fd, void *buf, int timeout_ms)
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

static int send_simple(int fd, uint16_t type, const void *payload, size_t plen)
{
	char buf[sizeof(struct ph_hdr) + 64];
	size_t len = ph_msg_init(buf, type, plen);

	if (plen)
		memcpy(ph_payload(buf), payload, plen);
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

static int error_exit(const void *msg)
{
	const struct ph_error *e = ph_payload((void *)msg);

	die_msg("portholed refused: %s", e->msg);
	return (e->code == EACCES || e->code == EPERM) ? EX_NOPERM_ : EX_SOFTWARE_;
}

static int reply_failure(int r)
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

static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- run ------------------------------------------------------------------- */

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: porthole run [--port N]... [--max-window SECONDS] -- CMD [ARGS...]\n"
		"Run CMD in its own session; while a process of CMD listens on a watched port,\n"
		"portholed admits inbound TCP to that port, to CMD's sockets only.\n"
		"  --port N            a port the session may open (default: the daemon's ports)\n"
		"  --max-window SECS   close the window after this long (at most the daemon's max_window)\n");
}

static volatile sig_atomic_t child_pid;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	char c = (char)sig;

	(void)uc;
	/* a terminal's signal reaches the child by itself (same process group);
	 * forward only what was sent to us alone */
	if (sig != SIGCHLD && child_pid > 0 && si->si_code != SI_KERNEL)
		kill(child_pid, sig);
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a wakeup is already pending */
	}
	errno = saved;
}

static void print_event(const struct ph_event *e)
{
	char t[32];

	switch (e->kind) {
	case PH_EVENT_WINDOW_OPEN:
		fmt_time(e->deadline_ns, t, sizeof(t));
		die_msg("window %llu open: inbound tcp/%u admitted to this command's sockets (pid %u, %u chain%s) until %s at the latest",
			(unsigned long long)e->window_id, e->port, e->pid, e->nchains, e->nchains == 1 ? "" : "s", t);
		break;
	case PH_EVENT_WINDOW_CLOSE:
		die_msg("window %llu closed (%s): %llu packets, %llu bytes admitted",
			(unsigned long long)e->window_id, ph_reason_name(e->reason),
			(unsigned long long)e->packets, (unsigned long long)e->bytes);
		break;
	case PH_EVENT_WINDOW_FAILED:
		die_msg("a listen on a watched port got NO window: %s (see portholed's log)", strerror(e->error));
		break;
	default:
		break;
	}
}

static int exit_status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EX_SOFTWARE_;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "max-window", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	struct ph_run run = { 0 };
	int go[2], execerr[2], fd, opt, r, wstatus = 0, have_status = 0, session_over = 0;
	int daemon_gone = 0;
	uint64_t v;
	pid_t pid;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, 1, 65535, &v)) {
				die_msg("run: --port: '%s' is not a port number (1-65535)", optarg);
				return EX_USAGE_;
			}
			if (run.nports == PH_MAX_PORTS) {
				die_msg("run: at most %d --port options", PH_MAX_PORTS);
				return EX_USAGE_;
			}
			run.ports[run.nports++] = (uint16_t)v;
			break;
		case 'm':
			if (parse_u64(optarg, 1, 86400, &v)) {
				die_msg("run: --max-window: '%s' is not a number of seconds (1-86400)", optarg);
				return EX_USAGE_;
			}
			run.max_window = (uint32_t)v;
			break;
		case 'h':
			usage_run(stdout);
			return 0;
		default:
			usage_run(stderr);
			return EX_USAGE_;
		}
	}
	if (optind >= argc) {
		die_msg("run: no command given");
		usage_run(stderr);
		return EX_USAGE_;
	}
	argv += optind;

	fd = connect_daemon();
	if (fd < 0)
		return -fd;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(execerr, O_CLOEXEC) < 0 || pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		die_msg("pipe: %s", strerror(errno));
		return EX_OSERR_;
	}
	{
		struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
		sigemptyset(&sa.sa_mask);
		int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD };
		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			sigaction(sigs[i], &sa, NULL);
	}

	pid = fork();
	if (pid < 0) {
		die_msg("fork: %s", strerror(errno));
		return EX_OSERR_;
	}
	if (pid == 0) {
		char c;
		int e;
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		close(fd);
		close(go[1]);
		close(execerr[0]);
		/* wait until the daemon has placed us in the session cgroup */
		if (read(go[0], &c, 1) != 1)
			_exit(EX_SOFTWARE_);
		execvp(argv[0], argv);
		e = errno;
		if (write(execerr[1], &e, sizeof(e)) < 0)
			_exit(EX_NOT_FOUND);
		_exit(e == ENOENT ? EX_NOT_FOUND : EX_CANNOT_EXEC);
	}
	child_pid = pid;
	close(go[0]);
	close(execerr[1]);

	{
		char buf[sizeof(struct ph_hdr) + sizeof(struct ph_run)];
		union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int))]; } cbuf;
		struct iovec iov = { .iov_base = buf, .iov_len = ph_msg_init(buf, PH_MSG_RUN, sizeof(run)) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

		memcpy(ph_payload(buf), &run, sizeof(run));
		if (pidfd < 0) {
			die_msg("pidfd_open: %s", strerror(errno));
			r = EX_OSERR_;
			goto abort_child;
		}
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pidfd, sizeof(int));
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
			die_msg("cannot send to portholed: %s", strerror(errno));
			close(pidfd);
			r = EX_UNAVAILABLE_;
			goto abort_child;
		}
		close(pidfd);
	}
	r = recv_msg(fd, &m, 10000);
	if (r == PH_MSG_ERROR) {
		r = error_exit(&m);
		goto abort_child;
	}
	if (r != PH_MSG_RUN_OK) {
		r = r < 0 ? reply_failure(r) : EX_SOFTWARE_;
		goto abort_child;
	}
	/* the child is in the session cgroup: let it run */
	if (write(go[1], "g", 1) != 1) {
		r = EX_OSERR_;
		goto abort_child;
	}
	close(go[1]);
	{
		int e;
		ssize_t n = read(execerr[0], &e, sizeof(e));
		close(execerr[0]);
		if (n == (ssize_t)sizeof(e)) {
			die_msg("cannot run %s: %s", argv[0], strerror(e));
			waitpid(pid, NULL, 0);
			/* wait for the session to end so nothing of it remains */
			for (int i = 0; i < 50; i++) {
				int t = recv_msg(fd, &m, 100);
				if (t == PH_MSG_EVENT && ((struct ph_event *)ph_payload(&m))->kind == PH_EVENT_SESSION_END)
					break;
				if (t < 0 && t != -ETIMEDOUT)
					break;
			}
			close(fd);
			return e == ENOENT ? EX_NOT_FOUND : EX_CANNOT_EXEC;
		}
	}

	/* relay events until the command has exited and the daemon has ended
	 * the session (its cgroup is gone), so nothing of it outlives us */
	int noted = 0, stop_waiting = 0;
	while (!(have_status && (session_over || daemon_gone || stop_waiting))) {
		struct pollfd p[2] = { { .fd = sig_pipe[0], .events = POLLIN },
				       { .fd = daemon_gone ? -1 : fd, .events = POLLIN } };
		int timeout = have_status && !noted ? 2000 : -1;
		int n = poll(p, 2, timeout);

		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && have_status) {
			/* a daemonizing client left processes behind: the session
			 * (and any window) follows them, so wait for them too */
			die_msg("%s exited, but processes of its session still run; waiting for them "
				"(interrupt to stop waiting: their window still closes by itself)", argv[0]);
			noted = 1;
			continue;
		}
		if (n > 0 && p[0].revents) {
			char c[64];
			ssize_t k;
			while ((k = read(sig_pipe[0], c, sizeof(c))) > 0)
				for (ssize_t j = 0; j < k; j++)
					if (have_status && c[j] != SIGCHLD)
						stop_waiting = 1;
		}
		if (!have_status && waitpid(pid, &wstatus, WNOHANG) == pid) {
			have_status = 1;
			child_pid = 0;
		}
		if (n > 0 && p[1].revents) {
			int t = recv_msg(fd, &m, 0);
			if (t == PH_MSG_EVENT) {
				struct ph_event *e = ph_payload(&m);
				if (e->kind == PH_EVENT_SESSION_END)
					session_over = 1;
				else
					print_event(e);
			} else if (t < 0) {
				daemon_gone = 1;
				if (!have_status)
					die_msg("lost the connection to portholed: no window is open for this command now "
						"(the daemon closes them when it stops); the command goes on without one");
			}
		}
	}
	close(fd);
	return exit_status_of(wstatus);

abort_child:
	kill(pid, SIGKILL);
	close(go[1]);
	waitpid(pid, NULL, 0);
	close(fd);
	return r;
}

/* ---- status ------------------------------------------------------------------ */

static void usage_status(FILE *f)
{
	fprintf(f, "usage: porthole status [--json]\nList the open windows.\n");
}

static void json_str(const char *s)
{
	char buf[1024];

	json_escape(buf, sizeof(buf), s);
	printf("\"%s\"", buf);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	struct ph_status_reply *rep;
	int json = 0, opt, fd, r;
	uint64_t now = now_ns(CLOCK_REALTIME);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			usage_status(stdout);
			return 0;
		} else {
			usage_status(stderr);
			return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("status: unexpected argument '%s'", argv[optind]);
		usage_status(stderr);
		return EX_USAGE_;
	}
	fd = connect_daemon();
	if (fd < 0)
		return -fd;
	if (send_simple(fd, PH_MSG_STATUS, NULL, 0)) {
		close(fd);
		return reply_failure(-ECONNRESET);
	}
	r = recv_msg(fd, &m, 10000);
	close(fd);
	if (r == PH_MSG_ERROR)
		return error_exit(&m);
	if (r != PH_MSG_STATUS_REPLY)
		return reply_failure(r < 0 ? r : -EPROTO);
	rep = ph_payload(&m);
	if (json) {
		printf("{\"windows\":[");
		for (uint32_t i = 0; i < rep->count; i++) {
			struct ph_status_entry *e = &rep->entries[i];
			char o[32], d[32];
			fmt_time(e->opened_ns, o, sizeof(o));
			fmt_time(e->deadline_ns, d, sizeof(d));
			printf("%s{\"id\":%llu,\"session\":%llu,\"pid\":%u,\"exe\":", i ? "," : "",
			       (unsigned long long)e->window_id, (unsigned long long)e->session_id, e->pid);
			json_str(e->exe);
			printf(",\"port\":%u,\"opened\":\"%s\",\"deadline\":\"%s\",\"age_s\":%llu,\"left_s\":%llu,"
			       "\"chains\":%u,\"listeners\":%u,\"packets\":%llu,\"bytes\":%llu,\"cgroup\":",
			       e->port, o, d, (unsigned long long)((now - e->opened_ns) / NSEC_PER_SEC),
			       (unsigned long long)(e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0),
			       e->nchains, e->nlisteners, (unsigned long long)e->packets, (unsigned long long)e->bytes);
			json_str(e->cgroup);
			printf("}");
		}
		printf("]}\n");
		return 0;
	}
	if (rep->count == 0) {
		printf("no open windows\n");
		return 0;
	}
	printf("%-16s %-7s %-5s %6s %6s %8s %8s  %s\n", "WINDOW", "PID", "PORT", "AGE", "LEFT", "PACKETS", "BYTES", "EXE");
	for (uint32_t i = 0; i < rep->count; i++) {
		struct ph_status_entry *e = &rep->entries[i];
		printf("%-16llu %-7u %-5u %5llus %5llus %8llu %8llu  %s\n", (unsigned long long)e->window_id, e->pid,
		       e->port, (unsigned long long)((now - e->opened_ns) / NSEC_PER_SEC),
		       (unsigned long long)(e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0),
		       (unsigned long long)e->packets, (unsigned long long)e->bytes, e->exe[0] ? e->exe : "?");
	}
	return 0;
}

/* ---- close --------------------------------------------------------------------- */

static void usage_close(FILE *f)
{
	fprintf(f, "usage: porthole close WINDOW-ID\nRevoke an open window now (its process is not killed).\n");
}

static int cmd_close(int argc, char **argv)
{
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	struct ph_close req;
	uint64_t id;
	int fd, r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage_close(stdout);
		return 0;
	}
	if (argc != 2) {
		die_msg(argc < 2 ? "close: missing window id" : "close: too many arguments");
		usage_close(stderr);
		return EX_USAGE_;
	}
	if (parse_u64(argv[1], 1, UINT64_MAX, &id)) {
		die_msg("close: '%s' is not a window id", argv[1]);
		usage_close(stderr);
		return EX_USAGE_;
	}
	req.window_id = id;
	fd = connect_daemon();
	if (fd < 0)
		return -fd;
	if (send_simple(fd, PH_MSG_CLOSE, &req, sizeof(req))) {
		close(fd);
		return reply_failure(-ECONNRESET);
	}
	r = recv_msg(fd, &m, 10000);
	close(fd);
	if (r == PH_MSG_OK) {
		printf("window %llu closed\n", (unsigned long long)id);
		return 0;
	}
	if (r == PH_MSG_ERROR) {
		struct ph_error *e = ph_payload(&m);
		if (e->code == ENOENT) {
			die_msg("%s", e->msg);
			return EX_NOTFOUND;
		}
		return error_exit(&m);
	}
	return reply_failure(r < 0 ? r : -EPROTO);
}


/* ---- log ------------------------------------------------------------------------ */

static void usage_log(FILE *f)
{
	fprintf(f,
		"usage: porthole log [--json] [--since TIME] [--window ID] [--file PATH] [--config FILE]\n"
		"Show the audit log (read directly from the file; the daemon need not run).\n"
		"  --json          the selected records as one JSON array\n"
		"  --since TIME    records at or after TIME: 2026-11-28, 2026-11-28T12:00[:00] (UTC),\n"
		"                  or a span back from now: 30m, 12h, 7d\n"
		"  --window ID     only the records of that window\n"
		"  --file PATH     the log file (default: audit_log from the config)\n"
		"  --config FILE   the daemon's config (default " PH_DEFAULT_CONFIG ")\n");
}

/* TIME -> the same "YYYY-MM-DDTHH:MM:SS" prefix the records use */
static int parse_since(const char *s, char *out, size_t len)
{
	struct tm tm = { 0 };
	const char *end;
	uint64_t n;
	char unit;
	size_t l = strlen(s);

	if (l >= 2 && strchr("smhd", s[l - 1])) {
		char num[32];
		if (l - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, l - 1);
		num[l - 1] = '\0';
		unit = s[l - 1];
		if (parse_u64(num, 0, 100000000, &n))
			return -EINVAL;
		n *= unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
		time_t t = time(NULL) - (time_t)n;
		gmtime_r(&t, &tm);
		strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == 'T')
		end = strptime(end + 1, "%H:%M", &tm) ? strptime(end + 1, "%H:%M", &tm) : NULL;
	if (end && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (end && *end == 'Z')
		end++;
	if (!end || *end)
		return -EINVAL;
	strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	return 0;
}

static void print_record_text(const char *line, size_t n)
{
	char ev[32], t[40], a[256], b[256], c[1024];
	uint64_t w = 0, x = 0, y = 0, z = 0;

	json_get_str(line, n, "event", ev, sizeof(ev));
	json_get_str(line, n, "time", t, sizeof(t));
	if (json_get_u64(line, n, "window", &w))
		w = 0;
	printf("%-24s %-13s ", t, ev);
	if (w)
		printf("%-6llu ", (unsigned long long)w);
	else
		printf("%-6s ", "-");
	if (!strcmp(ev, "window-open")) {
		const char *v;
		size_t vl;
		json_get_str(line, n, "exe", a, sizeof(a));
		json_get_str(line, n, "user", b, sizeof(b));
		json_get_u64(line, n, "pid", &x);
		json_get_str(line, n, "deadline", c, sizeof(c));
		printf("tcp/");
		if (!json_get(line, n, "ports", &v, &vl) && vl >= 2)
			printf("%.*s", (int)vl - 2, v + 1);
		printf(" pid %llu (%s) user %s, deadline %s\n", (unsigned long long)x, a, b, c);
	} else if (!strcmp(ev, "window-close")) {
		const char *v;
		size_t vl;
		json_get_str(line, n, "reason", a, sizeof(a));
		json_get_u64(line, n, "duration_ms", &x);
		json_get_u64(line, n, "packets", &y);
		json_get_u64(line, n, "connections", &z);
		printf("%s", a);
		if (strcmp(a, "recovered"))
			printf(" after %llu.%01llu s, %llu packets, %llu connections", (unsigned long long)(x / 1000),
			       (unsigned long long)(x % 1000 / 100), (unsigned long long)y, (unsigned long long)z);
		if (!json_get(line, n, "peers", &v, &vl) && vl > 2) {
			/* [{"addr":"192.0.2.1","connections":3},...] -> 192.0.2.1 (3), ... */
			const char *p = v, *end = v + vl;
			int first = 1;
			printf(", from");
			while ((p = strstr(p, "{")) && p < end) {
				const char *close = memchr(p, '}', (size_t)(end - p));
				char addr[64];
				uint64_t cnt = 0;
				if (!close)
					break;
				if (!json_get_str(p, (size_t)(close - p + 1), "addr", addr, sizeof(addr)) &&
				    !json_get_u64(p, (size_t)(close - p + 1), "connections", &cnt))
					printf("%s %s (%llu)", first ? "" : ",", addr, (unsigned long long)cnt);
				first = 0;
				p = close + 1;
			}
		}
		putchar('\n');
	} else if (!strcmp(ev, "refused")) {
		json_get_str(line, n, "user", a, sizeof(a));
		json_get_str(line, n, "request", b, sizeof(b));
		json_get_str(line, n, "why", c, sizeof(c));
		json_get_u64(line, n, "uid", &x);
		json_get_u64(line, n, "pid", &y);
		printf("uid %llu (%s) pid %llu, %s: %s\n", (unsigned long long)x, a, (unsigned long long)y, b, c);
	} else if (!strcmp(ev, "daemon-start")) {
		json_get_str(line, n, "version", a, sizeof(a));
		json_get_u64(line, n, "pid", &x);
		json_get_u64(line, n, "leftover_rules_removed", &y);
		printf("portholed %s pid %llu, %llu leftover rule(s) removed\n", a, (unsigned long long)x,
		       (unsigned long long)y);
	} else if (!strcmp(ev, "daemon-stop")) {
		json_get_str(line, n, "reason", a, sizeof(a));
		printf("%s\n", a);
	} else {
		putchar('\n');
	}
}

static int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "since", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' }, { "file", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *file = NULL, *config = PH_DEFAULT_CONFIG;
	char since[40] = "", err[512];
	int json = 0, opt, config_given = 0, shown = 0, torn = 0;
	uint64_t window = 0;
	struct ph_config cfg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	FILE *f;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 's':
			if (parse_since(optarg, since, sizeof(since))) {
				die_msg("log: --since: '%s' is not a time (2026-11-28, 2026-11-28T12:00, 30m, 12h, 7d)", optarg);
				return EX_USAGE_;
			}
			break;
		case 'w':
			if (parse_u64(optarg, 1, UINT64_MAX, &window)) {
				die_msg("log: --window: '%s' is not a window id", optarg);
				return EX_USAGE_;
			}
			break;
		case 'f': file = optarg; break;
		case 'c': config = optarg; config_given = 1; break;
		case 'h': usage_log(stdout); return 0;
		default: usage_log(stderr); return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("log: unexpected argument '%s'", argv[optind]);
		usage_log(stderr);
		return EX_USAGE_;
	}
	if (!file) {
		config_defaults(&cfg);
		if (config_load(&cfg, config, !config_given, err, sizeof(err))) {
			die_msg("%s", err);
			return EX_CONFIG_;
		}
		file = cfg.audit_log;
	}
	f = fopen(file, "re");
	if (!f) {
		die_msg("cannot read the audit log %s: %s", file, strerror(errno));
		return errno == EACCES ? EX_NOPERM_ : EX_NOINPUT_;
	}
	if (json)
		printf("[");
	else
		printf("%-24s %-13s %-6s %s\n", "TIME", "EVENT", "WINDOW", "DETAILS");
	while ((n = getline(&line, &cap, f)) > 0) {
		char t[40];
		uint64_t w;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (json_valid_object(line, (size_t)n)) {
			/* a torn record (power cut mid-write): everything else stays readable */
			torn++;
			die_msg("%s:%lu: skipped an incomplete record", file, lineno);
			continue;
		}
		if (since[0] && (json_get_str(line, (size_t)n, "time", t, sizeof(t)) || strcmp(t, since) < 0))
			continue;
		if (window && (json_get_u64(line, (size_t)n, "window", &w) || w != window))
			continue;
		if (json)
			printf("%s\n%s", shown ? "," : "", line);
		else
			print_record_text(line, (size_t)n);
		shown++;
	}
	if (json)
		printf("%s]\n", shown ? "\n" : "");
	free(line);
	fclose(f);
	(void)torn;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

void usage_check(FILE *f);
int cmd_check(int argc, char **argv, const char *sock);
static int cmd_check_verb(int argc, char **argv)
{
	return cmd_check(argc, argv, sock_path);
}

static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
} verbs[] = {
	{ "run", cmd_run, usage_run, "run an ACME client with a window for its listener" },
	{ "status", cmd_status, usage_status, "list open windows" },
	{ "close", cmd_close, usage_close, "revoke an open window" },
	{ "log", cmd_log, usage_log, "show the audit log" },
	{ "check", cmd_check_verb, usage_check, "check whether porthole can work on this host" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: porthole [--socket PATH] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'porthole COMMAND --help' describes each command.\n"
		   "The socket defaults to $PORTHOLE_SOCKET or " DEFAULT_SOCKET ".\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	sock_path = getenv("PORTHOLE_SOCKET");
	if (!sock_path || !*sock_path)
		sock_path = DEFAULT_SOCKET;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") || !strcmp(argv[i], "-s")) {
			if (i + 1 >= argc) {
				die_msg("--socket needs a path");
				return EX_USAGE_;
			}
			sock_path = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock_path = argv[i] + 9;
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("porthole 0.1.0\n");
			return 0;
		} else {
			die_msg("unknown option '%s'", argv[i]);
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	for (size_t v = 0; v < ARRAY_SIZE(verbs); v++)
		if (!strcmp(argv[i], verbs[v].name))
			return verbs[v].fn(argc - i, argv + i);
	die_msg("unknown command '%s'", argv[i]);
	usage(stderr);
	return EX_USAGE_;
}
