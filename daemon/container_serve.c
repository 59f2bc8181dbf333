// SPDX-License-Identifier: GPL-2.0-or-later
/* A guarded server window to a web server in a container (issue 23 case 3,
 * docs/design/containers.md §5): `serve = container ENGINE:NAME
 * webroot=HOST_PATH`. server.c runs the window as any serve line's (its
 * tokens from HOST_PATH, the guard's served cgroup and tokens, deadlines,
 * audit records); this file gives it what it asks of a served cgroup
 * through ops.c:
 *
 *   - the served "cgroup" is the socket cgroup of the container's listener:
 *     a listener foreign.c reports in a network namespace of the initial
 *     user namespace, on one of the line's ports, whose cgroup the engine's
 *     root-owned state names NAME (engine_container_named, as a `designate
 *     = container` line is matched); its DNAT targets resolved as a
 *     container window's (lib/netns.h);
 *   - opening, per port: the guard told the listener's namespace
 *     (guard_netns, PH_GN_DSCP: it reads "guarded" from the DSCP csrvtag
 *     writes), then one csrv element (bridge, address, port) per target with
 *     the deadline, in one batch; the first puts the guard pair at the
 *     host's drop points, forward hook included (fwserver.c);
 *   - closing: the elements go (from then the host's forward drops every
 *     guarded connection to it: S2), the namespace leaves the guard; the
 *     last server window's close ends what the guard judged and deletes the
 *     host's conntrack entries with the guarded mark (server.c's guard_idle);
 *   - the listener closing closes the window (PH_REASON_LISTENER_CLOSED).
 *
 * A second listener of the container while the window is open (IPv6 beside
 * IPv4) adds its targets' elements. Production only (no unit-test seam). */
#include "container_serve.h"
#include "container.h"
#include "daemon.h"
#include "firewall.h"
#include "foreign.h"
#include "guardbpf.h"
#include "json.h"
#include "log.h"
#include "nftcsrv.h"
#include "server.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSRV_LISTENERS 8
#define CSRV_ELEMS (CSRV_LISTENERS * NETNS_MAX_TARGETS)

struct csrv_listener {
	uint64_t cookie, cgid;
	uint32_t pid, netns_ino;
	uint16_t port;
	struct netns_target t[NETNS_MAX_TARGETS];
	unsigned nt;
};

struct csrv_line {
	struct csrv_listener l[CSRV_LISTENERS];
	unsigned nl;
	struct nr_csrv el[CSRV_ELEMS];  /* in the kernel now (the open window's) */
	unsigned nel;
	unsigned ports_open;           /* the window's ports opened (fw_open minus fw_close) */
	uint64_t timeout_ms;           /* the open window's (for a listener that comes later) */
	uint32_t netns[CSRV_LISTENERS]; /* told the guard */
	unsigned nnetns;
};

struct ph_csrvs {
	struct csrv_line s[PH_MAX_SERVERS];
};

static struct csrv_line *line_of(struct ph_daemon *d, unsigned i)
{
	if (i >= d->cfg.nsrv || d->cfg.srv[i].type != DES_CONTAINER)
		return NULL;
	if (!d->csrvs)
		d->csrvs = calloc(1, sizeof(*d->csrvs));
	return d->csrvs ? &d->csrvs->s[i] : NULL;
}

void csrv_free(struct ph_daemon *d)
{
	free(d->csrvs);
	d->csrvs = NULL;
}

uint64_t csrv_cgroup_id(struct ph_daemon *d, unsigned i)
{
	struct csrv_line *s = line_of(d, i);

	return s && s->nl ? s->l[0].cgid : 0;
}

int csrv_running(struct ph_daemon *d, unsigned i)
{
	struct csrv_line *s = line_of(d, i);

	return s && s->nl;
}

int csrv_listens(struct ph_daemon *d, unsigned i, char *err, size_t errlen)
{
	if (csrv_running(d, i))
		return 0;
	snprintf(err, errlen, "container %s: no listener of it on tcp/%u is known (in its own network namespace, "
		 "named so by the engine's state): no window to it", d->cfg.srv[i].arg, d->cfg.srv[i].ports[0]);
	return -ENOTCONN;
}

static int has_elem(const struct csrv_line *s, const struct nr_csrv *e)
{
	for (unsigned k = 0; k < s->nel; k++)
		if (s->el[k].family == e->family && s->el[k].ifindex == e->ifindex && s->el[k].port == e->port &&
		    !memcmp(s->el[k].addr, e->addr, sizeof(e->addr)))
			return 1;
	return 0;
}

