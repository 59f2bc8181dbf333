// SPDX-License-Identifier: GPL-2.0-or-later
/* run --container's temporary designations (container_run.h): a small
 * table of sessions and the container each designates; container.c asks
 * it after the config's lines, and session.c ends an entry with its
 * session. Nothing here touches the kernel: a window it designates is
 * container.c's like any other, and closes through container_end (reason exited). */
#include "container_run.h"
#include "container.h"
#include "daemon.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ph_crun {
	struct {
		uint64_t session_id; /* 0: free */
		struct ph_designation des;
	} slot[PH_CRUN_MAX];
	unsigned used;
};

int crun_check(const struct ph_daemon *d, const char *spec, char *why, size_t whylen)
{
	const struct ph_crun *t = d->crun;
	const char *name;
	int engine;

	if (ph_run_container_parse(spec, &engine, &name, why, whylen))
		return -EINVAL;
	if (!config_has_published(&d->cfg)) {
		/* the container mark and objects exist only with one (firewall.c) */
		snprintf(why, whylen, "no published mapping is possible: the config has no 'designate ... published' or "
			 "'designate = container' line, so porthole's table has no container objects (add one and "
			 "restart portholed)");
		return -EOPNOTSUPP;
	}
	for (unsigned k = 0; t && k < PH_CRUN_MAX; k++)
		if (t->slot[k].session_id && !strcmp(t->slot[k].des.arg, spec)) {
			snprintf(why, whylen, "session %llu designates %s already", (unsigned long long)t->slot[k].session_id,
				 spec);
			return -EBUSY;
		}
	if (t && t->used == PH_CRUN_MAX) {
		snprintf(why, whylen, "%d sessions designate a container already (the most at once)", PH_CRUN_MAX);
		return -EUSERS;
	}
	return 0;
}

int crun_begin(struct ph_daemon *d, uint64_t session_id, const char *spec, const uint16_t *ports, unsigned nports,
	       uint32_t max_window, char *why, size_t whylen)
{
	struct ph_designation *des = NULL;
	const char *name;
	int engine, r = crun_check(d, spec, why, whylen);

	if (r)
		return r;
	if (!d->crun && !(d->crun = calloc(1, sizeof(*d->crun)))) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned k = 0; !des && k < PH_CRUN_MAX; k++)
		if (!d->crun->slot[k].session_id) {
			d->crun->slot[k].session_id = session_id;
			des = &d->crun->slot[k].des;
		}
	ph_run_container_parse(spec, &engine, &name, NULL, 0);
	memset(des, 0, sizeof(*des));
	des->type = DES_CONTAINER;
	des->published = 1;
	des->engine = engine == 1 ? PH_ENGINE_DOCKER : PH_ENGINE_PODMAN;
	copy_str(des->arg, sizeof(des->arg), spec);
	copy_str(des->name, sizeof(des->name), name);
	if (nports > PH_MAX_PORTS)
		nports = PH_MAX_PORTS;
	if (nports)
		memcpy(des->ports, ports, nports * sizeof(ports[0]));
	des->nports = nports;
	des->max_window = max_window;
	des->line = 0; /* no line: "config_line": 0 in its records */
	d->crun->used++;
	return 0;
}

void crun_end(struct ph_daemon *d, uint64_t session_id)
{
	struct ph_crun *t = d->crun;
	char why[300];
	unsigned k;

	for (k = 0; t && k < PH_CRUN_MAX; k++)
		if (t->slot[k].session_id == session_id)
			break;
	if (!t || k == PH_CRUN_MAX)
		return;
	snprintf(why, sizeof(why), "the command of session %llu (run --container %s) exited",
		 (unsigned long long)session_id, t->slot[k].des.arg);
	for (unsigned i = 0; container_window_at(d, i);) {
		const struct ph_cwin *w = container_window_at(d, i);
		if (w->des_index == PH_CRUN_BASE + k)
			container_end(d, w->cookie, PH_REASON_EXITED, why); /* the list changed: same i again */
		else
			i++;
	}
	memset(&t->slot[k], 0, sizeof(t->slot[k]));
	if (!--t->used) {
		free(t);
		d->crun = NULL;
	}
}

int crun_designation_of(struct ph_daemon *d, const struct ph_container_ops *ops, const char *cgroup, char *why,
			size_t whylen)
{
	struct ph_crun *t = d->crun;

	for (unsigned k = 0; t && k < PH_CRUN_MAX; k++) {
		const struct ph_designation *des = &t->slot[k].des;
		char w[320] = "";
		int r;
		if (!t->slot[k].session_id)
			continue;
		r = ops->container_named(d, des, cgroup, w, sizeof(w));
		if (r == 1)
			return (int)(PH_CRUN_BASE + k);
		if (why && whylen)
			snprintf(why + strlen(why), whylen - strlen(why), "%scontainer %s (session %llu): %s",
				 why[0] ? "; " : "", des->arg, (unsigned long long)t->slot[k].session_id, w);
		if (r < 0)
			return -2;
	}
	return -1;
}

const struct ph_designation *designation_at(const struct ph_daemon *d, unsigned i)
{
	static const struct ph_designation gone = { .type = DES_CONTAINER, .arg = "(run --container, ended)",
						    .published = 1 };

	if (i < d->cfg.ndes)
		return &d->cfg.des[i];
	if (i >= PH_CRUN_BASE && i < PH_CRUN_BASE + PH_CRUN_MAX && d->crun && d->crun->slot[i - PH_CRUN_BASE].session_id)
		return &d->crun->slot[i - PH_CRUN_BASE].des;
	return &gone;
}
