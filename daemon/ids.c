// SPDX-License-Identifier: GPL-2.0-or-later
/* The id state file: the last window id, kept beside the audit log's own
 * record of it, so that ids stay unique when the log has been rotated
 * away. Written whole to a temporary file and renamed into place. */
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t ids_load(const char *path)
{
	char buf[64];
	uint64_t v = 0;

	if (read_small_file(path, buf, sizeof(buf)) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		if (parse_u64(buf, 0, UINT64_MAX / 2, &v))
			v = 0;
	}
	return v;
}

void ids_save(struct ph_daemon *d)
{
	char tmp[PATH_MAX + 8], buf[32];
	int fd;

	if (!d->state_path[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s", d->state_path);
	if (strrchr(tmp, '/') && strrchr(tmp, '/') != tmp) {
		*strrchr(tmp, '/') = '\0';
		mkdir(tmp, 0755); /* StateDirectory= makes it under systemd */
	}
	snprintf(tmp, sizeof(tmp), "%s.new", d->state_path);
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)(d->next_window_id - 1));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) || fsync(fd) < 0 || rename(tmp, d->state_path) < 0)
		log_errno(-errno, "state: cannot write %s", d->state_path);
	if (fd >= 0)
		close(fd);
}
