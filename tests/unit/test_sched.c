/*
 * Check suite: controlplane/sched.c
 *
 * The scheduler is driven the way the controlplane drives it, but with a
 * simulated clock and simulated miners: every second it ticks, the moves
 * are applied, and each miner finds shares on the pool it is on as a
 * Poisson process of rate hashrate / (difficulty * 2^32), credited with
 * that pool's difficulty.  A seeded xorshift makes every run repeatable.
 * What is asserted is what an operator checks: each pool's share of
 * accepted difficulty against its weight, and how often miners switch.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "sched.h"

#define TWO32		4294967296.0
#define SIM_MAX		128

struct sim_miner {
	uint64_t	 id;
	double		 hashrate;	/* true H/s */
	int		 pool;
	bool		 moved;
	uint64_t	 last_move;
	char		 worker[32];
};

struct sim {
	struct sched	*s;
	struct sim_miner m[SIM_MAX];
	size_t		 n;
	size_t		 np;
	double		 diff[SCHED_MAX_POOLS];
	uint64_t	 rng;
	uint64_t	 now;		/* ms */
	unsigned	 min_switch;
	uint64_t	 ticks;
	/* moves after the first tick (the initial assignment) */
	uint64_t	 moves_later;
	uint64_t	 moves_by_reason[3];
	/* moves since mark_ms, for switches per hour */
	uint64_t	 mark_ms;
	uint64_t	 moves_since_mark;
	/* pools some miner worked on after the first tick */
	bool		 used_later[SCHED_MAX_POOLS];
	uint64_t	 hash;		/* FNV-1a of every move */
	struct sched_move mv[SIM_MAX];
};

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t	 x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double
unif(uint64_t *s)
{
	return (double)(xorshift(s) >> 11) / 9007199254740992.0;
}

/* Knuth's method: fine for the few shares per second simulated here. */
static unsigned
poisson(uint64_t *s, double lambda)
{
	double	 l = exp(-lambda), p = 1;
	unsigned k = 0;

	do {
		k++;
		p *= unif(s);
	} while (p > l);
	return k - 1;
}

static void
hash_mix(struct sim *sim, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++) {
		sim->hash ^= (v >> (i * 8)) & 0xff;
		sim->hash *= 0x100000001b3ULL;
	}
}

static struct sched_params
params(unsigned slice, unsigned min_switch, unsigned window)
{
	struct sched_params p;

	p.slice_seconds = slice;
	p.min_switch_seconds = min_switch;
	p.window_seconds = window;
	return p;
}

/*
 * rates[i] is miner i's share rate at difficulty 1 (shares/s); hints
 * passes the true hashrate to the scheduler as the dataplane would.
 */
static void
sim_init(struct sim *sim, size_t n, const double *rates, bool hints,
    size_t np, const double *weights, uint64_t seed)
{
	static const char *const keys[] = { "A", "B", "C", "D" };
	struct sched_params p = params(30, 10, 600);
	size_t		 i;

	memset(sim, 0, sizeof(*sim));
	if (getenv("SCHED_SEED") != NULL)
		seed ^= strtoull(getenv("SCHED_SEED"), NULL, 10) << 20;
	sim->s = sched_new(&p);
	ck_assert_ptr_nonnull(sim->s);
	ck_assert_int_eq(sched_set_pools(sim->s, np, keys, weights), 0);
	sim->n = n;
	sim->np = np;
	sim->rng = seed;
	sim->min_switch = p.min_switch_seconds;
	sim->hash = 0xcbf29ce484222325ULL;
	/* pools at different difficulties: the target is difficulty */
	for (i = 0; i < np; i++)
		sim->diff[i] = i == 1 ? 2.0 : i == 2 ? 0.5 : 1.0;
	for (i = 0; i < n; i++) {
		sim->m[i].id = 1000 + i * 7;
		sim->m[i].hashrate = rates[i] * TWO32;
		sim->m[i].pool = -1;
		snprintf(sim->m[i].worker, sizeof(sim->m[i].worker),
		    "rig%zu", i);
		sched_miner_upsert(sim->s, sim->m[i].id, sim->m[i].worker, -1,
		    hints ? sim->m[i].hashrate : 0, 0);
	}
}

static struct sim_miner *
sim_find(struct sim *sim, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < sim->n; i++)
		if (sim->m[i].id == id)
			return &sim->m[i];
	return NULL;
}

