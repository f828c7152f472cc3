/*
 * sched: the weight scheduler.
 *
 * Each tick does five things, in O(n log n) for n miners:
 *
 *  1. Estimate every miner's hashrate from the difficulty it got accepted
 *     (an exponentially decayed rate, so a miner is measured from its
 *     first share with no invented history), blended with the
 *     dataplane's hint while it has few shares.
 *  2. Partition whole miners onto pools so each pool's hashrate matches
 *     its target, starting from where the miners are: only pools above
 *     their target give up miners, largest first that still fit in the
 *     excess, so the fewest miners move.
 *  3. Whatever whole miners cannot fill (one miner alone, three miners at
 *     70:30) is time-sliced by one or a few "swing" miners.  A swing
 *     miner's time is split by a sigma-delta modulator: it owes each pool
 *     seconds at the rate of that pool's fraction and leaves a pool once
 *     it has overstayed by a hysteresis band sized so a full cycle takes
 *     slice_seconds.  Dwell is enforced by refusing to leave early; the
 *     credit it builds up is paid back later, so the average stays right.
 *  4. Feedback: the swing fractions are biased by the measured deficit of
 *     accepted difficulty (target x total - accepted) in the window since
 *     the targets last changed, paid back over a horizon.  That cancels
 *     estimation errors and the luck of Poisson share arrival, which no
 *     open-loop schedule can.
 *  5. Decide when to slice at all, with hysteresis (TOL_*, Z_* below):
 *     noise in the estimates must not make an exact partition slice, and
 *     a real error must not hide in the noise for long.
 *
 * Determinism: no clock (every call takes now_ms), no randomness, and
 * miners are always visited in one total order (estimate, then id), so
 * the same calls give the same moves whatever the hash table layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

#define SCHED_KEY_MAX		32
#define SCHED_WORKER_MAX	256
#define SCHED_BUCKETS		600
#define SCHED_MAX_SWING		64
#define SCHED_MAX_PINS		65536
#define TWO32			4294967296.0

/*
 * Pseudo-count of the prior (hint or fleet average) in a miner's rate
 * estimate: with 10 shares measured the two weigh the same.
 */
#define PRIOR_SHARES		10.0
/*
 * A whole-miner partition within TOL_MIN of the target (as a share of
 * the fleet) needs no time slicing.  While nothing is sliced, a larger
 * error is tolerated when it is within TOL_SIGMA standard deviations of
 * the hashrate estimates' noise: otherwise the luck of share arrival
 * alone would start slicing a fleet (10 equal miners at 70:30) whose
 * partition is exact.  TOL_MAX bounds that while estimates are young.
 * Once slicing, it stops only when the estimates are good enough
 * (noise of an even split under TOL_EXIT) to call a partition exact:
 * three equal miners at 70:30 must not stop slicing because one of them
 * had a bad minute.
 */
#define TOL_MIN			0.002
#define TOL_MAX			0.10
#define TOL_SIGMA		4.0
#define TOL_EXIT		0.01
/*
 * The same for the measured shares (Poisson noise of accepted work):
 * slicing starts when an error reaches Z_TRIG sigmas, even if the
 * estimates see nothing wrong, and swing miners keep swinging until it
 * is back under Z_HOLD.
 */
#define Z_TRIG			4.5
#define Z_HOLD			2.0
/*
 * Feedback pays a measured deficit back over window / FEEDBACK_DIV
 * (at least two slices).  Measured over 1-100 simulated miners, a
 * shorter horizon amplifies share noise and a longer one lets errors
 * sit in the window; 600 s / 8 = 75 s did best.
 */
#define FEEDBACK_DIV		8.0

enum mstate {
	ST_PINNED = 0,
	ST_PLACED,
	ST_UNPLACED,
	ST_SHED,		/* unplaced, and must not go back */
	ST_SWING,
};

enum prio {
	PRIO_PIN = 0,
	PRIO_FORCED,		/* off a down or zero-weight pool */
	PRIO_NORMAL,
};

struct sched_miner {
	uint64_t	 id;
	char		*worker;
	int		 pool;		/* where the dataplane has it */
	int		 pin;		/* pinned pool or -1 */
	bool		 swing;		/* time-sliced last tick */
	bool		 has_moved;	/* last_move_ms is meaningful */
	uint64_t	 last_move_ms;
	double		 hint;		/* dataplane's H/s, 0 unknown */
	/* accepted difficulty, count and observed seconds, all decayed */
	double		 acc_diff;
	double		 acc_n;
	double		 acc_t;
	uint64_t	 acc_ms;
	/* tick scratch */
	double		 est;		/* H/s */
	double		 var;		/* noise variance of est */
	int		 place;
	enum mstate	 st;
};

struct sched_pin {
	char		*worker;
	int		 pool;
};

struct sched_swing {
	uint64_t	 id;
	double		 credit[SCHED_MAX_POOLS];	/* seconds owed */
	uint64_t	 last_ms;
};

/*
 * Accepted difficulty and its sum of squares: the latter gives the
 * Poisson noise of a measured share, whatever the share difficulties.
 */
struct work {
	double		 d;
	double		 d2;
};

/* Sort key: a compact copy so the sort does not drag whole miners. */
struct ord {
	uint64_t	 key;		/* est, descending, as integer */
	uint64_t	 id;
	uint32_t	 idx;
};

struct mv {
	uint64_t	 id;
	int		 pool;
	enum sched_reason reason;
	enum prio	 prio;
	uint32_t	 idx;
};

struct sched {
	struct sched_params p;

	size_t		 n_pools;
	char		 keys[SCHED_MAX_POOLS][SCHED_KEY_MAX];
	double		 weight[SCHED_MAX_POOLS];
	bool		 up[SCHED_MAX_POOLS];
	double		 target[SCHED_MAX_POOLS];
	bool		 weights_changed;
	uint64_t	 ctl_ref_ms;	/* feedback ignores work before this */
	uint64_t	 now_ms;	/* latest time any call gave us */

	/* accepted difficulty per pool: a ring of nb buckets of width_ms */
	unsigned	 nb;
	uint64_t	 width_ms;
	uint64_t	 epoch[SCHED_BUCKETS];	/* bucket number held, or 0 */
	struct work	 bucket[SCHED_BUCKETS][SCHED_MAX_POOLS];
	double		 total[SCHED_MAX_POOLS];
	struct work	 since_ref[SCHED_MAX_POOLS];

	/* miners: dense array, plus an open-addressing index by id */
	struct sched_miner *miners;
	size_t		 n_miners;
	size_t		 cap_miners;
	uint32_t	*ht;		/* miner index + 1, 0 empty */
	size_t		 ht_cap;	/* power of two */

	struct sched_pin *pins;		/* sorted by worker */
	size_t		 n_pins;
	size_t		 cap_pins;

