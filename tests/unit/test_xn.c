/*
 * Unit tests of the extranonce layout (dataplane/xn.c): for every layout
 * the coinbase the miner hashes is byte for byte the coinbase the pool
 * rebuilds from what is submitted, and every work number of a job is
 * different work for the miner (different coinbase or ntime).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xn.h"

static const uint8_t coinb1[] = { 0x01, 0x00, 0x00, 0x00, 0xaa };
static const uint8_t coinb2[] = { 0xbb, 0xcc, 0xff, 0xff, 0xff, 0xff };

/* coinb1' || view en1 || en2_m || coinb2: what the miner hashes. */
static size_t
miner_coinbase(const struct xn_prefix *p, const struct xn_view *v,
    const uint8_t *en2, uint8_t *out)
{
	size_t n = 0;

	memcpy(out + n, coinb1, sizeof(coinb1));
	n += sizeof(coinb1);
	memcpy(out + n, p->bytes, p->plen);	/* sent inside coinb1 */
	n += p->plen;
	memcpy(out + n, v->en1, v->en1_len);	/* told at subscribe */
	n += v->en1_len;
	memcpy(out + n, en2, v->en2_size);
	n += v->en2_size;
	memcpy(out + n, coinb2, sizeof(coinb2));
	return n + sizeof(coinb2);
}

/* coinb1 || en1_p || en2_up || coinb2: what the pool rebuilds. */
static size_t
pool_coinbase(const struct xn_pool *xp, const uint8_t *en2up, size_t len,
    uint8_t *out)
{
	size_t n = 0;

	memcpy(out + n, coinb1, sizeof(coinb1));
	n += sizeof(coinb1);
	memcpy(out + n, xp->en1, xp->en1_len);
	n += xp->en1_len;
	memcpy(out + n, en2up, len);
	n += len;
	memcpy(out + n, coinb2, sizeof(coinb2));
	return n + sizeof(coinb2);
}

static void
fill(uint8_t *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* One layout: pool (en1 size, en2 size), miner (en1 size, n).  Checks
 * the coinbase identity for a spread of work numbers and returns how
 * many work numbers the job has. */
static uint64_t
check_layout(size_t pen1, size_t pen2, size_t men1, size_t n)
{
	uint8_t pe1[EXTRANONCE_MAX], me1[EXTRANONCE_MAX], en2[EXTRANONCE_MAX];
	uint8_t up[3 * EXTRANONCE_MAX], a[256], b[256];
	uint64_t works[] = { 0, 1, 2, 255, 256, 257, 65535, 65536 };
	struct xn_pool xp = { pe1, pen1, pen2 };
	struct xn_view v;
	struct xn_prefix p;
	uint64_t count;
	size_t i, ulen, la, lb;

	fill(pe1, pen1, 1);
	fill(me1, men1, 2);
	fill(en2, sizeof(en2), 3);
	if (xn_desired_view(me1, men1, n, &xp, &v) == -1)
		return 0;
	count = xn_work_count(&xp, &v);
	ck_assert_uint_gt(count, 0);
	for (i = 0; i < sizeof(works) / sizeof(works[0]); i++) {
		if (works[i] >= count) {
			ck_assert_int_eq(xn_prefix(&xp, &v, works[i], &p), -1);
			continue;
		}
		ck_assert_int_eq(xn_prefix(&xp, &v, works[i], &p), 0);
		/* the pool's en1 comes out unchanged at the front */
		ck_assert_mem_eq(p.bytes, pe1, pen1 < p.plen ? pen1 : p.plen);
		ulen = xn_upstream_en2(&xp, &p, en2, v.en2_size, up,
		    sizeof(up));
		/* exactly the pool's extranonce2 size goes upstream */
		ck_assert_uint_eq(ulen, pen2);
		la = miner_coinbase(&p, &v, en2, a);
		lb = pool_coinbase(&xp, up, ulen, b);
		ck_assert_uint_eq(la, lb);
		ck_assert_mem_eq(a, b, la);
		ck_assert_uint_le(p.ntime_off, XN_NTIME_ROLL_MAX);
	}
	return count;
}

START_TEST(coinbase_identity_every_layout)
{
	size_t pen1, pen2, men1, n, fits = 0;

	/* per_miner (|E_m| = 1) and aggregate (2), pools with en1 4..8 and
	 * en2 2..8, the miner's n as dp_size_extranonce picks it (2..4)
	 * and also too big, which takes the set_extranonce view */
	for (pen1 = 4; pen1 <= 8; pen1++)
		for (pen2 = 2; pen2 <= 8; pen2++)
			for (men1 = 1; men1 <= 2; men1++)
				for (n = 2; n <= 6; n++)
					if (check_layout(pen1, pen2, men1, n))
						fits++;
	ck_assert_uint_gt(fits, 100);
}
END_TEST

/* The (coinbase, ntime) a miner searches for one work number. */
struct work_key {
	uint8_t		 cb1[2 * EXTRANONCE_MAX];
	size_t		 len;
	uint32_t	 ntime_off;
};

static int
key_cmp(const void *x, const void *y)
{
	const struct work_key *a = x, *b = y;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->ntime_off != b->ntime_off)
		return a->ntime_off < b->ntime_off ? -1 : 1;
	return memcmp(a->cb1, b->cb1, a->len);
}

