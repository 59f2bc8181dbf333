// SPDX-License-Identifier: GPL-2.0-or-later
/* Sessions: who may get a window, and the mark their sockets carry.
 *
 * A designation of the config is a session for the daemon's lifetime. A
 * `porthole run` command is a session from the moment the daemon tags the
 * caller's waiting child until its last task exits: the kernel tags the
 * process tree (bpf task storage), so the command stays in the cgroup its
 * caller put it in (a systemd unit, a user scope) and `systemctl stop`
 * ends it like any other process of the unit. The daemon never receives a
 * descriptor for this: it opens the child's pidfd itself and proves the
 * child is the caller's own before it tags it.
 *
 * Marks: every nonzero value within the configured mask but the "admitted"
 * value names one session; designations take the first ones, sessions the
 * next free one after the last given out (so a mark is not reused at once). */
#include "daemon.h"
#include "cgroup.h"
#include "log.h"
#include "util.h"
#include "sockdiag.h"
#include "watch.h"

#include <errno.h>
#include <time.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t mark_nth(uint32_t mask, uint32_t k)
{
	uint32_t v = 0;

	/* deposit the bits of k, lowest first, into the bits of mask */
	for (uint32_t bit = 1; mask && bit; bit <<= 1) {
		if (!(mask & bit))
			continue;
		if (k & 1)
			v |= bit;
		k >>= 1;
		mask &= ~bit;
		if (!k)
			break;
	}
	return k ? 0 : v; /* 0: k does not fit in the mask */
}

static int mark_in_use(const struct ph_daemon *d, uint32_t mark)
{
	if (mark == d->cfg.mark || (d->cfg.nsrv && (mark == d->guard.candidate || mark == d->guard.guarded)))
		return 1;
	if (config_has_published(&d->cfg)) {
		/* CW, and the two values below it that config_container_mark
		 * skips (server windows' marks, with or without serve lines) */
		uint32_t cand, guarded, cw;
		if (!config_guard_marks(&d->cfg, &cand, &guarded) && (mark == cand || mark == guarded))
			return 1;
		if (!config_container_mark(&d->cfg, &cw) && mark == cw)
			return 1;
		if (!config_container_pre_marks(&d->cfg, &cand, &guarded) && (mark == cand || mark == guarded))
			return 1; /* CP, CC */
	}
	for (unsigned i = 0; i < d->nreserved; i++)
		if (d->reserved_marks[i] == mark)
			return 1;
	for (const struct ph_session *s = d->sessions; s; s = s->next)
		if (s->mark == mark)
			return 1;
	for (unsigned i = 0; i < d->nheld; i++)
		if (d->held[i].mark == mark && d->held[i].until_boot > now_ns(CLOCK_BOOTTIME))
			return 1;
	return 0;
}

void mark_hold(struct ph_daemon *d, uint32_t mark, uint64_t until_boot)
{
	uint64_t now = now_ns(CLOCK_BOOTTIME);
	unsigned i, slot = d->nheld;

	for (i = 0; i < d->nheld; i++) {
		if (d->held[i].mark == mark) {
			slot = i;
			break;
		}
		if (d->held[i].until_boot <= now)
			slot = i; /* expired: reused */
	}
	if (slot == d->nheld) {
		if (d->nheld < ARRAY_SIZE(d->held)) {
			d->nheld++;
		} else {
			/* full: the one that frees soonest makes room */
			slot = 0;
			for (i = 1; i < d->nheld; i++)
				if (d->held[i].until_boot < d->held[slot].until_boot)
					slot = i;
		}
	} else if (d->held[slot].mark == mark && d->held[slot].until_boot > until_boot) {
		return; /* held longer already */
	}
	d->held[slot].mark = mark;
	d->held[slot].until_boot = until_boot;
}

