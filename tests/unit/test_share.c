/*
 * Check suite: common/share.c.  Real shares from tests/unit/data/
 * blocks.json (examples A and B of docs/PROTOCOL.md section 3, block
 * 881,423 with rolled version bits) checked against chosen difficulties.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "diff.h"
#include "hex.h"
#include "job.h"
#include "share.h"
#include "testdata.h"

static json_t	*vectors;

struct fixture {
	struct job		 job;
	uint8_t			 en1[EXTRANONCE_MAX];
	struct share_ctx	 ctx;
	struct share_submit	 sub;
	const json_t		*v;
};

static const json_t *
vec(const char *name)
{
	const json_t	*v;
	size_t		 i;

	json_array_foreach(json_object_get(vectors, "shares"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")),
		    name) == 0)
			return (v);
	ck_abort_msg("no vector %s", name);
	return (NULL);
}

static const char *
vstr(const json_t *v, const char *key)
{
	return (json_string_value(json_object_get(v, key)));
}

static void
fx_load(struct fixture *f, const char *name, double difficulty)
{
	char	 err[128];
	size_t	 n;

	memset(f, 0, sizeof(*f));
	f->v = vec(name);
	ck_assert_int_eq(job_from_notify(json_object_get(f->v, "notify"),
	    &f->job, err, sizeof(err)), 0);
	ck_assert_int_eq(hex_decode_var(vstr(f->v, "en1"),
	    strlen(vstr(f->v, "en1")), f->en1, sizeof(f->en1), &n), 0);
	f->ctx.job = &f->job;
	f->ctx.en1 = f->en1;
	f->ctx.en1_len = n;
	f->ctx.en2_size = strlen(vstr(f->v, "en2")) / 2;
	f->ctx.difficulty = difficulty;
	ck_assert_int_eq(hex_u32(vstr(f->v, "mask"), 8,
	    &f->ctx.version_mask), 0);
	f->sub.en2_hex = vstr(f->v, "en2");
	f->sub.ntime_hex = vstr(f->v, "ntime");
	f->sub.nonce_hex = vstr(f->v, "nonce");
	f->sub.vbits_hex = vstr(f->v, "vbits");	/* NULL when json null */
}

static void
fx_free(struct fixture *f)
{
	job_clear(&f->job);
}

static void
ck_hash(const uint8_t h[32], const char *want)
{
	char	 got[65];

	hex_encode(h, 32, got);
	ck_assert_str_eq(got, want);
}

static double
vdiff(const json_t *v)
{
	return (json_real_value(json_object_get(v, "share_diff")));
}

START_TEST(ok_share)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 512);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_int_eq(v.result, SHARE_OK);
	ck_hash(v.hash, vstr(f.v, "hash_le"));
	ck_assert_double_eq_tol(v.share_diff, 683.5109367312982,
	    683.5109367312982 * 1e-12);
	ck_assert(!v.block_candidate);
	ck_assert_uint_eq(v.en2_len, 8);
	ck_assert_int_eq(v.en2[0], 0x7b);
	ck_assert_int_eq(v.en2[1], 0x01);
	ck_assert_uint_eq(v.ntime, 0x647025b5u);
	ck_assert_uint_eq(v.nonce, 0x0a029ed1u);
	ck_assert_uint_eq(v.version, 0x20000004u);
	ck_assert_uint_eq(v.vbits, 0);
	ck_assert_int_eq(share_result_code(v.result), 0);
	fx_free(&f);
}
END_TEST

START_TEST(low_difficulty)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 1024);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	/* still hashed: the caller logs what the miner actually found */
	ck_hash(v.hash, vstr(f.v, "hash_le"));
	ck_assert_double_eq_tol(v.share_diff, 683.5109367312982,
	    683.5109367312982 * 1e-12);
	ck_assert(!v.block_candidate);
	ck_assert_int_eq(share_result_code(v.result), 23);
	ck_assert_str_eq(share_result_str(v.result), "Low difficulty share");
	fx_free(&f);
}
END_TEST

/* Either side of the share's own difficulty. */
START_TEST(boundary)
{
	struct fixture		 f;
	struct share_verdict	 v;
	double			 d;

	fx_load(&f, "block100000", 1);
	d = vdiff(f.v);
	f.ctx.difficulty = d * (1 - 1e-9);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	f.ctx.difficulty = d;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	f.ctx.difficulty = d * (1 + 1e-9);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	/* a difficulty that is no difficulty is never met */
	f.ctx.difficulty = 0;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	fx_free(&f);
}
END_TEST

