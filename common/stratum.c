/*
 * Stratum v1 line codec.  Framing and decoding are strict about size and
 * shape and lenient about everything pools and firmwares really vary on
 * (key order, extra keys, id types, the four error forms), following
 * docs/PROTOCOL.md sections 1 and 2.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "hex.h"
#include "job.h"
#include "stratum.h"

#define DUMP_FLAGS	JSON_COMPACT

static void
set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
{
	va_list	 ap;

	if (reason == NULL || reasonlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, reasonlen, fmt, ap);
	va_end(ap);
}

/* Only JSON whitespace: a keep-alive "\r\n" or a blank line between
 * messages is not an error. */
static bool
is_blank(const unsigned char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return (false);
	return (true);
}

enum stratum_read
stratum_read(struct evbuffer *in, size_t max_line, struct stratum_msg *msg,
    char *reason, size_t reasonlen)
{
	struct evbuffer_ptr	 end, nl;
	unsigned char		*p;
	size_t			 buffered, line_len, len;
	int			 rc;

	memset(msg, 0, sizeof(*msg));
	for (;;) {
		if ((buffered = evbuffer_get_length(in)) == 0)
			return (STRATUM_READ_AGAIN);

		/* Search only as far as the longest legal line (plus its
		 * "\n"), so a peer streaming megabytes without a newline
		 * costs one bounded scan, not a scan of all it sent. */
		if (evbuffer_ptr_set(in, &end,
		    buffered < max_line + 1 ? buffered : max_line + 1,
		    EVBUFFER_PTR_SET) == -1)
			return (STRATUM_READ_AGAIN);
		nl = evbuffer_search_range(in, "\n", 1, NULL, &end);
		if (nl.pos == -1) {
			if (buffered > max_line) {
				set_reason(reason, reasonlen,
				    "line longer than %zu bytes", max_line);
				return (STRATUM_READ_OVERFLOW);
			}
			return (STRATUM_READ_AGAIN);
		}
		line_len = (size_t)nl.pos;

		if ((p = evbuffer_pullup(in, (ev_ssize_t)line_len + 1)) == NULL)
			return (STRATUM_READ_AGAIN);
		len = line_len;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (is_blank(p, len)) {
			evbuffer_drain(in, line_len + 1);
			continue;
		}
		rc = stratum_decode((const char *)p, len, msg, reason,
		    reasonlen);
		evbuffer_drain(in, line_len + 1);
		return (rc == 0 ? STRATUM_READ_MSG : STRATUM_READ_BAD);
	}
}

