/*
 * Check suite: common/job.c.  Known answers are real Bitcoin data
 * (tests/unit/data/blocks.json): examples A and B of docs/PROTOCOL.md
 * section 3, block 170 and block 881,423 (a version-rolled header), each
 * reproducing the real block hash from notify params plus a share.
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
#include "sha256d.h"
#include "testdata.h"

static json_t	*vectors;

static void
load_vectors(void)
{
	if ((vectors = testdata_load("blocks.json")) == NULL)
		abort();
}

static void
free_vectors(void)
{
	json_decref(vectors);
	vectors = NULL;
}

static json_t *
share_vec(int i)
{
	return (json_array_get(json_object_get(vectors, "shares"), (size_t)i));
}

static const char *
vstr(const json_t *v, const char *key)
{
	const char	*s = json_string_value(json_object_get(v, key));

	ck_assert_msg(s != NULL, "vector lacks %s", key);
	return (s);
}

static size_t
vhex(const json_t *v, const char *key, uint8_t *out, size_t cap)
{
	const char	*s = vstr(v, key);
	size_t		 n;

	ck_assert_int_eq(hex_decode_var(s, strlen(s), out, cap, &n), 0);
	return (n);
}

static uint32_t
vu32(const json_t *v, const char *key)
{
	uint32_t	 x;

	ck_assert_int_eq(hex_u32(vstr(v, key), 8, &x), 0);
	return (x);
}

static void
ck_hex_eq(const uint8_t *b, size_t len, const char *want)
{
	char	*got = malloc(2 * len + 1);

	ck_assert_ptr_nonnull(got);
	hex_encode(b, len, got);
	ck_assert_str_eq(got, want);
	free(got);
}

struct share_in {
	uint8_t		 en1[EXTRANONCE_MAX], en2[EXTRANONCE_MAX];
	size_t		 en1_len, en2_len;
	uint32_t	 version, ntime, nonce;
};

static void
load_share(const json_t *v, struct job *job, struct share_in *in)
{
	char	 err[128];

	ck_assert_msg(job_from_notify(json_object_get(v, "notify"), job, err,
	    sizeof(err)) == 0, "%s: %s", vstr(v, "name"), err);
	in->en1_len = vhex(v, "en1", in->en1, sizeof(in->en1));
	in->en2_len = vhex(v, "en2", in->en2, sizeof(in->en2));
	in->version = vu32(v, "version");
	in->ntime = vu32(v, "ntime");
	in->nonce = vu32(v, "nonce");
}

static void
share_hash(const struct job *job, const struct share_in *in, uint8_t h[32])
{
	job_share_hash(job, in->en1, in->en1_len, in->en2, in->en2_len,
	    in->version, in->ntime, in->nonce, h);
}

/* One loop iteration per vector in blocks.json. */
START_TEST(known_answer)
{
	const json_t	*v = share_vec(_i);
	struct job	 job, bare;
	struct share_in	 in;
	uint8_t		 root[32], hdr[80], h[32], rev[32];
	double		 want;
	int		 i;

	ck_assert_ptr_nonnull(v);
	load_share(v, &job, &in);

	/* with no branches the root is the coinbase txid */
	ck_assert_int_eq(job_copy(&bare, &job), 0);
	bare.n_branches = 0;
	job_merkle_root(&bare, in.en1, in.en1_len, in.en2, in.en2_len, root);
	ck_hex_eq(root, 32, vstr(v, "coinbase_hash"));
	job_clear(&bare);

	job_merkle_root(&job, in.en1, in.en1_len, in.en2, in.en2_len, root);
	ck_hex_eq(root, 32, vstr(v, "merkle_root"));
	job_header(&job, root, in.version, in.ntime, in.nonce, hdr);
	ck_hex_eq(hdr, 80, vstr(v, "header"));
	share_hash(&job, &in, h);
	ck_hex_eq(h, 32, vstr(v, "hash_le"));
	for (i = 0; i < 32; i++)
		rev[i] = h[31 - i];
	ck_hex_eq(rev, 32, vstr(v, "block_hash"));

	want = json_real_value(json_object_get(v, "share_diff"));
	ck_assert_double_eq_tol(diff_from_hash(h), want, want * 1e-12);
	want = json_number_value(json_object_get(v, "network_diff"));
	ck_assert_double_eq_tol(diff_nbits_difficulty(job.nbits), want,
	    want * 1e-12);
	job_clear(&job);
}
END_TEST

