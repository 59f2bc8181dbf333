/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a window asks of nftables (see lib/nftrule.h for the objects):
 * porthole's owner table exists while the daemon runs; a window is one set
 * element (mark . port) with the hard deadline as its kernel timeout; while
 * at least one window is open, every target host chain holds one rule per
 * watched port, put back when a ruleset reload removes it. Knows nothing of
 * sessions: callers give marks, ports and timeouts. */
#ifndef PORTHOLE_FIREWALL_H
#define PORTHOLE_FIREWALL_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

struct ph_fw;

/* Sweep what a previous daemon left (host rules by tag, a table of ours
 * without the owner flag), then create the owner table. why: one line. */
int fw_open(struct ph_fw **out, const struct ph_config *cfg, unsigned *swept, char *why, size_t whylen);
/* Remove the host rules and the table. */
void fw_close(struct ph_fw *f);

/* Something on this host that would drop what a window admits and that
 * porthole cannot write to (iptables-legacy rules, a table owned by another
 * process): -EPERM and the admin's way out in why. 0 when none. */
int fw_blocked(struct ph_fw *f, char *why, size_t whylen);

/* Open: the element, and (first window) the host rules, in one batch; while
 * the host rules linger after the last window (host_rule_linger), the
 * element alone. */
int fw_window_open(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen);
/* Close: the element's counters, then the element (and, last window, the
 * host rules, host_rule_linger seconds later). 0 also when the kernel's
 * timeout already removed it. */
int fw_window_close(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes);
int fw_window_counters(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes);
/* Host chains that hold porthole's rule now (each once). */
unsigned fw_chains(const struct ph_fw *f, struct ph_chain_ref *out, unsigned max);

/* The notification socket (epoll it); readable: call fw_on_change(). */
int fw_monitor_fd(const struct ph_fw *f);
/* The linger's timer (epoll it); readable: call fw_on_timer(), which removes
 * the host rules when no window opened meanwhile. */
int fw_timer_fd(const struct ph_fw *f);
void fw_on_timer(struct ph_fw *f);
/* Another process changed the ruleset: put back what is missing. *restored:
 * rules put back (0: nothing to do). */
int fw_on_change(struct ph_fw *f, unsigned *restored);

/* Server windows: the served cgroup's element (cgroup id . port; timeout:
 * the deadline, 0 for none), the prerouting rule for its cgroup level, and
 * while any is open the guard rules where the host drops (lib/nftguard.h). */
int fw_server_open(struct ph_fw *f, uint64_t cgid, unsigned level, uint16_t port, uint64_t timeout_ms, char *why,
		   size_t whylen);
int fw_server_close(struct ph_fw *f, uint64_t cgid, uint16_t port);
/* A guarded server in a container (lib/nftcsrv.h): its csrv elements
 * (bridge . address . container port; timeout: the deadline, 0 none), in
 * one batch. first: the window opens (the guard rules go to the host's
 * drop points, forward hook included, with its first); last: it closes
 * (they go with the last server window). -errno and why. */
struct nr_csrv;
int fw_csrv_open(struct ph_fw *f, const struct nr_csrv *el, unsigned n, uint64_t timeout_ms, int first, char *why,
		 size_t whylen);
int fw_csrv_close(struct ph_fw *f, const struct nr_csrv *el, unsigned n, int last);
/* guard rules in the host's chains now */
unsigned fw_guard_rules(const struct ph_fw *f);

/* Container windows (fwcontainer.c, lib/nftcontainer.h): add a window's
 * cwin elements and pins in one batch (timeout_ms: its deadline; the host
 * rules with them when it is the first window of any kind), or delete
 * them (0 also when the kernel's timeout took them). Either counts one
 * window for the host rules. -EOPNOTSUPP without a published designation. */
struct nr_cwin;
int fw_container_open(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		      unsigned npins, uint64_t timeout_ms, char *why, size_t whylen);
int fw_container_close(struct ph_fw *f, const struct nr_cwin *el, unsigned nel, const struct nr_cwin *pins,
		       unsigned npins);
/* A served container's window port behind a geo-block before DNAT: held,
 * the port is in cports and the pair "porthole cw" at each prerouting drop
 * point (as a container window's published port; refcounted with them);
 * nr_add_csrv_pre's S3 guards what it pre-admits. -errno and why when
 * such a drop cannot be passed (fail closed: the window is refused). */
int fw_cw_port_hold(struct ph_fw *f, uint16_t port, char *why, size_t whylen);
void fw_cw_port_release(struct ph_fw *f, uint16_t port);

#endif