int
stratum_decode(const char *line, size_t len, struct stratum_msg *msg,
    char *reason, size_t reasonlen)
{
	json_error_t	 jerr;
	json_t		*root, *method, *id, *params;

	memset(msg, 0, sizeof(*msg));

	/* jansson rejects invalid UTF-8, NUL bytes, trailing garbage and
	 * integers beyond int64 by default; keep it so.  Duplicate keys are
	 * tolerated (the last one wins), as every firmware's parser does.
	 * DECODE_ANY only so a bare scalar is reported as "not a JSON
	 * object" rather than as a syntax error. */
	if ((root = json_loadb(line, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		set_reason(reason, reasonlen, "invalid JSON: %s", jerr.text);
		return (-1);
	}
	if (!json_is_object(root)) {
		set_reason(reason, reasonlen, "not a JSON object");
		goto err;
	}

	id = json_object_get(root, "id");
	method = json_object_get(root, "method");
	/* "method":null is seen on responses from some JSON-RPC stacks;
	 * treat it as absent rather than as a malformed request. */
	if (method != NULL && !json_is_null(method)) {
		if (!json_is_string(method)) {
			set_reason(reason, reasonlen,
			    "method must be a string");
			goto err;
		}
		params = json_object_get(root, "params");
		if (params == NULL || json_is_null(params)) {
			/* Stored in root so its lifetime is root's. */
			if ((params = json_array()) == NULL ||
			    json_object_set_new(root, "params", params) == -1) {
				set_reason(reason, reasonlen, "out of memory");
				goto err;
			}
		} else if (!json_is_array(params)) {
			set_reason(reason, reasonlen,
			    "params must be an array");
			goto err;
		}
		msg->kind = (id != NULL && !json_is_null(id)) ?
		    STRATUM_REQUEST : STRATUM_NOTIFICATION;
		msg->method = json_string_value(method);
		msg->params = params;
	} else {
		if (id == NULL || (json_object_get(root, "result") == NULL &&
		    json_object_get(root, "error") == NULL)) {
			set_reason(reason, reasonlen, "missing method");
			goto err;
		}
		msg->kind = STRATUM_RESPONSE;
		msg->result = json_object_get(root, "result");
		msg->error = json_object_get(root, "error");
		if (json_is_null(msg->error))
			msg->error = NULL;
	}
	msg->root = root;
	msg->id = id != NULL ? id : json_null();
	return (0);
 err:
	json_decref(root);
	memset(msg, 0, sizeof(*msg));
	return (-1);
}

void
stratum_msg_clear(struct stratum_msg *msg)
{
	if (msg == NULL)
		return;
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/*
 * Serialise obj compactly, append "\n" and hand the line to the caller's
 * buffer.  Small messages (almost all of them) never touch the heap.
 */
static char *
dump_line(json_t *obj, char *stackbuf, size_t stacklen, size_t *len)
{
	char	*buf = stackbuf;
	size_t	 n;

	if ((n = json_dumpb(obj, stackbuf, stacklen - 1, DUMP_FLAGS)) == 0)
		return (NULL);
	if (n >= stacklen - 1) {
		if ((buf = malloc(n + 2)) == NULL)
			return (NULL);
		if (json_dumpb(obj, buf, n, DUMP_FLAGS) != n) {
			free(buf);
			return (NULL);
		}
	}
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*len = n + 1;
	return (buf);
}

int
stratum_write_json(struct evbuffer *out, json_t *obj)
{
	char	 stackbuf[1024], *line;
	size_t	 len;
	int	 rc = -1;

	if (obj == NULL)
		return (-1);
	if ((line = dump_line(obj, stackbuf, sizeof(stackbuf), &len)) == NULL)
		goto done;
	/* One evbuffer_add: a line is queued whole or not at all. */
	rc = evbuffer_add(out, line, len);
	if (line != stackbuf)
		free(line);
 done:
	json_decref(obj);
	return (rc);
}

static json_t *
id_ref(json_t *id)
{
	return (id != NULL ? json_incref(id) : json_null());
}

int
stratum_write_result(struct evbuffer *out, json_t *id, json_t *result)
{
	json_t	*obj;

	if ((obj = json_object()) == NULL) {
		json_decref(result);
		return (-1);
	}
	if (json_object_set_new(obj, "id", id_ref(id)) == -1 ||
	    json_object_set_new(obj, "result",
	    result != NULL ? result : json_null()) == -1 ||
	    json_object_set_new(obj, "error", json_null()) == -1) {
		json_decref(obj);
		return (-1);
	}
	return (stratum_write_json(out, obj));
}

int
stratum_write_error(struct evbuffer *out, json_t *id, int code,
    const char *text)
{
	json_t	*obj;

	/* Always the [code, "text", null] form: it is the only one every
	 * firmware reads (docs/PROTOCOL.md section 1). */
	obj = json_pack("{s:o,s:n,s:[i,s,n]}", "id", id_ref(id), "result",
	    "error", code, text != NULL ? text : "");
	if (obj == NULL)
		return (-1);
	return (stratum_write_json(out, obj));
}

int
stratum_write_request(struct evbuffer *out, int64_t id, const char *method,
    json_t *params)
{
	json_t	*obj;

	obj = json_pack("{s:I,s:s,s:o}", "id", (json_int_t)id, "method",
	    method, "params", params != NULL ? params : json_array());
	if (obj == NULL)
		return (-1);
	return (stratum_write_json(out, obj));
}

/* Needs no escaping inside a JSON string (the text is valid UTF-8: it
 * came through jansson or the config loader). */
static bool
plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return (false);
	return (true);
}

int
stratum_write_true(struct evbuffer *out, json_t *id)
{
	if (json_is_integer(id))
		return (evbuffer_add_printf(out, "{\"id\":%" JSON_INTEGER_FORMAT
		    ",\"result\":true,\"error\":null}\n",
		    json_integer_value(id)) < 0 ? -1 : 0);
	return (stratum_write_result(out, id, json_true()));
}

int
stratum_write_submit(struct evbuffer *out, int64_t id, const char *user,
    const char *job, const char *en2, const char *ntime, const char *nonce,
    const char *vbits)
{
	json_t	*params;

	if (plain(user) && plain(job) && plain(en2) && plain(ntime) &&
	    plain(nonce) && (vbits == NULL || plain(vbits)))
		return (evbuffer_add_printf(out, "{\"id\":%" PRId64
		    ",\"method\":\"mining.submit\",\"params\":[\"%s\",\"%s\","
		    "\"%s\",\"%s\",\"%s\"%s%s%s]}\n", id, user, job, en2, ntime,
		    nonce, vbits ? ",\"" : "", vbits ? vbits : "",
		    vbits ? "\"" : "") < 0 ? -1 : 0);
	params = json_pack("[sssss]", user, job, en2, ntime, nonce);
	if (params == NULL)
		return (-1);
	if (vbits != NULL && json_array_append_new(params,
	    json_string(vbits)) == -1) {
		json_decref(params);
		return (-1);
	}
	return (stratum_write_request(out, id, "mining.submit", params));
}

static json_t *
notification(const char *method, json_t *params)
{
	return (json_pack("{s:n,s:s,s:o}", "id", "method", method, "params",
	    params != NULL ? params : json_array()));
}

int
stratum_write_notification(struct evbuffer *out, const char *method,
    json_t *params)
{
	json_t	*obj;

	if ((obj = notification(method, params)) == NULL)
		return (-1);
	return (stratum_write_json(out, obj));
}

char *
stratum_encode_notification(const char *method, json_t *params, size_t *len)
{
	json_t	*obj;
	char	*buf = NULL;
	size_t	 n;

	if ((obj = notification(method, params)) == NULL)
		return (NULL);
	if ((n = json_dumpb(obj, NULL, 0, DUMP_FLAGS)) == 0 ||
	    (buf = malloc(n + 2)) == NULL)
		goto done;
	if (json_dumpb(obj, buf, n, DUMP_FLAGS) != n) {
		free(buf);
		buf = NULL;
		goto done;
	}
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*len = n + 1;
 done:
	json_decref(obj);
	return (buf);
}

/*
 * Reject texts as pools word them (docs/PROTOCOL.md section 5).  Matched as
 * case-insensitive substrings, so "Job not found" and ckpool's "Invalid
 * JobID" both land on 21.
 */
static const struct {
	const char	*needle;
	int		 code;
} error_texts[] = {
	{ "job not found",	STRATUM_ERR_STALE },
	{ "invalid jobid",	STRATUM_ERR_STALE },
	{ "stale",		STRATUM_ERR_STALE },
	{ "duplicate",		STRATUM_ERR_DUPLICATE },
	{ "low difficulty",	STRATUM_ERR_LOW_DIFFICULTY },
	{ "above target",	STRATUM_ERR_LOW_DIFFICULTY },
	{ "unauthorized",	STRATUM_ERR_UNAUTHORIZED },
	{ "unauthorised",	STRATUM_ERR_UNAUTHORIZED },
	{ "worker mismatch",	STRATUM_ERR_UNAUTHORIZED },	/* ckpool */
	{ "not subscribed",	STRATUM_ERR_NOT_SUBSCRIBED },
};

static int
code_from_text(const char *text)
{
	size_t	 i;

	if (text == NULL)
		return (STRATUM_ERR_OTHER);
	for (i = 0; i < sizeof(error_texts) / sizeof(error_texts[0]); i++)
		if (strcasestr(text, error_texts[i].needle) != NULL)
			return (error_texts[i].code);
	return (STRATUM_ERR_OTHER);
}

static const char *
default_text(int code)
{
	switch (code) {
	case STRATUM_ERR_STALE:
		return ("Job not found");
	case STRATUM_ERR_DUPLICATE:
		return ("Duplicate share");
	case STRATUM_ERR_LOW_DIFFICULTY:
		return ("Low difficulty share");
	case STRATUM_ERR_UNAUTHORIZED:
		return ("Unauthorized worker");
	case STRATUM_ERR_NOT_SUBSCRIBED:
		return ("Not subscribed");
	}
	return ("Other/Unknown");
}

int
stratum_error_code(const struct stratum_msg *msg, const char **text)
{
	const json_t	*err = msg->error, *c = NULL, *t = NULL;
	const char	*s = NULL;
	int		 code = -1;

	/* ESP-Miner's order: error[1], a string error, error.message,
	 * then ckpool's "reject-reason". */
	if (json_is_array(err)) {
		c = json_array_get(err, 0);
		t = json_array_get(err, 1);
	} else if (json_is_object(err)) {
		c = json_object_get(err, "code");
		t = json_object_get(err, "message");
	} else if (json_is_string(err))
		t = err;
	if (json_is_string(t))
		s = json_string_value(t);
	if (s == NULL && msg->root != NULL &&
	    json_is_string(json_object_get(msg->root, "reject-reason")))
		s = json_string_value(json_object_get(msg->root,
		    "reject-reason"));
	/* Range-checked before narrowing: the code is peer input. */
	if (json_is_integer(c) && json_integer_value(c) >= INT_MIN &&
	    json_integer_value(c) <= INT_MAX)
		code = (int)json_integer_value(c);
	else if (json_is_real(c) && fabs(json_real_value(c)) < 1e9)
		code = (int)json_real_value(c);

	/* Code is king where it is one of the de-facto codes; a generic
	 * code (20, -1, JSON-RPC's -32xxx) says nothing, so the text
	 * decides. */
	if (code < STRATUM_ERR_STALE || code > STRATUM_ERR_NOT_SUBSCRIBED)
		code = code_from_text(s);
	if (text != NULL)
		*text = s != NULL ? s : default_text(code);
	return (code);
}

static const char *
param_str(const json_t *params, size_t i, size_t *len)
{
	const json_t	*v = json_array_get(params, i);

	if (!json_is_string(v))
		return (NULL);
	if (len != NULL)
		*len = json_string_length(v);
	return (json_string_value(v));
}

int
stratum_parse_submit(const json_t *params, struct stratum_submit *s,
    char *err, size_t errlen)
{
	const char	**fields[] = { &s->worker, &s->job_id, &s->en2,
	    &s->ntime, &s->nonce, &s->vbits };
	size_t		 n, i;

	memset(s, 0, sizeof(*s));
	n = json_array_size(params);
	if (!json_is_array(params) || (n != 5 && n != 6)) {
		set_reason(err, errlen, "submit: expected 5 or 6 params");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if ((*fields[i] = param_str(params, i, NULL)) == NULL) {
			memset(s, 0, sizeof(*s));
			set_reason(err, errlen,
			    "submit: param %zu must be a string", i + 1);
			return (-1);
		}
	}
	return (0);
}

/* The session id is the second element of the mining.notify tuple.
 * Layouts seen: [[["mining.set_difficulty",x],["mining.notify",y]],...],
 * a single tuple [["mining.notify",y]], and a flat ["mining.notify",y]. */
static void
subscribe_session(const json_t *subs, char *session, size_t sessionlen)
{
	const json_t	*tuple = NULL, *t;
	const char	*s;
	size_t		 i;

	session[0] = '\0';
	if (!json_is_array(subs))
		return;
	if (json_is_string(json_array_get(subs, 0)))
		tuple = subs;
	else {
		json_array_foreach(subs, i, t) {
			if (json_is_array(t) && (s = json_string_value(
			    json_array_get(t, 0))) != NULL &&
			    strcmp(s, "mining.notify") == 0) {
				tuple = t;
				break;
			}
		}
	}
	if (tuple == NULL ||
	    (s = json_string_value(json_array_get(tuple, 0))) == NULL ||
	    strcmp(s, "mining.notify") != 0 ||
	    (s = json_string_value(json_array_get(tuple, 1))) == NULL)
		return;
	/* Only for resuming; one we cannot hold is simply not used. */
	if (strlen(s) < sessionlen)
		memcpy(session, s, strlen(s) + 1);
}

static int
parse_en1(const json_t *v, uint8_t *en1, size_t *en1_len)
{
	const char	*s;

	if (!json_is_string(v))
		return (-1);
	s = json_string_value(v);
	return (hex_decode_var(s, json_string_length(v), en1, EXTRANONCE_MAX,
	    en1_len));
}

static int
parse_en2_size(const json_t *v, size_t *size)
{
	json_int_t	 n;

	if (!json_is_integer(v))
		return (-1);
	n = json_integer_value(v);
	if (n < 1 || n > EXTRANONCE_MAX)
		return (-1);
	*size = (size_t)n;
	return (0);
}

int
stratum_parse_subscribe_result(const json_t *result,
    struct stratum_subscribe_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (!json_is_array(result) || json_array_size(result) < 3) {
		set_reason(err, errlen,
		    "subscribe: result must be an array of 3");
		return (-1);
	}
	if (parse_en1(json_array_get(result, 1), r->en1, &r->en1_len) == -1) {
		set_reason(err, errlen,
		    "subscribe: extranonce1 must be hex of at most %d bytes",
		    EXTRANONCE_MAX);
		goto err;
	}
	if (parse_en2_size(json_array_get(result, 2), &r->en2_size) == -1) {
		set_reason(err, errlen,
		    "subscribe: extranonce2_size must be an integer 1..%d",
		    EXTRANONCE_MAX);
		goto err;
	}
	subscribe_session(json_array_get(result, 0), r->session,
	    sizeof(r->session));
	return (0);
 err:
	memset(r, 0, sizeof(*r));
	return (-1);
}

/* BIP 310 says "hex string"; accept 1..8 digits so a miner that drops
 * leading zeros still gets rolling. */
static int
parse_mask(const json_t *v, uint32_t *mask)
{
	const char	*s;
	uint32_t	 m = 0;
	size_t		 len, i;
	int		 d;

	if (!json_is_string(v))
		return (-1);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < 1 || len > 8)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return (-1);
		d = isdigit((unsigned char)s[i]) ? s[i] - '0' :
		    tolower((unsigned char)s[i]) - 'a' + 10;
		m = m << 4 | (uint32_t)d;
	}
	*mask = m;
	return (0);
}

