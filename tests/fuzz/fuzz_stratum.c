/*
 * libFuzzer target for the Stratum codec: whatever bytes a peer sends,
 * framing, decoding and every params parser must return an answer, never
 * crash, leak or read out of bounds.  The parsers are all run on every
 * decoded message, whatever its method, because a hostile peer chooses
 * the method too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "job.h"
#include "stratum.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(const struct stratum_msg *m, struct evbuffer *out)
{
	struct stratum_submit		 sub;
	struct stratum_subscribe_result	 sr;
	struct stratum_configure	 cf;
	struct job			 job;
	uint8_t				 en1[EXTRANONCE_MAX];
	size_t				 en1_len, en2_size;
	const char			*text;
	char				 err[128];
	double				 d;
	int				 code;
	json_t				*p;

	if (m->params != NULL) {
		(void)stratum_parse_submit(m->params, &sub, err, sizeof(err));
		(void)stratum_parse_configure(m->params, &cf, err, sizeof(err));
		(void)stratum_parse_difficulty(m->params, &d, err, sizeof(err));
		(void)stratum_parse_set_extranonce(m->params, en1, &en1_len,
		    &en2_size, err, sizeof(err));
		(void)stratum_parse_subscribe_result(m->params, &sr, err,
		    sizeof(err));
		if (job_from_notify(m->params, &job, err, sizeof(err)) == 0) {
			/* a parsed job must re-emit as a parseable notify */
			if ((p = job_to_notify(&job)) == NULL)
				abort();
			job_clear(&job);
			if (job_from_notify(p, &job, err, sizeof(err)) != 0)
				abort();
			job_clear(&job);
			(void)stratum_write_notification(out, "mining.notify",
			    p);
		}
	}
	if (m->kind == STRATUM_RESPONSE) {
		(void)stratum_parse_subscribe_result(m->result, &sr, err,
		    sizeof(err));
		code = stratum_error_code(m, &text);
		if (code < 20 || code > 25 || text == NULL)
			abort();
	}
	(void)stratum_write_result(out, m->id, json_true());
	(void)stratum_write_error(out, m->id, 20, m->method);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stratum_msg	 m;
	struct evbuffer		*in, *out;
	enum stratum_read	 r;
	char			 reason[128];
	size_t			 cut;
	int			 guard;

	if (stratum_decode((const char *)data, size, &m, reason,
	    sizeof(reason)) == 0) {
		out = evbuffer_new();
		exercise(&m, out);
		evbuffer_free(out);
		stratum_msg_clear(&m);
	}

	/* The same bytes through the framer, arriving in two pieces, with a
	 * limit small enough that overflow is reachable. */
	if ((in = evbuffer_new()) == NULL || (out = evbuffer_new()) == NULL)
		abort();
	cut = size > 0 ? data[0] % (size + 1) : 0;
	evbuffer_add(in, data, cut);
	r = stratum_read(in, 512, &m, reason, sizeof(reason));
	if (r == STRATUM_READ_MSG)
		stratum_msg_clear(&m);
	evbuffer_add(in, data + cut, size - cut);
	for (guard = 0; guard < 10000; guard++) {
		r = stratum_read(in, 512, &m, reason, sizeof(reason));
		if (r == STRATUM_READ_MSG) {
			exercise(&m, out);
			stratum_msg_clear(&m);
		} else if (r != STRATUM_READ_BAD)
			break;
	}
	evbuffer_free(in);
	evbuffer_free(out);
	return (0);
}
