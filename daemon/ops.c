// SPDX-License-Identifier: GPL-2.0-or-later
/* The production seams: the calls the state machines make outward (window.h's
 * struct ph_window_ops, server.h's struct ph_server_ops), bound to the real
 * firewall (firewall.c), the BPF programs (watch.c, guardbpf.c), conntrack,
 * sock_diag, the cgroup tree, the tokens (tokens.c), the audit log
 * (records.c, records_server.c), the sessions' clients (session.c), /proc
 * and the clock. main.c wires them; the unit tests wire fakes instead. */
#include "container_serve.h"
#include "daemon.h"
#include "conntrack.h"
#include "firewall.h"
#include "log.h"
#include "sockdiag.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- both state machines' ------------------------------------------------------------- */

static void log_line(int prio, const char *msg)
{
	log_msg(prio, "%s", msg);
}

/* ---- the window state machine's ------------------------------------------------------- */

uint64_t clock_now(clockid_t clk)
{
	return now_ns(clk);
}

void timer_arm_fd(int fd, uint64_t when_boot)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(when_boot / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(when_boot % NSEC_PER_SEC);
	if (fd >= 0 && timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_errno(-errno, "timer: arm");
}

static void win_timer_arm(struct ph_daemon *d, uint64_t when_boot)
{
	timer_arm_fd(d->timerfd, when_boot);
}

static int win_fw_open(struct ph_daemon *d, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why,
		       size_t whylen)
{
	return fw_window_open(d->fw, mark, port, timeout_ms, why, whylen);
}

static int win_fw_close(struct ph_daemon *d, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	return fw_window_close(d->fw, mark, port, packets, bytes);
}

static unsigned win_fw_chains(struct ph_daemon *d, struct ph_chain_ref *out, unsigned max)
{
	return fw_chains(d->fw, out, max);
}

static void win_watch(struct ph_daemon *d, uint32_t mark, uint16_t port, int open)
{
	watch_window(d->watch, mark, port, open);
}

static void win_budget_tag(struct ph_daemon *d, pid_t pid, uint64_t start, uint32_t budget)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* the process may be gone, or already tagged (then by a session,
	 * which has its own deadline): nothing to pass on */
	if (pidfd < 0)
		return;
	if (proc_start(pid) == start)
		watch_budget_tag(d->watch, pidfd, budget);
	close(pidfd);
}

static void win_client_error(struct ph_client *c, int code, const char *msg)
{
	control_send_error(c, code, "%s", msg);
}

const struct ph_window_ops window_ops_live = {
	.log = log_line,
	.now = clock_now,
	.timer_arm = win_timer_arm,
	.fw_open = win_fw_open,
	.fw_close = win_fw_close,
	.fw_chains = win_fw_chains,
	.watch_window = win_watch,
	.proc_start = proc_start,
	.proc_exe = proc_exe,
	.budget_tag = win_budget_tag,
	.mark_hold = mark_hold,
	.record_open = record_window_open,
	.record_close = record_window_close,
	.record_refused = record_refused,
	.session_event = session_send_event,
	.client_error = win_client_error,
	.ids_save = ids_save,
	.metrics = metrics_write,
};

/* ---- the server-window state machine's --------------------------------------------------- */

static void srv_timer_arm(struct ph_daemon *d, uint64_t when_boot)
{
	timer_arm_fd(d->srv_timerfd, when_boot);
}

/* the served cgroup's id now (its inode), 0 when it does not exist */
static uint64_t srv_cgroup_id(struct ph_daemon *d, unsigned i)
{
	char path[PATH_MAX + 320];
	struct stat st;

	if (d->cfg.srv[i].type == DES_CONTAINER)
		return csrv_cgroup_id(d, i);
	snprintf(path, sizeof(path), "%s%s", d->cg_mount, d->cfg.srv[i].cgroup);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? (uint64_t)st.st_ino : 0;
}

/* whether the served cgroup has a process (cgroup.procs is not empty) */
static int srv_running(struct ph_daemon *d, unsigned i)
{
	char path[PATH_MAX + 320], buf[16];

	if (d->cfg.srv[i].type == DES_CONTAINER)
		return csrv_running(d, i);
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", d->cg_mount, d->cfg.srv[i].cgroup);
	return read_small_file(path, buf, sizeof(buf)) == 0 && buf[0] >= '0' && buf[0] <= '9';
}

struct listen_q {
	uint16_t port;
	uint64_t cgid;
	unsigned any, ours;
};

