/*
 * bench_share: what one share costs in the common library, on one core,
 * without sockets: share_check alone (the sha256d validation) and the
 * whole codec path a relay runs per share (decode the miner's submit,
 * validate, encode the upstream submit, decode the pool's answer, encode
 * the miner's answer).  The gap between this and the dataplane's measured
 * CPU per share is what the event loop, syscalls and bookkeeping cost.
 * Prints one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "hex.h"
#include "job.h"
#include "share.h"
#include "stratum.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* A job shaped like dpmp-simpool's (and a real pool's): ~60 + ~70 byte
 * coinbase halves and n merkle branches. */
static void
make_job(struct job *j, size_t branches)
{
	size_t		 i;

	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "1a2b");
	j->coinb1_len = 59;
	j->coinb2_len = 72;
	j->coinb1 = malloc(j->coinb1_len);
	j->coinb2 = malloc(j->coinb2_len);
	for (i = 0; i < j->coinb1_len; i++)
		j->coinb1[i] = (uint8_t)(i * 7);
	for (i = 0; i < j->coinb2_len; i++)
		j->coinb2[i] = (uint8_t)(i * 13);
	for (i = 0; i < 32; i++)
		j->prevhash[i] = (uint8_t)i;
	j->n_branches = branches;
	for (i = 0; i < branches; i++)
		memset(j->branches[i], (int)i + 1, 32);
	j->version = 0x20000000;
	j->nbits = 0x1705ae3a;
	j->ntime = 0x6650a000;
}

static double
bench_check(const struct job *j, unsigned n)
{
	struct share_ctx ctx;
	struct share_submit sub;
	struct share_verdict v;
	uint8_t		 en1[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char		 nonce[9];
	unsigned	 i, ok = 0;
	double		 t0;

	ctx.job = j;
	ctx.en1 = en1;
	ctx.en1_len = 8;
	ctx.en2_size = 4;
	ctx.difficulty = 1e-10;
	ctx.version_mask = 0;
	sub.en2_hex = "00000001";
	sub.ntime_hex = "6650a000";
	sub.vbits_hex = NULL;
	sub.nonce_hex = nonce;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		hex_from_u32(i, nonce);
		if (share_check(&ctx, &sub, &v) == SHARE_OK)
			ok++;
	}
	if (ok != n)
		fprintf(stderr, "bench_share: %u of %u shares invalid\n",
		    n - ok, n);
	return ((now_s() - t0) / n);
}

/* The relay's codec work for one share around share_check. */
static double
bench_codec_path(const struct job *j, unsigned n)
{
	struct evbuffer	*in = evbuffer_new(), *out = evbuffer_new();
	struct stratum_msg m, a;
	struct stratum_submit s;
	struct share_ctx ctx;
	struct share_submit sub;
	struct share_verdict v;
	uint8_t		 en1[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char		 line[256], ans[64], err[128];
	unsigned	 i;
	double		 t0;
	int		 len;

	ctx.job = j;
	ctx.en1 = en1;
	ctx.en1_len = 8;
	ctx.en2_size = 4;
	ctx.difficulty = 1e-10;
	ctx.version_mask = 0;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		len = snprintf(line, sizeof(line), "{\"id\":%u,\"method\":"
		    "\"mining.submit\",\"params\":[\"lg.17\",\"1a2b\","
		    "\"00000001\",\"6650a000\",\"%08x\"]}\n", i + 1000, i);
		evbuffer_add(in, line, (size_t)len);
		if (stratum_read(in, STRATUM_MAX_LINE_MINER, &m, err,
		    sizeof(err)) != STRATUM_READ_MSG ||
		    stratum_parse_submit(m.params, &s, err, sizeof(err)) == -1)
			abort();
		sub.en2_hex = s.en2;
		sub.ntime_hex = s.ntime;
		sub.nonce_hex = s.nonce;
		sub.vbits_hex = s.vbits;
		share_check(&ctx, &sub, &v);
		stratum_write_request(out, (int64_t)i + 7, "mining.submit",
		    json_pack("[s,s,s,s,s]", "wallet.w17", "a-1",
		    "0102030405060708" "00000001", s.ntime, s.nonce));
		len = snprintf(ans, sizeof(ans),
		    "{\"id\":%u,\"result\":true,\"error\":null}\n", i + 7);
		evbuffer_add(in, ans, (size_t)len);
		if (stratum_read(in, STRATUM_MAX_LINE_POOL, &a, err,
		    sizeof(err)) != STRATUM_READ_MSG)
			abort();
		stratum_write_result(out, m.id, json_true());
		stratum_msg_clear(&a);
		stratum_msg_clear(&m);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	t0 = (now_s() - t0) / n;
	evbuffer_free(in);
	evbuffer_free(out);
	return (t0);
}

int
main(int argc, char **argv)
{
	struct job	 j;
	unsigned	 n = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
	size_t		 br[] = { 0, 6, 12 };
	size_t		 k;
	json_t		*o = json_object(), *chk = json_object(),
			*path = json_object();
	char		 key[16];
	double		 t;

	for (k = 0; k < sizeof(br) / sizeof(br[0]); k++) {
		make_job(&j, br[k]);
		snprintf(key, sizeof(key), "%zu", br[k]);
		bench_check(&j, n / 10);	/* warm */
		t = bench_check(&j, n);
		json_object_set_new(chk, key, json_pack("{s:f,s:f}", "us",
		    t * 1e6, "per_s", 1.0 / t));
		bench_codec_path(&j, n / 10);	/* warm */
		t = bench_codec_path(&j, n);
		json_object_set_new(path, key, json_pack("{s:f,s:f}", "us",
		    t * 1e6, "per_s", 1.0 / t));
		job_clear(&j);
	}
	json_object_set_new(o, "shares", json_integer(n));
	json_object_set_new(o, "share_check_by_branches", chk);
	json_object_set_new(o, "codec_path_by_branches", path);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return (0);
}
