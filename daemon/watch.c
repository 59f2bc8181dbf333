// SPDX-License-Identifier: GPL-2.0-or-later
/* BPF loader (see watch.h). */
#include "watch.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "porthole.skel.h"

struct ph_watch {
	struct porthole_bpf *skel;
	struct bpf_link *bind4, *bind6, *guard;
	int cgfd;                 /* the cgroup v2 root, for the guard (-1: no serve lines) */
	struct ring_buffer *rb;
	watch_cb cb;
	guard_cb gcb;
	void *ctx;
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO, "bpf: %s", line);
	return 0;
}

int watch_supported(char *why, size_t whylen)
{
	int r;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(why, whylen, "kernel BTF (/sys/kernel/btf/vmlinux) is missing: needs CONFIG_DEBUG_INFO_BTF");
		return -ENOTSUP;
	}
	/* tracing programs cannot be probed without a target; loading tells.
	 * A ring buffer created by hand says what really fails: libbpf's probe
	 * answers "not supported" for EPERM too */
	r = bpf_ringbuf_probe();
	if (r == -EPERM || r == -EACCES) {
		snprintf(why, whylen, "bpf() is refused (%s): a seccomp filter (e.g. a container's or a unit's "
			 "SystemCallFilter=) or a missing capability (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)", strerror(-r));
		return r;
	}
	if (r) {
		snprintf(why, whylen, "BPF ring buffers are not available (%s; Linux >= 5.8 needed)", strerror(-r));
		return -ENOTSUP;
	}
	r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL);
	if (r != 1) {
		snprintf(why, whylen, "BPF task storage is not available (%s; Linux >= 5.11 needed)",
			 r < 0 ? strerror(-r) : "the kernel says no");
		return r < 0 ? r : -ENOTSUP;
	}
	return 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ph_watch *w = ctx;

	if (size < sizeof(struct ph_kevent))
		return 0;
	w->cb(w->ctx, data);
	return 0;
}

static int map_put(struct bpf_map *m, const void *k, const void *v)
{
	return bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY) ? -errno : 0;
}

static int map_del(struct bpf_map *m, const void *k)
{
	return bpf_map_delete_elem(bpf_map__fd(m), k) && errno != ENOENT ? -errno : 0;
}

static int on_guard_sample(void *ctx, void *data, size_t size)
{
	struct ph_watch *w = ctx;

	if (size < sizeof(struct ph_guard_event) || !w->gcb)
		return 0;
	w->gcb(w->ctx, data);
	return 0;
}

