/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `porthole run --container ENGINE:NAME -- CMD` (issue 23, root only): for
 * the life of CMD's session, a temporary `designate = container
 * ENGINE:NAME` line, matched exactly as one of the config's (engine_read.c:
 * the engine's root-owned state, the listener's cgroup) after the config's
 * own lines. Its published ports are the session's (--port, else the
 * config's `ports`), its max_window the session's (--max-window, else the
 * config's). Its designation index (struct ph_cwin's des_index) is
 * PH_CRUN_BASE + its slot: never a config line's. When the session ends,
 * the windows its designation opened close (container_end, reason exited) and the slot
 * is free. The table is container_run.c's own; it exists while a slot is in
 * use (the last one's end frees it). */
#ifndef PORTHOLE_CONTAINER_RUN_H
#define PORTHOLE_CONTAINER_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

struct ph_daemon;
struct ph_container_ops;

#define PH_CRUN_MAX  8
#define PH_CRUN_BASE PH_MAX_DESIGNATIONS

/* May a session designate spec ("docker:NAME", "podman:NAME") now? 0, or
 * -errno and why (one line): no published designation in the config (the
 * firewall has no container objects), a session of that name runs already,
 * the table is full. */
int crun_check(const struct ph_daemon *d, const char *spec, char *why, size_t whylen);
/* the temporary designation of session session_id (its ports, nports 0:
 * the config's; its max_window); 0 or -errno and why */
int crun_begin(struct ph_daemon *d, uint64_t session_id, const char *spec, const uint16_t *ports, unsigned nports,
	       uint32_t max_window, char *why, size_t whylen);
/* the session ended: its designation's windows close, its slot is free */
void crun_end(struct ph_daemon *d, uint64_t session_id);
/* container.c's hook, after the config's lines (designation_of, only
 * when the engine's state may be read), with its convention: >= 0 the
 * index of the temporary designation whose engine state names the
 * container of cgroup; -1 none (why: appended, what each found); -2
 * refused (why appended; fail closed) */
int crun_designation_of(struct ph_daemon *d, const struct ph_container_ops *ops, const char *cgroup, char *why,
			size_t whylen);
/* the designation of des_index i: a config line's, else a temporary one's
 * (a slot no longer in use: an inert placeholder, type DES_CONTAINER) */
const struct ph_designation *designation_at(const struct ph_daemon *d, unsigned i);

#endif
