/* Strict JSON validation and top-level member lookup (see json.h). */
#include "json.h"

#include <errno.h>
#include <string.h>

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
