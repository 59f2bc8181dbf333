/* SPDX-License-Identifier: GPL-2.0-or-later */
/* porthole check: who the daemon is and what it may read (see check_access.c). */
#ifndef PH_CHECK_ACCESS_H
#define PH_CHECK_ACCESS_H

#include <stddef.h>
#include <sys/types.h>

#define PH_DAEMON_USER "porthole" /* portholed.service: User= */

/* The daemon answering on the control socket fd: remember its pid (from
 * SO_PEERCRED), and say who it is ("user porthole (uid 994), capabilities
 * CAP_NET_ADMIN ..."); 0, or negative errno. */
int daemon_identify(int fd, char *who, size_t wholen);

/* 1: the daemon may search and read each of the n directories paths (a
 * path and the levels below it, in order, asked of one child); 0: it may not
 * read paths[*first], the first such; negative errno: cannot tell. *who: who
 * it was asked as ("user porthole (uid 994)", "root", "the daemon, with
 * CAP_DAC_READ_SEARCH"). The running daemon when daemon_identify found one,
 * else the unit's user when it exists, else root (run by hand). */
int daemon_may_read(const char *const *paths, unsigned n, unsigned *first, char *who, size_t wholen);

#endif
