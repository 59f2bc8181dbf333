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
#include "probe.h"

struct ph_watch {
	struct porthole_bpf *skel;
	struct bpf_link *bind4, *bind6;
	struct ring_buffer *rb;
	watch_cb cb;
	void *ctx;
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* a verifier's whole log is no log line: the rejected program is
	 * named with the verifier's reason in one line (probe.c) */
	if (strstr(line, "-- BEGIN PROG LOAD LOG --"))
		return 0;
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
	const struct ph_kevent *e = data;

	if (size < sizeof(*e) || e->type == PH_EV_FOREIGN_LISTEN || e->type == PH_EV_FOREIGN_UNLISTEN)
		return 0; /* (those come only whole, from their own ring) */
	w->cb(w->ctx, e);
	return 0;
}

/* the foreign ring: a record shorter than its type's is no record */
static int on_foreign_sample(void *ctx, void *data, size_t size)
{
	struct ph_watch *w = ctx;
	const struct ph_kforeign *f = data;

	if (size < sizeof(*f) || (f->ev.type != PH_EV_FOREIGN_LISTEN && f->ev.type != PH_EV_FOREIGN_UNLISTEN))
		return 0;
	w->cb(w->ctx, &f->ev);
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

void watch_knobs_init(struct watch_knobs *k, const struct ph_config *cfg)
{
	struct stat st;
	socklen_t cl = sizeof(k->netns_cookie);
	int fd;

	memset(k, 0, sizeof(*k));
	k->mark_mask = cfg->mark_mask;
	/* our network namespace, to filter events in the kernel */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &k->netns_cookie, &cl) != 0)
		k->netns_cookie = 0;
	if (fd >= 0)
		close(fd);
	/* our PID namespace: the kernel reports pids as we see them. In the
	 * initial one (PROC_PID_INIT_INO) every task's global tgid is ours,
	 * while bpf_get_ns_current_pid_tgid() fails (tgid 0) for a task of a
	 * child PID namespace: a container's (Docker and Podman give each one) */
	if (stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != 0xEFFFFFFCu) {
		k->pidns_dev = ((__u64)major(st.st_dev) << 20) | minor(st.st_dev);
		k->pidns_ino = st.st_ino;
	}
}

static struct porthole_bpf *open_skel(const struct watch_knobs *k)
{
	struct porthole_bpf *s = porthole_bpf__open();

	if (!s)
		return NULL;
	s->rodata->netns_cookie = k->netns_cookie;
	s->rodata->mark_mask = k->mark_mask;
	s->rodata->pidns_dev = k->pidns_dev;
	s->rodata->pidns_ino = k->pidns_ino;
	return s;
}

static void *probe_open(const void *arg, struct bpf_object **obj)
{
	struct porthole_bpf *s = open_skel(arg);

	if (s)
		*obj = s->obj;
	return s;
}

static void probe_destroy(void *skel)
{
	porthole_bpf__destroy(skel);
}

void watch_probe_object(struct probe_object *o, const struct watch_knobs *k)
{
	*o = (struct probe_object){ .feature = "windows", .required = 1, .open = probe_open,
				    .destroy = probe_destroy, .arg = k };
}

