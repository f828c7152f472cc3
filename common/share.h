/*
 * share: validation of one mining.submit against the job it names, before
 * anything goes upstream.  Pure function of its inputs: no session state.
 */
#ifndef DPMP_SHARE_H
#define DPMP_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* ckpool accepts ntime up to job ntime + 7000 s (docs/PROTOCOL.md 6.4). */
#define SHARE_NTIME_MAX_AHEAD	7000

enum share_result {
	SHARE_OK = 0,
	SHARE_LOW_DIFFICULTY,
	SHARE_BAD_VERSION_BITS,
	SHARE_BAD_LENGTH,
	SHARE_BAD_HEX,
	SHARE_NTIME_OUT_OF_RANGE,
};

/* The submit fields as the miner sent them (hex text, NUL-terminated). */
struct share_submit {
	const char	*en2_hex;
	const char	*ntime_hex;
	const char	*nonce_hex;
	const char	*vbits_hex;	/* NULL when the miner sent 5 params */
};

/* What the share is checked against. */
struct share_ctx {
	const struct job *job;
	const uint8_t	*en1;		/* extranonce1 as placed after coinb1 */
	size_t		 en1_len;
	size_t		 en2_size;	/* bytes the miner must send */
	double		 difficulty;	/* difficulty assigned to the job */
	uint32_t	 version_mask;	/* negotiated mask; 0 = no rolling */
};

struct share_verdict {
	enum share_result result;
	uint8_t		 hash[32];	/* little-endian header hash */
	double		 share_diff;	/* DIFF1 / hash */
	bool		 block_candidate; /* hash <= network target of job */
	uint8_t		 en2[EXTRANONCE_MAX];
	size_t		 en2_len;
	uint32_t	 ntime;
	uint32_t	 nonce;
	uint32_t	 version;	/* final header version */
	uint32_t	 vbits;		/* V & mask, what goes upstream */
};

enum share_result share_check(const struct share_ctx *ctx,
	    const struct share_submit *sub, struct share_verdict *v);
/* Stratum error code and text for a local verdict (20 or 23). */
int	share_result_code(enum share_result r);
const char *share_result_str(enum share_result r);

#endif
