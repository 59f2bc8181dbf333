// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window state machine's production seam (container.h's
 * struct ph_container_ops): the firewall (fwcontainer.c), lib/netns's
 * resolver, /proc and the cgroup tree, the audit log
 * (records_container.c), the clock and its timer. main.c wires it; the
 * unit test wires fakes instead. */
#include "container.h"
#include "daemon.h"
#include "firewall.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

static void ct_log(int prio, const char *msg)
{
	log_msg(prio, "%s", msg);
}

static uint64_t ct_now(clockid_t clk)
{
	return now_ns(clk);
}

static void ct_timer_arm(struct ph_daemon *d, uint64_t when_boot)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(when_boot / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(when_boot % NSEC_PER_SEC);
	if (d->ctr_timerfd >= 0 && timerfd_settime(d->ctr_timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_errno(-errno, "timer: arm");
}

/* The process's cgroup v2 path (its /proc/PID/cgroup "0::" line), which
 * counts only while that directory's inode is the socket's cgroup id: the
 * process may have moved, or the pid been reused, since it listened. */
static int ct_cgroup_path(struct ph_daemon *d, uint32_t pid, uint64_t cgroup_id, char *out, size_t len, char *why,
			  size_t whylen)
{
	char path[64], buf[4096], abs[PATH_MAX + PH_PATH_LEN];
	struct stat st;
	char *line, *save = NULL;
	int r;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	r = read_small_file(path, buf, sizeof(buf));
	if (r) {
		snprintf(why, whylen, "%s: %s", path, strerror(-r));
		return r;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "0::", 3))
			break;
	if (!line || line[3] != '/' || strlen(line + 3) >= len) {
		snprintf(why, whylen, "%s has no cgroup v2 path", path);
		return -ENOENT;
	}
	snprintf(abs, sizeof(abs), "%s%s", d->cg_mount, line + 3);
	if (stat(abs, &st) < 0 || (uint64_t)st.st_ino != cgroup_id) {
		snprintf(why, whylen, "pid %u is in %s now, not the socket's cgroup %llu", pid, line + 3,
			 (unsigned long long)cgroup_id);
		return -ESRCH;
	}
	copy_str(out, len, line + 3);
	return 0;
}

static int ct_fw_open(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		      unsigned npins, uint64_t timeout_ms, char *why, size_t whylen)
{
	return fw_container_open(d->fw, el, nel, pins, npins, timeout_ms, why, whylen);
}

static int ct_fw_close(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		       unsigned npins)
{
	return fw_container_close(d->fw, el, nel, pins, npins);
}

static int ct_container_named(struct ph_daemon *d, const struct ph_designation *des, const char *cgroup, char *why,
			      size_t whylen)
{
	return engine_container_named(&d->cfg, des, cgroup, why, whylen);
}

const struct ph_container_ops container_ops_live = {
	.log = ct_log,
	.now = ct_now,
	.timer_arm = ct_timer_arm,
	.cgroup_path = ct_cgroup_path,
	.resolve = netns_resolve,
	.fw_open = ct_fw_open,
	.fw_close = ct_fw_close,
	.proc_exe = proc_exe,
	.container_named = ct_container_named,
	.record_open = record_container_open,
	.record_close = record_container_close,
	.ids_save = ids_save,
	.metrics = metrics_write,
	.listeners = census_proc_listeners,
};