/* the guard judges sockets of the listeners' namespaces by the DSCP */
static int netns_tell(struct ph_daemon *d, struct csrv_line *s)
{
	for (unsigned k = 0; k < s->nl; k++) {
		unsigned j = 0;
		int r;
		while (j < s->nnetns && s->netns[j] != s->l[k].netns_ino)
			j++;
		if (j < s->nnetns)
			continue;
		if (j == CSRV_LISTENERS)
			return -E2BIG;
		r = guardbpf_netns(d->gk, s->l[k].netns_ino, PH_GN_DSCP, 1);
		if (r)
			return r;
		s->netns[s->nnetns++] = s->l[k].netns_ino;
	}
	return 0;
}

static void netns_forget(struct ph_daemon *d, struct csrv_line *s)
{
	for (unsigned j = 0; j < s->nnetns; j++)
		if (d->gk && s->netns[j] != d->netns_ino) /* (never the daemon's own) */
			guardbpf_netns(d->gk, s->netns[j], PH_GN_DSCP, 0);
	s->nnetns = 0;
}

/* The elements of port's listeners not in the kernel yet into add (n). */
static unsigned new_elems(const struct csrv_line *s, uint16_t port, struct nr_csrv *add)
{
	unsigned n = 0;

	for (unsigned k = 0; k < s->nl; k++) {
		if (s->l[k].port != port)
			continue;
		for (unsigned t = 0; t < s->l[k].nt && s->nel + n < CSRV_ELEMS; t++) {
			struct nr_csrv e = { .family = s->l[k].t[t].a.family, .ifindex = s->l[k].t[t].bridge, .port = port };
			int dup;
			memcpy(e.addr, s->l[k].t[t].a.addr, sizeof(e.addr));
			dup = has_elem(s, &e);
			for (unsigned j = 0; j < n && !dup; j++)
				dup = add[j].family == e.family && add[j].ifindex == e.ifindex && !memcmp(add[j].addr, e.addr, 16);
			if (!dup)
				add[n++] = e;
		}
	}
	return n;
}

int csrv_fw_open(struct ph_daemon *d, unsigned i, uint16_t port, uint64_t timeout_ms, char *why, size_t whylen)
{
	struct csrv_line *s = line_of(d, i);
	struct nr_csrv add[CSRV_ELEMS];
	unsigned n = 0;
	int r;

	if (!s) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	r = netns_tell(d, s);
	if (r) {
		snprintf(why, whylen, "bpf: cannot tell the guard the container's network namespace: %s", strerror(-r));
		return r;
	}
	/* behind a geo-block before DNAT: port (the published one the CA
	 * comes to, the container's too) is pre-admitted; S3 guards it */
	r = fw_cw_port_hold(d->fw, port, why, whylen);
	if (!r) {
		n = new_elems(s, port, add);
		r = fw_csrv_open(d->fw, add, n, timeout_ms, s->ports_open == 0, why, whylen);
		if (r)
			fw_cw_port_release(d->fw, port);
	}
	if (r) {
		if (!s->ports_open)
			netns_forget(d, s);
		return r;
	}
	memcpy(&s->el[s->nel], add, n * sizeof(add[0]));
	s->nel += n;
	s->ports_open++;
	s->timeout_ms = timeout_ms;
	return 0;
}

void csrv_fw_close(struct ph_daemon *d, unsigned i, uint16_t port)
{
	struct csrv_line *s = line_of(d, i);
	struct nr_csrv del[CSRV_ELEMS];
	unsigned n = 0;

	if (!s || !s->ports_open)
		return;
	for (unsigned k = 0; k < s->nel;) {
		if (s->el[k].port != port) {
			k++;
			continue;
		}
		del[n++] = s->el[k];
		s->el[k] = s->el[--s->nel];
	}
	s->ports_open--;
	fw_csrv_close(d->fw, del, n, s->ports_open == 0);
	fw_cw_port_release(d->fw, port);
	if (!s->ports_open)
		netns_forget(d, s);
}

/* Is l the listener of container line i (its cgroup named by the engine)?
 * 1 and its cgroup path, 0 (why), -errno (why: the state cannot be trusted) */
static int named(struct ph_daemon *d, unsigned i, const struct ph_foreign_listener *l, char *path, size_t plen,
		 char *why, size_t whylen)
{
	const struct ph_server *sv = &d->cfg.srv[i];
	struct ph_designation des;
	int r = container_ops_live.cgroup_path(d, l->pid, l->cgroup_id, path, plen, why, whylen);

	if (r)
		return 0;
	memset(&des, 0, sizeof(des));
	des.type = DES_CONTAINER;
	des.engine = sv->engine;
	des.published = 1;
	des.line = sv->line;
	copy_str(des.name, sizeof(des.name), sv->name);
	copy_str(des.arg, sizeof(des.arg), sv->arg);
	return container_ops_live.container_named(d, &des, path, why, whylen);
}

