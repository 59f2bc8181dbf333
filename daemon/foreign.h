/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Foreign listeners (foreign.c): TCP sockets listening on a watched port in
 * another network namespace than the daemon's (a container's, reached
 * through the host's DNAT), as the kernel reported them and user space
 * confirmed them. The table is foreign.c's own; the container admission
 * (container.c) hears of its changes through foreign_on_change()'s
 * callback and reads it through foreign_get() and foreign_at(). Nothing
 * here opens a window or writes a rule.
 *
 * Each change is said at debug level (portholed -d), one line, key=value:
 *   foreign: listen cookie=C netns=INO netns_cookie=NC userns=INO init_userns=0|1 pid=P uid=U cgroup=ID
 *            family=ipv4|ipv6 addr=A port=N v6only=0|1 verified=0|1
 *   foreign: unlisten cookie=C netns=INO addr=A port=N
 *   foreign: ignored cookie=C netns=INO pid=P port=N: REASON
 *   foreign: unverified cookie=C netns=INO pid=P port=N: REASON   (then its listen line, verified=0)
 * (one line each; addr as inet_ntop writes it, 0.0.0.0 or :: for the wildcard). */
#ifndef PORTHOLE_FOREIGN_H
#define PORTHOLE_FOREIGN_H

#include <stdint.h>
#include "porthole.h"

struct ph_watch;
struct ph_foreign;

struct ph_foreign_listener {
	uint64_t cookie;       /* the socket's (unique while it lives, across namespaces); for
				* one found at start, an id with the top bit set instead
				* (bpf/foreign.bpf.h) */
	uint64_t netns_cookie;
	uint64_t cgroup_id;    /* the socket's cgroup v2 */
	uint64_t since_boot;   /* CLOCK_BOOTTIME of its LISTEN (found at start: of the finding) */
	uint32_t netns_ino;    /* checked against /proc/PID/ns/net when it was reported */
	uint32_t userns_ino;   /* the user namespace owning that network namespace */
	uint32_t pid, uid;     /* the process that listened (found at start: one that holds it) */
	uint16_t family, port;
	uint8_t addr[16];      /* bound address, 4 or 16 bytes by family; zero: wildcard */
	uint8_t v6only;
	uint8_t init_userns;   /* the netns is owned by the initial user namespace
				* (the kernel said so and NS_GET_USERNS agreed) */
	uint8_t verified;      /* 1: pid was still that process, in that namespace,
				* when the report was read. 0: it was not (gone, or
				* moved to another namespace): pid, uid, init_userns
				* mean nothing, while netns, port, address and
				* cgroup (the socket's own, from the kernel) still
				* do — a listener is there, and it must not be
				* forgotten (container windows count it as a stranger
				* on its port; it never gets a window) */
};

/* A change of the table: a listener recorded (listen = 1; also one found
 * rereading the kernel's list after lost events) or about to be dropped
 * (0: its close, reported or found rereading). The callback must not
 * change the table. l == NULL: the table went blind (a listener of a
 * namespace owned by the initial user namespace could not be recorded, by
 * the kernel or here: its list or this table full), and stays so until the
 * daemon restarts (foreign_blind()). */
typedef void (*foreign_change_fn)(void *ctx, const struct ph_foreign_listener *l, int listen);

/* own_netns_ino: the daemon's network namespace (never foreign). */
int foreign_new(struct ph_foreign **out, uint32_t own_netns_ino);
void foreign_free(struct ph_foreign *t);
void foreign_on_change(struct ph_foreign *t, foreign_change_fn fn, void *ctx);
/* A PH_EV_FOREIGN_LISTEN / _UNLISTEN event: checked, recorded, said. */
void foreign_on_event(struct ph_foreign *t, const struct ph_kforeign *e);
/* After a batch of events: if the kernel lost some of them, the table is
 * made the kernel's list again (w: where that list is). */
void foreign_check_lost(struct ph_foreign *t, struct ph_watch *w);
/* At start: the listeners that were there before the kernel programs (the
 * kernel walks every task's open files, then the table is made the
 * kernel's list as after lost events); each found is recorded and said as
 * a listen. */
void foreign_find_existing(struct ph_foreign *t, struct ph_watch *w);

/* Nonzero once a listener of a namespace owned by the initial user
 * namespace could not be recorded: the table may lack a live one. */
int foreign_blind(const struct ph_foreign *t);
/* The listener with that socket cookie, or NULL. */
const struct ph_foreign_listener *foreign_get(const struct ph_foreign *t, uint64_t cookie);
/* Every listener: i from 0 while foreign_at() is not NULL (an order of no meaning). */
const struct ph_foreign_listener *foreign_at(const struct ph_foreign *t, unsigned i);

#endif