/* The next free mark: not the admitted value, not a session's or a
 * designation's, and carried by no TCP socket on a watched port right now
 * (read from the kernel at each allocation: a socket can outlive its session,
 * passed to another process or left behind by a daemon that died). 0 when
 * none is free or the kernel cannot be asked (fail closed). */
static uint32_t mark_alloc(struct ph_daemon *d)
{
	uint32_t values = __builtin_popcount(d->cfg.mark_mask) >= 31 ? UINT32_MAX
			  : (1u << __builtin_popcount(d->cfg.mark_mask)) - 1;
	int r = sockdiag_marks(d->cfg.ports, d->cfg.nports, d->cfg.mark_mask, d->reserved_marks,
			       ARRAY_SIZE(d->reserved_marks), &d->nreserved);

	if (r) {
		log_errno(r, "sock_diag: cannot read the marks of existing sockets; no mark given out");
		return 0;
	}
	if (d->nreserved == ARRAY_SIZE(d->reserved_marks)) {
		log_err("sock_diag: more than %u marks in use on watched ports; no mark given out", d->nreserved);
		return 0;
	}
	for (uint32_t tries = 0; tries < values && tries < 65536; tries++) {
		uint32_t m;
		if (++d->next_mark_k > values)
			d->next_mark_k = 1;
		m = mark_nth(d->cfg.mark_mask, d->next_mark_k);
		if (m && !mark_in_use(d, m))
			return m;
	}
	return 0;
}

struct ph_session *session_by_mark(struct ph_daemon *d, uint32_t mark)
{
	for (struct ph_session *s = d->sessions; s; s = s->next)
		if (s->mark == mark)
			return s;
	return NULL;
}

unsigned sessions_of_uid(const struct ph_daemon *d, uid_t uid)
{
	unsigned n = 0;

	for (const struct ph_session *s = d->sessions; s; s = s->next)
		n += s->kind == S_RUN && s->uid == uid;
	return n;
}

static unsigned run_sessions(const struct ph_daemon *d)
{
	unsigned n = 0;

	for (const struct ph_session *s = d->sessions; s; s = s->next)
		n += s->kind == S_RUN;
	return n;
}

static void session_link(struct ph_daemon *d, struct ph_session *s)
{
	s->next = d->sessions;
	d->sessions = s;
}

int sessions_init(struct ph_daemon *d)
{
	uint32_t start = 0;
	int r;

	/* sockets of an earlier daemon's sessions keep their marks: never give
	 * those values out, or an old listener would ride a new window */
	r = sockdiag_marks(d->cfg.ports, d->cfg.nports, d->cfg.mark_mask, d->reserved_marks,
			   ARRAY_SIZE(d->reserved_marks), &d->nreserved);
	if (r)
		return log_errno(r, "sock_diag: cannot read the marks of existing sockets");
	for (unsigned i = 0; i < d->nreserved; i++)
		log_notice("recovered: a socket on a watched port already carries mark 0x%x (an earlier daemon's "
			   "session?); that mark is not given out", d->reserved_marks[i]);
	/* sessions start at a random mark: a restart rarely reuses recent ones */
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) == sizeof(start))
		d->next_mark_k = start % 1024;
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		struct ph_session *s = calloc(1, sizeof(*s));
		uint32_t m = mark_alloc(d);

		if (!s || !m) {
			free(s);
			return log_errno(m ? -ENOMEM : -ENOSPC, "watch: no mark for designation %u (socket_mark's mask "
					 "is too small)", i + 1);
		}
		s->kind = S_WATCH;
		s->id = d->next_session_id++;
		s->mark = m;
		s->des_index = i;
		if (des->nports) {
			memcpy(s->ports, des->ports, sizeof(s->ports));
			s->nports = des->nports;
		} else {
			memcpy(s->ports, d->cfg.ports, sizeof(s->ports));
			s->nports = d->cfg.nports;
		}
		s->max_window = des->max_window ? des->max_window : d->cfg.max_window;
		copy_str(s->cgroup, sizeof(s->cgroup), des->cgroup);
		d->des_marks[i] = m;
		session_link(d, s);
	}
	return 0;
}

