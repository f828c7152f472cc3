/*
 * diff: pool difficulty <-> 256-bit targets (docs/PROTOCOL.md section 4).
 * DIFF1 = 0xFFFF * 2^208 ("truediffone").  Hashes and targets are 32-byte
 * little-endian integers, exactly as sha256d returns the header hash.
 */
#ifndef DPMP_DIFF_H
#define DPMP_DIFF_H

#include <stdbool.h>
#include <stdint.h>

/* floor(DIFF1 / d) for any finite d > 0 (fractional allowed); a d so small
 * that the quotient overflows 256 bits saturates to 2^256-1.  -1 when d is
 * not finite or <= 0. */
int	diff_to_target(double d, uint8_t target_le[32]);
/* DIFF1 / H as a double (what pools report as the share's difficulty). */
double	diff_from_hash(const uint8_t hash_le[32]);
/* Alias kept for readability at call sites that validate shares. */
#define share_difficulty(h) diff_from_hash(h)
/* -1, 0, 1 as a < b, a == b, a > b (both little-endian 256-bit). */
int	diff_cmp_le(const uint8_t a_le[32], const uint8_t b_le[32]);
/* hash <= target */
bool	diff_meets(const uint8_t hash_le[32], const uint8_t target_le[32]);
/* nbits (compact) -> network target.  -1 when the sign bit is set, the
 * mantissa is zero or the target overflows 256 bits. */
int	diff_nbits_to_target(uint32_t nbits, uint8_t target_le[32]);
/* Network difficulty DIFF1 / T(nbits); 0 on invalid nbits. */
double	diff_nbits_difficulty(uint32_t nbits);

#endif
