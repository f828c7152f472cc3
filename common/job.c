/*
 * Jobs: mining.notify params <-> struct job, and the block header a share
 * on a job hashes to (docs/PROTOCOL.md section 3).  Every field is
 * checked for type, length and hex before anything is stored, because a
 * job that parses wrongly turns every share on it into a reject at the
 * pool.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bytes.h"
#include "hex.h"
#include "job.h"
#include "sha256d.h"

#define NOTIFY_PARAMS	9

/* prevhash travels with each 4-byte word reversed; the same swap turns
 * wire order into header order and back. */
static void
swap_words(const uint8_t in[32], uint8_t out[32])
{
	int	 i;

	for (i = 0; i < 32; i += 4) {
		out[i] = in[i + 3];
		out[i + 1] = in[i + 2];
		out[i + 2] = in[i + 1];
		out[i + 3] = in[i];
	}
}

static const char *
json_str(const json_t *v, size_t *len)
{
	const char	*s;

	if (!json_is_string(v))
		return (NULL);
	s = json_string_value(v);
	*len = json_string_length(v);
	/* An embedded NUL would make the C string and the JSON string
	 * disagree; nothing legitimate carries one. */
	if (strlen(s) != *len)
		return (NULL);
	return (s);
}

static int
parse_hexblob(const json_t *v, uint8_t **out, size_t *outlen)
{
	const char	*s;
	size_t		 len;
	uint8_t		*buf;

	if ((s = json_str(v, &len)) == NULL || len % 2 != 0 ||
	    len / 2 > JOB_MAX_COINBASE)
		return (-1);
	/* malloc(0) may return NULL; an empty coinb2 is legal. */
	if ((buf = malloc(len / 2 + 1)) == NULL)
		return (-1);
	if (hex_decode(s, len, buf, len / 2) == -1) {
		free(buf);
		return (-1);
	}
	*out = buf;
	*outlen = len / 2;
	return (0);
}

static int
parse_u32(const json_t *v, uint32_t *out)
{
	const char	*s;
	size_t		 len;

	if ((s = json_str(v, &len)) == NULL)
		return (-1);
	return (hex_u32(s, len, out));
}

int
job_from_notify(const json_t *params, struct job *job, char *err,
    size_t errlen)
{
	struct job	 j;
	const json_t	*branches;
	const char	*s;
	uint8_t		 wire[32];
	size_t		 len, i;

	memset(&j, 0, sizeof(j));
	memset(job, 0, sizeof(*job));

	if (!json_is_array(params) || json_array_size(params) != NOTIFY_PARAMS) {
		snprintf(err, errlen, "notify: params must be an array of %d",
		    NOTIFY_PARAMS);
		return (-1);
	}

	if ((s = json_str(json_array_get(params, 0), &len)) == NULL ||
	    len == 0 || len > JOB_ID_MAX) {
		snprintf(err, errlen, "job_id: must be a string of 1..%d bytes",
		    JOB_ID_MAX);
		goto err;
	}
	memcpy(j.id, s, len);
	j.id[len] = '\0';

	if ((s = json_str(json_array_get(params, 1), &len)) == NULL ||
	    hex_decode(s, len, wire, sizeof(wire)) == -1) {
		snprintf(err, errlen, "prevhash: must be 64 hex digits");
		goto err;
	}
	swap_words(wire, j.prevhash);

	if (parse_hexblob(json_array_get(params, 2), &j.coinb1,
	    &j.coinb1_len) == -1) {
		snprintf(err, errlen, "coinb1: must be hex of at most %d bytes",
		    JOB_MAX_COINBASE);
		goto err;
	}
	if (parse_hexblob(json_array_get(params, 3), &j.coinb2,
	    &j.coinb2_len) == -1) {
		snprintf(err, errlen, "coinb2: must be hex of at most %d bytes",
		    JOB_MAX_COINBASE);
		goto err;
	}

	branches = json_array_get(params, 4);
	if (!json_is_array(branches) ||
	    json_array_size(branches) > JOB_MAX_BRANCHES) {
		snprintf(err, errlen,
		    "merkle_branch: must be an array of at most %d hashes",
		    JOB_MAX_BRANCHES);
		goto err;
	}
	for (i = 0; i < json_array_size(branches); i++) {
		if ((s = json_str(json_array_get(branches, i), &len)) == NULL ||
		    hex_decode(s, len, j.branches[i], 32) == -1) {
			snprintf(err, errlen,
			    "merkle_branch[%zu]: must be 64 hex digits", i);
			goto err;
		}
	}
	j.n_branches = i;

	if (parse_u32(json_array_get(params, 5), &j.version) == -1) {
		snprintf(err, errlen, "version: must be 8 hex digits");
		goto err;
	}
	if (parse_u32(json_array_get(params, 6), &j.nbits) == -1) {
		snprintf(err, errlen, "nbits: must be 8 hex digits");
		goto err;
	}
	if (parse_u32(json_array_get(params, 7), &j.ntime) == -1) {
		snprintf(err, errlen, "ntime: must be 8 hex digits");
		goto err;
	}
	if (!json_is_boolean(json_array_get(params, 8))) {
		snprintf(err, errlen, "clean_jobs: must be a boolean");
		goto err;
	}
	j.clean = json_is_true(json_array_get(params, 8));

	*job = j;
	return (0);
 err:
	job_clear(&j);
	return (-1);
}

