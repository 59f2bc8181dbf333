// SPDX-License-Identifier: GPL-2.0-or-later
/* The firewall backend (see firewall.h): its life (sweep, owner table,
 * teardown), windows (elements, the host rules while any is open, and their
 * linger after the last), and ruleset-change notifications. Reading and
 * reconciling the host: fwhost.c; server windows: fwserver.c.
 *
 * Host rules are reconciled, never tracked by handle alone: a scan at a
 * known ruleset generation finds every rule carrying our tag (in either
 * comment form), and one batch bound to that generation adds what is
 * missing and deletes what is surplus; the kernel refuses the batch if the
 * ruleset moved in between, and we scan again. Opening the first window
 * reuses the last scan while its generation is current, so the fast path is
 * one batch. Window elements live in our owner table, which nobody else can
 * change: they need no generation. */
#include "fwpriv.h"
#include "log.h"
#include "nftcontainer.h"
#include "nftcsrv.h"
#include "nftrule.h"
#include "nftscan.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

/* arg: the backend when its bridge table goes too (it made it) */
static int fill_del_table(struct nl_batch *b, void *arg)
{
	const struct ph_fw *f = arg;
	int r = f && f->published ? nr_del_container_objects(b) : 0;

	return r ? r : nr_del_table(b);
}

static int fill_add_table(struct nl_batch *b, void *arg)
{
	const struct ph_fw *f = arg;
	const struct ph_config *cfg = f->cfg;
	int r = nr_add_table(b, cfg->mark, cfg->mark_mask, 1, cfg->ports, cfg->nports);

	if (!r && cfg->nsrv)
		r = nr_add_servers_set(b) || nr_add_guard_own_rules(b, f->cand, f->guarded, cfg->mark_mask, config_has_csrv(cfg))
			    ? -ENOMEM : 0;
	/* a web server in a container: csrv, its forward rules, the DSCP carrier */
	if (!r && config_has_csrv(cfg))
		r = nr_add_csrv_objects(b, f->cand, f->guarded, cfg->mark_mask, cfg->guard_dscp);
	/* only with a published designation: other hosts keep today's table */
	if (!r && f->published)
		r = nr_add_container_objects(b, f->cw, cfg->mark, cfg->mark_mask, 1);
	/* (S3 before F4: a pre-admitted connection to a served container's
	 * socket is guarded, not dropped) */
	if (!r && f->published && f->cp && config_has_csrv(cfg))
		r = nr_add_csrv_pre(b, f->cp, f->guarded, cfg->mark_mask);
	if (!r && f->published && f->cp)
		r = nr_add_container_pre(b, f->cp, f->cc, cfg->mark, cfg->mark_mask);
	return r;
}

