/*
 * Unit tests of common/clock and of the dataplane deadlines that read it.
 * The clock source is swapped for a fake whose wall and monotonic clocks
 * move separately: a wall step of an hour either way must fire nothing
 * (pool silence, reconnect grace, stale jobs, submit deadlines), and the
 * monotonic clock passing each deadline must fire exactly that one.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "dataplane.h"
#include "log.h"

#define HOUR_MS		3600000LL

static struct timespec	 fake_wall, fake_mono;

static int
fake_source(clockid_t id, struct timespec *ts)
{
	*ts = id == CLOCK_MONOTONIC ? fake_mono : fake_wall;
	return 0;
}

static void
step(struct timespec *t, int64_t ms)
{
	int64_t ns = (int64_t)t->tv_sec * 1000000000 + t->tv_nsec +
	    ms * 1000000;

	t->tv_sec = (time_t)(ns / 1000000000);
	t->tv_nsec = (long)(ns % 1000000000);
}

static void
fake_setup(void)
{
	/* a wall clock in 2026 and a host up for a day */
	fake_wall.tv_sec = 1780000000;
	fake_wall.tv_nsec = 250000000;
	fake_mono.tv_sec = 86400;
	fake_mono.tv_nsec = 0;
	clock_set_source(fake_source);
	log_set_level(LOG_LEVEL_ERROR);
}

static void
fake_teardown(void)
{
	clock_set_source(NULL);
}

/* ---- the helper ----------------------------------------------------- */

START_TEST(reads_the_source)
{
	ck_assert_uint_eq(clock_wall_ms(), 1780000000250ULL);
	ck_assert_uint_eq(clock_mono_ms(), 86400000ULL);
	ck_assert_uint_eq(clock_mono_us(), 86400000000ULL);
	/* the clocks move apart: each reads only its own */
	step(&fake_wall, HOUR_MS);
	step(&fake_mono, 1500);
	ck_assert_uint_eq(clock_wall_ms(), 1780003600250ULL);
	ck_assert_uint_eq(clock_mono_ms(), 86401500ULL);
	ck_assert_uint_eq(clock_mono_us(), 86401500000ULL);
}
END_TEST

START_TEST(mono_stamp_published_as_wall)
{
	uint64_t stamp = clock_mono_ms();

	step(&fake_mono, 5000);
	step(&fake_wall, 5000);
	ck_assert_uint_eq(clock_mono_to_wall_ms(stamp),
	    clock_wall_ms() - 5000);
	/* after a step the stamp is re-read in the new wall time, so the
	 * age a client computes (now_ms - stamp) is still 5 s */
	step(&fake_wall, -HOUR_MS);
	ck_assert_uint_eq(clock_wall_ms() - clock_mono_to_wall_ms(stamp),
	    5000);
	step(&fake_wall, 2 * HOUR_MS);
	ck_assert_uint_eq(clock_wall_ms() - clock_mono_to_wall_ms(stamp),
	    5000);
	/* a deadline ahead, and "never" */
	ck_assert_uint_eq(clock_mono_to_wall_ms(clock_mono_ms() + 700),
	    clock_wall_ms() + 700);
	ck_assert_uint_eq(clock_mono_to_wall_ms(0), 0);
}
END_TEST

START_TEST(system_source_restored)
{
	uint64_t wall;

	clock_set_source(NULL);
	wall = clock_wall_ms();
	ck_assert(llabs((long long)(wall / 1000) - (long long)time(NULL)) <= 5);
	ck_assert_uint_ne(clock_mono_ms(), 86400000ULL);
}
END_TEST

/* ---- the dataplane's deadlines -------------------------------------- */

/*
 * Two pools up on probe sessions that got work "now", one miner working
 * on A, one ghost inside its reconnect grace, a retired job on A inside
 * its stale grace and a submit on A waiting for its answer.  Aggregate
 * mode, pools never dialled, miners without a socket: dp_tick() decides,
 * nothing goes on a wire.
 */
static struct event_base *base;
static struct dp	 dp;
static struct miner	*worker, *ghost;

static struct miner *
add_miner(const char *name, enum miner_state state)
{
	struct miner *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	m->dp = &dp;
	m->id = dp.next_miner_id++;
	m->pool = -1;
	m->state = state;
	snprintf(m->worker, sizeof(m->worker), "%s", name);
	m->connected_ms = m->last_send_ms = clock_mono_ms();
	TAILQ_INSERT_TAIL(&dp.miners, m, entry);
	return m;
}

static void
add_job(struct upstream *up, const char *id)
{
	struct job j;
	struct ujob *uj;

	memset(&j, 0, sizeof(j));
	snprintf(j.id, sizeof(j.id), "%s", id);
	uj = ujob_new(up, &j);
	ck_assert_ptr_nonnull(uj);
	TAILQ_INSERT_TAIL(&up->jobs, uj, entry);
	up->n_jobs++;
	up->newest = uj;
}

