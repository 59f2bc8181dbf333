/* cgroup v2 plumbing for sessions: find the v2 mount (from mountinfo, never
 * hard-coded), keep session cgroups in one base directory below the daemon's
 * own cgroup, create/move/inspect/remove them. A cgroup's id is the inode
 * number of its directory, which is what `socket cgroupv2` compares. */
#ifndef PORTHOLE_SESSCG_H
#define PORTHOLE_SESSCG_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "cgroup.h"

#define PH_CGROUP_BASE_NAME "porthole"

struct ph_cgroups {
	char mount[PATH_MAX];    /* e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified */
	char base_rel[PATH_MAX]; /* base dir relative to the mount, e.g. /porthole */
	unsigned base_level;     /* depth of base_rel below the root */
};

/* Find the mount and create the base directory below our own cgroup. */
int cg_init(struct ph_cgroups *cg);
/* Create base/s<id>; fills rel path (relative to mount), absolute path, id. */
int cg_session_create(const struct ph_cgroups *cg, uint64_t session_id, char *rel, size_t rellen,
		      char *abs, size_t abslen, uint64_t *cgid);
int cg_move_pid(const char *abs, pid_t pid);
/* 1 if any process is in the cgroup or below, 0 if empty, or -errno. */
int cg_populated(const char *abs);
int cg_remove(const char *abs);
/* Call cb for every session directory (s<id>) left in base. */
int cg_list_sessions(const struct ph_cgroups *cg, void (*cb)(void *arg, uint64_t id), void *arg);
/* Remove the base directory if it is empty (daemon shutdown). */
int cg_base_remove(const struct ph_cgroups *cg);

#endif
