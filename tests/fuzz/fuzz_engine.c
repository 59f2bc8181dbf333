// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for what `designate = container` reads from files the
 * engines write (lib/engine_state.c over lib/json.c's reader): the bytes
 * are a Docker config.v2.json and a c/storage containers.json at once, and
 * their first line a cgroup path. Nothing may read past the buffer (ASan
 * sees the exact length: the copy has no NUL), and a match must be one the
 * text says: Docker's needs a pid, and neither matches a text that is not
 * valid JSON. */
#include "engine_state.h"
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *b = malloc(n ? n : 1), why[256], id[ENGINE_ID_LEN + 1], path[512];
	const char *nl;
	uint32_t pid = 0;
	int r, valid;

	if (!b)
		return 0;
	memcpy(b, data, n);
	valid = json_valid(b, n) == 0;
	r = engine_docker_match(b, n, ID, "certbot", &pid, why, sizeof(why));
	CHECK(r <= 1 && (r != 1 || (valid && pid > 0)));
	CHECK(r == 1 || memchr(why, 0, sizeof(why)) != NULL);
	r = engine_podman_match(b, n, ID, "certbot", why, sizeof(why));
	CHECK(r <= 1 && (r != 1 || valid));
	nl = memchr(b, '\n', n < sizeof(path) ? n : sizeof(path) - 1);
	{
		size_t l = nl ? (size_t)(nl - b) : (n < sizeof(path) - 1 ? n : sizeof(path) - 1);
		memcpy(path, b, l);
		path[l] = '\0';
		if (engine_cgroup_id(path, id) == 0)
			CHECK(strlen(id) == ENGINE_ID_LEN && strstr(path, id));
	}
	free(b);
	return 0;
}
