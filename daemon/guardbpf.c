// SPDX-License-Identifier: GPL-2.0-or-later
/* Loader of the guard of server windows (see guardbpf.h). */
#include "guardbpf.h"
#include "util.h"
#include "probe.h"
#include "sockdiag.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "guard.skel.h"

struct ph_guardbpf {
	struct guard_bpf *skel;
	struct bpf_link *link;
	int cgfd;                 /* the cgroup v2 root, kept open for attaching */
	char pin[128];            /* where the attached guard is pinned ("": no bpffs) */
	int overflowed;           /* guard_socks lost connections once: never detach again */
	guard_cb cb;
	void *ctx;
};

static struct guard_bpf *open_skel(const struct guardbpf_knobs *k)
{
	struct guard_bpf *s = guard_bpf__open();

	if (!s)
		return NULL;
	s->rodata->guard_dscp = k->guard_dscp;
	s->rodata->mark_mask = k->mark_mask;
	s->rodata->guard_mark = k->marks.guarded;
	s->rodata->guard_cand = k->marks.candidate;
	/* the resend digest's key: a peer that cannot know it cannot make
	 * other bytes that pass for the admitted ones */
	if (getrandom((void *)&s->rodata->sip_k0, sizeof(s->rodata->sip_k0), 0) != sizeof(s->rodata->sip_k0) ||
	    getrandom((void *)&s->rodata->sip_k1, sizeof(s->rodata->sip_k1), 0) != sizeof(s->rodata->sip_k1)) {
		guard_bpf__destroy(s);
		errno = EIO;
		return NULL;
	}
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

/* ---- pinned while attached: a killed daemon's guard goes on judging ---------------------- */

#define BPFFS "/sys/fs/bpf"
/* portholed.service runs the daemon as user porthole, who may not look into
 * /sys/fs/bpf (systemd mounts it 0700): its ExecStartPre= makes
 * /sys/fs/bpf/porthole for that user and BindPaths= shows it here */
#define BPFFS_UNIT "/run/porthole/bpf"

/* The guard of the daemon of this network namespace is pinned here while it
 * is attached: SIGKILL closes no file and unpins nothing, so the guard stays
 * attached and keeps dropping whatever the connections it judged send,
 * until the next daemon ends them (guardbpf_takeover). Without a bpffs at
 * either place there is nothing to pin to. */
static int pin_dir(uint64_t netns_cookie, char *buf, size_t len)
{
	static const char *const at[] = { BPFFS_UNIT, BPFFS };
	struct statfs sf;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		if (statfs(at[i], &sf) == 0 && sf.f_type == BPF_FS_MAGIC) {
			snprintf(buf, len, "%s/porthole-guard-%llx", at[i], (unsigned long long)netns_cookie);
			return 0;
		}
	}
	return -ENOENT;
}

static void pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int pin(struct ph_guardbpf *g)
{
	char p[192];
	int r;

	if (!g->pin[0])
		return -ENOENT;
	if (mkdir(g->pin, 0700) && errno != EEXIST)
		return -errno;
	pin_path(p, sizeof(p), g->pin, "socks");
	r = bpf_map__pin(g->skel->maps.guard_socks, p);
	pin_path(p, sizeof(p), g->pin, "link");
	if (!r)
		r = bpf_link__pin(g->link, p);
	return r;
}

static void unpin(struct ph_guardbpf *g)
{
	if (!g->pin[0])
		return;
	if (g->link && bpf_link__pin_path(g->link))
		bpf_link__unpin(g->link);
	if (bpf_map__is_pinned(g->skel->maps.guard_socks))
		bpf_map__unpin(g->skel->maps.guard_socks, NULL);
	rmdir(g->pin);
}

/* The connections listed in a guard_socks map (fd), ended. */
static int end_listed(int socks, unsigned *ended)
{
	size_t max = 16384;
	struct sockdiag_conn *c = calloc(max, sizeof(*c));
	__u64 key, next, *prev = NULL;
	struct ph_guard_sock v;
	unsigned n = 0;
	int r = 0;

	*ended = 0;
	if (!c)
		return -ENOMEM;
	while (n < max && bpf_map_get_next_key(socks, prev, &next) == 0) {
		if (bpf_map_lookup_elem(socks, &next, &v) == 0) {
			c[n].family = v.family;
			memcpy(c[n].laddr, v.laddr, 16);
			memcpy(c[n].raddr, v.raddr, 16);
			c[n].lport = v.lport;
			c[n].rport = v.rport;
			c[n].cookie = next;
			n++;
		}
		key = next;
		prev = &key;
	}
	if (n)
		r = sockdiag_destroy(c, n, ended);
	if (!r)
		for (unsigned i = 0; i < n; i++)
			bpf_map_delete_elem(socks, &c[i].cookie);
	free(c);
	return r;
}

