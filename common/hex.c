/*
 * Strict hex for Stratum fields.  Every decoder takes an explicit length
 * and rejects anything that is not exactly right, because a field that is
 * silently truncated or padded produces a header the pool will not accept
 * (ckpool trims a wrong-length en2; we refuse it instead).
 */
#include <stddef.h>
#include <stdint.h>

#include "hex.h"

static const char hex_digits[] = "0123456789abcdef";

/* -1 for a non-hex character.  A table would be faster but this is not
 * on any path that matters next to sha256. */
static int
hex_nibble(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	size_t	 i;
	int	 hi, lo;

	if (hexlen % 2 != 0 || hexlen / 2 != outlen)
		return (-1);
	if (hexlen > 0 && hex == NULL)
		return (-1);
	for (i = 0; i < outlen; i++) {
		hi = hex_nibble((unsigned char)hex[2 * i]);
		lo = hex_nibble((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return (-1);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}

int
hex_decode_var(const char *hex, size_t hexlen, uint8_t *out, size_t outcap,
    size_t *outlen)
{
	if (hexlen % 2 != 0 || hexlen / 2 > outcap)
		return (-1);
	if (hex_decode(hex, hexlen, out, hexlen / 2) == -1)
		return (-1);
	*outlen = hexlen / 2;
	return (0);
}

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
hex_u32(const char *hex, size_t hexlen, uint32_t *out)
{
	uint8_t	 b[4];

	/* Stratum sends these as exactly 8 digits; "0x" or short forms
	 * are not something any miner or pool emits. */
	if (hexlen != 8 || hex_decode(hex, hexlen, b, sizeof(b)) == -1)
		return (-1);
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | (uint32_t)b[3];
	return (0);
}

void
hex_from_u32(uint32_t v, char out[9])
{
	uint8_t	 b[4];

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	hex_encode(b, sizeof(b), out);
}