/* Block 794,143: only the 80-byte header is known, version 0x20800000.
 * Rebuild it from a job (version 20000000) and rolled bits 00800000 under
 * mask 1fffe000. */
START_TEST(header_only_rolled)
{
	const json_t	*v = json_array_get(json_object_get(vectors, "headers"),
	    0);
	struct job	 job;
	uint8_t		 raw[80], hdr[80], h[32], rev[32];
	uint32_t	 jv, mask, vbits, V;
	int		 i;

	ck_assert_ptr_nonnull(v);
	vhex(v, "header", raw, sizeof(raw));
	jv = vu32(v, "job_version");
	mask = vu32(v, "mask");
	vbits = vu32(v, "vbits");

	memset(&job, 0, sizeof(job));
	memcpy(job.prevhash, raw + 4, 32);
	job.nbits = (uint32_t)raw[72] | (uint32_t)raw[73] << 8 |
	    (uint32_t)raw[74] << 16 | (uint32_t)raw[75] << 24;
	V = (jv & ~mask) | (vbits & mask);
	ck_assert_uint_eq(V, 0x20800000u);
	job_header(&job, raw + 36, V,
	    (uint32_t)raw[68] | (uint32_t)raw[69] << 8 |
	    (uint32_t)raw[70] << 16 | (uint32_t)raw[71] << 24,
	    (uint32_t)raw[76] | (uint32_t)raw[77] << 8 |
	    (uint32_t)raw[78] << 16 | (uint32_t)raw[79] << 24, hdr);
	ck_assert_mem_eq(hdr, raw, 80);
	sha256d(hdr, sizeof(hdr), h);
	for (i = 0; i < 32; i++)
		rev[i] = h[31 - i];
	ck_hex_eq(rev, 32, vstr(v, "block_hash"));
	/* without the rolled bits it is not the block */
	job_header(&job, raw + 36, jv, 0, 0, hdr);
	memcpy(hdr + 68, raw + 68, 12);
	sha256d(hdr, sizeof(hdr), h);
	ck_assert(diff_from_hash(h) < 1.0);
}
END_TEST

/* docs/PROTOCOL.md section 3: the proxy re-split.  coinb1' = coinb1 || en1 ||
 * 7b01, en1' = 0000, en2' = 00000000 gives the same coinbase, so the
 * same hash as example B. */
START_TEST(proxy_resplit)
{
	const json_t	*v = share_vec(1);
	struct job	 job, split;
	struct share_in	 in;
	uint8_t		 h[32], h2[32], *c1;
	const uint8_t	 en1m[2] = { 0, 0 }, en2m[4] = { 0, 0, 0, 0 };

	ck_assert_str_eq(vstr(v, "name"), "slush683");
	load_share(v, &job, &in);
	share_hash(&job, &in, h);

	ck_assert_int_eq(job_copy(&split, &job), 0);
	c1 = malloc(job.coinb1_len + in.en1_len + 2);
	ck_assert_ptr_nonnull(c1);
	memcpy(c1, job.coinb1, job.coinb1_len);
	memcpy(c1 + job.coinb1_len, in.en1, in.en1_len);
	c1[job.coinb1_len + in.en1_len] = 0x7b;
	c1[job.coinb1_len + in.en1_len + 1] = 0x01;
	free(split.coinb1);
	split.coinb1 = c1;
	split.coinb1_len = job.coinb1_len + in.en1_len + 2;

	job_share_hash(&split, en1m, 2, en2m, 4, in.version, in.ntime,
	    in.nonce, h2);
	ck_assert_mem_eq(h, h2, 32);
	ck_hex_eq(h2, 32, vstr(v, "hash_le"));
	/* and a different miner en2 is a different share */
	job_share_hash(&split, en1m, 2, (const uint8_t *)"\0\0\0\1", 4,
	    in.version, in.ntime, in.nonce, h2);
	ck_assert_mem_ne(h, h2, 32);
	job_clear(&split);
	job_clear(&job);
}
END_TEST

