// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for lib/json: the one escaper (valid UTF-8 JSON whatever the
 * input bytes), the builder, and the reader round trip. No privileges. */
#include "json.h"

#include <stdio.h>
#include <string.h>

static int pass, fail;
#define CHECK(cond, ...) do { if (cond) { pass++; printf("PASS "); } else { fail++; printf("FAIL "); } \
	printf(__VA_ARGS__); printf("\n"); } while (0)

static void esc_eq(const char *in, const char *want, const char *what)
{
	char out[256];
	size_t n = json_escape(out, sizeof(out), in);

	CHECK(n == strlen(want) && !strcmp(out, want), "escape %s: got '%s' want '%s'", what, out, want);
}

int main(void)
{
	char buf[512], s[128];
	struct jbuf b;

	esc_eq("plain", "plain", "ASCII");
	esc_eq("a\"b\\c", "a\\\"b\\\\c", "quote and backslash");
	esc_eq("l1\nl2\x1b[31m", "l1\\u000al2\\u001b[31m", "newline and ESC");
	esc_eq("\x7f", "\\u007f", "DEL");
	esc_eq("caf\xc3\xa9", "caf\xc3\xa9", "valid 2-byte UTF-8 kept");
	esc_eq("\xe2\x82\xac", "\xe2\x82\xac", "valid 3-byte UTF-8 kept");
	esc_eq("x\xff" "y", "x\\u00ffy", "invalid byte");
	esc_eq("\xc0\xaf", "\\u00c0\\u00af", "overlong form");
	esc_eq("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080", "surrogate");
	esc_eq("\xc3", "\\u00c3", "truncated sequence");
	CHECK(json_escape(NULL, 0, "a\nb") == 8, "measure without a buffer");
	{
		char small[4];
		size_t n = json_escape(small, sizeof(small), "abcdef");
		CHECK(n == 6 && !strcmp(small, "abc"), "truncates and terminates (%zu '%s')", n, small);
	}

	{
		char t[128];
		term_escape(t, sizeof(t), "a\\b\nc\x1b[31m\xff\xc2\x9b\xc3\xa9");
		CHECK(!strcmp(t, "a\\\\b\\x0ac\\x1b[31m\\xff\\xc2\\x9b\xc3\xa9"),
		      "term_escape: backslash, newline, ESC, invalid byte, C1 escaped; UTF-8 kept: %s", t);
		CHECK(term_escape(NULL, 0, "\n") == 4, "term_escape measures");
	}

	jb_init(&b, buf, sizeof(buf));
	jb_obj_begin(&b, NULL);
	jb_str(&b, "exe", "/tmp/\n\x1b\xff");
	jb_u64(&b, "n", 42);
	jb_arr_begin(&b, "a");
	jb_u64(&b, NULL, 1);
	jb_arr_end(&b);
	jb_obj_end(&b);
	CHECK(!b.err && json_valid_object(buf, b.len) == 0, "builder output is one valid object: %s", buf);
	CHECK(json_get_str(buf, b.len, "exe", s, sizeof(s)) == 0 && !strncmp(s, "/tmp/", 5),
	      "reader gets the string back");
	{
		uint64_t v = 0;
		CHECK(json_get_u64(buf, b.len, "n", &v) == 0 && v == 42, "reader gets the number back");
	}
	jb_init(&b, buf, 16);
	jb_obj_begin(&b, NULL);
	jb_str(&b, "long", "0123456789abcdef");
	jb_obj_end(&b);
	CHECK(b.err, "builder reports overflow");
	CHECK(json_valid_object("{\"a\":1} x", 9) != 0, "reader refuses trailing garbage");
	printf("json: %d passed, %d failed, 0 skipped\n", pass, fail);
	return fail != 0;
}