/* One simulated second: tick, apply the moves, mine. */
static void
sim_step(struct sim *sim)
{
	struct sim_miner *m;
	size_t		 i, n;
	unsigned	 k, j;
	int		 from;

	n = sched_tick(sim->s, sim->now, sim->mv, SIM_MAX);
	for (i = 0; i < n; i++) {
		m = sim_find(sim, sim->mv[i].miner_id);
		ck_assert_ptr_nonnull(m);
		ck_assert_int_ne(m->pool, sim->mv[i].pool);
		ck_assert_int_ge(sim->mv[i].pool, 0);
		ck_assert_int_lt(sim->mv[i].pool, (int)sim->np);
		from = m->pool;
		/*
		 * Dwell: only a pin or leaving a pool that may not have the
		 * miner (down, weight 0) may cut it short.
		 */
		if (m->moved && sim->mv[i].reason != SCHED_REASON_PIN &&
		    from >= 0 && sched_target_share(sim->s, from) > 0)
			ck_assert_msg(sim->now - m->last_move >=
			    sim->min_switch * 1000ULL,
			    "miner %llu moved after %llu ms",
			    (unsigned long long)m->id,
			    (unsigned long long)(sim->now - m->last_move));
		m->pool = sim->mv[i].pool;
		m->moved = true;
		m->last_move = sim->now;
		sim->moves_by_reason[sim->mv[i].reason]++;
		if (sim->ticks > 0)
			sim->moves_later++;
		if (sim->now >= sim->mark_ms)
			sim->moves_since_mark++;
		hash_mix(sim, sim->now);
		hash_mix(sim, m->id);
		hash_mix(sim, (uint64_t)m->pool);
		hash_mix(sim, (uint64_t)sim->mv[i].reason);
		/* the dataplane confirms; must not restart the dwell */
		sched_miner_moved(sim->s, m->id, m->pool, sim->now);
	}
	for (i = 0; i < sim->n; i++) {
		m = &sim->m[i];
		if (m->pool < 0)
			continue;
		if (sim->ticks > 0)
			sim->used_later[m->pool] = true;
		k = poisson(&sim->rng, m->hashrate /
		    (sim->diff[m->pool] * TWO32));
		for (j = 0; j < k; j++)
			sched_share_accepted(sim->s, m->id, m->pool,
			    sim->diff[m->pool],
			    sim->now + (j + 1) * 1000ULL / (k + 1));
	}
	sim->ticks++;
	sim->now += 1000;
}

static void
sim_run(struct sim *sim, unsigned seconds)
{
	unsigned	 i;

	for (i = 0; i < seconds; i++)
		sim_step(sim);
}

static double
sim_err(struct sim *sim, bool window)
{
	double	 e, max = 0;
	size_t	 p;

	for (p = 0; p < sim->np; p++) {
		e = fabs((window ? sched_window_share(sim->s, (int)p,
		    sim->now) : sched_total_share(sim->s, (int)p)) -
		    sched_target_share(sim->s, (int)p));
		if (e > max)
			max = e;
	}
	return max;
}

static size_t
sim_count_on(struct sim *sim, int pool)
{
	size_t	 i, c = 0;

	for (i = 0; i < sim->n; i++)
		c += sim->m[i].pool == pool;
	return c;
}

/* ---- the accuracy / switches matrix ---- */

static const size_t fleet_sizes[] = { 1, 3, 10, 100 };
static const struct {
	size_t	 np;
	double	 w[3];
	const char *name;
} weight_sets[] = {
	{ 2, { 70, 30, 0 }, "70:30" },
	{ 2, { 50, 50, 0 }, "50:50" },
	{ 2, { 90, 10, 0 }, "90:10" },
	{ 2, { 100, 0, 0 }, "100:0" },
	{ 3, { 20, 30, 50 }, "20:30:50" },
};
#define N_FLEETS	(sizeof(fleet_sizes) / sizeof(fleet_sizes[0]))
#define N_WSETS		(sizeof(weight_sets) / sizeof(weight_sets[0]))
#define N_MATRIX	(N_FLEETS * 2 * N_WSETS)

/* Whole miners can meet every weight exactly (equal fleets only). */
static bool
exact_fit(size_t n, const double *w, size_t np)
{
	double	 sum = 0, x;
	size_t	 p;

	for (p = 0; p < np; p++)
		sum += w[p];
	for (p = 0; p < np; p++) {
		x = (double)n * w[p] / sum;
		if (fabs(x - round(x)) > 1e-9)
			return false;
	}
	return true;
}

