/* Sessions and windows: the state machine (see window.h). */
#include "window.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

static struct ph_session *session_by_cgid(struct ph_daemon *d, uint64_t cgid)
{
	if (!cgid)
		return NULL;
	for (struct ph_session *s = d->sessions; s; s = s->next)
		if (s->kind != S_WATCH && s->cgid == cgid)
			return s;
	return NULL;
}

static int session_has_port(const struct ph_session *s, uint16_t port)
{
	for (unsigned i = 0; i < s->nports; i++)
		if (s->ports[i] == port)
			return 1;
	return 0;
}

static void send_event(struct ph_session *s, uint32_t kind, const struct ph_window *w,
		       uint32_t reason, int error, uint64_t packets, uint64_t bytes)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr) + sizeof(struct ph_event)]; } m;
	struct ph_event *e = ph_payload(&m);
	size_t len;

	if (!s || !s->client)
		return;
	len = ph_msg_init(&m, PH_MSG_EVENT, sizeof(*e));
	e->kind = kind;
	e->reason = reason;
	e->session_id = s->id;
	e->error = error < 0 ? -error : error;
	e->packets = packets;
	e->bytes = bytes;
	if (w) {
		e->window_id = w->id;
		e->deadline_ns = s->deadline_real;
		e->pid = (uint32_t)w->pid;
		e->port = w->port;
		e->nchains = (uint16_t)w->nrules;
	}
	if (control_send(s->client, &m, len) < 0)
		log_debug("control: event to session %llu not delivered", (unsigned long long)s->id);
}

