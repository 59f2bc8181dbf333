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
int watch_open(struct ph_watch **out, const uint16_t *ports, unsigned nports,
	       uint32_t session_level, watch_cb cb, void *ctx);
int watch_fd(const struct ph_watch *w);
/* Drain the ring buffer; returns events handled or -errno. */
int watch_consume(struct ph_watch *w);
void watch_close(struct ph_watch *w);
unsigned watch_prog_count(const struct ph_watch *w);

#endif
