// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the config parser: real config text through the real
 * parser, checking both accepted values and the exact FILE:LINE errors. */
#include <errno.h>
#include <string.h>
#include <linux/netfilter.h>
#include "config.h"
#include "unit.h"
#include "util.h"

static int parse(struct ph_config *c, const char *text, char *err, size_t errlen)
{
	config_defaults(c);
	err[0] = '\0';
	return config_parse(c, "test.conf", text, strlen(text), err, errlen);
}

static void expect_error(const char *text, const char *want)
{
	struct ph_config c;
	char err[512];
	int r = parse(&c, text, err, sizeof(err));

	CHECK(r < 0 && strstr(err, want), "rejects %-40.*s -> '%s'", (int)strcspn(text, "\n"), text, err);
}

int main(void)
{
	struct ph_config c;
	char err[512];
	int r;

	config_defaults(&c);
	CHECK(!strcmp(c.socket, "/run/porthole/porthole.sock"), "default socket");
	CHECK(c.nports == 1 && c.ports[0] == 80, "default ports = 80");
	CHECK(c.max_window == 300, "default max_window = 300");
	CHECK(c.chains_auto, "default chains = auto");
	CHECK(!strcmp(c.socket_group, "porthole"), "default socket_group = porthole");

	r = parse(&c,
		  "# comment\n\n"
		  "socket = /tmp/x.sock   # trailing comment\n"
		  "socket_group = root\n"
		  "ports = 80, 443\n"
		  "max_window = 120\n"
		  "chains = inet filter input, ip raw prerouting,ip6 t c\n"
		  "audit_log = /var/tmp/a.jsonl\r\n",
		  err, sizeof(err));
	CHECK(r == 0, "full valid config parses (%s)", err);
	CHECK(!strcmp(c.socket, "/tmp/x.sock"), "socket value, comment stripped");
	CHECK(c.nports == 2 && c.ports[0] == 80 && c.ports[1] == 443, "two ports");
	CHECK(c.max_window == 120, "max_window 120");
	CHECK(!c.chains_auto && c.nchains == 3, "three explicit chains");
	CHECK(c.chains[0].family == NFPROTO_INET && !strcmp(c.chains[0].table, "filter") &&
	      !strcmp(c.chains[0].chain, "input"), "chain 1 = inet filter input");
	CHECK(c.chains[1].family == NFPROTO_IPV4 && !strcmp(c.chains[1].table, "raw"), "chain 2 = ip raw");
	CHECK(c.chains[2].family == NFPROTO_IPV6, "chain 3 = ip6");
	CHECK(!strcmp(c.audit_log, "/var/tmp/a.jsonl"), "CRLF tolerated");

	config_defaults(&c);
	CHECK(c.mark == 0x01000000 && c.mark_mask == 0xff000000,
	      "default socket_mark 0x1000000/0xff000000 (off netavark/CNI's 0x2000 and the bits other tools use)");
	CHECK(c.chains_mode == PH_CHAINS_AUTO, "default chains mode auto");
	r = parse(&c, "chains = none\n", err, sizeof(err));
	CHECK(r == 0 && c.chains_mode == PH_CHAINS_NONE && !c.chains_auto && c.nchains == 0,
	      "chains = none: static mode (%s)", err);
	r = parse(&c, "state_file = /var/tmp/ph-state\n", err, sizeof(err));
	CHECK(r == 0 && !strcmp(c.state_file, "/var/tmp/ph-state"), "state_file set (%s)", err);
	expect_error("state_file = relative\n", "state_file: must be an absolute path");
	expect_error("socket_mark = 0x4/0x4\n", "MASK needs at least 2 bits");

	r = parse(&c, "ports = 443 80\n", err, sizeof(err));
	CHECK(r == 0 && c.nports == 2 && c.ports[0] == 443, "blank-separated ports");
	r = parse(&c, "chains = auto\n", err, sizeof(err));
	CHECK(r == 0 && c.chains_auto, "chains = auto");
	r = parse(&c, "", err, sizeof(err));
	CHECK(r == 0 && c.max_window == 300, "empty file keeps defaults");
	CHECK(c.linger == 2, "default host_rule_linger = 2 s");
	r = parse(&c, "host_rule_linger = 0\n", err, sizeof(err));
	CHECK(r == 0 && c.linger == 0, "host_rule_linger = 0: rules go with the last window (%s)", err);
	r = parse(&c, "host_rule_linger = 60\n", err, sizeof(err));
	CHECK(r == 0 && c.linger == 60, "host_rule_linger = 60 (%s)", err);
	expect_error("host_rule_linger = 61\n", "host_rule_linger: '61' is not a number of seconds (0-60)");
	expect_error("host_rule_linger = -1\n", "host_rule_linger");
	expect_error("host_rule_linger = 2s\n", "host_rule_linger");

	expect_error("bogus = 1\n", "test.conf:1: unknown key 'bogus'");
	expect_error("\n\nports = 80\nports = 443\n", "test.conf:4: duplicate key 'ports' (first set on line 3)");
	expect_error("ports\n", "test.conf:1: expected 'key = value'");
	expect_error("ports =\n", "test.conf:1: ports: missing value");
	expect_error("ports = 0\n", "not a port number");
	expect_error("ports = 65536\n", "not a port number");
	expect_error("ports = 80x\n", "not a port number");
	expect_error("ports = -80\n", "not a port number");
	expect_error("ports = 80,80\n", "listed twice");
	expect_error("ports = \v80\n", "not a port number");
	expect_error("ports = \v-18446744073709551615\n", "not a port number");
	expect_error("max_window = \f-18446744073709551556\n", "max_window");
	expect_error("ports = 1 2 3 4 5 6 7 8 9\n", "at most 8 ports");
	expect_error("max_window = 0\n", "max_window");
	expect_error("max_window = 86401\n", "max_window");
	expect_error("max_window = 5m\n", "max_window");
	expect_error("max_window = 99999999999999999999999\n", "max_window");
	expect_error("socket = relative.sock\n", "absolute path");
	expect_error("socket = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "path longer");
	expect_error("socket_group = bad group!\n", "invalid group name");
	expect_error("chains = netdev filter ingress\n", "cannot match a socket");
	expect_error("chains = bridge filter input\n", "cannot match a socket");
	expect_error("chains = foo filter input\n", "unknown family");
	expect_error("chains = inet filter\n", "expected 'auto', 'none' or");
	expect_error("chains = inet filter input extra\n", "expected 'auto', 'none' or");
	expect_error("chains = inet fil;ter input\n", "invalid table or chain name");
	expect_error("chains = inet filter input, inet filter input\n", "listed twice");
	expect_error("audit_log = x\n", "absolute path");
	{
		char big[2000];
		memset(big, 'a', sizeof(big));
		memcpy(big, "socket = /", 10);
		big[sizeof(big) - 1] = '\0';
		expect_error(big, "test.conf:1: line longer than");
	}
	{
		struct ph_config c2;
		const char text[] = "ports = 80\0\n";
		config_defaults(&c2);
		r = config_parse(&c2, "test.conf", text, sizeof(text) - 1, err, sizeof(err));
		CHECK(r < 0 && strstr(err, "NUL"), "NUL byte rejected: %s", err);
	}
	/* a bad file changes nothing */
	config_defaults(&c);
	r = config_parse(&c, "t", "max_window = 10\nbogus = 1\n", 27, err, sizeof(err));
	CHECK(r < 0 && c.max_window == 300, "nothing of a bad file is applied");

	r = config_load(&c, "/nonexistent/porthole.conf", 1, err, sizeof(err));
	CHECK(r == 0, "absent default file: built-in defaults");
	r = config_load(&c, "/nonexistent/porthole.conf", 0, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "/nonexistent/porthole.conf: cannot open"), "absent -c file: %s", err);
	r = config_load(&c, "/", 0, err, sizeof(err));
	CHECK(r < 0, "a directory is rejected: %s", err);

	parse(&c, "socket_group = no-such-group-xyz\n", err, sizeof(err));
	r = config_resolve(&c, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "does not exist"), "named group must exist: %s", err);
	config_defaults(&c);
	copy_str(c.socket_group, sizeof(c.socket_group), "no-such-group-xyz");
	r = config_resolve(&c, err, sizeof(err));
	CHECK(r == 0 && c.socket_gid == (gid_t)-1, "absent default group: root only");
	parse(&c, "socket_group = 0\n", err, sizeof(err));
	CHECK(config_resolve(&c, err, sizeof(err)) == 0 && c.socket_gid == 0, "numeric group");

	/* serve lines (guarded server windows) */
	r = parse(&c, "serve = unit nginx.service webroot=/tmp\nserve = cgroup /web/caddy always\n"
		      "serve = unit apache2.service max_window=60\n", err, sizeof(err));
	CHECK(r == 0 && c.nsrv == 3, "three serve lines parse (%s)", err);
	CHECK(r == 0 && !strcmp(c.srv[0].cgroup, "/system.slice/nginx.service") && !strcmp(c.srv[0].webroot, "/tmp") &&
	      c.srv[0].nports == 1 && c.srv[0].ports[0] == 80 && !c.srv[0].always, "serve unit: its cgroup, webroot, port 80");
	CHECK(r == 0 && c.srv[1].always && !c.srv[1].webroot[0] && !strcmp(c.srv[1].cgroup, "/web/caddy"), "serve cgroup always");
	CHECK(r == 0 && c.srv[2].max_window == 60, "serve max_window=");
	{
		uint32_t cand, guarded;
		CHECK(config_guard_marks(&c, &cand, &guarded) == 0 && cand == 0xff000000 && guarded == 0xfe000000,
		      "guard marks: the two highest values of the default mask (0x%x 0x%x)", cand, guarded);
		parse(&c, "socket_mark = 0x3/0x3\n", err, sizeof(err));
		CHECK(config_guard_marks(&c, &cand, &guarded) == 0 && cand == 0x2 && guarded == 0x1,
		      "guard marks skip the admitted value (0x%x 0x%x)", cand, guarded);
		uint32_t cw = 0;
		CHECK(config_container_mark(&c, &cw) == -ENOSPC,
		      "a 2-bit mask has no room for the container-window mark beside the server windows' two");
		parse(&c, "socket_mark = 0x2000/0x3fff\n", err, sizeof(err));
		CHECK(config_container_mark(&c, &cw) == 0 && cw == 0x3ffd,
		      "container-window mark: the third highest value of the former default mask (0x%x)", cw);
		parse(&c, "socket_mark = 0x7/0x7\n", err, sizeof(err));
		CHECK(config_container_mark(&c, &cw) == 0 && cw == 0x4 && config_guard_marks(&c, &cand, &guarded) == 0 &&
		      cand == 0x6 && guarded == 0x5, "container-window mark skips VALUE and the guard marks (0x%x)", cw);
		parse(&c, "socket_mark = 0x01000000/0xff000000\n", err, sizeof(err));
		CHECK(config_container_mark(&c, &cw) == 0 && cw == 0xfd000000,
		      "container-window mark for the mask the design proposes (0x%x)", cw);
		uint32_t cp = 0, cc = 0;
		CHECK(config_container_pre_marks(&c, &cp, &cc) == 0 && cp == 0xfc000000 && cc == 0xfb000000 &&
		      __builtin_popcount(cp ^ cw) == 1, "pre-DNAT marks CP 0x%x, CC 0x%x: CP one bit from CW", cp, cc);
		parse(&c, "socket_mark = 0x1000000/0x7000000\ndesignate = cgroup /a published\n", err, sizeof(err));
		CHECK(config_container_pre_marks(&c, &cp, &cc) == -ENOSPC,
		      "a 3-bit mask with a designation has no room for CP and CC (sessions keep their marks)");
		parse(&c, "socket_mark = 0x4/0x7\n", err, sizeof(err));
		CHECK(config_container_pre_marks(&c, &cp, &cc) == -ENOSPC,
		      "CP not one bit from CW (VALUE in the way): refused, never a wrong B rule");
	}
	r = parse(&c, "serve = unit caddy.service caddy=/tmp\n", err, sizeof(err));
	CHECK(r == 0 && c.nsrv == 1 && !strcmp(c.srv[0].caddy, "/tmp") && !c.srv[0].webroot[0] && !c.srv[0].always,
	      "serve caddy=: Caddy's storage as the token source (%s)", err);
	expect_error("serve = unit caddy.service caddy=/tmp always\n", "test.conf:1: serve: caddy= and always exclude");
	expect_error("serve = unit caddy.service caddy=/tmp webroot=/tmp\n", "webroot= and caddy= exclude each other");
	expect_error("serve = unit caddy.service caddy=relative\n", "caddy= must be an absolute path");
	expect_error("serve = unit caddy.service caddy=/nonexistent-porthole\n", "No such file");
	expect_error("serve = unit caddy.service caddy=/etc/hostname\n", "is not a directory");
	expect_error("serve = unit nginx.service webroot=/tmp always\n", "test.conf:1: serve: webroot= and always exclude");
	expect_error("serve = unit nginx.service always max_window=5\n", "max_window= means nothing with always");
	expect_error("serve = unit nginx.service webroot=relative\n", "webroot= must be an absolute path");
	expect_error("serve = unit nginx.service webroot=/nonexistent-porthole\n", "No such file");
	expect_error("serve = unit nginx.service always ports=8080\n", "test.conf:1: serve: port 8080 is not in 'ports'");
	expect_error("serve = unit nginx.service always\nserve = cgroup /system.slice/nginx.service always\n",
		     "test.conf:2: serve: /system.slice/nginx.service already served on line 1");
	expect_error("serve = cgroup / always\n", "must be an absolute path below");
	expect_error("serve = cgroup /a/../b always\n", "must be an absolute path below");
	expect_error("serve = pid 1 always\n", "unknown type 'pid'");
	expect_error("serve = unit\n", "expected 'unit NAME', 'cgroup PATH' or 'container ENGINE:NAME'");
	expect_error("serve = unit nginx.service max_window=999999\n", "max_window= must be 1-86400");
	expect_error("max_window = 10\nserve = unit nginx.service max_window=60\n", "max_window=60 exceeds max_window 10");
	expect_error("designate = unit nginx.service\nserve = unit nginx.service always\n", "cannot also be designated");
	expect_error("serve = unit nginx.service always\ndesignate = unit nginx.service\n", "cannot also be designated");
	expect_error("socket_mark = 0x1/0x3\nserve = unit nginx.service always\n", "too few values");

	/* published (container windows, issue 23) */
	r = parse(&c, "designate = cgroup /porthole-acme published ports=80\ndesignate = unit certbot.service\n", err,
		  sizeof(err));
	CHECK(r == 0 && c.ndes == 2 && c.des[0].published && !c.des[1].published && config_has_published(&c),
	      "designate cgroup ... published (%s)", err);
	r = parse(&c, "designate = unit certbot.service\n", err, sizeof(err));
	CHECK(r == 0 && !config_has_published(&c), "no published line: no container windows");
	expect_error("designate = exe /bin/true published\n", "test.conf:1: designate: published is for unit, cgroup and container");
	expect_error("designate = uid 1000 published\n", "published is for unit, cgroup and container");
	expect_error("serve = unit nginx.service always published\n", "unknown option 'published'");
	expect_error("socket_mark = 0x1/0x3\ndesignate = cgroup /a published\n", "the three marks of server and container");
	r = parse(&c, "socket_mark = 0x1/0x7\ndesignate = cgroup /a published\n", err, sizeof(err));
	CHECK(r == 0, "a 3-bit mask holds one designation, a session and the three reserved marks (%s)", err);

	/* designate = container ENGINE:NAME (issue 23, step 6) */
	config_defaults(&c);
	CHECK(!strcmp(c.docker_root, "/var/lib/docker") && !strcmp(c.podman_root, "/var/lib/containers/storage") &&
	      !strcmp(c.podman_runroot, "/run/containers/storage"), "default engine state roots");
	r = parse(&c, "designate = container docker:certbot ports=80 max_window=60\n"
		  "designate = container podman:my_lego.1-x\n"
		  "docker_root = /srv/docker\npodman_root = /srv/cs\npodman_runroot = /run/cs\n", err, sizeof(err));
	CHECK(r == 0 && c.ndes == 2 && c.des[0].type == DES_CONTAINER && c.des[0].engine == PH_ENGINE_DOCKER &&
	      !strcmp(c.des[0].name, "certbot") && c.des[0].published && c.des[0].nports == 1 &&
	      c.des[0].max_window == 60 && !c.des[0].cgroup[0], "designate = container docker:certbot (%s)", err);
	CHECK(c.des[1].engine == PH_ENGINE_PODMAN && !strcmp(c.des[1].name, "my_lego.1-x") && c.des[1].published &&
	      config_has_published(&c), "designate = container podman:NAME, published implied");
	CHECK(!strcmp(c.docker_root, "/srv/docker") && !strcmp(c.podman_root, "/srv/cs") &&
	      !strcmp(c.podman_runroot, "/run/cs"), "docker_root, podman_root, podman_runroot set");
	CHECK(!strcmp(des_type_name(c.des[0].type), "container"), "des_type_name: container");
	r = parse(&c, "designate = container docker:certbot published\n", err, sizeof(err));
	CHECK(r == 0 && c.des[0].published, "container ... published: accepted (implied anyway) (%s)", err);
	expect_error("designate = container lxc:certbot\n", "test.conf:1: designate container: unknown engine 'lxc' (docker or podman)");
	expect_error("designate = container certbot\n", "designate container: 'certbot' must be ENGINE:NAME");
	expect_error("designate = container docker:\n", "designate container: '' is not a container name");
	expect_error("designate = container docker:-x\n", "'-x' is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*");
	expect_error("designate = container docker:/certbot\n", "'/certbot' is not a container name");
	expect_error("designate = container docker:cert/bot\n", "is not a container name");
	expect_error("designate = container podman:caf\xc3\xa9\n", "is not a container name");
	expect_error("designate = container docker:certbot\ndesignate = container docker:certbot\n",
		     "already designated on line 1");
	expect_error("designate = container docker:certbot ports=8080\n", "port 8080 is not in 'ports'");
	expect_error("designate = container docker:certbot always\n", "unknown option 'always'");
	expect_error("docker_root = var/lib/docker\n", "docker_root: must be an absolute path without '..'");
	expect_error("podman_root = /a/../b\n", "podman_root: must be an absolute path without '..'");
	expect_error("podman_runroot = /a\npodman_runroot = /b\n", "duplicate key 'podman_runroot'");
	{
		char longname[PH_CONTAINER_NAME_LEN + 40];
		snprintf(longname, sizeof(longname), "designate = container docker:%0*d\n", PH_CONTAINER_NAME_LEN, 0);
		expect_error(longname, "is not a container name");
	}
	CHECK(container_name_valid("a") && container_name_valid("Certbot_1.x-y") && !container_name_valid("") &&
	      !container_name_valid("_a") && !container_name_valid(".a") && !container_name_valid("a b") &&
	      !container_name_valid("a:b"), "container_name_valid: Docker's rule");

	/* serve = container ENGINE:NAME webroot=HOST_PATH, guard_dscp (issue 23 case 3, step 8) */
	config_defaults(&c);
	CHECK(c.guard_dscp == PH_GUARD_DSCP_DEFAULT && PH_GUARD_DSCP_DEFAULT == 0x03, "guard_dscp defaults to 0x03");
	r = parse(&c, "serve = container docker:nginx webroot=/tmp\nserve = container podman:web.1 webroot=/tmp\n"
		  "guard_dscp = 0x2b\n", err, sizeof(err));
	CHECK(r == 0 && c.nsrv == 2 && c.srv[0].type == DES_CONTAINER && c.srv[0].engine == PH_ENGINE_DOCKER &&
	      !strcmp(c.srv[0].name, "nginx") && !strcmp(c.srv[0].webroot, "/tmp") && !c.srv[0].cgroup[0] &&
	      c.srv[0].nports == 1 && c.srv[0].ports[0] == 80 && c.srv[1].engine == PH_ENGINE_PODMAN &&
	      !strcmp(c.srv[1].name, "web.1") && c.guard_dscp == 0x2b, "serve = container docker:nginx webroot=... (%s)", err);
	CHECK(config_has_csrv(&c) && config_has_published(&c), "a container serve line: csrv and the forward path");
	r = parse(&c, "serve = cgroup /web always\nguard_dscp = 63\n", err, sizeof(err));
	CHECK(r == 0 && !config_has_csrv(&c) && !config_has_published(&c) && c.guard_dscp == 63,
	      "a cgroup serve line is no container's; guard_dscp = 63 (%s)", err);
	expect_error("guard_dscp = 0\n", "test.conf:1: guard_dscp: '0' is not a DSCP codepoint (1-63, e.g. 0x03)");
	expect_error("guard_dscp = 64\n", "guard_dscp: '64' is not a DSCP codepoint");
	expect_error("guard_dscp = -3\n", "guard_dscp: '-3' is not a DSCP codepoint");
	expect_error("guard_dscp = 0x3z\n", "guard_dscp: '0x3z' is not a DSCP codepoint");
	expect_error("serve = container lxc:nginx webroot=/tmp\n", "serve container: unknown engine 'lxc' (docker or podman)");
	expect_error("serve = container nginx webroot=/tmp\n", "serve container: 'nginx' must be ENGINE:NAME, like docker:nginx");
	expect_error("serve = container docker:-x webroot=/tmp\n", "serve container: '-x' is not a container name");
	r = parse(&c, "serve = container docker:caddy caddy=/tmp ports=80,443\nports = 80,443\n", err, sizeof(err));
	CHECK(r == 0 && c.nsrv == 1 && c.srv[0].type == DES_CONTAINER && !strcmp(c.srv[0].caddy, "/tmp") &&
	      !c.srv[0].webroot[0] && !c.srv[0].always && c.srv[0].nports == 2 && config_has_csrv(&c),
	      "serve = container docker:caddy caddy=HOST_PATH: Caddy's storage volume as the token source (%s)", err);
	r = parse(&c, "serve = container podman:traefik always\n", err, sizeof(err));
	CHECK(r == 0 && c.nsrv == 1 && c.srv[0].type == DES_CONTAINER && c.srv[0].always && !c.srv[0].caddy[0] &&
	      !c.srv[0].webroot[0] && c.srv[0].engine == PH_ENGINE_PODMAN,
	      "serve = container podman:traefik always: no token files on the host (%s)", err);
	expect_error("serve = container docker:caddy caddy=/tmp always\n", "serve: caddy= and always exclude each other");
	expect_error("serve = container docker:web webroot=/tmp caddy=/tmp\n", "webroot= and caddy= exclude each other");
	r = parse(&c, "serve = container docker:traefik always max_window=60\n", err, sizeof(err));
	CHECK(r == 0 && c.srv[0].always && c.srv[0].max_window == 60,
	      "a container's always window may be bounded: max_window=60 (%s)", err);
	expect_error("serve = cgroup /traefik always max_window=60\n", "max_window= means nothing with always");
	expect_error("serve = container docker:caddy caddy=relative\n", "caddy= must be an absolute path");
	expect_error("serve = container docker:caddy caddy=/nonexistent-porthole\n", "No such file");
	expect_error("serve = container docker:nginx\n", "serve container: webroot=HOST_PATH, caddy=HOST_PATH or always is "
		     "required");
	expect_error("serve = container docker:nginx ports=80\n", "serve container: webroot=HOST_PATH, caddy=HOST_PATH or always");
	expect_error("serve = container docker:traefik always\nserve = container docker:traefik always\n",
		     "serve: docker:traefik already served on line 1");
	expect_error("designate = container docker:traefik\nserve = container docker:traefik always\n",
		     "serve: docker:traefik is designated on line 1");
	expect_error("serve = nginx\n", "serve: expected 'unit NAME', 'cgroup PATH' or 'container ENGINE:NAME'");
	expect_error("serve = container docker:nginx webroot=/tmp\nserve = container docker:nginx webroot=/tmp\n",
		     "serve: docker:nginx already served on line 1");
	r = parse(&c, "serve = container docker:nginx webroot=/tmp\nserve = container podman:nginx webroot=/tmp\n", err,
		  sizeof(err));
	CHECK(r == 0 && c.nsrv == 2, "the same name under two engines is two containers (%s)", err);
	expect_error("designate = container docker:nginx\nserve = container docker:nginx webroot=/tmp\n",
		     "serve: docker:nginx is designated on line 1");
	expect_error("serve = container docker:nginx webroot=/tmp\ndesignate = container docker:nginx\n",
		     "test.conf:2: designate: docker:nginx is served on line 1");
	r = parse(&c, "serve = cgroup /web webroot=/tmp\ndesignate = container docker:web\n", err, sizeof(err));
	CHECK(r == 0, "a cgroup serve line and a container designation do not meet (%s)", err);
	return unit_done("unit/config");
}