START_TEST(matrix)
{
	struct sim	 sim;
	double		 rates[SIM_MAX], werr, terr, sph;
	size_t		 n = fleet_sizes[_i / (2 * N_WSETS)];
	bool		 equal = (_i / N_WSETS) % 2 == 0;
	size_t		 ws = _i % N_WSETS;
	uint64_t	 rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)_i;
	uint64_t	 seed = 0x1234567ULL + (uint64_t)_i * 7919;
	const char	*env;
	size_t		 i, p;

	/* SCHED_SEED=k reruns the matrix with other luck (by hand) */
	if ((env = getenv("SCHED_SEED")) != NULL) {
		rng ^= strtoull(env, NULL, 10) * 0x2545f4914f6cdd1dULL;
		seed ^= strtoull(env, NULL, 10) * 0x9e3779b97f4a7c15ULL;
	}

	/*
	 * 1-5 shares/s at difficulty 1.  A fleet of one or three is held
	 * to 2 points by time slicing alone, against the Poisson noise of
	 * a few thousand shares per window: give those 5 shares/s.
	 */
	for (i = 0; i < n; i++)
		rates[i] = n <= 3 ? (equal ? 5.0 : 2.5 + 2.5 * unif(&rng)) :
		    (equal ? 3.0 : 1.0 + 4.0 * unif(&rng));
	/* equal fleets get the dataplane's hint, unequal ones nothing */
	sim_init(&sim, n, rates, equal, weight_sets[ws].np,
	    weight_sets[ws].w, seed | 1);
	sim_run(&sim, 600);
	sim.mark_ms = sim.now;
	sim.moves_since_mark = 0;
	sim_run(&sim, 600);
	werr = sim_err(&sim, true);
	terr = sim_err(&sim, false);
	sph = (double)sim.moves_since_mark * 3600.0 / 600.0;
	printf("sched %3zu %-7s %-8s window_err %.4f total_err %.4f "
	    "switches/h %6.1f later_moves %llu\n", n,
	    equal ? "equal" : "unequal", weight_sets[ws].name, werr, terr,
	    sph, (unsigned long long)sim.moves_later);
	fflush(stdout);
	for (p = 0; p < sim.np; p++)
		ck_assert_msg(fabs(sched_window_share(sim.s, (int)p, sim.now) -
		    sched_target_share(sim.s, (int)p)) < 0.02,
		    "%zu %s %s: pool %zu window share %.4f target %.4f", n,
		    equal ? "equal" : "unequal", weight_sets[ws].name, p,
		    sched_window_share(sim.s, (int)p, sim.now),
		    sched_target_share(sim.s, (int)p));
	ck_assert_msg(terr < 0.02, "cumulative error %.4f", terr);
	if (weight_sets[ws].w[1] == 0) {
		/* 100:0: nobody ever works for B after the first tick */
		ck_assert(!sim.used_later[1]);
		ck_assert_uint_eq(sim.moves_later, 0);
		ck_assert(sched_window_share(sim.s, 1, sim.now) == 0);
	}
	if (equal && exact_fit(n, weight_sets[ws].w, weight_sets[ws].np)) {
		/* a partition fits: whole miners are never time-sliced */
		ck_assert_msg(sim.moves_later == 0, "%llu moves after the "
		    "initial assignment", (unsigned long long)sim.moves_later);
	} else {
		/* one swing miner per pool boundary, one cycle per slice */
		ck_assert_msg(sph <= 2.0 * 3600 / 30 * (double)weight_sets[ws].np,
		    "%.1f switches/h", sph);
	}
	sched_free(sim.s);
}
END_TEST

/* ---- behaviours ---- */

static void
equal_rates(double *rates, size_t n, double r)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		rates[i] = r;
}

START_TEST(ten_equal_exact_partition)
{
	struct sim	 sim;
	double		 rates[10], w[2] = { 70, 30 };

	equal_rates(rates, 10, 3);
	sim_init(&sim, 10, rates, true, 2, w, 42);
	sim_step(&sim);
	ck_assert_uint_eq(sim_count_on(&sim, 0), 7);
	ck_assert_uint_eq(sim_count_on(&sim, 1), 3);
	ck_assert_uint_eq(sched_switches(sim.s), 10);
	sim_run(&sim, 3600);
	/* an hour: not one switch after the first assignment */
	ck_assert_uint_eq(sim.moves_later, 0);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	sched_free(sim.s);
}
END_TEST