START_TEST(block_candidate)
{
	struct fixture		 f;
	struct share_verdict	 v;

	/* block 100,000: share diff 17583 > network 14484 */
	fx_load(&f, "block100000", 1);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert(v.block_candidate);
	/* a block is a block even when it misses the share target */
	f.ctx.difficulty = 20000;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	ck_assert(v.block_candidate);
	fx_free(&f);

	fx_load(&f, "block170", 1);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert(v.block_candidate);
	ck_assert_uint_eq(v.en2_len, 3);
	fx_free(&f);
}
END_TEST

/* Block 881,423: job version 20000000, mask 1fffe000, the miner rolls
 * 0e596000 and finds the real block. */
START_TEST(rolled_block)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "block881423", 65536);
	ck_assert_ptr_nonnull(f.sub.vbits_hex);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.version, 0x2e596000u);
	ck_assert_uint_eq(v.vbits, 0x0e596000u);
	ck_hash(v.hash, vstr(f.v, "hash_le"));
	ck_assert(v.block_candidate);

	/* the same share without its version bits is worthless */
	f.sub.vbits_hex = NULL;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	ck_assert_uint_eq(v.version, 0x20000000u);
	ck_assert(!v.block_candidate);

	/* one rolled bit fewer */
	f.sub.vbits_hex = "0e594000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_LOW_DIFFICULTY);
	ck_assert_uint_eq(v.version, 0x2e594000u);
	fx_free(&f);
}
END_TEST

/* docs/PROTOCOL.md section 3: job 20000004, mask 1fffe000, vbits 00b4e000. */
START_TEST(version_arithmetic)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 1e-12);	/* saturated target */
	f.ctx.version_mask = 0x1fffe000;
	f.sub.vbits_hex = "00b4e000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.version, 0x20b4e004u);
	ck_assert_uint_eq(v.vbits, 0x00b4e000u);
	/* upper case is the same value */
	f.sub.vbits_hex = "00B4E000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.version, 0x20b4e004u);
	/* a job version with bits inside the mask: BIP 310 replaces them */
	f.job.version = 0x20002004;
	f.sub.vbits_hex = "00b4c000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.version, 0x20b4c004u);
	/* no vbits with a mask in force: job version, its masked bits up */
	f.sub.vbits_hex = NULL;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.version, 0x20002004u);
	ck_assert_uint_eq(v.vbits, 0x00002000u);
	fx_free(&f);
}
END_TEST

START_TEST(bad_version_bits)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 1);
	/* vbits with no rolling negotiated */
	f.ctx.version_mask = 0;
	f.sub.vbits_hex = "00000000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_BAD_VERSION_BITS);
	/* a bit outside the mask */
	f.ctx.version_mask = 0x1fffe000;
	f.sub.vbits_hex = "00b4e001";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_BAD_VERSION_BITS);
	f.sub.vbits_hex = "20000000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_BAD_VERSION_BITS);
	ck_assert_int_eq(share_result_code(v.result), 20);
	ck_assert_str_eq(share_result_str(v.result), "Invalid version bits");
	fx_free(&f);
}
END_TEST

START_TEST(bad_length)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 1);
	f.sub.en2_hex = "7b010000000000";		/* 7 bytes, want 8 */
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.en2_hex = "7b0100000000000000";	/* 9 bytes */
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.en2_hex = "7b01000000000000";
	f.sub.ntime_hex = "647025b";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.ntime_hex = "647025b5";
	f.sub.nonce_hex = "0a029ed100";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.nonce_hex = "";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.nonce_hex = "0a029ed1";
	f.ctx.version_mask = 0x1fffe000;
	f.sub.vbits_hex = "b4e000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	/* odd en2 text: a length problem, even with a bad character */
	f.sub.vbits_hex = NULL;
	f.sub.en2_hex = "7b0100000000000";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	f.sub.en2_hex = NULL;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_LENGTH);
	ck_assert_int_eq(share_result_code(v.result), 20);
	ck_assert_str_eq(share_result_str(v.result),
	    "Invalid extranonce2/ntime/nonce length");
	fx_free(&f);
}
END_TEST

START_TEST(bad_hex)
{
	struct fixture		 f;
	struct share_verdict	 v;

	fx_load(&f, "slush683", 1);
	f.sub.en2_hex = "7b0100000000000g";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_HEX);
	f.sub.en2_hex = "7b01000000000000";
	f.sub.ntime_hex = "6470 5b5";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_HEX);
	f.sub.ntime_hex = "647025b5";
	f.sub.nonce_hex = "0x029ed1";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_HEX);
	f.sub.nonce_hex = "0a029ed1";
	f.ctx.version_mask = 0x1fffe000;
	f.sub.vbits_hex = "00b4e00z";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_BAD_HEX);
	ck_assert_int_eq(share_result_code(v.result), 20);
	ck_assert_str_eq(share_result_str(v.result), "Invalid hex");
	fx_free(&f);
}
END_TEST

