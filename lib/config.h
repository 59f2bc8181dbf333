/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's configuration: built-in defaults, then `key = value` lines
 * from a file. Parsing is strict: an unknown key, a duplicate key, a value out
 * of range or a malformed line is an error reported as "FILE:LINE: what", and
 * nothing of a bad file is used. */
#ifndef PORTHOLE_CONFIG_H
#define PORTHOLE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "proto.h"

#define PH_VERSION            "0.2.0"  /* both binaries' --version */
#define PH_DEFAULT_CONFIG     "/etc/porthole/porthole.conf"
#define PH_DEFAULT_SOCKET     "/run/porthole/porthole.sock"
#define PH_DEFAULT_GROUP      "porthole"
#define PH_DEFAULT_AUDIT_LOG  "/var/log/porthole/audit.jsonl"
#define PH_DEFAULT_STATE_FILE "/var/lib/porthole/last-window"
#define PH_DEFAULT_MAX_WINDOW 300
#define PH_MAX_WINDOW_LIMIT   86400
#define PH_DEFAULT_LINGER     2     /* host_rule_linger, seconds */
#define PH_LINGER_LIMIT       60
#define PH_MAX_CHAINS         32
#define PH_NAME_LEN           64
#define PH_CONF_LINE_MAX      1024

struct ph_chain_ref {
	int family;               /* NFPROTO_INET / NFPROTO_IPV4 / NFPROTO_IPV6 */
	char table[PH_NAME_LEN];
	char chain[PH_NAME_LEN];
};

enum { PH_CHAINS_AUTO = 0, PH_CHAINS_LIST, PH_CHAINS_NONE };

#define PH_MAX_DESIGNATIONS   32
/* The mark bits porthole owns (MASK) and the value (VALUE) that means
 * "admitted through a window" on a packet; every other nonzero value within
 * MASK names one window's sockets. Bits 24-31 are used by none of netavark
 * and the CNI portmap plugin (Podman: 0x2000, which they MASQUERADE),
 * wg-quick (0xca6c, on its own socket), Tailscale (0xff0000) or kube-proxy
 * (0x4000, 0x8000); Calico (0xffff0000) is Kubernetes-only. */
#define PH_DEFAULT_MARK       0x01000000u
#define PH_DEFAULT_MARK_MASK  0xff000000u
/* The former default: bit 13 is netavark's and CNI's masquerade mark.
 * Known so that a static rule written for it is named, not silently dead. */
#define PH_FORMER_MARK        0x2000u
#define PH_FORMER_MARK_MASK   0x3fffu

enum ph_des_type { DES_UNIT = 1, DES_CGROUP, DES_EXE, DES_UID, DES_CONTAINER };
/* `designate = container ENGINE:NAME`: the engine whose root-owned state
 * names the container (daemon/engine_state.c) */
enum ph_engine { PH_ENGINE_DOCKER = 1, PH_ENGINE_PODMAN };
#define PH_CONTAINER_NAME_LEN 128
/* guard_dscp's default: RFC 2474 pool 2 (xxxx11, experimental or local use) */
#define PH_GUARD_DSCP_DEFAULT 0x03
#define PH_DEFAULT_DOCKER_ROOT    "/var/lib/docker"
#define PH_DEFAULT_PODMAN_ROOT    "/var/lib/containers/storage"
#define PH_DEFAULT_PODMAN_RUNROOT "/run/containers/storage"

/* `designate = TYPE ARG [ports=P,...] [max_window=S]`: a process the daemon
 * opens windows for without `porthole run` (watch mode). */
struct ph_designation {
	int type;
	char arg[256];            /* as written: unit name, cgroup path, exe path, uid */
	char cgroup[256];         /* unit/cgroup: path relative to the cgroup v2 mount */
	uint64_t dev, ino;        /* exe: resolved at load (kernel dev encoding) */
	uint32_t uid;             /* uid */
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;          /* 0: the global ports */
	uint32_t max_window;      /* 0: the global max_window */
	int engine;               /* container: PH_ENGINE_* */
	char name[PH_CONTAINER_NAME_LEN]; /* container: its name (Docker's rule) */
	int published;            /* unit/cgroup `published` (container: always): also its listeners in a container's
				   own network namespace, reached through the host's DNAT of a
				   published port (issue 23; daemon/container.c) */
	unsigned line;
};

#define PH_MAX_SERVERS 8

/* `serve = TYPE ARG [webroot=DIR | always] [ports=P,...] [max_window=S]`: a
 * web server that already holds the port; its windows are guarded (only
 * ACME challenge requests reach it from where the host would drop). */
