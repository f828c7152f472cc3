/*
 * Unit tests of the dataplane job table (dataplane/jobs.c): proxy ids are
 * never reused, every id of a retired job disappears, and the duplicate
 * set remembers what it saw and stays bounded.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "log.h"

static struct dp dp;
static struct upstream up;

static void
setup(void)
{
	memset(&dp, 0, sizeof(dp));
	memset(&up, 0, sizeof(up));
	jobs_init(&dp);
	up.dp = &dp;
	up.difficulty = 0.5;
	up.mask = 0x1fffe000;
	up.en1[0] = 0xab;
	up.en1[1] = 0xcd;
	up.en1_len = 2;
	up.en2_size = 8;
	log_set_level(LOG_LEVEL_ERROR);
}

static void
teardown(void)
{
	jobs_free_all(&dp);
}

static struct ujob *
make_job(const char *id)
{
	struct job j;
	struct ujob *uj;

	memset(&j, 0, sizeof(j));
	snprintf(j.id, sizeof(j.id), "%s", id);
	j.coinb1 = malloc(4);
	j.coinb1_len = 4;
	j.coinb2 = malloc(4);
	j.coinb2_len = 4;
	uj = ujob_new(&up, &j);
	ck_assert_ptr_nonnull(uj);
	/* the coinbase buffers now belong to the ujob */
	ck_assert_ptr_null(j.coinb1);
	return uj;
}

START_TEST(snapshot_of_session)
{
	struct ujob *uj = make_job("1");

	/* what was in force when the job arrived travels with it */
	ck_assert(uj->difficulty == 0.5);
	ck_assert_uint_eq(uj->mask, 0x1fffe000);
	ck_assert_uint_eq(uj->en1_len, 2);
	ck_assert_uint_eq(uj->en1[1], 0xcd);
	ck_assert_uint_eq(uj->en2_size, 8);
	up.difficulty = 4;
	ck_assert(uj->difficulty == 0.5);
	ujob_unref(&dp, uj);
}
END_TEST

START_TEST(work_numbers_travel_with_ids)
{
	struct ujob *a = make_job("1"), *b = make_job("2");
	uint64_t w = 99;
	uint64_t i0 = jobs_issue(&dp, a, 0), i7 = jobs_issue(&dp, a, 7);

	/* every job gets its own serial, never reused */
	ck_assert_uint_ne(a->serial, b->serial);
	ck_assert_uint_ne(a->serial, 0);
	/* an id names a job and which work of it the miner was given */
	ck_assert_ptr_eq(jobs_find(&dp, i7, &w), a);
	ck_assert_uint_eq(w, 7);
	ck_assert_ptr_eq(jobs_find(&dp, i0, &w), a);
	ck_assert_uint_eq(w, 0);
	ujob_unref(&dp, a);
	ujob_unref(&dp, b);
}
END_TEST

START_TEST(ids_unique_and_found)
{
	struct ujob *a = make_job("1"), *b = make_job("1");
	uint64_t ia = jobs_issue(&dp, a, 0), ib = jobs_issue(&dp, b, 0);
	uint64_t ia2 = jobs_issue(&dp, a, 0);

	/* same upstream id "1" from two pools: different proxy ids */
	ck_assert_uint_ne(ia, ib);
	ck_assert_uint_ne(ia, ia2);
	ck_assert_uint_gt(ia2, ib);
	ck_assert_ptr_eq(jobs_find(&dp, ia, NULL), a);
	ck_assert_ptr_eq(jobs_find(&dp, ia2, NULL), a);
	ck_assert_ptr_eq(jobs_find(&dp, ib, NULL), b);
	ck_assert_ptr_null(jobs_find(&dp, ia2 + 100, NULL));
	ujob_unref(&dp, a);
	/* every id of the retired job is gone, the other job's stays */
	ck_assert_ptr_null(jobs_find(&dp, ia, NULL));
	ck_assert_ptr_null(jobs_find(&dp, ia2, NULL));
	ck_assert_ptr_eq(jobs_find(&dp, ib, NULL), b);
	ujob_unref(&dp, b);
	ck_assert_uint_eq(dp.n_jrefs, 0);
}
END_TEST

START_TEST(table_grows)
{
	enum { N = 5000 };
	struct ujob *uj[N];
	uint64_t id[N];
	int i;

	for (i = 0; i < N; i++) {
		uj[i] = make_job("x");
		id[i] = jobs_issue(&dp, uj[i], 0);
	}
	ck_assert_uint_eq(dp.n_jrefs, N);
	ck_assert_uint_ge(dp.jhash_size, N);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(jobs_find(&dp, id[i], NULL), uj[i]);
	for (i = 0; i < N; i++)
		ujob_unref(&dp, uj[i]);
	ck_assert_uint_eq(dp.n_jrefs, 0);
}
END_TEST

START_TEST(duplicates_remembered)
{
	struct ujob *uj = make_job("1");
	uint8_t h[32];
	int i;

	/* keys 2..; 0 and 1 share a slot by design (0 marks empty) */
	for (i = 2; i < 1002; i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		h[31] = 0xff;
		ck_assert_int_eq(ujob_seen(&dp, uj, h), 0);
	}
	for (i = 2; i < 1002; i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		h[31] = 0xff;
		ck_assert_int_eq(ujob_seen(&dp, uj, h), 1);
	}
	ujob_unref(&dp, uj);
	/* an all-zero key is a valid hash too (0 marks empty slots) */
	uj = make_job("2");
	memset(h, 0, sizeof(h));
	ck_assert_int_eq(ujob_seen(&dp, uj, h), 0);
	ck_assert_int_eq(ujob_seen(&dp, uj, h), 1);
	ujob_unref(&dp, uj);
}
END_TEST

START_TEST(duplicate_set_bounded)
{
	struct ujob *uj = make_job("1");
	uint8_t h[32];
	uint64_t k;
	int full = 0;

	memset(h, 0, sizeof(h));
	for (k = 1; k <= DP_DEDUPE_MAX + 10; k++) {
		memcpy(h, &k, sizeof(k));
		if (ujob_seen(&dp, uj, h) == -1)
			full++;
	}
	/* it stops remembering instead of growing, and counts the hit */
	ck_assert_int_gt(full, 0);
	ck_assert_uint_le(uj->seen_cap, DP_DEDUPE_MAX * 2);
	ck_assert_uint_gt(dp.c.limit_hits[LIM_DEDUPE], 0);
	/* what it did remember is still caught */
	k = 1;
	memcpy(h, &k, sizeof(k));
	ck_assert_int_eq(ujob_seen(&dp, uj, h), 1);
	ujob_unref(&dp, uj);
}
END_TEST

START_TEST(refcount_keeps_job)
{
	struct ujob *uj = make_job("1");
	uint64_t id = jobs_issue(&dp, uj, 0);

	uj->refs++;		/* a second holder */
	ujob_unref(&dp, uj);
	ck_assert_ptr_eq(jobs_find(&dp, id, NULL), uj);
	ujob_unref(&dp, uj);
	ck_assert_ptr_null(jobs_find(&dp, id, NULL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dp_jobs");
	TCase *tc = tcase_create("jobs");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, snapshot_of_session);
	tcase_add_test(tc, ids_unique_and_found);
	tcase_add_test(tc, work_numbers_travel_with_ids);
	tcase_add_test(tc, table_grows);
	tcase_add_test(tc, duplicates_remembered);
	tcase_add_test(tc, duplicate_set_bounded);
	tcase_add_test(tc, refcount_keeps_job);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
