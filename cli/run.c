// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole run: have the daemon tag the command as a session *before* it
 * executes, so every socket it and its children create carry the session's
 * mark, and refuse to run it at all when the daemon cannot give it a
 * session (fail closed). The command stays in our own cgroup. Then relay the
 * daemon's window events to stderr, forward signals to the command, and stay
 * until the session is over so nothing of it outlives us. */
#include "cli.h"
#include "client.h"
#include "json.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void usage_run(FILE *f)
{
	fprintf(f,
		"usage: porthole run [--port N]... [--max-window SECONDS] [--serve unit:NAME|cgroup:PATH\n"
		"                    [--webroot DIR] | --container docker:NAME|podman:NAME] -- CMD [ARGS...]\n"
		"Run CMD in its own session; while a process of CMD listens on a watched port,\n"
		"portholed admits inbound TCP to that port, to CMD's sockets only.\n"
		"  --port N            a port the session may open (default: the daemon's ports)\n"
		"  --max-window SECS   close the window after this long (at most the daemon's max_window)\n"
		"  --serve SERVER      also a guarded window to a web server of a serve line, while CMD runs\n"
		"                      (certbot --webroot, lego --http.webroot); only challenge requests pass\n"
		"  --webroot DIR       the serve line's webroot (then only its live tokens pass)\n"
		"  --container E:NAME  root only: while CMD runs, the container the engine E (docker, podman)\n"
		"                      names NAME gets a container window through the published ports\n"
		"                      (--port, else the daemon's ports), as `designate = container E:NAME`\n");
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

/* every field is a number or a fixed name: nothing here needs term_escape */
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

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "max-window", required_argument, NULL, 'm' },
		{ "serve", required_argument, NULL, 's' },
		{ "webroot", required_argument, NULL, 'w' },
		{ "container", required_argument, NULL, 'c' },
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
		case 's':
			if ((strncmp(optarg, "unit:", 5) && strncmp(optarg, "cgroup:", 7)) || strlen(optarg) >= sizeof(run.serve)) {
				die_msg("run: --serve: '%.64s' is not unit:NAME or cgroup:PATH", optarg);
				return EX_USAGE_;
			}
			copy_str(run.serve, sizeof(run.serve), optarg);
			break;
		case 'w':
			if (optarg[0] != '/' || strlen(optarg) >= sizeof(run.webroot)) {
				die_msg("run: --webroot: '%.64s' is not an absolute path", optarg);
				return EX_USAGE_;
			}
			copy_str(run.webroot, sizeof(run.webroot), optarg);
			break;
		case 'c': {
			char why[200];
			int engine;
			const char *name;
			if (strlen(optarg) >= sizeof(run.container) ||
			    ph_run_container_parse(optarg, &engine, &name, why, sizeof(why))) {
				if (strlen(optarg) >= sizeof(run.container))
					snprintf(why, sizeof(why), "the name is longer than %zu characters", sizeof(run.container) - 8);
				die_msg("run: --container: %s", why);
				return EX_USAGE_;
			}
			copy_str(run.container, sizeof(run.container), optarg);
			break;
		}
		case 'h':
			usage_run(stdout);
			return 0;
		default:
			usage_run(stderr);
			return EX_USAGE_;
		}
	}
	if (run.container[0] && run.serve[0]) {
		die_msg("run: --container and --serve cannot go together");
		return EX_USAGE_;
	}
	if (run.container[0] && geteuid() != 0) {
		/* the daemon refuses it too (77); this says why before anything runs */
		die_msg("run: --container is root's only: a member of socket_group could name another user's container "
			"(CMD was not run)");
		return EX_ROOT_ONLY;
	}
	if (run.webroot[0] && !run.serve[0]) {
		die_msg("run: --webroot needs --serve");
		return EX_USAGE_;
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
		/* wait until the daemon has tagged us: a window opens only for a
		 * tagged process, and the tag passes to everything it starts */
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
		/* the daemon opens the child's pidfd itself and checks that it is
		 * our own child before it tags it: no descriptor changes hands */
		char buf[sizeof(struct ph_hdr) + sizeof(struct ph_run)];
		size_t len = ph_msg_init(buf, PH_MSG_RUN, sizeof(run));

		run.pid = (uint32_t)pid;
		memcpy(ph_payload(buf), &run, sizeof(run));
		if (send(fd, buf, len, MSG_NOSIGNAL) < 0) {
			die_msg("cannot send to portholed: %s", strerror(errno));
			r = EX_UNAVAILABLE_;
			goto abort_child;
		}
	}
	r = recv_msg(fd, &m, 10000);
	if (r == PH_MSG_ERROR) {
		const struct ph_error *e = ph_payload(&m);
		int root_only = run.container[0] && e->code == EPERM && strstr(e->msg, "--container: root only");
		r = error_exit(&m);
		if (root_only)
			r = EX_ROOT_ONLY; /* (a caller that is root only in its own user namespace) */
		goto abort_child;
	}
	if (r != PH_MSG_RUN_OK) {
		r = r < 0 ? reply_failure(r) : EX_SOFTWARE_;
		goto abort_child;
	}
	/* the child is tagged: let it run */
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
	 * the session (its last process is gone), so nothing of it outlives us */
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
			} else if (t == PH_MSG_ERROR) {
				/* why a window could not open: the daemon's words */
				char text[4 * PH_ERRMSG_LEN + 1];
				term_escape(text, sizeof(text), ((struct ph_error *)ph_payload(&m))->msg);
				die_msg("portholed: %s", text);
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
