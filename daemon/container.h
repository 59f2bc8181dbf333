/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Container windows (container.c; issue 23, docs/design/containers.md):
 * a listener in a container's network namespace (foreign.c records it),
 * whose socket's cgroup lies at or below a `designate = unit|cgroup ...
 * published` line's cgroup, or is the cgroup of the container a
 * `designate = container ENGINE:NAME` line names (the engine's root-owned
 * state says so: engine_read.c), and whose namespace the initial user namespace
 * owns, gets a window through the host's DNAT: for each DNAT target of its
 * namespace (lib/netns.h: container address, host bridge, bridge port) and
 * each published port P of the designation (its ports, else the global
 * ones; the listener's own port is the container port), one cwin element
 * (bridge, address, container port, P), and one pin (address, bridge port,
 * container port) per target, all in one batch, with the window's deadline
 * as the kernel's timeout (lib/nftcontainer.h). Elements and pins are
 * refcounted: a second listener that needs one already there shares it
 * (and its deadline, never a later one). The window closes when its
 * listener does, at its deadline, and at shutdown. A window admits to an
 * address and port, not a socket: every listener on that port in that
 * namespace must be known, by foreign.c and, counted in the kernel's own
 * list, by the census (container_census.c).
 *
 * Its state is container.c's own; it reaches out through struct
 * ph_container_ops only (production: ops_container.c; a unit test fakes it:
 * tests/unit/test_container.c). */
#ifndef PORTHOLE_CONTAINER_H
#define PORTHOLE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "config.h"
#include "netns.h"
#include "nftcontainer.h"
#include "porthole.h"
#include "proto.h"

struct ph_daemon;
struct ph_foreign_listener;

/* one container window: one listener's */
struct ph_cwin {
	uint64_t id;
	uint64_t cookie;          /* the listener's socket */
	unsigned des_index;       /* its `published` designation */
	uint32_t pid, uid;
	uint32_t netns_ino;
	uint16_t family;          /* of the listener */
	uint16_t cport;           /* the listener's (container) port */
	uint16_t pports[PH_MAX_PORTS]; /* the published ports */
	unsigned npports;
	char exe[PH_EXE_LEN];
	char cgroup[PH_PATH_LEN]; /* the socket's cgroup, relative to the cgroup2 mount */
	struct netns_target t[NETNS_MAX_TARGETS];
	unsigned nt;
	uint64_t opened_boot, opened_real, deadline_boot, deadline_real;
	struct ph_cwin *next;
};

/* Every call the container state machine makes outward. */
struct ph_container_ops {
	void (*log)(int prio, const char *msg);  /* (log.h's log_to formats) */
	uint64_t (*now)(clockid_t clk);
	/* the deadline timer: fire at when_boot (CLOCK_BOOTTIME), 0: disarm */
	void (*timer_arm)(struct ph_daemon *d, uint64_t when_boot);
	/* the socket's cgroup path (relative to the cgroup2 mount) from
	 * /proc/PID/cgroup, confirmed by the inode of that directory being
	 * cgroup_id: 0, or -errno and why */
	int (*cgroup_path)(struct ph_daemon *d, uint32_t pid, uint64_t cgroup_id, char *out, size_t len, char *why,
			   size_t whylen);
	/* lib/netns.h's netns_resolve */
	int (*resolve)(pid_t pid, uint64_t netns_ino, const struct netns_addr *bound, int v6only,
		       struct netns_view *out, char *why, size_t whylen);
	/* the firewall (firewall.h): add these elements and pins in one batch,
	 * or delete them (a window counts for the host rules) */
	int (*fw_open)(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		       unsigned npins, uint64_t timeout_ms, char *why, size_t whylen);
	int (*fw_close)(struct ph_daemon *d, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
			unsigned npins);
	void (*proc_exe)(pid_t pid, char *buf, size_t len);
	/* `designate = container ENGINE:NAME`: 1 if the engine's root-owned
	 * state names the container of that cgroup (leaf's id) des->name, 0 if
	 * not (why: what it says), -errno if its state cannot be trusted or
	 * read (why: which file, and why): engine_container_named */
	int (*container_named)(struct ph_daemon *d, const struct ph_designation *des, const char *cgroup, char *why,
			       size_t whylen);
	/* the audit log (records_container.c) */
	int (*record_open)(struct ph_daemon *d, const struct ph_cwin *w);
	void (*record_close)(struct ph_daemon *d, const struct ph_cwin *w, uint32_t reason, uint64_t duration_ns);
	void (*ids_save)(struct ph_daemon *d);
	void (*metrics)(struct ph_daemon *d);   /* the metrics file */
	/* the kernel's count of LISTEN sockets on tcp/port (v4 and v6, each
	 * socket once) in network namespace netns_ino, read through pid, a
	 * process in it: 0, or -errno and why (census_proc_listeners) */
	int (*listeners)(uint32_t pid, uint32_t netns_ino, uint16_t port, unsigned *n, char *why, size_t whylen);
};

/* engine_read.c: the production container_named */
int engine_container_named(const struct ph_config *cfg, const struct ph_designation *des, const char *cgroup,
			   char *why, size_t whylen);

/* container_census.c: the production listeners op (/proc/PID/net/tcp, tcp6) */
int census_proc_listeners(uint32_t pid, uint32_t netns_ino, uint16_t port, unsigned *n, char *why, size_t whylen);
/* More listeners on tcp/port in netns_ino than foreign.c's table knows
 * (the listener of cookie, if not 0, counted as known)? 0: no; > 0: that
 * many unknown (why: the warning's text); -errno: they could not be
 * counted (why). Either but 0: no window. */
int container_census(struct ph_daemon *d, const struct ph_container_ops *ops, uint32_t pid, uint32_t netns_ino,
		     uint16_t port, uint64_t cookie, char *why, size_t whylen);

/* A listener that listened just before an event was read is in the
 * kernel's list before the table knows it: the census's verdict waits for
 * the end of the batch of events (the ring read). census_defer: l's window
 * is decided then (a listener still counted unknown: one warning, and
 * counted again at each later batch that changed its netns or comes a
 * second after its last count, while it lives); census_dirty: the windows of that
 * netns are counted then (more than known: revoked). */
void census_defer(struct ph_daemon *d, const struct ph_container_ops *ops, uint64_t cookie);
void census_dirty(struct ph_daemon *d, const struct ph_container_ops *ops, uint32_t netns_ino);
/* after each batch of kernel events and after the start-up walk */
void containers_census_run(struct ph_daemon *d);
void census_free(struct ph_daemon *d);

/* container.c */
int containers_init(struct ph_daemon *d, const struct ph_container_ops *ops);
void containers_free(struct ph_daemon *d);
/* foreign.c's change callback: a listener recorded (listen = 1) or gone */
void container_on_foreign(void *ctx, const struct ph_foreign_listener *l, int listen);
/* the window of that listener closed, revoked (why: the warning's text) */
void container_revoke(struct ph_daemon *d, uint64_t cookie, const char *why);
/* ... closed for reason (PH_REASON_*), why said beside (NULL: nothing) */
void container_end(struct ph_daemon *d, uint64_t cookie, uint32_t reason, const char *why);
/* the deadline timer fired (its fd already read) */
void containers_on_timer(struct ph_daemon *d);
/* every window closed (reason PH_REASON_SHUTDOWN) */
void containers_shutdown(struct ph_daemon *d);
/* the open windows, for status: i from 0 while not NULL */
const struct ph_cwin *container_window_at(const struct ph_daemon *d, unsigned i);
/* elements and pins in the kernel now, by the books (for tests, status) */
unsigned containers_elements(const struct ph_daemon *d);
unsigned containers_pins(const struct ph_daemon *d);
/* "ADDR:PORT via BRIDGE-IFINDEX/PORT-IFINDEX ..." of w's targets */
void container_targets_str(const struct ph_cwin *w, char *buf, size_t len);

#endif