int guardbpf_takeover(uint64_t netns_cookie, unsigned *ended)
{
	char dir[128], p[192];
	int fd, r = 0;

	*ended = 0;
	if (pin_dir(netns_cookie, dir, sizeof(dir)))
		return 0;
	pin_path(p, sizeof(p), dir, "socks");
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		r = end_listed(fd, ended);
		close(fd);
		if (r)
			return r; /* the old guard stays: it still judges them */
		unlink(p);
	}
	pin_path(p, sizeof(p), dir, "link");
	unlink(p); /* the last reference: the old guard detaches */
	rmdir(dir);
	return 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ph_guardbpf *g = ctx;

	if (size >= sizeof(struct ph_guard_event))
		g->cb(g->ctx, data);
	return 0;
}

void guardbpf_release_object(void)
{
	size_t sz;
	const void *elf = guard_bpf__elf_bytes(&sz);

	release_rodata(elf, sz);
}

/* the daemon's own network namespace: its sockets' guarded mark is read */
static int own_netns(struct ph_guardbpf *g)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	return guardbpf_netns(g, (uint32_t)st.st_ino, PH_GN_MARK, 1);
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
	pin_dir(k->netns_cookie, g->pin, sizeof(g->pin));
	step = "loading the guard";
	err = guard_bpf__load(g->skel);
	if (err)
		goto fail;
	guardbpf_release_object();
	step = "naming the daemon's network namespace to the guard";
	err = own_netns(g);
	if (err)
		goto fail;
	step = "filling the guard's ports";
	for (unsigned i = 0; i < k->nports && !err; i++) {
		__u16 port = k->ports[i];
		__u8 one = 1;
		err = bpf_map_update_elem(bpf_map__fd(g->skel->maps.guard_ports), &port, &one, BPF_ANY) ? -errno : 0;
	}
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
	unpin(g);
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
		 * at its second test unless it is for a served port or carries
		 * porthole's guard marks */
		g->link = bpf_program__attach_cgroup(g->skel->progs.ph_guard, g->cgfd);
		if (!g->link)
			return errno ? -errno : -EINVAL;
		return pin(g) ? 1 : 0;
	} else if (!on && g->link) {
		unpin(g);
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

int guardbpf_netns(struct ph_guardbpf *g, uint32_t ino, uint8_t kind, int add)
{
	__u32 k = ino;
	__u8 v = kind;

	if (!g)
		return add ? -ENOTSUP : 0;
	if (add && kind != PH_GN_MARK && kind != PH_GN_DSCP)
		return -EINVAL;
	return add ? map_put(g->skel->maps.guard_netns, &k, &v) : map_del(g->skel->maps.guard_netns, &k);
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

int guardbpf_end_connections(struct ph_guardbpf *g, unsigned *ended)
{
	int pend, r;

	*ended = 0;
	if (!g)
		return 0;
	if (__atomic_exchange_n(&g->skel->bss->guard_socks_added, 0, __ATOMIC_RELAXED) >
	    bpf_map__max_entries(g->skel->maps.guard_socks))
		g->overflowed = 1;
	if (g->overflowed) {
		/* more connections than the list holds: some were pushed out and
		 * cannot be ended; the guard stays, for good, to judge them
		 * (dropping all they send after their one request) */
		end_listed(bpf_map__fd(g->skel->maps.guard_socks), ended);
		return -EOVERFLOW;
	}
	r = end_listed(bpf_map__fd(g->skel->maps.guard_socks), ended);
	/* every guarded connection attempt ends too: one whose first data came
	 * on its handshake's last ACK was judged here only, and its socket
	 * never met the guard (no cookie: by its addresses) */
	pend = bpf_map__fd(g->skel->maps.guard_pending);
	{
		struct ph_conn_key ck, next, *prev = NULL;
		struct ph_guard_conn v;
		struct sockdiag_conn *c = calloc(bpf_map__max_entries(g->skel->maps.guard_pending), sizeof(*c));
		unsigned n = 0, more = 0;
		int r2;

		while (c && bpf_map_get_next_key(pend, prev, &next) == 0) {
			if (bpf_map_lookup_elem(pend, &next, &v) == 0 && v.guarded &&
			    n < bpf_map__max_entries(g->skel->maps.guard_pending)) {
				size_t al = next.family == AF_INET6 ? 16 : 4;
				c[n].family = (int)next.family;
				memcpy(c[n].raddr, next.saddr, al);
				memcpy(c[n].laddr, next.daddr, al);
				c[n].rport = ntohs(next.sport);
				c[n].lport = ntohs(next.dport);
				c[n].cookie = UINT64_MAX; /* INET_DIAG_NOCOOKIE: whichever socket has them */
				n++;
			}
			ck = next;
			prev = &ck;
		}
		r2 = n ? sockdiag_destroy(c, n, &more) : 0;
		*ended += more;
		if (!r)
			r = r2;
		free(c);
		while (bpf_map_get_next_key(pend, NULL, &ck) == 0)
			if (bpf_map_delete_elem(pend, &ck))
				break;
	}
	return r;
}

uint64_t guardbpf_lost(const struct ph_guardbpf *g)
{
	return g ? __atomic_load_n(&g->skel->bss->guard_lost_events, __ATOMIC_RELAXED) : 0;
}
