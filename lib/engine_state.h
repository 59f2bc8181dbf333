/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a container engine's own state says about a container, read from
 * text the daemon has already read (daemon/engine_read.c reads the files,
 * checking who owns them): the container id a cgroup path carries, and
 * whether the engine's state names that id NAME. Pure functions over
 * buffers: unit-tested and fuzz-friendly (tests/unit/test_json.c). */
#ifndef PORTHOLE_ENGINE_STATE_H
#define PORTHOLE_ENGINE_STATE_H

#include <stddef.h>
#include <stdint.h>

#define ENGINE_ID_LEN 64 /* hex digits of a Docker/Podman container id */

/* The container id of a cgroup path ("/a/b/leaf"): the first component,
 * from the leaf up, that is `docker-<id>.scope`, `<id>` (cgroupfs, also
 * under --cgroup-parent), `libpod-<id>.scope` or `libpod-<id>`, <id> being
 * 64 lowercase hex digits. 0 and id (NUL-terminated), or -ENOENT. */
int engine_cgroup_id(const char *path, char id[ENGINE_ID_LEN + 1]);

/* Docker's containers/<id>/config.v2.json: 1 if it is the state of
 * container id ("ID"), named name ("Name": "/name"), running
 * ("State": {"Running": true}) with a pid ("State"."Pid": *pid > 0);
 * 0 if it is well-formed but says otherwise (why says what); -EINVAL if
 * it is not the JSON expected. */
int engine_docker_match(const char *buf, size_t n, const char *id, const char *name, uint32_t *pid, char *why,
			size_t whylen);

/* c/storage's containers.json or volatile-containers.json (an array of
 * {"id": ..., "names": [...], ...}): 1 if the element of id has name among
 * its names; 0 if it has not, or no element is id (why says which);
 * -EINVAL if it is not the JSON expected. */
int engine_podman_match(const char *buf, size_t n, const char *id, const char *name, char *why, size_t whylen);

#endif