START_TEST(one_miner_time_sliced)
{
	struct sim	 sim;
	double		 rates[1] = { 5 }, w[2] = { 70, 30 };

	sim_init(&sim, 1, rates, false, 2, w, 7);
	sim_run(&sim, 1200);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	ck_assert(sched_miner_swinging(sim.s, sim.m[0].id));
	/* it does switch, about twice per 30 s slice, not more */
	ck_assert_uint_gt(sim.moves_later, 20);
	ck_assert_uint_le(sim.moves_later, 2 * 1200 / 30 + 10);
	sched_free(sim.s);
}
END_TEST

START_TEST(down_pool_drains)
{
	struct sim	 sim;
	double		 rates[10], w[2] = { 70, 30 };
	size_t		 i, n;
	int		 b_miners;

	equal_rates(rates, 10, 3);
	sim_init(&sim, 10, rates, true, 2, w, 99);
	sim_run(&sim, 300);
	b_miners = (int)sim_count_on(&sim, 1);
	ck_assert_int_eq(b_miners, 3);
	/* B goes down; its miners leave on the very next tick, dwell or not */
	sched_set_pool_up(sim.s, 1, false, sim.now);
	ck_assert(sched_target_share(sim.s, 1) == 0);
	ck_assert(sched_target_share(sim.s, 0) == 1);
	n = sched_tick(sim.s, sim.now, sim.mv, SIM_MAX);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(sim.mv[i].pool, 0);
		ck_assert_int_eq(sim.mv[i].reason, SCHED_REASON_SCHEDULE);
		sim_find(&sim, sim.mv[i].miner_id)->pool = 0;
	}
	sim_run(&sim, 300);
	ck_assert_uint_eq(sim_count_on(&sim, 1), 0);
	/*
	 * Back up: the split returns, measured only from then on (a swing
	 * miner may be on either side at any moment).
	 */
	sched_set_pool_up(sim.s, 1, true, sim.now);
	sim_run(&sim, 1200);
	ck_assert_uint_ge(sim_count_on(&sim, 1), 2);
	ck_assert_uint_le(sim_count_on(&sim, 1), 4);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	sched_free(sim.s);
}
END_TEST

START_TEST(weight_zero_drains)
{
	struct sim	 sim;
	double		 rates[3], w[2] = { 70, 30 }, w2[2] = { 1, 0 };
	size_t		 i, n;

	equal_rates(rates, 3, 3);
	sim_init(&sim, 3, rates, true, 2, w, 5);
	sim_run(&sim, 200);
	ck_assert_int_eq(sched_set_weights(sim.s, w2, 2, sim.now), 0);
	n = sched_tick(sim.s, sim.now, sim.mv, SIM_MAX);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(sim.mv[i].pool, 0);
		ck_assert_int_eq(sim.mv[i].reason,
		    SCHED_REASON_WEIGHTS_CHANGED);
		sim_find(&sim, sim.mv[i].miner_id)->pool = 0;
	}
	ck_assert_uint_eq(sim_count_on(&sim, 0), 3);
	sim_run(&sim, 100);
	ck_assert_uint_eq(sim_count_on(&sim, 1), 0);
	/* later moves, if any, are plain schedule moves */
	ck_assert_int_eq(sched_set_weights(sim.s, w, 2, sim.now), 0);
	sched_free(sim.s);
}
END_TEST

START_TEST(weight_change_within_window)
{
	struct sim	 sim;
	double		 rates[10], w[2] = { 70, 30 }, w2[2] = { 30, 70 };
	uint64_t	 rng = 77;
	size_t		 i, n, wc = 0;

	for (i = 0; i < 10; i++)
		rates[i] = 1 + 4 * unif(&rng);
	sim_init(&sim, 10, rates, false, 2, w, 1234);
	sim_run(&sim, 1200);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	ck_assert_int_eq(sched_set_weights(sim.s, w2, 2, sim.now), 0);
	ck_assert_double_eq_tol(sched_target_share(sim.s, 1), 0.7, 1e-12);
	n = sched_tick(sim.s, sim.now, sim.mv, SIM_MAX);
	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++) {
		wc += sim.mv[i].reason == SCHED_REASON_WEIGHTS_CHANGED;
		sim_find(&sim, sim.mv[i].miner_id)->pool = sim.mv[i].pool;
		sim_find(&sim, sim.mv[i].miner_id)->last_move = sim.now;
	}
	ck_assert_uint_eq(wc, n);
	sim.now += 1000;
	/* one window later the window holds only the new split */
	sim_run(&sim, 600);
	ck_assert_msg(sim_err(&sim, true) < 0.02, "window error %.4f",
	    sim_err(&sim, true));
	sched_free(sim.s);
}
END_TEST

