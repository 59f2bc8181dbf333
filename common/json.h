/* A small strict JSON reader for the audit log's records: validate that a
 * line is exactly one JSON object, and find a top-level member's raw value.
 * No allocation; depth-limited; never reads past the given length. */
#ifndef PORTHOLE_JSON_H
#define PORTHOLE_JSON_H

#include <stddef.h>
#include <stdint.h>

/* 0 if s[0..n) is one JSON object (surrounding blanks allowed), else -EINVAL */
int json_valid_object(const char *s, size_t n);
/* Find top-level member key of a valid object; *v, *vlen: its raw value text. */
int json_get(const char *s, size_t n, const char *key, const char **v, size_t *vlen);
/* The member as an unescaped string (\uXXXX outside ASCII becomes '?'). */
int json_get_str(const char *s, size_t n, const char *key, char *out, size_t outlen);
int json_get_u64(const char *s, size_t n, const char *key, uint64_t *out);

#endif