static void
check_unique(size_t pen1, size_t pen2, size_t men1, size_t n, uint64_t want)
{
	uint8_t pe1[EXTRANONCE_MAX] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	uint8_t me1[EXTRANONCE_MAX] = { 0x42, 0x43 };
	struct xn_pool xp = { pe1, pen1, pen2 };
	struct xn_view v;
	struct xn_prefix p;
	struct work_key *keys;
	uint64_t count, w, total;
	size_t i;

	ck_assert_int_eq(xn_desired_view(me1, men1, n, &xp, &v), 0);
	count = xn_work_count(&xp, &v);
	ck_assert_uint_eq(count, want);
	total = count < 200000 ? count : 200000;
	keys = calloc(total, sizeof(*keys));
	ck_assert_ptr_nonnull(keys);
	for (w = 0; w < total; w++) {
		ck_assert_int_eq(xn_prefix(&xp, &v, w, &p), 0);
		memcpy(keys[w].cb1, p.bytes, p.len);
		keys[w].len = p.len;
		keys[w].ntime_off = p.ntime_off;
	}
	/* work 0 is the job as the pool sent it: no filler, no ntime */
	ck_assert_int_eq(xn_prefix(&xp, &v, 0, &p), 0);
	ck_assert_uint_eq(p.ntime_off, 0);
	for (i = pen1; i < p.plen; i++)
		ck_assert_uint_eq(p.bytes[i], 0);
	qsort(keys, total, sizeof(*keys), key_cmp);
	for (i = 1; i < total; i++)
		ck_assert_int_ne(key_cmp(&keys[i - 1], &keys[i]), 0);
	free(keys);
}

START_TEST(every_work_number_is_new_work)
{
	/* ckpool-like en2 8, per_miner n 4: 3 filler bytes carry it */
	check_unique(4, 8, 1, 4, ((uint64_t)1 << 24) * (XN_NTIME_ROLL_MAX + 1));
	/* aggregate on en2 8: 2 filler bytes */
	check_unique(4, 8, 2, 4, 65536 * (XN_NTIME_ROLL_MAX + 1));
	/* en2 4, per_miner n 3: no filler, ntime alone */
	check_unique(4, 4, 1, 3, XN_NTIME_ROLL_MAX + 1);
	/* en2 5: one filler byte, then ntime */
	check_unique(8, 5, 1, 3, 256 * (XN_NTIME_ROLL_MAX + 1));
	/* set_extranonce view (pool en2 too small for n): ntime alone */
	check_unique(4, 4, 2, 4, XN_NTIME_ROLL_MAX + 1);
}
END_TEST

START_TEST(filler_low_then_ntime)
{
	uint8_t pe1[4] = { 1, 2, 3, 4 }, me1[1] = { 7 };
	struct xn_pool xp = { pe1, 4, 5 };	/* one filler byte */
	struct xn_view v;
	struct xn_prefix p;

	ck_assert_int_eq(xn_desired_view(me1, 1, 3, &xp, &v), 0);
	ck_assert_int_eq(xn_prefix(&xp, &v, 255, &p), 0);
	ck_assert_uint_eq(p.plen, 5);
	ck_assert_uint_eq(p.bytes[4], 255);
	ck_assert_uint_eq(p.ntime_off, 0);
	ck_assert_int_eq(xn_prefix(&xp, &v, 256 + 3, &p), 0);
	ck_assert_uint_eq(p.bytes[4], 3);
	ck_assert_uint_eq(p.ntime_off, 1);
	ck_assert_uint_eq(p.bytes[5], 7);
	ck_assert_uint_eq(p.len, 6);
}
END_TEST

START_TEST(nothing_fits)
{
	uint8_t pe1[4] = { 0 }, me1[2] = { 0 };
	struct xn_pool xp = { pe1, 4, 3 };
	struct xn_view v, big;
	struct xn_prefix p;

	/* en2 3 cannot hold a 2-byte en1 plus 2 bytes for the miner */
	ck_assert_int_eq(xn_desired_view(me1, 2, 2, &xp, &v), -1);
	/* a view from another pool that does not fit this one */
	memset(&big, 0, sizeof(big));
	big.en1_len = 2;
	big.en2_size = 4;
	ck_assert_uint_eq(xn_work_count(&xp, &big), 0);
	ck_assert_int_eq(xn_prefix(&xp, &big, 0, &p), -1);
}
END_TEST

static Suite *
xn_suite(void)
{
	Suite *s = suite_create("xn");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, coinbase_identity_every_layout);
	tcase_add_test(tc, every_work_number_is_new_work);
	tcase_add_test(tc, filler_low_then_ntime);
	tcase_add_test(tc, nothing_fits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(xn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