START_TEST(pin_overrides)
{
	struct sim	 sim;
	double		 rates[10], w[2] = { 70, 30 };
	struct sim_miner *pm = NULL;
	size_t		 i, n;

	equal_rates(rates, 10, 3);
	sim_init(&sim, 10, rates, true, 2, w, 2024);
	sim_run(&sim, 5);
	/* pin a miner that is on A to B, inside its dwell */
	for (i = 0; i < sim.n; i++)
		if (sim.m[i].pool == 0) {
			pm = &sim.m[i];
			break;
		}
	ck_assert_ptr_nonnull(pm);
	ck_assert_int_eq(sched_pin(sim.s, pm->worker, 1), 0);
	ck_assert_int_eq(sched_pin_get(sim.s, pm->worker), 1);
	n = sched_tick(sim.s, sim.now, sim.mv, SIM_MAX);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(sim.mv[0].miner_id, pm->id);
	ck_assert_int_eq(sim.mv[0].pool, 1);
	ck_assert_int_eq(sim.mv[0].reason, SCHED_REASON_PIN);
	for (i = 0; i < n; i++)
		sim_find(&sim, sim.mv[i].miner_id)->pool = sim.mv[i].pool;
	sim.now += 1000;
	/* the rest of the fleet compensates: 7:3 still holds */
	sim_run(&sim, 1200);
	ck_assert_int_eq(pm->pool, 1);
	ck_assert_uint_eq(sim_count_on(&sim, 0), 7);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	/* a pin survives a reconnect (same worker, new id) */
	sched_miner_remove(sim.s, pm->id);
	pm->id += 1;
	sched_miner_upsert(sim.s, pm->id, pm->worker, 0, 0, sim.now);
	pm->pool = 0;
	n = sched_tick(sim.s, sim.now, sim.mv, SIM_MAX);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(sim.mv[0].miner_id, pm->id);
	ck_assert_int_eq(sim.mv[0].reason, SCHED_REASON_PIN);
	/* unpin: back to the schedule */
	ck_assert_int_eq(sched_pin(sim.s, pm->worker, -1), 0);
	ck_assert_int_eq(sched_pin_get(sim.s, pm->worker), -1);
	/* bad pins */
	ck_assert_int_eq(sched_pin(sim.s, pm->worker, 2), -1);
	ck_assert_int_eq(sched_pin(sim.s, "", 0), -1);
	ck_assert_int_eq(sched_pin(sim.s, NULL, 0), -1);
	sched_free(sim.s);
}
END_TEST

START_TEST(pin_to_weight_zero_pool_beats_fleet)
{
	struct sim	 sim;
	double		 rates[4], w[2] = { 100, 0 };

	equal_rates(rates, 4, 3);
	sim_init(&sim, 4, rates, true, 2, w, 31);
	ck_assert_int_eq(sched_pin(sim.s, sim.m[2].worker, 1), 0);
	sim_run(&sim, 100);
	/* the operator asked for it explicitly: the pin wins */
	ck_assert_int_eq(sim.m[2].pool, 1);
	ck_assert_uint_eq(sim_count_on(&sim, 0), 3);
	/* but a pin to a down pool waits */
	sched_set_pool_up(sim.s, 1, false, sim.now);
	sim_run(&sim, 2);
	ck_assert_int_eq(sim.m[2].pool, 0);
	sched_free(sim.s);
}
END_TEST

