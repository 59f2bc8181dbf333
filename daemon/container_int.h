/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside the container-window module (container.c, container_books.c):
 * its state and the books of the elements and pins its windows hold in
 * the kernel. Nothing else includes this. */
#ifndef PORTHOLE_CONTAINER_INT_H
#define PORTHOLE_CONTAINER_INT_H
#include "container.h"
#include "log.h"

#define MAX_WIN_ELEMS (NETNS_MAX_TARGETS * PH_MAX_PORTS)

/* refs 0: no window holds it any more but its delete failed; it is in the
 * kernel until deadline_boot (its timeout), shared by a window that needs
 * it meanwhile, and deleted again with the next window's close */
struct refelem {
	struct nr_cwin e;
	int pin;                /* a cwpin (pport unused), else a cwin element */
	unsigned refs;
	uint64_t deadline_boot; /* its kernel timeout */
};

struct ph_containers {
	const struct ph_container_ops *ops;
	struct ph_cwin *wins;
	struct refelem *el;
	unsigned nel, cap;
};

#define clog(c, prio, ...) log_to((c)->ops->log, (prio), __VA_ARGS__)

/* Add w's elements and pins: those in the books are shared (and cap its
 * deadline); the rest go to the kernel in one batch. 0 and the books
 * updated, or -errno (why) and nothing changed. */
int books_take(struct ph_daemon *d, struct ph_cwin *w, char *why, size_t whylen);
/* Give w's references back; what no window holds leaves the kernel (with
 * what an earlier delete left: fw_close once, as for every window) */
void books_drop(struct ph_daemon *d, const struct ph_cwin *w);
#endif
