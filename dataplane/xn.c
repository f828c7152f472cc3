/*
 * xn: the extranonce layout and the work number.
 *
 * A pool session gives us en1_p and an extranonce2 space of S bytes.  A
 * miner has its own fixed en1_m and n bytes to roll.  Every job goes to
 * the miner with coinb1' = coinb1 || en1_p || F, where F is the
 * S - |en1_m| - n filler bytes, and a share goes upstream with
 * extranonce2 = F || en1_m || en2_m: the coinbase is the same bytes on
 * both sides.
 *
 * Work number.  Real firmware (cpuminer, ESP-Miner) restarts its
 * extranonce2 and nonce search at zero on every mining.notify, so a miner
 * handed the same job twice (switched A -> B -> A inside one pool job, a
 * keepalive re-send, a resume) re-finds the shares it already sent and
 * loses that time as duplicates.  Every issue of a job to a miner therefore
 * carries a work number w, unique for that (miner, job), that changes
 * the header space the miner searches:
 *
 *   - the low part of w goes into the last bytes of F (up to
 *     XN_WORK_BYTES_MAX).  These bytes are ours: the pool sees them as the
 *     start of the extranonce2 it gave us, so any value is valid for it,
 *     and they cost the miner nothing, because F exists only where the
 *     pool's space is larger than what the miner was given;
 *   - the rest moves ntime forward by w / 256^|F| seconds, at most
 *     XN_NTIME_ROLL_MAX.  Pools accept ntime from the job's up to well
 *     ahead of it (ckpool: + 7000 s), and a re-issue is seconds or
 *     minutes after the job arrived, so the time stays near real time.
 *     This is the whole mechanism when F is empty (a pool whose
 *     extranonce2 is exactly what the miner needs).
 *
 * w = 0 is the job exactly as every miner gets it first, so the shared
 * fan-out line still serves the common case.
 */
#include <string.h>

#include "xn.h"

int
xn_desired_view(const uint8_t *en1, size_t en1_len, size_t en2_size,
    const struct xn_pool *pool, struct xn_view *v)
{
	memset(v, 0, sizeof(*v));
	if (en1_len > EXTRANONCE_MAX || pool->en1_len > EXTRANONCE_MAX)
		return -1;
	if (pool->en2_size >= en1_len + en2_size) {
		memcpy(v->en1, en1, en1_len);
		v->en1_len = en1_len;
		v->en2_size = en2_size;
		return 0;
	}
	/* the fallback keeps at least 2 bytes for the miner (cgminer) */
	if (pool->en2_size < en1_len + 2 ||
	    pool->en1_len + en1_len > EXTRANONCE_MAX)
		return -1;
	memcpy(v->en1, pool->en1, pool->en1_len);
	memcpy(v->en1 + pool->en1_len, en1, en1_len);
	v->en1_len = pool->en1_len + en1_len;
	v->en2_size = pool->en2_size - en1_len;
	return 0;
}

/* Prefix length and filler length of view v on pool; -1 if it does not
 * fit (the pool's en1 must come out unchanged at the front). */
static int
layout(const struct xn_pool *pool, const struct xn_view *v, size_t *plen,
    size_t *flen)
{
	size_t total = pool->en1_len + pool->en2_size;
	size_t mine = v->en1_len + v->en2_size, p;

	if (pool->en1_len > EXTRANONCE_MAX || v->en1_len > EXTRANONCE_MAX ||
	    mine > total || total > 2 * EXTRANONCE_MAX)
		return -1;
	p = total - mine;
	/* p < |en1_p| only under the fallback view, whose en1 starts with
	 * the rest of the pool's (checked in xn_prefix) */
	if (p + v->en1_len < pool->en1_len)
		return -1;
	*flen = p > pool->en1_len ? p - pool->en1_len : 0;
	*plen = p;
	return 0;
}

static size_t
work_bytes(size_t flen)
{
	return flen < XN_WORK_BYTES_MAX ? flen : XN_WORK_BYTES_MAX;
}

uint64_t
xn_work_count(const struct xn_pool *pool, const struct xn_view *v)
{
	size_t plen, flen;

	if (layout(pool, v, &plen, &flen) == -1)
		return 0;
	return ((uint64_t)1 << (8 * work_bytes(flen))) *
	    (XN_NTIME_ROLL_MAX + 1);
}

int
xn_prefix(const struct xn_pool *pool, const struct xn_view *v,
    uint64_t work, struct xn_prefix *out)
{
	size_t plen, flen, wb, i;
	uint64_t low;

	if (layout(pool, v, &plen, &flen) == -1 ||
	    work >= xn_work_count(pool, v))
		return -1;
	memset(out, 0, sizeof(*out));
	memcpy(out->bytes, pool->en1, plen < pool->en1_len ? plen :
	    pool->en1_len);
	wb = work_bytes(flen);
	low = work & (((uint64_t)1 << (8 * wb)) - 1);
	for (i = 0; i < wb; i++)
		out->bytes[plen - 1 - i] = (uint8_t)(low >> (8 * i));
	memcpy(out->bytes + plen, v->en1, v->en1_len);
	/* the pool's en1 must come out unchanged at the front */
	if (memcmp(out->bytes, pool->en1, pool->en1_len) != 0)
		return -1;
	out->len = plen + v->en1_len;
	out->plen = plen;
	out->ntime_off = (uint32_t)(work >> (8 * wb));
	return 0;
}

size_t
xn_upstream_en2(const struct xn_pool *pool, const struct xn_prefix *p,
    const uint8_t *en2, size_t en2_len, uint8_t *out, size_t outsz)
{
	size_t n;

	if (p->len < pool->en1_len)
		return 0;
	n = p->len - pool->en1_len + en2_len;
	if (n > outsz)
		return 0;
	memcpy(out, p->bytes + pool->en1_len, p->len - pool->en1_len);
	memcpy(out + p->len - pool->en1_len, en2, en2_len);
	return n;
}