START_TEST(fleet_churn)
{
	struct sim	 sim;
	double		 rates[12], w[2] = { 70, 30 };
	uint64_t	 rng = 4242;
	size_t		 i;

	for (i = 0; i < 12; i++)
		rates[i] = 1 + 4 * unif(&rng);
	sim_init(&sim, 10, rates, false, 2, w, 8080);
	sim_run(&sim, 600);
	/* one leaves, two join (nowhere yet), one comes back elsewhere */
	sched_miner_remove(sim.s, sim.m[3].id);
	sim.m[3].pool = -1;
	sim.m[3].hashrate = 0;
	for (i = 10; i < 12; i++) {
		sim.m[i].id = 5000 + i;
		sim.m[i].hashrate = rates[i] * TWO32;
		sim.m[i].pool = -1;
		snprintf(sim.m[i].worker, sizeof(sim.m[i].worker), "new%zu", i);
		sched_miner_upsert(sim.s, sim.m[i].id, sim.m[i].worker, -1, 0,
		    sim.now);
	}
	sim.n = 12;
	sim_run(&sim, 1200);
	ck_assert_int_ge(sim.m[10].pool, 0);
	ck_assert_int_ge(sim.m[11].pool, 0);
	ck_assert_uint_eq(sched_miner_count(sim.s), 11);
	ck_assert_msg(sim_err(&sim, true) < 0.02, "window error %.4f",
	    sim_err(&sim, true));
	sched_free(sim.s);
}
END_TEST

START_TEST(hashrate_change)
{
	struct sim	 sim;
	double		 rates[10], w[2] = { 50, 50 };

	equal_rates(rates, 10, 3);
	sim_init(&sim, 10, rates, false, 2, w, 6060);
	sim_run(&sim, 600);
	ck_assert_double_lt(sim_err(&sim, true), 0.02);
	/* two miners of one pool lose most of their hashrate */
	sim.m[0].hashrate /= 4;
	sim.m[1].hashrate /= 4;
	sim_run(&sim, 1800);
	/* the estimates follow and the split is restored */
	ck_assert_msg(sim_err(&sim, true) < 0.02, "window error %.4f",
	    sim_err(&sim, true));
	ck_assert_double_eq_tol(sched_miner_hashrate(sim.s, sim.m[0].id) /
	    sim.m[0].hashrate, 1, 0.25);
	sched_free(sim.s);
}
END_TEST

static uint64_t
determinism_run(uint64_t seed, uint64_t *moves)
{
	struct sim	 sim;
	double		 rates[20], w[3] = { 20, 30, 50 };
	uint64_t	 rng = seed, h;
	size_t		 i;

	for (i = 0; i < 20; i++)
		rates[i] = 1 + 4 * unif(&rng);
	sim_init(&sim, 20, rates, false, 3, w, seed);
	sim_run(&sim, 900);
	h = sim.hash;
	*moves = sched_switches(sim.s);
	sched_free(sim.s);
	return h;
}

START_TEST(deterministic)
{
	uint64_t	 m1, m2, m3, h1, h2, h3;

	h1 = determinism_run(555, &m1);
	h2 = determinism_run(555, &m2);
	h3 = determinism_run(556, &m3);
	ck_assert_uint_eq(m1, m2);
	ck_assert_uint_eq(h1, h2);
	ck_assert_uint_gt(m1, 0);
	/* and the hash does see the moves */
	ck_assert(h1 != h3 || m1 != m3);
}
END_TEST

START_TEST(newcomer_pool)
{
	struct sched_params p = params(30, 10, 600);
	const char	*keys[3] = { "A", "B", "C" };
	double		 w[3] = { 70, 30, 0 }, w2[3] = { 50, 50, 0 };
	struct sched	*s = sched_new(&p);

	ck_assert_int_eq(sched_set_pools(s, 3, keys, w), 0);
	/* nothing measured: the largest target */
	ck_assert_int_eq(sched_newcomer_pool(s), 0);
	ck_assert_int_eq(sched_set_weights(s, w2, 3, 0), 0);
	/* tie: lowest index */
	ck_assert_int_eq(sched_newcomer_pool(s), 0);
	/* A is ahead: B has the larger deficit */
	sched_share_accepted(s, 1, 0, 10, 1000);
	sched_share_accepted(s, 1, 1, 5, 1000);
	ck_assert_int_eq(sched_newcomer_pool(s), 1);
	/* a down pool is never chosen */
	sched_set_pool_up(s, 1, false, 2000);
	ck_assert_int_eq(sched_newcomer_pool(s), 0);
	sched_set_pool_up(s, 0, false, 2000);
	ck_assert_int_eq(sched_newcomer_pool(s), -1);
	sched_free(s);
}
END_TEST

