/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by the daemon and the CLI: strict number parsing,
 * clocks, whole-file reads and writes. Every function returns 0 or -errno. */
#ifndef PORTHOLE_UTIL_H
#define PORTHOLE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NSEC_PER_SEC 1000000000ULL

/* Parse a whole decimal string into [min, max]. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Copy with truncation check: -ENAMETOOLONG if src does not fit. */
int copy_str(char *dst, size_t dstsz, const char *src);
uint64_t now_ns(int clockid);
/* Read at most bufsz-1 bytes of a small (proc/sysfs) file, NUL-terminated. */
int read_small_file(const char *path, char *buf, size_t bufsz);
int write_small_file(const char *path, const char *s);
/* "80,443" */
void format_ports(char *buf, size_t len, const uint16_t *ports, unsigned n);
/* Create and drop a BPF ring buffer: 0, or what bpf() says (-EPERM: a
 * seccomp filter or a missing capability). */
int bpf_ringbuf_probe(void);
/* true if p is absolute with no ".." component: the one test of a webroot
 * (serve's webroot= and caddy=, run --webroot in the daemon) */
int path_abs_no_dotdot(const char *p);
/* Unmap the whole pages of [p, p + len) from this process: for read-only
 * bytes of the binary (an embedded BPF object once loaded), which the
 * kernel reads back from the file if they are ever touched again. */
void release_rodata(const void *p, size_t len);
/* true if the string ends NUL-terminated within n bytes */
int str_in_bounds(const char *s, size_t n);

#endif
