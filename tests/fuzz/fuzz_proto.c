// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the control-protocol validator, ph_msg_check().
 * Any byte string must be rejected with one of the documented errors or
 * accepted with its type; after an accept, the payload is read the way the
 * daemon and the CLI read it (ports up to nports, every string with strlen),
 * so ASan flags any field the validator let through unchecked. */
#include "proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile size_t sink;

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void read_ports(const uint16_t *ports, unsigned nports, int nonzero)
{
	CHECK(nports <= PH_MAX_PORTS);
	for (unsigned i = 0; i < nports; i++) {
		if (nonzero)
			CHECK(ports[i] != 0);
		sink += ports[i];
	}
}

static void use_payload(int type, const void *buf, size_t n)
{
	const void *p = (const char *)buf + sizeof(struct ph_hdr);
	size_t plen = n - sizeof(struct ph_hdr);

	switch (type) {
	case PH_MSG_RUN: {
		const struct ph_run *r = p;
		CHECK(plen == sizeof(*r));
		CHECK(r->pid != 0 && r->pad0 == 0 && r->pad1 == 0);
		read_ports(r->ports, r->nports, 1);
		sink += r->max_window;
		break;
	}
	case PH_MSG_RUN_OK: {
		const struct ph_run_ok *r = p;
		CHECK(plen == sizeof(*r));
		read_ports(r->ports, r->nports, 0);
		CHECK(strlen(r->cgroup) < sizeof(r->cgroup));
		sink += r->session_id + r->max_window;
		break;
	}
	case PH_MSG_EVENT: {
		const struct ph_event *e = p;
		CHECK(plen == sizeof(*e));
		CHECK(e->kind >= PH_EVENT_WINDOW_OPEN && e->kind <= PH_EVENT_SESSION_END);
		sink += strlen(ph_reason_name(e->reason));
		CHECK(strcmp(ph_reason_name(e->reason), "unknown") != 0);
		sink += e->window_id + e->session_id + e->port + e->nchains + (size_t)e->error;
		break;
	}
	case PH_MSG_ERROR: {
		const struct ph_error *e = p;
		CHECK(plen == sizeof(*e));
		CHECK(strlen(e->msg) < sizeof(e->msg));
		sink += (size_t)e->code;
		break;
	}
	case PH_MSG_STATUS:
	case PH_MSG_OK:
		CHECK(plen == 0);
		break;
	case PH_MSG_CLOSE: {
		const struct ph_close *c = p;
		CHECK(plen == sizeof(*c));
		sink += c->window_id;
		break;
	}
	case PH_MSG_STATUS_REPLY: {
		const struct ph_status_reply *r = p;
		CHECK(plen >= sizeof(*r));
		CHECK(r->count <= PH_STATUS_MAX);
		CHECK(plen == sizeof(*r) + (size_t)r->count * sizeof(r->entries[0]));
		for (uint32_t i = 0; i < r->count; i++) {
			const struct ph_status_entry *e = &r->entries[i];
			CHECK(strlen(e->exe) < sizeof(e->exe));
			CHECK(strlen(e->cgroup) < sizeof(e->cgroup));
			sink += e->window_id + e->port + e->pid + e->nlisteners;
		}
		break;
	}
	default:
		abort(); /* a positive return must be a known type */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_hdr want;
	void *buf;
	int r;

	/* The daemon receives into a PH_MSG_MAX+1 byte buffer, so longer
	 * messages never reach ph_msg_check(); it must still refuse them
	 * without reading (libFuzzer's own copy is malloc-aligned). */
	if (size > PH_MSG_MAX + 1) {
		CHECK(ph_msg_check(data, size) == -EMSGSIZE);
		return 0;
	}
	/* An exact-size heap copy: aligned like the daemon's receive buffer
	 * (malloc alignment >= _Alignof(struct ph_hdr)), and ASan flags any
	 * read past n, which in the daemon would silently read stale bytes. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	r = ph_msg_check(buf, size);
	if (r <= 0) {
		CHECK(r == -EBADMSG || r == -EPROTO || r == -EPROTONOSUPPORT || r == -EMSGSIZE);
		free(buf);
		return 0;
	}
	CHECK(r <= PH_MSG_TYPE_MAX);
	CHECK(strcmp(ph_msg_type_name((uint32_t)r), "unknown") != 0);
	/* an accepted header is exactly what ph_msg_init() writes */
	CHECK(size >= sizeof(want));
	ph_msg_init(&want, (uint16_t)r, 0);
	want.len = (uint32_t)size;
	CHECK(memcmp(&want, buf, sizeof(want)) == 0);
	use_payload(r, buf, size);
	free(buf);
	return 0;
}
