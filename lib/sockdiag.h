/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The porthole marks that TCP sockets on the watched ports already carry,
 * read from the kernel (NETLINK_SOCK_DIAG; the mark needs CAP_NET_ADMIN).
 * A daemon that starts after another one died finds the old sessions'
 * sockets still marked: those values are not given to new sessions, or an
 * old listener could ride a new session's window. */
#ifndef PORTHOLE_SOCKDIAG_H
#define PORTHOLE_SOCKDIAG_H

#include <stdint.h>

int sockdiag_marks(const uint16_t *ports, unsigned nports, uint32_t mask, uint32_t *marks, unsigned max, unsigned *n);

#endif
