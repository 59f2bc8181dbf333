/* Loader for the kernel programs (bpf/porthole.bpf.c): open the skeleton,
 * set the read-only knobs, load, fill the watched-ports map, attach through
 * bpf_link (so the programs detach when the daemon dies), and hand each ring
 * buffer event to a callback. Translates config into maps, nothing more. */
#ifndef PORTHOLE_WATCH_H
#define PORTHOLE_WATCH_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include "porthole.h"

struct ph_watch;
typedef void (*watch_cb)(void *ctx, const struct ph_kevent *e);

/* Probe what we need from the kernel; why explains the first thing missing. */
int watch_supported(char *why, size_t whylen);
struct ph_config;
/* Load and attach. With designations in cfg, the bind hooks are attached to
 * the cgroup v2 root (cg2_root) and the uid/exe maps filled; cgroup
 * designations are added with watch_designate_cgroup() as the cgroups appear. */
int watch_open(struct ph_watch **out, const struct ph_config *cfg, const char *cg2_root,
	       uint32_t session_level, watch_cb cb, void *ctx);
int watch_designate_cgroup(struct ph_watch *w, uint64_t cgid, uint32_t des_index, int add);
/* Tell the kernel which windows are open, so that it reports connections
 * through them only: a session cgroup, or a port of watch-mode windows. */
int watch_window_cgroup(struct ph_watch *w, uint64_t cgid, int open);
int watch_window_mark_port(struct ph_watch *w, uint16_t port, int open);
int watch_fd(const struct ph_watch *w);
/* Drain the ring buffer; returns events handled or -errno. */
int watch_consume(struct ph_watch *w);
void watch_close(struct ph_watch *w);
unsigned watch_prog_count(const struct ph_watch *w);

#endif
