/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A guarded server window to a web server in a container (container_serve.c):
 * what a `serve = container ENGINE:NAME` line gives server.c, through ops.c,
 * in place of a served cgroup's. i is the serve line's index. */
#ifndef PORTHOLE_CONTAINER_SERVE_H
#define PORTHOLE_CONTAINER_SERVE_H
#include <stddef.h>
#include <stdint.h>

struct ph_daemon;
struct ph_foreign_listener;
struct jbuf;

/* foreign.c's change callback (through container_on_foreign): the
 * container's listener found, or gone (its window closes), or blind (NULL) */
void csrv_on_foreign(struct ph_daemon *d, const struct ph_foreign_listener *l, int listen);
/* the listener's socket cgroup (0: none known), whether one is known */
uint64_t csrv_cgroup_id(struct ph_daemon *d, unsigned i);
int csrv_running(struct ph_daemon *d, unsigned i);
int csrv_listens(struct ph_daemon *d, unsigned i, char *err, size_t errlen);
/* the window's csrv elements of one port, and the guard told its namespace */
int csrv_fw_open(struct ph_daemon *d, unsigned i, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen);
void csrv_fw_close(struct ph_daemon *d, unsigned i, uint16_t port);
void csrv_free(struct ph_daemon *d);
/* the audit record's container fields of line i's window (records_server.c):
 * the listener (pid, socket cgroup id, netns, container port) and the
 * csrv elements (addr, bridge, port) */
void csrv_record_fields(const struct ph_daemon *d, unsigned i, struct jbuf *b);

#endif
