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
	char line[4096];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n >= sizeof(capture.text))
		return 0;
	if (capture.len + n >= sizeof(capture.text)) {
		/* keep the tail: the reason comes last */
		size_t drop = capture.len + n - sizeof(capture.text) + 1;
		memmove(capture.text, capture.text + drop, capture.len - drop);
		capture.len -= drop;
	}
	memcpy(capture.text + capture.len, line, n);
	capture.len += n;
	capture.text[capture.len] = '\0';
	return 0;
}

static int stats_line(const char *l)
{
	return !strncmp(l, "processed ", 10) || !strncmp(l, "verification time", 17) ||
	       !strncmp(l, "stack depth", 11) || !strncmp(l, "-- END", 6) || strstr(l, "-- END PROG LOAD LOG --") ||
	       !strncmp(l, "libbpf: failed to load", 22) || strstr(l, "failed to load object") ||
	       strstr(l, "failed to load program") || strstr(l, "BPF program load failed");
}

/* The verifier's reason: the last line that is not statistics or libbpf's
 * own wrapping. */
static void reason(char *why, size_t len, int err)
{
	char *save = NULL, *l, *best = NULL;

	for (l = strtok_r(capture.text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
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