static void arm_timer(struct ph_daemon *d)
{
	struct itimerspec its = { 0 };
	uint64_t earliest = 0;

	for (struct ph_window *w = d->windows; w; w = w->next)
		if (w->state == W_OPEN && (!earliest || w->session->deadline_boot < earliest))
			earliest = w->session->deadline_boot;
	if (earliest) {
		its.it_value.tv_sec = (time_t)(earliest / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(earliest % NSEC_PER_SEC);
	}
	if (timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_errno(-errno, "timer: arm");
}

/* ---- audit records ----------------------------------------------------------- */

#define AUDIT_LINE_MAX 16384

int window_audit_record(struct ph_daemon *d, const char *event, void (*fill)(struct jbuf *b, void *arg), void *arg)
{
	char *buf = malloc(AUDIT_LINE_MAX);
	struct jbuf b;
	int r;

	if (!buf)
		return -ENOMEM;
	jb_init(&b, buf, AUDIT_LINE_MAX);
	jb_obj_begin(&b, NULL);
	jb_str(&b, "event", event);
	jb_time(&b, "time", now_ns(CLOCK_REALTIME));
	if (fill)
		fill(&b, arg);
	jb_obj_end(&b);
	if (b.err) {
		free(buf);
		return log_errno(-EOVERFLOW, "audit: %s record too large", event);
	}
	r = audit_append(&d->audit, buf, b.len);
	if (r < 0)
		log_errno(r, "audit: cannot write %s record to %s", event, d->audit.path);
	free(buf);
	return r;
}

static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	snprintf(buf, len, "%s", pw ? pw->pw_name : "");
}

static void proc_cmdline(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

static const char *family_str(uint16_t f)
{
	return f == 2 ? "ipv4" : f == 10 ? "ipv6" : "unknown";
}

struct open_rec {
	const struct ph_daemon *d;
	const struct ph_window *w;
	const struct ph_session *s;
	const struct ph_kevent *e;
	const struct ph_chain_ref *chains;
	unsigned nchains;
};

static void fill_open(struct jbuf *b, void *arg)
{
	const struct open_rec *o = arg;
	char user[64], cmdline[1024], chain[3 * PH_NAME_LEN];

	user_name(o->e->uid, user, sizeof(user));
	proc_cmdline(o->e->tgid, cmdline, sizeof(cmdline));
	jb_u64(b, "window", o->w->id);
	jb_arr_begin(b, "ports");
	jb_u64(b, NULL, o->w->port);
	jb_arr_end(b);
	jb_str(b, "family", family_str(o->w->family));
	jb_u64(b, "pid", o->e->tgid);
	jb_u64(b, "uid", o->e->uid);
	jb_str(b, "user", user);
	jb_str(b, "exe", o->s->exe);
	jb_str(b, "cmdline", cmdline);
	jb_str(b, "cgroup", o->s->cg_rel);
	jb_obj_begin(b, "designation");
	if (o->s->kind == S_WATCH) {
		const struct ph_designation *des = &o->d->cfg.des[o->s->des_index];
		jb_str(b, "type", des_type_name(des->type));
		jb_str(b, "value", des->arg);
		jb_u64(b, "config_line", des->line);
	} else {
		jb_str(b, "type", "session");
		jb_u64(b, "session", o->s->id);
		jb_u64(b, "requested_by_uid", o->s->uid);
	}
	jb_obj_end(b);
	jb_time(b, "deadline", o->s->deadline_real);
	jb_arr_begin(b, "chains");
	for (unsigned i = 0; i < o->nchains; i++) {
		snprintf(chain, sizeof(chain), "%s %s %s", family_name(o->chains[i].family), o->chains[i].table,
			 o->chains[i].chain);
		jb_str(b, NULL, chain);
	}
	jb_arr_end(b);
}

static void format_peer(uint16_t family, const uint8_t *addr, char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == 10 && !memcmp(addr, mapped, 12))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(family == 10 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len);
}

struct close_rec {
	const struct ph_window *w;
	uint32_t reason;
	uint64_t duration_ns, packets, bytes;
};

static void fill_close(struct jbuf *b, void *arg)
{
	const struct close_rec *c = arg;
	const struct ph_window *w = c->w;
	char addr[INET6_ADDRSTRLEN], user[64];

	jb_u64(b, "window", w->id);
	jb_str(b, "reason", ph_reason_name(c->reason));
	jb_u64(b, "duration_ms", c->duration_ns / 1000000);
	jb_u64(b, "packets", c->packets);
	jb_u64(b, "bytes", c->bytes);
	jb_u64(b, "connections", w->connections);
	jb_arr_begin(b, "peers");
	for (unsigned i = 0; i < w->npeers; i++) {
		format_peer(w->peers[i].family, w->peers[i].addr, addr, sizeof(addr));
		jb_obj_begin(b, NULL);
		jb_str(b, "addr", addr);
		jb_u64(b, "connections", w->peers[i].count);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	jb_u64(b, "other_peers_connections", w->other_peer_connections);
	if (c->reason == PH_REASON_REVOKED && w->revoked_uid >= 0) {
		user_name((uint32_t)w->revoked_uid, user, sizeof(user));
		jb_obj_begin(b, "revoked_by");
		jb_i64(b, "uid", w->revoked_uid);
		jb_str(b, "user", user);
		jb_i64(b, "pid", w->revoked_pid);
		jb_obj_end(b);
	}
}

struct refused_rec {
	const struct ph_client *c;
	const char *request, *why;
};

static void fill_refused(struct jbuf *b, void *arg)
{
	const struct refused_rec *r = arg;
	char user[64];

	user_name(r->c->uid, user, sizeof(user));
	jb_u64(b, "uid", r->c->uid);
	jb_str(b, "user", user);
	jb_u64(b, "pid", (uint64_t)r->c->pid);
	jb_str(b, "request", r->request);
	jb_str(b, "why", r->why);
}

static void audit_refused(struct ph_daemon *d, const struct ph_client *c, const char *request, const char *why)
{
	struct refused_rec r = { c, request, why };

	window_audit_record(d, "refused", fill_refused, &r);
}

/* ---- windows ----------------------------------------------------------------- */

/* The rule of a window: its session's socket (cgroup, or the watch-mode
 * mark), its port, and the kernel deadline (wall clock, meta time) derived
 * from the same boot-time deadline our own timer uses. */
static void window_spec(const struct ph_daemon *d, const struct ph_window *w, struct nft_rule_spec *spec)
{
	uint64_t now_boot = now_ns(CLOCK_BOOTTIME), dl = w->session->deadline_boot;

	spec->window_id = w->id;
	spec->port = w->port;
	spec->cgroup_level = d->cg.base_level + 1;
	spec->cgroup_id = w->session->cgid;
	spec->by_mark = w->session->kind == S_WATCH;
	spec->mark = d->cfg.mark;
	spec->mark_mask = d->cfg.mark_mask;
	spec->deadline_ns = now_ns(CLOCK_REALTIME) + (dl > now_boot ? dl - now_boot : 0);
}

/* Keep the kernel's list of open windows in step with ours, so that it
 * reports the connections through them and no others. */
static void track_windows(struct ph_daemon *d, const struct ph_session *s, uint16_t port)
{
	int cg_open = 0, port_open = 0, r;

	for (struct ph_window *w = d->windows; w; w = w->next) {
		if (w->state != W_OPEN)
			continue;
		if (w->session == s)
			cg_open = 1;
		if (w->session->kind == S_WATCH && w->port == port)
			port_open = 1;
	}
	if (s->kind == S_WATCH)
		r = watch_window_mark_port(d->watch, port, port_open);
	else
		r = watch_window_cgroup(d->watch, s->cgid, cg_open);
	if (r)
		log_errno(r, "bpf: updating the open-window map");
}

/* Watch the ruleset only while a window is open: an idle daemon wakes for
 * nothing, and an open window is restored after a reload. */
static void monitor_update(struct ph_daemon *d)
{
	int open = 0, fd, r;

	for (struct ph_window *w = d->windows; w; w = w->next)
		open |= w->state == W_OPEN;
	if (open && !d->mon_active) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_NFTMON };
		r = nft_monitor_start(d->nft, &fd);
		if (r) {
			log_errno(r, "nft: cannot watch for ruleset reloads");
			return;
		}
		if (d->monfd < 0) {
			if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
				log_errno(-errno, "nft: epoll");
				nft_monitor_pause(d->nft);
				return;
			}
			d->monfd = fd;
		}
		d->mon_active = 1;
	} else if (!open && d->mon_active) {
		nft_monitor_pause(d->nft);
		d->mon_active = 0;
	}
}

