/* portholed: the privileged daemon. main() parses the command line and the
 * config, sets every subsystem up, runs one epoll loop (kernel events, control
 * socket, signals, deadline timer, session cgroup notifications) and tears
 * everything down again. It is the only place that decides to exit. */
#include "window.h"
#include "log.h"
#include "notify.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define PH_VERSION "0.1.0"

/* exit statuses, documented in the README and portholed(8) */
enum {
	EXIT_RUNTIME = 1,   /* a failure while running */
	EXIT_USAGE = 64,    /* bad command line */
	EXIT_KERNEL = 69,   /* a kernel feature or privilege is missing */
	EXIT_RUNNING = 75,  /* another portholed serves the socket */
	EXIT_CONFIG = 78,   /* bad configuration */
};


static void usage(FILE *f)
{
	fprintf(f,
		"usage: portholed [-c FILE] [-n] [-d]\n"
		"  -c FILE  configuration file (default " PH_DEFAULT_CONFIG ")\n"
		"  -n       check the configuration and exit\n"
		"  -d       debug logging\n"
		"  -V       print the version\n"
		"  -h       this help\n");
}

static int ep_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void client_added(void *ctx, struct ph_client *c)
{
	struct ph_daemon *d = ctx;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		log_errno(-errno, "control: epoll add");
}

static void drop_client(struct ph_daemon *d, struct ph_client *c)
{
	window_client_gone(d, c);
	control_drop(&d->ctl, c);
}

static void handle_signal(struct ph_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_notice("signal %s: closing every window and stopping", strsignal((int)si.ssi_signo));
			d->quit = 1;
		} else if (si.ssi_signo == SIGHUP) {
			int r = audit_reopen(&d->audit);
			if (r)
				log_errno(r, "SIGHUP: cannot reopen the audit log %s; still writing the old file", d->audit.path);
			else
				log_info("SIGHUP: audit log %s reopened", d->audit.path);
		}
	}
}

struct start_info {
	const struct ph_daemon *d;
	const char *config;
	unsigned rules_removed;
};

static void fill_start(struct jbuf *b, void *arg)
{
	const struct start_info *si = arg;
	char chain[3 * PH_NAME_LEN];

	jb_str(b, "version", PH_VERSION);
	jb_u64(b, "pid", (uint64_t)getpid());
	jb_str(b, "config", si->config);
	jb_arr_begin(b, "ports");
	for (unsigned i = 0; i < si->d->cfg.nports; i++)
		jb_u64(b, NULL, si->d->cfg.ports[i]);
	jb_arr_end(b);
	jb_u64(b, "max_window", si->d->cfg.max_window);
	if (si->d->cfg.chains_auto) {
		jb_str(b, "chains", "auto");
	} else {
		jb_arr_begin(b, "chains");
		for (unsigned i = 0; i < si->d->cfg.nchains; i++) {
			snprintf(chain, sizeof(chain), "%s %s %s", family_name(si->d->cfg.chains[i].family),
				 si->d->cfg.chains[i].table, si->d->cfg.chains[i].chain);
			jb_str(b, NULL, chain);
		}
		jb_arr_end(b);
	}
	jb_u64(b, "leftover_rules_removed", si->rules_removed);
}

struct recovered {
	uint64_t id;
};

static void fill_recovered(struct jbuf *b, void *arg)
{
	const struct recovered *r = arg;

	jb_u64(b, "window", r->id);
	jb_str(b, "reason", "recovered");
	jb_str(b, "note", "open when the previous daemon stopped; its rules were removed at start");
}

static void fill_stop(struct jbuf *b, void *arg)
{
	jb_str(b, "reason", arg);
}

