// SPDX-License-Identifier: GPL-2.0-or-later
/* The production seams: the calls the state machines make outward (window.h's
 * struct ph_window_ops), bound to the real firewall (firewall.c), the
 * windows' BPF programs (watch.c), the audit log (records.c), the sessions'
 * clients (session.c), /proc and the clock. main.c wires them; the unit
 * tests wire fakes instead. */
#include "daemon.h"
#include "firewall.h"
#include "log.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- the window state machine's ------------------------------------------------------- */

static uint64_t clock_now(clockid_t clk)
{
	return now_ns(clk);
}

static void timer_arm_fd(int fd, uint64_t when_boot)
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