void session_send_event(struct ph_session *s, uint32_t kind, const struct ph_window *w, uint32_t reason, int error,
			uint64_t packets, uint64_t bytes)
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
		e->deadline_ns = w->deadline_real;
		e->pid = (uint32_t)w->pid;
		e->port = w->port;
		e->nchains = (uint16_t)w->nchains;
	}
	if (control_send(s->client, &m, len) < 0)
		log_debug("control: event to session %llu not delivered", (unsigned long long)s->id);
}

/* One field of /proc/PID/status, matched at the start of a line: the first
 * line is `Name:`, which the process chooses itself, so a search anywhere in
 * the file could be fooled by a comm of "PPid: 1". */
static int status_field(const char *buf, const char *field, unsigned long *vals, unsigned nvals)
{
	size_t fl = strlen(field);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, field, fl) || p[fl] != ':')
			continue;
		p += fl + 1;
		for (unsigned i = 0; i < nvals; i++) {
			char *end;
			while (*p == ' ' || *p == '\t')
				p++;
			vals[i] = strtoul(p, &end, 10);
			if (end == p)
				return -EINVAL;
			p = end;
		}
		return 0;
	}
	return -ENOENT;
}

/* The caller's own child, not yet forked, owned by the caller through and
 * through (real, effective, saved and filesystem uid: a setuid child fails),
 * still the process the pidfd names. */
static int verify_child(int pidfd, pid_t pid, const struct ph_client *c, char *why, size_t whylen)
{
	char path[64], buf[4096];
	unsigned long ppid, uids[4], threads;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = read_small_file(path, buf, sizeof(buf));
	if (r) {
		snprintf(why, whylen, "process %d is gone", (int)pid);
		return -ESRCH;
	}
	if (status_field(buf, "PPid", &ppid, 1) || status_field(buf, "Uid", uids, 4) ||
	    status_field(buf, "Threads", &threads, 1)) {
		snprintf(why, whylen, "cannot read the status of process %d", (int)pid);
		return -EIO;
	}
	if ((pid_t)ppid != c->pid) {
		snprintf(why, whylen, "process %d is not a child of the caller (pid %d)", (int)pid, (int)c->pid);
		return -EPERM;
	}
	for (int i = 0; i < 4; i++) {
		if ((uid_t)uids[i] != c->uid) {
			snprintf(why, whylen, "process %d is not owned by the caller through and through (uid %lu, caller %u)",
				 (int)pid, uids[i], (unsigned)c->uid);
			return -EPERM;
		}
	}
	if (threads != 1) {
		snprintf(why, whylen, "process %d already runs %lu threads; the command must be tagged before it starts",
			 (int)pid, threads);
		return -EBUSY;
	}
	/* the pid could have been reused between pidfd_open and the read:
	 * the pidfd still naming a live process proves it was not (EPERM: it
	 * lives, and a daemon without CAP_KILL may not signal it) */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM) {
		snprintf(why, whylen, "process %d exited while being checked", (int)pid);
		return -ESRCH;
	}
	return 0;
}

