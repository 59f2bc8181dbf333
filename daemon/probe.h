/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Probing the kernel with the real programs: each BPF program of an object
 * loaded on its own (the others' autoload off), so a kernel that rejects
 * one is told by the program's name and the verifier's own reason, and a
 * loaded one by its verified instruction count. Used by `portholed --probe`
 * (which `porthole check` runs) and, when a load fails, by the daemon to
 * say which program the kernel refused. Nothing is attached. */
#ifndef PORTHOLE_PROBE_H
#define PORTHOLE_PROBE_H

#include <stdint.h>
#include <stdio.h>

struct bpf_object;

struct probe_result {
	char prog[64];
	const char *feature;  /* what needs it: "windows", "server windows" */
	int required;         /* the daemon cannot start without it */
	int loaded;
	uint32_t insns;       /* verified instructions (0: the kernel does not say) */
	char why[256];        /* rejected: the verifier's reason, one line */
};

/* An object to probe: open() returns a skeleton with its read-only knobs
 * set as the daemon would set them (dead code is pruned by their values)
 * and its bpf_object in *obj, or NULL; destroy() frees it. */
struct probe_object {
	const char *feature;
	int required;
	void *(*open)(const void *arg, struct bpf_object **obj);
	void (*destroy)(void *skel);
	const void *arg;
};

#define PROBE_MAX 16

/* Probe every program of o, appending to res[*n] (at most max in all).
 * Returns 0, or a negative errno when the object itself cannot be opened. */
int probe_object(const struct probe_object *o, struct probe_result *res, unsigned max, unsigned *n);
/* "ph_bind4 (windows): loaded, 57 instructions verified" / "...: rejected: REASON" */
void probe_format(const struct probe_result *r, char *buf, size_t len);

#endif
