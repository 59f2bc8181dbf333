// SPDX-License-Identifier: GPL-2.0-or-later
/* portholed: the privileged daemon. main() parses the command line and the
 * config, sets every subsystem up, runs one epoll loop (kernel events,
 * control socket and clients, signals, deadline timer, ruleset changes,
 * designated cgroups appearing) and tears everything down again. It is the
 * only place that decides to exit. */
#include "container_serve.h"
#include "daemon.h"
#include "cgroup.h"
#include "firewall.h"
#include "container.h"
#include "foreign.h"
#include "log.h"
#include "notify.h"
#include "privilege.h"
#include "probe.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
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
		"usage: portholed [-c FILE] [-n] [-d] [--probe]\n"
		"  -c FILE  configuration file (default " PH_DEFAULT_CONFIG ")\n"
		"  -n       check the configuration and exit\n"
		"  --probe  load each BPF program on its own, say what the kernel\n"
		"           said of each, and exit (69: a required one was rejected)\n"
		"  -d       debug logging\n"
		"  -V       print the version\n"
		"  -h       this help\n");
}

/* ---- the loop's handlers ---------------------------------------------------------------- */

static int ep_add(struct ph_daemon *d, int fd, struct ph_handler *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = h };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void on_client(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;
	struct ph_client *c = obj;
	int r;

	if (c->dead)
		return; /* dropped earlier in this batch */
	r = control_read(&d->ctl, c, request_handle, d);
	if (r < 0 || ((events & (EPOLLHUP | EPOLLERR)) && r == 0 && !(events & EPOLLIN))) {
		request_client_gone(d, c);
		control_drop(&d->ctl, c);
	}
}

static void client_added(void *ctx, struct ph_client *c)
{
	struct ph_daemon *d = ctx;

	c->h.fn = on_client;
	c->h.obj = c;
	if (ep_add(d, c->fd, &c->h))
		log_errno(-errno, "control: epoll add");
}

static void conn_refused(void *ctx, uid_t uid, pid_t pid, const char *why)
{
	record_refused(ctx, uid, pid, "connect", why);
}

static void on_listen_sock(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	control_accept(&d->ctl, client_added, d);
}

static void on_kernel(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	if (watch_consume(d->watch) < 0)
		log_warn("bpf: ring buffer read failed");
	events_check_lost(d);
}

static void on_signal(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;
	struct signalfd_siginfo si;

	(void)obj, (void)events;
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

/* a timerfd fired: read it (it stays readable until read) */
static void timer_drain(int fd)
{
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_errno(-errno, "timer: read");
}

static void on_timer(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	timer_drain(d->timerfd);
	window_on_timer(d);
}

static void on_inotify(void *ctx, void *obj, uint32_t events)
{
	(void)obj, (void)events;
	designations_on_inotify(ctx);
}

static void on_srv_inotify(void *ctx, void *obj, uint32_t events)
{
	(void)obj, (void)events;
	tokens_on_inotify(ctx);
}

static void on_srv_timer(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	timer_drain(d->srv_timerfd);
	servers_on_timer(d);
}

static void on_ctr_timer(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	timer_drain(d->ctr_timerfd);
	containers_on_timer(d);
}

static void on_nft(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;
	uint64_t t0 = now_ns(CLOCK_BOOTTIME);
	unsigned restored = 0;

	(void)obj, (void)events;
	if (fw_on_change(d->fw, &restored) == 0 && restored)
		log_notice("ruleset changed by another process; porthole's rule restored in %u place(s) in %llu us",
			   restored, (unsigned long long)((now_ns(CLOCK_BOOTTIME) - t0) / 1000));
}

static void on_fw_timer(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	fw_on_timer(d->fw); /* the host rules' linger is over */
}

static void on_ctl_timer(void *ctx, void *obj, uint32_t events)
{
	struct ph_daemon *d = ctx;

	(void)obj, (void)events;
	control_expire(&d->ctl); /* only clients without a session are ever idle-dropped */
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
			struct ph_handler *h = evs[i].data.ptr;
			h->fn(d, h->obj, evs[i].events);
		}
		control_reap(&d->ctl);
	}
	return 0;
}

/* ---- the kernel programs, probed one by one ---------------------------------------------- */