static void on_listen(struct ph_daemon *d, unsigned i, const struct ph_foreign_listener *l)
{
	const struct ph_server *sv = &d->cfg.srv[i];
	struct csrv_line *s = line_of(d, i);
	struct netns_addr bound = { .family = l->family };
	struct netns_view *view;
	struct csrv_listener *n;
	char path[PH_PATH_LEN] = "", why[320] = "";
	int r, port = 0;

	for (unsigned p = 0; p < sv->nports; p++)
		port |= sv->ports[p] == l->port;
	if (!s || !port || !l->verified || !l->init_userns)
		return;
	r = named(d, i, l, path, sizeof(path), why, sizeof(why));
	if (r != 1) {
		if (r < 0)
			log_warn("server %s: listener pid %u tcp/%u in cgroup %s: %s", sv->arg, l->pid, l->port, path, why);
		return;
	}
	if (s->nl == CSRV_LISTENERS) {
		log_warn("server %s: more than %u listeners of it: pid %u tcp/%u ignored", sv->arg, CSRV_LISTENERS, l->pid,
			 l->port);
		return;
	}
	view = calloc(1, sizeof(*view));
	if (!view)
		return;
	memcpy(bound.addr, l->addr, sizeof(bound.addr));
	r = container_ops_live.resolve((pid_t)l->pid, l->netns_ino, &bound, l->v6only, view, why, sizeof(why));
	if (r || !view->n) {
		log_warn("server %s: no window to its listener pid %u tcp/%u in cgroup %s: %s", sv->arg, l->pid, l->port,
			 path, why[0] ? why : strerror(r ? -r : ENOENT));
		free(view);
		return;
	}
	n = &s->l[s->nl++];
	memset(n, 0, sizeof(*n));
	n->cookie = l->cookie;
	n->cgid = l->cgroup_id;
	n->pid = l->pid;
	n->netns_ino = l->netns_ino;
	n->port = l->port;
	n->nt = view->n;
	memcpy(n->t, view->t, view->n * sizeof(n->t[0]));
	free(view);
	log_info("server %s: its listener pid %u tcp/%u in cgroup %s (network namespace %u, %u DNAT target(s))", sv->arg,
		 l->pid, l->port, path, l->netns_ino, n->nt);
	if (server_window(d, i)->open && s->ports_open) {
		/* a second socket (IPv6 beside IPv4): its targets join the window */
		struct nr_csrv add[CSRV_ELEMS];
		unsigned k = new_elems(s, l->port, add);
		r = netns_tell(d, s);
		if (!r)
			r = fw_csrv_open(d->fw, add, k, s->timeout_ms, 0, why, sizeof(why));
		if (r) {
			log_err("server %s: the targets of its listener pid %u cannot join the open window: %s", sv->arg,
				l->pid, why[0] ? why : strerror(-r));
			return;
		}
		memcpy(&s->el[s->nel], add, k * sizeof(add[0]));
		s->nel += k;
		return;
	}
	servers_cgroup_moved(d, 1u << i); /* tokens waiting for it: the window opens */
}

void csrv_on_foreign(struct ph_daemon *d, const struct ph_foreign_listener *l, int listen)
{
	for (unsigned i = 0; i < d->cfg.nsrv; i++) {
		struct csrv_line *s = line_of(d, i);
		if (!s)
			continue;
		if (!l) {
			/* blind: which listener is the container's is no longer known */
			s->nl = 0;
			server_close(d, i, PH_REASON_REVOKED);
			continue;
		}
		if (listen) {
			on_listen(d, i, l);
			continue;
		}
		for (unsigned k = 0; k < s->nl; k++)
			if (s->l[k].cookie == l->cookie) {
				s->l[k] = s->l[--s->nl];
				if (!s->nl && server_window(d, i)->open) {
					log_info("server %s: its listener closed", d->cfg.srv[i].arg);
					server_close(d, i, PH_REASON_LISTENER_CLOSED);
				}
				break;
			}
	}
}

void csrv_record_fields(const struct ph_daemon *d, unsigned i, struct jbuf *b)
{
	const struct csrv_line *s = d->csrvs && i < d->cfg.nsrv && d->cfg.srv[i].type == DES_CONTAINER ? &d->csrvs->s[i] : NULL;

	if (!s || !s->nl)
		return;
	jb_u64(b, "pid", s->l[0].pid);
	jb_u64(b, "socket_cgroup_id", s->l[0].cgid);
	jb_u64(b, "netns", s->l[0].netns_ino);
	jb_u64(b, "container_port", s->l[0].port);
	jb_arr_begin(b, "targets");
	for (unsigned k = 0; k < s->nel; k++) {
		char a[INET6_ADDRSTRLEN], br[IF_NAMESIZE] = "";
		if (!inet_ntop(s->el[k].family, s->el[k].addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		if (!if_indextoname(s->el[k].ifindex, br))
			snprintf(br, sizeof(br), "%u", s->el[k].ifindex);
		jb_obj_begin(b, NULL);
		jb_str(b, "addr", a);
		jb_str(b, "bridge", br);
		jb_u64(b, "port", s->el[k].port);
		jb_obj_end(b);
	}
	jb_arr_end(b);
}