int session_run(struct ph_daemon *d, struct ph_client *c, const struct ph_run *run, struct ph_session **out,
		char *why, size_t whylen)
{
	struct ph_session *s;
	int pidfd, r;

	if (c->uid != 0 && sessions_of_uid(d, c->uid) >= PH_MAX_SESSIONS_PER_UID) {
		snprintf(why, whylen, "uid %u already runs %d sessions (the most one user may)", (unsigned)c->uid,
			 PH_MAX_SESSIONS_PER_UID);
		return -EUSERS;
	}
	/* the last slots are root's: members of the group cannot lock it out */
	if (run_sessions(d) >= (c->uid == 0 ? PH_MAX_SESSIONS : PH_MAX_SESSIONS - PH_MAX_SESSIONS_PER_UID)) {
		snprintf(why, whylen, "%u sessions are running (the most portholed serves at once)", run_sessions(d));
		return -EUSERS;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = S_RUN;
	s->uid = c->uid;
	s->pid = (pid_t)run->pid;
	if (run->nports == 0) {
		memcpy(s->ports, d->cfg.ports, sizeof(s->ports));
		s->nports = d->cfg.nports;
	} else {
		for (unsigned i = 0; i < run->nports; i++) {
			int watched = 0;
			for (unsigned j = 0; j < d->cfg.nports; j++)
				watched |= d->cfg.ports[j] == run->ports[i];
			if (!watched) {
				snprintf(why, whylen, "port %u is not a watched port (config 'ports')", run->ports[i]);
				free(s);
				return -EPERM;
			}
			s->ports[i] = run->ports[i];
		}
		s->nports = run->nports;
	}
	s->max_window = run->max_window ? run->max_window : d->cfg.max_window;
	if (s->max_window > d->cfg.max_window) {
		snprintf(why, whylen, "max window %u s exceeds the configured max_window %u s", s->max_window,
			 d->cfg.max_window);
		free(s);
		return -EPERM;
	}
	if (c->pid <= 0) {
		snprintf(why, whylen, "the caller is not visible in portholed's PID namespace");
		free(s);
		return -EPERM;
	}
	pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (pidfd < 0) {
		snprintf(why, whylen, "process %d: %s", (int)s->pid, strerror(errno));
		free(s);
		return -ESRCH;
	}
	r = verify_child(pidfd, s->pid, c, why, whylen);
	if (!r) {
		/* only now, for a child that may be tagged: a refused request
		 * never moves the allocator */
		s->mark = mark_alloc(d);
		if (!s->mark) {
			snprintf(why, whylen, "no free window mark within socket_mark's mask");
			r = -ENOSPC;
		}
	}
	if (!r) {
		r = watch_session_begin(d->watch, pidfd, s->mark, (uint32_t)c->uid);
		if (r)
			snprintf(why, whylen, "cannot tag process %d: %s", (int)s->pid,
				 r == -EEXIST ? "it is already in a session" : strerror(-r));
	}
	close(pidfd); /* our own, from pidfd_open */
	if (r) {
		free(s);
		return r;
	}
	if (cg_of_pid(s->pid, s->cgroup, sizeof(s->cgroup)))
		s->cgroup[0] = '\0';
	s->id = d->next_session_id++;
	s->client = c;
	c->session = s;
	session_link(d, s);
	{
		char ports[64];
		format_ports(ports, sizeof(ports), s->ports, s->nports);
		log_info("session %llu started for pid %d uid %u in cgroup %s (ports %s, max window %u s, mark 0x%x)",
			 (unsigned long long)s->id, (int)s->pid, (unsigned)c->uid, s->cgroup, ports, s->max_window,
			 s->mark);
	}
	*out = s;
	return 0;
}

void session_end(struct ph_daemon *d, struct ph_session *s, uint32_t reason)
{
	struct ph_session **pp;

	window_close_session(d, s, reason);
	servers_session_end(d, s);
	if (s->kind == S_RUN)
		crun_end(d, s->id); /* run --container: its container's windows close with it */
	if (s->kind == S_RUN)
		watch_session_end(d->watch, s->mark);
	log_info("session %llu ended (%s)", (unsigned long long)s->id, ph_reason_name(reason));
	session_send_event(s, PH_EVENT_SESSION_END, NULL, reason, 0, 0, 0);
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
		malloc_trim(0);
}

void sessions_shutdown(struct ph_daemon *d)
{
	while (d->sessions) {
		struct ph_session *s = d->sessions;
		if (s->kind == S_RUN && watch_session_tasks(d->watch, s->mark) > 0)
			log_notice("session %llu: its command still runs; it keeps no window", (unsigned long long)s->id);
		session_end(d, s, PH_REASON_SHUTDOWN);
	}
}
