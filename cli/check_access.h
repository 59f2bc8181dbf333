/* SPDX-License-Identifier: GPL-2.0-or-later */
/* porthole check: what the daemon's user may read (see check_access.c). */
#ifndef PH_CHECK_ACCESS_H
#define PH_CHECK_ACCESS_H

#include <stddef.h>

#define PH_DAEMON_USER "porthole" /* portholed.service: User= */

/* 1: the daemon may search and read PATH; 0: it may not; negative errno:
 * cannot tell (not run as root). *who: "user porthole", or "root" when no
 * such user exists (the daemon is then run by hand, as root). */
int daemon_may_read(const char *path, char *who, size_t wholen);

#endif
