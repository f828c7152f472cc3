/*
 * Difficulty arithmetic on 256-bit little-endian integers held as four
 * 64-bit limbs.  diff_to_target is exact for every double: pools send
 * fractional difficulties (0.00001 on test pools), and a target that is
 * off by one ulp would make the proxy accept or reject a boundary share
 * that the pool judges the other way.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "diff.h"

/* DIFF1 = 0xFFFF * 2^208 (docs/PROTOCOL.md section 4, "truediffone"). */
#define DIFF1_MANT	0xFFFFu
#define DIFF1_SHIFT	208
#define DIFF1_DOUBLE	(65535.0 * 0x1p208)

static void
u256_load(const uint8_t le[32], uint64_t w[4])
{
	int	 i, j;

	for (i = 0; i < 4; i++) {
		w[i] = 0;
		for (j = 7; j >= 0; j--)
			w[i] = w[i] << 8 | le[8 * i + j];
	}
}

static void
u256_store(const uint64_t w[4], uint8_t le[32])
{
	int	 i, j;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 8; j++)
			le[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* Correctly rounded conversion: the top 64 significant bits with every
 * lower bit folded into a sticky bit, so the one rounding the CPU does
 * to 53 bits is the right one. */
static double
u256_to_double(const uint64_t w[4])
{
	uint64_t	 top;
	int		 i, lz, k;
	bool		 sticky = false;

	for (i = 3; i >= 0 && w[i] == 0; i--)
		;
	if (i < 0)
		return (0.0);
	if (i == 0)
		return ((double)w[0]);
	lz = __builtin_clzll(w[i]);
	top = lz == 0 ? w[i] : (w[i] << lz | w[i - 1] >> (64 - lz));
	if (lz == 0 ? w[i - 1] != 0 : (w[i - 1] << lz) != 0)
		sticky = true;
	for (k = i - 2; k >= 0; k--)
		if (w[k] != 0)
			sticky = true;
	if (sticky)
		top |= 1;
	return (ldexp((double)top, 64 * (i - 1) + 64 - lz));
}

int
diff_to_target(double d, uint8_t target_le[32])
{
	uint64_t		 num[5], q[5], m;
	unsigned __int128	 rem;
	int			 exp, s, rshift, i;
	double			 f;

	if (!isfinite(d) || d <= 0)
		return (-1);

	/* d = m * 2^exp with m an integer of at most 53 bits, so
	 * DIFF1 / d = 0xFFFF * 2^(208 - exp) / m. */
	f = frexp(d, &exp);
	m = (uint64_t)ldexp(f, 53);
	exp -= 53;
	s = DIFF1_SHIFT - exp;

	/* The quotient is at least 0xFFFF * 2^s / 2^53 > 2^(s - 38): any s
	 * past 294 cannot fit in 256 bits. */
	if (s > 294)
		goto saturate;

	/* floor(floor(a / m) / 2^k) = floor(a / (m * 2^k)), so a negative
	 * s becomes a right shift of the quotient. */
	rshift = s < 0 ? -s : 0;
	if (s < 0)
		s = 0;

	/* 0xFFFF << s in five limbs (s <= 294 keeps it under 320 bits). */
	memset(num, 0, sizeof(num));
	num[s / 64] = (uint64_t)DIFF1_MANT << (s % 64);
	if (s % 64 > 48 && s / 64 + 1 < 5)
		num[s / 64 + 1] = (uint64_t)DIFF1_MANT >> (64 - s % 64);

	rem = 0;
	for (i = 4; i >= 0; i--) {
		rem = rem << 64 | num[i];
		q[i] = (uint64_t)(rem / m);
		rem %= m;
	}

	if (rshift >= 320) {
		memset(q, 0, sizeof(q));
	} else if (rshift > 0) {
		int	 limbs = rshift / 64, bits = rshift % 64;

		for (i = 0; i < 5; i++) {
			uint64_t lo = i + limbs < 5 ? q[i + limbs] : 0;
			uint64_t hi = i + limbs + 1 < 5 ? q[i + limbs + 1] : 0;

			q[i] = bits == 0 ? lo : (lo >> bits | hi << (64 - bits));
		}
	}
	if (q[4] != 0)
		goto saturate;
	u256_store(q, target_le);
	return (0);

 saturate:
	memset(target_le, 0xff, 32);
	return (0);
}

double
diff_from_hash(const uint8_t hash_le[32])
{
	uint64_t	 w[4];
	double		 h;

	u256_load(hash_le, w);
	h = u256_to_double(w);
	/* A zero hash is never going to happen; keep the result finite so
	 * it can still be printed as JSON or a metric. */
	if (h == 0.0)
		return (DBL_MAX);
	return (DIFF1_DOUBLE / h);
}

int
diff_cmp_le(const uint8_t a_le[32], const uint8_t b_le[32])
{
	int	 i;

	for (i = 31; i >= 0; i--) {
		if (a_le[i] < b_le[i])
			return (-1);
		if (a_le[i] > b_le[i])
			return (1);
	}
	return (0);
}

bool
diff_meets(const uint8_t hash_le[32], const uint8_t target_le[32])
{
	return (diff_cmp_le(hash_le, target_le) <= 0);
}

int
diff_nbits_to_target(uint32_t nbits, uint8_t target_le[32])
{
	uint32_t	 mant = nbits & 0x007fffff;
	int		 exp = (int)(nbits >> 24);
	int		 i, bits;

	memset(target_le, 0, 32);
	/* Bitcoin Core's SetCompact: a set sign bit, a zero result or an
	 * overflow are all invalid bits. */
	if ((nbits & 0x00800000) != 0 || mant == 0)
		return (-1);
	if (exp <= 3) {
		mant >>= 8 * (3 - exp);
		if (mant == 0)
			return (-1);
		for (i = 0; i < 3; i++)
			target_le[i] = (uint8_t)(mant >> (8 * i));
		return (0);
	}
	bits = 32 - __builtin_clz(mant);
	if (bits + 8 * (exp - 3) > 256)
		return (-1);
	for (i = 0; i < 3; i++)
		if (exp - 3 + i < 32)
			target_le[exp - 3 + i] = (uint8_t)(mant >> (8 * i));
	return (0);
}

double
diff_nbits_difficulty(uint32_t nbits)
{
	uint8_t		 t[32];
	uint64_t	 w[4];

	if (diff_nbits_to_target(nbits, t) == -1)
		return (0.0);
	u256_load(t, w);
	return (DIFF1_DOUBLE / u256_to_double(w));
}