/* Every program of the windows' object (and of the guard's, with_guard) on
 * its own; returns how many were rejected that the daemon needs. */
static unsigned probe_programs(const struct ph_config *cfg, int with_guard, struct probe_result *res, unsigned *n)
{
	struct guardbpf_knobs gk = { 0 };
	struct watch_knobs wk;
	struct probe_object o;
	unsigned bad = 0;

	*n = 0;
	watch_knobs_init(&wk, cfg);
	watch_probe_object(&o, &wk);
	if (probe_object(&o, res, PROBE_MAX, n))
		return 1;
	if (with_guard) {
		gk.netns_cookie = wk.netns_cookie;
		gk.mark_mask = cfg->mark_mask;
		if (config_guard_marks(cfg, &gk.marks.candidate, &gk.marks.guarded))
			gk.marks.candidate = gk.marks.guarded = cfg->mark_mask; /* pruned nothing either way */
		guardbpf_probe_object(&o, &gk);
		if (probe_object(&o, res, PROBE_MAX, n))
			return 1;
	}
	for (unsigned i = 0; i < *n; i++)
		bad += res[i].required && !res[i].loaded;
	return bad;
}

/* portholed --probe */
static int probe_main(const struct ph_config *cfg)
{
	struct probe_result res[PROBE_MAX];
	unsigned n, bad;
	char line[512];

	bad = probe_programs(cfg, 1, res, &n);
	if (!n) {
		fprintf(stderr, "portholed: cannot open the BPF objects: %s\n", strerror(errno ? errno : EINVAL));
		return EXIT_KERNEL;
	}
	for (unsigned i = 0; i < n; i++) {
		probe_format(&res[i], line, sizeof(line));
		printf("%s\n", line);
	}
	return bad ? EXIT_KERNEL : 0;
}

/* After a failed load: name each program the kernel rejected. */
static void log_rejected(const struct ph_config *cfg, int guard)
{
	struct probe_result res[PROBE_MAX];
	unsigned n;

	probe_programs(cfg, guard, res, &n);
	for (unsigned i = 0; i < n; i++)
		if (!res[i].loaded && (guard ? !res[i].required : res[i].required))
			log_err("bpf: the kernel rejected %s (%s): %s", res[i].prog, res[i].feature, res[i].why);
}

/* The guard of server windows (serve lines only). A kernel that rejects it
 * costs server windows, nothing else: each is refused with the reason. */
static void guard_load(struct ph_daemon *d)
{
	struct guardbpf_knobs k = { .mark_mask = d->cfg.mark_mask, .marks = d->guard };
	struct watch_knobs wk;
	char why[256];
	int r;

	watch_knobs_init(&wk, &d->cfg);
	k.netns_cookie = wk.netns_cookie;
	k.guard_dscp = config_has_csrv(&d->cfg) ? d->cfg.guard_dscp : 0; /* served containers' carrier */
	for (unsigned i = 0; i < d->cfg.nsrv; i++)
		for (unsigned p = 0; p < d->cfg.srv[i].nports; p++) {
			unsigned j = 0;
			while (j < k.nports && k.ports[j] != d->cfg.srv[i].ports[p])
				j++;
			if (j == k.nports && k.nports < sizeof(k.ports) / sizeof(k.ports[0]))
				k.ports[k.nports++] = d->cfg.srv[i].ports[p];
		}
	r = guardbpf_open(&d->gk, &k, d->cg_mount, d->watch, servers_on_guard, d, why, sizeof(why));
	if (!r)
		return;
	snprintf(d->guard_why, sizeof(d->guard_why), "the guard (ph_guard) cannot be loaded: %s", why);
	log_err("bpf: %s; server windows will be refused, everything else works", d->guard_why);
	log_rejected(&d->cfg, 1);
}