	struct sched_swing swing[SCHED_MAX_SWING];
	size_t		 n_swing;
	bool		 swing_active;
	uint64_t	 switches;

	/* tick scratch, grown with the fleet */
	struct ord	*ord;
	struct ord	*ord_tmp;
	struct mv	*mv;
	size_t		 cap_scratch;
};

static uint64_t
hash_id(uint64_t x)
{
	/* splitmix64 finalizer: ids are often sequential */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t
ht_slot(const struct sched *s, uint64_t id)
{
	size_t	 mask = s->ht_cap - 1, i = hash_id(id) & mask;

	while (s->ht[i] != 0 && s->miners[s->ht[i] - 1].id != id)
		i = (i + 1) & mask;
	return i;
}

static struct sched_miner *
miner_find(const struct sched *s, uint64_t id)
{
	size_t	 i;

	if (s->ht_cap == 0)
		return NULL;
	i = ht_slot(s, id);
	return s->ht[i] == 0 ? NULL : &s->miners[s->ht[i] - 1];
}

static int
ht_grow(struct sched *s)
{
	uint32_t	*nt;
	size_t		 ncap, i, j, mask;

	ncap = s->ht_cap == 0 ? 64 : s->ht_cap * 2;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return -1;
	mask = ncap - 1;
	for (i = 0; i < s->n_miners; i++) {
		j = hash_id(s->miners[i].id) & mask;
		while (nt[j] != 0)
			j = (j + 1) & mask;
		nt[j] = (uint32_t)(i + 1);
	}
	free(s->ht);
	s->ht = nt;
	s->ht_cap = ncap;
	return 0;
}

/* Linear probing delete without tombstones (backward shift). */
static void
ht_delete(struct sched *s, size_t i)
{
	size_t	 mask = s->ht_cap - 1, j = i, k;

	s->ht[i] = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (s->ht[j] == 0)
			return;
		k = hash_id(s->miners[s->ht[j] - 1].id) & mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->ht[i] = s->ht[j];
		s->ht[j] = 0;
		i = j;
	}
}

static bool
pool_ok(const struct sched *s, int pool)
{
	return pool >= 0 && (size_t)pool < s->n_pools && s->target[pool] > 0;
}

static bool
locked(const struct sched *s, const struct sched_miner *m, uint64_t now)
{
	return m->has_moved &&
	    now < m->last_move_ms + (uint64_t)s->p.min_switch_seconds * 1000;
}

/* The feedback starts over: old work was right for its own targets. */
static void
targets_changed(struct sched *s)
{
	s->ctl_ref_ms = s->now_ms;
	memset(s->since_ref, 0, sizeof(s->since_ref));
}

static void
update_targets(struct sched *s)
{
	double	 sum = 0;
	size_t	 i;

	for (i = 0; i < s->n_pools; i++)
		sum += s->up[i] ? s->weight[i] : 0;
	for (i = 0; i < SCHED_MAX_POOLS; i++)
		s->target[i] = (i < s->n_pools && s->up[i] && sum > 0) ?
		    s->weight[i] / sum : 0;
}

static void
advance(struct sched *s, uint64_t now)
{
	if (now > s->now_ms)
		s->now_ms = now;
}

/* ---- accounting of accepted difficulty ---- */

static void
ring_geometry(unsigned window_seconds, unsigned *nb, uint64_t *width_ms)
{
	*nb = window_seconds < SCHED_BUCKETS ? window_seconds : SCHED_BUCKETS;
	*width_ms = (uint64_t)window_seconds * 1000 / *nb;
}

/*
 * Bucket numbers start at 1 so that epoch 0 can mean "empty"; a bucket
 * is in the window ending at now when its number is within nb of now's.
 */
static uint64_t
bucket_no(const struct sched *s, uint64_t t)
{
	return t / s->width_ms + 1;
}

static void
ring_add(struct sched *s, int pool, const struct work *wk, uint64_t t)
{
	uint64_t	 b = bucket_no(s, t), bnow = bucket_no(s, s->now_ms);
	size_t		 slot = b % s->nb;

	if (b + s->nb <= bnow)
		return;		/* already outside the window */
	if (s->epoch[slot] > b)
		return;		/* slot reused by newer data */
	if (s->epoch[slot] != b) {
		memset(s->bucket[slot], 0, sizeof(s->bucket[slot]));
		s->epoch[slot] = b;
	}
	s->bucket[slot][pool].d += wk->d;
	s->bucket[slot][pool].d2 += wk->d2;
}

/* Work per pool in buckets numbered lo..hi; returns the total. */
static double
ring_range(const struct sched *s, uint64_t lo, uint64_t hi, struct work *out)
{
	double		 sum = 0;
	size_t		 i, p;

	memset(out, 0, sizeof(*out) * SCHED_MAX_POOLS);
	for (i = 0; i < s->nb; i++) {
		if (s->epoch[i] < lo || s->epoch[i] > hi)
			continue;
		for (p = 0; p < s->n_pools; p++) {
			out[p].d += s->bucket[i][p].d;
			out[p].d2 += s->bucket[i][p].d2;
			sum += s->bucket[i][p].d;
		}
	}
	return sum;
}

/* First bucket of the window ending at now that starts at/after from_ms. */
static uint64_t
ring_lo(const struct sched *s, uint64_t now, uint64_t from_ms)
{
	uint64_t	 bnow = bucket_no(s, now), bfrom = bucket_no(s, from_ms);
	uint64_t	 lo = bnow >= s->nb ? bnow - s->nb + 1 : 1;

	/* a bucket that straddles from_ms holds work from before it */
	if (from_ms % s->width_ms != 0)
		bfrom++;
	return bfrom > lo ? bfrom : lo;
}

/*
 * Work per pool over the window ending at now, from buckets that start
 * at or after from_ms.  Returns the total difficulty.
 */
static double
ring_sum(const struct sched *s, uint64_t now, uint64_t from_ms,
    struct work *out)
{
	return ring_range(s, ring_lo(s, now, from_ms), bucket_no(s, now), out);
}

static void
ring_reset(struct sched *s)
{
	memset(s->epoch, 0, sizeof(s->epoch));
	memset(s->bucket, 0, sizeof(s->bucket));
}

/* A new window length: move what fits into the new geometry. */
static int
ring_regeometry(struct sched *s, unsigned window_seconds)
{
	uint64_t	*oepoch;
	struct work	(*obucket)[SCHED_MAX_POOLS];
	uint64_t	 owidth = s->width_ms, t;
	unsigned	 onb = s->nb;
	size_t		 i, p;

	oepoch = malloc(sizeof(s->epoch));
	obucket = malloc(sizeof(s->bucket));
	if (oepoch == NULL || obucket == NULL) {
		free(oepoch);
		free(obucket);
		return -1;
	}
	memcpy(oepoch, s->epoch, sizeof(s->epoch));
	memcpy(obucket, s->bucket, sizeof(s->bucket));
	ring_reset(s);
	ring_geometry(window_seconds, &s->nb, &s->width_ms);
	for (i = 0; i < onb; i++) {
		if (oepoch[i] == 0)
			continue;
		t = (oepoch[i] - 1) * owidth;
		for (p = 0; p < s->n_pools; p++)
			if (obucket[i][p].d > 0)
				ring_add(s, (int)p, &obucket[i][p], t);
	}
	free(oepoch);
	free(obucket);
	return 0;
}

