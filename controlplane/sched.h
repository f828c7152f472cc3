/*
 * sched: the weight scheduler.  Decides which pool each miner works for so
 * that each pool's share of accepted difficulty matches its weight, with
 * whole miners kept on one pool where the fleet allows and only the
 * remainder time-sliced.  Pure logic: no sockets, no clock of its own
 * (every call takes now_ms), so the same inputs give the same decisions.
 */
#ifndef DPMP_SCHED_H
#define DPMP_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_POOLS	16

struct sched_params {
	unsigned	slice_seconds;		/* >= 1 */
	unsigned	min_switch_seconds;	/* minimum dwell, >= 1 */
	unsigned	window_seconds;		/* accounting window, >= 10 */
};

/* Why a miner is moved (the Assign RPC's reason). */
enum sched_reason {
	SCHED_REASON_SCHEDULE = 0,
	SCHED_REASON_PIN,
	SCHED_REASON_WEIGHTS_CHANGED,
};

struct sched_move {
	uint64_t	 miner_id;
	int		 pool;		/* pool index */
	enum sched_reason reason;
};

struct sched;

struct sched *sched_new(const struct sched_params *p);
void	sched_free(struct sched *s);
void	sched_set_params(struct sched *s, const struct sched_params *p);

/* Pools by index (0..n-1, config order).  Weights >= 0, not all zero
 * (a down or disabled pool is treated as weight 0 while it is down). */
int	sched_set_pools(struct sched *s, size_t n, const char *const *keys,
	    const double *weights);
int	sched_set_weights(struct sched *s, const double *weights, size_t n,
	    uint64_t now_ms);
void	sched_set_pool_up(struct sched *s, int pool, bool up, uint64_t now_ms);

/* Miners.  pool is where the dataplane has it now (-1: nowhere yet);
 * a pool other than the one the scheduler knew counts as a move (its
 * dwell starts).  hashrate is the dataplane's estimate in H/s (0 =
 * unknown); call again whenever it changes. */
void	sched_miner_upsert(struct sched *s, uint64_t id, const char *worker,
	    int pool, double hashrate, uint64_t now_ms);
void	sched_miner_remove(struct sched *s, uint64_t id);
/* The dataplane moved it on its own (failover) or confirmed a move. */
void	sched_miner_moved(struct sched *s, uint64_t id, int pool,
	    uint64_t now_ms);
/* An accepted share: credits difficulty to the pool that accepted it. */
void	sched_share_accepted(struct sched *s, uint64_t id, int pool,
	    double difficulty, uint64_t now_ms);
/* Work accepted before the scheduler started (the dataplane's counters
 * at a controlplane restart): counts in sched_total_share only, not in
 * the window, the feedback or any miner's hashrate estimate. */
void	sched_history_accepted(struct sched *s, int pool, double difficulty);

/* Pins override the schedule; pool -1 unpins.  Keyed by worker name so a
 * pin survives reconnects. */
int	sched_pin(struct sched *s, const char *worker, int pool);
int	sched_pin_get(const struct sched *s, const char *worker);

/* Decide.  Writes up to cap moves (each differs from where the miner is
 * now) and returns how many. */
size_t	sched_tick(struct sched *s, uint64_t now_ms, struct sched_move *moves,
	    size_t cap);
/* Where a miner that connects now should start (-1: no pool is up). */
int	sched_newcomer_pool(const struct sched *s);

/* Measured shares of accepted difficulty, 0..1 (0 when nothing was
 * accepted yet): over the window, and since the scheduler started. */
double	sched_window_share(const struct sched *s, int pool, uint64_t now_ms);
double	sched_total_share(const struct sched *s, int pool);
/* Weight share 0..1 in force (after down pools are zeroed). */
double	sched_target_share(const struct sched *s, int pool);
uint64_t sched_switches(const struct sched *s);
const char *sched_reason_str(enum sched_reason r);

/* The scheduler's view of one miner (dpmpctl miners, tests): the pool it
 * believes the miner is on (-1 unknown miner), its hashrate estimate in
 * H/s as of the last tick, and whether it is being time-sliced. */
int	sched_miner_pool(const struct sched *s, uint64_t id);
double	sched_miner_hashrate(const struct sched *s, uint64_t id);
bool	sched_miner_swinging(const struct sched *s, uint64_t id);
size_t	sched_miner_count(const struct sched *s);

#endif