static int run_loop(struct ph_daemon *d)
{
	struct epoll_event evs[32];

	while (!d->quit) {
		int n = epoll_wait(d->epfd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_errno(-errno, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			switch (tag) {
			case TAG_WATCH:
				if (watch_consume(d->watch) < 0)
					log_warn("bpf: ring buffer read failed");
				break;
			case TAG_LISTEN:
				control_accept(&d->ctl, client_added, d);
				break;
			case TAG_SIGNAL:
				handle_signal(d);
				break;
			case TAG_TIMER:
				window_on_timer(d);
				break;
			case TAG_INOTIFY:
				/* a session that just ended may have listened just
				 * before: handle the kernel's events first, in order */
				{
					int nev = watch_consume(d->watch);
					log_debug("inotify: consumed %d kernel event(s) first", nev);
				}
				window_on_inotify(d);
				break;
			case TAG_NFTMON:
				window_on_nft_change(d);
				break;
			case TAG_CTL_TIMER:
				/* only clients without a session are ever idle-dropped */
				control_expire(&d->ctl);
				break;
			default: {
				struct ph_client *c = evs[i].data.ptr;
				int r;
				if (c->ep_kind == EPK_SESSION) {
					/* a designated process exited: its events first */
					watch_consume(d->watch);
					window_on_pidfd(d, evs[i].data.ptr);
					break;
				}
				if (c->dead)
					break; /* dropped earlier in this batch */
				r = control_read(&d->ctl, c, window_on_request, d);
				if (r < 0 || (evs[i].events & (EPOLLHUP | EPOLLERR) && r == 0 &&
					      !(evs[i].events & EPOLLIN)))
					drop_client(d, c);
				break;
			}
			}
		}
		control_reap(&d->ctl);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct ph_daemon dd;
	struct ph_daemon *d = &dd;
	const char *config_path = PH_DEFAULT_CONFIG;
	int config_given = 0, check_only = 0, opt, r, status = 0;
	char err[1024], why[256];
	unsigned removed;
	struct stat st;
	sigset_t mask;

	while ((opt = getopt(argc, argv, "c:ndVh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; config_given = 1; break;
		case 'n': check_only = 1; break;
		case 'd': log_set_debug(1); break;
		case 'V': printf("portholed %s\n", PH_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "portholed: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	config_defaults(&d->cfg);
	if (config_load(&d->cfg, config_path, !config_given, err, sizeof(err)) ||
	    config_resolve(&d->cfg, err, sizeof(err))) {
		fprintf(stderr, "portholed: %s\n", err);
		return EXIT_CONFIG;
	}
	if (check_only) {
		printf("portholed: configuration %s is valid\n", config_path);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "portholed: must run as root (it manages BPF programs, nftables rules and cgroups)\n");
		return EXIT_KERNEL;
	}

	d->epfd = d->sigfd = d->timerfd = d->inofd = d->monfd = -1;
	d->audit.fd = -1;
	d->ctl.listen_fd = d->ctl.lock_fd = d->ctl.timer_fd = -1;
	d->next_session_id = 1;
	d->next_window_id = 1;
	if (stat("/proc/self/ns/net", &st) == 0)
		d->netns_ino = (uint32_t)st.st_ino;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* second instance first: never touch the firewall another daemon owns */
	r = control_open(&d->ctl, &d->cfg);
	if (r) {
		status = r == -EADDRINUSE ? EXIT_RUNNING : EXIT_RUNTIME;
		goto out;
	}
	if (watch_supported(why, sizeof(why))) {
		log_err("kernel: %s", why);
		status = EXIT_KERNEL;
		goto out;
	}
	r = cg_init(&d->cg);
	if (r) {
		log_errno(r, "cgroup: no usable cgroup v2 hierarchy");
		status = EXIT_KERNEL;
		goto out;
	}
	r = nft_open(&d->nft);
	if (r) {
		log_errno(r, "nft: cannot open a netlink socket");
		status = EXIT_KERNEL;
		goto out;
	}
	r = audit_open(&d->audit, d->cfg.audit_log);
	if (r) {
		log_errno(r, "audit: cannot open %s", d->cfg.audit_log);
		status = EXIT_RUNTIME;
		goto out;
	}
	/* a previous daemon may have died with windows open */
	r = nft_sweep(d->nft, &removed);
	if (r)
		log_errno(r, "nft: sweeping leftover rules failed");
	else if (removed)
		log_notice("recovered: removed %u leftover porthole rule(s)", removed);
	{
		uint64_t open_ids[PH_AUDIT_MAX_OPEN], max_id = 0;
		unsigned nopen = 0;
		struct start_info si = { d, config_path, r ? 0 : removed };

		r = audit_scan(d->cfg.audit_log, &max_id, open_ids, PH_AUDIT_MAX_OPEN, &nopen);
		if (r)
			log_errno(r, "audit: cannot read %s to recover", d->cfg.audit_log);
		d->next_window_id = max_id + 1;
		window_audit_record(d, "daemon-start", fill_start, &si);
		for (unsigned i = 0; i < nopen; i++) {
			struct recovered rec = { open_ids[i] };
			log_notice("window %llu closed (recovered): it was open when the previous daemon stopped",
				   (unsigned long long)open_ids[i]);
			window_audit_record(d, "window-close", fill_recovered, &rec);
		}
	}

	r = watch_open(&d->watch, &d->cfg, d->cg.mount, d->cg.base_level + 1, window_on_event, d);
	if (r) {
		log_errno(r, "bpf: cannot load or attach the kernel programs");
		status = EXIT_KERNEL;
		goto out;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->inofd < 0 ||
	    ep_add(d->epfd, watch_fd(d->watch), TAG_WATCH) || ep_add(d->epfd, d->ctl.listen_fd, TAG_LISTEN) ||
	    ep_add(d->epfd, d->sigfd, TAG_SIGNAL) || ep_add(d->epfd, d->timerfd, TAG_TIMER) ||
	    ep_add(d->epfd, d->inofd, TAG_INOTIFY) || ep_add(d->epfd, d->ctl.timer_fd, TAG_CTL_TIMER)) {
		log_errno(-errno, "event loop setup");
		status = EXIT_RUNTIME;
		goto out;
	}
	window_adopt_orphans(d);
	window_watch_designations(d);
	{
		char ports[64];
		format_ports(ports, sizeof(ports), d->cfg.ports, d->cfg.nports);
		log_notice("ready: watching tcp port(s) %s, control socket %s, sessions in %s%s, %u designation(s)",
			   ports, d->cfg.socket, d->cg.mount, d->cg.base_rel, d->cfg.ndes);
	}
	{
		/* ready: BPF attached, control socket listening */
		char state[256];
		snprintf(state, sizeof(state), "READY=1\nSTATUS=watching %u tcp port(s); control socket %.108s\nMAINPID=%d",
			 d->cfg.nports, d->cfg.socket, (int)getpid());
		r = notify_send(state);
		if (r)
			log_errno(r, "notify: cannot tell the service manager we are ready");
	}
	if (run_loop(d) < 0)
		status = EXIT_RUNTIME;
	notify_send("STOPPING=1\nSTATUS=closing every window");
out:
	window_shutdown(d);
	if (d->audit.fd >= 0) {
		window_audit_record(d, "daemon-stop", fill_stop,
				    status == 0 ? (void *)"signal" : (void *)"error");
		audit_close(&d->audit);
	}
	control_close(&d->ctl);
	watch_close(d->watch);
	nft_close(d->nft);
	if (d->cg.mount[0])
		cg_base_remove(&d->cg);
	if (d->inofd >= 0) close(d->inofd);
	if (d->timerfd >= 0) close(d->timerfd);
	if (d->sigfd >= 0) close(d->sigfd);
	if (d->epfd >= 0) close(d->epfd);
	if (status == 0)
		log_notice("stopped");
	return status;
}