int fw_open(struct ph_fw **out, const struct ph_config *cfg, unsigned *swept, char *why, size_t whylen)
{
	struct ph_fw *f = calloc(1, sizeof(*f));
	unsigned added;
	int r;

	*swept = 0;
	if (!f)
		return -ENOMEM;
	f->cfg = cfg;
	f->monfd = -1;
	f->timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (f->timerfd < 0) {
		r = -errno;
		snprintf(why, whylen, "timerfd: %s", strerror(-r));
		goto fail;
	}
	if (cfg->nsrv && config_guard_marks(cfg, &f->cand, &f->guarded)) {
		snprintf(why, whylen, "socket_mark's mask has no room for the two marks of server windows");
		r = -ENOSPC;
		goto fail;
	}
	f->published = config_has_published(cfg);
	if (f->published && config_container_mark(cfg, &f->cw)) {
		snprintf(why, whylen, "socket_mark's mask has no room for the mark of container windows");
		r = -ENOSPC;
		goto fail;
	}
	if (f->published && config_container_pre_marks(cfg, &f->cp, &f->cc))
		f->cp = f->cc = 0; /* a geo-block before DNAT refuses container windows */
	r = nl_open(&f->nl);
	if (r) {
		snprintf(why, whylen, "cannot open a netlink socket to nftables: %s", strerror(-r));
		goto fail;
	}
	r = nl_monitor_open(&f->monfd);
	if (r) {
		snprintf(why, whylen, "cannot open the nftables notification socket: %s", strerror(-r));
		goto fail;
	}
	/* leftovers: host rules of a daemon that died (or of a saved ruleset
	 * restored at boot), and a table of ours that lost its owner flag */
	r = fw_scan_host(f);
	if (r) {
		snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
		goto fail;
	}
	*swept = f->nrules;
	if (f->scan.former_users)
		log_warn("firewall: %u rule(s) match porthole's former default mark 0x%x/0x%x (first: %s) but porthole "
			 "marks 0x%x/0x%x: they admit nothing; rewrite them or set socket_mark = 0x%x/0x%x (porthole check)",
			 f->scan.former_users, PH_FORMER_MARK, PH_FORMER_MARK_MASK, f->scan.former_user, cfg->mark,
			 cfg->mark_mask, PH_FORMER_MARK, PH_FORMER_MARK_MASK);
	if (f->scan.own_table) {
		if (f->scan.own_table_owned) {
			snprintf(why, whylen, "table inet %s is owned by another live process: is another portholed running "
				 "in this network namespace?", PH_TABLE);
			r = -EEXIST;
			goto fail;
		}
		r = fw_commit(f, fill_del_table, NULL, why, whylen);
		if (r)
			goto fail;
		f->valid = 0;
	}
	if (f->nrules) {
		r = fw_reconcile(f, 0, NULL, &added, why, whylen);
		if (r)
			goto fail;
	}
	/* a dead daemon's guard rules too (they admit nothing without our table) */
	r = fw_guard_sync(f, 0, why, whylen);
	if (r)
		goto fail;
	*swept += f->nguard;
	f->nguard = 0;
	/* and its container windows' pairs before DNAT */
	r = fw_cw_sync(f, why, whylen);
	if (r)
		goto fail;
	r = fw_commit(f, fill_add_table, f, why, whylen);
	if (r) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", why);
		snprintf(why, whylen, "creating table inet %s: %s", PH_TABLE, tmp);
		goto fail;
	}
	f->valid = 0;
	*out = f;
	return 0;
fail:
	fw_close(f);
	return r;
}

void fw_close(struct ph_fw *f)
{
	char why[256];
	unsigned added;

	if (!f)
		return;
	if (f->nl) {
		if (f->nwin || f->nrules)
			fw_reconcile(f, 0, NULL, &added, why, sizeof(why));
		if (f->nsrvwin || f->nguard)
			fw_guard_sync(f, 0, why, sizeof(why));
		f->ncwport = 0;
		if (f->ncwpair)
			fw_cw_sync(f, why, sizeof(why));
		/* the kernel drops an owner table with our socket; be explicit */
		fw_commit(f, fill_del_table, f, NULL, 0);
		nl_close(f->nl);
	}
	if (f->monfd >= 0)
		close(f->monfd);
	if (f->timerfd >= 0)
		close(f->timerfd);
	free(f);
}

int fw_monitor_fd(const struct ph_fw *f)
{
	return f->monfd;
}

int fw_timer_fd(const struct ph_fw *f)
{
	return f->timerfd;
}

unsigned fw_chains(const struct ph_fw *f, struct ph_chain_ref *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nrules; i++) {
		int dup = 0;
		for (unsigned j = 0; j < i; j++)
			dup |= chain_eq(&f->rules[j].chain, &f->rules[i].chain);
		if (!dup && n < max)
			out[n] = f->rules[i].chain;
		n += !dup;
	}
	return n < max ? n : max;
}

/* ---- what porthole cannot write to ------------------------------------------------------- */

/* Why legacy_input_state() could not tell (r: its error), for the warning. */
static const char *legacy_unknown_why(int v6, int r)
{
	if (r == -EACCES) {
		if (v6)
			return "cannot tell whether an ip6tables-legacy filter table is loaded "
			       "(/proc/net/ip6_tables_names is root's, portholed runs as its own user)";
		return "cannot tell whether an iptables-legacy filter table is loaded "
		       "(/proc/net/ip_tables_names is root's, portholed runs as its own user)";
	}
	if (r == -EAFNOSUPPORT || r == -EPERM) {
		if (v6)
			return "an ip6tables-legacy filter table is loaded and portholed cannot read its rules "
			       "(portholed.service's RestrictAddressFamilies= keeps out AF_INET6; a drop-in can add it)";
		return "an iptables-legacy filter table is loaded and portholed cannot read its rules "
		       "(portholed.service's RestrictAddressFamilies= keeps out AF_INET; a drop-in can add it)";
	}
	return "an iptables-legacy filter table cannot be read";
}