/* ---- hashrate estimates ---- */

static double
tau_ms(const struct sched *s)
{
	return (double)s->p.window_seconds * 1000 / 2;
}

/*
 * Decay a miner's accumulators to t.  acc_t integrates the same decay
 * over the time observed, so acc_diff / acc_t is an unbiased rate from
 * the first second on.
 */
static void
acc_decay(const struct sched *s, struct sched_miner *m, uint64_t t)
{
	double	 tau = tau_ms(s), k;

	if (t <= m->acc_ms)
		return;
	k = exp(-(double)(t - m->acc_ms) / tau);
	m->acc_diff *= k;
	m->acc_n *= k;
	m->acc_t = m->acc_t * k + tau / 1000 * (1 - k);
	m->acc_ms = t;
}

/*
 * LSD radix sort of s->ord by (key, id), 8 bits a pass, skipping the
 * passes where every entry has the same byte (ids and exponents mostly
 * do).  A full rebalance of 100k miners is dominated by this sort, and
 * this is several times faster than qsort's indirect comparisons.
 */
static void
ord_sort(struct sched *s)
{
	struct ord	*src = s->ord, *dst = s->ord_tmp, *tmp;
	size_t		 cnt[256], i, n = s->n_miners, pos, c;
	unsigned	 pass, shift;
	uint64_t	 v;

	for (pass = 0; pass < 16; pass++) {
		shift = (pass % 8) * 8;
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < n; i++) {
			v = pass < 8 ? src[i].id : src[i].key;
			cnt[(v >> shift) & 0xff]++;
		}
		v = pass < 8 ? src[0].id : src[0].key;
		if (n == 0 || cnt[(v >> shift) & 0xff] == n)
			continue;
		for (i = 0, pos = 0; i < 256; i++) {
			c = cnt[i];
			cnt[i] = pos;
			pos += c;
		}
		for (i = 0; i < n; i++) {
			v = pass < 8 ? src[i].id : src[i].key;
			dst[cnt[(v >> shift) & 0xff]++] = src[i];
		}
		tmp = src;
		src = dst;
		dst = tmp;
	}
	if (src != s->ord) {
		s->ord_tmp = s->ord;
		s->ord = src;
	}
}

/* Non-negative doubles order like their bits; invert for descending. */
static uint64_t
est_key(double est)
{
	uint64_t	 bits;

	if (!(est > 0))
		est = 0;
	memcpy(&bits, &est, sizeof(bits));
	return ~bits;
}

/* Fill est/var of every miner and s->ord sorted by (est desc, id). */
static void
estimate(struct sched *s, uint64_t now)
{
	struct sched_miner	*m;
	double			 pool_d = 0, pool_t = 0, hint_sum = 0;
	double			 prior, meas, n;
	size_t			 i, n_hint = 0;

	for (i = 0; i < s->n_miners; i++) {
		m = &s->miners[i];
		acc_decay(s, m, now);
		if (m->hint > 0) {
			hint_sum += m->hint;
			n_hint++;
		} else {
			pool_d += m->acc_diff;
			pool_t += m->acc_t;
		}
	}
	/*
	 * A miner with neither hint nor shares is assumed to be like the
	 * others: the pooled measured rate of the unhinted ones, else the
	 * mean hint, else 1 (all equal, the unit does not matter then).
	 */
	if (pool_d > 0 && pool_t > 0)
		prior = pool_d * TWO32 / pool_t;
	else if (n_hint > 0)
		prior = hint_sum / (double)n_hint;
	else
		prior = 1;
	for (i = 0; i < s->n_miners; i++) {
		m = &s->miners[i];
		n = m->acc_n;
		meas = m->acc_t > 0 ? m->acc_diff * TWO32 / m->acc_t : 0;
		m->est = (n * meas + PRIOR_SHARES *
		    (m->hint > 0 ? m->hint : prior)) / (n + PRIOR_SHARES);
		/* Poisson noise of the measured part, as it enters est */
		m->var = n * m->est * m->est /
		    ((n + PRIOR_SHARES) * (n + PRIOR_SHARES));
		s->ord[i].key = est_key(m->est);
		s->ord[i].id = m->id;
		s->ord[i].idx = (uint32_t)i;
	}
	ord_sort(s);
}

/* ---- swing miners ---- */

static struct sched_swing *
swing_find(struct sched *s, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < s->n_swing; i++)
		if (s->swing[i].id == id)
			return &s->swing[i];
	return NULL;
}

static void
swing_drop(struct sched *s, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < s->n_swing; i++) {
		if (s->swing[i].id == id) {
			s->swing[i] = s->swing[--s->n_swing];
			return;
		}
	}
}

/*
 * Hysteresis band of the modulator: on pool q the credit falls at
 * (1 - f_q) per second, so leaving at -band after entering at +band
 * gives a dwell of f_q * slice and a cycle of slice_seconds.
 */
static double
swing_band(const struct sched *s, const double *f, int q)
{
	return f[q] * (1 - f[q]) * s->p.slice_seconds / 2;
}

/* The pool a swing miner owes most time, among pools it may work for. */
static int
swing_dest(const struct sched *s, const struct sched_swing *e,
    const double *f, int except)
{
	int	 p, best = -1;

	for (p = 0; p < (int)s->n_pools; p++) {
		if (p == except || f[p] <= 0)
			continue;
		if (best == -1 || e->credit[p] > e->credit[best] ||
		    (e->credit[p] == e->credit[best] && f[p] > f[best]))
			best = p;
	}
	return best;
}

/* ---- the tick ---- */

/* What one tick works with, filled step by step. */
struct tick {
	uint64_t	 now;
	enum sched_reason reason;
	double		 D[SCHED_MAX_POOLS];	/* H/s wanted from free miners */
	double		 L[SCHED_MAX_POOLS];	/* H/s placed whole */
	double		 hpin[SCHED_MAX_POOLS];
	double		 hfree;
	double		 hall;
	double		 tol_abs;		/* H/s */
	/* measured since the targets last changed */
	struct work	 w[SCHED_MAX_POOLS];
	double		 wtot;
	double		 z;		/* largest error, in sigmas */
	int		 over;		/* pool most above its target */
	bool		 hold;		/* swing miners keep swinging */
	size_t		 n_sw;
	size_t		 nmv;
};

