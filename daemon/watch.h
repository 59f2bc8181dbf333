/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loader for the kernel programs (bpf/porthole.bpf.c): open the skeleton,
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
typedef void (*guard_cb)(void *ctx, const struct ph_guard_event *e);

/* the two mark values of server windows (within the config's mask) */
struct ph_guard_marks {
	uint32_t candidate;  /* a new connection to a served socket (porthole's prerouting) */
	uint32_t guarded;    /* ... that porthole's rule admitted where the host would drop */
};

/* Probe what we need from the kernel; why explains the first thing missing
 * and what really failed (EPERM: a seccomp filter or a missing capability). */
int watch_supported(char *why, size_t whylen);
/* Load and attach: the tracepoints, and the bind hooks at the cgroup v2 root
 * (cg2_root). des_marks[i]: the window mark of designation i. gm: the guard
 * of server windows too, loaded (attached by watch_guard_attach; NULL: no
 * serve lines, no guard). */
int watch_open(struct ph_watch **out, const struct ph_config *cfg, const uint32_t *des_marks, const char *cg2_root,
	       const struct ph_guard_marks *gm, watch_cb cb, guard_cb gcb, void *ctx, char *why, size_t whylen);
void watch_close(struct ph_watch *w);
int watch_designate_cgroup(struct ph_watch *w, uint64_t cgid, uint32_t mark, int add);
int watch_designate_exe(struct ph_watch *w, uint64_t dev, uint64_t ino, uint32_t mark, int add);

/* Sessions: tag the process behind pidfd (it must not have forked yet) with
 * mark, its live-task count at 1; end: forget the count, so that nothing
 * more inherits the tag. */
int watch_session_begin(struct ph_watch *w, int pidfd, uint32_t mark);
void watch_session_end(struct ph_watch *w, uint32_t mark);
/* live tagged tasks of a session: >= 0, or -ENOENT */
int64_t watch_session_tasks(struct ph_watch *w, uint32_t mark);

/* Open windows: connections through them are reported. */
int watch_window(struct ph_watch *w, uint32_t mark, uint16_t port, int open);
/* Call cb for every live marked listener the kernel knows of. */
int watch_listeners(struct ph_watch *w, void (*cb)(void *arg, uint64_t cookie, const struct ph_listener *l), void *arg);
/* Server windows: a served cgroup (flags PH_SRV_*), a live token of serve
 * line index, the guard's counters per serve line, its lost reports. */
int watch_guard_server(struct ph_watch *w, uint64_t cgid, uint32_t index, uint32_t flags, int add);
/* The guard at the cgroup v2 root: attached while a server window is open
 * (outside windows no segment pays for it). */
int watch_guard_attach(struct ph_watch *w, int on);
int watch_guard_token(struct ph_watch *w, uint32_t index, const char *token, int add);
int watch_guard_stats(struct ph_watch *w, uint32_t index, uint64_t *admitted, uint64_t *dropped);
uint64_t watch_guard_lost(const struct ph_watch *w);

/* Events the kernel could not report (ring buffer full), since load. */
uint64_t watch_lost_events(const struct ph_watch *w);

int watch_fd(const struct ph_watch *w);
/* Drain the ring buffer; returns events handled or -errno. */
int watch_consume(struct ph_watch *w);

#endif
