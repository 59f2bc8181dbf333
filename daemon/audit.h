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

#define PH_MAX_PEERS 32   /* distinct peers listed per window; the rest are counted */
#define PH_AUDIT_MAX_OPEN 256

struct ph_audit {
	int fd;
	char path[256];
};

/* JSON builder over a fixed buffer; err set when it overflows. */
struct jbuf {
	char *buf;
	size_t len, cap;
	int err;
	int depth;
	unsigned char first[16];
};
void jb_init(struct jbuf *b, char *buf, size_t cap);
void jb_obj_begin(struct jbuf *b, const char *key); /* key NULL: at top level / in an array */
void jb_obj_end(struct jbuf *b);
void jb_arr_begin(struct jbuf *b, const char *key);
void jb_arr_end(struct jbuf *b);
void jb_str(struct jbuf *b, const char *key, const char *val);
void jb_u64(struct jbuf *b, const char *key, uint64_t v);
void jb_i64(struct jbuf *b, const char *key, int64_t v);
void jb_time(struct jbuf *b, const char *key, uint64_t realtime_ns);

/* RFC 3339, UTC, milliseconds: 2026-11-28T12:39:17.123Z */
void audit_format_time(char *buf, size_t len, uint64_t realtime_ns);

int audit_open(struct ph_audit *a, const char *path);
int audit_reopen(struct ph_audit *a);
/* Append one record (a JSON object without newline) and flush it to disk. */
int audit_append(struct ph_audit *a, const char *json, size_t len);
void audit_close(struct ph_audit *a);

/* Read an existing log: the largest window id, and the ids of windows with a
 * window-open record but no window-close record (open when a daemon died). */
int audit_scan(const char *path, uint64_t *max_id, uint64_t *open_ids, unsigned max_open, unsigned *nopen);

#endif