int main(int argc, char **argv)
{
	static struct ph_daemon dd;
	struct ph_daemon *d = &dd;
	const char *config_path = PH_DEFAULT_CONFIG;
	int config_given = 0, check_only = 0, probe = 0, opt, r, status = 0;
	static const struct option longopts[] = { { "probe", no_argument, NULL, 'P' }, { NULL, 0, NULL, 0 } };
	char err[1024], why[512];
	unsigned removed = 0;
	struct ph_handler h_kernel = { on_kernel, NULL }, h_listen = { on_listen_sock, NULL },
			  h_signal = { on_signal, NULL }, h_timer = { on_timer, NULL },
			  h_inotify = { on_inotify, NULL }, h_nft = { on_nft, NULL }, h_ctl_timer = { on_ctl_timer, NULL },
			  h_srv_inotify = { on_srv_inotify, NULL }, h_srv_timer = { on_srv_timer, NULL },
			  h_fw_timer = { on_fw_timer, NULL }, h_ctr_timer = { on_ctr_timer, NULL };
	struct stat st;
	sigset_t mask;

	while ((opt = getopt_long(argc, argv, "c:ndVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P': probe = 1; break;
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
	/* the probe tells what loads with the privileges it has */
	if (probe)
		return probe_main(&d->cfg);
	if (priv_check(err, sizeof(err))) {
		fprintf(stderr, "portholed: %s\n", err);
		return EXIT_KERNEL;
	}

	d->epfd = d->sigfd = d->timerfd = d->inofd = d->srv_inofd = d->srv_timerfd = d->ctr_timerfd = -1;
	for (unsigned i = 0; i < PH_MAX_DESIGNATIONS; i++)
		d->des[i].wd = d->des[i].exe_fd = -1;
	d->audit.fd = -1;
	d->ctl.listen_fd = d->ctl.lock_fd = d->ctl.timer_fd = -1;
	d->next_session_id = 1;
	d->next_window_id = 1;
	d->wops = &window_ops_live;
	if (servers_init(d, &server_ops_live) || tokens_init(d) || containers_init(d, &container_ops_live)) {
		fprintf(stderr, "portholed: %s\n", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (stat("/proc/self/ns/net", &st) == 0)
		d->netns_ino = (uint32_t)st.st_ino;
	if (foreign_new(&d->foreign, d->netns_ino)) {
		fprintf(stderr, "portholed: %s\n", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	foreign_on_change(d->foreign, container_on_foreign, d);

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
	d->ctl.refused = conn_refused;
	d->ctl.refused_ctx = d;
	if (watch_supported(why, sizeof(why))) {
		log_err("kernel: %s", why);
		status = EXIT_KERNEL;
		goto out;
	}
	r = cg_find_mount(d->cg_mount, sizeof(d->cg_mount));
	if (r) {
		log_errno(r, "cgroup: no cgroup v2 hierarchy is mounted");
		status = EXIT_KERNEL;
		goto out;
	}
	r = audit_open(&d->audit, d->cfg.audit_log);
	if (r) {
		log_errno(r, "audit: cannot open %s", d->cfg.audit_log);
		status = EXIT_RUNTIME;
		goto out;
	}
	/* a previous daemon may have died with windows open: the kernel took
	 * its table; its host rules (which admit nothing now) go here */
	r = fw_open(&d->fw, &d->cfg, &removed, why, sizeof(why));
	if (r) {
		log_err("nft: %s", why);
		status = r == -EEXIST ? EXIT_RUNNING : EXIT_KERNEL;
		goto out;
	}
	if (removed)
		log_notice("recovered: removed %u leftover porthole rule(s)", removed);
	if (fw_blocked(d->fw, why, sizeof(why)))
		log_warn("nft: windows will be refused until this is resolved: %s", why);
	{
		uint64_t open_ids[PH_AUDIT_MAX_OPEN], max_id = 0, last;
		unsigned nopen = 0;

		r = audit_scan(d->cfg.audit_log, &max_id, open_ids, PH_AUDIT_MAX_OPEN, &nopen);
		if (r)
			log_errno(r, "audit: cannot read %s to recover", d->cfg.audit_log);
		copy_str(d->state_path, sizeof(d->state_path), d->cfg.state_file);
		last = ids_load(d->state_path);
		d->next_window_id = (max_id > last ? max_id : last) + 1;
		record_daemon_start(d, config_path, PH_VERSION, removed);
		for (unsigned i = 0; i < nopen; i++) {
			log_msg(LOG_NOTICE | LOG_AUDITED, "window %llu closed (recovered): it was open when the previous daemon stopped",
				   (unsigned long long)open_ids[i]);
			record_recovered(d, open_ids[i]);
		}
	}
	r = sessions_init(d);
	if (r) {
		status = EXIT_CONFIG;
		goto out;
	}
	if (d->cfg.nsrv && config_guard_marks(&d->cfg, &d->guard.candidate, &d->guard.guarded)) {
		log_err("config: socket_mark's mask has no room for the two marks of server windows");
		status = EXIT_CONFIG;
		goto out;
	}
	r = watch_open(&d->watch, &d->cfg, d->des_marks, d->cg_mount, events_on_kernel, d, why, sizeof(why));
	if (r) {
		log_err("bpf: cannot load or attach the kernel programs: %s", why);
		log_rejected(&d->cfg, 0);
		status = EXIT_KERNEL;
		goto out;
	}
	{
		/* a guard a killed daemon left: the connections it judged end now */
		struct watch_knobs wk;
		unsigned ended;
		watch_knobs_init(&wk, &d->cfg);
		r = guardbpf_takeover(wk.netns_cookie, &ended);
		if (r)
			log_errno(r, "guard: cannot end the connections a killed daemon's guard judged; it stays attached");
		else if (ended)
			log_notice("recovered: ended %u connection(s) a killed daemon's guard had judged", ended);
	}
	if (d->cfg.nsrv)
		guard_load(d);
	else
		guardbpf_release_object(); /* never loaded: its bytes need not stay resident */
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->srv_inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->srv_timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d->ctr_timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->inofd < 0 || d->srv_inofd < 0 || d->srv_timerfd < 0 ||
	    d->ctr_timerfd < 0 || ep_add(d, d->ctr_timerfd, &h_ctr_timer) ||
	    ep_add(d, d->srv_inofd, &h_srv_inotify) || ep_add(d, d->srv_timerfd, &h_srv_timer) ||
	    ep_add(d, watch_fd(d->watch), &h_kernel) || ep_add(d, d->ctl.listen_fd, &h_listen) ||
	    ep_add(d, d->sigfd, &h_signal) || ep_add(d, d->timerfd, &h_timer) ||
	    ep_add(d, d->inofd, &h_inotify) || ep_add(d, d->ctl.timer_fd, &h_ctl_timer) ||
	    ep_add(d, fw_monitor_fd(d->fw), &h_nft) || ep_add(d, fw_timer_fd(d->fw), &h_fw_timer)) {
		log_errno(-errno, "event loop setup");
		status = EXIT_RUNTIME;
		goto out;
	}
	designations_watch(d);
	servers_start(d);
	tokens_start(d);
	/* a container that listened before us: its window opens now */
	foreign_find_existing(d->foreign, d->watch);
	containers_census_run(d);
	{
		char ports[64];
		format_ports(ports, sizeof(ports), d->cfg.ports, d->cfg.nports);
		log_notice("ready: watching tcp port(s) %s, control socket %s, %u designation(s), %u server(s), mark 0x%x/0x%x, "
			   "chains %s",
			   ports, d->cfg.socket, d->cfg.ndes, d->cfg.nsrv, d->cfg.mark, d->cfg.mark_mask,
			   d->cfg.chains_mode == PH_CHAINS_NONE ? "none (static rule)"
			   : d->cfg.chains_mode == PH_CHAINS_AUTO ? "auto" : "as listed");
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
	servers_shutdown(d);
	containers_shutdown(d);
	windows_shutdown(d);
	sessions_shutdown(d);
	designations_release(d);
	if (d->audit.fd >= 0) {
		record_daemon_stop(d, status == 0 ? "signal" : "error");
		audit_close(&d->audit);
	}
	control_close(&d->ctl);
	watch_close(d->watch); /* (its reader maps the guard's ring buffer: first) */
	guardbpf_close(d->gk);
	fw_close(d->fw);
	if (d->inofd >= 0) close(d->inofd);
	if (d->srv_inofd >= 0) close(d->srv_inofd);
	if (d->srv_timerfd >= 0) close(d->srv_timerfd);
	if (d->ctr_timerfd >= 0) close(d->ctr_timerfd);
	if (d->timerfd >= 0) close(d->timerfd);
	if (d->sigfd >= 0) close(d->sigfd);
	if (d->epfd >= 0) close(d->epfd);
	servers_free(d);
	tokens_free(d);
	foreign_free(d->foreign);
	containers_free(d);
	csrv_free(d);
	if (status == 0)
		log_msg(LOG_NOTICE | LOG_AUDITED, "stopped");
	return status;
}
