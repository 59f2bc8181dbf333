// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole log: the audit log, read straight from its file (the daemon need
 * not run), filtered by time and window, shown as text or as one JSON array.
 * A torn record is reported and skipped. In text, every string read from a
 * record goes through the terminal escaper: the log quotes exe names, user
 * names and, in guard records, what a peer on the Internet sent (a token),
 * which anyone can choose. */
#include "cli.h"
#include "client.h"
#include "config.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void usage_log(FILE *f)
{
	fprintf(f,
		"usage: porthole log [--json] [--since TIME] [--window ID] [--file PATH] [--config FILE]\n"
		"Show the audit log (read directly from the file; the daemon need not run).\n"
		"  --json          the selected records as one JSON array\n"
		"  --since TIME    records at or after TIME: 2026-11-28, 2026-11-28T12:00[:00] (UTC),\n"
		"                  or a span back from now: 30m, 12h, 7d\n"
		"  --window ID     only the records of that window (a server window's: its guard records too)\n"
		"  --file PATH     the log file (default: audit_log from the config)\n"
		"  --config FILE   the daemon's config (default " PH_DEFAULT_CONFIG ")\n");
}

/* TIME -> the same "YYYY-MM-DDTHH:MM:SS" prefix the records use */
static int parse_since(const char *s, char *out, size_t len)
{
	struct tm tm = { 0 };
	const char *end;
	uint64_t n;
	char unit;
	size_t l = strlen(s);

	if (l >= 2 && strchr("smhd", s[l - 1])) {
		char num[32];
		if (l - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, l - 1);
		num[l - 1] = '\0';
		unit = s[l - 1];
		if (parse_u64(num, 0, 100000000, &n))
			return -EINVAL;
		n *= unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
		time_t t = time(NULL) - (time_t)n;
		gmtime_r(&t, &tm);
		strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == 'T')
		end = strptime(end + 1, "%H:%M", &tm) ? strptime(end + 1, "%H:%M", &tm) : NULL;
	if (end && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (end && *end == 'Z')
		end++;
	if (!end || *end)
		return -EINVAL;
	strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	return 0;
}

/* A record's string member made safe for a terminal (term_escape); a value
 * that needs no escape comes out exactly as json_get_str gives it. */
static int get_text(const char *s, size_t n, const char *key, char *out, size_t outlen)
{
	char raw[1024];
	int r = json_get_str(s, n, key, raw, outlen < sizeof(raw) ? outlen : sizeof(raw));

	term_escape(out, outlen, raw);
	return r;
}

/* The raw value of a record's member, or NULL (vl 0) when it is absent. */
static const char *get_raw(const char *s, size_t n, const char *key, size_t *vl)
{
	const char *v;

	if (json_get(s, n, key, &v, vl)) {
		*vl = 0;
		return NULL;
	}
	return v;
}

/* [80,443] -> 80,443 */
static void print_ports(const char *line, size_t n)
{
	size_t vl;
	const char *v = get_raw(line, n, "ports", &vl);
	char *ports;

	if (!v || vl < 2 || v[0] != '[')
		return;
	ports = strndup(v + 1, vl - 2);
	if (ports)
		print_safe(stdout, ports);
	free(ports);
}

/* The strings of a JSON array (raw text of a valid record), each unescaped
 * and made safe for a terminal, sep between them; at most max, then "...".
 * Each element goes through the one reader: wrapped as {"s":ELEMENT}. */
static unsigned print_str_array(const char *v, size_t vl, const char *sep, unsigned max)
{
	const char *p, *end;
	unsigned k = 0;

	if (!v || vl < 2 || v[0] != '[')
		return 0;
	p = v + 1;
	end = v + vl - 1;
	while (p < end) {
		char obj[600], raw[520], safe[4 * sizeof(raw) + 1];
		const char *q;
		int len;

		if (*p != '"') {
			p++;
			continue;
		}
		for (q = p + 1; q < end && *q != '"'; q += *q == '\\' ? 2 : 1)
			;
		if (q >= end)
			break;
		if (k == max) {
			printf("%s...", sep);
			return k;
		}
		len = snprintf(obj, sizeof(obj), "{\"s\":%.*s}", (int)(q - p + 1), p);
		if (len > 0 && (size_t)len < sizeof(obj) && !json_get_str(obj, (size_t)len, "s", raw, sizeof(raw)))
			term_escape(safe, sizeof(safe), raw);
		else
			snprintf(safe, sizeof(safe), "(too long)");
		printf("%s%s", k ? sep : "", safe);
		k++;
		p = q + 1;
	}
	return k;
}

/* "server":{"type","value","cgroup","webroot","config_line"} ->
 * unit nginx.service (cgroup /system.slice/nginx.service, webroot /var/www/acme, config line 14) */
static void print_server(const char *line, size_t n)
{
	size_t vl;
	const char *v = get_raw(line, n, "server", &vl);
	char type[32], value[1024], cg[1024], webroot[1024];
	const char *sep = " (";
	uint64_t cl = 0;

	if (!v || v[0] != '{') {
		printf("a server");
		return;
	}
	get_text(v, vl, "type", type, sizeof(type));
	get_text(v, vl, "value", value, sizeof(value));
	get_text(v, vl, "cgroup", cg, sizeof(cg));
	get_text(v, vl, "webroot", webroot, sizeof(webroot));
	printf("%s%s%s", type, type[0] ? " " : "", value[0] ? value : "?");
	if (cg[0] && strcmp(cg, value)) {
		printf("%scgroup %s", sep, cg);
		sep = ", ";
	}
	if (webroot[0]) {
		printf("%swebroot %s", sep, webroot);
		sep = ", ";
	}
	if (!json_get_u64(v, vl, "config_line", &cl)) {
		printf("%sconfig line %llu", sep, (unsigned long long)cl);
		sep = ", ";
	}
	if (strcmp(sep, " ("))
		printf(")");
}

/* window-open of a server window: what it guards, why it opened, the tokens */
static void print_server_open(const char *line, size_t n)
{
	char why[64], c[64];
	uint64_t x = 0, y = 0;
	size_t vl;
	const char *v;

	get_text(line, n, "why", why, sizeof(why));
	printf("guarded tcp/");
	print_ports(line, n);
	printf(" to ");
	print_server(line, n);
	printf(", why %s", why[0] ? why : "?");
	if (!json_get_u64(line, n, "session", &x)) {
		printf(" %llu", (unsigned long long)x);
		if (!json_get_u64(line, n, "requested_by_uid", &y))
			printf(" of uid %llu", (unsigned long long)y);
	}
	v = get_raw(line, n, "tokens", &vl);
	if (v && vl > 2) {
		printf(", tokens ");
		print_str_array(v, vl, " ", 16);
	}
	if (!json_get_u64(line, n, "guard_rules", &x))
		printf(", %llu guard rule(s)", (unsigned long long)x);
	if (!get_text(line, n, "deadline", c, sizeof(c)) && c[0])
		printf(", deadline %s", c);
	else
		printf(", no deadline");
	putchar('\n');
}

/* a window-close's reason and how long the window was open, unless it was
 * recovered (its time is not known); returns 0 for a recovered window */
static int print_close_reason(const char *line, size_t n, char *reason, size_t len)
{
	uint64_t ms = 0;

	get_text(line, n, "reason", reason, len);
	json_get_u64(line, n, "duration_ms", &ms);
	printf("%s", reason);
	if (!strcmp(reason, "recovered"))
		return 0;
	printf(" after %llu.%01llu s", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
	return 1;
}

/* window-close of a server window: the guard's counts instead of packets */
static void print_server_close(const char *line, size_t n)
{
	char reason[64];
	uint64_t adm = 0, drop = 0;

	print_close_reason(line, n, reason, sizeof(reason));
	json_get_u64(line, n, "requests_admitted", &adm);
	json_get_u64(line, n, "requests_dropped", &drop);
	printf(", guarded: %llu request(s) admitted, %llu dropped; ", (unsigned long long)adm, (unsigned long long)drop);
	print_server(line, n);
	putchar('\n');
}

/* guard: one request judged on a server window */
static void print_guard(const char *line, size_t n)
{
	char verdict[32], why[64], peer[256], server[1024], token[1024];
	uint64_t pport = 0, port = 0;

	get_text(line, n, "verdict", verdict, sizeof(verdict));
	get_text(line, n, "why", why, sizeof(why));
	get_text(line, n, "peer", peer, sizeof(peer));
	get_text(line, n, "server", server, sizeof(server));
	get_text(line, n, "token", token, sizeof(token));
	json_get_u64(line, n, "peer_port", &pport);
	json_get_u64(line, n, "port", &port);
	printf("%s %s%s%s:%llu -> tcp/%llu", verdict[0] ? verdict : "?", strchr(peer, ':') ? "[" : "", peer[0] ? peer : "?",
	       strchr(peer, ':') ? "]" : "", (unsigned long long)pport, (unsigned long long)port);
	if (server[0])
		printf(" of %s", server);
	if (why[0] && strcmp(why, verdict))
		printf(": %s", why);
	if (token[0])
		printf(", token %s", token);
	putchar('\n');
}

static void print_record_text(const char *line, size_t n)
{
	char ev[32], t[40], a[256], b[256], c[1024], kind[32];
	uint64_t w = 0, x = 0, y = 0, z = 0;

	get_text(line, n, "event", ev, sizeof(ev));
	get_text(line, n, "time", t, sizeof(t));
	get_text(line, n, "kind", kind, sizeof(kind));
	if (json_get_u64(line, n, "window", &w))
		w = 0;
	printf("%-24s %-13s ", t, ev);
	if (w)
		printf("%-6llu ", (unsigned long long)w);
	else
		printf("%-6s ", "-");
	/* (a web server in a container: "kind":"container" with a "server"
	 * member, a guarded window like a host server's) */
	size_t sl;
	int server = !strcmp(kind, "server") || (!strcmp(kind, "container") && get_raw(line, n, "server", &sl));

	if (!strcmp(ev, "window-open") && server) {
		print_server_open(line, n);
	} else if (!strcmp(ev, "window-close") && server) {
		print_server_close(line, n);
	} else if (!strncmp(ev, "window-", 7) && !strcmp(kind, "container")) {
		/* a container window: its listener, cgroup, container port */
		get_text(line, n, "exe", a, sizeof(a));
		get_text(line, n, "cgroup", b, sizeof(b));
		json_get_u64(line, n, "pid", &x);
		json_get_u64(line, n, "container_port", &y);
		if (!strcmp(ev, "window-open")) {
			get_text(line, n, "deadline", c, sizeof(c));
			printf("container tcp/");
			print_ports(line, n);
			printf(" to tcp/%llu of pid %llu (%s) in cgroup %s, deadline %s\n", (unsigned long long)y,
			       (unsigned long long)x, a, b, c);
		} else {
			print_close_reason(line, n, c, sizeof(c));
			printf("; container tcp/%llu of pid %llu (%s) in cgroup %s\n", (unsigned long long)y,
			       (unsigned long long)x, a, b);
		}
	} else if (!strcmp(ev, "guard")) {
		print_guard(line, n);
	} else if (!strcmp(ev, "guard-suppressed")) {
		json_get_u64(line, n, "dropped_requests", &x);
		printf("%llu more dropped request(s) counted, not recorded one by one\n", (unsigned long long)x);
	} else if (!strcmp(ev, "window-open")) {
		get_text(line, n, "exe", a, sizeof(a));
		get_text(line, n, "user", b, sizeof(b));
		json_get_u64(line, n, "pid", &x);
		get_text(line, n, "deadline", c, sizeof(c));
		printf("tcp/");
		print_ports(line, n);
		printf(" pid %llu (%s) user %s, deadline %s\n", (unsigned long long)x, a, b, c);
	} else if (!strcmp(ev, "window-close")) {
		const char *v;
		size_t vl;
		json_get_u64(line, n, "packets", &y);
		json_get_u64(line, n, "connections", &z);
		if (print_close_reason(line, n, a, sizeof(a)))
			printf(", %llu packets, %llu connections", (unsigned long long)y, (unsigned long long)z);
		if (!json_get(line, n, "peers", &v, &vl) && vl > 2) {
			/* [{"addr":"192.0.2.1","connections":3},...] -> 192.0.2.1 (3), ... */
			const char *p = v, *end = v + vl;
			int first = 1;
			printf(", from");
			while ((p = strstr(p, "{")) && p < end) {
				const char *close = memchr(p, '}', (size_t)(end - p));
				char addr[64];
				uint64_t cnt = 0;
				if (!close)
					break;
				if (!get_text(p, (size_t)(close - p + 1), "addr", addr, sizeof(addr)) &&
				    !json_get_u64(p, (size_t)(close - p + 1), "connections", &cnt))
					printf("%s %s (%llu)", first ? "" : ",", addr, (unsigned long long)cnt);
				first = 0;
				p = close + 1;
			}
		}
		putchar('\n');
	} else if (!strcmp(ev, "refused")) {
		get_text(line, n, "user", a, sizeof(a));
		get_text(line, n, "request", b, sizeof(b));
		get_text(line, n, "why", c, sizeof(c));
		json_get_u64(line, n, "uid", &x);
		json_get_u64(line, n, "pid", &y);
		printf("uid %llu (%s) pid %llu, %s: %s\n", (unsigned long long)x, a, (unsigned long long)y, b, c);
	} else if (!strcmp(ev, "daemon-start")) {
		get_text(line, n, "version", a, sizeof(a));
		json_get_u64(line, n, "pid", &x);
		json_get_u64(line, n, "leftover_rules_removed", &y);
		printf("portholed %s pid %llu, %llu leftover rule(s) removed\n", a, (unsigned long long)x,
		       (unsigned long long)y);
	} else if (!strcmp(ev, "daemon-stop")) {
		get_text(line, n, "reason", a, sizeof(a));
		printf("%s\n", a);
	} else {
		putchar('\n');
	}
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "since", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' }, { "file", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *file = NULL, *config = PH_DEFAULT_CONFIG;
	char since[40] = "", err[512];
	int json = 0, opt, config_given = 0, shown = 0, torn = 0;
	uint64_t window = 0;
	struct ph_config cfg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	FILE *f;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 's':
			if (parse_since(optarg, since, sizeof(since))) {
				die_msg("log: --since: '%s' is not a time (2026-11-28, 2026-11-28T12:00, 30m, 12h, 7d)", optarg);
				return EX_USAGE_;
			}
			break;
		case 'w':
			if (parse_u64(optarg, 1, UINT64_MAX, &window)) {
				die_msg("log: --window: '%s' is not a window id", optarg);
				return EX_USAGE_;
			}
			break;
		case 'f': file = optarg; break;
		case 'c': config = optarg; config_given = 1; break;
		case 'h': usage_log(stdout); return 0;
		default: usage_log(stderr); return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("log: unexpected argument '%s'", argv[optind]);
		usage_log(stderr);
		return EX_USAGE_;
	}
	if (!file) {
		config_defaults(&cfg);
		if (config_load(&cfg, config, !config_given, err, sizeof(err))) {
			die_msg("%s", err);
			return EX_CONFIG_;
		}
		file = cfg.audit_log;
	}
	f = fopen(file, "re");
	if (!f) {
		die_msg("cannot read the audit log %s: %s", file, strerror(errno));
		return errno == EACCES ? EX_NOPERM_ : EX_NOINPUT_;
	}
	if (json)
		printf("[");
	else
		printf("%-24s %-13s %-6s %s\n", "TIME", "EVENT", "WINDOW", "DETAILS");
	while ((n = getline(&line, &cap, f)) > 0) {
		char t[40];
		uint64_t w;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (json_valid_object(line, (size_t)n)) {
			/* a torn record (power cut mid-write): everything else stays readable */
			torn++;
			die_msg("%s:%lu: skipped an incomplete record", file, lineno);
			continue;
		}
		if (since[0] && (json_get_str(line, (size_t)n, "time", t, sizeof(t)) || strcmp(t, since) < 0))
			continue;
		if (window && (json_get_u64(line, (size_t)n, "window", &w) || w != window))
			continue;
		if (json)
			printf("%s\n%s", shown ? "," : "", line);
		else
			print_record_text(line, (size_t)n);
		shown++;
	}
	if (json)
		printf("%s]\n", shown ? "\n" : "");
	free(line);
	fclose(f);
	(void)torn;
	return 0;
}
