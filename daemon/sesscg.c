/* Session cgroups (see sesscg.h). */
#include "sesscg.h"
#include "cgroup.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned path_level(const char *rel)
{
	unsigned level = 0;

	for (const char *p = rel; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

int cg_init(struct ph_cgroups *cg)
{
	char own[PATH_MAX], abs[PATH_MAX * 2];
	int r;

	r = cg_find_mount(cg->mount, sizeof(cg->mount));
	if (r)
		return r;
	r = cg_of_pid(getpid(), own, sizeof(own));
	if (r)
		return r;
	if (!strcmp(own, "/"))
		own[0] = '\0';
	if ((size_t)snprintf(cg->base_rel, sizeof(cg->base_rel), "%s/%s", own, PH_CGROUP_BASE_NAME) >=
	    sizeof(cg->base_rel))
		return -ENAMETOOLONG;
	cg->base_level = path_level(cg->base_rel);
	snprintf(abs, sizeof(abs), "%s%s", cg->mount, cg->base_rel);
	if (mkdir(abs, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cg_session_create(const struct ph_cgroups *cg, uint64_t session_id, char *rel, size_t rellen,
		      char *abs, size_t abslen, uint64_t *cgid)
{
	struct stat st;

	if ((size_t)snprintf(rel, rellen, "%s/s%llu", cg->base_rel, (unsigned long long)session_id) >= rellen)
		return -ENAMETOOLONG;
	if ((size_t)snprintf(abs, abslen, "%s%s", cg->mount, rel) >= abslen)
		return -ENAMETOOLONG;
	if (mkdir(abs, 0755) < 0)
		return -errno;
	if (stat(abs, &st) < 0) {
		int err = -errno;
		rmdir(abs);
		return err;
	}
	*cgid = (uint64_t)st.st_ino;
	return 0;
}

int cg_move_pid(const char *abs, pid_t pid)
{
	char path[PATH_MAX + 32], val[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", abs);
	snprintf(val, sizeof(val), "%d\n", (int)pid);
	return write_small_file(path, val);
}

int cg_populated(const char *abs)
{
	char path[PATH_MAX + 32], buf[512], *p;
	int r;

	snprintf(path, sizeof(path), "%s/cgroup.events", abs);
	r = read_small_file(path, buf, sizeof(buf));
	if (r)
		return r;
	p = strstr(buf, "populated ");
	if (!p)
		return -EIO;
	return p[10] == '1';
}

int cg_remove(const char *abs)
{
	if (rmdir(abs) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cg_base_remove(const struct ph_cgroups *cg)
{
	char base[PATH_MAX * 2 + 1];

	snprintf(base, sizeof(base), "%s%s", cg->mount, cg->base_rel);
	return rmdir(base) < 0 && errno != ENOENT ? -errno : 0;
}

int cg_list_sessions(const struct ph_cgroups *cg, void (*cb)(void *arg, uint64_t id), void *arg)
{
	char base[PATH_MAX * 2 + 1];
	struct dirent *de;
	DIR *d;

	snprintf(base, sizeof(base), "%s%s", cg->mount, cg->base_rel);
	d = opendir(base);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t id;
		if (de->d_type != DT_DIR || de->d_name[0] != 's' || parse_u64(de->d_name + 1, 1, UINT64_MAX, &id))
			continue;
		cb(arg, id);
	}
	closedir(d);
	return 0;
}