int watch_open(struct ph_watch **out, const struct ph_config *cfg, const uint32_t *des_marks, const char *cg2_root,
	       watch_cb cb, void *ctx, char *why, size_t whylen)
{
	const char *step = "opening the BPF object";
	struct watch_knobs k;
	struct ph_watch *w;
	int err = 0, cgfd = -1;
	__u8 one = 1;

	libbpf_set_print(libbpf_log);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->ctx = ctx;
	watch_knobs_init(&k, cfg);
	w->skel = open_skel(&k);
	if (!w->skel) {
		err = -errno;
		goto fail;
	}
	step = "loading the BPF programs";
	err = porthole_bpf__load(w->skel);
	if (err)
		goto fail;
	{
		/* the embedded object is never read again: not resident here */
		size_t sz;
		const void *elf = porthole_bpf__elf_bytes(&sz);
		release_rodata(elf, sz);
	}
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
			struct ph_exe_key ek = { .dev = d->dev, .ino = d->ino };
			err = map_put(w->skel->maps.des_exe, &ek, &v);
		}
	}
	if (err)
		goto fail;
	step = "attaching the tracepoints";
	/* the walk of old listeners runs once, when the daemon asks */
	bpf_program__set_autoattach(w->skel->progs.ph_iter_foreign, false);
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
	close(cgfd);
	cgfd = -1;
	step = "creating the ring buffer reader";
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.events), on_sample, w, NULL);
	if (!w->rb) {
		err = -errno;
		goto fail;
	}
	if (ring_buffer__add(w->rb, bpf_map__fd(w->skel->maps.foreign_events), on_foreign_sample, w)) {
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

int watch_session_begin(struct ph_watch *w, int pidfd, uint32_t mark, uint32_t uid)
{
	struct ph_tag tag = { .mark = mark, .uid = uid ? uid : PH_TAG_ANY_UID }, old;
	int fd = bpf_map__fd(w->skel->maps.tags);
	__u64 flags = BPF_NOEXIST;
	__s64 one = 1;
	__u32 k = mark;
	int r;

	/* a process that carries only a designated parent's budget may still
	 * start a session: its tag becomes the session's */
	if (bpf_map_lookup_elem(fd, &pidfd, &old) == 0) {
		if (old.mark)
			return -EEXIST; /* another session (or daemon) already tags it */
		flags = BPF_EXIST;
	}
	/* the count first: the fork hook spreads a tag only while it exists */
	r = map_put(w->skel->maps.session_tasks, &k, &one);
	if (r)
		return r;
	if (bpf_map_update_elem(fd, &pidfd, &tag, flags)) {
		r = -errno;
		map_del(w->skel->maps.session_tasks, &k);
		return r == -ENOENT ? -EEXIST : r;
	}
	return 0;
}

int watch_budget_tag(struct ph_watch *w, int pidfd, uint32_t budget)
{
	struct ph_tag tag = { .mark = 0, .uid = PH_TAG_ANY_UID, .budget = budget };

	return bpf_map_update_elem(bpf_map__fd(w->skel->maps.tags), &pidfd, &tag, BPF_NOEXIST) ? -errno : 0;
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

int watch_foreign_listeners(struct ph_watch *w, void (*cb)(void *arg, const struct ph_kforeign *f), void *arg)
{
	int fd = bpf_map__fd(w->skel->maps.foreign_listeners);
	__u64 key, next, *prev = NULL;
	struct ph_kforeign f;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &f) == 0)
			cb(arg, &f);
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

int watch_foreign_walk(struct ph_watch *w)
{
	struct bpf_link *link = bpf_program__attach_iter(w->skel->progs.ph_iter_foreign, NULL);
	char buf[64];
	ssize_t n;
	int fd, err = 0;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		bpf_link__destroy(link);
		return err;
	}
	/* the program writes nothing: reading runs the walk to its end */
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	if (n < 0)
		err = -errno;
	close(fd);
	bpf_link__destroy(link);
	return err;
}

uint64_t watch_foreign_lost(const struct ph_watch *w)
{
	return __atomic_load_n(&w->skel->bss->lost_foreign, __ATOMIC_RELAXED);
}

uint64_t watch_foreign_untracked_init(const struct ph_watch *w)
{
	return __atomic_load_n(&w->skel->bss->foreign_untracked_init, __ATOMIC_RELAXED);
}

uint64_t watch_foreign_untracked(const struct ph_watch *w)
{
	return __atomic_load_n(&w->skel->bss->foreign_untracked, __ATOMIC_RELAXED);
}

int watch_add_ring(struct ph_watch *w, int map_fd, int (*fn)(void *ctx, void *data, size_t size), void *ctx)
{
	return ring_buffer__add(w->rb, map_fd, fn, ctx) ? (errno ? -errno : -EINVAL) : 0;
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
	porthole_bpf__destroy(w->skel);
	free(w);
}