int watch_open(struct ph_watch **out, const struct ph_config *cfg, const uint32_t *des_marks, const char *cg2_root,
	       const struct ph_guard_marks *gm, watch_cb cb, guard_cb gcb, void *ctx, char *why, size_t whylen)
{
	const char *step = "opening the BPF object";
	struct ph_watch *w;
	int err = 0, cgfd = -1;
	__u8 one = 1;

	libbpf_set_print(libbpf_log);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->gcb = gcb;
	w->cgfd = -1;
	w->ctx = ctx;
	w->skel = porthole_bpf__open();
	if (!w->skel) {
		err = -errno;
		goto fail;
	}
	{
		/* our network namespace, to filter events in the kernel */
		__u64 cookie = 0;
		socklen_t cl = sizeof(cookie);
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cl) == 0)
			w->skel->rodata->netns_cookie = cookie;
		if (fd >= 0)
			close(fd);
	}
	w->skel->rodata->mark_mask = cfg->mark_mask;
	if (gm) {
		w->skel->rodata->guard_mark = gm->guarded;
		w->skel->rodata->guard_cand = gm->candidate;
	}
	{
		/* our PID namespace: the kernel reports pids as we see them */
		struct stat st;
		if (stat("/proc/self/ns/pid", &st) == 0) {
			w->skel->rodata->pidns_dev = ((__u64)major(st.st_dev) << 20) | minor(st.st_dev);
			w->skel->rodata->pidns_ino = st.st_ino;
		}
	}
	step = "loading the BPF programs";
	err = porthole_bpf__load(w->skel);
	if (err)
		goto fail;
	step = "filling the BPF maps";
	for (unsigned i = 0; i < cfg->nports && !err; i++) {
		__u16 p = cfg->ports[i];
		err = map_put(w->skel->maps.watched_ports, &p, &one);
	}
	for (unsigned i = 0; i < cfg->ndes && !err; i++) {
		const struct ph_designation *d = &cfg->des[i];
		__u32 v = des_marks[i];
		if (d->type == DES_UID) {
			err = map_put(w->skel->maps.des_uid, &d->uid, &v);
		} else if (d->type == DES_EXE) {
			struct ph_exe_key k = { .dev = d->dev, .ino = d->ino };
			err = map_put(w->skel->maps.des_exe, &k, &v);
		}
	}
	if (err)
		goto fail;
	step = "attaching the tracepoints";
	err = porthole_bpf__attach(w->skel); /* the tracepoints; cgroup hooks below */
	if (err)
		goto fail;
	/* every bind on the host passes through these; they leave at their
	 * first check unless the port is watched */
	step = "attaching the bind hooks to the cgroup v2 root";
	cgfd = open(cg2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		goto fail;
	}
	w->bind4 = bpf_program__attach_cgroup(w->skel->progs.ph_bind4, cgfd);
	if (!w->bind4) {
		err = -errno;
		goto fail;
	}
	w->bind6 = bpf_program__attach_cgroup(w->skel->progs.ph_bind6, cgfd);
	if (!w->bind6) {
		err = -errno;
		goto fail;
	}
	if (gm) {
		/* attached while a server window is open (watch_guard_attach);
		 * the cgroup root stays open for that */
		w->cgfd = cgfd;
		cgfd = -1;
	} else {
		close(cgfd);
		cgfd = -1;
	}
	step = "creating the ring buffer reader";
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.events), on_sample, w, NULL);
	if (!w->rb) {
		err = -errno;
		goto fail;
	}
	if (gm && ring_buffer__add(w->rb, bpf_map__fd(w->skel->maps.guard_events), on_guard_sample, w)) {
		err = -errno;
		goto fail;
	}
	/* loading parsed the kernel's BTF (megabytes): give the memory back */
	malloc_trim(0);
	*out = w;
	return 0;
fail:
	if (err >= 0)
		err = -EINVAL;
	snprintf(why, whylen, "%s: %s%s", step, strerror(-err),
		 err == -EPERM ? " (a seccomp filter or a missing capability: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)" : "");
	if (cgfd >= 0)
		close(cgfd);
	watch_close(w);
	return err;
}

int watch_designate_cgroup(struct ph_watch *w, uint64_t cgid, uint32_t mark, int add)
{
	__u32 v = mark;
	__u64 k = cgid;

	return add ? map_put(w->skel->maps.des_cgroup, &k, &v) : map_del(w->skel->maps.des_cgroup, &k);
}

int watch_designate_exe(struct ph_watch *w, uint64_t dev, uint64_t ino, uint32_t mark, int add)
{
	struct ph_exe_key k = { .dev = dev, .ino = ino };
	__u32 v = mark;

	return add ? map_put(w->skel->maps.des_exe, &k, &v) : map_del(w->skel->maps.des_exe, &k);
}

int watch_session_begin(struct ph_watch *w, int pidfd, uint32_t mark)
{
	struct ph_tag tag = { .mark = mark };
	__s64 one = 1;
	__u32 k = mark;
	int r;

	/* the count first: the fork hook spreads a tag only while it exists */
	r = map_put(w->skel->maps.session_tasks, &k, &one);
	if (r)
		return r;
	if (bpf_map_update_elem(bpf_map__fd(w->skel->maps.tags), &pidfd, &tag, BPF_NOEXIST)) {
		r = -errno;
		map_del(w->skel->maps.session_tasks, &k);
		return r; /* EEXIST: another session (or daemon) already tags it */
	}
	return 0;
}