static int
ensure_scratch(struct sched *s)
{
	struct ord	*o;
	struct mv	*v;
	size_t		 ncap;

	if (s->cap_scratch >= s->n_miners + SCHED_MAX_SWING)
		return 0;
	ncap = (s->n_miners + SCHED_MAX_SWING) * 2;
	if ((o = reallocarray(s->ord, ncap, sizeof(*o))) == NULL)
		return -1;
	s->ord = o;
	if ((o = reallocarray(s->ord_tmp, ncap, sizeof(*o))) == NULL)
		return -1;
	s->ord_tmp = o;
	if ((v = reallocarray(s->mv, ncap, sizeof(*v))) == NULL)
		return -1;
	s->mv = v;
	s->cap_scratch = ncap;
	return 0;
}

static int
mv_cmp(const void *a, const void *b)
{
	const struct mv *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* Pool with the largest hashrate deficit (ties: weight, then index). */
static int
best_deficit(const struct sched *s, const double *D, const double *L,
    int except)
{
	int	 p, best = -1;
	double	 d, bd = 0;

	for (p = 0; p < (int)s->n_pools; p++) {
		if (s->target[p] <= 0 || p == except)
			continue;
		d = D[p] - L[p];
		if (best == -1 || d > bd ||
		    (d == bd && s->weight[p] > s->weight[best])) {
			best = p;
			bd = d;
		}
	}
	return best;
}

/*
 * TOL_SIGMA standard deviations of the noise in the pools' estimated
 * shares of the free fleet, where the miners are now: d(share_p)/d(est_i)
 * is (1[i in p] - s_p) / H, so var = ((1 - 2 s_p) V_p + s_p^2 V) / H^2.
 * *fleet gets the same for an even split, sqrt(V) / 2H, which does not
 * depend on where the swing miners happen to be this second.
 */
static double
est_noise(const struct sched *s, double *fleet)
{
	double		 lv[SCHED_MAX_POOLS], lk[SCHED_MAX_POOLS];
	double		 V = 0, H = 0, sp, var, tol = 0;
	struct sched_miner *m;
	size_t		 i, p;

	memset(lv, 0, sizeof(lv));
	memset(lk, 0, sizeof(lk));
	*fleet = 0;
	for (i = 0; i < s->n_miners; i++) {
		m = &s->miners[i];
		if (m->st == ST_PINNED)
			continue;
		V += m->var;
		H += m->est;
		if (!pool_ok(s, m->pool))
			continue;
		lv[m->pool] += m->var;
		lk[m->pool] += m->est;
	}
	if (!(H > 0))
		return 0;
	*fleet = TOL_SIGMA * sqrt(V) / (2 * H);
	for (p = 0; p < s->n_pools; p++) {
		sp = lk[p] / H;
		var = ((1 - 2 * sp) * lv[p] + sp * sp * V) / (H * H);
		if (var > 0 && TOL_SIGMA * sqrt(var) > tol)
			tol = TOL_SIGMA * sqrt(var);
	}
	return tol;
}

static void
push_move(struct sched *s, struct tick *t, const struct sched_miner *m,
    int pool, enum sched_reason reason, enum prio prio)
{
	struct mv	*v = &s->mv[t->nmv++];

	v->id = m->id;
	v->pool = pool;
	v->reason = reason;
	v->prio = prio;
	v->idx = (uint32_t)(m - s->miners);
}

#define FOREACH_ORD(s, i, m)						\
	for ((i) = 0; (i) < (s)->n_miners &&				\
	    ((m) = &(s)->miners[(s)->ord[(i)].idx], 1); (i)++)

/* Pins first; a pin to a down pool waits until the pool is back. */
static void
tick_classify(struct sched *s, struct tick *t)
{
	struct sched_miner	*m;
	size_t			 i;

	FOREACH_ORD(s, i, m) {
		if (m->pin >= 0 && (size_t)m->pin < s->n_pools &&
		    s->up[m->pin]) {
			m->st = ST_PINNED;
			t->hpin[m->pin] += m->est;
			if (m->pool != m->pin)
				push_move(s, t, m, m->pin, SCHED_REASON_PIN,
				    PRIO_PIN);
			continue;
		}
		t->hfree += m->est;
		if (!pool_ok(s, m->pool) || m->swing) {
			m->st = ST_UNPLACED;
		} else {
			m->st = ST_PLACED;
			m->place = m->pool;
			t->L[m->pool] += m->est;
		}
	}
}

/*
 * What the free fleet should give each pool so that pinned plus free
 * work meets the targets; a pool its pins already overfill gets nothing
 * and the rest is scaled to what the fleet has.
 */
static void
tick_desired(struct sched *s, struct tick *t)
{
	double	 sum = 0;
	size_t	 p;

	t->hall = t->hfree;
	for (p = 0; p < s->n_pools; p++)
		t->hall += t->hpin[p];
	for (p = 0; p < s->n_pools; p++) {
		t->D[p] = s->target[p] * t->hall - t->hpin[p];
		if (t->D[p] < 0 || s->target[p] <= 0)
			t->D[p] = 0;
		sum += t->D[p];
	}
	for (p = 0; p < s->n_pools; p++)
		t->D[p] = sum > 0 ? t->D[p] * t->hfree / sum : 0;
}

/*
 * The measured error of each pool's share since the targets changed,
 * in standard deviations of its Poisson noise: d(share_p)/d(W_i) is
 * (1[i in p] - s_p) / W, so var = ((1 - 2 s_p) Q_p + s_p^2 Q) / W^2
 * with Q the sums of squared share difficulties.
 */
static double
share_z(const struct sched *s, const struct work *w, double tot, int *over)
{
	double	 q = 0, sp, e, var, z = 0, best_e = 0;
	size_t	 p;

	if (over != NULL)
		*over = -1;
	if (!(tot > 0))
		return 0;
	for (p = 0; p < s->n_pools; p++)
		q += w[p].d2;
	for (p = 0; p < s->n_pools; p++) {
		sp = w[p].d / tot;
		e = sp - s->target[p];
		var = ((1 - 2 * sp) * w[p].d2 + sp * sp * q) / (tot * tot);
		if (fabs(e) > TOL_MIN && var > 0 && fabs(e) / sqrt(var) > z)
			z = fabs(e) / sqrt(var);
		if (over != NULL && e > best_e && s->target[p] > 0) {
			best_e = e;
			*over = (int)p;
		}
	}
	return z;
}

/*
 * Measured errors since the targets last changed: over the window, and
 * over all of it (more shares, so a small persistent error shows there
 * first).
 */
static void
tick_measure(struct sched *s, struct tick *t)
{
	double	 tot = 0, z;
	size_t	 p;

	t->wtot = ring_sum(s, t->now, s->ctl_ref_ms, t->w);
	t->z = share_z(s, t->w, t->wtot, &t->over);
	for (p = 0; p < s->n_pools; p++)
		tot += s->since_ref[p].d;
	if ((z = share_z(s, s->since_ref, tot, NULL)) > t->z)
		t->z = z;
}

/*
 * Shed from pools above target by more than the tolerance: largest
 * miners first that fit in the excess (fewest moves), as long as each
 * one brings the pool closer to its target.
 */
static void
tick_shed(struct sched *s, struct tick *t)
{
	struct sched_miner	*m;
	bool			 shed[SCHED_MAX_POOLS];
	double			 ex;
	size_t			 i, p;

	for (p = 0; p < s->n_pools; p++)
		shed[p] = t->L[p] - t->D[p] > t->tol_abs;
	FOREACH_ORD(s, i, m) {
		if (m->st != ST_PLACED || !shed[m->place] ||
		    locked(s, m, t->now))
			continue;
		ex = t->L[m->place] - t->D[m->place];
		if (m->est <= ex + t->tol_abs && m->est < 2 * ex) {
			m->st = ST_SHED;
			t->L[m->place] -= m->est;
		}
	}
}

static void
make_swing(struct tick *t, struct sched_miner *m)
{
	m->st = ST_SWING;
	t->n_sw++;
}

/* Place the unplaced, largest first, where they fit whole. */
static void
tick_place(struct sched *s, struct tick *t)
{
	struct sched_miner	*m;
	size_t			 i;
	int			 p, cur;

	FOREACH_ORD(s, i, m) {
		if (m->st != ST_UNPLACED && m->st != ST_SHED)
			continue;
		cur = m->pool;
		if (m->st == ST_SHED) {
			/* it left for a reason: not straight back */
			p = best_deficit(s, t->D, t->L, cur);
		} else if (m->swing && t->hold) {
			/* measured error still significant: keep slicing */
			make_swing(t, m);
			continue;
		} else if (pool_ok(s, cur) &&
		    m->est <= t->D[cur] - t->L[cur] + t->tol_abs) {
			p = cur;
		} else if (pool_ok(s, cur) && locked(s, m, t->now)) {
			/* a swing miner that may not move yet stays one */
			if (m->swing) {
				make_swing(t, m);
				continue;
			}
			p = cur;
		} else {
			p = best_deficit(s, t->D, t->L, -1);
		}
		if (p < 0 || (p != cur &&
		    m->est > t->D[p] - t->L[p] + t->tol_abs)) {
			make_swing(t, m);
			continue;
		}
		m->st = ST_PLACED;
		m->place = p;
		t->L[p] += m->est;
	}
}

/*
 * Take a whole miner of pool p into the swing set: the smallest that is
 * at least need, else the largest; locked ones cannot.
 */
static struct sched_miner *
pick_swing(struct sched *s, struct tick *t, int p, double need)
{
	struct sched_miner	*m, *ge = NULL, *big = NULL;
	size_t			 i;

	FOREACH_ORD(s, i, m) {
		if (m->st != ST_PLACED || m->place != p || locked(s, m, t->now))
			continue;
		if (big == NULL)
			big = m;
		if (m->est >= need)
			ge = m;
	}
	if ((m = ge != NULL ? ge : big) == NULL)
		return NULL;
	make_swing(t, m);
	t->L[p] -= m->est;
	return m;
}

static double
horizon(const struct sched *s)
{
	double	 h = (double)s->p.window_seconds / FEEDBACK_DIV;

	return h < 2.0 * s->p.slice_seconds ? 2.0 * s->p.slice_seconds : h;
}

static void
tick_swing_select(struct sched *s, struct tick *t, bool force, bool keep)
{
	struct sched_miner	*m;
	size_t			 i, k, p;
	double			 need;
	int			 q;

	/*
	 * A pool still above target (its miners are all too big to shed,
	 * or locked) lends miners to the swing set until covered.
	 */
	for (p = 0; p < s->n_pools; p++)
		while (t->L[p] - t->D[p] > t->tol_abs &&
		    t->n_sw < SCHED_MAX_SWING &&
		    pick_swing(s, t, (int)p, t->L[p] - t->D[p]) != NULL)
			;
	/*
	 * The partition looks right but the measured shares say otherwise
	 * (estimates are noisy, luck is real): slice one miner of the pool
	 * that got too much, one big enough to pay back the excess.
	 */
	if (force && t->n_sw == 0 && t->over >= 0) {
		need = (t->w[t->over].d - s->target[t->over] * t->wtot) *
		    TWO32 / horizon(s);
		pick_swing(s, t, t->over, need);
	}
	/*
	 * Slicing only stops once the partition is known to be exact; a
	 * swing miner that merely looked like it fits (its estimate had a
	 * bad minute) goes on swinging.
	 */
	if (keep && t->n_sw == 0) {
		FOREACH_ORD(s, i, m) {
			if (!m->swing || m->st != ST_PLACED ||
			    (m->place != m->pool && locked(s, m, t->now)))
				continue;
			make_swing(t, m);
			t->L[m->place] -= m->est;
			break;
		}
	}

	/* Past the swing cap, the smallest go whole to the largest deficit. */
	if (t->n_sw > SCHED_MAX_SWING) {
		k = 0;
		FOREACH_ORD(s, i, m) {
			if (m->st != ST_SWING || ++k <= SCHED_MAX_SWING)
				continue;
			if (locked(s, m, t->now) && pool_ok(s, m->pool))
				q = m->pool;
			else if ((q = best_deficit(s, t->D, t->L, -1)) < 0)
				continue;
			m->st = ST_PLACED;
			m->place = q;
			t->L[q] += m->est;
		}
		t->n_sw = SCHED_MAX_SWING;
	}
}

/*
 * Swing fractions: feedforward is what whole miners leave unfilled;
 * feedback is the accepted-difficulty deficit since the targets last
 * changed, as hashrate paid back over the horizon.  Work from before a
 * weight change is not chased: it was right for the weights of its time.
 */
static void
tick_fractions(struct sched *s, struct tick *t, double *f)
{
	struct work	 out[SCHED_MAX_POOLS];
	double		 g[SCHED_MAX_POOLS], sum = 0, h = horizon(s), wout;
	uint64_t	 lo, bnow = bucket_no(s, t->now), nb;
	size_t		 p;

	/*
	 * Work that leaves the window within the horizon takes its error
	 * with it; paying that part back as well would only put the same
	 * error back into the window, reversed, one window later.
	 */
	lo = ring_lo(s, t->now, s->ctl_ref_ms);
	nb = (uint64_t)(h * 1000 / (double)s->width_ms);
	wout = 0;
	memset(out, 0, sizeof(out));
	if (bnow >= s->nb && bnow - s->nb + 1 + nb >= lo)
		wout = ring_range(s, lo, bnow - s->nb + nb, out);
	for (p = 0; p < s->n_pools; p++) {
		g[p] = 0;
		if (s->target[p] <= 0)
			continue;
		g[p] = t->D[p] - t->L[p];
		if (g[p] < 0)
			g[p] = 0;
		g[p] += ((s->target[p] * t->wtot - t->w[p].d) -
		    (s->target[p] * wout - out[p].d)) * TWO32 / h;
		if (g[p] < 0)
			g[p] = 0;
		sum += g[p];
	}
	for (p = 0; p < SCHED_MAX_POOLS; p++)
		f[p] = p < s->n_pools && sum > 0 ? g[p] / sum : s->target[p];
}

/* Run each swing miner's modulator; move those whose turn is over. */
static void
tick_modulate(struct sched *s, struct tick *t)
{
	struct sched_miner	*m;
	struct sched_swing	*e;
	double			 f[SCHED_MAX_POOLS], cmax, c, dt;
	size_t			 i, k = 0, n_new = 0;
	int			 p, q, cur, dest;

	/* forget the modulator of miners that stopped swinging */
	for (i = 0; i < s->n_swing; ) {
		m = miner_find(s, s->swing[i].id);
		if (m == NULL || m->st != ST_SWING)
			s->swing[i] = s->swing[--s->n_swing];
		else
			i++;
	}
	if (t->n_sw == 0)
		return;
	tick_fractions(s, t, f);
	/* bounded, so a long stall is not paid back forever */
	cmax = (double)s->p.slice_seconds + 2.0 * s->p.min_switch_seconds;
	FOREACH_ORD(s, i, m)
		if (m->st == ST_SWING && swing_find(s, m->id) == NULL)
			n_new++;
	FOREACH_ORD(s, i, m) {
		if (m->st != ST_SWING)
			continue;
		cur = m->pool;
		if ((e = swing_find(s, m->id)) == NULL) {
			/* tick_swing_select keeps n_sw <= SCHED_MAX_SWING */
			if (s->n_swing == SCHED_MAX_SWING)
				continue;
			e = &s->swing[s->n_swing++];
			memset(e, 0, sizeof(*e));
			e->id = m->id;
			e->last_ms = t->now;
			/*
			 * Stagger new swing miners over the cycle so they do
			 * not all switch on the same tick.
			 */
			q = pool_ok(s, cur) && f[cur] > 0 ? cur :
			    swing_dest(s, e, f, -1);
			if (q >= 0 && f[q] < 1) {
				c = swing_band(s, f, q) *
				    (1 - 2.0 * (double)k / (double)n_new);
				e->credit[q] = c;
				for (p = 0; p < (int)s->n_pools; p++)
					if (p != q)
						e->credit[p] = -c * f[p] /
						    (1 - f[q]);
			}
			k++;
		}
		dt = t->now > e->last_ms ?
		    (double)(t->now - e->last_ms) / 1000 : 0;
		e->last_ms = t->now;
		for (p = 0; p < (int)s->n_pools; p++)
			e->credit[p] += f[p] * dt;
		if (pool_ok(s, cur))
			e->credit[cur] -= dt;
		for (p = 0; p < (int)s->n_pools; p++) {
			if (e->credit[p] > cmax)
				e->credit[p] = cmax;
			if (e->credit[p] < -cmax)
				e->credit[p] = -cmax;
		}
		dest = -1;
		if (!pool_ok(s, cur))
			dest = swing_dest(s, e, f, -1);
		else if (!locked(s, m, t->now) && (f[cur] <= 0 ||
		    e->credit[cur] <= -swing_band(s, f, cur)))
			dest = swing_dest(s, e, f, cur);
		if (dest >= 0 && dest != cur)
			push_move(s, t, m, dest, t->reason,
			    pool_ok(s, cur) ? PRIO_NORMAL : PRIO_FORCED);
	}
}

size_t
sched_tick(struct sched *s, uint64_t now, struct sched_move *moves,
    size_t cap)
{
	struct tick		 t;
	struct sched_miner	*m;
	size_t			 i, nout;
	double			 noise, fleet, tol;
	bool			 any = false, force, keep;

	advance(s, now);
	memset(&t, 0, sizeof(t));
	t.now = s->now_ms;
	t.reason = s->weights_changed ? SCHED_REASON_WEIGHTS_CHANGED :
	    SCHED_REASON_SCHEDULE;
	s->weights_changed = false;
	for (i = 0; i < s->n_pools; i++)
		any |= s->target[i] > 0;
	/* Every pool down: nothing to decide, the dataplane holds on. */
	if (!any || s->n_miners == 0 || ensure_scratch(s) == -1)
		return 0;

	estimate(s, t.now);
	tick_classify(s, &t);
	tick_desired(s, &t);
	tick_measure(s, &t);
	/*
	 * Slicing starts when the estimated partition error or the
	 * measured one is significant, and stops only once both are
	 * small: hysteresis, so noise does not turn it on and off.
	 */
	force = t.z > (s->swing_active ? Z_HOLD : Z_TRIG);
	t.hold = s->swing_active && force;
	noise = est_noise(s, &fleet);
	if (s->swing_active) {
		tol = TOL_MIN;
		/* while estimates are too noisy to call the partition exact */
		keep = force || fleet > TOL_EXIT;
	} else {
		tol = noise < TOL_MIN ? TOL_MIN : noise > TOL_MAX ? TOL_MAX :
		    noise;
		keep = false;
	}
	t.tol_abs = tol * t.hall;
	tick_shed(s, &t);
	tick_place(s, &t);
	tick_swing_select(s, &t, force, keep);

	/* whole miners that end up somewhere new */
	FOREACH_ORD(s, i, m)
		if (m->st == ST_PLACED && m->place != m->pool)
			push_move(s, &t, m, m->place, t.reason,
			    pool_ok(s, m->pool) ? PRIO_NORMAL : PRIO_FORCED);
	tick_modulate(s, &t);
	for (i = 0; i < s->n_miners; i++)
		s->miners[i].swing = s->miners[i].st == ST_SWING;
	s->swing_active = t.n_sw > 0;

	/*
	 * Apply what fits in the caller's array, most urgent first; the
	 * rest is decided again next tick from where miners really are.
	 * (Pins come first anyway; other moves are in fleet order.)
	 */
	if (t.nmv > cap)
		qsort(s->mv, t.nmv, sizeof(*s->mv), mv_cmp);
	nout = t.nmv < cap ? t.nmv : cap;
	for (i = 0; i < nout; i++) {
		m = &s->miners[s->mv[i].idx];
		moves[i].miner_id = s->mv[i].id;
		moves[i].pool = s->mv[i].pool;
		moves[i].reason = s->mv[i].reason;
		m->pool = s->mv[i].pool;
		m->last_move_ms = t.now;
		m->has_moved = true;
		s->switches++;
	}
	return nout;
}

/* ---- setup and events ---- */

struct sched *
sched_new(const struct sched_params *p)
{
	struct sched	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	sched_set_params(s, p);
	return s;
}

void
sched_free(struct sched *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_miners; i++)
		free(s->miners[i].worker);
	for (i = 0; i < s->n_pins; i++)
		free(s->pins[i].worker);
	free(s->miners);
	free(s->ht);
	free(s->pins);
	free(s->ord);
	free(s->ord_tmp);
	free(s->mv);
	free(s);
}

