// SPDX-License-Identifier: GPL-2.0-or-later
/* The audit records of container windows (container.h): window-open and
 * window-close with "kind":"container", the listener (pid, uid, user, exe,
 * its cgroup and network namespace), the designation, and the DNAT targets
 * the window admits to. Built through record_write() (records.c); the
 * formats are in the README's audit section. */
#include "container.h"
#include "daemon.h"
#include "json.h"
#include "records.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

struct cw_rec {
	const struct ph_daemon *d;
	const struct ph_cwin *w;
	uint32_t reason;
	uint64_t duration_ns;
};

static void fill_common(struct jbuf *b, const struct ph_daemon *d, const struct ph_cwin *w)
{
	const struct ph_designation *des = designation_at(d, w->des_index); /* a config line, or run --container's */
	char user[64];

	jb_u64(b, "window", w->id);
	jb_str(b, "kind", "container");
	jb_u64(b, "pid", w->pid);
	jb_u64(b, "uid", w->uid);
	proc_user_name(w->uid, user, sizeof(user));
	jb_str(b, "user", user);
	jb_str(b, "exe", w->exe);
	jb_str(b, "cgroup", w->cgroup);
	jb_u64(b, "netns", w->netns_ino);
	jb_u64(b, "container_port", w->cport);
	jb_arr_begin(b, "targets");
	for (unsigned i = 0; i < w->nt; i++) {
		char a[INET6_ADDRSTRLEN], br[IF_NAMESIZE] = "", port[IF_NAMESIZE] = "";
		if (!inet_ntop(w->t[i].a.family, w->t[i].a.addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		if (!if_indextoname(w->t[i].bridge, br))
			snprintf(br, sizeof(br), "%u", w->t[i].bridge);
		if (!if_indextoname(w->t[i].port, port))
			snprintf(port, sizeof(port), "%u", w->t[i].port);
		jb_obj_begin(b, NULL);
		jb_str(b, "addr", a);
		jb_str(b, "bridge", br);
		jb_str(b, "bridge_port", port);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	jb_obj_begin(b, "designation");
	jb_str(b, "type", des_type_name(des->type));
	jb_str(b, "value", des->arg);
	jb_u64(b, "config_line", des->line);
	jb_obj_end(b);
}

static void fill_cw_open(struct jbuf *b, void *arg)
{
	const struct cw_rec *r = arg;
	char cmdline[1024];

	fill_common(b, r->d, r->w);
	jb_arr_begin(b, "ports");
	for (unsigned p = 0; p < r->w->npports; p++)
		jb_u64(b, NULL, r->w->pports[p]);
	jb_arr_end(b);
	jb_str(b, "family", r->w->family == AF_INET6 ? "ipv6" : "ipv4");
	proc_cmdline(r->w->pid, cmdline, sizeof(cmdline));
	jb_str(b, "cmdline", cmdline);
	jb_time(b, "deadline", r->w->deadline_real);
}

int record_container_open(struct ph_daemon *d, const struct ph_cwin *w)
{
	struct cw_rec r = { d, w, 0, 0 };
	struct jfields f = { .n = 0 };
	char msg[256];
	int rc = record_write(d, "window-open", fill_cw_open, &r);

	if (rc < 0)
		return rc;
	d->stats.opened++;
	jfield(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)w->id);
	jfield(&f, "PORTHOLE_PORT=%u", w->cport);
	jfield(&f, "PORTHOLE_PID=%u", w->pid);
	jfield(&f, "PORTHOLE_EXE=%s", w->exe);
	jfield(&f, "PORTHOLE_DESIGNATION=container");
	snprintf(msg, sizeof(msg), "window %llu open: container tcp/%u to pid %u (%s)", (unsigned long long)w->id, w->cport,
		 w->pid, w->exe);
	journal_event("window-open", msg, f.ptr, f.n);
	return 0;
}

static void fill_cw_close(struct jbuf *b, void *arg)
{
	const struct cw_rec *r = arg;

	fill_common(b, r->d, r->w);
	jb_str(b, "reason", ph_reason_name(r->reason));
	jb_u64(b, "duration_ms", r->duration_ns / 1000000);
}

void record_container_close(struct ph_daemon *d, const struct ph_cwin *w, uint32_t reason, uint64_t duration_ns)
{
	struct cw_rec r = { d, w, reason, duration_ns };
	struct jfields f = { .n = 0 };
	char msg[256];

	record_write(d, "window-close", fill_cw_close, &r);
	if (reason <= PH_REASON_MAX)
		d->stats.closed[reason]++;
	d->stats.last_close_real = now_ns(CLOCK_REALTIME);
	jfield(&f, "PORTHOLE_WINDOW=%llu", (unsigned long long)w->id);
	jfield(&f, "PORTHOLE_REASON=%s", ph_reason_name(reason));
	jfield(&f, "PORTHOLE_DESIGNATION=container");
	snprintf(msg, sizeof(msg), "window %llu closed (%s): container tcp/%u of pid %u", (unsigned long long)w->id,
		 ph_reason_name(reason), w->cport, w->pid);
	journal_event("window-close", msg, f.ptr, f.n);
}