START_TEST(accounting)
{
	struct sched_params p = params(30, 10, 60);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 1, 1 };
	struct sched	*s = sched_new(&p);

	ck_assert_int_eq(sched_set_pools(s, 2, keys, w), 0);
	ck_assert(sched_window_share(s, 0, 0) == 0);
	ck_assert(sched_total_share(s, 0) == 0);
	sched_share_accepted(s, 9, 0, 3, 1000);
	sched_share_accepted(s, 9, 1, 1, 30000);
	ck_assert_double_eq_tol(sched_window_share(s, 0, 30000), 0.75, 1e-12);
	ck_assert_double_eq_tol(sched_total_share(s, 1), 0.25, 1e-12);
	/* 61 s later the first share has left the 60 s window */
	ck_assert_double_eq_tol(sched_window_share(s, 0, 62000), 0, 1e-12);
	ck_assert_double_eq_tol(sched_window_share(s, 1, 62000), 1, 1e-12);
	ck_assert_double_eq_tol(sched_total_share(s, 0), 0.75, 1e-12);
	/* junk is ignored */
	sched_share_accepted(s, 9, 5, 1, 40000);
	sched_share_accepted(s, 9, -1, 1, 40000);
	sched_share_accepted(s, 9, 0, -1, 40000);
	sched_share_accepted(s, 9, 0, NAN, 40000);
	ck_assert_double_eq_tol(sched_total_share(s, 0), 0.75, 1e-12);
	/* history before we started: totals only */
	sched_history_accepted(s, 1, 6);
	ck_assert_double_eq_tol(sched_total_share(s, 1), 0.7, 1e-12);
	ck_assert_double_eq_tol(sched_window_share(s, 1, 62000), 1, 1e-12);
	sched_history_accepted(s, 7, 6);
	sched_history_accepted(s, 0, -6);
	ck_assert_double_eq_tol(sched_total_share(s, 1), 0.7, 1e-12);
	/* a longer window keeps what it already had */
	p.window_seconds = 600;
	sched_set_params(s, &p);
	ck_assert_double_eq_tol(sched_window_share(s, 0, 62000), 0.75, 1e-12);
	ck_assert_double_eq_tol(sched_window_share(s, 5, 62000), 0, 1e-12);
	sched_free(s);
}
END_TEST

START_TEST(api_edges)
{
	struct sched_params p = params(30, 10, 600);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 1, 1 }, zero[2] = { 0, 0 };
	double		 neg[2] = { 1, -1 }, nan2[2] = { 1, NAN };
	struct sched_move mv[4];
	struct sched	*s = sched_new(&p);

	sched_free(NULL);
	ck_assert_int_eq(sched_set_pools(s, 0, keys, w), -1);
	ck_assert_int_eq(sched_set_pools(s, 2, keys, zero), -1);
	ck_assert_int_eq(sched_set_pools(s, 2, keys, neg), -1);
	ck_assert_int_eq(sched_set_pools(s, SCHED_MAX_POOLS + 1, keys, w), -1);
	/* no pools, no miners: nothing to do, no crash */
	ck_assert_uint_eq(sched_tick(s, 0, mv, 4), 0);
	ck_assert_int_eq(sched_newcomer_pool(s), -1);
	ck_assert_int_eq(sched_set_pools(s, 2, keys, w), 0);
	ck_assert_int_eq(sched_set_weights(s, zero, 2, 0), -1);
	ck_assert_int_eq(sched_set_weights(s, nan2, 2, 0), -1);
	ck_assert_int_eq(sched_set_weights(s, w, 1, 0), -1);
	ck_assert_double_eq_tol(sched_target_share(s, 1), 0.5, 1e-12);
	ck_assert(sched_target_share(s, 7) == 0);
	ck_assert(sched_window_share(s, -1, 0) == 0);
	/* unknown miners are ignored */
	sched_miner_remove(s, 12345);
	sched_miner_moved(s, 12345, 0, 0);
	ck_assert_int_eq(sched_miner_pool(s, 12345), -1);
	ck_assert_str_eq(sched_reason_str(SCHED_REASON_SCHEDULE), "schedule");
	ck_assert_str_eq(sched_reason_str(SCHED_REASON_PIN), "pin");
	ck_assert_str_eq(sched_reason_str(SCHED_REASON_WEIGHTS_CHANGED),
	    "weights_changed");
	/* the first assignment is a schedule, not a weight change */
	sched_miner_upsert(s, 2, "w2", -1, 0, 0);
	ck_assert_uint_eq(sched_tick(s, 0, mv, 4), 1);
	ck_assert_int_eq(mv[0].reason, SCHED_REASON_SCHEDULE);
	/* a reload with other weights is one */
	w[0] = 3;
	ck_assert_int_eq(sched_set_pools(s, 2, keys, w), 0);
	ck_assert_double_eq_tol(sched_target_share(s, 0), 0.75, 1e-12);
	sched_miner_upsert(s, 3, "w3", -1, 0, 0);
	ck_assert_uint_ge(sched_tick(s, 100, mv, 4), 1);
	ck_assert_int_eq(mv[0].reason, SCHED_REASON_WEIGHTS_CHANGED);
	sched_miner_remove(s, 2);
	sched_miner_remove(s, 3);
	ck_assert_uint_eq(sched_miner_count(s), 0);
	/* all pools down: no moves */
	sched_miner_upsert(s, 1, "w", -1, 0, 0);
	sched_set_pool_up(s, 0, false, 0);
	sched_set_pool_up(s, 1, false, 0);
	ck_assert_uint_eq(sched_tick(s, 1000, mv, 4), 0);
	sched_set_pool_up(s, 0, true, 0);
	ck_assert_uint_eq(sched_tick(s, 2000, mv, 4), 1);
	ck_assert_int_eq(mv[0].pool, 0);
	ck_assert_int_eq(sched_miner_pool(s, 1), 0);
	sched_free(s);
}
END_TEST