void watch_session_end(struct ph_watch *w, uint32_t mark)
{
	__u32 k = mark;

	map_del(w->skel->maps.session_tasks, &k);
}

int64_t watch_session_tasks(struct ph_watch *w, uint32_t mark)
{
	__u32 k = mark;
	__s64 v;

	if (bpf_map_lookup_elem(bpf_map__fd(w->skel->maps.session_tasks), &k, &v))
		return -errno;
	return v;
}

int watch_window(struct ph_watch *w, uint32_t mark, uint16_t port, int open)
{
	struct ph_win_key k = { .mark = mark, .port = port };
	__u8 one = 1;

	return open ? map_put(w->skel->maps.windows, &k, &one) : map_del(w->skel->maps.windows, &k);
}

int watch_listeners(struct ph_watch *w, void (*cb)(void *arg, uint64_t cookie, const struct ph_listener *l), void *arg)
{
	int fd = bpf_map__fd(w->skel->maps.listeners);
	__u64 key, next, *prev = NULL;
	struct ph_listener l;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &l) == 0)
			cb(arg, next, &l);
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

int watch_guard_attach(struct ph_watch *w, int on)
{
	if (on && !w->guard) {
		if (w->cgfd < 0)
			return -EINVAL;
		/* every inbound segment on the host passes through it; it leaves
		 * at its first test unless porthole's guard marks are on it */
		w->guard = bpf_program__attach_cgroup(w->skel->progs.ph_guard, w->cgfd);
		if (!w->guard)
			return errno ? -errno : -EINVAL;
	} else if (!on && w->guard) {
		bpf_link__destroy(w->guard);
		w->guard = NULL;
	}
	return 0;
}

int watch_guard_server(struct ph_watch *w, uint64_t cgid, uint32_t index, uint32_t flags, int add)
{
	struct ph_guard_srv v = { .index = index, .flags = flags };
	__u64 k = cgid;

	return add ? map_put(w->skel->maps.guard_servers, &k, &v) : map_del(w->skel->maps.guard_servers, &k);
}

int watch_guard_token(struct ph_watch *w, uint32_t index, const char *token, int add)
{
	struct ph_token_key k;
	size_t n = strlen(token);
	__u8 one = 1;

	if (n == 0 || n > PH_TOKEN_MAX)
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	k.server = index;
	k.len = (__u32)n;
	memcpy(k.token, token, n);
	return add ? map_put(w->skel->maps.guard_tokens, &k, &one) : map_del(w->skel->maps.guard_tokens, &k);
}

int watch_guard_stats(struct ph_watch *w, uint32_t index, uint64_t *admitted, uint64_t *dropped)
{
	struct ph_guard_stats st;
	__u32 k = index;

	*admitted = *dropped = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(w->skel->maps.guard_stats), &k, &st))
		return -errno;
	*admitted = st.admitted;
	*dropped = st.dropped;
	return 0;
}

uint64_t watch_guard_lost(const struct ph_watch *w)
{
	return __atomic_load_n(&w->skel->bss->guard_lost_events, __ATOMIC_RELAXED);
}

uint64_t watch_lost_events(const struct ph_watch *w)
{
	return __atomic_load_n(&w->skel->bss->lost_events, __ATOMIC_RELAXED);
}

int watch_fd(const struct ph_watch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

int watch_consume(struct ph_watch *w)
{
	return ring_buffer__consume(w->rb);
}

void watch_close(struct ph_watch *w)
{
	if (!w)
		return;
	ring_buffer__free(w->rb);
	bpf_link__destroy(w->bind4);
	bpf_link__destroy(w->bind6);
	bpf_link__destroy(w->guard);
	if (w->cgfd >= 0)
		close(w->cgfd);
	porthole_bpf__destroy(w->skel);
	free(w);
}