static json_t *
hex_json(const uint8_t *b, size_t len)
{
	json_t	*v;
	char	*s;

	if ((s = malloc(2 * len + 1)) == NULL)
		return (NULL);
	hex_encode(b, len, s);
	v = json_stringn(s, 2 * len);
	free(s);
	return (v);
}

json_t *
job_to_notify(const struct job *job)
{
	json_t	*params = NULL, *branches = NULL, *v;
	uint8_t	 wire[32];
	char	 u32[3][9];
	size_t	 i;

	if ((branches = json_array()) == NULL)
		goto err;
	for (i = 0; i < job->n_branches; i++) {
		if ((v = hex_json(job->branches[i], 32)) == NULL ||
		    json_array_append_new(branches, v) == -1)
			goto err;
	}
	swap_words(job->prevhash, wire);
	hex_from_u32(job->version, u32[0]);
	hex_from_u32(job->nbits, u32[1]);
	hex_from_u32(job->ntime, u32[2]);

	/* "o" steals branches even when the pack fails. */
	params = json_pack("[s,o,o,o,o,s,s,s,b]", job->id,
	    hex_json(wire, sizeof(wire)),
	    hex_json(job->coinb1, job->coinb1_len),
	    hex_json(job->coinb2, job->coinb2_len),
	    branches, u32[0], u32[1], u32[2], job->clean);
	return (params);
 err:
	json_decref(branches);
	return (NULL);
}

int
job_copy(struct job *dst, const struct job *src)
{
	struct job	 j;

	j = *src;
	j.coinb1 = NULL;
	j.coinb2 = NULL;
	if ((j.coinb1 = malloc(src->coinb1_len + 1)) == NULL ||
	    (j.coinb2 = malloc(src->coinb2_len + 1)) == NULL)
		goto err;
	if (src->coinb1_len > 0)
		memcpy(j.coinb1, src->coinb1, src->coinb1_len);
	if (src->coinb2_len > 0)
		memcpy(j.coinb2, src->coinb2, src->coinb2_len);
	*dst = j;
	return (0);
 err:
	free(j.coinb1);
	free(j.coinb2);
	return (-1);
}

void
job_clear(struct job *job)
{
	if (job == NULL)
		return;
	free(job->coinb1);
	free(job->coinb2);
	memset(job, 0, sizeof(*job));
}

void
job_merkle_root(const struct job *job, const uint8_t *en1, size_t en1_len,
    const uint8_t *en2, size_t en2_len, uint8_t root[32])
{
	struct sha256d_part	 cb[4] = {
		{ job->coinb1, job->coinb1_len },
		{ en1, en1_len },
		{ en2, en2_len },
		{ job->coinb2, job->coinb2_len },
	};
	uint8_t			 pair[64];
	size_t			 i;

	/* The coinbase is always the left child (section 3, step 2). */
	sha256d_parts(cb, 4, pair);
	for (i = 0; i < job->n_branches; i++) {
		memcpy(pair + 32, job->branches[i], 32);
		sha256d(pair, sizeof(pair), pair);
	}
	memcpy(root, pair, 32);
}

void
job_header(const struct job *job, const uint8_t root[32], uint32_t version,
    uint32_t ntime, uint32_t nonce, uint8_t header[80])
{
	bytes_put_le32(header, version);
	memcpy(header + 4, job->prevhash, 32);
	memcpy(header + 36, root, 32);
	bytes_put_le32(header + 68, ntime);
	bytes_put_le32(header + 72, job->nbits);
	bytes_put_le32(header + 76, nonce);
}

void
job_share_hash(const struct job *job, const uint8_t *en1, size_t en1_len,
    const uint8_t *en2, size_t en2_len, uint32_t version, uint32_t ntime,
    uint32_t nonce, uint8_t hash_le[32])
{
	uint8_t	 root[32], header[80];

	job_merkle_root(job, en1, en1_len, en2, en2_len, root);
	job_header(job, root, version, ntime, nonce, header);
	sha256d(header, sizeof(header), hash_le);
}
