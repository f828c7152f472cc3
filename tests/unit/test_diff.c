/* Check suite: common/diff.c.  Expected targets are floor(DIFF1 / d)
 * computed with Python's fractions module (exact rational arithmetic). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "diff.h"
#include "hex.h"

#define SAT	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

/* 64 big-endian hex digits -> little-endian 32 bytes */
static void
be_hex_to_le(const char *hex, uint8_t le[32])
{
	uint8_t	 be[32];
	int	 i;

	ck_assert_int_eq(hex_decode(hex, 64, be, 32), 0);
	for (i = 0; i < 32; i++)
		le[i] = be[31 - i];
}

static void
le_to_be_hex(const uint8_t le[32], char hex[65])
{
	uint8_t	 be[32];
	int	 i;

	for (i = 0; i < 32; i++)
		be[i] = le[31 - i];
	hex_encode(be, 32, hex);
}

static const struct {
	double		 d;
	const char	*target;
} targets[] = {
	/* docs/PROTOCOL.md section 4 table */
	{ 1, "00000000ffff0000000000000000000000000000000000000000000000000000" },
	{ 2, "000000007fff8000000000000000000000000000000000000000000000000000" },
	{ 1024,
	  "00000000003fffc0000000000000000000000000000000000000000000000000" },
	{ 65536,
	  "000000000000ffff000000000000000000000000000000000000000000000000" },
	{ 0.5,
	  "00000001fffe0000000000000000000000000000000000000000000000000000" },
	{ 42, "0000000006185b6db6db6db6db6db6db6db6db6db6db6db6db6db6db6db6db6d" },
	/* fractions and extremes */
	{ 0.00001,
	  "0001869e795ffffff7017bde8d2000350440d92a225ec77dedbfeaa3675216b5" },
	{ 3.3,
	  "000000004d931745d1745e442b04efc794d27cc5e49a4bf3ac8ea27e7583b128" },
	{ 1e15,
	  "00000000000000000000480e766cdedcb914316213b20a7a5f0d26cb45f4f354" },
	{ 0x1p-20,
	  "000ffff000000000000000000000000000000000000000000000000000000000" },
	{ 1e-7,
	  "009895e769800001f18acc53422006565b55c07bddecaa1651dd63e5e3739c47" },
	{ 17583.056276040857,
	  "000000000003ba27aa200b1cfce7bc9f5ab57e49bb86aeabad5cf6894ac4c3ab" },
	{ 683.5109367312982,
	  "00000000005fe144efbc662558e7e761d713406976f516ff5177797fc70d48e0" },
	{ 1e60,
	  "00000000000000000000000000000000000000000000000000000000019b5eaf" },
	{ 1e300,
	  "0000000000000000000000000000000000000000000000000000000000000000" },
	{ DBL_MAX,
	  "0000000000000000000000000000000000000000000000000000000000000000" },
	/* quotient beyond 256 bits saturates */
	{ 1.5e-10, SAT },
	{ 6.5e-60, SAT },
	{ 5e-324, SAT },
};

START_TEST(to_target_table)
{
	uint8_t	 t[32];
	char	 got[65];

	memset(t, 0xaa, sizeof(t));
	ck_assert_int_eq(diff_to_target(targets[_i].d, t), 0);
	le_to_be_hex(t, got);
	ck_assert_msg(strcmp(got, targets[_i].target) == 0,
	    "d=%.17g: got %s want %s", targets[_i].d, got,
	    targets[_i].target);
}
END_TEST

START_TEST(to_target_invalid)
{
	uint8_t	 t[32];

	ck_assert_int_eq(diff_to_target(0, t), -1);
	ck_assert_int_eq(diff_to_target(-0.0, t), -1);
	ck_assert_int_eq(diff_to_target(-1, t), -1);
	ck_assert_int_eq(diff_to_target(NAN, t), -1);
	ck_assert_int_eq(diff_to_target(INFINITY, t), -1);
	ck_assert_int_eq(diff_to_target(-INFINITY, t), -1);
}
END_TEST

/* Halving d doubles the target (up to the floor), for a sweep of
 * exponents: checks the shift paths against each other. */
START_TEST(to_target_monotone)
{
	uint8_t	 a[32], b[32];
	double	 d;

	for (d = 1e-9; d < 1e70; d *= 7.3) {
		ck_assert_int_eq(diff_to_target(d, a), 0);
		ck_assert_int_eq(diff_to_target(d * 1.0001, b), 0);
		ck_assert_msg(diff_cmp_le(b, a) <= 0, "not monotone at %g", d);
	}
}
END_TEST

