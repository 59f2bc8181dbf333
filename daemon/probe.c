// SPDX-License-Identifier: GPL-2.0-or-later
/* Load each BPF program on its own and tell what the kernel said (see
 * probe.h). The verifier's log reaches us through libbpf's print callback
 * (libbpf loads again with a log after a failure); its reason is the last
 * line before the statistics ("processed N insns ..."). */
#include "probe.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static struct {
	char text[16384]; /* the tail of what libbpf said during one load */
	size_t len;
} capture;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	size_t n, keep;
	int r;

	if (level == LIBBPF_DEBUG)
		return 0;
	r = vasprintf(&line, fmt, ap); /* a verifier log comes in one call */
	if (r < 0)
		return 0;
	n = (size_t)r;
	/* keep the tail of everything said: the reason comes last */
	if (n >= sizeof(capture.text)) {
		memcpy(capture.text, line + n - (sizeof(capture.text) - 1), sizeof(capture.text) - 1);
		capture.len = sizeof(capture.text) - 1;
	} else {
		keep = capture.len + n < sizeof(capture.text) ? capture.len : sizeof(capture.text) - 1 - n;
		memmove(capture.text, capture.text + capture.len - keep, keep);
		memcpy(capture.text + keep, line, n);
		capture.len = keep + n;
	}
	capture.text[capture.len] = '\0';
	free(line);
	return 0;
}

static int stats_line(const char *l)
{
	return !strncmp(l, "processed ", 10) || !strncmp(l, "verification time", 17) ||
	       !strncmp(l, "stack depth", 11) || !strncmp(l, "-- END", 6) || strstr(l, "-- END PROG LOAD LOG --") ||
	       !strncmp(l, "libbpf: failed to load", 22) || strstr(l, "failed to load object") ||
	       strstr(l, "failed to load program") || strstr(l, "BPF program load failed");
}

/* The verifier's reason: the last line of its log that is not statistics;
 * without a log (libbpf failed before the kernel spoke), libbpf's last
 * word. */
static void reason(char *why, size_t len, int err)
{
	char *save = NULL, *l, *best = NULL, *text = capture.text, *end;

	/* the log's end (its beginning may be cut: only the tail is kept) */
	end = strstr(text, "-- END PROG LOAD LOG --");
	if (end) {
		*end = '\0';
		l = strstr(text, "-- BEGIN PROG LOAD LOG --");
		if (l)
			text = l + strlen("-- BEGIN PROG LOAD LOG --");
	}
	for (l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l && !stats_line(l))
			best = l;
	}
	if (best && !strncmp(best, "libbpf: ", 8))
		best += 8;
	if (best)
		snprintf(why, len, "%s", best);
	else
		snprintf(why, len, "%s", strerror(err > 0 ? err : -err));
}

int probe_object(const struct probe_object *o, struct probe_result *res, unsigned max, unsigned *n)
{
	libbpf_print_fn_t old;
	struct bpf_object *obj;
	struct bpf_program *p;
	unsigned count = 0;
	void *skel;

	skel = o->open(o->arg, &obj);
	if (!skel)
		return errno ? -errno : -EINVAL;
	bpf_object__for_each_program(p, obj)
		count++;
	o->destroy(skel);
	old = libbpf_set_print(capture_print);
	for (unsigned i = 0; i < count && *n < max; i++) {
		struct probe_result *r = &res[*n];
		struct bpf_program *target = NULL;
		unsigned k = 0;
		int err;

		memset(r, 0, sizeof(*r));
		r->feature = o->feature;
		r->required = o->required;
		skel = o->open(o->arg, &obj);
		if (!skel) {
			libbpf_set_print(old);
			return errno ? -errno : -EINVAL;
		}
		bpf_object__for_each_program(p, obj) {
			bpf_program__set_autoload(p, k == i);
			if (k++ == i)
				target = p;
		}
		copy_str(r->prog, sizeof(r->prog), bpf_program__name(target));
		capture.len = 0;
		capture.text[0] = '\0';
		err = bpf_object__load(obj);
		if (!err) {
			struct bpf_prog_info info;
			__u32 il = sizeof(info);

			memset(&info, 0, sizeof(info));
			r->loaded = 1;
			if (!bpf_obj_get_info_by_fd(bpf_program__fd(target), &info, &il))
				r->insns = info.verified_insns;
		} else {
			reason(r->why, sizeof(r->why), err);
		}
		o->destroy(skel);
		(*n)++;
	}
	libbpf_set_print(old);
	return 0;
}

void probe_format(const struct probe_result *r, char *buf, size_t len)
{
	if (r->loaded && r->insns)
		snprintf(buf, len, "%s (%s): loaded, %u instructions verified", r->prog, r->feature, r->insns);
	else if (r->loaded)
		snprintf(buf, len, "%s (%s): loaded", r->prog, r->feature);
	else
		snprintf(buf, len, "%s (%s): rejected: %s", r->prog, r->feature, r->why);
}
