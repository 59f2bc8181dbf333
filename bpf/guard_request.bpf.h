/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guard's reader of one ACME challenge request (included by
 * bpf/guard.bpf.c): "GET /.well-known/acme-challenge/TOKEN HTTP/1.x", header
 * lines and the empty line, one byte per bpf_loop step of a small state
 * machine, so that the verifier walks each step once whatever the request's
 * length. What a whole request is lives here; which bytes TCP will deliver,
 * and whether a token is live, is guard.bpf.c's. */
#ifndef PORTHOLE_GUARD_REQUEST_BPF_H
#define PORTHOLE_GUARD_REQUEST_BPF_H

#define REQ_MASK (PH_GUARD_REQ_MAX - 1)
#define TOKEN_MASK (PH_TOKEN_MAX - 1)

/* "GET /.well-known/acme-challenge/" and " HTTP/1.", eight bytes a word
 * (constants in the code: a string in .rodata would cost a map read) */
#define W8(a, b, c, d, e, f, g, h)                                                                     \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |  \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define PREFIX_LEN 32
#define VERSION_LEN 11 /* " HTTP/1.x\r\n" */

/* the request line's fixed start, checked in the calling program with one
 * compare a byte (Linux 6.1 computed this wrong inside the loop: every
 * request was refused as not-a-challenge on 6.1.192) */
static __always_inline __u32 prefix_check(const char *buf, __u32 len)
{
	static const char p[] = "GET /.well-known/acme-challenge/";

#pragma clang loop unroll(full)
	for (int i = 0; i < PREFIX_LEN; i++) {
		if ((__u32)i >= len)
			return PH_GW_SPLIT;
		if (buf[i] != p[i])
			return PH_GW_NOT_CHALLENGE;
	}
	return 0;
}

static __always_inline char version_at(__u32 k)
{
	return (char)(W8(' ', 'H', 'T', 'T', 'P', '/', '1', '.') >> ((k & 7) * 8));
}


/* The reader's state between two bytes of the request. */
enum { R_TOKEN = 1, R_VERSION, R_LINE_START, R_HEADER, R_HEADER_COLON, R_HEADER_CR, R_END_CR };

struct req_scan {
	const char *buf;            /* the request's bytes (a map value: the verifier knows its size) */
	struct ph_token_key *key;   /* the token goes here */
	__u32 len;                  /* bytes in buf */
	__u32 *pos;                 /* the byte this step reads, in map memory (see req_step) */
	__u32 state;        /* R_* */
	__u32 at;           /* where the current part (token, version) began */
	__u32 result;       /* 0 running, else enum ph_guard_why */
};

/* One byte of the request (bpf_loop callback); 1 stops the loop. */
static long req_step(__u32 loop_idx, void *arg)
{
	struct req_scan *r = arg;
	/* Our own position, not the loop's index: Linux 6.1's verifier took
	 * branches on the index for dead (seen: every request refused as
	 * not-a-challenge on 6.1.192). Kept in map memory, which the verifier
	 * does not follow: on newer kernels, which verify a callback again for
	 * every value it can tell apart, a counter on the stack would be
	 * verified a thousand times over. */
	__u32 idx = (*r->pos)++, k;

	(void)loop_idx;
	char c;

	if (idx >= r->len) {
		r->result = PH_GW_SPLIT; /* the segment ends before the empty line */
		return 1;
	}
	c = r->buf[idx & REQ_MASK];
	switch (r->state) {
	case R_TOKEN:
		k = idx - r->at;
		if (PH_TOKEN_CHAR(c)) {
			if (k >= PH_TOKEN_MAX)
				goto refuse_token;
			r->key->token[k & TOKEN_MASK] = c;
			r->key->len = k + 1;
			return 0;
		}
		if (k == 0)
			goto refuse_token;
		r->state = R_VERSION;
		r->at = idx;
		/* fall through: this byte is the version's first */
	case R_VERSION:
		k = idx - r->at;
		if (k < 8 ? c != version_at(k) : k == 8 ? c != '0' && c != '1' : c != (k == 9 ? '\r' : '\n')) {
			r->result = PH_GW_BAD_VERSION;
			return 1;
		}
		if (k == VERSION_LEN - 1)
			r->state = R_LINE_START;
		return 0;
	case R_LINE_START:
		if (c == '\r') {
			r->state = R_END_CR;
			return 0;
		}
		if (c == ' ' || c == '\t' || c == ':' || c < 0x21 || c > 0x7e)
			break; /* folding, an empty name, control bytes */
		r->state = R_HEADER;
		return 0;
	case R_HEADER:
	case R_HEADER_COLON:
		if (c == '\r') {
			if (r->state != R_HEADER_COLON)
				break;
			r->state = R_HEADER_CR;
			return 0;
		}
		if (c == ':')
			r->state = R_HEADER_COLON;
		else if (c != '\t' && (c < 0x20 || c > 0x7e))
			break;
		return 0;
	case R_HEADER_CR:
		if (c != '\n')
			break;
		r->state = R_LINE_START;
		return 0;
	case R_END_CR:
		if (c != '\n')
			break;
		r->result = idx + 1 == r->len ? PH_GW_ADMITTED : PH_GW_PIPELINED;
		return 1;
	}
	r->result = PH_GW_BAD_HEADER;
	return 1;
refuse_token:
	r->key->len = 0;
	r->result = PH_GW_BAD_TOKEN;
	return 1;
}

#endif