void
sched_set_params(struct sched *s, const struct sched_params *p)
{
	struct sched_params	 np = *p;

	/* The config validated these; clamp rather than divide by zero. */
	if (np.slice_seconds < 1)
		np.slice_seconds = 1;
	if (np.min_switch_seconds < 1)
		np.min_switch_seconds = 1;
	if (np.window_seconds < 10)
		np.window_seconds = 10;
	if (s->nb == 0) {
		ring_geometry(np.window_seconds, &s->nb, &s->width_ms);
	} else if (np.window_seconds != s->p.window_seconds &&
	    ring_regeometry(s, np.window_seconds) == -1) {
		/* out of memory: keep the old window rather than lose data */
		np.window_seconds = s->p.window_seconds;
	}
	s->p = np;
}

static bool
weights_valid(const double *w, size_t n)
{
	double	 sum = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (!isfinite(w[i]) || w[i] < 0)
			return false;
		sum += w[i];
	}
	return sum > 0;
}

int
sched_set_pools(struct sched *s, size_t n, const char *const *keys,
    const double *weights)
{
	bool	 same = n == s->n_pools;
	size_t	 i;

	if (n == 0 || n > SCHED_MAX_POOLS || !weights_valid(weights, n))
		return -1;
	for (i = 0; i < n; i++) {
		if (keys[i] == NULL || strlen(keys[i]) >= SCHED_KEY_MAX)
			return -1;
		if (same && strcmp(keys[i], s->keys[i]) != 0)
			same = false;
	}
	/*
	 * Accepted work is kept by index: when the pools themselves
	 * changed, old counts would be credited to the wrong pool.
	 */
	if (!same) {
		ring_reset(s);
		memset(s->total, 0, sizeof(s->total));
		s->n_swing = 0;
		s->swing_active = false;
		for (i = 0; i < s->n_miners; i++)
			s->miners[i].swing = false;
		for (i = 0; i < SCHED_MAX_POOLS; i++)
			s->up[i] = true;
		targets_changed(s);
	} else {
		/* a reload that only changed weights is a weight change */
		for (i = 0; i < n; i++)
			if (s->weight[i] != weights[i])
				break;
		if (i < n) {
			s->weights_changed = true;
			targets_changed(s);
		}
	}
	for (i = 0; i < n; i++) {
		memset(s->keys[i], 0, SCHED_KEY_MAX);
		memcpy(s->keys[i], keys[i], strlen(keys[i]));
		s->weight[i] = weights[i];
	}
	s->n_pools = n;
	/* A pin to a pool that no longer exists is void. */
	for (i = 0; i < s->n_pins; ) {
		if ((size_t)s->pins[i].pool >= n) {
			free(s->pins[i].worker);
			memmove(&s->pins[i], &s->pins[i + 1],
			    (s->n_pins - i - 1) * sizeof(s->pins[i]));
			s->n_pins--;
		} else
			i++;
	}
	for (i = 0; i < s->n_miners; i++)
		if (s->miners[i].pin >= (int)n)
			s->miners[i].pin = -1;
	update_targets(s);
	return 0;
}