static void listen_cb(const struct sockdiag_sock *s, void *arg)
{
	struct listen_q *q = arg;

	if (s->sport != q->port)
		return;
	q->any++;
	q->ours += s->has_cgroup && s->cgroup == q->cgid;
}

/* Something listens on the port: 0; nothing at all: -ENOTCONN and why. A
 * listener of another cgroup (a server below the served one, or one run by
 * hand) is said, not refused. */
static int srv_listens(struct ph_daemon *d, unsigned i, uint64_t cgid, char *err, size_t errlen)
{
	const struct ph_server *sv = &d->cfg.srv[i];

	if (sv->type == DES_CONTAINER)
		return csrv_listens(d, i, err, errlen);
	for (unsigned p = 0; p < sv->nports; p++) {
		struct listen_q q = { sv->ports[p], cgid, 0, 0 };
		if (sockdiag_each(1u << 10 /* TCP_LISTEN */, listen_cb, &q))
			continue; /* cannot tell: the window opens; check says more */
		if (!q.any) {
			snprintf(err, errlen, "%s (cgroup %s) runs but nothing listens on tcp/%u: no window to it", sv->arg,
				 sv->cgroup, sv->ports[p]);
			return -ENOTCONN;
		}
		if (!q.ours)
			log_warn("server %s: the listeners on tcp/%u are not in cgroup %s itself (below it, or elsewhere: "
				 "porthole check tells)", sv->arg, sv->ports[p], sv->cgroup);
	}
	return 0;
}

static int srv_fw_open(struct ph_daemon *d, unsigned i, uint64_t cgid, unsigned level, uint16_t port,
		       uint64_t timeout_ms, char *why, size_t whylen)
{
	if (d->cfg.srv[i].type == DES_CONTAINER)
		return csrv_fw_open(d, i, port, timeout_ms, why, whylen);
	return fw_server_open(d->fw, cgid, level, port, timeout_ms, why, whylen);
}

static void srv_fw_close(struct ph_daemon *d, unsigned i, uint64_t cgid, uint16_t port)
{
	if (d->cfg.srv[i].type == DES_CONTAINER) {
		csrv_fw_close(d, i, port);
		return;
	}
	fw_server_close(d->fw, cgid, port);
}

static unsigned srv_fw_guard_rules(struct ph_daemon *d)
{
	return fw_guard_rules(d->fw);
}

static int srv_guard_attach(struct ph_daemon *d, int on)
{
	return guardbpf_attach(d->gk, on);
}

static int srv_guard_server(struct ph_daemon *d, uint64_t cgid, unsigned i, uint32_t flags, int on)
{
	return guardbpf_server(d->gk, cgid, i, flags, on);
}

static void srv_guard_stats(struct ph_daemon *d, unsigned i, uint64_t *admitted, uint64_t *dropped)
{
	guardbpf_stats(d->gk, i, admitted, dropped);
}

static int srv_guard_token(struct ph_daemon *d, unsigned i, const char *token, int on)
{
	return guardbpf_token(d->gk, i, token, on);
}

static int srv_guard_end(struct ph_daemon *d, unsigned *ended)
{
	return guardbpf_end_connections(d->gk, ended);
}

static void srv_end_guarded(struct ph_daemon *d, const char *when)
{
	int r = ct_flush_mark(d->guard.guarded, d->cfg.mark_mask);

	if (r)
		log_errno(r, "conntrack: cannot end the connections server windows admitted (%s)", when);
}

static int srv_tokens_source(struct ph_daemon *d, unsigned i)
{
	return tokens_source(d, i);
}

const struct ph_server_ops server_ops_live = {
	.log = log_line,
	.now = clock_now,
	.timer_arm = srv_timer_arm,
	.cgroup_id = srv_cgroup_id,
	.running = srv_running,
	.listens = srv_listens,
	.fw_open = srv_fw_open,
	.fw_close = srv_fw_close,
	.fw_guard_rules = srv_fw_guard_rules,
	.guard_attach = srv_guard_attach,
	.guard_server = srv_guard_server,
	.guard_stats = srv_guard_stats,
	.guard_token = srv_guard_token,
	.guard_end = srv_guard_end,
	.end_guarded = srv_end_guarded,
	.tokens_source = srv_tokens_source,
	.tokens_read = tokens_read,
	.tokens_unwatch = tokens_unwatch,
	.record_open = record_server_open,
	.record_close = record_server_close,
	.record_refused = record_refused,
	.record_guard = record_guard,
	.record_suppressed = record_guard_suppressed,
	.ids_save = ids_save,
	.metrics = metrics_write,
};
