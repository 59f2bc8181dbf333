/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small strict JSON reader for the audit log's records and the container
 * engines' state files: validate that a text is exactly one JSON value, find
 * an object's member's raw value (an object member's text is an object
 * again: nested lookups chain), walk an array.
 * No allocation; depth-limited; never reads past the given length. */
#ifndef PORTHOLE_JSON_H
#define PORTHOLE_JSON_H

#include <stddef.h>
#include <stdint.h>

/* 0 if s[0..n) is one JSON object (surrounding blanks allowed), else -EINVAL */
int json_valid_object(const char *s, size_t n);
/* 0 if s[0..n) is one JSON value of any kind (an array, an object...) */
int json_valid(const char *s, size_t n);
/* The elements of an array, one per call: *pos 0 at first (s starts the
 * array, blanks allowed), then as it left it; 0 and *v, *vlen the element's
 * raw text, -ENOENT after the last, -EINVAL if s is not an array. Only
 * over text json_valid() accepted: a truncated array ends in -EINVAL. */
int json_array_next(const char *s, size_t n, size_t *pos, const char **v, size_t *vlen);
/* the raw value is the literal true */
int json_is_true(const char *v, size_t vlen);
/* Find top-level member key of a valid object; *v, *vlen: its raw value text. */
int json_get(const char *s, size_t n, const char *key, const char **v, size_t *vlen);
/* The member as an unescaped string (\uXXXX outside ASCII becomes '?'). */
int json_get_str(const char *s, size_t n, const char *key, char *out, size_t outlen);
int json_get_u64(const char *s, size_t n, const char *key, uint64_t *out);

/* Escape s as the inside of a JSON string (no quotes): always valid UTF-8
 * JSON; bytes that are not UTF-8 become \\u00XX. Returns the length the
 * escaped text needs; writes at most outlen-1 bytes and a NUL (out may be
 * NULL to measure). The one escaper of the project. */
size_t json_escape(char *out, size_t outlen, const char *s);

/* Escape s for a terminal or a log line: control characters, DEL, C1 and
 * bytes that are not UTF-8 as \\xNN, a backslash as two; valid UTF-8 text
 * stays as it is. Same contract as json_escape. */
size_t term_escape(char *out, size_t outlen, const char *s);

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
void jb_bool(struct jbuf *b, const char *key, int v);
void jb_time(struct jbuf *b, const char *key, uint64_t realtime_ns);

/* RFC 3339, UTC, milliseconds: 2026-11-28T12:39:17.123Z */
void json_format_time(char *buf, size_t len, uint64_t realtime_ns);

#endif
