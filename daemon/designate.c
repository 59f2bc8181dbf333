// SPDX-License-Identifier: GPL-2.0-or-later
/* The config's designations that move:
 * - `designate = unit X` / `cgroup PATH`: a unit's cgroup exists only while
 *   the unit runs, so its parent directory is watched with inotify and the
 *   kernel's designated-cgroup map follows the cgroup as it appears and
 *   goes (a certbot.service started by its timer). Read, never written.
 * - `designate = exe PATH`: the kernel knows the file by device and inode.
 *   A package upgrade replaces the file: the directory is watched and the
 *   map follows the new inode; the old one is held open (O_PATH) while it
 *   is designated, so its inode number cannot be given to another file.
 * uid designations need no following. */
#include "daemon.h"
#include "log.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

static uint64_t kdev(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev); /* the kernel's s_dev */
}

static void exe_refresh(struct ph_daemon *d, unsigned i)
{
	const struct ph_designation *des = &d->cfg.des[i];
	struct stat st;
	int fd = open(des->arg, O_PATH | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0 && kdev(st.st_dev) == d->des[i].dev && st.st_ino == d->des[i].ino) {
		if (d->des[i].exe_fd < 0)
			d->des[i].exe_fd = fd; /* the first look: hold it from now on */
		else
			close(fd);
		return; /* unchanged */
	}
	if (d->des[i].ino) {
		watch_designate_exe(d->watch, d->des[i].dev, d->des[i].ino, d->des_marks[i], 0);
		d->des[i].dev = d->des[i].ino = 0;
	}
	if (d->des[i].exe_fd >= 0)
		close(d->des[i].exe_fd);
	d->des[i].exe_fd = -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_notice("watch: %s is gone; not designated until it is back (config line %u)", des->arg, des->line);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warn("watch: %s was replaced by a file that is not root-owned and closed to group and others; not "
			 "designated (config line %u)", des->arg, des->line);
		close(fd);
		return;
	}
	d->des[i].exe_fd = fd;
	d->des[i].dev = kdev(st.st_dev);
	d->des[i].ino = st.st_ino;
	if (watch_designate_exe(d->watch, d->des[i].dev, d->des[i].ino, d->des_marks[i], 1))
		log_err("watch: cannot designate %s", des->arg);
	else
		log_notice("watch: %s is now inode %llu: designated (config line %u)", des->arg,
			   (unsigned long long)st.st_ino, des->line);
}

static void exe_watch(struct ph_daemon *d, unsigned i)
{
	const struct ph_designation *des = &d->cfg.des[i];
	char dir[PATH_MAX], *sl;

	/* what the loader put in the map at start, held open from now on */
	d->des[i].dev = des->dev;
	d->des[i].ino = des->ino;
	d->des[i].exe_fd = -1;
	if (realpath(des->arg, dir) == NULL)
		copy_str(dir, sizeof(dir), des->arg);
	sl = strrchr(dir, '/');
	if (sl == dir)
		dir[1] = '\0';
	else if (sl)
		*sl = '\0';
	d->des[i].wd = inotify_add_watch(d->inofd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
					 IN_ATTRIB | IN_CLOSE_WRITE | IN_ONLYDIR | IN_MASK_ADD);
	if (d->des[i].wd < 0)
		log_warn("watch: cannot follow %s for upgrades: %s", dir, strerror(errno));
	exe_refresh(d, i);
}

void designations_watch(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		const struct ph_designation *des = &d->cfg.des[i];
		char parent[PATH_MAX + 300], *sl;

		char warn[300];

		d->des[i].wd = -1;
		d->des[i].cgid = 0;
		d->des[i].exe_fd = -1;
		if (config_designation_warning(des, warn, sizeof(warn)))
			log_warn("watch: config line %u: %s", des->line, warn);
		if (des->type == DES_EXE)
			exe_watch(d, i);
		if (des->type != DES_UNIT && des->type != DES_CGROUP)
			continue;
		snprintf(parent, sizeof(parent), "%s%s", d->cg_mount, des->cgroup);
		sl = strrchr(parent, '/');
		if (sl)
			*sl = '\0';
		d->des[i].wd = inotify_add_watch(d->inofd, parent,
						 IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR | IN_MASK_ADD);
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
				int exe = d->cfg.des[i].type == DES_EXE;
				if (ev->mask & IN_Q_OVERFLOW) {
					if (exe)
						exe_refresh(d, i);
					else if (d->cfg.des[i].type != DES_UID)
						des_refresh(d, i);
					continue;
				}
				if (d->des[i].wd < 0 || d->des[i].wd != ev->wd)
					continue;
				if (exe) {
					exe_refresh(d, i); /* any change in its directory: look again */
					continue;
				}
				if (ev->len && strcmp(ev->name, base_name(d->cfg.des[i].cgroup)))
					continue;
				des_refresh(d, i);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

void designations_release(struct ph_daemon *d)
{
	for (unsigned i = 0; i < d->cfg.ndes; i++) {
		if (d->cfg.des[i].type == DES_EXE && d->des[i].exe_fd >= 0)
			close(d->des[i].exe_fd);
		d->des[i].exe_fd = -1;
	}
}
