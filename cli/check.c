// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check: the doctor. Reads the live system, changes nothing (kernel
 * features are probed inside a throwaway network namespace), and says per
 * line whether porthole can do its job on this host, and if not, why and
 * what to do. Exit 0 when nothing fails. */
#include "cli.h"
#include "client.h"
#include "cgroup.h"
#include "config.h"
#include "nft.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum verdict { V_OK, V_WARN, V_FAIL, V_SKIP };
static const char *const vname[] = { "ok", "warn", "fail", "skip" };

struct check {
	char name[96];
	enum verdict v;
	char detail[512];
};

#define MAX_CHECKS 160
static struct check checks[MAX_CHECKS];
static unsigned nchecks;

static void add(enum verdict v, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(enum verdict v, const char *name, const char *fmt, ...)
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

static void check_kernel(int root)
{
	char mount[PATH_MAX];

	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		add(V_OK, "kernel BTF", "/sys/kernel/btf/vmlinux present (CO-RE programs can load)");
	else
		add(V_FAIL, "kernel BTF", "/sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF");
	if (cg_find_mount(mount, sizeof(mount)) == 0)
		add(V_OK, "cgroup v2", "mounted at %s", mount);
	else
		add(V_FAIL, "cgroup v2", "no cgroup2 mount in /proc/self/mountinfo: mount it (e.g. systemd's unified or hybrid layout)");
	if (!root) {
		add(V_SKIP, "BPF", "needs root to probe");
		return;
	}
	{
		union bpf_attr a;
		int fd;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_RINGBUF;
		a.max_entries = 4096;
		fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
		if (fd >= 0) {
			close(fd);
			add(V_OK, "BPF", "bpf() works and ring buffers are available");
		} else {
			add(V_FAIL, "BPF", "cannot create a BPF ring buffer: %s", strerror(errno));
		}
	}
}

/* nft features, probed in a throwaway network namespace of a child */
static void check_nft_features(int root)
{
	int p[2], st;
	pid_t pid;
	int res[5] = { 0 };

	if (!root) {
		add(V_SKIP, "nft features", "needs root to probe (in a throwaway network namespace)");
		return;
	}
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct ph_nft *n;
		close(p[0]);
		res[4] = unshare(CLONE_NEWNET) == 0 && nft_open(&n) == 0;
		if (res[4]) {
			nft_probe_features(n, &res[0], &res[1], &res[2], &res[3]);
			nft_close(n);
		}
		if (write(p[1], res, sizeof(res)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], res, sizeof(res)) != (ssize_t)sizeof(res) || !res[4]) {
		add(V_FAIL, "nft features", "could not probe nf_tables in a throwaway network namespace");
	} else {
		add(res[0] ? V_OK : V_WARN, "nft table owner flag", res[0] ? "supported" : "not supported (Linux >= 5.12)");
		add(res[1] ? V_OK : V_FAIL, "nft socket cgroupv2 + meta time",
		    res[1] ? "supported: a window's rule can match the session's cgroup and carry its deadline"
			   : "not supported: porthole run windows cannot be opened (needs nft_socket with cgroupv2, Linux >= 5.13, and meta time)");
		add(res[3] ? V_OK : V_WARN, "nft socket mark", res[3] ? "supported (watch mode)" : "not supported: watch mode cannot open windows");
	}
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
}

static const char *hook_name(int family, uint32_t hook)
{
	if (family == NFPROTO_NETDEV)
		return hook == NF_NETDEV_INGRESS ? "ingress" : "egress";
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	case NF_INET_INGRESS: return "ingress";
	default: return "?";
	}
}

