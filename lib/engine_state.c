// SPDX-License-Identifier: GPL-2.0-or-later
/* Container ids from cgroup paths and names from the engines' state (see
 * engine_state.h). The formats, as the engines write them:
 * Docker 20.10 container/container.go (`ID`, `Name` with its leading '/',
 * `State` from state.go: `Running`, `Pid`); c/storage containers.go
 * (`id`, `names`) as Podman 4.3 keeps them. Every text is validated whole
 * before a member is looked up: a truncated or malformed file is an error,
 * never a partial answer. */
#include "engine_state.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hex64(const char *s, size_t n)
{
	if (n != ENGINE_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* the id in one path component of length n, or NULL */
static const char *component_id(const char *c, size_t n)
{
	static const struct {
		const char *pre, *suf;
	} forms[] = { { "docker-", ".scope" }, { "", "" }, { "libpod-", ".scope" }, { "libpod-", "" } };

	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t pl = strlen(forms[i].pre), sl = strlen(forms[i].suf);
		if (n != pl + ENGINE_ID_LEN + sl || strncmp(c, forms[i].pre, pl) || strncmp(c + n - sl, forms[i].suf, sl))
			continue;
		if (hex64(c + pl, ENGINE_ID_LEN))
			return c + pl;
	}
	return NULL;
}

int engine_cgroup_id(const char *path, char id[ENGINE_ID_LEN + 1])
{
	const char *end = path + strlen(path);

	while (end > path) {
		const char *start = end;
		const char *found;
		while (start > path && start[-1] != '/')
			start--;
		found = component_id(start, (size_t)(end - start));
		if (found) {
			memcpy(id, found, ENGINE_ID_LEN);
			id[ENGINE_ID_LEN] = '\0';
			return 0;
		}
		end = start > path ? start - 1 : path;
	}
	return -ENOENT;
}

/* the raw value v is the JSON string s exactly (no escapes: ids and names
 * have none; an escaped spelling of the same text does not count) */
static int str_is(const char *v, size_t vl, const char *s)
{
	size_t l = strlen(s);

	return vl == l + 2 && v[0] == '"' && v[vl - 1] == '"' && !memcmp(v + 1, s, l);
}

int engine_docker_match(const char *buf, size_t n, const char *id, const char *name, uint32_t *pid, char *why,
			size_t whylen)
{
	const char *v, *st;
	size_t vl, stl;
	char want[160];
	uint64_t p;

	if (json_valid_object(buf, n) || json_get(buf, n, "ID", &v, &vl) || json_get(buf, n, "Name", &st, &stl)) {
		snprintf(why, whylen, "not a Docker container state (no ID or Name)");
		return -EINVAL;
	}
	if (!str_is(v, vl, id)) {
		snprintf(why, whylen, "its ID is not %.12s", id);
		return 0;
	}
	snprintf(want, sizeof(want), "/%s", name);
	if (!str_is(st, stl, want)) {
		snprintf(why, whylen, "its name is %.*s, not /%s", (int)(stl > 130 ? 130 : stl), st, name);
		return 0;
	}
	if (json_get(buf, n, "State", &st, &stl) || json_get(st, stl, "Running", &v, &vl)) {
		snprintf(why, whylen, "not a Docker container state (no State.Running)");
		return -EINVAL;
	}
	if (!json_is_true(v, vl)) {
		snprintf(why, whylen, "its state says it is not running");
		return 0;
	}
	if (json_get_u64(st, stl, "Pid", &p) || p == 0 || p > UINT32_MAX) {
		snprintf(why, whylen, "its state has no State.Pid");
		return -EINVAL;
	}
	*pid = (uint32_t)p;
	return 1;
}

int engine_podman_match(const char *buf, size_t n, const char *id, const char *name, char *why, size_t whylen)
{
	const char *e, *v, *nm;
	size_t el, vl, nml, pos = 0, npos;
	int r;

	if (json_valid(buf, n)) {
		snprintf(why, whylen, "not valid JSON");
		return -EINVAL;
	}
	while ((r = json_array_next(buf, n, &pos, &e, &el)) == 0) {
		if (json_valid_object(e, el)) {
			snprintf(why, whylen, "an element that is not an object");
			return -EINVAL;
		}
		if (json_get(e, el, "id", &v, &vl) || !str_is(v, vl, id))
			continue;
		if (json_get(e, el, "names", &v, &vl)) {
			snprintf(why, whylen, "container %.12s has no names", id);
			return 0;
		}
		npos = 0;
		while ((r = json_array_next(v, vl, &npos, &nm, &nml)) == 0)
			if (str_is(nm, nml, name))
				return 1;
		if (r != -ENOENT) {
			snprintf(why, whylen, "its names are not an array of strings");
			return -EINVAL;
		}
		snprintf(why, whylen, "container %.12s is not named %s", id, name);
		return 0;
	}
	if (r != -ENOENT) {
		snprintf(why, whylen, "not an array of containers");
		return -EINVAL;
	}
	snprintf(why, whylen, "no container %.12s in it", id);
	return 0;
}
