/*
 * hex: strict lowercase/uppercase hex <-> bytes, as Stratum carries every
 * binary field. Lengths are always checked exactly: a wrong-length field
 * from the wire is an error, never truncated or padded.
 */
#ifndef DPMP_HEX_H
#define DPMP_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Decode exactly hexlen hex digits into hexlen/2 bytes.  Fails (-1) when
 * hexlen is odd, hexlen/2 != outlen, or a character is not [0-9a-fA-F]. */
int	hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);
/* Decode a hex string of any even length up to outcap bytes; *outlen gets
 * the byte count.  -1 on odd length, bad character or overflow. */
int	hex_decode_var(const char *hex, size_t hexlen, uint8_t *out,
	    size_t outcap, size_t *outlen);
/* Encode len bytes as lowercase hex into out (2*len+1 bytes, NUL ends). */
void	hex_encode(const uint8_t *in, size_t len, char *out);
/* Parse exactly 8 hex digits as the big-endian text of a uint32
 * (ntime, nonce, nbits, version, version mask). */
int	hex_u32(const char *hex, size_t hexlen, uint32_t *out);
/* Format a uint32 as 8 lowercase hex digits + NUL. */
void	hex_from_u32(uint32_t v, char out[9]);

#endif
