// SPDX-License-Identifier: GPL-2.0-or-later
/* porthole status and porthole close: the two verbs that ask the daemon
 * about its open windows. status prints them as a table or as --json (the
 * daemon's strings through the JSON or the terminal escaper, never raw);
 * close revokes one by id. */
#include "cli.h"
#include "client.h"
#include "json.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void usage_status(FILE *f)
{
	fprintf(f, "usage: porthole status [--json]\nList the open windows.\n");
}

/* --json: one object, {"windows":[...]}, through lib/json.c's writer. Every
 * string of the reply escapes to at most 6 bytes a byte, and the keys of an
 * entry take less room than the entry itself: 8 x PH_MSG_MAX always holds it. */
static int print_status_json(const struct ph_status_reply *rep, uint64_t now)
{
	size_t cap = 8 * (size_t)PH_MSG_MAX;
	char *buf = malloc(cap);
	struct jbuf b;

	if (!buf)
		return reply_failure(-ENOMEM);
	jb_init(&b, buf, cap);
	jb_obj_begin(&b, NULL);
	jb_arr_begin(&b, "windows");
	for (uint32_t i = 0; i < rep->count; i++) {
		const struct ph_status_entry *e = &rep->entries[i];
		char o[32], d[32];
		fmt_time(e->opened_ns, o, sizeof(o));
		fmt_time(e->deadline_ns, d, sizeof(d));
		if (!e->deadline_ns)
			d[0] = '\0'; /* an always server window: no deadline */
		jb_obj_begin(&b, NULL);
		jb_u64(&b, "id", e->window_id);
		jb_u64(&b, "session", e->session_id);
		jb_u64(&b, "pid", e->pid);
		jb_str(&b, "exe", e->exe);
		jb_u64(&b, "port", e->port);
		jb_str(&b, "opened", o);
		jb_str(&b, "deadline", d);
		jb_u64(&b, "age_s", (now - e->opened_ns) / NSEC_PER_SEC);
		jb_u64(&b, "left_s", e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0);
		jb_u64(&b, "chains", e->nchains);
		jb_u64(&b, "listeners", e->nlisteners);
		jb_u64(&b, "packets", e->packets);
		jb_u64(&b, "bytes", e->bytes);
		jb_str(&b, "cgroup", e->cgroup);
		jb_str(&b, "kind", e->kind == PH_WIN_SERVER ? "server" : e->kind == PH_WIN_CONTAINER ? "container" : "process");
		if (e->kind == PH_WIN_CONTAINER)
			jb_str(&b, "targets", e->tokens);
		if (e->kind == PH_WIN_SERVER) {
			char tok[PH_PATH_LEN], *save = NULL, *t;
			jb_str(&b, "server", e->exe);
			jb_u64(&b, "requests_admitted", e->admitted);
			jb_u64(&b, "requests_dropped", e->dropped);
			jb_arr_begin(&b, "tokens");
			copy_str(tok, sizeof(tok), e->tokens);
			for (t = strtok_r(tok, " ", &save); t; t = strtok_r(NULL, " ", &save))
				jb_str(&b, NULL, t);
			jb_arr_end(&b);
		}
		jb_obj_end(&b);
	}
	jb_arr_end(&b);
	jb_obj_end(&b);
	if (b.err) {
		free(buf);
		return reply_failure(-EOVERFLOW);
	}
	printf("%s\n", buf);
	free(buf);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	struct ph_status_reply *rep;
	int json = 0, opt, fd, r;
	uint64_t now = now_ns(CLOCK_REALTIME);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			usage_status(stdout);
			return 0;
		} else {
			usage_status(stderr);
			return EX_USAGE_;
		}
	}
	if (optind != argc) {
		die_msg("status: unexpected argument '%s'", argv[optind]);
		usage_status(stderr);
		return EX_USAGE_;
	}
	fd = connect_daemon();
	if (fd < 0)
		return -fd;
	if (send_simple(fd, PH_MSG_STATUS, NULL, 0)) {
		close(fd);
		return reply_failure(-ECONNRESET);
	}
	r = recv_msg(fd, &m, 10000);
	close(fd);
	if (r == PH_MSG_ERROR)
		return error_exit(&m);
	if (r != PH_MSG_STATUS_REPLY)
		return reply_failure(r < 0 ? r : -EPROTO);
	rep = ph_payload(&m);
	if (json)
		return print_status_json(rep, now);
	if (rep->count == 0) {
		printf("no open windows\n");
		return 0;
	}
	printf("%-16s %-7s %-5s %6s %6s %8s %8s  %s\n", "WINDOW", "PID", "PORT", "AGE", "LEFT", "PACKETS", "BYTES", "EXE");
	for (uint32_t i = 0; i < rep->count; i++) {
		struct ph_status_entry *e = &rep->entries[i];
		char exe[4 * PH_EXE_LEN + 1];

		/* an exe name is whatever its owner chose: never raw to a terminal */
		term_escape(exe, sizeof(exe), e->exe[0] ? e->exe : "?");
		if (e->kind == PH_WIN_SERVER) {
			char tok[4 * PH_PATH_LEN + 1], left[24] = "-";
			term_escape(tok, sizeof(tok), e->tokens);
			if (e->deadline_ns)
				snprintf(left, sizeof(left), "%llus",
					 (unsigned long long)(e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0));
			printf("%-16llu %-7s %-5u %5llus %6s %8s %8s  server %s (guarded: %llu admitted, %llu dropped)%s%s\n",
			       (unsigned long long)e->window_id, "-", e->port,
			       (unsigned long long)((now - e->opened_ns) / NSEC_PER_SEC), left, "-", "-", exe,
			       (unsigned long long)e->admitted, (unsigned long long)e->dropped, tok[0] ? "; tokens: " : "", tok);
			continue;
		}
		if (e->kind == PH_WIN_CONTAINER) {
			char tg[4 * PH_PATH_LEN + 1], cg[4 * PH_PATH_LEN + 1];
			term_escape(tg, sizeof(tg), e->tokens);
			term_escape(cg, sizeof(cg), e->cgroup);
			printf("%-16llu %-7u %-5u %5llus %5llus %8s %8s  container %s (cgroup %s) through DNAT to %s\n",
			       (unsigned long long)e->window_id, e->pid, e->port,
			       (unsigned long long)((now - e->opened_ns) / NSEC_PER_SEC),
			       (unsigned long long)(e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0), "-", "-",
			       exe, cg, tg);
			continue;
		}
		printf("%-16llu %-7u %-5u %5llus %5llus %8llu %8llu  %s\n", (unsigned long long)e->window_id, e->pid,
		       e->port, (unsigned long long)((now - e->opened_ns) / NSEC_PER_SEC),
		       (unsigned long long)(e->deadline_ns > now ? (e->deadline_ns - now) / NSEC_PER_SEC : 0),
		       (unsigned long long)e->packets, (unsigned long long)e->bytes, exe);
	}
	return 0;
}