int
sched_set_weights(struct sched *s, const double *weights, size_t n,
    uint64_t now_ms)
{
	bool	 changed = false;
	size_t	 i;

	if (n != s->n_pools || !weights_valid(weights, n))
		return -1;
	advance(s, now_ms);
	for (i = 0; i < n; i++) {
		if (s->weight[i] != weights[i])
			changed = true;
		s->weight[i] = weights[i];
	}
	if (changed) {
		s->weights_changed = true;
		targets_changed(s);
		update_targets(s);
	}
	return 0;
}

void
sched_set_pool_up(struct sched *s, int pool, bool up, uint64_t now_ms)
{
	if (pool < 0 || (size_t)pool >= s->n_pools)
		return;
	advance(s, now_ms);
	if (s->up[pool] == up)
		return;
	s->up[pool] = up;
	targets_changed(s);
	update_targets(s);
}

static int
pin_cmp(const void *a, const void *b)
{
	const struct sched_pin *x = a, *y = b;

	return strcmp(x->worker, y->worker);
}

static struct sched_pin *
pin_find(const struct sched *s, const char *worker)
{
	struct sched_pin	 key;

	if (s->n_pins == 0 || worker == NULL)
		return NULL;
	key.worker = (char *)worker;
	return bsearch(&key, s->pins, s->n_pins, sizeof(*s->pins), pin_cmp);
}