struct ph_server {
	int type;                 /* DES_UNIT / DES_CGROUP / DES_CONTAINER */
	char arg[256];            /* as written */
	char cgroup[256];         /* path relative to the cgroup v2 mount (not for a container) */
	int engine;               /* container: PH_ENGINE_* */
	char name[PH_CONTAINER_NAME_LEN]; /* container: its name; webroot= is the host path of its volume */
	char webroot[256];        /* token files in WEBROOT/.well-known/acme-challenge; empty: none */
	char caddy[256];          /* Caddy storage: its pending challenges, see daemon/tokens.c; empty: none */
	int always;               /* a window at all times (the guard is the only gate) */
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;          /* default: 80 */
	uint32_t max_window;      /* 0: the global max_window */
	unsigned line;
};

struct ph_config {
	char socket[108];
	char socket_group[PH_NAME_LEN];
	int socket_group_set;     /* named in the file: must exist */
	gid_t socket_gid;         /* resolved; (gid_t)-1 when the default group is absent */
	uint16_t ports[PH_MAX_PORTS];
	unsigned nports;
	uint32_t max_window;      /* seconds */
	uint32_t linger;          /* host_rule_linger: seconds the host rules stay after the last window */
	int chains_mode;          /* PH_CHAINS_*: where the host rule goes */
	int chains_auto;          /* chains_mode == PH_CHAINS_AUTO */
	struct ph_chain_ref chains[PH_MAX_CHAINS];
	unsigned nchains;
	char audit_log[256];
	char state_file[256];     /* the last window id (StateDirectory=) */
	char metrics_file[256];   /* Prometheus textfile; empty: none */
	uint32_t mark, mark_mask;  /* socket mark for watch-mode sockets */
	char docker_root[256];    /* where dockerd keeps containers/<id>/config.v2.json */
	char podman_root[256];    /* c/storage graphroot: overlay-containers/containers.json */
	char podman_runroot[256]; /* c/storage runroot: overlay-containers/volatile-containers.json */
	uint8_t guard_dscp;       /* guard_dscp: "guarded" into a served container's netns (1-63) */
	struct ph_designation des[PH_MAX_DESIGNATIONS];
	unsigned ndes;
	struct ph_server srv[PH_MAX_SERVERS];
	unsigned nsrv;
};

void config_defaults(struct ph_config *c);
/* Parse the file at path over the defaults already in c. missing_ok: an
 * absent file leaves the defaults (used for the default path only). On error,
 * err holds "FILE:LINE: message" and c is unchanged. */
int config_load(struct ph_config *c, const char *path, int missing_ok, char *err, size_t errlen);
/* The same over an in-memory buffer (unit tests, fuzzing). */
int config_parse(struct ph_config *c, const char *name, const char *buf, size_t len,
		 char *err, size_t errlen);
/* Resolve socket_group to a gid (after parsing). */
int config_resolve(struct ph_config *c, char *err, size_t errlen);
const char *family_name(int family);
/* A designation that does not mean what an admin may think (an interpreter,
 * a setuid or capability binary, a shared account, a cgroup of many
 * services): 1 and one line in buf. */
int config_designation_warning(const struct ph_designation *d, char *buf, size_t len);
const char *des_type_name(int type);
const char *engine_name(int engine);
/* A container name as Docker and Podman accept it: [a-zA-Z0-9][a-zA-Z0-9_.-]*,
 * shorter than PH_CONTAINER_NAME_LEN. */
int container_name_valid(const char *name);
/* The two mark values of server windows: "candidate" (a new connection to a
 * served socket) and "guarded" (admitted where the host would drop). Never
 * given to a session. -ENOSPC if the mask is too small. */
int config_guard_marks(const struct ph_config *c, uint32_t *cand, uint32_t *guarded);
/* The conntrack mark of a container window's connection ("CW", see
 * nftcontainer.h): the third highest value within the mask other than
 * VALUE, after the two of server windows, so the three never meet whichever
 * lines exist. Never given to a session. -ENOSPC if the mask is too small. */
int config_container_mark(const struct ph_config *c, uint32_t *cw);
/* The two marks of a container window behind a geo-block before DNAT
 * (nftcontainer.h): CP (conntrack: pre-admitted at a drop point, the 4th
 * highest value) and CC (packet: a candidate, the 5th). CP differs from CW
 * in one bit only, so one masked match reads both. -ENOSPC when the mask
 * has no room for them beside every designation and a session: then a
 * container window is refused where such a geo-block drops. Never given to
 * a session when they exist. */
int config_container_pre_marks(const struct ph_config *c, uint32_t *cp, uint32_t *cc);
/* Some designation is `published`, or a serve line is a container's
 * (container windows: the container objects of porthole's table, the
 * host's forward-hook chains as targets). */
int config_has_published(const struct ph_config *c);
/* Some serve line is a container's (lib/nftcsrv.h: the csrv objects, the
 * guard's DSCP carrier). */
int config_has_csrv(const struct ph_config *c);

#endif