/* Version-rolling arithmetic of docs/PROTOCOL.md section 3. */
START_TEST(version_rolling_bytes)
{
	struct job	 job;
	uint8_t		 root[32] = { 0 }, hdr[80];
	uint32_t	 V;

	memset(&job, 0, sizeof(job));
	V = (0x20000004u & ~0x1fffe000u) | (0x00b4e000u & 0x1fffe000u);
	ck_assert_uint_eq(V, 0x20b4e004u);
	job_header(&job, root, V, 0, 0, hdr);
	ck_hex_eq(hdr, 4, "04e0b420");
}
END_TEST

/* Flip one bit in each input of the share: every one changes the hash,
 * and the share falls far below its real difficulty. */
START_TEST(bit_flips)
{
	const json_t	*v = share_vec(_i);
	struct job	 job, mod;
	struct share_in	 in, m;
	uint8_t		 h[32], h2[32];
	int		 field;

	load_share(v, &job, &in);
	share_hash(&job, &in, h);
	for (field = 0; field < 10; field++) {
		ck_assert_int_eq(job_copy(&mod, &job), 0);
		m = in;
		switch (field) {
		case 0: mod.coinb1[mod.coinb1_len / 2] ^= 0x01; break;
		case 1: m.en1[0] ^= 0x80; break;
		case 2: m.en2[m.en2_len - 1] ^= 0x01; break;
		case 3: mod.coinb2[0] ^= 0x10; break;
		case 4: mod.branches[mod.n_branches - 1][7] ^= 0x02; break;
		case 5: mod.prevhash[31] ^= 0x01; break;
		case 6: m.version ^= 0x00002000; break;
		case 7: m.ntime ^= 1; break;
		case 8: mod.nbits ^= 1; break;
		case 9: m.nonce ^= 0x80000000; break;
		}
		share_hash(&mod, &m, h2);
		ck_assert_msg(memcmp(h, h2, 32) != 0, "field %d", field);
		ck_assert_msg(diff_from_hash(h2) < 1.0,
		    "field %d: flipped share still at difficulty %g", field,
		    diff_from_hash(h2));
		job_clear(&mod);
	}
	job_clear(&job);
}
END_TEST

static json_t *
good_params(void)
{
	return (json_deep_copy(json_object_get(share_vec(0), "notify")));
}

static void
expect_reject(json_t *params, const char *field)
{
	struct job	 job;
	char		 err[160] = "";

	memset(&job, 0x5a, sizeof(job));
	ck_assert_int_eq(job_from_notify(params, &job, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, field) != NULL, "reason \"%s\" lacks %s",
	    err, field);
	/* nothing left allocated or half-filled */
	ck_assert_ptr_null(job.coinb1);
	ck_assert_ptr_null(job.coinb2);
	json_decref(params);
}

static void
reject_with(size_t idx, json_t *value, const char *field)
{
	json_t	*p = good_params();

	ck_assert_int_eq(json_array_set_new(p, idx, value), 0);
	expect_reject(p, field);
}

