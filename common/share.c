/*
 * Share validation: the checks a pool would make, done locally before a
 * submit goes upstream, so that a bad share is answered honestly at once
 * and never counts against the upstream session.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "diff.h"
#include "hex.h"
#include "job.h"
#include "share.h"

/* Length first, then characters: a miner with the wrong en2 size gets
 * "length", not "hex", which is what tells its operator what is wrong. */
static enum share_result
check_hex(const char *hex, size_t want_digits)
{
	size_t	 i;

	if (hex == NULL || strlen(hex) != want_digits)
		return (SHARE_BAD_LENGTH);
	for (i = 0; i < want_digits; i++) {
		unsigned char c = (unsigned char)hex[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return (SHARE_BAD_HEX);
	}
	return (SHARE_OK);
}

static enum share_result
parse_u32(const char *hex, uint32_t *out)
{
	enum share_result r;

	if ((r = check_hex(hex, 8)) != SHARE_OK)
		return (r);
	if (hex_u32(hex, 8, out) == -1)
		return (SHARE_BAD_HEX);
	return (SHARE_OK);
}

enum share_result
share_check(const struct share_ctx *ctx, const struct share_submit *sub,
    struct share_verdict *v)
{
	const struct job	*job = ctx->job;
	uint8_t			 share_target[32], net_target[32];
	uint32_t		 vbits = 0, mask = ctx->version_mask;
	enum share_result	 r;

	memset(v, 0, sizeof(*v));

	if (ctx->en2_size == 0 || ctx->en2_size > EXTRANONCE_MAX) {
		r = SHARE_BAD_LENGTH;
		goto done;
	}
	if ((r = check_hex(sub->en2_hex, 2 * ctx->en2_size)) != SHARE_OK)
		goto done;
	if (hex_decode(sub->en2_hex, 2 * ctx->en2_size, v->en2,
	    ctx->en2_size) == -1) {
		r = SHARE_BAD_HEX;
		goto done;
	}
	v->en2_len = ctx->en2_size;
	if ((r = parse_u32(sub->ntime_hex, &v->ntime)) != SHARE_OK ||
	    (r = parse_u32(sub->nonce_hex, &v->nonce)) != SHARE_OK)
		goto done;
	if (sub->vbits_hex != NULL &&
	    (r = parse_u32(sub->vbits_hex, &vbits)) != SHARE_OK)
		goto done;

	/*
	 * BIP 310: V = (job_version & ~mask) | (vbits & mask).  Bits outside
	 * the mask are refused rather than masked off, as ckpool does
	 * ("Invalid version mask"): a miner setting them is rolling bits the
	 * pool never allowed, and the pool would reject the share anyway.
	 */
	if (sub->vbits_hex != NULL) {
		if (mask == 0 || (vbits & ~mask) != 0) {
			r = SHARE_BAD_VERSION_BITS;
			goto done;
		}
		v->version = (job->version & ~mask) | (vbits & mask);
	} else
		v->version = job->version;
	v->vbits = v->version & mask;

	/* ckpool's window (docs/PROTOCOL.md 6.4); 64-bit so a job ntime near
	 * 2^32 does not wrap the upper bound. */
	if (v->ntime < job->ntime ||
	    (uint64_t)v->ntime > (uint64_t)job->ntime + SHARE_NTIME_MAX_AHEAD) {
		r = SHARE_NTIME_OUT_OF_RANGE;
		goto done;
	}

	job_share_hash(job, ctx->en1, ctx->en1_len, v->en2, v->en2_len,
	    v->version, v->ntime, v->nonce, v->hash);
	v->share_diff = diff_from_hash(v->hash);

	/* A block is worth sending upstream whatever the share target says
	 * (ckpool forwards any share at or above network difficulty). */
	if (diff_nbits_to_target(job->nbits, net_target) == 0 &&
	    diff_meets(v->hash, net_target))
		v->block_candidate = true;

	/* A job difficulty we cannot turn into a target is treated as
	 * unmet: never accept what could not be checked. */
	if (diff_to_target(ctx->difficulty, share_target) == -1 ||
	    !diff_meets(v->hash, share_target))
		r = SHARE_LOW_DIFFICULTY;
	else
		r = SHARE_OK;
 done:
	v->result = r;
	return (r);
}

int
share_result_code(enum share_result r)
{
	switch (r) {
	case SHARE_OK:
		return (0);
	case SHARE_LOW_DIFFICULTY:
		return (23);
	default:
		return (20);
	}
}

const char *
share_result_str(enum share_result r)
{
	switch (r) {
	case SHARE_OK:
		return ("OK");
	case SHARE_LOW_DIFFICULTY:
		return ("Low difficulty share");
	case SHARE_BAD_VERSION_BITS:
		return ("Invalid version bits");
	case SHARE_BAD_LENGTH:
		return ("Invalid extranonce2/ntime/nonce length");
	case SHARE_BAD_HEX:
		return ("Invalid hex");
	case SHARE_NTIME_OUT_OF_RANGE:
		return ("Ntime out of range");
	}
	return ("Other/Unknown");
}
