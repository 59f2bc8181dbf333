// SPDX-License-Identifier: GPL-2.0-or-later
/* The container-window state machine's production seam (container.h's
 * struct ph_container_ops): the firewall (fwcontainer.c), lib/netns's
 * resolver, /proc and the cgroup tree, the audit log
 * (records_container.c), the clock and its timer. main.c wires it; the
 * unit test wires fakes instead. */
#include "cgroup.h"
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

static void ct_timer_arm(struct ph_daemon *d, uint64_t when_boot)
{
	timer_arm_fd(d->ctr_timerfd, when_boot);
}

/* The process's cgroup v2 path (its /proc/PID/cgroup "0::" line), which
 * counts only while that directory's inode is the socket's cgroup id: the
 * process may have moved, or the pid been reused, since it listened. */
static int ct_cgroup_path(struct ph_daemon *d, uint32_t pid, uint64_t cgroup_id, char *out, size_t len, char *why,
			  size_t whylen)
{
	char rel[PH_PATH_LEN], abs[PATH_MAX + PH_PATH_LEN];
	struct stat st;
	int r = cg_of_pid((pid_t)pid, rel, sizeof(rel));

	if (r == -ENOENT || (!r && (rel[0] != '/' || strlen(rel) >= len))) {
		snprintf(why, whylen, "/proc/%u/cgroup has no cgroup v2 path", pid);
		return -ENOENT;
	}
	if (r) {
		snprintf(why, whylen, "/proc/%u/cgroup: %s", pid, strerror(-r));
		return r;
	}
	snprintf(abs, sizeof(abs), "%s%s", d->cg_mount, rel);
	if (stat(abs, &st) < 0 || (uint64_t)st.st_ino != cgroup_id) {
		snprintf(why, whylen, "pid %u is in %s now, not the socket's cgroup %llu", pid, rel,
			 (unsigned long long)cgroup_id);
		return -ESRCH;
	}
	copy_str(out, len, rel);
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
	.now = clock_now,
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
