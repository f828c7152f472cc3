/*
 * Unit tests of the dataplane's connection budget (dataplane/dp.c): the
 * per-address cap counts and forgets connections exactly, and the
 * descriptor check keeps DP_FD_RESERVE free for IPC and DNS.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "log.h"

static struct dp dp;

static void
setup(void)
{
	memset(&dp, 0, sizeof(dp));
	dp.cfg.max_per_address = 3;
	dp.cfg.upstream_mode = UPSTREAM_PER_MINER;
	log_set_level(LOG_LEVEL_ERROR);
}

static void
teardown(void)
{
	size_t i;

	/* release whatever a test left counted */
	for (i = 0; i < DP_ADDR_BUCKETS; i++)
		ck_assert_ptr_null(dp.ahash[i]);
}

START_TEST(per_address_cap)
{
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.1"), 0);
	/* the fourth from the same address is refused, others are not */
	ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.1"), -1);
	ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.2"), 0);
	ck_assert_int_eq(dp_addr_acquire(&dp, "::1"), 0);
	/* one leaves: one place again */
	dp_addr_release(&dp, "10.0.0.1");
	ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.1"), 0);
	ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.1"), -1);
	for (i = 0; i < 3; i++)
		dp_addr_release(&dp, "10.0.0.1");
	dp_addr_release(&dp, "10.0.0.2");
	dp_addr_release(&dp, "::1");
	/* releasing an address never counted is harmless */
	dp_addr_release(&dp, "10.9.9.9");
}
END_TEST

START_TEST(per_address_off)
{
	int i;

	dp.cfg.max_per_address = 0;
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(dp_addr_acquire(&dp, "10.0.0.1"), 0);
	for (i = 0; i < 100; i++)
		dp_addr_release(&dp, "10.0.0.1");
}
END_TEST

START_TEST(fd_reserve)
{
	dp.n_pools = 2;
	/* unknown limit: no opinion */
	ck_assert(dp_fd_room(&dp, 100000));
	dp.nofile = 1000;
	/* a miner costs 1 + 2 pools; DP_FD_RESERVE stays free */
	ck_assert(dp_fd_room(&dp, 1000 - DP_FD_RESERVE - 4));
	ck_assert(!dp_fd_room(&dp, 1000 - DP_FD_RESERVE - 3));
	/* aggregate: the miner's own socket only */
	dp.cfg.upstream_mode = UPSTREAM_AGGREGATE;
	ck_assert(dp_fd_room(&dp, 1000 - DP_FD_RESERVE - 2));
	ck_assert(!dp_fd_room(&dp, 1000 - DP_FD_RESERVE - 1));
	/* a low descriptor number does not hide sockets we hold */
	dp.n_miners = 1000;
	ck_assert(!dp_fd_room(&dp, 10));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dp_limits");
	TCase *tc = tcase_create("limits");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, per_address_cap);
	tcase_add_test(tc, per_address_off);
	tcase_add_test(tc, fd_reserve);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
