/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SipHash-2-4 (Aumasson and Bernstein) over a map value's first len bytes,
 * for BPF programs: whole 8-byte blocks in a bpf_loop, the last block with
 * the length after it. Keyed with a secret, it is a PRF: a peer who does
 * not know the key cannot make other bytes with the same hash. The guard
 * (bpf/guard.bpf.c) keeps it of the request it admitted. SIP_MASK + 1: the
 * buffer's size, a power of two. */
#ifndef PORTHOLE_SIPHASH_BPF_H
#define PORTHOLE_SIPHASH_BPF_H

struct sip {
	const char *buf;            /* a map value of at least PH_GUARD_REQ_MAX bytes */
	__u32 len;
	__u32 *pos;                 /* the next block, in map memory (see guard_request.bpf.h's req_step) */
	__u64 v0, v1, v2, v3;
};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
static __always_inline void sip_round(struct sip *h)
{
	h->v0 += h->v1; h->v1 = ROTL(h->v1, 13); h->v1 ^= h->v0; h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3; h->v3 = ROTL(h->v3, 16); h->v3 ^= h->v2;
	h->v0 += h->v3; h->v3 = ROTL(h->v3, 21); h->v3 ^= h->v0;
	h->v2 += h->v1; h->v1 = ROTL(h->v1, 17); h->v1 ^= h->v2; h->v2 = ROTL(h->v2, 32);
}

/* one whole 8-byte block (bpf_loop callback) */
static long sip_block(__u32 loop_idx, void *arg)
{
	struct sip *h = arg;
	__u32 idx = (*h->pos)++;

	(void)loop_idx;
	__u64 m;

	__builtin_memcpy(&m, &h->buf[(idx * 8) & (SIP_MASK & ~7u)], 8);
	h->v3 ^= m;
	sip_round(h);
	sip_round(h);
	h->v0 ^= m;
	return 0;
}

static __always_inline __u64 siphash(const char *buf, __u32 len, __u32 *pos, __u64 k0, __u64 k1)
{
	struct sip h = { .buf = buf, .len = len, .pos = pos, .v0 = k0 ^ 0x736f6d6570736575ULL, .v1 = k1 ^ 0x646f72616e646f6dULL,
			 .v2 = k0 ^ 0x6c7967656e657261ULL, .v3 = k1 ^ 0x7465646279746573ULL };
	__u32 full = (len / 8) & ((SIP_MASK + 1) / 8 - 1), off = full * 8;
	__u64 m = (__u64)(len & 0xff) << 56;

	*pos = 0;
	bpf_loop(full, sip_block, &h, 0);
	/* the last block: the rest of the bytes and the length */
	for (__u32 j = 0; j < 7; j++) {
		if (off + j < len) {
			__u64 i = off + j;
			/* the mask in the code, whatever the compiler knows of
			 * len: the verifier may know less after the loop */
			asm volatile("%[i] &= %[m]" : [i] "+r"(i) : [m] "i"(SIP_MASK));
			m |= (__u64)(__u8)buf[i] << (8 * j);
		}
	}
	h.v3 ^= m;
	sip_round(&h);
	sip_round(&h);
	h.v0 ^= m;
	h.v2 ^= 0xff;
	sip_round(&h);
	sip_round(&h);
	sip_round(&h);
	sip_round(&h);
	return h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
}

#endif
