/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loader for the kernel programs of windows (bpf/porthole.bpf.c): open the skeleton,
 * set the read-only knobs, load, fill the watched-ports and designation
 * maps, attach through bpf_link (so the programs detach when the daemon
 * dies), and hand each ring buffer event to a callback. Translates the
 * daemon's decisions into maps, nothing more. */
#ifndef PORTHOLE_WATCH_H
#define PORTHOLE_WATCH_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include "porthole.h"

struct ph_watch;
struct ph_config;
typedef void (*watch_cb)(void *ctx, const struct ph_kevent *e);
struct probe_object;

/* The programs' read-only knobs, as the daemon sets them. */
struct watch_knobs {
	uint64_t netns_cookie;          /* our network namespace */
	uint64_t pidns_dev, pidns_ino;  /* our PID namespace */
	uint32_t mark_mask;
};
void watch_knobs_init(struct watch_knobs *k, const struct ph_config *cfg);
/* The object for probe_object() (every program required). */
void watch_probe_object(struct probe_object *o, const struct watch_knobs *k);

/* Probe what we need from the kernel; why explains the first thing missing
 * and what really failed (EPERM: a seccomp filter or a missing capability). */
int watch_supported(char *why, size_t whylen);
/* Load and attach: the tracepoints, and the bind hooks at the cgroup v2 root
 * (cg2_root). des_marks[i]: the window mark of designation i. */
int watch_open(struct ph_watch **out, const struct ph_config *cfg, const uint32_t *des_marks, const char *cg2_root,
	       watch_cb cb, void *ctx, char *why, size_t whylen);
/* Another object's ring buffer, read by the same reader (one epoll fd). */
int watch_add_ring(struct ph_watch *w, int map_fd, int (*fn)(void *ctx, void *data, size_t size), void *ctx);
void watch_close(struct ph_watch *w);
int watch_designate_cgroup(struct ph_watch *w, uint64_t cgid, uint32_t mark, int add);
int watch_designate_exe(struct ph_watch *w, uint64_t dev, uint64_t ino, uint32_t mark, int add);

/* Sessions: tag the process behind pidfd (it must not have forked yet) with
 * mark, its live-task count at 1; end: forget the count, so that nothing
 * more inherits the tag. uid: the session's owner (a non-root session's
 * process whose effective uid is another gets no mark at bind: a setuid
 * binary it executed binds for its owner, not for the session). */
int watch_session_begin(struct ph_watch *w, int pidfd, uint32_t mark, uint32_t uid);
void watch_session_end(struct ph_watch *w, uint32_t mark);
/* A designated process's first window: its tree carries budget from now on
 * (a child that listens again spends the same max_window). -EEXIST: it is
 * tagged already (a session, or an earlier budget). */
int watch_budget_tag(struct ph_watch *w, int pidfd, uint32_t budget);
/* live tagged tasks of a session: >= 0, or -ENOENT */
int64_t watch_session_tasks(struct ph_watch *w, uint32_t mark);

/* Open windows: connections through them are reported. */
int watch_window(struct ph_watch *w, uint32_t mark, uint16_t port, int open);
/* Call cb for every live marked listener the kernel knows of. */
int watch_listeners(struct ph_watch *w, void (*cb)(void *arg, uint64_t cookie, const struct ph_listener *l), void *arg);
/* Events the kernel could not report (ring buffer full), since load. */
uint64_t watch_lost_events(const struct ph_watch *w);
/* Listeners on watched ports in other network namespaces (their events come
 * to the same callback, as the ph_kevent at the head of a ph_kforeign):
 * every one the kernel tracks now; the events of them the kernel could not
 * report; those it could not track (never reported), since load. */
int watch_foreign_listeners(struct ph_watch *w, void (*cb)(void *arg, const struct ph_kforeign *f), void *arg);
uint64_t watch_foreign_lost(const struct ph_watch *w);
/* Track the listeners of other namespaces that were there before the
 * programs (a walk over every task's open files; no event: read them with
 * watch_foreign_listeners after it). */
int watch_foreign_walk(struct ph_watch *w);
uint64_t watch_foreign_untracked(const struct ph_watch *w);
/* of them, of namespaces owned by the initial user namespace */
uint64_t watch_foreign_untracked_init(const struct ph_watch *w);

int watch_fd(const struct ph_watch *w);
/* Drain the ring buffer; returns events handled or -errno. */
int watch_consume(struct ph_watch *w);

#endif
