// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict JSON validation and top-level member lookup (see json.h). */
#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define JSON_MAX_DEPTH 32

struct cur {
	const char *p, *end;
};

static void ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hexd(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int string(struct cur *c)
{
	if (c->p >= c->end || *c->p != '"')
		return -1;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;
		if (ch == '"')
			return 0;
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			if (c->p >= c->end)
				return -1;
			ch = (unsigned char)*c->p++;
			if (ch == 'u') {
				if (c->end - c->p < 4 || !hexd(c->p[0]) || !hexd(c->p[1]) || !hexd(c->p[2]) ||
				    !hexd(c->p[3]))
					return -1;
				c->p += 4;
			} else if (!strchr("\"\\/bfnrt", ch)) {
				return -1;
			}
		}
	}
	return -1;
}

static int number(struct cur *c)
{
	const char *start = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end)
		return -1;
	if (*c->p == '0') {
		c->p++;
	} else if (*c->p >= '1' && *c->p <= '9') {
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	} else {
		return -1;
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return -1;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return -1;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	return c->p > start ? 0 : -1;
}

static int literal(struct cur *c, const char *word)
{
	size_t l = strlen(word);

	if ((size_t)(c->end - c->p) < l || memcmp(c->p, word, l))
		return -1;
	c->p += l;
	return 0;
}

static int value(struct cur *c, int depth);

static int container(struct cur *c, int depth, char open, char close)
{
	if (depth > JSON_MAX_DEPTH)
		return -1;
	c->p++; /* open */
	(void)open;
	ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	for (;;) {
		ws(c);
		if (close == '}') {
			if (string(c))
				return -1;
			ws(c);
			if (c->p >= c->end || *c->p != ':')
				return -1;
			c->p++;
		}
		if (value(c, depth + 1))
			return -1;
		ws(c);
		if (c->p >= c->end)
			return -1;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == close) {
			c->p++;
			return 0;
		}
		return -1;
	}
}

static int value(struct cur *c, int depth)
{
	ws(c);
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '{': return container(c, depth, '{', '}');
	case '[': return container(c, depth, '[', ']');
	case '"': return string(c);
	case 't': return literal(c, "true");
	case 'f': return literal(c, "false");
	case 'n': return literal(c, "null");
	default: return number(c);
	}
}

int json_valid_object(const char *s, size_t n)
{
	struct cur c = { s, s + n };

	ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return -EINVAL;
	if (value(&c, 0))
		return -EINVAL;
	ws(&c);
	return c.p == c.end ? 0 : -EINVAL;
}

int json_valid(const char *s, size_t n)
{
	struct cur c = { s, s + n };

	if (value(&c, 0))
		return -EINVAL;
	ws(&c);
	return c.p == c.end ? 0 : -EINVAL;
}

int json_array_next(const char *s, size_t n, size_t *pos, const char **v, size_t *vlen)
{
	struct cur c = { s + *pos, s + n };

	if (*pos > n)
		return -EINVAL;
	ws(&c);
	if (*pos == 0) { /* the opening bracket */
		if (c.p >= c.end || *c.p != '[')
			return -EINVAL;
		c.p++;
		ws(&c);
		if (c.p < c.end && *c.p == ']') {
			*pos = n;
			return -ENOENT;
		}
	} else if (*pos == n) {
		return -ENOENT;
	} else if (c.p < c.end && *c.p == ',') {
		c.p++;
	} else if (c.p < c.end && *c.p == ']') {
		*pos = n;
		return -ENOENT;
	} else {
		return -EINVAL;
	}
	ws(&c);
	*v = c.p;
	if (value(&c, 1))
		return -EINVAL;
	*vlen = (size_t)(c.p - *v);
	*pos = (size_t)(c.p - s);
	return 0;
}

int json_is_true(const char *v, size_t vlen)
{
	return vlen == 4 && !memcmp(v, "true", 4);
}

int json_get(const char *s, size_t n, const char *key, const char **v, size_t *vlen)
{
	struct cur c = { s, s + n };
	size_t kl = strlen(key);

	ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return -EINVAL;
	c.p++;
	for (;;) {
		const char *k, *vs;

		ws(&c);
		if (c.p >= c.end || *c.p == '}')
			return -ENOENT;
		k = c.p + 1;
		if (string(&c))
			return -EINVAL;
		int match = (size_t)(c.p - 1 - k) == kl && !memcmp(k, key, kl);
		ws(&c);
		if (c.p >= c.end || *c.p != ':')
			return -EINVAL;
		c.p++;
		ws(&c);
		vs = c.p;
		if (value(&c, 1))
			return -EINVAL;
		if (match) {
			*v = vs;
			*vlen = (size_t)(c.p - vs);
			return 0;
		}
		ws(&c);
		if (c.p < c.end && *c.p == ',')
			c.p++;
	}
}

int json_get_str(const char *s, size_t n, const char *key, char *out, size_t outlen)
{
	const char *v, *end;
	size_t vl, o = 0;

	if (!outlen)
		return -EINVAL;
	out[0] = '\0';
	if (json_get(s, n, key, &v, &vl))
		return -ENOENT;
	if (vl < 2 || v[0] != '"')
		return -EINVAL;
	end = v + vl - 1;
	for (v++; v < end && o + 1 < outlen; v++) {
		if (*v != '\\') {
			out[o++] = *v;
			continue;
		}
		v++;
		switch (*v) {
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 1; i <= 4; i++) {
				char h = v[i];
				cp = cp * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
			}
			out[o++] = cp < 0x80 && cp >= 0x20 ? (char)cp : '?';
			v += 4;
			break;
		}
		default: out[o++] = *v; break;
		}
	}
	out[o] = '\0';
	return 0;
}

