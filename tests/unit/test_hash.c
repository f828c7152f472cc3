/* Check suite: common/sha256d.c */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "hex.h"
#include "sha256d.h"

static void
ck_hash_hex(const uint8_t h[32], const char *want)
{
	char	 got[65];

	hex_encode(h, 32, got);
	ck_assert_str_eq(got, want);
}

/* Display order, as explorers print block hashes. */
static void
ck_hash_rev(const uint8_t h[32], const char *want)
{
	uint8_t	 r[32];
	int	 i;

	for (i = 0; i < 32; i++)
		r[i] = h[31 - i];
	ck_hash_hex(r, want);
}

START_TEST(sha256_fips)
{
	uint8_t	 h[32];
	char	*big;

	/* FIPS 180-2 examples */
	sha256("", 0, h);
	ck_hash_hex(h, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	sha256("abc", 3, h);
	ck_hash_hex(h, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, h);
	ck_hash_hex(h, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
	big = malloc(1000000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 1000000);
	sha256(big, 1000000, h);
	free(big);
	ck_hash_hex(h, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256d_known)
{
	uint8_t	 h[32];

	sha256d("abc", 3, h);
	ck_hash_hex(h, "4f8b42c22dd3729b519ba6f68d2da7cc"
	    "5b2d606d05daed5ad5128cc03e6c6358");
	sha256d("", 0, h);
	ck_hash_hex(h, "5df6e0e2761359d30a8275058e299fcc"
	    "0381534545f55cf43e41983f5d4c9456");
}
END_TEST

START_TEST(genesis_header)
{
	const char	*hex = "0100000000000000000000000000000000000000000000"
	    "000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81b"
	    "c3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
	uint8_t		 hdr[80], h[32], want[32];

	ck_assert_int_eq(hex_decode(hex, 160, hdr, sizeof(hdr)), 0);
	sha256d(hdr, sizeof(hdr), h);
	ck_hash_rev(h, "000000000019d6689c085ae165831e93"
	    "4ff763ae46a2a6c172b3f1b60a8ce26f");
	memcpy(want, h, 32);
	/* one flipped nonce bit gives another hash */
	hdr[79] ^= 1;
	sha256d(hdr, sizeof(hdr), h);
	ck_assert_mem_ne(h, want, 32);
}
END_TEST

START_TEST(in_place)
{
	uint8_t	 buf[32], want[32];

	memset(buf, 0x5a, sizeof(buf));
	sha256d(buf, sizeof(buf), want);
	sha256d(buf, sizeof(buf), buf);
	ck_assert_mem_eq(buf, want, 32);
}
END_TEST

START_TEST(parts_equal_concat)
{
	uint8_t			 data[300], whole[32], split[32];
	struct sha256d_part	 p[4];
	size_t			 a, b;
	int			 i;

	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	sha256d(data, sizeof(data), whole);
	/* every split point, including empty parts at both ends */
	for (a = 0; a <= sizeof(data); a += 13) {
		for (b = a; b <= sizeof(data); b += 29) {
			p[0].data = data;
			p[0].len = a;
			p[1].data = data + a;
			p[1].len = b - a;
			p[2].data = NULL;
			p[2].len = 0;
			p[3].data = data + b;
			p[3].len = sizeof(data) - b;
			sha256d_parts(p, 4, split);
			ck_assert_mem_eq(split, whole, 32);
		}
	}
	sha256d_parts(NULL, 0, split);
	sha256d("", 0, whole);
	ck_assert_mem_eq(split, whole, 32);
}
END_TEST

static void *
hash_thread(void *arg)
{
	uint8_t		*out = arg;
	uint8_t		 buf[80];
	int		 i;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 20000; i++) {
		buf[0] = (uint8_t)i;
		buf[1] = (uint8_t)(i >> 8);
		sha256d(buf, sizeof(buf), out);
		memcpy(buf + 40, out, 32);
	}
	return (NULL);
}

/* Each thread has its own context: two threads hashing the same chain
 * at once must both land on the single-threaded answer. */
START_TEST(threads_agree)
{
	pthread_t	 t1, t2;
	uint8_t		 r0[32], r1[32], r2[32];

	hash_thread(r0);
	ck_assert_int_eq(pthread_create(&t1, NULL, hash_thread, r1), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, hash_thread, r2), 0);
	ck_assert_int_eq(pthread_join(t1, NULL), 0);
	ck_assert_int_eq(pthread_join(t2, NULL), 0);
	ck_assert_mem_eq(r0, r1, 32);
	ck_assert_mem_eq(r0, r2, 32);
}
END_TEST

static Suite *
hash_suite(void)
{
	Suite	*s = suite_create("sha256d");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, sha256_fips);
	tcase_add_test(tc, sha256d_known);
	tcase_add_test(tc, genesis_header);
	tcase_add_test(tc, in_place);
	tcase_add_test(tc, parts_equal_concat);
	tcase_add_test(tc, threads_agree);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(hash_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
