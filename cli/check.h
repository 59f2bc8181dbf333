/* SPDX-License-Identifier: GPL-2.0-or-later */
/* porthole check's sections share one list of findings: each adds lines
 * (verdict, name, detail); check.c prints them, as text or JSON. */
#ifndef PORTHOLE_CHECK_H
#define PORTHOLE_CHECK_H

struct ph_config;

enum verdict { V_OK, V_WARN, V_FAIL, V_SKIP };

void check_add(enum verdict v, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* check_kernel.c: BTF, cgroup v2, bpf(), nf_tables (in a throwaway network
 * namespace), and the kernel programs themselves (portholed --probe) */
void check_kernel(int root, const struct ph_config *cfg, const char *config, int config_given);

#endif