static void
dp_setup(void)
{
	struct config cfg;
	struct pending *pd;
	struct upstream *pr;
	size_t i;

	fake_setup();
	config_defaults(&cfg);
	cfg.upstream_mode = UPSTREAM_AGGREGATE;
	cfg.reconnect_grace_seconds = 60;
	cfg.stale_grace_ms = 5000;
	cfg.n_pools = 2;
	for (i = 0; i < 2; i++) {
		snprintf(cfg.pools[i].key, sizeof(cfg.pools[i].key), "%c",
		    (int)('A' + i));
		snprintf(cfg.pools[i].host, sizeof(cfg.pools[i].host),
		    "127.0.0.1");
		cfg.pools[i].port = 9;
		cfg.pools[i].weight = 50;
		cfg.pools[i].silent_seconds = 120;
		cfg.pools[i].enabled = false;	/* dp_init must not dial */
	}
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(dp_init(&dp, base, &cfg), 0);
	for (i = 0; i < 2; i++) {
		struct pool *p = &dp.pools[i];

		p->cfg.enabled = true;
		pr = p->probe;
		ck_assert_ptr_nonnull(pr);
		pr->state = UP_READY;
		pr->subscribed = pr->authorized = true;
		add_job(pr, "old");
		add_job(pr, "new");
		pr->last_job_ms = clock_mono_ms();
		pool_set_up(p, true, "test");
	}
	/* A's first job was retired by a clean_jobs notify just now */
	pr = dp.pools[0].probe;
	TAILQ_FIRST(&pr->jobs)->stale_at_ms = clock_mono_ms() +
	    dp.cfg.stale_grace_ms;
	ck_assert_ptr_nonnull(pd = calloc(1, sizeof(*pd)));
	pd->req_id = 1;
	pd->kind = REQ_SUBMIT;
	pd->miner_id = 999;		/* answered to no one: counted only */
	pd->miner_req_id = json_integer(7);
	pd->difficulty = 1;
	pd->deadline_ms = clock_mono_ms() + DP_PENDING_TIMEOUT_MS;
	TAILQ_INSERT_TAIL(&pr->pending, pd, entry);
	pr->n_pending++;

	worker = add_miner("rig1", M_AUTHORIZED);
	ck_assert_int_eq(miner_assign(worker, 0, SW_SCHEDULE), 0);
	ghost = add_miner("rig2", M_GHOST);
	ghost->ghost_until_ms = clock_mono_ms() +
	    (uint64_t)dp.cfg.reconnect_grace_seconds * 1000;
	dp.n_ghosts++;
}

static void
dp_teardown(void)
{
	dp_shutdown(&dp);
	event_base_free(base);
	base = NULL;
	fake_teardown();
}

/* Pool B keeps sending work whatever the test does to A. */
static void
b_gets_work(void)
{
	dp.pools[1].probe->last_job_ms = clock_mono_ms();
}

static void
assert_nothing_fired(void)
{
	struct upstream *a = dp.pools[0].probe;

	ck_assert(dp.pools[0].up);
	ck_assert(dp.pools[1].up);
	ck_assert_int_eq(worker->pool, 0);
	ck_assert_uint_eq(dp.c.switches[SW_FAILOVER], 0);
	ck_assert_uint_eq(dp.n_ghosts, 1);
	ck_assert_ptr_eq(TAILQ_LAST(&dp.miners, miner_list), ghost);
	ck_assert_uint_eq(a->n_jobs, 2);
	ck_assert_uint_eq(a->n_pending, 1);
	ck_assert_uint_eq(dp.pools[0].c.rejected[REJ_WHERE_POOL]
	    [REJ_POOL_TIMEOUT], 0);
}

START_TEST(wall_steps_fire_nothing)
{
	/* NTP steps forward an hour: every deadline would be in the past */
	step(&fake_wall, HOUR_MS);
	dp_tick(&dp);
	assert_nothing_fired();
	/* and back two (an hour before start): now - last_job_ms would
	 * wrap around to "silent for ever" */
	step(&fake_wall, -2 * HOUR_MS);
	dp_tick(&dp);
	assert_nothing_fired();
	/* a second's worth of monotonic time changes nothing either */
	step(&fake_mono, 1000);
	dp_tick(&dp);
	assert_nothing_fired();
}
END_TEST

START_TEST(mono_deadlines_fire)
{
	struct upstream *a = dp.pools[0].probe;

	/* past the stale grace (5 s): the retired job goes, nothing else */
	step(&fake_mono, 5001);
	b_gets_work();
	dp_tick(&dp);
	ck_assert_uint_eq(a->n_jobs, 1);
	ck_assert_uint_eq(a->n_pending, 1);
	ck_assert_uint_eq(dp.n_ghosts, 1);

	/* past the submit deadline (30 s): the share is answered */
	step(&fake_mono, DP_PENDING_TIMEOUT_MS - 5000);
	b_gets_work();
	dp_tick(&dp);
	ck_assert_uint_eq(a->n_pending, 0);
	ck_assert_uint_eq(dp.pools[0].c.rejected[REJ_WHERE_POOL]
	    [REJ_POOL_TIMEOUT], 1);
	ck_assert_uint_eq(dp.n_ghosts, 1);
	ck_assert(dp.pools[0].up);

	/* past the reconnect grace (60 s): the ghost is gone */
	step(&fake_mono, 30000);
	b_gets_work();
	dp_tick(&dp);
	ck_assert_uint_eq(dp.n_ghosts, 0);
	ck_assert_ptr_eq(TAILQ_LAST(&dp.miners, miner_list), worker);
	ck_assert(dp.pools[0].up);
	ck_assert_int_eq(worker->pool, 0);

	/* past A's silent_seconds (120 s) with B still sending work: A is
	 * down and its miner fails over to B */
	step(&fake_mono, 60000);
	b_gets_work();
	dp_tick(&dp);
	ck_assert(!dp.pools[0].up);
	ck_assert(dp.pools[1].up);
	ck_assert_int_eq(worker->pool, 1);
	ck_assert_uint_eq(dp.c.switches[SW_FAILOVER], 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("helper"), *td = tcase_create("deadlines");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
	tcase_add_test(tc, reads_the_source);
	tcase_add_test(tc, mono_stamp_published_as_wall);
	tcase_add_test(tc, system_source_restored);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(td, dp_setup, dp_teardown);
	tcase_add_test(td, wall_steps_fire_nothing);
	tcase_add_test(td, mono_deadlines_fire);
	suite_add_tcase(s, td);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