int fw_blocked(struct ph_fw *f, char *why, size_t whylen)
{
	int present, drop, r;

	if (f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0; /* static mode: the admin put the rule in place */
	for (int v6 = 0; v6 <= 1; v6++) {
		r = legacy_input_state(v6, &present, &drop);
		if (r < 0) {
			/* A legacy DROP cannot open a hole, only make a window
			 * useless: not knowing is said (once), not refused */
			if (!f->legacy_unknown_said) {
				f->legacy_unknown_said = 1;
				log_warn("nft: %s: if it drops inbound tcp, nothing reaches a window; `porthole check` (as root) "
					 "reads it",
					 legacy_unknown_why(v6, r));
			}
			continue;
		}
		if (present && drop) {
			snprintf(why, whylen,
				 "%s-legacy rules in INPUT would drop what a window admits (nftables cannot override them): "
				 "add '%s-legacy -I INPUT -p tcp -m mark --mark 0x%x/0x%x -j ACCEPT' and set chains = none "
				 "(porthole check prints the rule)",
				 v6 ? "ip6tables" : "iptables", v6 ? "ip6tables" : "iptables", f->cfg->mark, f->cfg->mark_mask);
			return -EPERM;
		}
	}
	if (!f->valid) {
		r = fw_scan_host(f);
		if (r) {
			snprintf(why, whylen, "reading the ruleset: %s", strerror(-r));
			return r;
		}
	}
	return fw_owned_blocker(f, why, whylen);
}

/* ---- windows ---------------------------------------------------------------------------- */

void fw_monitor_join(struct ph_fw *f, int join)
{
	if (f->joined == join)
		return;
	if (nl_monitor_join(f->monfd, join) == 0)
		f->joined = join;
	if (!join) {
		int changed;
		/* what queued is moot now. The last scan stays: every batch is
		 * bound to its generation, so a stale one is refused and read again */
		nl_monitor_drain(f->monfd, nl_portid(f->nl), &changed);
	}
}

/* The linger: after the last window, the host rules stay cfg->linger
 * seconds (watched and put back like during a window), so that a window
 * opened meanwhile is one element. They admit only packets carrying a live
 * window's mark, which nothing carries while no window is open. */
static void linger_arm(struct ph_fw *f, uint32_t seconds)
{
	struct itimerspec its = { .it_value = { .tv_sec = seconds } };

	if (timerfd_settime(f->timerfd, 0, &its, NULL) < 0)
		log_errno(-errno, "nft: arming the host rules' linger");
	f->lingering = seconds != 0;
}

static void linger_stop(struct ph_fw *f)
{
	if (f->lingering)
		linger_arm(f, 0);
}

/* no window (and the linger over): the host rules go */
static void host_rules_remove(struct ph_fw *f)
{
	char why[256];
	unsigned added;
	int r;

	linger_stop(f);
	f->degraded = 0;
	/* nothing carries the mark any more: the host rules admit nothing,
	 * so a failure here leaves no hole; still, say so and retry */
	r = fw_reconcile(f, 0, NULL, &added, why, sizeof(why));
	if (r)
		log_err("nft: removing porthole's rules from the host's chains: %s (they admit nothing without a "
			"window; retried at the next change)", why);
	if (!f->nsrvwin)
		fw_monitor_join(f, 0);
}

void fw_on_timer(struct ph_fw *f)
{
	uint64_t ticks;

	if (read(f->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_errno(-errno, "nft: reading the linger timer");
	if (f->lingering && f->nwin == 0)
		host_rules_remove(f);
}

static int fill_elem(struct nl_batch *b, void *arg)
{
	const struct elem *el = arg;

	if (el->fill)
		return el->fill(b, el->arg);
	return el->timeout_ms ? nr_add_element(b, el->mark, el->port, el->timeout_ms)
			      : nr_del_element(b, el->mark, el->port);
}

int fw_window_open(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen)
{
	struct elem el = { mark, port, timeout_ms ? timeout_ms : 1, NULL, NULL };

	return fw_win_open(f, &el, why, whylen);
}

int fw_win_open(struct ph_fw *f, const struct elem *elp, char *why, size_t whylen)
{
	struct elem el = *elp;
	unsigned added;
	int r;

	if (f->nwin == 0 && f->lingering && !f->degraded) {
		/* the host rules of the last window are still in place (and
		 * watched): one element, like any further window */
		r = fw_commit(f, fill_elem, &el, why, whylen);
		if (r)
			return r;
		linger_stop(f);
	} else if (f->nwin == 0 || f->degraded) {
		/* subscribe first: a reload right after our insert is seen.
		 * Degraded (the host rules could not be put back after a
		 * change): no element-only window until they are back */
		fw_monitor_join(f, 1);
		r = fw_blocked(f, why, whylen);
		if (!r)
			r = fw_reconcile(f, 1, &el, &added, why, whylen);
		if (r) {
			if (!f->nsrvwin && !f->nwin && !f->lingering)
				fw_monitor_join(f, 0);
			return r;
		}
		f->degraded = 0;
		linger_stop(f); /* a degraded linger ends with this window */
	} else {
		r = fw_commit(f, fill_elem, &el, why, whylen);
		if (r)
			return r;
	}
	f->nwin++;
	return 0;
}

int fw_window_counters(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	*packets = *bytes = 0;
	return nr_get_element(f->nl, mark, port, packets, bytes);
}

int fw_window_close(struct ph_fw *f, uint32_t mark, uint16_t port, uint64_t *packets, uint64_t *bytes)
{
	struct elem el = { mark, port, 0, NULL, NULL };
	char why[256];
	int r = 0, err = 0;

	if (fw_window_counters(f, mark, port, packets, bytes) == -ENOENT)
		r = 0; /* the kernel's timeout took it already */
	else
		for (int tries = 0; tries < 3; tries++) {
			r = fw_commit(f, fill_elem, &el, why, sizeof(why));
			if (r == -ENOENT)
				r = 0; /* the kernel's timeout took it between the two */
			if (!r)
				break;
		}
	if (r) {
		/* the window is closed in our books either way; the caller says
		 * (once) that the kernel still holds the element until its
		 * deadline. The detail is for a debug log only. */
		log_debug("nft: removing the element of window mark 0x%x port %u: %s", mark, port, why);
		err = r;
	}
	fw_win_release(f);
	return err;
}

void fw_win_release(struct ph_fw *f)
{
	if (f->nwin)
		f->nwin--;
	if (f->nwin == 0) {
		if (f->cfg->linger)
			linger_arm(f, f->cfg->linger);
		else
			host_rules_remove(f);
	}
}

int fw_on_change(struct ph_fw *f, unsigned *restored)
{
	char why[256];
	int changed = 0, r;

	*restored = 0;
	r = nl_monitor_drain(f->monfd, nl_portid(f->nl), &changed);
	if (r)
		log_errno(r, "nft: reading ruleset notifications");
	if (!changed && !r)
		return 0;
	f->valid = 0;
	if (f->cfg->chains_mode == PH_CHAINS_NONE)
		return 0;
	if (f->nsrvwin) {
		unsigned before = f->nguard;
		r = fw_guard_sync(f, 1, why, sizeof(why));
		if (r)
			log_err("nft: placing the guard rules of server windows after a ruleset change: %s (guarded "
				"connections are dropped until they are back)", why);
		else if (f->nguard && f->nguard != before)
			*restored += f->nguard;
	}
	if (f->ncwport) {
		unsigned before = f->ncwpair;
		r = fw_cw_sync(f, why, sizeof(why));
		if (r)
			log_err("nft: placing container windows' rules before DNAT after a ruleset change: %s (their "
				"connections through a geo-block before DNAT are dropped until they are back)", why);
		else if (f->ncwpair && f->ncwpair != before)
			*restored += f->ncwpair;
	}
	if (!f->nwin && !f->lingering)
		return 0;
	r = fw_reconcile(f, 1, NULL, restored, why, sizeof(why));
	f->degraded = r != 0;
	if (r)
		log_err("nft: putting porthole's rules back after a ruleset change: %s (new windows are refused until "
			"they are back)", why);
	return r;
}

