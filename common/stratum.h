/*
 * stratum: the Stratum v1 line codec.  Frames newline-delimited JSON-RPC
 * out of an evbuffer, classifies each line as request, notification or
 * response, and writes messages back with a bare "\n".  A malformed line
 * is reported to the caller with a reason; the codec never touches any
 * session state and never crashes on input.
 */
#ifndef DPMP_STRATUM_H
#define DPMP_STRATUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "job.h"

/* Longest line accepted from a miner (ckpool cuts at 1 KiB; ASICs send
 * < 300 bytes) and from a pool (a notify carries the whole coinbase). */
#define STRATUM_MAX_LINE_MINER	4096
#define STRATUM_MAX_LINE_POOL	65536
#define STRATUM_MAX_LINE	STRATUM_MAX_LINE_POOL

/* Stratum error codes (docs/PROTOCOL.md section 5). */
#define STRATUM_ERR_OTHER		20
#define STRATUM_ERR_STALE		21
#define STRATUM_ERR_DUPLICATE		22
#define STRATUM_ERR_LOW_DIFFICULTY	23
#define STRATUM_ERR_UNAUTHORIZED	24
#define STRATUM_ERR_NOT_SUBSCRIBED	25
#define STRATUM_ERR_METHOD_NOT_FOUND	(-32601)

enum stratum_kind {
	STRATUM_REQUEST,	/* method + non-null id */
	STRATUM_NOTIFICATION,	/* method + null or absent id */
	STRATUM_RESPONSE,	/* no method; result and/or error */
};

struct stratum_msg {
	enum stratum_kind kind;
	json_t		*root;		/* owned; everything else borrowed */
	json_t		*id;		/* json null when absent */
	const char	*method;	/* NULL for responses */
	json_t		*params;	/* array; empty array if absent or
					 * null; NULL for responses */
	json_t		*result;	/* responses: NULL if absent */
	json_t		*error;		/* responses: NULL if null/absent */
};

enum stratum_read {
	STRATUM_READ_MSG,	/* *msg filled: caller must stratum_msg_clear */
	STRATUM_READ_AGAIN,	/* no complete line buffered */
	STRATUM_READ_BAD,	/* one malformed line consumed; reason set */
	STRATUM_READ_OVERFLOW,	/* a line longer than max_line: close */
};

/* Take the next line from in (strips one trailing \r, skips empty lines)
 * and decode it.  On OVERFLOW the buffer is left as it is. */
enum stratum_read stratum_read(struct evbuffer *in, size_t max_line,
	    struct stratum_msg *msg, char *reason, size_t reasonlen);
/* Decode one line without its newline.  0 or -1 with a reason. */
int	stratum_decode(const char *line, size_t len, struct stratum_msg *msg,
	    char *reason, size_t reasonlen);
void	stratum_msg_clear(struct stratum_msg *msg);

/* Writers.  json_t arguments are stolen (reference consumed), id is
 * borrowed and echoed as the identical JSON value.  0 or -1. */
int	stratum_write_json(struct evbuffer *out, json_t *obj);
int	stratum_write_result(struct evbuffer *out, json_t *id, json_t *result);
int	stratum_write_error(struct evbuffer *out, json_t *id, int code,
	    const char *text);
int	stratum_write_request(struct evbuffer *out, int64_t id,
	    const char *method, json_t *params);
int	stratum_write_notification(struct evbuffer *out, const char *method,
	    json_t *params);
/* The two lines a relay writes for every share, without building JSON
 * objects: {"id":ID,"result":true,"error":null} and a mining.submit
 * request (vbits NULL for 5 params).  Byte-identical to the general
 * writers; strings that would need escaping take the general path. */
int	stratum_write_true(struct evbuffer *out, json_t *id);
int	stratum_write_submit(struct evbuffer *out, int64_t id,
	    const char *user, const char *job, const char *en2,
	    const char *ntime, const char *nonce, const char *vbits);
/* Same, into a malloc'd "...\n" string (for fan-out of one notify to many
 * miners); *len gets its length. */
char	*stratum_encode_notification(const char *method, json_t *params,
	    size_t *len);

/* Classify an upstream error in any of the forms pools use (array,
 * string, object, or null + "reject-reason" in root) into a Stratum code
 * 20..25 and a text (borrowed from the message, or a static string). */
int	stratum_error_code(const struct stratum_msg *msg, const char **text);

/* Typed views of method params.  Each returns 0, or -1 with a reason that
 * can go straight into a [20, reason, null] answer. */
struct stratum_submit {
	const char	*worker;
	const char	*job_id;
	const char	*en2;
	const char	*ntime;
	const char	*nonce;
	const char	*vbits;		/* NULL when 5 params */
};
int	stratum_parse_submit(const json_t *params, struct stratum_submit *s,
	    char *err, size_t errlen);

struct stratum_subscribe_result {
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 en1_len;
	size_t		 en2_size;
	char		 session[65];	/* notify subscription id, "" if none */
};
int	stratum_parse_subscribe_result(const json_t *result,
	    struct stratum_subscribe_result *r, char *err, size_t errlen);

struct stratum_configure {
	bool		 version_rolling;
	uint32_t	 mask;		/* miner's mask; ffffffff by default */
	bool		 minimum_difficulty;
	double		 min_diff;
	bool		 subscribe_extranonce;
};
int	stratum_parse_configure(const json_t *params,
	    struct stratum_configure *c, char *err, size_t errlen);

/* set_difficulty: a finite number > 0 */
int	stratum_parse_difficulty(const json_t *params, double *d, char *err,
	    size_t errlen);
/* set_extranonce: [en1_hex, en2size] */
int	stratum_parse_set_extranonce(const json_t *params, uint8_t *en1,
	    size_t *en1_len, size_t *en2_size, char *err, size_t errlen);

#endif
