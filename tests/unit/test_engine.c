// SPDX-License-Identifier: GPL-2.0-or-later
/* lib/engine_state.c and the JSON reader it stands on (lib/json.c's
 * json_valid, json_array_next): a container id from each cgroup form the
 * engines make, and a name from Docker's config.v2.json and c/storage's
 * containers.json as the engines write them (shapes copied from the
 * files docker.io 20.10 and podman 4.3 wrote in the lab), then the
 * malformed, truncated, look-alike and hostile variants: each is either
 * refused (-EINVAL) or not a match, never a match. */
#include "engine_state.h"
#include "json.h"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ID  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static int docker(const char *text, const char *name, uint32_t *pid)
{
	char why[200];

	return engine_docker_match(text, strlen(text), ID, name, pid, why, sizeof(why));
}

static int podman(const char *text, const char *name)
{
	char why[200];

	return engine_podman_match(text, strlen(text), ID, name, why, sizeof(why));
}

int main(void)
{
	char id[ENGINE_ID_LEN + 1];
	uint32_t pid = 0;

	/* ---- the JSON reader's array walk ---- */
	{
		const char *a = " [ 1, {\"a\":[2]} ,\"x\" ] ", *v;
		size_t pos = 0, vl;
		int n = 0, r;
		CHECK(json_valid(a, strlen(a)) == 0, "json_valid: an array");
		while ((r = json_array_next(a, strlen(a), &pos, &v, &vl)) == 0)
			n++;
		CHECK(n == 3 && r == -ENOENT, "json_array_next: three elements, then -ENOENT");
		pos = 0;
		CHECK(json_array_next("[]", 2, &pos, &v, &vl) == -ENOENT, "json_array_next: empty array");
		pos = 0;
		CHECK(json_array_next("{}", 2, &pos, &v, &vl) == -EINVAL, "json_array_next: not an array");
		CHECK(json_valid("[1,]", 4) != 0 && json_valid("[1", 2) != 0 && json_valid("", 0) != 0 &&
		      json_valid("[1] [2]", 7) != 0, "json_valid: trailing comma, truncation, empty, two values refused");
		char deep[200];
		memset(deep, '[', 100);
		memset(deep + 100, ']', 100);
		CHECK(json_valid(deep, 200) != 0, "json_valid: nesting deeper than the limit refused");
		CHECK(json_is_true("true", 4) && !json_is_true("\"true\"", 6) && !json_is_true("1", 1), "json_is_true");
	}

	/* ---- ids from cgroup paths ---- */
	CHECK(engine_cgroup_id("/system.slice/docker-" ID ".scope", id) == 0 && !strcmp(id, ID), "docker-<id>.scope");
	CHECK(engine_cgroup_id("/docker/" ID, id) == 0 && !strcmp(id, ID), "cgroupfs /docker/<id>");
	CHECK(engine_cgroup_id("/phl-acme/" ID, id) == 0 && !strcmp(id, ID), "--cgroup-parent /PARENT/<id>");
	CHECK(engine_cgroup_id("/machine.slice/libpod-" ID ".scope", id) == 0 && !strcmp(id, ID), "libpod-<id>.scope");
	CHECK(engine_cgroup_id("/libpod_parent/libpod-" ID, id) == 0 && !strcmp(id, ID), "cgroupfs libpod-<id>");
	CHECK(engine_cgroup_id("/machine.slice/libpod-" ID ".scope/container", id) == 0 && !strcmp(id, ID),
	      "a component below the container's: the nearest id from the leaf up");
	CHECK(engine_cgroup_id("/docker/" ID2 "/" ID, id) == 0 && !strcmp(id, ID), "leaf first");
	CHECK(engine_cgroup_id("/system.slice/certbot.service", id) == -ENOENT, "no id: -ENOENT");
	CHECK(engine_cgroup_id("/", id) == -ENOENT && engine_cgroup_id("", id) == -ENOENT, "root, empty: -ENOENT");
	CHECK(engine_cgroup_id("/docker/" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", id) ==
		      -ENOENT, "upper-case hex is not an id");
	CHECK(engine_cgroup_id("/docker/" ID "0", id) == -ENOENT && engine_cgroup_id("/docker/x" ID, id) == -ENOENT,
	      "65 digits, a prefix: not an id");
	CHECK(engine_cgroup_id("/docker-" ID ".scopex", id) == -ENOENT &&
		      engine_cgroup_id("/libpod-" ID ".slice", id) == -ENOENT, "other suffixes: not an id");

	/* ---- Docker's config.v2.json ---- */
	const char *run = "{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Paused\":false,\"Pid\":4242,"
			  "\"ExitCode\":0,\"StartedAt\":\"2026-12-07T21:00:00Z\"},\"ID\":\"" ID "\","
			  "\"Created\":\"2026-12-07T21:00:00Z\",\"Path\":\"certbot\",\"Args\":[\"certonly\"],"
			  "\"Config\":{\"Hostname\":\"x\",\"Labels\":{\"Name\":\"/certbot\"}},\"Name\":\"/certbot\"}";
	CHECK(docker(run, "certbot", &pid) == 1 && pid == 4242, "docker: running certbot, pid 4242");
	CHECK(docker(run, "certbo", &pid) == 0 && docker(run, "certbot2", &pid) == 0, "docker: another name: no");
	CHECK(engine_docker_match(run, strlen(run), ID2, "certbot", &pid, id, sizeof(id)) == 0,
	      "docker: another id: no");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/certbot\",\"State\":{\"Running\":false,\"Pid\":0}}", "certbot",
		     &pid) == 0, "docker: stopped: no");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/certbot\",\"State\":{\"Running\":\"true\",\"Pid\":9}}",
		     "certbot", &pid) == 0, "docker: Running as a string: no");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/certbot\",\"State\":{\"Running\":true}}", "certbot", &pid) < 0,
	      "docker: running without a pid: refused");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/certbot\",\"State\":{\"Running\":true,\"Pid\":-1}}", "certbot",
		     &pid) < 0, "docker: negative pid: refused");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/certbot\",\"State\":{\"Running\":true,\"Pid\":0}}", "certbot",
		     &pid) < 0, "docker: pid 0: refused");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"certbot\",\"State\":{\"Running\":true,\"Pid\":9}}", "certbot",
		     &pid) == 0, "docker: Name without its '/': no");
	CHECK(docker("{\"ID\":\"" ID "\",\"Name\":\"/cert\\u0062ot\",\"State\":{\"Running\":true,\"Pid\":9}}",
		     "certbot", &pid) == 0, "docker: an escaped spelling of the name: no");
	CHECK(docker("{\"ID\":\"" ID "\",\"Config\":{\"Name\":\"/certbot\"},\"State\":{\"Running\":true,\"Pid\":9}}",
		     "certbot", &pid) < 0, "docker: the name only nested (a label): refused");
	{
		char trunc[600];
		size_t l = strlen(run);
		int bad = 0;
		for (size_t k = 0; k < l; k++) {
			memcpy(trunc, run, k);
			if (engine_docker_match(trunc, k, ID, "certbot", &pid, id, sizeof(id)) == 1)
				bad++;
		}
		CHECK(bad == 0, "docker: no truncation of the state matches (%zu tried)", l);
	}

	/* ---- c/storage's containers.json ---- */
	const char *cs = "[{\"id\":\"" ID2 "\",\"names\":[\"web\"],\"image\":\"i\",\"layer\":\"l\",\"metadata\":\"{}\","
			 "\"created\":\"2026-12-07T21:00:00Z\",\"flags\":{\"MountLabel\":\"\"}},"
			 "{\"id\":\"" ID "\",\"names\":[\"other\",\"certbot\"],\"image\":\"i\",\"layer\":\"l\","
			 "\"metadata\":\"{\\\"image-name\\\":\\\"localhost/x\\\",\\\"name\\\":\\\"certbot\\\"}\"}]";
	CHECK(podman(cs, "certbot") == 1 && podman(cs, "other") == 1, "podman: id's names include certbot, other");
	CHECK(podman(cs, "web") == 0, "podman: another container's name: no");
	CHECK(podman("[]", "certbot") == 0 && podman("[{\"id\":\"" ID "\"}]", "certbot") == 0,
	      "podman: empty store, no names: no");
	CHECK(podman("[{\"id\":\"" ID "\",\"names\":\"certbot\"}]", "certbot") < 0, "podman: names not an array: refused");
	CHECK(podman("{\"id\":\"" ID "\",\"names\":[\"certbot\"]}", "certbot") < 0, "podman: not an array: refused");
	CHECK(podman("[1,{\"id\":\"" ID "\",\"names\":[\"certbot\"]}]", "certbot") < 0,
	      "podman: an element that is not an object: refused");
	CHECK(podman("[{\"id\":\"" ID2 "\",\"names\":[\"certbot\"]}]", "certbot") == 0,
	      "podman: the name on another id: no");
	{
		char trunc[600];
		size_t l = strlen(cs);
		int bad = 0;
		for (size_t k = 0; k < l; k++) {
			memcpy(trunc, cs, k);
			if (engine_podman_match(trunc, k, ID, "certbot", id, sizeof(id)) == 1)
				bad++;
		}
		CHECK(bad == 0, "podman: no truncation of the store matches (%zu tried)", l);
	}
	return unit_done("unit/engine");
}