int
stratum_parse_configure(const json_t *params, struct stratum_configure *c,
    char *err, size_t errlen)
{
	const json_t	*exts, *opts, *v;
	const char	*name;
	size_t		 i;

	memset(c, 0, sizeof(*c));
	c->mask = 0xffffffff;

	exts = json_array_get(params, 0);
	opts = json_array_get(params, 1);
	if (!json_is_array(params) || !json_is_array(exts)) {
		set_reason(err, errlen,
		    "configure: params must be [[extensions], {options}]");
		goto err;
	}
	if (opts != NULL && !json_is_object(opts)) {
		set_reason(err, errlen, "configure: options must be an object");
		goto err;
	}
	json_array_foreach(exts, i, v) {
		if ((name = json_string_value(v)) == NULL) {
			set_reason(err, errlen,
			    "configure: extension names must be strings");
			goto err;
		}
		/* Unknown extensions (info, ...) are not ours to refuse. */
		if (strcmp(name, "version-rolling") == 0)
			c->version_rolling = true;
		else if (strcmp(name, "minimum-difficulty") == 0)
			c->minimum_difficulty = true;
		else if (strcmp(name, "subscribe-extranonce") == 0)
			c->subscribe_extranonce = true;
	}

	if (c->version_rolling && opts != NULL &&
	    (v = json_object_get(opts, "version-rolling.mask")) != NULL &&
	    parse_mask(v, &c->mask) == -1) {
		set_reason(err, errlen,
		    "configure: version-rolling.mask must be 8 hex digits");
		goto err;
	}
	if (c->minimum_difficulty) {
		v = opts != NULL ?
		    json_object_get(opts, "minimum-difficulty.value") : NULL;
		/* A request without a value asks for nothing; ignore it
		 * rather than fail the whole configure. */
		if (v == NULL)
			c->minimum_difficulty = false;
		else if (!json_is_number(v) ||
		    !isfinite(json_number_value(v)) ||
		    json_number_value(v) < 0) {
			set_reason(err, errlen, "configure: "
			    "minimum-difficulty.value must be a number >= 0");
			goto err;
		} else
			c->min_diff = json_number_value(v);
	}
	return (0);
 err:
	memset(c, 0, sizeof(*c));
	return (-1);
}