void
sched_miner_upsert(struct sched *s, uint64_t id, const char *worker,
    int pool, double hashrate, uint64_t now_ms)
{
	struct sched_miner	*m, *nm;
	struct sched_pin	*pin;
	size_t			 ncap, slot;
	char			*w;

	advance(s, now_ms);
	if (!isfinite(hashrate) || hashrate < 0)
		hashrate = 0;
	if (pool >= (int)SCHED_MAX_POOLS || pool < -1)
		pool = -1;
	if (worker == NULL)
		worker = "";
	if ((m = miner_find(s, id)) != NULL) {
		m->hint = hashrate;
		if (m->pool != pool) {
			/* the dataplane moved it behind our back */
			m->pool = pool;
			m->last_move_ms = now_ms;
			m->has_moved = pool >= 0;
		}
		if (strncmp(m->worker, worker, SCHED_WORKER_MAX - 1) != 0) {
			if ((w = strndup(worker, SCHED_WORKER_MAX - 1)) == NULL)
				return;
			free(m->worker);
			m->worker = w;
			pin = pin_find(s, m->worker);
			m->pin = pin != NULL ? pin->pool : -1;
		}
		return;
	}

	if (s->n_miners == s->cap_miners) {
		ncap = s->cap_miners == 0 ? 64 : s->cap_miners * 2;
		if ((nm = reallocarray(s->miners, ncap, sizeof(*nm))) == NULL)
			return;
		s->miners = nm;
		s->cap_miners = ncap;
	}
	/* keep the index at most half full */
	if ((s->n_miners + 1) * 2 > s->ht_cap && ht_grow(s) == -1)
		return;
	if ((w = strndup(worker, SCHED_WORKER_MAX - 1)) == NULL)
		return;
	m = &s->miners[s->n_miners];
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->worker = w;
	m->pool = pool;
	/* Being put somewhere on connect starts its first dwell. */
	m->has_moved = pool >= 0;
	m->last_move_ms = now_ms;
	m->hint = hashrate;
	m->acc_ms = now_ms;
	pin = pin_find(s, w);
	m->pin = pin != NULL ? pin->pool : -1;
	slot = ht_slot(s, id);
	s->ht[slot] = (uint32_t)(s->n_miners + 1);
	s->n_miners++;
}

