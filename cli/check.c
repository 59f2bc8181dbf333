// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: the doctor. Reads the live system, changes nothing (kernel
 * features are probed inside a throwaway network namespace), and says per
 * line whether porthole can do its job on this host, and if not, why and
 * what to do. Exit 0 when nothing fails. This file holds the findings list,
 * its printer (text or JSON), the config, daemon and designation lines; the
 * other sections are check_kernel.c, check_firewall.c and check_server.c. */
#include "cli.h"
#include "check.h"
#include "check_access.h"
#include "client.h"
#include "cgroup.h"
#include "config.h"
#include "json.h"
#include "nftguard.h"
#include "nftrule.h"
#include "nftscan.h"
#include "nl.h"
#include "proto.h"
#include "sockdiag.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const vname[] = { "ok", "warn", "fail", "skip" };

struct check {
	char name[96];
	enum verdict v;
	char detail[1024];
};

#define MAX_CHECKS 256
static struct check checks[MAX_CHECKS];
static unsigned nchecks;

void check_add(enum verdict v, const char *name, const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	if (nchecks == MAX_CHECKS)
		return;
	c = &checks[nchecks++];
	c->v = v;
	snprintf(c->name, sizeof(c->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

#define add check_add

static void check_daemon(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	char who[256] = "";
	ssize_t n;
	int fd, t;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || copy_str(sa.sun_path, sizeof(sa.sun_path), sock)) {
		add(V_FAIL, "daemon", "bad socket path %s", sock);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		add(V_FAIL, "daemon", "%s: %s%s", sock, strerror(e),
		    e == EACCES ? " (you are neither root nor in socket_group)" : " (is portholed running? systemctl start portholed)");
		close(fd);
		return;
	}
	ph_msg_init(&m, PH_MSG_STATUS, 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &m, sizeof(struct ph_hdr), MSG_NOSIGNAL) < 0 || (n = recv(fd, &m, sizeof(m), 0)) <= 0) {
		add(V_FAIL, "daemon", "%s: no answer", sock);
		close(fd);
		return;
	}
	daemon_identify(fd, who, sizeof(who));
	close(fd);
	t = ph_msg_check(&m, (size_t)n);
	if (t == PH_MSG_STATUS_REPLY)
		add(V_OK, "daemon", "running, serving %s; %u window(s) open%s%s", sock,
		    ((struct ph_status_reply *)ph_payload(&m))->count, who[0] ? "; as " : "", who);
	else if (t == PH_MSG_ERROR)
		add(V_FAIL, "daemon", "refused: %s", ((struct ph_error *)ph_payload(&m))->msg);
	else
		add(V_FAIL, "daemon", "unexpected answer (another program on %s?)", sock);
}

static void check_designations(const struct ph_config *cfg)
{
	char mount[PATH_MAX] = "", name[300], path[PATH_MAX + 300], *sl;

	cg_find_mount(mount, sizeof(mount));
	if (cfg->ndes == 0) {
		add(V_OK, "designations", "none: windows open only for porthole run");
		return;
	}
	for (unsigned i = 0; i < cfg->ndes; i++) {
		const struct ph_designation *d = &cfg->des[i];
		struct stat st;

		char warn[300];

		snprintf(name, sizeof(name), "designate %s %s", des_type_name(d->type), d->arg);
		if (config_designation_warning(d, warn, sizeof(warn))) {
			add(V_WARN, name, "%s", warn);
			continue;
		}
		switch (d->type) {
		case DES_UNIT:
		case DES_CGROUP:
			snprintf(path, sizeof(path), "%s%s", mount, d->cgroup);
			if (stat(path, &st) == 0) {
				add(V_OK, name, "cgroup %s exists now; its processes are designated", d->cgroup);
				break;
			}
			sl = strrchr(path, '/');
			if (sl)
				*sl = '\0';
			if (stat(path, &st) == 0)
				add(V_OK, name, "cgroup %s does not exist now; it is followed and designated when it appears", d->cgroup);
			else
				add(V_WARN, name, "neither %s nor its parent exists: it can only match if the parent exists when portholed starts", d->cgroup);
			break;
		case DES_EXE:
			add(V_OK, name, "resolved to device %llu:%llu inode %llu (root-owned, not group/world-writable)",
			    (unsigned long long)(d->dev >> 20), (unsigned long long)(d->dev & 0xfffff), (unsigned long long)d->ino);
			break;
		case DES_UID:
			add(V_OK, name, "uid %u", d->uid);
			break;
		case DES_CONTAINER:
			add(V_OK, name, "the %s container that the engine's root-owned state (%s) names %s gets a window "
			    "through DNAT while it listens (the daemon needs CAP_DAC_READ_SEARCH to read that state)",
			    engine_name(d->engine),
			    d->engine == PH_ENGINE_DOCKER ? cfg->docker_root : cfg->podman_root, d->name);
			break;
		}
	}
}

/* --json: {"ok":BOOL,"checks":[{"check","verdict","detail"}...]} through
 * lib/json.c's writer, in a buffer that holds every finding escaped (at most
 * 6 bytes a byte) */
static void print_json(unsigned fails)
{
	size_t cap = MAX_CHECKS * (6 * (sizeof(checks[0].name) + sizeof(checks[0].detail)) + 64) + 64;
	char *buf = malloc(cap);
	struct jbuf b;

	if (!buf) {
		die_msg("check: %s", strerror(ENOMEM));
		return;
	}
	jb_init(&b, buf, cap);
	jb_obj_begin(&b, NULL);
	jb_bool(&b, "ok", !fails);
	jb_arr_begin(&b, "checks");
	for (unsigned i = 0; i < nchecks; i++) {
		jb_obj_begin(&b, NULL);
		jb_str(&b, "check", checks[i].name);
		jb_str(&b, "verdict", vname[checks[i].v]);
		jb_str(&b, "detail", checks[i].detail);
		jb_obj_end(&b);
	}
	jb_arr_end(&b);
	jb_obj_end(&b);
	if (!b.err)
		printf("%s\n", buf);
	else
		die_msg("check: %s", strerror(EOVERFLOW));
	free(buf);
}

void usage_check(FILE *f)
{
	fprintf(f,
		"usage: porthole check [--json] [--config FILE]\n"
		"Check whether porthole can do its job on this host: kernel features, the daemon,\n"
		"the nftables chains that could drop validation traffic, the designations, and\n"
		"for each serve line: the server runs and listens, its webroot, the guard rules.\n"
		"Changes nothing. Exit 0: porthole can work here; 1: something fails (see the lines).\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *config = PH_DEFAULT_CONFIG, *sock = client_socket();
	int json = 0, opt, config_given = 0, fails = 0, root = geteuid() == 0;
	static struct ph_config cfg;
	struct nft_scan *sc;
	char err[512];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'c': config = optarg; config_given = 1; break;
		case 'h': usage_check(stdout); return 0;
		default: usage_check(stderr); return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("check: unexpected argument '%s'", argv[optind]);
		usage_check(stderr);
		return EX_USAGE_;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, config, !config_given, err, sizeof(err)) || config_resolve(&cfg, err, sizeof(err))) {
		add(V_FAIL, "config", "%s", err);
		config_defaults(&cfg);
	} else {
		char ports[64];
		format_ports(ports, sizeof(ports), cfg.ports, cfg.nports);
		add(V_OK, "config", "%s %s; ports %s, max_window %u s", config,
		    access(config, F_OK) ? "absent: built-in defaults" : "valid", ports, cfg.max_window);
	}
	if (!getenv("PORTHOLE_SOCKET") && strcmp(sock, cfg.socket) && !strcmp(sock, PH_DEFAULT_SOCKET))
		sock = cfg.socket;
	check_kernel(root, &cfg, config, config_given);
	check_daemon(sock);
	sc = check_chains(root, &cfg);
	check_iptables_legacy(root, &cfg);
	check_ip_rules(root, &cfg);
	check_designations(&cfg);
	check_servers(root, &cfg, sc);
	free(sc);

	for (unsigned i = 0; i < nchecks; i++)
		fails += checks[i].v == V_FAIL;
	if (json) {
		print_json(fails);
	} else {
		for (unsigned i = 0; i < nchecks; i++)
			printf("%-5s %-40s %s\n", checks[i].v == V_OK ? "OK" : checks[i].v == V_WARN ? "WARN" :
			       checks[i].v == V_FAIL ? "FAIL" : "SKIP", checks[i].name, checks[i].detail);
		printf(fails ? "\nporthole cannot do its job on this host as it is: see the FAIL lines.\n"
			     : "\nporthole can open windows on this host.\n");
	}
	return fails ? 1 : 0;
}