static void window_close(struct ph_daemon *d, struct ph_window *w, uint32_t reason)
{
	struct ph_window **pp;
	uint64_t packets = 0, bytes = 0, dur;
	int r;

	if (w->state != W_OPEN)
		return;
	r = nft_delete_rules(d->nft, w->rules, w->nrules, &packets, &bytes);
	if (r < 0) {
		/* the rule's own deadline still closes it in the kernel; try
		 * the tag sweep so nothing lingers until then */
		unsigned n;
		log_errno(r, "window %llu: removing rules failed; sweeping by tag", (unsigned long long)w->id);
		nft_sweep(d->nft, &n);
	}
	w->state = W_CLOSED;
	dur = now_ns(CLOCK_BOOTTIME) - w->opened_boot;
	{
		struct close_rec cr = { w, reason, dur, packets, bytes };
		window_audit_record(d, "window-close", fill_close, &cr);
	}
	log_notice("window %llu closed (%s) after %llu.%03llu s: tcp/%u, session %llu, %llu packets, %llu bytes admitted",
		   (unsigned long long)w->id, ph_reason_name(reason),
		   (unsigned long long)(dur / NSEC_PER_SEC), (unsigned long long)(dur % NSEC_PER_SEC / 1000000),
		   w->port, (unsigned long long)w->session->id, (unsigned long long)packets,
		   (unsigned long long)bytes);
	send_event(w->session, PH_EVENT_WINDOW_CLOSE, w, reason, 0, packets, bytes);
	for (pp = &d->windows; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	track_windows(d, w->session, w->port);
	free(w);
	arm_timer(d);
	monitor_update(d);
}

static void close_session_windows(struct ph_daemon *d, struct ph_session *s, uint32_t reason)
{
	struct ph_window *w, *next;

	for (w = d->windows; w; w = next) {
		next = w->next;
		if (w->session == s)
			window_close(d, w, reason);
	}
}

static struct ph_window *find_window(struct ph_daemon *d, struct ph_session *s, uint16_t port)
{
	for (struct ph_window *w = d->windows; w; w = w->next)
		if (w->session == s && w->port == port && w->state == W_OPEN)
			return w;
	return NULL;
}

static void window_open(struct ph_daemon *d, struct ph_session *s, const struct ph_kevent *e)
{
	struct ph_chain_ref chains[PH_MAX_CHAINS];
	struct nft_rule_spec spec;
	struct ph_window *w;
	unsigned nchains = 0;
	uint64_t now_boot = now_ns(CLOCK_BOOTTIME), now_real = now_ns(CLOCK_REALTIME);
	char path[64];
	int r;

	if (s->kind == S_WATCH && s->deadline_boot && s->deadline_boot <= now_boot) {
		/* a long-lived designated process: each validation gets its own
		 * max_window, counted from its first window */
		int open = 0;
		for (struct ph_window *o = d->windows; o; o = o->next)
			open |= o->session == s && o->state == W_OPEN;
		if (!open)
			s->deadline_boot = 0;
	}
	if (!s->deadline_boot) {
		s->deadline_boot = now_boot + (uint64_t)s->max_window * NSEC_PER_SEC;
		s->deadline_real = now_real + (uint64_t)s->max_window * NSEC_PER_SEC;
		snprintf(path, sizeof(path), "/proc/%u/exe", e->tgid);
		ssize_t n = readlink(path, s->exe, sizeof(s->exe) - 1);
		s->exe[n > 0 ? n : 0] = '\0';
	} else if (s->deadline_boot <= now_boot) {
		log_notice("session %llu: listen on tcp/%u after its max_window of %u s; no window",
			   (unsigned long long)s->id, e->port, s->max_window);
		send_event(s, PH_EVENT_WINDOW_FAILED, NULL, 0, ETIME, 0, 0);
		return;
	}

	w = calloc(1, sizeof(*w));
	if (!w) {
		send_event(s, PH_EVENT_WINDOW_FAILED, NULL, 0, ENOMEM, 0, 0);
		return;
	}
	w->id = d->next_window_id++;
	w->state = W_ARMED;
	w->session = s;
	w->port = e->port;
	w->pid = (pid_t)e->tgid;
	w->family = e->family;
	w->revoked_uid = w->revoked_pid = -1;
	w->cookies[w->ncookies++] = e->cookie;

	window_spec(d, w, &spec);
	/* report connections from the first packet the rules admit */
	if (s->kind == S_WATCH)
		watch_window_mark_port(d->watch, w->port, 1);
	else
		watch_window_cgroup(d->watch, s->cgid, 1);
	r = nft_open_window(d->nft, &d->cfg, &spec, w->rules, &nchains);
	if (r < 0) {
		log_errno(r, "window %llu: inserting rules failed; window not opened", (unsigned long long)w->id);
		goto fail;
	}
	w->nrules = nchains;
	log_debug("window %llu: rules in place %llu us after the listen", (unsigned long long)w->id,
		  (unsigned long long)((now_ns(CLOCK_BOOTTIME) - e->ts_ns) / 1000));
	for (unsigned i = 0; i < nchains; i++)
		chains[i] = w->rules[i].chain;
	if (nchains == 0 && !d->cfg.chains_auto) {
		r = -ENOENT;
		log_err("window %llu: none of the configured chains exists; window not opened",
			(unsigned long long)w->id);
		goto fail;
	}
	if (nchains == 0)
		log_notice("window %llu: no filter chain on input/prerouting; nothing blocks tcp/%u here",
			   (unsigned long long)w->id, e->port);
	w->opened_boot = now_boot;
	w->opened_real = now_real;
	{
		/* no record, no window: an opening nobody could audit is undone */
		struct open_rec o = { d, w, s, e, chains, nchains };
		r = window_audit_record(d, "window-open", fill_open, &o);
		if (r < 0) {
			nft_delete_rules(d->nft, w->rules, w->nrules, NULL, NULL);
			log_err("window %llu: not opened, its audit record could not be written", (unsigned long long)w->id);
			goto fail;
		}
	}
	w->state = W_OPEN;
	w->next = d->windows;
	d->windows = w;
	track_windows(d, s, w->port);
	log_notice("window %llu open: tcp/%u to session %llu (pid %u %s), %u chain(s), closes in %llu s at the latest",
		   (unsigned long long)w->id, w->port, (unsigned long long)s->id, e->tgid,
		   s->exe[0] ? s->exe : "?", w->nrules,
		   (unsigned long long)((s->deadline_boot - now_boot + NSEC_PER_SEC - 1) / NSEC_PER_SEC));
	send_event(s, PH_EVENT_WINDOW_OPEN, w, 0, 0, 0, 0);
	arm_timer(d);
	monitor_update(d);
	return;
fail:
	send_event(s, PH_EVENT_WINDOW_FAILED, w, 0, r, 0, 0);
	track_windows(d, s, w->port); /* w is not in the list: undo the early add */
	free(w);
}

/* The session of a designated process (watch mode): one per process and
 * designation, ended when the process exits (pidfd). */
static struct ph_session *watch_session(struct ph_daemon *d, const struct ph_kevent *e)
{
	const struct ph_designation *des;
	struct epoll_event ev = { .events = EPOLLIN };
	struct ph_session *s;
	uint32_t idx = e->designation - 1;

	if (idx >= d->cfg.ndes)
		return NULL;
	for (s = d->sessions; s; s = s->next)
		if (s->kind == S_WATCH && s->des_index == idx && s->tgid == (pid_t)e->tgid)
			return s;
	des = &d->cfg.des[idx];
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ep_kind = EPK_SESSION;
	s->kind = S_WATCH;
	s->des_index = idx;
	s->tgid = (pid_t)e->tgid;
	s->pid = (pid_t)e->tgid;
	s->uid = e->uid;
	s->inotify_wd = -1;
	s->pidfd = (int)syscall(SYS_pidfd_open, e->tgid, 0);
	if (s->pidfd < 0) {
		log_notice("designated pid %u (%s %s) listened on tcp/%u but is already gone; no window", e->tgid,
			   des_type_name(des->type), des->arg, e->port);
		free(s);
		return NULL;
	}
	ev.data.ptr = s;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->pidfd, &ev) < 0) {
		log_errno(-errno, "watch: epoll");
		close(s->pidfd);
		free(s);
		return NULL;
	}
	if (des->nports) {
		memcpy(s->ports, des->ports, sizeof(s->ports));
		s->nports = des->nports;
	} else {
		memcpy(s->ports, d->cfg.ports, sizeof(s->ports));
		s->nports = d->cfg.nports;
	}
	s->max_window = des->max_window ? des->max_window : d->cfg.max_window;
	s->id = d->next_session_id++;
	if (cg_of_pid(s->tgid, s->cg_rel, sizeof(s->cg_rel)))
		s->cg_rel[0] = '\0';
	s->next = d->sessions;
	d->sessions = s;
	log_info("session %llu: pid %u designated by config line %u (%s %s)", (unsigned long long)s->id, e->tgid,
		 des->line, des_type_name(des->type), des->arg);
	return s;
}

