/*
 * jobs: the proxy job table.  Miners only ever see our own job ids, a
 * process-wide counter that is never reused, so ids from two pools cannot
 * collide and a share is routed by the job it names, not by the pool the
 * miner works for now.
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "log.h"

#define JHASH_INITIAL	1024

static size_t
jslot(const struct dp *dp, uint64_t id)
{
	/* ids are sequential: a multiplicative hash spreads them */
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 20) &
	    (dp->jhash_size - 1);
}

void
jobs_init(struct dp *dp)
{
	dp->jhash_size = JHASH_INITIAL;
	dp->jhash = calloc(dp->jhash_size, sizeof(*dp->jhash));
	if (dp->jhash == NULL)
		abort();	/* start-up only */
	dp->next_job_id = 1;
}

static void
jobs_grow(struct dp *dp)
{
	struct jref **old = dp->jhash, *r, *next;
	size_t oldn = dp->jhash_size, i;
	struct jref **nh;

	nh = calloc(oldn * 2, sizeof(*nh));
	if (nh == NULL)
		return;		/* longer chains, still correct */
	dp->jhash = nh;
	dp->jhash_size = oldn * 2;
	for (i = 0; i < oldn; i++) {
		for (r = old[i]; r != NULL; r = next) {
			size_t s = jslot(dp, r->id);
			next = r->next;
			r->next = nh[s];
			nh[s] = r;
		}
	}
	free(old);
}

void
jobs_free_all(struct dp *dp)
{
	size_t i;
	struct jref *r, *next;

	for (i = 0; i < dp->jhash_size; i++) {
		for (r = dp->jhash[i]; r != NULL; r = next) {
			next = r->next;
			free(r);
		}
	}
	free(dp->jhash);
	dp->jhash = NULL;
	dp->n_jrefs = 0;
}

struct ujob *
ujob_new(struct upstream *up, struct job *job)
{
	struct ujob *uj;

	if ((uj = calloc(1, sizeof(*uj))) == NULL)
		return NULL;
	uj->job = *job;		/* takes over the coinbase buffers */
	memset(job, 0, sizeof(*job));
	uj->up = up;
	uj->serial = ++up->dp->next_ujob_serial;
	uj->difficulty = up->difficulty;
	uj->mask = up->mask;
	memcpy(uj->en1, up->en1, up->en1_len);
	uj->en1_len = up->en1_len;
	uj->en2_size = up->en2_size;
	uj->refs = 1;		/* the session's list */
	return uj;
}

void
ujob_unref(struct dp *dp, struct ujob *uj)
{
	if (uj == NULL || --uj->refs > 0)
		return;
	jobs_forget(dp, uj);
	free(uj->bcast_line);
	job_clear(&uj->job);
	free(uj->seen);
	free(uj);
}

void
ujob_xn_pool(const struct ujob *uj, struct xn_pool *xp)
{
	xp->en1 = uj->en1;
	xp->en1_len = uj->en1_len;
	xp->en2_size = uj->en2_size;
}

uint64_t
jobs_issue(struct dp *dp, struct ujob *uj, uint64_t work)
{
	struct jref *r;
	size_t s;

	if (uj->n_ids == uj->cap_ids) {
		size_t ncap = uj->cap_ids ? uj->cap_ids * 2 : 2;
		uint64_t *ni = realloc(uj->ids, ncap * sizeof(*ni));

		if (ni == NULL)
			return 0;
		uj->ids = ni;
		uj->cap_ids = ncap;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return 0;
	if (dp->n_jrefs >= dp->jhash_size)
		jobs_grow(dp);
	r->id = dp->next_job_id++;
	r->uj = uj;
	r->work = work;
	s = jslot(dp, r->id);
	r->next = dp->jhash[s];
	dp->jhash[s] = r;
	dp->n_jrefs++;
	uj->ids[uj->n_ids++] = r->id;
	return r->id;
}

struct ujob *
jobs_find(struct dp *dp, uint64_t id, uint64_t *work)
{
	struct jref *r;

	for (r = dp->jhash[jslot(dp, id)]; r != NULL; r = r->next)
		if (r->id == id) {
			if (work != NULL)
				*work = r->work;
			return r->uj;
		}
	return NULL;
}

void
jobs_forget(struct dp *dp, struct ujob *uj)
{
	size_t i;
	struct jref **pp, *r;

	if (dp->jhash == NULL)
		return;
	for (i = 0; i < uj->n_ids; i++) {
		pp = &dp->jhash[jslot(dp, uj->ids[i])];
		while ((r = *pp) != NULL) {
			if (r->id == uj->ids[i]) {
				*pp = r->next;
				free(r);
				dp->n_jrefs--;
				break;
			}
			pp = &r->next;
		}
	}
	free(uj->ids);
	uj->ids = NULL;
	uj->n_ids = uj->cap_ids = 0;
}

int
ujob_seen(struct dp *dp, struct ujob *uj, const uint8_t hash[32])
{
	uint64_t key;
	size_t i, mask;

	memcpy(&key, hash, sizeof(key));
	if (key == 0)
		key = 1;	/* 0 marks an empty slot */
	if (uj->seen_n * 2 >= uj->seen_cap) {
		size_t ncap = uj->seen_cap ? uj->seen_cap * 2 : 64;
		uint64_t *ns;

		if (ncap > DP_DEDUPE_MAX * 2) {
			/* Stop remembering rather than grow without bound;
			 * the pool still catches duplicates. */
			for (i = key & (uj->seen_cap - 1); uj->seen[i];
			    i = (i + 1) & (uj->seen_cap - 1))
				if (uj->seen[i] == key)
					return 1;
			dp_count_limit(dp, LIM_DEDUPE, uj->job.id);
			return -1;
		}
		if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
			return -1;
		for (i = 0; i < uj->seen_cap; i++) {
			size_t j;

			if (uj->seen[i] == 0)
				continue;
			for (j = uj->seen[i] & (ncap - 1); ns[j];
			    j = (j + 1) & (ncap - 1))
				;
			ns[j] = uj->seen[i];
		}
		free(uj->seen);
		uj->seen = ns;
		uj->seen_cap = ncap;
	}
	mask = uj->seen_cap - 1;
	for (i = key & mask; uj->seen[i]; i = (i + 1) & mask)
		if (uj->seen[i] == key)
			return 1;
	uj->seen[i] = key;
	uj->seen_n++;
	return 0;
}