START_TEST(move_cap)
{
	struct sched_params p = params(30, 10, 600);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 1, 1 };
	struct sched_move mv[100];
	struct sched	*s = sched_new(&p);
	size_t		 i, n;

	ck_assert_int_eq(sched_set_pools(s, 2, keys, w), 0);
	for (i = 0; i < 40; i++)
		sched_miner_upsert(s, i, "w", -1, 1e12, 0);
	/* 40 to place, room for 16: the rest next tick */
	ck_assert_uint_eq(sched_tick(s, 0, mv, 16), 16);
	n = sched_tick(s, 1000, mv, 100);
	ck_assert_uint_eq(n, 24);
	ck_assert_uint_eq(sched_switches(s), 40);
	for (i = 0; i < 40; i++)
		ck_assert_int_ge(sched_miner_pool(s, i), 0);
	sched_free(s);
}
END_TEST

START_TEST(many_miners_index)
{
	struct sched_params p = params(30, 10, 600);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 3, 1 };
	struct sched_move *mv;
	struct sched	*s = sched_new(&p);
	size_t		 i, n, on_a = 0;

	ck_assert_int_eq(sched_set_pools(s, 2, keys, w), 0);
	for (i = 0; i < 20000; i++)
		sched_miner_upsert(s, i * 2654435761ULL, "w", (int)(i % 2),
		    0, 0);
	for (i = 0; i < 20000; i += 2)
		sched_miner_remove(s, i * 2654435761ULL);
	ck_assert_uint_eq(sched_miner_count(s), 10000);
	for (i = 0; i < 20000; i++)
		ck_assert_int_eq(sched_miner_pool(s, i * 2654435761ULL),
		    i % 2 == 0 ? -1 : 1);
	mv = calloc(20000, sizeof(*mv));
	n = sched_tick(s, 60000, mv, 20000);
	/* all 10000 were on B: 7500 move to A, in whole miners */
	ck_assert_uint_eq(n, 7500);
	for (i = 1; i < 20000; i += 2)
		on_a += sched_miner_pool(s, i * 2654435761ULL) == 0;
	ck_assert_uint_eq(on_a, 7500);
	free(mv);
	sched_free(s);
}
END_TEST

static Suite *
sched_suite(void)
{
	Suite	*s = suite_create("sched");
	TCase	*tc;

	tc = tcase_create("matrix");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, matrix, 0, (int)N_MATRIX);
	suite_add_tcase(s, tc);

	tc = tcase_create("behaviour");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ten_equal_exact_partition);
	tcase_add_test(tc, one_miner_time_sliced);
	tcase_add_test(tc, down_pool_drains);
	tcase_add_test(tc, weight_zero_drains);
	tcase_add_test(tc, weight_change_within_window);
	tcase_add_test(tc, pin_overrides);
	tcase_add_test(tc, pin_to_weight_zero_pool_beats_fleet);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, fleet_churn);
	tcase_add_test(tc, hashrate_change);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, newcomer_pool);
	tcase_add_test(tc, accounting);
	tcase_add_test(tc, api_edges);
	tcase_add_test(tc, move_cap);
	tcase_add_test(tc, many_miners_index);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(sched_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