int json_get_u64(const char *s, size_t n, const char *key, uint64_t *out)
{
	const char *v;
	size_t vl;
	uint64_t x = 0;

	if (json_get(s, n, key, &v, &vl))
		return -ENOENT;
	if (vl == 0 || vl > 20)
		return -EINVAL;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* ---- JSON builder ---------------------------------------------------------- */

void jb_init(struct jbuf *b, char *buf, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	buf[0] = '\0';
}

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (b->err || b->len + n + 1 > b->cap) {
		b->err = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void puts_(struct jbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at p (1-4) and its code point, or 0
 * (overlong forms, surrogates, past U+10FFFF). A NUL ends a sequence. */
static size_t utf8_decode(const unsigned char *p, unsigned *cp)
{
	size_t n;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, *cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, *cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, *cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
	    (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return n;
}

/* The text for the character at p: *src (esc or p itself) and its length;
 * *adv: the bytes of s it stands for. esc holds up to 8 escaped bytes. */
static size_t term_unit(const unsigned char *p, char esc[9], const char **src, size_t *adv)
{
	unsigned cp;
	size_t n = utf8_decode(p, &cp);

	*src = esc;
	if (n == 0) {
		*adv = 1;
		return (size_t)snprintf(esc, 9, "\\x%02x", p[0]);
	}
	*adv = n;
	if (cp == '\\') {
		memcpy(esc, "\\\\", 3);
		return 2;
	}
	if (cp < 0x20 || cp == 0x7f)
		return (size_t)snprintf(esc, 9, "\\x%02x", p[0]);
	if (cp >= 0x80 && cp <= 0x9f) /* C1: 0xc2 0x80..0x9f */
		return (size_t)snprintf(esc, 9, "\\x%02x\\x%02x", p[0], p[1]);
	*src = (const char *)p;
	return n;
}

/* The text for the character at p in a JSON string: like term_unit. */
static size_t json_unit(const unsigned char *p, char esc[9], const char **src, size_t *adv)
{
	unsigned cp;
	size_t n;

	*src = esc;
	*adv = 1;
	if (*p == '"' || *p == '\\') {
		esc[0] = '\\';
		esc[1] = (char)*p;
		return 2;
	}
	n = utf8_decode(p, &cp);
	if (*p < 0x20 || *p == 0x7f || n == 0)
		/* control bytes, and bytes that are not UTF-8: the byte's value,
		 * visibly, and the line stays valid UTF-8 */
		return (size_t)snprintf(esc, 9, "\\u%04x", *p);
	*src = (const char *)p;
	*adv = n;
	return n;
}

/* Escape s unit by unit into out: never half a unit, always terminated;
 * returns the length the whole escaped text needs. */
static size_t escape_with(char *out, size_t outlen, const char *s,
			  size_t (*unit)(const unsigned char *, char[9], const char **, size_t *))
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, written = 0;
	int full = !out || !outlen;

	while (*p) {
		char esc[9];
		const char *src;
		size_t adv, n = unit(p, esc, &src, &adv);

		if (!full && written + n < outlen) {
			memcpy(out + written, src, n);
			written += n;
		} else {
			full = 1;
		}
		len += n;
		p += adv;
	}
	if (out && outlen)
		out[written] = '\0';
	return len;
}

size_t term_escape(char *out, size_t outlen, const char *s)
{
	return escape_with(out, outlen, s, term_unit);
}

size_t json_escape(char *out, size_t outlen, const char *s)
{
	return escape_with(out, outlen, s, json_unit);
}

static void put_escaped(struct jbuf *b, const char *s)
{
	size_t n = json_escape(NULL, 0, s);

	put(b, "\"", 1);
	if (b->err || b->len + n + 1 > b->cap) {
		b->err = 1;
		return;
	}
	json_escape(b->buf + b->len, b->cap - b->len, s);
	b->len += n;
	put(b, "\"", 1);
}

static void key(struct jbuf *b, const char *k)
{
	if (b->depth > 0) {
		if (!b->first[b->depth])
			put(b, ",", 1);
		b->first[b->depth] = 0;
	}
	if (k) {
		put_escaped(b, k);
		put(b, ":", 1);
	}
}

static void open_(struct jbuf *b, const char *k, const char *c)
{
	key(b, k);
	puts_(b, c);
	if (b->depth + 1 >= (int)sizeof(b->first)) {
		b->err = 1;
		return;
	}
	b->first[++b->depth] = 1;
}

void jb_obj_begin(struct jbuf *b, const char *k) { open_(b, k, "{"); }
void jb_arr_begin(struct jbuf *b, const char *k) { open_(b, k, "["); }
void jb_obj_end(struct jbuf *b) { puts_(b, "}"); b->depth--; }
void jb_arr_end(struct jbuf *b) { puts_(b, "]"); b->depth--; }

void jb_str(struct jbuf *b, const char *k, const char *v)
{
	key(b, k);
	put_escaped(b, v ? v : "");
}

void jb_u64(struct jbuf *b, const char *k, uint64_t v)
{
	char n[24];

	key(b, k);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)v);
	puts_(b, n);
}

void jb_bool(struct jbuf *b, const char *k, int v)
{
	key(b, k);
	puts_(b, v ? "true" : "false");
}

void jb_i64(struct jbuf *b, const char *k, int64_t v)
{
	char n[24];

	key(b, k);
	snprintf(n, sizeof(n), "%lld", (long long)v);
	puts_(b, n);
}

void json_format_time(char *buf, size_t len, uint64_t ns)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", s, (unsigned)(ns % NSEC_PER_SEC / 1000000));
}

void jb_time(struct jbuf *b, const char *k, uint64_t ns)
{
	char t[40];

	json_format_time(t, sizeof(t), ns);
	jb_str(b, k, t);
}

/* ---- the file -------------------------------------------------------------- */
