// SPDX-License-Identifier: GPL-2.0-or-later
/* Encoding and validation of control messages (see proto.h). */
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

size_t ph_msg_init(void *buf, uint16_t type, size_t payload_len)
{
	struct ph_hdr *h = buf;

	memset(buf, 0, sizeof(*h) + payload_len);
	h->magic = PH_PROTO_MAGIC;
	h->version = PH_PROTO_VERSION;
	h->type = type;
	h->len = (uint32_t)(sizeof(*h) + payload_len);
	return h->len;
}

static int check_payload(uint16_t type, const void *p, size_t n)
{
	switch (type) {
	case PH_MSG_RUN: {
		const struct ph_run *r = p;
		if (n != sizeof(*r))
			return -EMSGSIZE;
		if (r->nports > PH_MAX_PORTS || r->pad0 || r->pad1 || r->pid == 0 || r->pid > INT32_MAX ||
		    !str_in_bounds(r->serve, sizeof(r->serve)) || !str_in_bounds(r->webroot, sizeof(r->webroot)) ||
		    !str_in_bounds(r->container, sizeof(r->container)))
			return -EBADMSG;
		if (r->container[0]) {
			int engine;
			const char *name;
			if (ph_run_container_parse(r->container, &engine, &name, NULL, 0) || r->serve[0])
				return -EBADMSG;
		}
		for (unsigned i = 0; i < r->nports; i++)
			if (r->ports[i] == 0)
				return -EBADMSG;
		return 0;
	}
	case PH_MSG_RUN_OK: {
		const struct ph_run_ok *r = p;
		if (n != sizeof(*r))
			return -EMSGSIZE;
		if (r->nports > PH_MAX_PORTS || !str_in_bounds(r->cgroup, sizeof(r->cgroup)))
			return -EBADMSG;
		return 0;
	}
	case PH_MSG_EVENT: {
		const struct ph_event *e = p;
		if (n != sizeof(*e))
			return -EMSGSIZE;
		if (e->kind < PH_EVENT_WINDOW_OPEN || e->kind > PH_EVENT_SESSION_END ||
		    e->reason > PH_REASON_MAX)
			return -EBADMSG;
		return 0;
	}
	case PH_MSG_ERROR: {
		const struct ph_error *e = p;
		if (n != sizeof(*e))
			return -EMSGSIZE;
		if (!str_in_bounds(e->msg, sizeof(e->msg)))
			return -EBADMSG;
		return 0;
	}
	case PH_MSG_STATUS:
	case PH_MSG_OK:
		return n == 0 ? 0 : -EMSGSIZE;
	case PH_MSG_CLOSE:
		return n == sizeof(struct ph_close) ? 0 : -EMSGSIZE;
	case PH_MSG_STATUS_REPLY: {
		const struct ph_status_reply *r = p;
		if (n < sizeof(*r))
			return -EMSGSIZE;
		if (r->count > PH_STATUS_MAX)
			return -EBADMSG;
		if (n != sizeof(*r) + r->count * sizeof(struct ph_status_entry))
			return -EMSGSIZE;
		for (uint32_t i = 0; i < r->count; i++) {
			const struct ph_status_entry *e = &r->entries[i];
			if (!str_in_bounds(e->exe, sizeof(e->exe)) || !str_in_bounds(e->cgroup, sizeof(e->cgroup)) ||
			    !str_in_bounds(e->tokens, sizeof(e->tokens)) || e->kind > PH_WIN_CONTAINER)
				return -EBADMSG;
		}
		return 0;
	}
	default:
		return -EBADMSG;
	}
}

int ph_msg_check(const void *buf, size_t n)
{
	struct ph_hdr h;
	int err;

	if (n < sizeof(h))
		return -EMSGSIZE;
	if (n > PH_MSG_MAX)
		return -EMSGSIZE;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PH_PROTO_MAGIC)
		return -EPROTO;
	if (h.version != PH_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h.len != n)
		return -EMSGSIZE;
	if (h.reserved)
		return -EBADMSG;
	if (h.type == 0 || h.type > PH_MSG_TYPE_MAX)
		return -EBADMSG;
	/* payload may be unaligned in buf only if the caller's buffer is; callers
	 * receive into aligned buffers, so read it in place */
	err = check_payload(h.type, (const char *)buf + sizeof(h), n - sizeof(h));
	if (err)
		return err;
	return h.type;
}

static int name_char(char ch, int first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (!first && (ch == '_' || ch == '.' || ch == '-'));
}

int ph_run_container_parse(const char *v, int *engine, const char **name, char *why, size_t whylen)
{
	const char *colon = strchr(v, ':'), *n;
	size_t len;

	if (colon && colon - v == 6 && !strncmp(v, "docker", 6))
		*engine = 1;
	else if (colon && colon - v == 6 && !strncmp(v, "podman", 6))
		*engine = 2;
	else {
		if (why && whylen)
			snprintf(why, whylen, "'%.64s' is not docker:NAME or podman:NAME", v);
		return -EINVAL;
	}
	n = colon + 1;
	len = strlen(n);
	for (size_t i = 0; i < len; i++)
		if (!name_char(n[i], i == 0))
			len = 0;
	if (len == 0 || len >= PH_RUN_CONTAINER_LEN - 8) {
		if (why && whylen)
			snprintf(why, whylen, "'%.64s' is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most %d "
				 "characters)", n, PH_RUN_CONTAINER_LEN - 9);
		return -EINVAL;
	}
	*name = n;
	return 0;
}

const char *ph_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[PH_REASON_NONE] = "none",
		[PH_REASON_LISTENER_CLOSED] = "listener-closed",
		[PH_REASON_EXITED] = "exited",
		[PH_REASON_DEADLINE] = "deadline",
		[PH_REASON_REVOKED] = "revoked",
		[PH_REASON_SHUTDOWN] = "shutdown",
		[PH_REASON_RECOVERED] = "recovered",
		[PH_REASON_TOKENS_GONE] = "tokens-gone",
		[PH_REASON_SERVER_GONE] = "server-gone",
	};
	return reason <= PH_REASON_MAX ? names[reason] : "unknown";
}

const char *ph_msg_type_name(uint32_t type)
{
	static const char *const names[] = {
		[0] = "invalid", [PH_MSG_RUN] = "run", [PH_MSG_RUN_OK] = "run-ok",
		[PH_MSG_EVENT] = "event", [PH_MSG_ERROR] = "error",
		[PH_MSG_STATUS] = "status", [PH_MSG_STATUS_REPLY] = "status-reply",
		[PH_MSG_CLOSE] = "close", [PH_MSG_OK] = "ok",
	};
	return type <= PH_MSG_TYPE_MAX ? names[type] : "unknown";
}