START_TEST(ntime_range)
{
	struct fixture		 f;
	struct share_verdict	 v;
	char			 t[9];

	fx_load(&f, "slush683", 1e-12);
	hex_from_u32(f.job.ntime - 1, t);
	f.sub.ntime_hex = t;
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_NTIME_OUT_OF_RANGE);
	ck_assert_int_eq(share_result_code(v.result), 20);
	ck_assert_str_eq(share_result_str(v.result), "Ntime out of range");
	hex_from_u32(f.job.ntime + SHARE_NTIME_MAX_AHEAD + 1, t);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_NTIME_OUT_OF_RANGE);
	hex_from_u32(f.job.ntime + SHARE_NTIME_MAX_AHEAD, t);
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	ck_assert_uint_eq(v.ntime, f.job.ntime + SHARE_NTIME_MAX_AHEAD);
	/* near the top of uint32: the window must not wrap to accept 0 */
	f.job.ntime = 0xffffff00u;
	f.sub.ntime_hex = "00000001";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v),
	    SHARE_NTIME_OUT_OF_RANGE);
	f.sub.ntime_hex = "ffffffff";
	ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
	fx_free(&f);
}
END_TEST

/* One bit flipped in any input turns the real 683-difficulty share into
 * a low-difficulty one at difficulty 1. */
START_TEST(flipped_fields)
{
	struct fixture		 f;
	struct share_verdict	 v;
	char			 en2[17], ntime[9], nonce[9];
	int			 field;

	for (field = 0; field < 10; field++) {
		fx_load(&f, "slush683", 1);
		ck_assert_int_eq(share_check(&f.ctx, &f.sub, &v), SHARE_OK);
		snprintf(en2, sizeof(en2), "%s", f.sub.en2_hex);
		snprintf(ntime, sizeof(ntime), "%s", f.sub.ntime_hex);
		snprintf(nonce, sizeof(nonce), "%s", f.sub.nonce_hex);
		switch (field) {
		case 0: f.job.coinb1[10] ^= 0x04; break;
		case 1: f.en1[6] ^= 0x01; break;
		case 2: en2[15] = '1'; f.sub.en2_hex = en2; break;
		case 3: f.job.coinb2[f.job.coinb2_len - 1] ^= 0x01; break;
		case 4: f.job.branches[6][0] ^= 0x01; break;
		case 5: f.job.prevhash[0] ^= 0x01; break;
		case 6: f.job.version ^= 0x00000001; break;
		case 7: ntime[7] = '6'; f.sub.ntime_hex = ntime; break;
		case 8: f.job.nbits ^= 0x00000001; break;
		case 9: nonce[7] = '0'; f.sub.nonce_hex = nonce; break;
		}
		ck_assert_msg(share_check(&f.ctx, &f.sub, &v) ==
		    SHARE_LOW_DIFFICULTY, "field %d accepted", field);
		ck_assert(v.share_diff < 1);
		fx_free(&f);
	}
}
END_TEST

START_TEST(result_texts)
{
	ck_assert_int_eq(share_result_code(SHARE_OK), 0);
	ck_assert_int_eq(share_result_code(SHARE_LOW_DIFFICULTY), 23);
	ck_assert_int_eq(share_result_code(SHARE_BAD_VERSION_BITS), 20);
	ck_assert_int_eq(share_result_code(SHARE_BAD_LENGTH), 20);
	ck_assert_int_eq(share_result_code(SHARE_BAD_HEX), 20);
	ck_assert_int_eq(share_result_code(SHARE_NTIME_OUT_OF_RANGE), 20);
	ck_assert_ptr_nonnull(share_result_str(SHARE_OK));
	ck_assert_ptr_nonnull(share_result_str((enum share_result)99));
}
END_TEST

static Suite *
share_suite(void)
{
	Suite	*s = suite_create("share");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, ok_share);
	tcase_add_test(tc, low_difficulty);
	tcase_add_test(tc, boundary);
	tcase_add_test(tc, block_candidate);
	tcase_add_test(tc, rolled_block);
	tcase_add_test(tc, version_arithmetic);
	tcase_add_test(tc, bad_version_bits);
	tcase_add_test(tc, bad_length);
	tcase_add_test(tc, bad_hex);
	tcase_add_test(tc, ntime_range);
	tcase_add_test(tc, flipped_fields);
	tcase_add_test(tc, result_texts);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner		*sr;
	int		 failed;

	if ((vectors = testdata_load("blocks.json")) == NULL)
		return (EXIT_FAILURE);
	sr = srunner_create(share_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	json_decref(vectors);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