void window_on_event(void *ctx, const struct ph_kevent *e)
{
	struct ph_daemon *d = ctx;
	struct ph_session *s;
	struct ph_window *w;

	if (e->netns_ino != d->netns_ino)
		return; /* another network namespace: not our firewall */
	if (e->type == PH_EV_UNLISTEN) {
		for (w = d->windows; w; w = w->next) {
			for (unsigned i = 0; i < w->ncookies; i++) {
				if (w->cookies[i] != e->cookie)
					continue;
				w->cookies[i] = w->cookies[--w->ncookies];
				if (w->ncookies == 0)
					window_close(d, w, PH_REASON_LISTENER_CLOSED);
				return;
			}
		}
		return;
	}
	if (e->type == PH_EV_ACCEPT) {
		s = session_by_cgid(d, e->session_cgid);
		w = s ? find_window(d, s, e->port) : NULL;
		if (!w && d->cfg.ndes && (e->mark & d->cfg.mark_mask) == d->cfg.mark) {
			/* an accepted socket inherits its listener's mark */
			for (w = d->windows; w; w = w->next)
				if (w->state == W_OPEN && w->session->kind == S_WATCH && w->port == e->port)
					break;
		}
		if (!w)
			return;
		w->connections++;
		for (unsigned i = 0; i < w->npeers; i++) {
			if (w->peers[i].family == e->family && !memcmp(w->peers[i].addr, e->raddr, 16)) {
				w->peers[i].count++;
				return;
			}
		}
		if (w->npeers < PH_MAX_PEERS) {
			w->peers[w->npeers].family = e->family;
			memcpy(w->peers[w->npeers].addr, e->raddr, 16);
			w->peers[w->npeers].count = 1;
			w->npeers++;
		} else {
			w->other_peer_connections++;
		}
		return;
	}
	if (e->type != PH_EV_LISTEN)
		return;
	s = session_by_cgid(d, e->session_cgid);
	if (!s && e->designation)
		s = watch_session(d, e);
	if (!s) {
		log_debug("listen on tcp/%u by pid %u (cgroup %llu): not designated", e->port, e->tgid,
			  (unsigned long long)e->cgroup_id);
		return;
	}
	if (!session_has_port(s, e->port)) {
		log_notice("session %llu: listen on tcp/%u, a port this session may not open", (unsigned long long)s->id,
			   e->port);
		return;
	}
	w = find_window(d, s, e->port);
	if (w) {
		if (w->ncookies < PH_MAX_LISTENERS)
			w->cookies[w->ncookies++] = e->cookie;
		else
			log_warn("window %llu: too many listeners; the extra one keeps no window open",
				 (unsigned long long)w->id);
		return;
	}
	window_open(d, s, e);
}

