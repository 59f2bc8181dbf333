// SPDX-License-Identifier: GPL-2.0-or-later
/* cgroup v2 paths (see cgroup.h). */
#include "cgroup.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* mountinfo escapes blanks as \040 and so on */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

int cg_find_mount(char *mount, size_t len)
{
	char line[4096];
	FILE *f;
	int err = -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char mp[PATH_MAX], fstype[64];

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		unescape(mp);
		err = copy_str(mount, len, mp);
		break;
	}
	fclose(f);
	return err;
}

int cg_of_pid(pid_t pid, char *rel, size_t len)
{
	char path[64], buf[8192], *p, *save = NULL;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	r = read_small_file(path, buf, sizeof(buf));
	if (r)
		return r;
	for (p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		if (!strncmp(p, "0::", 3))
			return copy_str(rel, len, p + 3);
	return -ENOENT;
}
