// SPDX-License-Identifier: GPL-2.0-or-later
/* The config's cgroup designations (`designate = unit X`, `cgroup PATH`):
 * a unit's cgroup exists only while the unit runs, so its parent directory
 * is watched with inotify and the kernel's designated-cgroup map follows the
 * cgroup as it appears and goes (a certbot.service started by its timer).
 * The cgroup is read, never written. uid and exe designations need no
 * following: the loader put them in the kernel's maps at start. */
#include "daemon.h"
#include "log.h"
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

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

	snprintf(abs, sizeof(abs), "%s%s", d->cg_mount, des->cgroup);
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode))
		id = (uint64_t)st.st_ino;
	if (id == d->des[i].cgid)
		return;
	if (d->des[i].cgid)
		watch_designate_cgroup(d->watch, d->des[i].cgid, d->des_marks[i], 0);
	d->des[i].cgid = id;
	if (id) {
		int r = watch_designate_cgroup(d->watch, id, d->des_marks[i], 1);
		if (r)
			log_errno(r, "watch: cannot designate cgroup %s", des->cgroup);
		else
			log_info("watch: cgroup %s exists: its processes are designated (config line %u)", des->cgroup,
				 des->line);
	} else {
		log_info("watch: cgroup %s is gone", des->cgroup);
	}
}

void designations_watch(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		char parent[PATH_MAX + 300], *sl;

		d->des[i].wd = -1;
		d->des[i].cgid = 0;
		if (des->type != DES_UNIT && des->type != DES_CGROUP)
			continue;
		snprintf(parent, sizeof(parent), "%s%s", d->cg_mount, des->cgroup);
		sl = strrchr(parent, '/');
		if (sl)
			*sl = '\0';
		d->des[i].wd = inotify_add_watch(d->inofd, parent,
						 IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
		if (d->des[i].wd < 0)
			log_warn("watch: config line %u: %s does not exist; %s %s cannot be designated until it does and "
				 "portholed restarts",
				 des->line, parent, des_type_name(des->type), des->arg);
		des_refresh(d, i);
	}
}

void designations_on_inotify(struct ph_daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(d->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (unsigned i = 0; i < d->cfg.ndes; i++) {
				/* lost events: look at every designation again */
				if (ev->mask & IN_Q_OVERFLOW) {
					des_refresh(d, i);
					continue;
				}
				if (d->des[i].wd < 0 || d->des[i].wd != ev->wd)
					continue;
				if (ev->len && strcmp(ev->name, base_name(d->cfg.des[i].cgroup)))
					continue;
				des_refresh(d, i);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}
