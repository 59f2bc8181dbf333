/* SPDX-License-Identifier: GPL-2.0-or-later */
/* porthole check's sections share one list of findings: each adds lines
 * (verdict, name, detail); check.c prints them, as text or JSON. */
#ifndef PORTHOLE_CHECK_H
#define PORTHOLE_CHECK_H

struct ph_config;
struct nft_scan;

enum verdict { V_OK, V_WARN, V_FAIL, V_SKIP };

void check_add(enum verdict v, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* check_kernel.c: BTF, cgroup v2, bpf(), nf_tables (in a throwaway network
 * namespace), and the kernel programs themselves (portholed --probe) */
void check_kernel(int root, const struct ph_config *cfg, const char *config, int config_given);

/* check_firewall.c: the chains that could drop validation traffic and the
 * managers that own them (the scan, NULL without root, for check_servers),
 * policy routing rules, iptables-legacy */
struct nft_scan *check_chains(int root, const struct ph_config *cfg);
void check_ip_rules(int root, const struct ph_config *cfg);
void check_iptables_legacy(int root, const struct ph_config *cfg);

/* check_containers.c: the container engines in the ruleset and what
 * porthole does there (sc: check_chains' scan) */
void check_containers(const struct nft_scan *sc, const struct ph_config *cfg);

/* check_server.c: for each serve line, the server, its webroot, the guard
 * rules (sc: check_chains' scan) */
void check_servers(int root, const struct ph_config *cfg, const struct nft_scan *sc);

#endif
