/* BPF loader (see watch.h). */
#include "watch.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <malloc.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "porthole.skel.h"

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
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO, "bpf: %s", line);
	return 0;
}

int watch_supported(char *why, size_t whylen)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(why, whylen, "kernel BTF (/sys/kernel/btf/vmlinux) is missing: needs CONFIG_DEBUG_INFO_BTF");
		return -ENOTSUP;
	}
	/* tracing programs cannot be probed without a target; loading tells */
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(why, whylen, "BPF ring buffers are not available (Linux >= 5.8 needed)");
		return -ENOTSUP;
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

int watch_open(struct ph_watch **out, const struct ph_config *cfg, const char *cg2_root,
	       uint32_t session_level, watch_cb cb, void *ctx)
{
	struct ph_watch *w;
	int err, cgfd = -1;
	__u8 one = 1;

	libbpf_set_print(libbpf_log);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->ctx = ctx;
	w->skel = porthole_bpf__open();
	if (!w->skel) {
		err = -errno;
		goto fail;
	}
	w->skel->rodata->session_level = session_level;
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
	if (cfg->ndes) {
		w->skel->rodata->mark_value = cfg->mark;
		w->skel->rodata->mark_mask = cfg->mark_mask;
	}
	err = porthole_bpf__load(w->skel);
	if (err)
		goto fail;
	for (unsigned i = 0; i < cfg->nports; i++) {
		__u16 p = cfg->ports[i];
		err = bpf_map_update_elem(bpf_map__fd(w->skel->maps.watched_ports), &p, &one, BPF_ANY);
		if (err) {
			err = -errno;
			goto fail;
		}
	}
	for (unsigned i = 0; i < cfg->ndes; i++) {
		const struct ph_designation *d = &cfg->des[i];
		__u32 v = i + 1;
		if (d->type == DES_UID)
			err = bpf_map_update_elem(bpf_map__fd(w->skel->maps.des_uid), &d->uid, &v, BPF_ANY);
		else if (d->type == DES_EXE) {
			struct ph_exe_key k = { .dev = d->dev, .ino = d->ino };
			err = bpf_map_update_elem(bpf_map__fd(w->skel->maps.des_exe), &k, &v, BPF_ANY);
		}
		if (err) {
			err = -errno;
			goto fail;
		}
	}
	err = porthole_bpf__attach(w->skel); /* the tracepoint; cgroup hooks below */
	if (err)
		goto fail;
	if (cfg->ndes) {
		/* every bind on the host passes through these: attach them only
		 * when there is something to designate */
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
	}
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.events), on_sample, w, NULL);
	if (!w->rb) {
		err = -errno;
		goto fail;
	}
	/* loading parsed the kernel's BTF (megabytes): give the memory back */
	malloc_trim(0);
	*out = w;
	return 0;
fail:
	if (cgfd >= 0)
		close(cgfd);
	watch_close(w);
	return err < 0 ? err : -EINVAL;
}

int watch_designate_cgroup(struct ph_watch *w, uint64_t cgid, uint32_t des_index, int add)
{
	int fd = bpf_map__fd(w->skel->maps.des_cgroup);
	__u32 v = des_index + 1;
	__u64 k = cgid;

	if (add)
		return bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
	return bpf_map_delete_elem(fd, &k) && errno != ENOENT ? -errno : 0;
}

static int set_key(int fd, const void *key, int present)
{
	__u8 one = 1;

	if (present)
		return bpf_map_update_elem(fd, key, &one, BPF_ANY) ? -errno : 0;
	return bpf_map_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
}

int watch_window_cgroup(struct ph_watch *w, uint64_t cgid, int open)
{
	__u64 k = cgid;

	return set_key(bpf_map__fd(w->skel->maps.win_cgroups), &k, open);
}

int watch_window_mark_port(struct ph_watch *w, uint16_t port, int open)
{
	__u16 k = port;

	return set_key(bpf_map__fd(w->skel->maps.win_mark_ports), &k, open);
}

int watch_fd(const struct ph_watch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

int watch_consume(struct ph_watch *w)
{
	return ring_buffer__consume(w->rb);
}

unsigned watch_prog_count(const struct ph_watch *w)
{
	return w->skel ? 1 + (w->bind4 != NULL) + (w->bind6 != NULL) : 0;
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
