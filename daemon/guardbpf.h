/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loader of the guard of server windows (bpf/guard.bpf.c), a BPF object of
 * its own: loaded only when the config has a serve line, attached to the
 * cgroup v2 root only while a server window is open. Translates the
 * server module's decisions into the guard's maps, nothing more. Every call
 * takes a NULL guard (not loaded: the kernel rejected it) and then refuses
 * what would open a window (-ENOTSUP) and does nothing else. */
#ifndef PORTHOLE_GUARDBPF_H
#define PORTHOLE_GUARDBPF_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include "guard.h"

struct ph_guardbpf;
struct ph_watch;
struct probe_object;
typedef void (*guard_cb)(void *ctx, const struct ph_guard_event *e);

/* the two mark values of server windows (within the config's mask) */
struct ph_guard_marks {
	uint32_t candidate;  /* a new connection to a served socket (porthole's prerouting) */
	uint32_t guarded;    /* ... that porthole's rule admitted where the host would drop */
};

/* What the guard's knobs are set from (also for probing). */
struct guardbpf_knobs {
	uint64_t netns_cookie;    /* names the pin directory */
	uint8_t guard_dscp;       /* a served container's "guarded" DSCP (0: no container serve line) */
	uint32_t mark_mask;
	struct ph_guard_marks marks;
	uint16_t ports[64];       /* the serve lines' ports */
	unsigned nports;
};

/* Load the guard (not attached); its reports go to cb through w's ring
 * buffer reader. why: which step failed, and the kernel's reason. */
/* The embedded guard object is not needed (no serve line, or loaded):
 * its bytes stop being resident in the daemon. */
void guardbpf_release_object(void);
int guardbpf_open(struct ph_guardbpf **out, const struct guardbpf_knobs *k, const char *cg2_root, struct ph_watch *w,
		  guard_cb cb, void *ctx, char *why, size_t whylen);
void guardbpf_close(struct ph_guardbpf *g);
/* The guard's object for probe_object(). */
void guardbpf_probe_object(struct probe_object *o, const struct guardbpf_knobs *k);

/* attached while a server window is open (outside windows no segment pays
 * for it); pinned in /sys/fs/bpf while attached, so that a killed daemon's
 * guard goes on judging. 1: attached but not pinned (no bpffs). */
int guardbpf_attach(struct ph_guardbpf *g, int on);
/* a served cgroup (flags PH_SRV_*) of serve line index */
int guardbpf_server(struct ph_guardbpf *g, uint64_t cgid, uint32_t index, uint32_t flags, int add);
/* a network namespace (by inode) whose sockets the guard judges: kind
 * PH_GN_DSCP for a served container's (the daemon's own is there from
 * guardbpf_open on, PH_GN_MARK) */
int guardbpf_netns(struct ph_guardbpf *g, uint32_t ino, uint8_t kind, int add);
/* a live token of serve line index */
int guardbpf_token(struct ph_guardbpf *g, uint32_t index, const char *token, int add);
/* the guard's counters per serve line (zero without a guard) */
int guardbpf_stats(struct ph_guardbpf *g, uint32_t index, uint64_t *admitted, uint64_t *dropped);
/* End every connection the guard judged (SOCK_DESTROY) and forget every
 * pending connection attempt: no verdict outlives its window. *ended says
 * how many were ended. An error (-EOPNOTSUPP: the kernel cannot destroy
 * sockets) means some may live on: keep the guard attached. */
int guardbpf_end_connections(struct ph_guardbpf *g, unsigned *ended);
/* At start: a guard a killed daemon left pinned (same network namespace):
 * end the connections it judged, then let it go. Needs no guard loaded. */
int guardbpf_takeover(uint64_t netns_cookie, unsigned *ended);
/* reports the kernel could not make (ring buffer full) */
uint64_t guardbpf_lost(const struct ph_guardbpf *g);

#endif