void usage_close(FILE *f)
{
	fprintf(f, "usage: porthole close WINDOW-ID\nRevoke an open window now (its process is not killed).\n");
}

int cmd_close(int argc, char **argv)
{
	union { struct ph_hdr h; char b[PH_MSG_MAX]; } m;
	struct ph_close req;
	uint64_t id;
	int fd, r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage_close(stdout);
		return 0;
	}
	if (argc != 2) {
		die_msg(argc < 2 ? "close: missing window id" : "close: too many arguments");
		usage_close(stderr);
		return EX_USAGE_;
	}
	if (parse_u64(argv[1], 1, UINT64_MAX, &id)) {
		die_msg("close: '%s' is not a window id", argv[1]);
		usage_close(stderr);
		return EX_USAGE_;
	}
	req.window_id = id;
	fd = connect_daemon();
	if (fd < 0)
		return -fd;
	if (send_simple(fd, PH_MSG_CLOSE, &req, sizeof(req))) {
		close(fd);
		return reply_failure(-ECONNRESET);
	}
	r = recv_msg(fd, &m, 10000);
	close(fd);
	if (r == PH_MSG_OK) {
		printf("window %llu closed\n", (unsigned long long)id);
		return 0;
	}
	if (r == PH_MSG_ERROR) {
		struct ph_error *e = ph_payload(&m);
		if (e->code == ENOENT) {
			char text[4 * PH_ERRMSG_LEN + 1];

			term_escape(text, sizeof(text), e->msg);
			die_msg("%s", text);
			return EX_NOTFOUND;
		}
		return error_exit(&m);
	}
	return reply_failure(r < 0 ? r : -EPROTO);
}
