/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup v2 paths shared by the daemon and the CLI: where the v2 hierarchy
 * is mounted (read from /proc/self/mountinfo, never hard-coded: it is
 * /sys/fs/cgroup on most hosts, /sys/fs/cgroup/unified in a hybrid layout)
 * and which cgroup a process is in. */
#ifndef PORTHOLE_CGROUP_H
#define PORTHOLE_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* The cgroup v2 mount point: 0, or -ENOENT when there is none. */
int cg_find_mount(char *mount, size_t len);
/* Path of the cgroup of a process, relative to the mount ("/a/b"). */
int cg_of_pid(pid_t pid, char *rel, size_t len);

#endif
