/* Check suite: common/hex.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "hex.h"

START_TEST(decode_exact)
{
	uint8_t	 out[4];

	ck_assert_int_eq(hex_decode("00ff7Fa0", 8, out, 4), 0);
	ck_assert_int_eq(out[0], 0x00);
	ck_assert_int_eq(out[1], 0xff);
	ck_assert_int_eq(out[2], 0x7f);
	ck_assert_int_eq(out[3], 0xa0);
	ck_assert_int_eq(hex_decode("", 0, out, 0), 0);
}
END_TEST

START_TEST(decode_rejects)
{
	uint8_t	 out[4] = { 1, 2, 3, 4 };

	/* odd length, too short, too long for the output */
	ck_assert_int_eq(hex_decode("abc", 3, out, 1), -1);
	ck_assert_int_eq(hex_decode("abcd", 4, out, 3), -1);
	ck_assert_int_eq(hex_decode("abcdef", 6, out, 2), -1);
	/* non-hex characters anywhere, including the last one */
	ck_assert_int_eq(hex_decode("0g", 2, out, 1), -1);
	ck_assert_int_eq(hex_decode("g0", 2, out, 1), -1);
	ck_assert_int_eq(hex_decode("0x12", 4, out, 2), -1);
	ck_assert_int_eq(hex_decode(" 1", 2, out, 1), -1);
	ck_assert_int_eq(hex_decode("1\0", 2, out, 1), -1);
	ck_assert_int_eq(hex_decode("-1", 2, out, 1), -1);
}
END_TEST

START_TEST(decode_var)
{
	uint8_t	 out[4];
	size_t	 n = 99;

	ck_assert_int_eq(hex_decode_var("a1b2", 4, out, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(out[0], 0xa1);
	ck_assert_int_eq(out[1], 0xb2);
	ck_assert_int_eq(hex_decode_var("", 0, out, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(hex_decode_var("0102030405", 10, out, 4, &n), -1);
	ck_assert_int_eq(hex_decode_var("010", 3, out, 4, &n), -1);
	ck_assert_int_eq(hex_decode_var("zz", 2, out, 4, &n), -1);
	ck_assert_int_eq(hex_decode_var("01020304", 8, out, 4, &n), 0);
	ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(encode_lowercase)
{
	const uint8_t	 in[] = { 0x00, 0xab, 0xCD, 0xef, 0x09 };
	char		 out[11];

	memset(out, 'x', sizeof(out));
	hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "00abcdef09");
	hex_encode(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(roundtrip_all_bytes)
{
	uint8_t	 in[256], back[256];
	char	 hex[513];
	int	 i;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	hex_encode(in, sizeof(in), hex);
	ck_assert_uint_eq(strlen(hex), 512);
	ck_assert_int_eq(hex_decode(hex, 512, back, sizeof(back)), 0);
	ck_assert_mem_eq(in, back, sizeof(in));
}
END_TEST

START_TEST(u32_parse)
{
	uint32_t	 v = 0;

	ck_assert_int_eq(hex_u32("1b04864c", 8, &v), 0);
	ck_assert_uint_eq(v, 0x1b04864cu);
	ck_assert_int_eq(hex_u32("FFFFFFFF", 8, &v), 0);
	ck_assert_uint_eq(v, 0xffffffffu);
	ck_assert_int_eq(hex_u32("00000000", 8, &v), 0);
	ck_assert_uint_eq(v, 0);
	v = 7;
	ck_assert_int_eq(hex_u32("1234567", 7, &v), -1);
	ck_assert_int_eq(hex_u32("123456789", 9, &v), -1);
	ck_assert_int_eq(hex_u32("1234567g", 8, &v), -1);
	ck_assert_int_eq(hex_u32("0x123456", 8, &v), -1);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(u32_format)
{
	char	 out[9];

	hex_from_u32(0x20b4e004u, out);
	ck_assert_str_eq(out, "20b4e004");
	hex_from_u32(0, out);
	ck_assert_str_eq(out, "00000000");
	hex_from_u32(0xABCDEF01u, out);
	ck_assert_str_eq(out, "abcdef01");
}
END_TEST

static Suite *
hex_suite(void)
{
	Suite	*s = suite_create("hex");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, decode_exact);
	tcase_add_test(tc, decode_rejects);
	tcase_add_test(tc, decode_var);
	tcase_add_test(tc, encode_lowercase);
	tcase_add_test(tc, roundtrip_all_bytes);
	tcase_add_test(tc, u32_parse);
	tcase_add_test(tc, u32_format);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(hex_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
