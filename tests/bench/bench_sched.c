/*
 * bench_sched: how long one scheduler tick takes for a large fleet.
 *
 * Three kinds of tick, each for 10k and 100k miners of varied hashrate:
 * the first one (every miner new, all placed), a weight change that
 * moves a large part of the fleet, and a steady tick (nothing to do but
 * estimate, sort and check).  Next to them, in the same run, the time to
 * qsort as many doubles: the floor any O(n log n) scheduler pays, so
 * the ratio says how far above that floor the scheduler is on this
 * machine.  Prints a table; no thresholds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"

#define TWO32	4294967296.0
#define REPS	5

static uint64_t	 rng = 0x2545f4914f6cdd1dULL;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
unif(void)
{
	return (double)(xorshift() >> 11) / 9007199254740992.0;
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median-free but steady enough: the best of REPS runs. */
static double
bench_qsort(size_t n)
{
	double	*v, t, best = 1e30;
	size_t	 i;
	int	 r;

	if ((v = malloc(n * sizeof(*v))) == NULL)
		exit(1);
	for (r = 0; r < REPS; r++) {
		for (i = 0; i < n; i++)
			v[i] = unif() * 1e12;
		t = now_ms();
		qsort(v, n, sizeof(*v), dbl_cmp);
		t = now_ms() - t;
		if (t < best)
			best = t;
	}
	free(v);
	return best;
}

struct result {
	double	 first;		/* every miner new */
	double	 weights;	/* 70:30 -> 30:70 */
	double	 steady;	/* nothing changed */
	size_t	 moves_first;
	size_t	 moves_weights;
};

static void
bench_sched(size_t n, struct result *res)
{
	struct sched_params p = { 30, 10, 600 };
	const char	*keys[2] = { "A", "B" };
	double		 w1[2] = { 70, 30 }, w2[2] = { 30, 70 }, t;
	struct sched_move *mv;
	struct sched	*s;
	uint64_t	 clock_ms = 0;
	size_t		 i, k;
	int		 r;

	if ((mv = calloc(n, sizeof(*mv))) == NULL)
		exit(1);
	memset(res, 0, sizeof(*res));
	res->first = res->weights = res->steady = 1e30;
	for (r = 0; r < REPS; r++) {
		if ((s = sched_new(&p)) == NULL ||
		    sched_set_pools(s, 2, keys, w1) == -1)
			exit(1);
		for (i = 0; i < n; i++)
			sched_miner_upsert(s, i * 2654435761ULL + 1, "rig", -1,
			    (0.5 + unif()) * 1e12, 0);
		/* a minute of shares so estimates are measured, not hinted */
		for (i = 0; i < n; i++)
			for (k = 0; k < 3; k++)
				sched_share_accepted(s, i * 2654435761ULL + 1,
				    0, 1, 1000 + k * 20000);
		clock_ms = 60000;

		t = now_ms();
		res->moves_first = sched_tick(s, clock_ms, mv, n);
		t = now_ms() - t;
		if (t < res->first)
			res->first = t;

		clock_ms += 60000;
		t = now_ms();
		sched_tick(s, clock_ms, mv, n);
		t = now_ms() - t;
		if (t < res->steady)
			res->steady = t;

		clock_ms += 60000;
		sched_set_weights(s, w2, 2, clock_ms);
		t = now_ms();
		res->moves_weights = sched_tick(s, clock_ms, mv, n);
		t = now_ms() - t;
		if (t < res->weights)
			res->weights = t;
		sched_free(s);
	}
	free(mv);
}

int
main(void)
{
	static const size_t sizes[] = { 10000, 100000 };
	struct result	 r;
	double		 q;
	size_t		 i;

	printf("%-8s %-26s %10s %10s %8s\n", "miners", "tick", "ms", "moves",
	    "x qsort");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		q = bench_qsort(sizes[i]);
		bench_sched(sizes[i], &r);
		printf("%-8zu %-26s %10.2f %10s %8s\n", sizes[i],
		    "baseline: qsort doubles", q, "-", "1.0");
		printf("%-8zu %-26s %10.2f %10zu %8.1f\n", sizes[i],
		    "first (all new)", r.first, r.moves_first, r.first / q);
		printf("%-8zu %-26s %10.2f %10zu %8.1f\n", sizes[i],
		    "weights 70:30 -> 30:70", r.weights, r.moves_weights,
		    r.weights / q);
		printf("%-8zu %-26s %10.2f %10s %8.1f\n", sizes[i],
		    "steady", r.steady, "0", r.steady / q);
	}
	return 0;
}
