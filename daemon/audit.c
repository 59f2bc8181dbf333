// SPDX-License-Identifier: GPL-2.0-or-later
/* Audit log (see audit.h). */
#include "audit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCAN_TAIL (16 * 1024 * 1024)

static int mkdir_p_parent(const char *path)
{
	char dir[256];
	char *p;

	if (copy_str(dir, sizeof(dir), path))
		return -ENAMETOOLONG;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_file(struct ph_audit *a)
{
	struct stat st;
	char last;
	int fd, r;

	r = mkdir_p_parent(a->path);
	if (r)
		return r;
	fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	/* fence off a torn last record so the next one starts on its own line */
	if (st.st_size > 0) {
		int rfd = open(a->path, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0) {
			if (pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n' && write(fd, "\n", 1) != 1)
				r = -EIO;
			close(rfd);
		}
	}
	if (r) {
		close(fd);
		return r;
	}
	a->fd = fd;
	return 0;
}

int audit_open(struct ph_audit *a, const char *path)
{
	a->fd = -1;
	if (copy_str(a->path, sizeof(a->path), path))
		return -ENAMETOOLONG;
	return open_file(a);
}

int audit_reopen(struct ph_audit *a)
{
	int old = a->fd, r;

	r = open_file(a);
	if (r) {
		a->fd = old; /* keep writing where we could */
		return r;
	}
	if (old >= 0)
		close(old);
	return 0;
}

int audit_append(struct ph_audit *a, const char *json, size_t len)
{
	char *line;
	ssize_t n;
	int r = 0;

	if (a->fd < 0)
		return -EBADF;
	line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	memcpy(line, json, len);
	line[len] = '\n';
	/* one write: O_APPEND keeps the record whole against other writers */
	n = write(a->fd, line, len + 1);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len + 1)
		r = -EIO;
	free(line);
	if (!r && fdatasync(a->fd) < 0)
		r = -errno;
	return r;
}

void audit_close(struct ph_audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

/* ---- recovery scan -------------------------------------------------------------- */

static int line_window_id(const char *line, uint64_t *id)
{
	const char *p = strstr(line, "\"window\":");

	if (!p)
		return -ENOENT;
	p += 9;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	*id = strtoull(p, NULL, 10);
	return 0;
}

int audit_scan(const char *path, uint64_t *max_id, uint64_t *open_ids, unsigned max_open, unsigned *nopen)
{
	struct stat st;
	char *buf, *line, *save = NULL;
	off_t off = 0;
	size_t len;
	ssize_t n;
	int fd;

	*max_id = 0;
	*nopen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	if (st.st_size > SCAN_TAIL)
		off = st.st_size - SCAN_TAIL;
	len = (size_t)(st.st_size - off);
	buf = malloc(len + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, len, off);
	close(fd);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t id;
		size_t l = strlen(line);

		/* only whole records count: a torn line proves nothing */
		if (l < 2 || line[0] != '{' || line[l - 1] != '}' || line_window_id(line, &id))
			continue;
		if (id > *max_id)
			*max_id = id;
		if (strstr(line, "\"event\":\"window-open\"")) {
			if (*nopen < max_open)
				open_ids[(*nopen)++] = id;
		} else if (strstr(line, "\"event\":\"window-close\"")) {
			for (unsigned i = 0; i < *nopen; i++) {
				if (open_ids[i] == id) {
					open_ids[i] = open_ids[--*nopen];
					break;
				}
			}
		}
	}
	free(buf);
	return 0;
}
