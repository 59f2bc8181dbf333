// SPDX-License-Identifier: GPL-2.0-or-later
/* Writes the proto seed corpus: one well-formed message of every type (built
 * with the real header and ph_msg_init(), so the seeds follow the struct
 * layout) plus a few near misses. run.sh rebuilds it on every run and warns
 * when the committed corpus/proto/ is stale; to refresh it:
 *   FUZZ_REGEN_SEEDS=1 bash tests/fuzz/run.sh   (or see run.sh for the cc line)
 * Usage: gen_seeds DIR */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static int failed;

static void put(const char *name, const void *buf, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		failed = 1;
	}
}

/* a seed named valid-* must pass ph_msg_check() with its type */
static void put_valid(const char *name, const void *buf, size_t n, int type)
{
	if (ph_msg_check(buf, n) != type) {
		fprintf(stderr, "gen_seeds: %s does not validate (%d)\n", name, ph_msg_check(buf, n));
		failed = 1;
	}
	put(name, buf, n);
}

int main(int argc, char **argv)
{
	static union { struct ph_hdr h; char b[PH_MSG_MAX + 1]; } m;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];

	n = ph_msg_init(&m, PH_MSG_RUN, sizeof(struct ph_run));
	((struct ph_run *)ph_payload(&m))->pid = 4242; /* the caller's waiting child */
	put_valid("valid-run-default", &m, n, PH_MSG_RUN);
	{
		struct ph_run *r = ph_payload(&m);
		r->nports = 3; r->max_window = 600;
		r->ports[0] = 80; r->ports[1] = 443; r->ports[2] = 8080;
	}
	put_valid("valid-run-3ports", &m, n, PH_MSG_RUN);

	n = ph_msg_init(&m, PH_MSG_RUN_OK, sizeof(struct ph_run_ok));
	{
		struct ph_run_ok *r = ph_payload(&m);
		r->session_id = 42; r->max_window = 300; r->nports = 2;
		r->ports[0] = 80; r->ports[1] = 443;
		strcpy(r->cgroup, "/sys/fs/cgroup/porthole.slice/session-42");
	}
	put_valid("valid-run-ok", &m, n, PH_MSG_RUN_OK);

	n = ph_msg_init(&m, PH_MSG_EVENT, sizeof(struct ph_event));
	{
		struct ph_event *e = ph_payload(&m);
		e->kind = PH_EVENT_WINDOW_OPEN; e->window_id = 7; e->session_id = 42;
		e->deadline_ns = 1700000000ull * 1000000000ull; e->pid = 1234; e->port = 80;
		e->nchains = 2;
	}
	put_valid("valid-event-open", &m, n, PH_MSG_EVENT);
	{
		struct ph_event *e = ph_payload(&m);
		e->kind = PH_EVENT_WINDOW_CLOSE; e->reason = PH_REASON_DEADLINE;
		e->packets = 10; e->bytes = 1500;
	}
	put_valid("valid-event-close", &m, n, PH_MSG_EVENT);

	n = ph_msg_init(&m, PH_MSG_ERROR, sizeof(struct ph_error));
	{
		struct ph_error *e = ph_payload(&m);
		e->code = EPERM;
		strcpy(e->msg, "not a member of group porthole");
	}
	put_valid("valid-error", &m, n, PH_MSG_ERROR);

	n = ph_msg_init(&m, PH_MSG_STATUS, 0);
	put_valid("valid-status", &m, n, PH_MSG_STATUS);
	n = ph_msg_init(&m, PH_MSG_OK, 0);
	put_valid("valid-ok", &m, n, PH_MSG_OK);

	n = ph_msg_init(&m, PH_MSG_CLOSE, sizeof(struct ph_close));
	((struct ph_close *)ph_payload(&m))->window_id = 7;
	put_valid("valid-close", &m, n, PH_MSG_CLOSE);

	for (unsigned count = 0; count <= 2; count += 2) {
		struct ph_status_reply *r;

		n = ph_msg_init(&m, PH_MSG_STATUS_REPLY,
				sizeof(*r) + count * sizeof(struct ph_status_entry));
		r = ph_payload(&m);
		r->count = count;
		for (unsigned i = 0; i < count; i++) {
			struct ph_status_entry *e = &r->entries[i];
			e->window_id = i + 1; e->session_id = 42; e->pid = 1000 + i;
			e->port = (uint16_t)(80 + i); e->nchains = 1; e->nlisteners = 1;
			strcpy(e->exe, i ? "/usr/bin/certbot" : "/usr/bin/lego");
			strcpy(e->cgroup, "/sys/fs/cgroup/porthole.slice/session-42");
		}
		put_valid(count ? "valid-status-reply-2" : "valid-status-reply-0", &m, n,
			  PH_MSG_STATUS_REPLY);
	}

	/* near misses: each breaks one rule of an otherwise valid message */
	n = ph_msg_init(&m, PH_MSG_CLOSE, sizeof(struct ph_close));
	m.h.version = PH_PROTO_VERSION + 1;
	put("bad-version", &m, n);
	n = ph_msg_init(&m, PH_MSG_ERROR, sizeof(struct ph_error));
	memset(((struct ph_error *)ph_payload(&m))->msg, 'x', PH_ERRMSG_LEN);
	put("bad-error-unterminated", &m, n);
	n = ph_msg_init(&m, PH_MSG_RUN, sizeof(struct ph_run));
	put("bad-run-truncated", &m, n - 2);
	return failed;
}
