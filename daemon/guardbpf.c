// SPDX-License-Identifier: GPL-2.0-or-later
/* Loader of the guard of server windows (see guardbpf.h). */
#include "guardbpf.h"
#include "probe.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "guard.skel.h"

struct ph_guardbpf {
	struct guard_bpf *skel;
	struct bpf_link *link;
	int cgfd;                 /* the cgroup v2 root, kept open for attaching */
	guard_cb cb;
	void *ctx;
};

static struct guard_bpf *open_skel(const struct guardbpf_knobs *k)
{
	struct guard_bpf *s = guard_bpf__open();

	if (!s)
		return NULL;
	s->rodata->netns_cookie = k->netns_cookie;
	s->rodata->mark_mask = k->mark_mask;
	s->rodata->guard_mark = k->marks.guarded;
	s->rodata->guard_cand = k->marks.candidate;
	return s;
}

static void *probe_open(const void *arg, struct bpf_object **obj)
{
	struct guard_bpf *s = open_skel(arg);

	if (s)
		*obj = s->obj;
	return s;
}

static void probe_destroy(void *skel)
{
	guard_bpf__destroy(skel);
}

void guardbpf_probe_object(struct probe_object *o, const struct guardbpf_knobs *k)
{
	*o = (struct probe_object){ .feature = "server windows", .required = 0, .open = probe_open,
				    .destroy = probe_destroy, .arg = k };
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ph_guardbpf *g = ctx;

	if (size >= sizeof(struct ph_guard_event))
		g->cb(g->ctx, data);
	return 0;
}

int guardbpf_open(struct ph_guardbpf **out, const struct guardbpf_knobs *k, const char *cg2_root, struct ph_watch *w,
		  guard_cb cb, void *ctx, char *why, size_t whylen)
{
	const char *step = "opening the guard's BPF object";
	struct ph_guardbpf *g;
	int err;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cb = cb;
	g->ctx = ctx;
	g->cgfd = -1;
	g->skel = open_skel(k);
	if (!g->skel) {
		err = -errno;
		goto fail;
	}
	step = "loading the guard";
	err = guard_bpf__load(g->skel);
	if (err)
		goto fail;
	step = "opening the cgroup v2 root";
	g->cgfd = open(cg2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->cgfd < 0) {
		err = -errno;
		goto fail;
	}
	step = "reading the guard's ring buffer";
	err = watch_add_ring(w, bpf_map__fd(g->skel->maps.guard_events), on_sample, g);
	if (err)
		goto fail;
	*out = g;
	return 0;
fail:
	if (err >= 0)
		err = -EINVAL;
	snprintf(why, whylen, "%s: %s", step, strerror(-err));
	guardbpf_close(g);
	return err;
}

void guardbpf_close(struct ph_guardbpf *g)
{
	if (!g)
		return;
	bpf_link__destroy(g->link);
	if (g->cgfd >= 0)
		close(g->cgfd);
	guard_bpf__destroy(g->skel);
	free(g);
}

static int map_put(struct bpf_map *m, const void *k, const void *v)
{
	return bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY) ? -errno : 0;
}

static int map_del(struct bpf_map *m, const void *k)
{
	return bpf_map_delete_elem(bpf_map__fd(m), k) && errno != ENOENT ? -errno : 0;
}

int guardbpf_attach(struct ph_guardbpf *g, int on)
{
	if (!g)
		return on ? -ENOTSUP : 0;
	if (on && !g->link) {
		/* every inbound segment on the host passes through it; it leaves
		 * at its first test unless porthole's guard marks are on it */
		g->link = bpf_program__attach_cgroup(g->skel->progs.ph_guard, g->cgfd);
		if (!g->link)
			return errno ? -errno : -EINVAL;
	} else if (!on && g->link) {
		bpf_link__destroy(g->link);
		g->link = NULL;
	}
	return 0;
}

int guardbpf_server(struct ph_guardbpf *g, uint64_t cgid, uint32_t index, uint32_t flags, int add)
{
	struct ph_guard_srv v = { .index = index, .flags = flags };
	__u64 k = cgid;

	if (!g)
		return add ? -ENOTSUP : 0;
	return add ? map_put(g->skel->maps.guard_servers, &k, &v) : map_del(g->skel->maps.guard_servers, &k);
}

int guardbpf_token(struct ph_guardbpf *g, uint32_t index, const char *token, int add)
{
	struct ph_token_key k;
	size_t n = strlen(token);
	__u8 one = 1;

	if (!g)
		return add ? -ENOTSUP : 0;
	if (n == 0 || n > PH_TOKEN_MAX)
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	k.server = index;
	k.len = (__u32)n;
	memcpy(k.token, token, n);
	return add ? map_put(g->skel->maps.guard_tokens, &k, &one) : map_del(g->skel->maps.guard_tokens, &k);
}

int guardbpf_stats(struct ph_guardbpf *g, uint32_t index, uint64_t *admitted, uint64_t *dropped)
{
	struct ph_guard_stats st;
	__u32 k = index;

	*admitted = *dropped = 0;
	if (!g)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(g->skel->maps.guard_stats), &k, &st))
		return -errno;
	*admitted = st.admitted;
	*dropped = st.dropped;
	return 0;
}

uint64_t guardbpf_lost(const struct ph_guardbpf *g)
{
	return g ? __atomic_load_n(&g->skel->bss->guard_lost_events, __ATOMIC_RELAXED) : 0;
}
