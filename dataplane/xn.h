/*
 * xn: the extranonce layout, pure (no I/O, no session state).  Where the
 * miner's fixed extranonce sits inside a pool session's extranonce2 space,
 * what the proxy puts around it, and how every issue of a job to a miner
 * is made different work (docs/OPERATIONS.md, "Extranonce and work").
 */
#ifndef DPMP_XN_H
#define DPMP_XN_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* Filler bytes, at most, that carry the work number (see xn_work). */
#define XN_WORK_BYTES_MAX	4
/* Seconds, at most, that ntime is moved forward to make work unique
 * where the pool leaves no filler.  ckpool accepts job ntime + 7000 s
 * (docs/PROTOCOL.md 6.4); 600 stays far inside that and inside the
 * two hours a block's time may run ahead. */
#define XN_NTIME_ROLL_MAX	600

/* A pool session's extranonce, as it was when a job arrived. */
struct xn_pool {
	const uint8_t	*en1;
	size_t		 en1_len;
	size_t		 en2_size;
};

/* What the miner has been told about its extranonce: the bytes it puts
 * after our coinb1 (en1) and how many it rolls itself (en2_size). */
struct xn_view {
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 en1_len;
	size_t		 en2_size;
	uint64_t	 from_job;	/* first proxy job id sent under it */
};

/*
 * The bytes between the pool's coinb1 and the miner's extranonce2 for one
 * issue of a job: pool en1 || filler || view en1.  The filler is what the
 * pool's extranonce2 space holds beyond the miner's own bytes; its last
 * bytes carry the filler part of the work number.
 */
struct xn_prefix {
	uint8_t		 bytes[2 * EXTRANONCE_MAX];
	size_t		 len;		/* all of it */
	size_t		 plen;		/* pool en1 + filler: goes into coinb1 */
	uint32_t	 ntime_off;	/* seconds added to the job's ntime */
};

/* The view a miner with (en1, en2_size) needs for pool: its own when the
 * pool's extranonce2 holds it, otherwise (the set_extranonce fallback)
 * the pool's en1 + ours with a smaller en2.  -1 when nothing fits. */
int	 xn_desired_view(const uint8_t *en1, size_t en1_len, size_t en2_size,
	    const struct xn_pool *pool, struct xn_view *v);
/* Distinct work numbers a job of pool has under view v (>= 1), 0 when v
 * does not fit the pool at all. */
uint64_t xn_work_count(const struct xn_pool *pool, const struct xn_view *v);
/* The prefix (and ntime offset) for work number `work` of a job of pool
 * under view v.  -1 when v cannot fit this pool or work is out of range. */
int	 xn_prefix(const struct xn_pool *pool, const struct xn_view *v,
	    uint64_t work, struct xn_prefix *out);
/* The extranonce2 the pool gets for a share: everything after the pool's
 * en1, i.e. filler || view en1 || miner en2.  Returns its length, or 0
 * when it does not fit out (outsz bytes). */
size_t	 xn_upstream_en2(const struct xn_pool *pool, const struct xn_prefix *p,
	    const uint8_t *en2, size_t en2_len, uint8_t *out, size_t outsz);

#endif