void
sched_miner_remove(struct sched *s, uint64_t id)
{
	struct sched_miner	*m;
	size_t			 slot, idx, last;

	if (s->ht_cap == 0)
		return;
	slot = ht_slot(s, id);
	if (s->ht[slot] == 0)
		return;
	idx = s->ht[slot] - 1;
	m = &s->miners[idx];
	swing_drop(s, id);
	free(m->worker);
	ht_delete(s, slot);
	last = s->n_miners - 1;
	if (idx != last) {
		s->miners[idx] = s->miners[last];
		slot = ht_slot(s, s->miners[idx].id);
		s->ht[slot] = (uint32_t)(idx + 1);
	}
	s->n_miners--;
}

void
sched_miner_moved(struct sched *s, uint64_t id, int pool, uint64_t now_ms)
{
	struct sched_miner	*m;

	advance(s, now_ms);
	if ((m = miner_find(s, id)) == NULL)
		return;
	/* A confirmation of our own move must not restart its dwell. */
	if (m->pool == pool)
		return;
	m->pool = pool >= -1 && pool < (int)SCHED_MAX_POOLS ? pool : -1;
	m->last_move_ms = now_ms;
	m->has_moved = m->pool >= 0;
}

void
sched_share_accepted(struct sched *s, uint64_t id, int pool,
    double difficulty, uint64_t now_ms)
{
	struct sched_miner	*m;
	struct work		 wk;

	if (pool < 0 || (size_t)pool >= s->n_pools || !isfinite(difficulty) ||
	    difficulty <= 0)
		return;
	advance(s, now_ms);
	wk.d = difficulty;
	wk.d2 = difficulty * difficulty;
	ring_add(s, pool, &wk, now_ms);
	s->total[pool] += difficulty;
	if (now_ms >= s->ctl_ref_ms) {
		s->since_ref[pool].d += wk.d;
		s->since_ref[pool].d2 += wk.d2;
	}
	if ((m = miner_find(s, id)) != NULL) {
		acc_decay(s, m, now_ms);
		m->acc_diff += difficulty;
		m->acc_n += 1;
	}
}

void
sched_history_accepted(struct sched *s, int pool, double difficulty)
{
	if (pool < 0 || (size_t)pool >= s->n_pools || !isfinite(difficulty) ||
	    difficulty <= 0)
		return;
	s->total[pool] += difficulty;
}

int
sched_pin(struct sched *s, const char *worker, int pool)
{
	struct sched_pin	*pin, *np;
	size_t			 i, ncap;
	char			*w;

	if (worker == NULL || *worker == '\0' ||
	    strlen(worker) >= SCHED_WORKER_MAX || pool < -1 ||
	    (pool >= 0 && (size_t)pool >= s->n_pools))
		return -1;
	if ((pin = pin_find(s, worker)) != NULL) {
		if (pool == -1) {
			free(pin->worker);
			i = (size_t)(pin - s->pins);
			memmove(pin, pin + 1,
			    (s->n_pins - i - 1) * sizeof(*pin));
			s->n_pins--;
		} else {
			pin->pool = pool;
		}
	} else if (pool >= 0) {
		if (s->n_pins >= SCHED_MAX_PINS)
			return -1;
		if (s->n_pins == s->cap_pins) {
			ncap = s->cap_pins == 0 ? 16 : s->cap_pins * 2;
			if ((np = reallocarray(s->pins, ncap,
			    sizeof(*np))) == NULL)
				return -1;
			s->pins = np;
			s->cap_pins = ncap;
		}
		if ((w = strdup(worker)) == NULL)
			return -1;
		s->pins[s->n_pins].worker = w;
		s->pins[s->n_pins].pool = pool;
		s->n_pins++;
		qsort(s->pins, s->n_pins, sizeof(*s->pins), pin_cmp);
	}
	/* Rare operator action: a scan of the fleet is fine. */
	for (i = 0; i < s->n_miners; i++)
		if (strcmp(s->miners[i].worker, worker) == 0)
			s->miners[i].pin = pool;
	return 0;
}

int
sched_pin_get(const struct sched *s, const char *worker)
{
	const struct sched_pin	*pin = pin_find(s, worker);

	return pin != NULL ? pin->pool : -1;
}

int
sched_newcomer_pool(const struct sched *s)
{
	struct work w[SCHED_MAX_POOLS];
	double	 tot, d, bd = 0;
	int	 p, best = -1;

	tot = ring_sum(s, s->now_ms, 0, w);
	for (p = 0; p < (int)s->n_pools; p++) {
		if (s->target[p] <= 0)
			continue;
		d = s->target[p] - (tot > 0 ? w[p].d / tot : 0);
		if (best == -1 || d > bd ||
		    (d == bd && s->weight[p] > s->weight[best])) {
			best = p;
			bd = d;
		}
	}
	return best;
}

double
sched_window_share(const struct sched *s, int pool, uint64_t now_ms)
{
	struct work w[SCHED_MAX_POOLS];
	double	 tot;

	if (pool < 0 || (size_t)pool >= s->n_pools)
		return 0;
	tot = ring_sum(s, now_ms, 0, w);
	return tot > 0 ? w[pool].d / tot : 0;
}

double
sched_total_share(const struct sched *s, int pool)
{
	double	 tot = 0;
	size_t	 p;

	if (pool < 0 || (size_t)pool >= s->n_pools)
		return 0;
	for (p = 0; p < s->n_pools; p++)
		tot += s->total[p];
	return tot > 0 ? s->total[pool] / tot : 0;
}

double
sched_target_share(const struct sched *s, int pool)
{
	if (pool < 0 || (size_t)pool >= s->n_pools)
		return 0;
	return s->target[pool];
}

uint64_t
sched_switches(const struct sched *s)
{
	return s->switches;
}

const char *
sched_reason_str(enum sched_reason r)
{
	switch (r) {
	case SCHED_REASON_SCHEDULE:
		return "schedule";
	case SCHED_REASON_PIN:
		return "pin";
	case SCHED_REASON_WEIGHTS_CHANGED:
		return "weights_changed";
	}
	return "unknown";
}

int
sched_miner_pool(const struct sched *s, uint64_t id)
{
	const struct sched_miner *m = miner_find(s, id);

	return m != NULL ? m->pool : -1;
}

double
sched_miner_hashrate(const struct sched *s, uint64_t id)
{
	const struct sched_miner *m = miner_find(s, id);

	return m != NULL ? m->est : 0;
}

bool
sched_miner_swinging(const struct sched *s, uint64_t id)
{
	const struct sched_miner *m = miner_find(s, id);

	return m != NULL && m->swing;
}

size_t
sched_miner_count(const struct sched *s)
{
	return s->n_miners;
}
