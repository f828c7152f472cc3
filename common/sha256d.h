/*
 * sha256d: Bitcoin's double SHA-256, the only hash a Stratum v1 proxy
 * needs (coinbase txid, merkle folding, block header).
 */
#ifndef DPMP_SHA256D_H
#define DPMP_SHA256D_H

#include <stddef.h>
#include <stdint.h>

struct sha256d_part {
	const void	*data;
	size_t		 len;
};

void	sha256(const void *data, size_t len, uint8_t out[32]);
void	sha256d(const void *data, size_t len, uint8_t out[32]);
/* sha256d of the concatenation of n parts, without building it (the
 * coinbase is coinb1 || en1 || en2 || coinb2). */
void	sha256d_parts(const struct sha256d_part *parts, size_t n,
	    uint8_t out[32]);

#endif