static void check_chains(int root, const struct ph_config *cfg)
{
	struct nft_chain_info *ci;
	struct ph_nft *n;
	unsigned count = 0, opened = 0, dropping = 0;
	char name[200];
	int r;

	if (!root) {
		add(V_SKIP, "nftables ruleset", "needs root to read the ruleset");
		return;
	}
	ci = calloc(NFT_INSPECT_MAX, sizeof(*ci));
	if (!ci)
		return;
	r = nft_open(&n);
	if (!r) {
		r = nft_inspect(n, ci, NFT_INSPECT_MAX, &count);
		nft_close(n);
	}
	if (r) {
		add(V_FAIL, "nftables ruleset", "cannot read it over netlink: %s", strerror(-r));
		free(ci);
		return;
	}
	for (unsigned i = 0; i < count; i++) {
		struct nft_chain_info *c = &ci[i];
		int fam = c->ref.family, drops = c->policy_drop || c->drop_rules;
		int ingress = (fam == NFPROTO_NETDEV && c->hook == NF_NETDEV_INGRESS) ||
			      (fam == NFPROTO_INET && c->hook == NF_INET_INGRESS);
		int inet_fam = fam == NFPROTO_INET || fam == NFPROTO_IPV4 || fam == NFPROTO_IPV6;
		int candidate = inet_fam && (c->hook == NF_INET_LOCAL_IN || c->hook == NF_INET_PRE_ROUTING) &&
				!strcmp(c->type, "filter");
		char what[160];

		snprintf(name, sizeof(name), "chain %s %s %s", family_name(fam), c->ref.table, c->ref.chain);
		snprintf(what, sizeof(what), "hook %s, policy %s, %u drop/reject rule(s)", hook_name(fam, c->hook),
			 c->policy_drop ? "drop" : "accept", c->drop_rules);
		if (ingress) {
			if (drops) {
				dropping++;
				add(V_FAIL, name,
				    "%s: runs before the socket lookup, so porthole cannot open it; if it drops inbound tcp 80/443, "
				    "accept tcp dport 80 there (or move the block to an input chain)", what);
			} else {
				add(V_OK, name, "%s: ingress chain that drops nothing", what);
			}
			continue;
		}
		if (!candidate)
			continue; /* output, forward...: not on the inbound path to a local socket */
		if (!cfg->chains_auto) {
			int listed = 0;
			for (unsigned k = 0; k < cfg->nchains; k++)
				listed |= cfg->chains[k].family == fam && !strcmp(cfg->chains[k].table, c->ref.table) &&
					  !strcmp(cfg->chains[k].chain, c->ref.chain);
			if (!listed) {
				add(drops ? V_FAIL : V_OK, name, "%s: not in the config's 'chains' list%s", what,
				    drops ? ", and it drops: add it, or use chains = auto" : "");
				dropping += drops;
				continue;
			}
		}
		if (c->owned) {
			add(drops ? V_FAIL : V_WARN, name, "%s: its table is owned by another process; porthole cannot insert there", what);
			dropping += drops;
			continue;
		}
		opened++;
		add(V_OK, name, "%s: porthole inserts its window rule at the top", what);
	}
	if (!cfg->chains_auto) {
		for (unsigned k = 0; k < cfg->nchains; k++) {
			int found = 0;
			for (unsigned i = 0; i < count; i++)
				found |= ci[i].ref.family == cfg->chains[k].family &&
					 !strcmp(ci[i].ref.table, cfg->chains[k].table) && !strcmp(ci[i].ref.chain, cfg->chains[k].chain);
			if (!found) {
				snprintf(name, sizeof(name), "chain %s %s %s", family_name(cfg->chains[k].family),
					 cfg->chains[k].table, cfg->chains[k].chain);
				add(V_FAIL, name, "named in the config's 'chains' but not in the ruleset (not a base chain?)");
			}
		}
	}
	if (count == 0)
		add(V_OK, "nftables ruleset", "no base chains: nftables drops nothing here");
	else
		add(V_OK, "nftables ruleset", "%u base chain(s); porthole opens %u; %u it cannot open drop traffic", count,
		    opened, dropping);
	free(ci);
}

static void check_iptables_legacy(void)
{
	const char *files[] = { "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names" };

	for (unsigned i = 0; i < 2; i++) {
		char buf[256] = "";
		if (read_small_file(files[i], buf, sizeof(buf)) == 0 && buf[0]) {
			for (char *p = buf; *p; p++)
				if (*p == '\n')
					*p = ' ';
			add(V_WARN, i ? "ip6tables-legacy" : "iptables-legacy",
			    "legacy tables loaded (%s): porthole cannot open rules there; if they drop inbound tcp 80/443, "
			    "accept it there or move the rules to nftables (iptables-nft)", buf);
		}
	}
}

static void check_daemon(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
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
	close(fd);
	t = ph_msg_check(&m, (size_t)n);
	if (t == PH_MSG_STATUS_REPLY)
		add(V_OK, "daemon", "running, serving %s; %u window(s) open", sock,
		    ((struct ph_status_reply *)ph_payload(&m))->count);
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

		snprintf(name, sizeof(name), "designate %s %s", des_type_name(d->type), d->arg);
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
		}
	}
}

void usage_check(FILE *f)
{
	fprintf(f,
		"usage: porthole check [--json] [--config FILE]\n"
		"Check whether porthole can do its job on this host: kernel features, the daemon,\n"
		"the nftables chains that could drop validation traffic, the designations.\n"
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
	check_kernel(root);
	check_nft_features(root);
	check_daemon(sock);
	check_chains(root, &cfg);
	check_iptables_legacy();
	check_designations(&cfg);

	for (unsigned i = 0; i < nchecks; i++)
		fails += checks[i].v == V_FAIL;
	if (json) {
		printf("{\"ok\":%s,\"checks\":[", fails ? "false" : "true");
		for (unsigned i = 0; i < nchecks; i++) {
			printf("%s{\"check\":", i ? "," : "");
			print_json_str(stdout, checks[i].name);
			printf(",\"verdict\":\"%s\",\"detail\":", vname[checks[i].v]);
			print_json_str(stdout, checks[i].detail);
			printf("}");
		}
		printf("]}\n");
	} else {
		for (unsigned i = 0; i < nchecks; i++)
			printf("%-5s %-40s %s\n", checks[i].v == V_OK ? "OK" : checks[i].v == V_WARN ? "WARN" :
			       checks[i].v == V_FAIL ? "FAIL" : "SKIP", checks[i].name, checks[i].detail);
		printf(fails ? "\nporthole cannot do its job on this host as it is: see the FAIL lines.\n"
			     : "\nporthole can open windows on this host.\n");
	}
	return fails ? 1 : 0;
}
