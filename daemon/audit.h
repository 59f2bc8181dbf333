/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit log: an append-only JSON Lines file, one record per event
 * (daemon-start, daemon-stop, window-open, window-close, refused). Each record
 * is one write() with O_APPEND followed by fdatasync(), done before the action
 * it records is reported as done. A torn last line (power cut) is fenced off
 * with a newline when the file is opened, so every later record stays
 * readable. Knows nothing about windows: callers hand it plain records. */
#ifndef PORTHOLE_AUDIT_H
#define PORTHOLE_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "json.h"

#define PH_MAX_PEERS 32   /* distinct peers listed per window; the rest are counted */
#define PH_AUDIT_MAX_OPEN 256

struct ph_audit {
	int fd;
	char path[256];
};

int audit_open(struct ph_audit *a, const char *path);
int audit_reopen(struct ph_audit *a);
/* Append one record (a JSON object without newline) and flush it to disk. */
int audit_append(struct ph_audit *a, const char *json, size_t len);
void audit_close(struct ph_audit *a);

/* Read an existing log: the largest window id, and the ids of windows with a
 * window-open record but no window-close record (open when a daemon died). */
int audit_scan(const char *path, uint64_t *max_id, uint64_t *open_ids, unsigned max_open, unsigned *nopen);

#endif
