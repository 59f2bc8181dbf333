// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole check, the kernel's part: BTF, cgroup v2, bpf(), porthole's
 * nftables table (built in a throwaway network namespace), and the kernel
 * programs themselves. Those are judged by loading the real objects: the
 * CLI links no BPF code, so it runs `portholed --probe`, which loads each
 * program on its own and says what the verifier said of it. A feature
 * check by version number would be wrong exactly where it matters. */
#include "check.h"
#include "cgroup.h"
#include "config.h"
#include "nftrule.h"
#include "nl.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void check_basics(int root)
{
	char mount[PATH_MAX];

	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		check_add(V_OK, "kernel BTF", "/sys/kernel/btf/vmlinux present (CO-RE programs can load)");
	else
		check_add(V_FAIL, "kernel BTF", "/sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF");
	if (cg_find_mount(mount, sizeof(mount)) == 0)
		check_add(V_OK, "cgroup v2", "mounted at %s", mount);
	else
		check_add(V_FAIL, "cgroup v2", "no cgroup2 mount in /proc/self/mountinfo: mount it (e.g. systemd's unified or hybrid layout)");
	if (!root) {
		check_add(V_SKIP, "BPF", "needs root to probe");
		return;
	}
	{
		int e = -bpf_ringbuf_probe();
		if (!e) {
			check_add(V_OK, "BPF", "bpf() works and ring buffers are available");
		} else {
			check_add(V_FAIL, "BPF", "cannot create a BPF ring buffer: %s%s", strerror(e),
			    e == EPERM || e == EACCES ? " (bpf() is refused: a seccomp filter, e.g. a container's or a unit's "
			    "SystemCallFilter=, or a missing capability: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)" : "");
		}
	}
}

/* nft features, probed in a throwaway network namespace of a child: porthole's
 * whole table (owner flag, a set of mark . port with timeouts and counters,
 * socket, fib, ct and meta mark expressions) in one batch, as the daemon
 * makes it */
struct probe_res {
	int ran, err;
	char extack[256];
};

static void probe_child(struct probe_res *pr, const struct ph_config *cfg)
{
	struct ph_nl *n = NULL;
	struct nl_result *res = malloc(sizeof(*res));
	struct nl_batch *b;
	int idx;

	pr->ran = res && unshare(CLONE_NEWNET) == 0 && nl_open(&n) == 0;
	if (!pr->ran)
		goto out;
	b = nl_batch_begin(n, 0, 0);
	pr->err = !b ? -ENOMEM : nr_add_table(b, cfg->mark, cfg->mark_mask, 1, cfg->ports, cfg->nports);
	if (b && pr->err)
		nl_batch_abort(b);
	else if (b && !(pr->err = nl_batch_commit(b, res)))
		pr->err = nl_result_error(res, &idx);
	if (pr->err && res)
		copy_str(pr->extack, sizeof(pr->extack), res->extack);
out:
	nl_close(n);
	free(res);
}

static void check_nft_features(int root, const struct ph_config *cfg)
{
	struct probe_res pr = { 0 };
	int p[2], st;
	pid_t pid;

	if (!root) {
		check_add(V_SKIP, "nft features", "needs root to probe (in a throwaway network namespace)");
		return;
	}
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		probe_child(&pr, cfg);
		if (write(p[1], &pr, sizeof(pr)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &pr, sizeof(pr)) != (ssize_t)sizeof(pr) || !pr.ran)
		check_add(V_FAIL, "nft features", "could not probe nf_tables in a throwaway network namespace");
	else if (pr.err)
		check_add(V_FAIL, "nft porthole table", "the kernel refuses porthole's table: %s%s%s (needs the owner flag, "
		    "Linux >= 5.12, set element timeouts and counters, socket, fib and ct expressions)",
		    strerror(-pr.err), pr.extack[0] ? ": " : "", pr.extack);
	else
		check_add(V_OK, "nft porthole table", "supported: owner flag, a set of windows with kernel timeouts, "
		    "socket mark . port lookups, fib daddr type local, ct and meta marks");
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
}

/* Where portholed is: $PORTHOLED, beside this binary (a build tree), or
 * the sbin directory beside its bin directory, or the usual places. */
static int find_daemon(char *buf, size_t len)
{
	const char *env = getenv("PORTHOLED");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env && *env) {
		copy_str(buf, len, env);
		return access(buf, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/portholed", self) < (int)len && access(buf, X_OK) == 0)
				return 0;
			if (snprintf(buf, len, "%s/../sbin/portholed", self) < (int)len && access(buf, X_OK) == 0)
				return 0;
		}
	}
	for (const char *const *p = (const char *const[]){ "/usr/sbin/portholed", "/usr/local/sbin/portholed", NULL };
	     *p; p++) {
		copy_str(buf, len, *p);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* One line of portholed --probe: "NAME (FEATURE): loaded, N instructions
 * verified" or "NAME (FEATURE): rejected: REASON". */
static void program_line(char *line, const struct ph_config *cfg, unsigned *seen)
{
	char name[96], *feat, *close, *rest;

	feat = strstr(line, " (");
	close = feat ? strstr(feat, "): ") : NULL;
	if (!feat || !close)
		return;
	*feat = '\0';
	*close = '\0';
	feat += 2;
	rest = close + 3;
	snprintf(name, sizeof(name), "kernel program %.64s", line);
	(*seen)++;
	if (!strncmp(rest, "loaded", 6)) {
		check_add(V_OK, name, "%s%s, for %s", rest, strstr(rest, "verified") ? " (limit 1000000)" : "", feat);
	} else if (!strcmp(feat, "server windows")) {
		/* the guard: only serve lines need it */
		check_add(cfg->nsrv ? V_FAIL : V_WARN, name, "%s: server windows (serve lines) are refused on this "
			  "kernel%s", rest, cfg->nsrv ? "" : "; nothing in this config needs them");
	} else {
		check_add(V_FAIL, name, "%s: portholed cannot start on this kernel (%s need it)", rest, feat);
	}
}

static void check_programs(int root, const struct ph_config *cfg, const char *config, int config_given)
{
	char daemon[PATH_MAX], line[1024], errline[512] = "";
	unsigned seen = 0;
	int out[2], errp[2], st = 0;
	FILE *f;
	pid_t pid;

	if (!root) {
		check_add(V_SKIP, "kernel programs", "needs root to load them (portholed --probe)");
		return;
	}
	if (find_daemon(daemon, sizeof(daemon))) {
		check_add(V_SKIP, "kernel programs", "portholed not found (set PORTHOLED=PATH): cannot load its programs");
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		const char *argv[] = { daemon, "--probe", "-c", config, NULL };
		dup2(out[1], 1);
		dup2(errp[1], 2);
		if (!config_given && access(config, F_OK))
			argv[2] = NULL; /* no config file: the daemon's defaults, as check's */
		execv(daemon, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		program_line(line, cfg, &seen);
	}
	if (f)
		fclose(f);
	else
		close(out[0]);
	f = fdopen(errp[0], "r");
	while (f && fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			copy_str(errline, sizeof(errline), line);
	if (f)
		fclose(f);
	else
		close(errp[0]);
	errline[strcspn(errline, "\n")] = '\0';
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (pid < 0 || !seen)
		check_add(V_FAIL, "kernel programs", "%s --probe loaded nothing: %s", daemon,
			  errline[0] ? errline : "no output");
}

void check_kernel(int root, const struct ph_config *cfg, const char *config, int config_given)
{
	check_basics(root);
	check_nft_features(root, cfg);
	check_programs(root, cfg, config, config_given);
}