void window_on_timer(struct ph_daemon *d)
{
	uint64_t now = now_ns(CLOCK_BOOTTIME), ticks;
	struct ph_window *w, *next;

	if (read(d->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_errno(-errno, "timer: read");
	for (w = d->windows; w; w = next) {
		next = w->next;
		if (w->state == W_OPEN && w->session->deadline_boot <= now)
			window_close(d, w, PH_REASON_DEADLINE);
	}
	arm_timer(d);
}

static void session_end_public(struct ph_daemon *d, struct ph_session *s);

/* ---- ruleset reloads ---------------------------------------------------------- */

static int chain_eq(const struct ph_chain_ref *a, const struct ph_chain_ref *b)
{
	return a->family == b->family && !strcmp(a->table, b->table) && !strcmp(a->chain, b->chain);
}

/* Put a window's rules back where a reload removed them: keep every rule
 * still present in a target chain, insert (one batch) into the rest. */
static void window_restore(struct ph_daemon *d, struct ph_window *w, const struct ph_chain_ref *chains,
			   unsigned nchains)
{
	struct nft_rule_ref keep[PH_MAX_CHAINS], added[PH_MAX_CHAINS];
	struct ph_chain_ref missing[PH_MAX_CHAINS];
	struct nft_rule_spec spec;
	unsigned nkeep = 0, nmiss = 0;
	int r;

	for (unsigned c = 0; c < nchains; c++) {
		int found = 0;
		for (unsigned i = 0; i < w->nrules && !found; i++) {
			if (!chain_eq(&w->rules[i].chain, &chains[c]))
				continue;
			if (nft_rule_present(d->nft, &w->rules[i]) == 1) {
				keep[nkeep++] = w->rules[i];
				found = 1;
			}
		}
		if (!found)
			missing[nmiss++] = chains[c];
	}
	if (nmiss == 0 && nkeep == w->nrules)
		return;
	if (nmiss) {
		window_spec(d, w, &spec);
		r = nft_insert_window(d->nft, &spec, missing, nmiss, added);
		if (r < 0) {
			log_errno(r, "window %llu: restoring its rules after a ruleset change failed", (unsigned long long)w->id);
			nmiss = 0;
		}
		for (unsigned i = 0; i < nmiss; i++)
			keep[nkeep++] = added[i];
	}
	memcpy(w->rules, keep, nkeep * sizeof(keep[0]));
	w->nrules = nkeep;
	log_notice("window %llu: ruleset changed by another process; restored in %u chain(s), %u chain(s) in place, in %llu us",
		   (unsigned long long)w->id, nmiss, nkeep - nmiss,
		   (unsigned long long)((now_ns(CLOCK_BOOTTIME) - d->nft_change_boot) / 1000));
}

void window_on_nft_change(struct ph_daemon *d)
{
	struct ph_chain_ref chains[PH_MAX_CHAINS];
	unsigned nchains = 0;
	int changed = 0, r;

	d->nft_change_boot = now_ns(CLOCK_BOOTTIME);
	r = nft_monitor_drain(d->nft, &changed);
	if (r < 0)
		log_errno(r, "nft: reading ruleset notifications");
	if (!changed && r == 0)
		return;
	nft_forget_chains(d->nft);
	r = nft_find_chains(d->nft, &d->cfg, chains, PH_MAX_CHAINS, &nchains, NULL, 0);
	if (r < 0) {
		log_errno(r, "nft: listing chains after a ruleset change");
		return;
	}
	for (struct ph_window *w = d->windows; w; w = w->next)
		if (w->state == W_OPEN)
			window_restore(d, w, chains, nchains);
	/* our own inserts produced notifications too: drop them */
	nft_monitor_drain(d->nft, &changed);
}

/* ---- leftovers of a previous daemon --------------------------------------------------- */

static void adopt_one(void *arg, uint64_t id)
{
	struct ph_daemon *d = arg;
	struct ph_session *s;
	char ev[PATH_MAX * 2 + 32];
	struct stat st;

	if (id >= d->next_session_id)
		d->next_session_id = id + 1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->id = id;
	s->ep_kind = EPK_SESSION;
	s->kind = S_ORPHAN;
	s->pidfd = -1;
	if ((size_t)snprintf(s->cg_rel, sizeof(s->cg_rel), "%.4000s/s%llu", d->cg.base_rel, (unsigned long long)id) >=
		    sizeof(s->cg_rel) ||
	    (size_t)snprintf(s->cg_abs, sizeof(s->cg_abs), "%s%s", d->cg.mount, s->cg_rel) >= sizeof(s->cg_abs)) {
		free(s);
		return;
	}
	if (cg_remove(s->cg_abs) == 0) {
		log_notice("recovered: removed empty leftover session cgroup %s", s->cg_rel);
		free(s);
		return;
	}
	/* still has processes: no window for it (nports = 0); remove it
	 * as soon as it empties */
	if (stat(s->cg_abs, &st) < 0) {
		free(s);
		return;
	}
	s->cgid = (uint64_t)st.st_ino;
	snprintf(ev, sizeof(ev), "%s/cgroup.events", s->cg_abs);
	s->inotify_wd = inotify_add_watch(d->inofd, ev, IN_MODIFY);
	s->nports = 0;
	s->next = d->sessions;
	d->sessions = s;
	log_notice("recovered: leftover session cgroup %s still has processes; it gets no window and is removed when they exit",
		   s->cg_rel);
	if (cg_populated(s->cg_abs) == 0)
		session_end_public(d, s);
}

void window_adopt_orphans(struct ph_daemon *d)
{
	int r = cg_list_sessions(&d->cg, adopt_one, d);

	if (r < 0 && r != -ENOENT)
		log_errno(r, "cgroup: listing leftover sessions");
}

/* ---- sessions --------------------------------------------------------------- */

static void session_end(struct ph_daemon *d, struct ph_session *s, uint32_t reason)
{
	struct ph_session **pp;
	int r;

	close_session_windows(d, s, reason);
	if (s->inotify_wd >= 0)
		inotify_rm_watch(d->inofd, s->inotify_wd);
	if (s->kind == S_WATCH) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
		close(s->pidfd);
	} else {
		r = cg_remove(s->cg_abs);
		if (r < 0)
			log_errno(r, "session %llu: cgroup %s left behind", (unsigned long long)s->id, s->cg_rel);
	}
	log_info("session %llu ended (%s)", (unsigned long long)s->id, ph_reason_name(reason));
	send_event(s, PH_EVENT_SESSION_END, NULL, reason, 0, 0, 0);
	if (s->client)
		s->client->session = NULL;
	for (pp = &d->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	free(s);
	if (!d->sessions)
		malloc_trim(0); /* sessions are large: give an idle daemon's heap back */
}

static void session_end_public(struct ph_daemon *d, struct ph_session *s)
{
	session_end(d, s, PH_REASON_EXITED);
}

/* ---- watch mode: cgroup designations ------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *sl = strrchr(path, '/');

	return sl ? sl + 1 : path;
}

static void des_refresh(struct ph_daemon *d, unsigned i)
{
	const struct ph_designation *des = &d->cfg.des[i];
	char abs[PATH_MAX + 300];
	struct stat st;
	uint64_t id = 0;

	snprintf(abs, sizeof(abs), "%s%s", d->cg.mount, des->cgroup);
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode))
		id = (uint64_t)st.st_ino;
	if (id == d->des[i].cgid)
		return;
	if (d->des[i].cgid)
		watch_designate_cgroup(d->watch, d->des[i].cgid, i, 0);
	d->des[i].cgid = id;
	if (id) {
		int r = watch_designate_cgroup(d->watch, id, i, 1);
		if (r)
			log_errno(r, "watch: cannot designate cgroup %s", des->cgroup);
		else
			log_info("watch: cgroup %s exists: its processes are designated (config line %u)", des->cgroup,
				 des->line);
	} else {
		log_info("watch: cgroup %s is gone", des->cgroup);
	}
}

static void des_on_inotify(struct ph_daemon *d, const struct inotify_event *ev)
{
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		if (d->des[i].wd != ev->wd || d->des[i].wd < 0)
			continue;
		if (ev->len && strcmp(ev->name, base_name(d->cfg.des[i].cgroup)))
			continue;
		des_refresh(d, i);
	}
}

void window_watch_designations(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		char parent[PATH_MAX + 300], *sl;

		d->des[i].wd = -1;
		d->des[i].cgid = 0;
		if (des->type != DES_UNIT && des->type != DES_CGROUP)
			continue;
		/* the unit's cgroup exists only while it runs: follow it as it
		 * appears and goes (a timer-started certbot.service) */
		snprintf(parent, sizeof(parent), "%s%s", d->cg.mount, des->cgroup);
		sl = strrchr(parent, '/');
		if (sl)
			*sl = '\0';
		d->des[i].wd = inotify_add_watch(d->inofd, parent, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
		if (d->des[i].wd < 0)
			log_warn("watch: config line %u: %s does not exist; %s %s cannot be designated until it does and portholed restarts",
				 des->line, parent, des_type_name(des->type), des->arg);
		des_refresh(d, i);
	}
}

void window_on_pidfd(struct ph_daemon *d, struct ph_session *s)
{
	session_end(d, s, PH_REASON_EXITED);
}

void window_on_inotify(struct ph_daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	for (;;) {
		n = read(d->inofd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			des_on_inotify(d, ev);
			for (struct ph_session *s = d->sessions; s; s = s->next) {
				if (s->inotify_wd != ev->wd)
					continue;
				if (cg_populated(s->cg_abs) == 0)
					session_end(d, s, PH_REASON_EXITED);
				break;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

static int proc_status_field(pid_t pid, const char *field, unsigned long *out)
{
	char path[64], buf[4096], *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = read_small_file(path, buf, sizeof(buf));
	if (r)
		return r;
	p = strstr(buf, field);
	if (!p)
		return -ENOENT;
	*out = strtoul(p + strlen(field), NULL, 10);
	return 0;
}

static int pidfd_pid(int pidfd, pid_t *pid)
{
	char path[64], buf[1024], *p;
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	r = read_small_file(path, buf, sizeof(buf));
	if (r)
		return r;
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EBADF; /* not a pidfd */
	*pid = (pid_t)strtol(p + 5, NULL, 10);
	return *pid > 0 ? 0 : -ESRCH;
}

static int session_start(struct ph_daemon *d, struct ph_client *c, const struct ph_run *run, int pidfd)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr) + sizeof(struct ph_run_ok)]; } m;
	struct ph_run_ok *ok = ph_payload(&m);
	struct ph_session *s;
	unsigned long ppid, uid;
	pid_t pid;
	size_t len;
	int r;

	if (c->session)
		return control_send_error(c, EBUSY, "this connection already runs session %llu",
					  (unsigned long long)c->session->id);
	if (pidfd < 0)
		return control_send_error(c, EINVAL, "run: the command's pidfd is missing");
	r = pidfd_pid(pidfd, &pid);
	if (r)
		return control_send_error(c, -r, "run: the passed descriptor is not a live pidfd");
	/* only a child of the caller, owned by the caller, may be placed in a
	 * session: nobody designates somebody else's process */
	if (proc_status_field(pid, "PPid:", &ppid) || (pid_t)ppid != c->pid ||
	    proc_status_field(pid, "Uid:", &uid) || (uid_t)uid != c->uid) {
		log_notice("refused: run from pid %d uid %u: process %d is not its own child", (int)c->pid,
			   (unsigned)c->uid, (int)pid);
		audit_refused(d, c, "run", "the process to place in the session is not the caller's own child");
		return control_send_error(c, EPERM, "run: process %d is not a child of the caller", (int)pid);
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return control_send_error(c, ENOMEM, "out of memory");
	s->ep_kind = EPK_SESSION;
	s->kind = S_RUN;
	s->pidfd = -1;
	s->inotify_wd = -1;
	s->uid = c->uid;
	s->pid = pid;
	if (run->nports == 0) {
		memcpy(s->ports, d->cfg.ports, sizeof(s->ports));
		s->nports = d->cfg.nports;
	} else {
		for (unsigned i = 0; i < run->nports; i++) {
			int ok_port = 0;
			for (unsigned j = 0; j < d->cfg.nports; j++)
				ok_port |= d->cfg.ports[j] == run->ports[i];
			if (!ok_port) {
				free(s);
				audit_refused(d, c, "run", "asked for a port that is not watched");
				return control_send_error(c, EPERM,
					"run: port %u is not a watched port (config 'ports')", run->ports[i]);
			}
			s->ports[i] = run->ports[i];
		}
		s->nports = run->nports;
	}
	s->max_window = run->max_window ? run->max_window : d->cfg.max_window;
	if (s->max_window > d->cfg.max_window) {
		uint32_t mw = s->max_window;
		free(s);
		audit_refused(d, c, "run", "asked for a window longer than max_window");
		return control_send_error(c, EPERM, "run: max window %u s exceeds the configured max_window %u s",
					  mw, d->cfg.max_window);
	}
	/* a leftover cgroup of an earlier daemon may hold a name: skip it */
	for (int tries = 0; tries < 64; tries++) {
		s->id = d->next_session_id++;
		r = cg_session_create(&d->cg, s->id, s->cg_rel, sizeof(s->cg_rel), s->cg_abs,
				      sizeof(s->cg_abs), &s->cgid);
		if (r != -EEXIST)
			break;
	}
	if (r) {
		free(s);
		log_errno(r, "session: cannot create cgroup");
		return control_send_error(c, -r, "run: cannot create the session cgroup: %s", strerror(-r));
	}
	{
		char ev[sizeof(s->cg_abs) + 16];
		snprintf(ev, sizeof(ev), "%s/cgroup.events", s->cg_abs);
		s->inotify_wd = inotify_add_watch(d->inofd, ev, IN_MODIFY);
	}
	if (s->inotify_wd < 0) {
		r = -errno;
	} else {
		r = cg_move_pid(s->cg_abs, pid);
	}
	if (r) {
		if (s->inotify_wd >= 0)
			inotify_rm_watch(d->inofd, s->inotify_wd);
		cg_remove(s->cg_abs);
		free(s);
		log_errno(r, "session: cannot place pid %d in its cgroup", (int)pid);
		return control_send_error(c, -r, "run: cannot place the command in its cgroup: %s", strerror(-r));
	}
	s->client = c;
	c->session = s;
	s->next = d->sessions;
	d->sessions = s;

	len = ph_msg_init(&m, PH_MSG_RUN_OK, sizeof(*ok));
	ok->session_id = s->id;
	ok->max_window = s->max_window;
	ok->nports = (uint16_t)s->nports;
	memcpy(ok->ports, s->ports, sizeof(ok->ports));
	copy_str(ok->cgroup, sizeof(ok->cgroup), s->cg_rel);
	{
		char ports[64];
		format_ports(ports, sizeof(ports), s->ports, s->nports);
		log_info("session %llu started for pid %d uid %u in %s (ports %s, max window %u s)",
			 (unsigned long long)s->id, (int)pid, (unsigned)c->uid, s->cg_rel, ports, s->max_window);
	}
	return control_send(c, &m, len);
}

static int status_reply(struct ph_daemon *d, struct ph_client *c)
{
	size_t cap = sizeof(struct ph_status_reply) + PH_STATUS_MAX * sizeof(struct ph_status_entry);
	char *buf = calloc(1, sizeof(struct ph_hdr) + cap);
	struct ph_status_reply *rep;
	uint32_t n = 0;
	int r;

	if (!buf)
		return control_send_error(c, ENOMEM, "out of memory");
	for (struct ph_window *w = d->windows; w && n < PH_STATUS_MAX; w = w->next)
		n++;
	ph_msg_init(buf, PH_MSG_STATUS_REPLY, sizeof(*rep) + n * sizeof(struct ph_status_entry));
	rep = ph_payload(buf);
	rep->count = n;
	n = 0;
	for (struct ph_window *w = d->windows; w && n < rep->count; w = w->next, n++) {
		struct ph_status_entry *e = &rep->entries[n];
		e->window_id = w->id;
		e->session_id = w->session->id;
		e->opened_ns = w->opened_real;
		e->deadline_ns = w->session->deadline_real;
		nft_read_counters(d->nft, w->rules, w->nrules, &e->packets, &e->bytes);
		e->pid = (uint32_t)w->pid;
		e->port = w->port;
		e->nchains = (uint16_t)w->nrules;
		e->nlisteners = w->ncookies;
		copy_str(e->exe, sizeof(e->exe), w->session->exe);
		copy_str(e->cgroup, sizeof(e->cgroup), w->session->cg_rel);
	}
	r = control_send(c, buf, ((struct ph_hdr *)buf)->len);
	free(buf);
	return r;
}

static int close_request(struct ph_daemon *d, struct ph_client *c, const struct ph_close *req)
{
	union { struct ph_hdr h; char b[sizeof(struct ph_hdr)]; } m;

	for (struct ph_window *w = d->windows; w; w = w->next) {
		if (w->id != req->window_id || w->state != W_OPEN)
			continue;
		log_notice("window %llu revoked by uid %u (pid %d)", (unsigned long long)w->id, (unsigned)c->uid,
			   (int)c->pid);
		w->revoked_uid = c->uid;
		w->revoked_pid = c->pid;
		window_close(d, w, PH_REASON_REVOKED);
		return control_send(c, &m, ph_msg_init(&m, PH_MSG_OK, 0));
	}
	return control_send_error(c, ENOENT, "no open window %llu", (unsigned long long)req->window_id);
}

int window_on_request(void *ctx, struct ph_client *c, int type, const void *payload, size_t len, int fd)
{
	struct ph_daemon *d = ctx;
	int r;

	(void)len;
	if (!c->authorized) {
		if (fd >= 0)
			close(fd);
		log_notice("refused: %s request from pid %d uid %u: not root and not in group %s",
			   ph_msg_type_name((uint32_t)type), (int)c->pid, (unsigned)c->uid, d->cfg.socket_group);
		audit_refused(d, c, ph_msg_type_name((uint32_t)type), "not root and not in socket_group");
		control_send_error(c, EACCES, "permission denied: uid %u is not root and not in group '%s'",
				   (unsigned)c->uid, d->cfg.socket_group);
		return -EACCES;
	}
	switch (type) {
	case PH_MSG_RUN:
		r = session_start(d, c, payload, fd);
		break;
	case PH_MSG_STATUS:
		r = status_reply(d, c);
		break;
	case PH_MSG_CLOSE:
		r = close_request(d, c, payload);
		break;
	default:
		r = control_send_error(c, EOPNOTSUPP, "unexpected message '%s'", ph_msg_type_name((uint32_t)type));
		break;
	}
	if (fd >= 0)
		close(fd);
	if (r < 0)
		log_debug("control: reply to pid %d failed: %s", (int)c->pid, strerror(-r));
	return 0;
}

void window_client_gone(struct ph_daemon *d, struct ph_client *c)
{
	(void)d;
	if (c->session) {
		/* the session lives on until its cgroup empties */
		c->session->client = NULL;
		c->session = NULL;
	}
}

void window_shutdown(struct ph_daemon *d)
{
	while (d->windows)
		window_close(d, d->windows, PH_REASON_SHUTDOWN);
	while (d->sessions) {
		struct ph_session *s = d->sessions;
		if (s->kind != S_WATCH && cg_populated(s->cg_abs) == 1)
			log_warn("session %llu: its command still runs; cgroup %s stays until it exits",
				 (unsigned long long)s->id, s->cg_rel);
		session_end(d, s, PH_REASON_SHUTDOWN);
	}
}
