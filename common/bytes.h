/*
 * bytes: fixed-width integers into byte buffers in a stated order, for
 * the block header and the coinbase, whatever the host's own order.
 */
#ifndef DPMP_BYTES_H
#define DPMP_BYTES_H

#include <stdint.h>

static inline void
bytes_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
