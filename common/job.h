/*
 * job: one mining.notify in binary form, and the block-header assembly
 * that turns a job plus a miner's share into the 80 bytes that get hashed
 * (docs/PROTOCOL.md section 3).  Both the dataplane and the simulators
 * use it.
 */
#ifndef DPMP_JOB_H
#define DPMP_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JOB_ID_MAX		64	/* bytes of a job id we accept */
#define JOB_MAX_BRANCHES	32	/* ESP-Miner rejects more, so do we */
#define JOB_MAX_COINBASE	16384	/* bytes of coinb1 or coinb2 */
#define EXTRANONCE_MAX		32	/* en1 or en2 bytes */

struct job {
	char		 id[JOB_ID_MAX + 1];
	uint8_t		 prevhash[32];	/* header bytes 4..35 (words swapped) */
	uint8_t		*coinb1;
	size_t		 coinb1_len;
	uint8_t		*coinb2;
	size_t		 coinb2_len;
	uint8_t		 branches[JOB_MAX_BRANCHES][32];
	size_t		 n_branches;
	uint32_t	 version;
	uint32_t	 nbits;
	uint32_t	 ntime;
	bool		 clean;
};

/* Parse mining.notify params (the JSON array).  Fills *job (caller frees
 * with job_clear) or returns -1 with a reason in err.  *job is
 * overwritten, not freed: job_clear it first if it held a job.  On -1
 * *job is zeroed and owns nothing. */
int	job_from_notify(const json_t *params, struct job *job, char *err,
	    size_t errlen);
/* Build notify params from a job (new reference), e.g. to re-emit it with
 * another id or another coinb1. */
json_t	*job_to_notify(const struct job *job);
/* Deep copy into dst (overwritten, not freed); -1 on allocation
 * failure, dst untouched. */
int	job_copy(struct job *dst, const struct job *src);
void	job_clear(struct job *job);

/* Merkle root R (internal order) of coinbase + branches. */
void	job_merkle_root(const struct job *job, const uint8_t *en1,
	    size_t en1_len, const uint8_t *en2, size_t en2_len,
	    uint8_t root[32]);
/* The 80-byte header for a share.  version is the final header version
 * (apply the rolling mask before calling: see share_check). */
void	job_header(const struct job *job, const uint8_t root[32],
	    uint32_t version, uint32_t ntime, uint32_t nonce,
	    uint8_t header[80]);
/* Convenience: header hash of a share on this job. */
void	job_share_hash(const struct job *job, const uint8_t *en1,
	    size_t en1_len, const uint8_t *en2, size_t en2_len,
	    uint32_t version, uint32_t ntime, uint32_t nonce,
	    uint8_t hash_le[32]);

#endif
