// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the control protocol codec: every type round-trips, and
 * every malformation (truncation, wrong magic/version/length, bad values,
 * unterminated strings) is rejected with its own error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "proto.h"
#include "util.h"
#include "unit.h"

static union { struct ph_hdr h; char b[PH_MSG_MAX + 64]; } m;

static size_t mk(uint16_t type, size_t plen)
{
	return ph_msg_init(&m, type, plen);
}

int main(void)
{
	size_t n;
	int r;

	n = mk(PH_MSG_STATUS, 0);
	CHECK(ph_msg_check(&m, n) == PH_MSG_STATUS, "status request round-trips");
	n = mk(PH_MSG_OK, 0);
	CHECK(ph_msg_check(&m, n) == PH_MSG_OK, "ok round-trips");

	n = mk(PH_MSG_RUN, sizeof(struct ph_run));
	{
		struct ph_run *run = ph_payload(&m);
		run->nports = 2;
		run->ports[0] = 80;
		run->ports[1] = 443;
		run->max_window = 60;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run without the child's pid rejected");
		run->pid = 4242;
		CHECK(ph_msg_check(&m, n) == PH_MSG_RUN, "run round-trips");
		memset(run->serve, 'x', sizeof(run->serve));
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: a --serve name without its NUL rejected");
		memset(run->serve, 0, sizeof(run->serve));
		memset(run->webroot, 'x', sizeof(run->webroot));
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: a --webroot without its NUL rejected");
		memset(run->webroot, 0, sizeof(run->webroot));
		copy_str(run->serve, sizeof(run->serve), "unit:nginx.service");
		CHECK(ph_msg_check(&m, n) == PH_MSG_RUN, "run --serve round-trips");
		memset(run->serve, 0, sizeof(run->serve));
		copy_str(run->container, sizeof(run->container), "docker:certbot");
		CHECK(ph_msg_check(&m, n) == PH_MSG_RUN, "run --container docker:certbot round-trips");
		copy_str(run->container, sizeof(run->container), "podman:a.b_c-1");
		CHECK(ph_msg_check(&m, n) == PH_MSG_RUN, "run --container podman:a.b_c-1 round-trips");
		copy_str(run->serve, sizeof(run->serve), "unit:nginx.service");
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: --container with --serve rejected");
		memset(run->serve, 0, sizeof(run->serve));
		{
			static const char *const bad[] = { "certbot", "lxc:certbot", "docker:", "docker:-x", "docker:.x",
							   "docker:a/b", "docker:a b", "docker:a:b", "Docker:x", ":x",
							   "podman:caf\xc3\xa9", "docker:a%" };
			for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
				copy_str(run->container, sizeof(run->container), bad[i]);
				CHECK(ph_msg_check(&m, n) == -EBADMSG, "run --container '%s' rejected", bad[i]);
			}
		}
		memset(run->container, 'a', sizeof(run->container));
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: a --container without its NUL rejected");
		memcpy(run->container, "docker:", 7);
		run->container[7 + 127] = '\0';
		CHECK(ph_msg_check(&m, n) == PH_MSG_RUN, "run --container: a name of 127 characters accepted");
		run->container[7 + 127] = 'a';
		run->container[7 + 128] = '\0';
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run --container: a name of 128 characters rejected");
		memset(run->container, 0, sizeof(run->container));
		{
			char why[200];
			int engine = 0;
			const char *name = NULL;
			CHECK(ph_run_container_parse("podman:certbot", &engine, &name, why, sizeof(why)) == 0 && engine == 2 &&
			      !strcmp(name, "certbot"), "parse: podman:certbot");
			CHECK(ph_run_container_parse("docker:", &engine, &name, why, sizeof(why)) == -EINVAL &&
			      !strchr(why, '\n') && strstr(why, "not a container name"), "parse: an empty name, one line (%s)", why);
			CHECK(ph_run_container_parse("rkt:x", &engine, &name, why, sizeof(why)) == -EINVAL &&
			      strstr(why, "docker:NAME or podman:NAME"), "parse: an unknown engine (%s)", why);
		}
		run->pad1 = 7;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: nonzero second padding rejected");
		run->pad1 = 0;
		run->pid = 0x80000000u;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: pid out of range rejected");
		run->pid = 4242;
		run->nports = PH_MAX_PORTS + 1;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: too many ports");
		run->nports = 3;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: port 0 rejected");
		run->nports = 2;
		run->pad0 = 1;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "run: nonzero padding rejected");
		run->pad0 = 0;
	}
	CHECK(ph_msg_check(&m, n - 1) == -EMSGSIZE, "truncated message (len field disagrees)");
	m.h.len = (uint32_t)(n - 1);
	CHECK(ph_msg_check(&m, n - 1) == -EMSGSIZE, "short payload for its type");
	m.h.len = (uint32_t)n;
	m.h.magic = 0xdeadbeef;
	CHECK(ph_msg_check(&m, n) == -EPROTO, "wrong magic");
	m.h.magic = PH_PROTO_MAGIC;
	m.h.version = PH_PROTO_VERSION - 1;
	CHECK(ph_msg_check(&m, n) == -EPROTONOSUPPORT, "older version (descriptor passing) refused");
	m.h.version = PH_PROTO_VERSION + 1;
	CHECK(ph_msg_check(&m, n) == -EPROTONOSUPPORT, "wrong version");
	m.h.version = PH_PROTO_VERSION;
	m.h.reserved = 1;
	CHECK(ph_msg_check(&m, n) == -EBADMSG, "reserved field set");
	m.h.reserved = 0;
	m.h.type = 99;
	CHECK(ph_msg_check(&m, n) == -EBADMSG, "unknown type");
	m.h.type = 0;
	CHECK(ph_msg_check(&m, n) == -EBADMSG, "type 0");
	CHECK(ph_msg_check(&m, 3) == -EMSGSIZE, "shorter than a header");
	CHECK(ph_msg_check(&m, PH_MSG_MAX + 1) == -EMSGSIZE, "oversized");

	n = mk(PH_MSG_ERROR, sizeof(struct ph_error));
	{
		struct ph_error *e = ph_payload(&m);
		strcpy(e->msg, "hello");
		CHECK(ph_msg_check(&m, n) == PH_MSG_ERROR, "error round-trips");
		memset(e->msg, 'x', sizeof(e->msg));
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "unterminated error string rejected");
	}
	n = mk(PH_MSG_EVENT, sizeof(struct ph_event));
	{
		struct ph_event *e = ph_payload(&m);
		e->kind = PH_EVENT_WINDOW_CLOSE;
		e->reason = PH_REASON_DEADLINE;
		CHECK(ph_msg_check(&m, n) == PH_MSG_EVENT, "event round-trips");
		e->kind = 77;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "event: unknown kind");
		e->kind = PH_EVENT_WINDOW_CLOSE;
		e->reason = 77;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "event: unknown reason");
	}
	n = mk(PH_MSG_CLOSE, sizeof(struct ph_close));
	CHECK(ph_msg_check(&m, n) == PH_MSG_CLOSE, "close round-trips");
	n = mk(PH_MSG_STATUS, 4);
	CHECK(ph_msg_check(&m, n) == -EMSGSIZE, "status with a payload rejected");

	n = mk(PH_MSG_STATUS_REPLY, sizeof(struct ph_status_reply) + 2 * sizeof(struct ph_status_entry));
	{
		struct ph_status_reply *rep = ph_payload(&m);
		rep->count = 2;
		strcpy(rep->entries[0].exe, "/usr/bin/lego");
		CHECK(ph_msg_check(&m, n) == PH_MSG_STATUS_REPLY, "status reply with 2 entries");
		rep->count = 3;
		CHECK(ph_msg_check(&m, n) == -EMSGSIZE, "status reply: count disagrees with length");
		rep->count = PH_STATUS_MAX + 1;
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "status reply: count over the limit");
		rep->count = 2;
		memset(rep->entries[1].cgroup, 'a', sizeof(rep->entries[1].cgroup));
		CHECK(ph_msg_check(&m, n) == -EBADMSG, "status reply: unterminated string");
	}
	/* random garbage never crashes, and whatever is accepted really is
	 * well-formed: every RUN it lets through names a child and sane ports */
	srand(1);
	r = 0;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)rand() % 600;
		for (size_t j = 0; j < len; j++)
			m.b[j] = (char)rand();
		if (len >= sizeof(struct ph_hdr) && (rand() & 1)) {
			m.h.magic = PH_PROTO_MAGIC;
			m.h.version = PH_PROTO_VERSION;
			m.h.len = (uint32_t)len;
			m.h.reserved = 0;
			m.h.type = (uint16_t)(1 + rand() % PH_MSG_TYPE_MAX);
		}
		int t = ph_msg_check(&m, len);
		if (t <= 0)
			continue;
		r++;
		if (m.h.len != len || m.h.magic != PH_PROTO_MAGIC || m.h.version != PH_PROTO_VERSION)
			bad++;
		if (t == PH_MSG_RUN) {
			const struct ph_run *run = ph_payload(&m);
			if (run->pid == 0 || run->nports > PH_MAX_PORTS)
				bad++;
			for (unsigned k = 0; k < run->nports && k < PH_MAX_PORTS; k++)
				bad += run->ports[k] == 0;
		}
	}
	CHECK(r > 0 && bad == 0, "200000 random messages: %d accepted, every one well-formed (%d bad)", r, bad);
	CHECK(!strcmp(ph_reason_name(PH_REASON_LISTENER_CLOSED), "listener-closed") &&
	      !strcmp(ph_reason_name(PH_REASON_RECOVERED), "recovered") && !strcmp(ph_reason_name(999), "unknown"),
	      "reason names");
	return unit_done("unit/proto");
}