START_TEST(notify_rejects)
{
	json_t	*p, *br;
	char	 big[2 * JOB_MAX_COINBASE + 3];
	char	 id[JOB_ID_MAX + 2];
	int	 i;

	/* shape */
	expect_reject(json_object(), "params");
	p = good_params();
	json_array_remove(p, 8);
	expect_reject(p, "params");
	p = good_params();
	json_array_append_new(p, json_true());
	expect_reject(p, "params");

	/* job_id */
	reject_with(0, json_string(""), "job_id");
	reject_with(0, json_integer(5), "job_id");
	memset(id, 'j', JOB_ID_MAX + 1);
	id[JOB_ID_MAX + 1] = '\0';
	reject_with(0, json_string(id), "job_id");

	/* prevhash */
	reject_with(1, json_string("00"), "prevhash");
	reject_with(1, json_string("1901125004612a1701c3a621d930d31d36b607df1fccc"
	    "2160002d01c0000000"), "prevhash");
	reject_with(1, json_string("1901125004612a1701c3a621d930d31d36b607df1fccc"
	    "2160002d01c000000000"), "prevhash");
	reject_with(1, json_string("x901125004612a1701c3a621d930d31d36b607df1fccc"
	    "2160002d01c00000000"), "prevhash");
	reject_with(1, json_null(), "prevhash");

	/* coinb1 / coinb2 */
	reject_with(2, json_string("abc"), "coinb1");
	reject_with(2, json_string("zz"), "coinb1");
	reject_with(2, json_array(), "coinb1");
	memset(big, 'a', 2 * JOB_MAX_COINBASE + 2);
	big[2 * JOB_MAX_COINBASE + 2] = '\0';
	reject_with(2, json_string(big), "coinb1");
	reject_with(3, json_string(big), "coinb2");
	reject_with(3, json_string("0"), "coinb2");
	reject_with(3, json_false(), "coinb2");

	/* merkle_branch */
	reject_with(4, json_string("00"), "merkle_branch");
	br = json_array();
	for (i = 0; i < JOB_MAX_BRANCHES + 1; i++)
		json_array_append_new(br, json_string("c40297f730dd7b5a99567eb8d27"
		    "b78758f607507c52292d02d4031895b52f2ff"));
	reject_with(4, br, "merkle_branch");
	reject_with(4, json_pack("[s,s]", "c40297f730dd7b5a99567eb8d27b78758f6075"
	    "07c52292d02d4031895b52f2ff", "c40297f7"), "merkle_branch[1]");
	reject_with(4, json_pack("[i]", 1), "merkle_branch[0]");

	/* version, nbits, ntime */
	reject_with(5, json_string("0000001"), "version");
	reject_with(5, json_string("000000001"), "version");
	reject_with(5, json_integer(1), "version");
	reject_with(6, json_string("1b04864g"), "nbits");
	reject_with(6, json_string(""), "nbits");
	reject_with(7, json_string("4d1b223"), "ntime");
	reject_with(7, json_string("0x1b2237"), "ntime");

	/* clean_jobs */
	reject_with(8, json_integer(1), "clean_jobs");
	reject_with(8, json_string("true"), "clean_jobs");
	reject_with(8, json_null(), "clean_jobs");
}
END_TEST

START_TEST(notify_accepts)
{
	struct job	 job;
	json_t		*p, *br;
	char		 err[128], id[JOB_ID_MAX + 1];
	int		 i;

	/* maximum job id, maximum branches, empty coinb2, upper case hex */
	p = good_params();
	memset(id, 'j', JOB_ID_MAX);
	id[JOB_ID_MAX] = '\0';
	json_array_set_new(p, 0, json_string(id));
	br = json_array();
	for (i = 0; i < JOB_MAX_BRANCHES; i++)
		json_array_append_new(br, json_string("C40297F730DD7B5A99567EB8D27"
		    "B78758F607507C52292D02D4031895B52F2FF"));
	json_array_set_new(p, 4, br);
	json_array_set_new(p, 3, json_string(""));
	json_array_set_new(p, 8, json_false());
	ck_assert_int_eq(job_from_notify(p, &job, err, sizeof(err)), 0);
	ck_assert_str_eq(job.id, id);
	ck_assert_uint_eq(job.n_branches, JOB_MAX_BRANCHES);
	ck_assert_int_eq(job.branches[31][0], 0xc4);
	ck_assert_uint_eq(job.coinb2_len, 0);
	ck_assert(!job.clean);
	ck_assert_uint_eq(job.version, 1);
	ck_assert_uint_eq(job.nbits, 0x1b04864cu);
	ck_assert_uint_eq(job.ntime, 0x4d1b2237u);
	/* prevhash stored in header order (section 3 swap) */
	ck_hex_eq(job.prevhash, 32, "50120119172a610421a6c3011dd330d9"
	    "df07b63616c2cc1f1cd0020000000000");
	job_clear(&job);
	json_decref(p);
}
END_TEST