START_TEST(from_hash)
{
	uint8_t	 h[32];

	/* DIFF1 itself is difficulty 1 */
	be_hex_to_le(targets[0].target, h);
	ck_assert_double_eq(diff_from_hash(h), 1.0);
	be_hex_to_le(targets[1].target, h);
	ck_assert_double_eq_tol(diff_from_hash(h), 2.0, 2.0 * 1e-12);
	/* block 100,000 (docs/PROTOCOL.md section 3, example A) */
	be_hex_to_le("000000000003ba27aa200b1cecaad478"
	    "d2b00432346c3f1f3986da1afd33e506", h);
	ck_assert_double_eq_tol(diff_from_hash(h), 17583.056276040857,
	    17583.056276040857 * 1e-12);
	/* example B's slush share */
	be_hex_to_le("00000000005fe144efbc66241c0094b8"
	    "fdc2702b7729226fdfed70ca8094c0b5", h);
	ck_assert_double_eq_tol(diff_from_hash(h), 683.5109367312982,
	    683.5109367312982 * 1e-12);
	/* all ones: the weakest possible hash */
	memset(h, 0xff, sizeof(h));
	ck_assert_double_eq_tol(diff_from_hash(h), 65535.0 * 0x1p-48,
	    65535.0 * 0x1p-48 * 1e-12);
	/* zero stays finite */
	memset(h, 0, sizeof(h));
	ck_assert(isfinite(diff_from_hash(h)));
	ck_assert(diff_from_hash(h) > 1e300);
	/* a small hash in the lowest limb */
	h[0] = 1;
	ck_assert_double_eq(diff_from_hash(h), 65535.0 * 0x1p208);
}
END_TEST

START_TEST(cmp_and_meets)
{
	uint8_t	 a[32], b[32];

	memset(a, 0, 32);
	memset(b, 0, 32);
	ck_assert_int_eq(diff_cmp_le(a, b), 0);
	ck_assert(diff_meets(a, b));
	a[0] = 1;		/* least significant byte */
	ck_assert_int_eq(diff_cmp_le(a, b), 1);
	ck_assert(!diff_meets(a, b));
	b[31] = 1;		/* most significant byte wins */
	ck_assert_int_eq(diff_cmp_le(a, b), -1);
	ck_assert_int_eq(diff_cmp_le(b, a), 1);
	ck_assert(diff_meets(a, b));
}
END_TEST

START_TEST(nbits_table)
{
	uint8_t	 t[32], want[32];

	ck_assert_int_eq(diff_nbits_to_target(0x1d00ffff, t), 0);
	be_hex_to_le(targets[0].target, want);
	ck_assert_mem_eq(t, want, 32);
	ck_assert_double_eq(diff_nbits_difficulty(0x1d00ffff), 1.0);

	ck_assert_int_eq(diff_nbits_to_target(0x1b04864c, t), 0);
	be_hex_to_le("000000000004864c000000000000000000000000000000000000000000000000",
	    want);
	ck_assert_mem_eq(t, want, 32);
	ck_assert_double_eq_tol(diff_nbits_difficulty(0x1b04864c),
	    14484.162361225399, 14484.162361225399 * 1e-12);

	ck_assert_int_eq(diff_nbits_to_target(0x1705ae3a, t), 0);
	be_hex_to_le("00000000000000000005ae3a0000000000000000000000000000000000000000",
	    want);
	ck_assert_mem_eq(t, want, 32);
	ck_assert_double_eq_tol(diff_nbits_difficulty(0x1705ae3a),
	    49549703178592.68, 49549703178592.68 * 1e-12);
}
END_TEST

START_TEST(nbits_edges)
{
	uint8_t	 t[32];

	/* sign bit, zero mantissa, overflow, shifted to zero */
	ck_assert_int_eq(diff_nbits_to_target(0x1d80ffff, t), -1);
	ck_assert_int_eq(diff_nbits_to_target(0x1d000000, t), -1);
	ck_assert_int_eq(diff_nbits_to_target(0x2200ffff, t), -1);
	ck_assert_int_eq(diff_nbits_to_target(0xff123456, t), -1);
	ck_assert_int_eq(diff_nbits_to_target(0x01003456, t), -1);
	ck_assert_double_eq(diff_nbits_difficulty(0x1d80ffff), 0.0);
	ck_assert_double_eq(diff_nbits_difficulty(0), 0.0);

	/* the largest that fits: 0x01 in the top byte */
	ck_assert_int_eq(diff_nbits_to_target(0x22000001, t), 0);
	ck_assert_int_eq(t[31], 1);
	ck_assert_int_eq(t[30], 0);
	/* 0xffff << 8*(0x21-3) = 0xffff at bytes 30..31 */
	ck_assert_int_eq(diff_nbits_to_target(0x2100ffff, t), 0);
	ck_assert_int_eq(t[31], 0xff);
	ck_assert_int_eq(t[30], 0xff);
	ck_assert_int_eq(t[29], 0);
	/* exponents below 3 shift right */
	ck_assert_int_eq(diff_nbits_to_target(0x02123456, t), 0);
	ck_assert_int_eq(t[0], 0x34);
	ck_assert_int_eq(t[1], 0x12);
	ck_assert_int_eq(t[2], 0);
	ck_assert_int_eq(diff_nbits_to_target(0x01120000, t), 0);
	ck_assert_int_eq(t[0], 0x12);
	ck_assert_int_eq(t[1], 0);
	ck_assert_int_eq(diff_nbits_to_target(0x03123456, t), 0);
	ck_assert_int_eq(t[0], 0x56);
	ck_assert_int_eq(t[2], 0x12);
}
END_TEST

static Suite *
diff_suite(void)
{
	Suite	*s = suite_create("diff");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, to_target_table, 0,
	    (int)(sizeof(targets) / sizeof(targets[0])));
	tcase_add_test(tc, to_target_invalid);
	tcase_add_test(tc, to_target_monotone);
	tcase_add_test(tc, from_hash);
	tcase_add_test(tc, cmp_and_meets);
	tcase_add_test(tc, nbits_table);
	tcase_add_test(tc, nbits_edges);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(diff_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