int
stratum_parse_difficulty(const json_t *params, double *d, char *err,
    size_t errlen)
{
	const json_t	*v = json_array_get(params, 0);
	double		 x;

	if (!json_is_array(params) || !json_is_number(v) ||
	    !isfinite(x = json_number_value(v)) || x <= 0) {
		set_reason(err, errlen,
		    "set_difficulty: must be a finite number > 0");
		return (-1);
	}
	*d = x;
	return (0);
}

int
stratum_parse_set_extranonce(const json_t *params, uint8_t *en1,
    size_t *en1_len, size_t *en2_size, char *err, size_t errlen)
{
	uint8_t	 buf[EXTRANONCE_MAX];
	size_t	 len, size;

	if (!json_is_array(params) || json_array_size(params) < 2) {
		set_reason(err, errlen,
		    "set_extranonce: params must be [extranonce1, size]");
		return (-1);
	}
	if (parse_en1(json_array_get(params, 0), buf, &len) == -1) {
		set_reason(err, errlen,
		    "set_extranonce: extranonce1 must be hex of at most %d "
		    "bytes", EXTRANONCE_MAX);
		return (-1);
	}
	if (parse_en2_size(json_array_get(params, 1), &size) == -1) {
		set_reason(err, errlen,
		    "set_extranonce: extranonce2_size must be an integer 1..%d",
		    EXTRANONCE_MAX);
		return (-1);
	}
	memcpy(en1, buf, len);
	*en1_len = len;
	*en2_size = size;
	return (0);
}