START_TEST(to_notify_roundtrip)
{
	struct job	 job;
	json_t		*p, *back;
	char		 err[128];
	int		 i;

	for (i = 0; i < (int)json_array_size(json_object_get(vectors,
	    "shares")); i++) {
		p = json_object_get(share_vec(i), "notify");
		ck_assert_int_eq(job_from_notify(p, &job, err, sizeof(err)), 0);
		back = job_to_notify(&job);
		ck_assert_ptr_nonnull(back);
		ck_assert_msg(json_equal(p, back), "vector %d", i);
		json_decref(back);
		job_clear(&job);
	}

	/* upper case in, lower case out */
	p = good_params();
	json_array_set_new(p, 5, json_string("2000000A"));
	json_array_set_new(p, 2, json_string("ABCDEF"));
	ck_assert_int_eq(job_from_notify(p, &job, err, sizeof(err)), 0);
	back = job_to_notify(&job);
	ck_assert_str_eq(json_string_value(json_array_get(back, 5)), "2000000a");
	ck_assert_str_eq(json_string_value(json_array_get(back, 2)), "abcdef");
	ck_assert_str_eq(json_string_value(json_array_get(back, 1)),
	    json_string_value(json_array_get(p, 1)));
	json_decref(back);
	json_decref(p);
	job_clear(&job);
}
END_TEST

START_TEST(copy_and_clear)
{
	struct job	 a, b;
	char		 err[128];

	ck_assert_int_eq(job_from_notify(json_object_get(share_vec(1),
	    "notify"), &a, err, sizeof(err)), 0);
	ck_assert_int_eq(job_copy(&b, &a), 0);
	ck_assert_ptr_ne(a.coinb1, b.coinb1);
	ck_assert_ptr_ne(a.coinb2, b.coinb2);
	ck_assert_mem_eq(a.coinb1, b.coinb1, a.coinb1_len);
	ck_assert_uint_eq(b.n_branches, 13);
	b.coinb1[0] ^= 1;		/* deep: a is untouched */
	ck_assert_int_eq(a.coinb1[0], 0x01);
	job_clear(&a);
	ck_assert_ptr_null(a.coinb1);
	ck_assert_uint_eq(a.n_branches, 0);
	ck_assert_str_eq(a.id, "");
	ck_assert_str_eq(b.id, "job-slush683");
	job_clear(&b);
	job_clear(NULL);
}
END_TEST

static Suite *
job_suite(void)
{
	Suite	*s = suite_create("job");
	TCase	*tc = tcase_create("core");
	int	 n;

	load_vectors();
	n = (int)json_array_size(json_object_get(vectors, "shares"));
	if (n < 4)
		abort();
	tcase_add_loop_test(tc, known_answer, 0, n);
	tcase_add_test(tc, header_only_rolled);
	tcase_add_test(tc, proxy_resplit);
	tcase_add_test(tc, version_rolling_bytes);
	tcase_add_loop_test(tc, bit_flips, 0, n);
	tcase_add_test(tc, notify_rejects);
	tcase_add_test(tc, notify_accepts);
	tcase_add_test(tc, to_notify_roundtrip);
	tcase_add_test(tc, copy_and_clear);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(job_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free_vectors();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
