/* Check suite: common/stratum.c, the Stratum v1 line codec. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "stratum.h"

static struct evbuffer *
buf_with(const char *s)
{
	struct evbuffer	*b = evbuffer_new();

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(evbuffer_add(b, s, strlen(s)), 0);
	return (b);
}

/* The whole content of out as a C string (caller frees). */
static char *
drain_str(struct evbuffer *out)
{
	size_t	 n = evbuffer_get_length(out);
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(evbuffer_remove(out, s, n), (int)n);
	s[n] = '\0';
	return (s);
}

static enum stratum_read
read1(struct evbuffer *b, size_t max, struct stratum_msg *m, char *reason)
{
	return (stratum_read(b, max, m, reason, 128));
}

/* --- decoding and classification ------------------------------------ */

START_TEST(classify_request)
{
	struct stratum_msg	 m;
	char			 r[128];
	const char		*a = "{\"id\":1,\"method\":\"mining.subscribe\","
	    "\"params\":[\"cgminer/4.11.1\"]}";

	ck_assert_int_eq(stratum_decode(a, strlen(a), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_REQUEST);
	ck_assert_str_eq(m.method, "mining.subscribe");
	ck_assert(json_is_array(m.params));
	ck_assert_str_eq(json_string_value(json_array_get(m.params, 0)),
	    "cgminer/4.11.1");
	ck_assert_int_eq(json_integer_value(m.id), 1);
	ck_assert_ptr_null(m.result);
	stratum_msg_clear(&m);
	ck_assert_ptr_null(m.root);
}
END_TEST

START_TEST(classify_notification)
{
	struct stratum_msg	 m;
	char			 r[128];
	const char		*a = "{\"id\":null,\"method\":\"mining.set_difficulty\","
	    "\"params\":[1024]}";
	const char		*b = "{\"params\":[],\"method\":\"mining.ping\"}";

	ck_assert_int_eq(stratum_decode(a, strlen(a), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_NOTIFICATION);
	ck_assert(json_is_null(m.id));
	stratum_msg_clear(&m);
	/* id absent: still a notification, and id reads as null */
	ck_assert_int_eq(stratum_decode(b, strlen(b), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_NOTIFICATION);
	ck_assert_ptr_nonnull(m.id);
	ck_assert(json_is_null(m.id));
	ck_assert_str_eq(m.method, "mining.ping");
	stratum_msg_clear(&m);
}
END_TEST

START_TEST(classify_response)
{
	struct stratum_msg	 m;
	char			 r[128];
	const char		*ok = "{\"id\":4,\"result\":true,\"error\":null}";
	const char		*rej = "{\"id\":4,\"result\":null,"
	    "\"error\":[23,\"Low difficulty share\",null]}";
	const char		*mnull = "{\"id\":4,\"result\":true,\"error\":null,"
	    "\"method\":null}";

	ck_assert_int_eq(stratum_decode(ok, strlen(ok), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_RESPONSE);
	ck_assert(json_is_true(m.result));
	ck_assert_ptr_null(m.error);
	ck_assert_ptr_null(m.method);
	stratum_msg_clear(&m);
	ck_assert_int_eq(stratum_decode(rej, strlen(rej), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_RESPONSE);
	ck_assert(json_is_null(m.result));
	ck_assert(json_is_array(m.error));
	stratum_msg_clear(&m);
	ck_assert_int_eq(stratum_decode(mnull, strlen(mnull), &m, r,
	    sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_RESPONSE);
	stratum_msg_clear(&m);
}
END_TEST

START_TEST(params_absent_is_empty)
{
	struct stratum_msg	 m;
	char			 r[128];
	const char		*a = "{\"id\":3,\"method\":\"mining.extranonce.subscribe\"}";

	ck_assert_int_eq(stratum_decode(a, strlen(a), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(m.kind, STRATUM_REQUEST);
	ck_assert(json_is_array(m.params));
	ck_assert_uint_eq(json_array_size(m.params), 0);
	stratum_msg_clear(&m);
}
END_TEST

static const struct {
	const char	*line;
	const char	*reason;	/* substring of the reason */
} bad_lines[] = {
	{ "", "invalid JSON" },
	{ "hello", "invalid JSON" },
	{ "{\"id\":1,\"method\":\"x\"", "invalid JSON" },
	{ "{\"id\":1,\"method\":\"x\",\"params\":[]} trailing", "invalid JSON" },
	{ "[1,2,3]", "not a JSON object" },
	{ "\"mining.notify\"", "not a JSON object" },
	{ "42", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "{\"id\":1}", "missing method" },
	{ "{\"result\":true,\"error\":null}", "missing method" },
	{ "{}", "missing method" },
	{ "{\"id\":1,\"method\":5,\"params\":[]}", "method must be a string" },
	{ "{\"id\":1,\"method\":[\"x\"],\"params\":[]}",
	  "method must be a string" },
	{ "{\"id\":1,\"method\":\"mining.submit\",\"params\":{\"a\":1}}",
	  "params must be an array" },
	{ "{\"id\":1,\"method\":\"mining.submit\",\"params\":\"x\"}",
	  "params must be an array" },
	/* invalid UTF-8 (a lone continuation byte, an overlong form) */
	{ "{\"id\":1,\"method\":\"mining.authorize\",\"params\":[\"w\x80\"]}",
	  "invalid JSON" },
	{ "{\"id\":1,\"method\":\"mining.authorize\",\"params\":[\"\xc0\xaf\"]}",
	  "invalid JSON" },
	/* beyond int64: jansson refuses rather than round */
	{ "{\"id\":18446744073709551616,\"method\":\"x\",\"params\":[]}",
	  "invalid JSON" },
};

START_TEST(decode_bad)
{
	struct stratum_msg	 m;
	char			 r[128] = "";
	const char		*line = bad_lines[_i].line;

	memset(&m, 0x5a, sizeof(m));
	ck_assert_int_eq(stratum_decode(line, strlen(line), &m, r, sizeof(r)),
	    -1);
	ck_assert_msg(strstr(r, bad_lines[_i].reason) != NULL,
	    "line %d: reason \"%s\"", _i, r);
	ck_assert_ptr_null(m.root);
	ck_assert_ptr_null(m.method);
}
END_TEST

START_TEST(nul_byte)
{
	static const char	 line[] = "{\"id\":1,\"method\":\"a\0b\",\"params\":[]}";
	static const char	 outside[] = "{\"id\":1,\"method\":\"ab\",\0\"params\":[]}";
	struct stratum_msg	 m;
	struct evbuffer		*b;
	char			 r[128];

	ck_assert_int_eq(stratum_decode(line, sizeof(line) - 1, &m, r,
	    sizeof(r)), -1);
	ck_assert_int_eq(stratum_decode(outside, sizeof(outside) - 1, &m, r,
	    sizeof(r)), -1);
	/* through the framer: the line is consumed, the next one is fine */
	b = evbuffer_new();
	evbuffer_add(b, line, sizeof(line) - 1);
	evbuffer_add(b, "\n{\"id\":2,\"result\":true,\"error\":null}\n", 38);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_BAD);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_int_eq(json_integer_value(m.id), 2);
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	evbuffer_free(b);
}
END_TEST

/* --- framing ---------------------------------------------------------- */

START_TEST(empty_lines_skipped)
{
	struct evbuffer		*b = buf_with("\n\r\n   \n\t\r\n");
	struct stratum_msg	 m;
	char			 r[128];

	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	evbuffer_add_printf(b, "\n\n{\"id\":1,\"result\":true,\"error\":null}\n");
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_int_eq(m.kind, STRATUM_RESPONSE);
	stratum_msg_clear(&m);
	evbuffer_free(b);
}
END_TEST

START_TEST(crlf)
{
	struct evbuffer		*b = buf_with("{\"id\":7,\"method\":\"mining.ping\","
	    "\"params\":[]}\r\n{\"id\":8,\"result\":\"pong\",\"error\":null}\r\n");
	struct stratum_msg	 m;
	char			 r[128];

	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_str_eq(m.method, "mining.ping");
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_str_eq(json_string_value(m.result), "pong");
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	evbuffer_free(b);
}
END_TEST

START_TEST(several_lines)
{
	struct evbuffer		*b = buf_with(
	    "{\"id\":1,\"method\":\"a\",\"params\":[]}\n"
	    "not json\n"
	    "{\"id\":null,\"method\":\"b\",\"params\":[1]}\n"
	    "{\"id\":3,\"result\":[],\"error\":null}\n"
	    "{\"id\":4,\"meth");
	struct stratum_msg	 m;
	char			 r[128];

	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_str_eq(m.method, "a");
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_BAD);
	ck_assert_ptr_nonnull(strstr(r, "invalid JSON"));
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_str_eq(m.method, "b");
	ck_assert_int_eq(m.kind, STRATUM_NOTIFICATION);
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_int_eq(m.kind, STRATUM_RESPONSE);
	stratum_msg_clear(&m);
	/* the partial last line stays buffered */
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(b), 13);
	evbuffer_free(b);
}
END_TEST

START_TEST(split_line)
{
	struct evbuffer		*b = buf_with("{\"id\":5,\"method\":\"mining.au");
	struct stratum_msg	 m;
	char			 r[128];

	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(b), 27);
	evbuffer_add_printf(b, "thorize\",\"params\":[\"w.1\",\"x\"]}\n");
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_str_eq(m.method, "mining.authorize");
	ck_assert_int_eq(json_integer_value(m.id), 5);
	stratum_msg_clear(&m);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}
END_TEST

/* A line of exactly n bytes: a valid request padded with spaces. */
static char *
line_of(size_t n)
{
	const char	*msg = "{\"id\":1,\"method\":\"x\",\"params\":[]}";
	char		*s = malloc(n + 1);

	ck_assert_uint_ge(n, strlen(msg));
	memset(s, ' ', n);
	memcpy(s, msg, strlen(msg));
	s[n] = '\0';
	return (s);
}

START_TEST(overflow)
{
	struct evbuffer		*b;
	struct stratum_msg	 m;
	char			 r[128], *s;

	/* exactly the limit is fine */
	s = line_of(100);
	b = buf_with(s);
	ck_assert_int_eq(read1(b, 100, &m, r), STRATUM_READ_AGAIN);
	evbuffer_add(b, "\n", 1);
	ck_assert_int_eq(read1(b, 100, &m, r), STRATUM_READ_MSG);
	stratum_msg_clear(&m);
	evbuffer_free(b);
	free(s);

	/* one byte over, complete line: overflow, buffer untouched */
	s = line_of(101);
	b = buf_with(s);
	evbuffer_add(b, "\n", 1);
	ck_assert_int_eq(read1(b, 100, &m, r), STRATUM_READ_OVERFLOW);
	ck_assert_ptr_nonnull(strstr(r, "100"));
	ck_assert_uint_eq(evbuffer_get_length(b), 102);
	ck_assert_ptr_null(m.root);
	evbuffer_free(b);

	/* one byte over with no newline yet: overflow now, not later */
	b = buf_with(s);
	ck_assert_int_eq(read1(b, 100, &m, r), STRATUM_READ_OVERFLOW);
	ck_assert_uint_eq(evbuffer_get_length(b), 101);
	evbuffer_free(b);
	free(s);

	/* a good line first, then a flood: the good one is still read */
	b = buf_with("{\"id\":1,\"result\":true,\"error\":null}\n");
	s = line_of(5000);
	evbuffer_add(b, s, 5000);
	free(s);
	ck_assert_int_eq(read1(b, STRATUM_MAX_LINE_MINER, &m, r),
	    STRATUM_READ_MSG);
	stratum_msg_clear(&m);
	ck_assert_int_eq(read1(b, STRATUM_MAX_LINE_MINER, &m, r),
	    STRATUM_READ_OVERFLOW);
	evbuffer_free(b);
}
END_TEST

START_TEST(bad_line_consumed)
{
	struct evbuffer		*b = buf_with("[1]\n{\"id\":1}\n");
	struct stratum_msg	 m;
	char			 r[128];

	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_BAD);
	ck_assert_ptr_nonnull(strstr(r, "not a JSON object"));
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_BAD);
	ck_assert_ptr_nonnull(strstr(r, "missing method"));
	ck_assert_int_eq(read1(b, 4096, &m, r), STRATUM_READ_AGAIN);
	evbuffer_free(b);
}
END_TEST

/* --- ids echoed exactly ------------------------------------------------ */

static const struct {
	const char	*id;	/* as sent */
	const char	*echo;	/* as written back */
} ids[] = {
	{ "7", "7" },
	{ "0", "0" },
	{ "-3", "-3" },
	{ "\"abc\"", "\"abc\"" },
	{ "\"\"", "\"\"" },
	{ "\"\\u00e9t\\u00e9\"", "\"\xc3\xa9t\xc3\xa9\"" },
	{ "null", "null" },
	{ "1.5", "1.5" },
	{ "9007199254740993", "9007199254740993" },
	{ "9223372036854775807", "9223372036854775807" },
	{ "-9223372036854775808", "-9223372036854775808" },
	{ "true", "true" },
	{ "[1,\"a\"]", "[1,\"a\"]" },
	{ "{\"k\":1}", "{\"k\":1}" },
};

START_TEST(id_echo)
{
	struct stratum_msg	 m;
	struct evbuffer		*in, *out;
	char			 r[128], *line, want[256];

	in = evbuffer_new();
	out = evbuffer_new();
	evbuffer_add_printf(in, "{\"id\":%s,\"method\":\"mining.authorize\","
	    "\"params\":[\"w\",\"x\"]}\n", ids[_i].id);
	ck_assert_int_eq(read1(in, 4096, &m, r), STRATUM_READ_MSG);
	ck_assert_int_eq(stratum_write_result(out, m.id, json_true()), 0);
	ck_assert_int_eq(stratum_write_error(out, m.id, 24,
	    "Unauthorized worker"), 0);
	stratum_msg_clear(&m);
	line = drain_str(out);
	snprintf(want, sizeof(want), "{\"id\":%s,\"result\":true,\"error\":null}\n"
	    "{\"id\":%s,\"result\":null,\"error\":[24,\"Unauthorized worker\","
	    "null]}\n", ids[_i].echo, ids[_i].echo);
	ck_assert_str_eq(line, want);
	free(line);
	evbuffer_free(in);
	evbuffer_free(out);
}
END_TEST

/* A real that is not short in binary still comes back as the same value. */
START_TEST(id_echo_real)
{
	struct stratum_msg	 m, back;
	struct evbuffer		*out = evbuffer_new();
	char			 r[128], *line;
	const char		*a = "{\"id\":0.1,\"method\":\"x\",\"params\":[]}";

	ck_assert_int_eq(stratum_decode(a, strlen(a), &m, r, sizeof(r)), 0);
	ck_assert_int_eq(stratum_write_result(out, m.id, NULL), 0);
	line = drain_str(out);
	ck_assert_int_eq(stratum_decode(line, strlen(line) - 1, &back, r,
	    sizeof(r)), 0);
	ck_assert(json_is_real(back.id));
	ck_assert(json_real_value(back.id) == 0.1);
	ck_assert(json_is_null(back.result));
	stratum_msg_clear(&back);
	stratum_msg_clear(&m);
	free(line);
	evbuffer_free(out);
}
END_TEST

/* --- writers ------------------------------------------------------------ */

START_TEST(writers_exact)
{
	struct evbuffer	*out = evbuffer_new();
	json_t		*id = json_integer(4);
	char		*s;
	size_t		 len = 0;

	ck_assert_int_eq(stratum_write_result(out, id, json_true()), 0);
	ck_assert_int_eq(stratum_write_error(out, id, 23,
	    "Low difficulty share"), 0);
	ck_assert_int_eq(stratum_write_result(out, NULL, json_false()), 0);
	ck_assert_int_eq(stratum_write_request(out, 1, "mining.subscribe",
	    json_pack("[s]", "dpmp/0.1")), 0);
	ck_assert_int_eq(stratum_write_request(out, 2, "mining.extranonce.subscribe",
	    NULL), 0);
	ck_assert_int_eq(stratum_write_notification(out, "mining.set_difficulty",
	    json_pack("[f]", 0.5)), 0);
	ck_assert_int_eq(stratum_write_notification(out, "client.reconnect",
	    NULL), 0);
	ck_assert_int_eq(stratum_write_json(out, json_pack("{s:i}", "a", 1)), 0);
	ck_assert_int_eq(stratum_write_json(out, NULL), -1);
	s = drain_str(out);
	ck_assert_str_eq(s,
	    "{\"id\":4,\"result\":true,\"error\":null}\n"
	    "{\"id\":4,\"result\":null,\"error\":[23,\"Low difficulty share\",null]}\n"
	    "{\"id\":null,\"result\":false,\"error\":null}\n"
	    "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"dpmp/0.1\"]}\n"
	    "{\"id\":2,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n"
	    "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0.5]}\n"
	    "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}\n"
	    "{\"a\":1}\n");
	free(s);
	/* the borrowed id is still ours */
	ck_assert_int_eq(id->refcount, 1);
	json_decref(id);

	s = stratum_encode_notification("mining.set_version_mask",
	    json_pack("[s]", "1fffe000"), &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "{\"id\":null,\"method\":\"mining.set_version_mask\","
	    "\"params\":[\"1fffe000\"]}\n");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	evbuffer_free(out);
}
END_TEST

/* A notify bigger than any stack buffer goes out whole and reads back. */
START_TEST(writer_large)
{
	struct evbuffer		*out = evbuffer_new();
	struct stratum_msg	 m;
	json_t			*p;
	char			*big, r[128];

	big = malloc(40001);
	memset(big, 'a', 40000);
	big[40000] = '\0';
	p = json_pack("[s,s]", "job", big);
	ck_assert_int_eq(stratum_write_notification(out, "mining.notify", p), 0);
	ck_assert_uint_gt(evbuffer_get_length(out), 40000);
	ck_assert_int_eq(stratum_read(out, STRATUM_MAX_LINE_POOL, &m, r,
	    sizeof(r)), STRATUM_READ_MSG);
	ck_assert_str_eq(json_string_value(json_array_get(m.params, 1)), big);
	stratum_msg_clear(&m);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	free(big);
	evbuffer_free(out);
}
END_TEST

/* --- error classification ---------------------------------------------- */

static int
err_code(const char *line, const char **text)
{
	struct stratum_msg	 m;
	static char		 keep[128];
	char			 r[128];
	int			 code;

	ck_assert_int_eq(stratum_decode(line, strlen(line), &m, r, sizeof(r)),
	    0);
	code = stratum_error_code(&m, text);
	/* the text is borrowed from m: copy before clearing */
	snprintf(keep, sizeof(keep), "%s", *text);
	*text = keep;
	stratum_msg_clear(&m);
	return (code);
}

START_TEST(error_forms)
{
	const char	*t;

	/* [code, "msg", null] */
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":null,"
	    "\"error\":[21,\"Job not found\",null]}", &t), 21);
	ck_assert_str_eq(t, "Job not found");
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":null,"
	    "\"error\":[22,\"Duplicate share\",\"traceback\"]}", &t), 22);
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":null,"
	    "\"error\":[25]}", &t), 25);
	ck_assert_str_eq(t, "Not subscribed");
	/* bare string (ckpool parameter errors) */
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":null,"
	    "\"error\":\"No nonce\"}", &t), 20);
	ck_assert_str_eq(t, "No nonce");
	/* JSON-RPC 2.0 object */
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":null,"
	    "\"error\":{\"code\":24,\"message\":\"Unauthorized worker\"}}", &t),
	    24);
	ck_assert_str_eq(t, "Unauthorized worker");
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":{\"code\":-32601,"
	    "\"message\":\"Method not found\"}}", &t), 20);
	ck_assert_str_eq(t, "Method not found");
	/* null + reject-reason (ckpool share rejects) */
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":false,\"error\":null,"
	    "\"reject-reason\":\"Stale\"}", &t), 21);
	ck_assert_str_eq(t, "Stale");
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":false,\"error\":null,"
	    "\"reject-reason\":\"Above target\"}", &t), 23);
	/* nothing to go on */
	ck_assert_int_eq(err_code("{\"id\":1,\"result\":false,\"error\":null}",
	    &t), 20);
	ck_assert_ptr_nonnull(t);
}
END_TEST

static const struct {
	const char	*text;
	int		 code;
} reject_texts[] = {
	{ "Invalid JobID", 21 },
	{ "Stale", 21 },
	{ "Job not found", 21 },
	{ "Duplicate", 22 },
	{ "Duplicate share", 22 },
	{ "Above target", 23 },
	{ "low difficulty", 23 },
	{ "Low difficulty share", 23 },
	{ "Unauthorized worker", 24 },
	{ "Unauthorized", 24 },
	{ "Not subscribed", 25 },
	{ "Ntime out of range", 20 },
	{ "Invalid version mask", 20 },
	{ "Worker mismatch", 24 },
	{ "Invalid nonce2 length", 20 },
	{ "Other/Unknown", 20 },
};

START_TEST(error_texts)
{
	char		 line[256];
	const char	*t;

	snprintf(line, sizeof(line), "{\"id\":9,\"result\":false,\"error\":null,"
	    "\"reject-reason\":\"%s\"}", reject_texts[_i].text);
	ck_assert_int_eq(err_code(line, &t), reject_texts[_i].code);
	ck_assert_str_eq(t, reject_texts[_i].text);
	/* the same text under a generic code 20 is classified the same */
	snprintf(line, sizeof(line), "{\"id\":9,\"result\":null,"
	    "\"error\":[20,\"%s\",null]}", reject_texts[_i].text);
	ck_assert_int_eq(err_code(line, &t), reject_texts[_i].code);
}
END_TEST

START_TEST(error_codes_pass)
{
	const char	*t;

	/* 21..25 pass through whatever the text says */
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[23,\"Stale\",null]}",
	    &t), 23);
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[21,\"whatever\",null]}",
	    &t), 21);
	/* other codes are 20 unless the text says more */
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[26,\"x\",null]}", &t),
	    20);
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[-1,\"x\",null]}", &t),
	    20);
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[\"21\",\"x\",null]}",
	    &t), 20);
	/* codes that do not fit an int fall back to the text */
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[1e300,\"Stale\",null]}",
	    &t), 21);
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[4294967318,\"x\",null]}",
	    &t), 20);
	ck_assert_int_eq(err_code("{\"id\":1,\"error\":[22.0,\"x\",null]}",
	    &t), 22);
}
END_TEST

/* --- param parsers ------------------------------------------------------ */

static json_t *
J(const char *s)
{
	json_error_t	 e;
	json_t		*v = json_loads(s, JSON_DECODE_ANY, &e);

	ck_assert_msg(v != NULL, "%s: %s", s, e.text);
	return (v);
}

START_TEST(parse_submit)
{
	struct stratum_submit	 s;
	json_t			*p;
	char			 err[128];

	p = J("[\"w.1\",\"job1\",\"7b01000000000000\",\"647025b5\",\"0a029ed1\"]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s.worker, "w.1");
	ck_assert_str_eq(s.job_id, "job1");
	ck_assert_str_eq(s.en2, "7b01000000000000");
	ck_assert_str_eq(s.ntime, "647025b5");
	ck_assert_str_eq(s.nonce, "0a029ed1");
	ck_assert_ptr_null(s.vbits);
	json_decref(p);

	p = J("[\"w.1\",\"job1\",\"7b01\",\"647025b5\",\"0a029ed1\",\"00b4e000\"]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s.vbits, "00b4e000");
	json_decref(p);

	p = J("[\"w.1\",\"job1\",\"7b01\",\"647025b5\"]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "5 or 6"));
	json_decref(p);
	p = J("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), -1);
	json_decref(p);
	p = J("[\"w.1\",\"job1\",\"7b01\",1700000000,\"0a029ed1\"]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "param 4"));
	ck_assert_ptr_null(s.worker);
	json_decref(p);
	p = J("[\"w.1\",\"job1\",\"7b01\",\"647025b5\",\"0a029ed1\",null]");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), -1);
	json_decref(p);
	p = J("{\"worker\":\"w\"}");
	ck_assert_int_eq(stratum_parse_submit(p, &s, err, sizeof(err)), -1);
	json_decref(p);
}
END_TEST

START_TEST(parse_subscribe)
{
	struct stratum_subscribe_result	 r;
	json_t				*p;
	char				 err[128];

	/* the slush / cgminer shape */
	p = J("[[[\"mining.set_difficulty\",\"b4b6693b72a50c7116db18d6497cac52\"],"
	    "[\"mining.notify\",\"ae6812eb4cd7735a302a8a9dd95cf71f\"]],"
	    "\"08000002\",4]");
	ck_assert_int_eq(stratum_parse_subscribe_result(p, &r, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(r.en1_len, 4);
	ck_assert_int_eq(r.en1[0], 0x08);
	ck_assert_int_eq(r.en1[3], 0x02);
	ck_assert_uint_eq(r.en2_size, 4);
	ck_assert_str_eq(r.session, "ae6812eb4cd7735a302a8a9dd95cf71f");
	json_decref(p);

	/* ckpool: a single tuple */
	p = J("[[[\"mining.notify\",\"a1b2c3d4\"]],\"a1b2c3d4\",8]");
	ck_assert_int_eq(stratum_parse_subscribe_result(p, &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(r.session, "a1b2c3d4");
	ck_assert_uint_eq(r.en2_size, 8);
	json_decref(p);

	/* flat tuple, and upper-case en1 */
	p = J("[[\"mining.notify\",\"s1\"],\"0A0B\",2]");
	ck_assert_int_eq(stratum_parse_subscribe_result(p, &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(r.session, "s1");
	ck_assert_int_eq(r.en1[0], 0x0a);
	json_decref(p);

	/* no notify tuple, no usable subscriptions, empty en1 */
	p = J("[[[\"mining.set_difficulty\",\"x\"]],\"\",4]");
	ck_assert_int_eq(stratum_parse_subscribe_result(p, &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(r.session, "");
	ck_assert_uint_eq(r.en1_len, 0);
	json_decref(p);
	p = J("[null,\"01\",4,\"extra\"]");
	ck_assert_int_eq(stratum_parse_subscribe_result(p, &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(r.session, "");
	json_decref(p);
}
END_TEST

START_TEST(parse_subscribe_bad)
{
	static const char *const bad[] = {
		"[[],\"08000002\"]",
		"[[],\"08000002\",0]",
		"[[],\"08000002\",33]",
		"[[],\"08000002\",4.0]",
		"[[],\"08000002\",\"4\"]",
		"[[],\"0800000\",4]",
		"[[],\"0800000g\",4]",
		"[[],8000002,4]",
		/* 33 bytes of en1 */
		"[[],\"000000000000000000000000000000000000000000000000000000000000000000\",4]",
		"{\"en1\":\"00\"}",
		"true",
	};
	struct stratum_subscribe_result	 r;
	json_t				*p;
	char				 err[128];
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = J(bad[i]);
		err[0] = '\0';
		ck_assert_msg(stratum_parse_subscribe_result(p, &r, err,
		    sizeof(err)) == -1, "%s accepted", bad[i]);
		ck_assert_msg(strstr(err, "subscribe") != NULL, "%s", err);
		json_decref(p);
	}
}
END_TEST

START_TEST(parse_configure)
{
	struct stratum_configure	 c;
	json_t				*p;
	char				 err[128];

	p = J("[[\"version-rolling\",\"minimum-difficulty\",\"subscribe-extranonce\"],"
	    "{\"version-rolling.mask\":\"1fffe000\",\"version-rolling.min-bit-count\":2,"
	    "\"minimum-difficulty.value\":2048}]");
	ck_assert_int_eq(stratum_parse_configure(p, &c, err, sizeof(err)), 0);
	ck_assert(c.version_rolling);
	ck_assert_uint_eq(c.mask, 0x1fffe000u);
	ck_assert(c.minimum_difficulty);
	ck_assert_double_eq(c.min_diff, 2048);
	ck_assert(c.subscribe_extranonce);
	json_decref(p);

	/* cgminer / ESP-Miner */
	p = J("[[\"version-rolling\"],{\"version-rolling.mask\":\"FFFFFFFF\"}]");
	ck_assert_int_eq(stratum_parse_configure(p, &c, err, sizeof(err)), 0);
	ck_assert(c.version_rolling);
	ck_assert_uint_eq(c.mask, 0xffffffffu);
	ck_assert(!c.minimum_difficulty);
	ck_assert(!c.subscribe_extranonce);
	json_decref(p);

	/* mask defaults to ffffffff; options may be missing */
	p = J("[[\"version-rolling\"]]");
	ck_assert_int_eq(stratum_parse_configure(p, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.mask, 0xffffffffu);
	json_decref(p);

	/* fractional minimum difficulty, unknown extension ignored */
	p = J("[[\"minimum-difficulty\",\"info\"],{\"minimum-difficulty.value\":0.5,"
	    "\"info.hw-version\":\"x\"}]");
	ck_assert_int_eq(stratum_parse_configure(p, &c, err, sizeof(err)), 0);
	ck_assert(!c.version_rolling);
	ck_assert(c.minimum_difficulty);
	ck_assert_double_eq(c.min_diff, 0.5);
	json_decref(p);

	/* minimum-difficulty without a value asks for nothing */
	p = J("[[\"minimum-difficulty\"],{}]");
	ck_assert_int_eq(stratum_parse_configure(p, &c, err, sizeof(err)), 0);
	ck_assert(!c.minimum_difficulty);
	json_decref(p);
}
END_TEST

START_TEST(parse_configure_bad)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"[\"version-rolling\"]",
		"[[\"version-rolling\"],[]]",
		"[[5],{}]",
		"[[\"version-rolling\"],{\"version-rolling.mask\":\"1fffe00g\"}]",
		"[[\"version-rolling\"],{\"version-rolling.mask\":\"11fffe000\"}]",
		"[[\"version-rolling\"],{\"version-rolling.mask\":536862720}]",
		"[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":-1}]",
		"[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":\"2048\"}]",
	};
	struct stratum_configure	 c;
	json_t				*p;
	char				 err[128];
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = J(bad[i]);
		err[0] = '\0';
		ck_assert_msg(stratum_parse_configure(p, &c, err,
		    sizeof(err)) == -1, "%s accepted", bad[i]);
		ck_assert_msg(strstr(err, "configure") != NULL, "%s", err);
		json_decref(p);
	}
}
END_TEST

START_TEST(parse_difficulty)
{
	static const char *const bad[] = {
		"[0]", "[0.0]", "[-1]", "[\"1024\"]", "[]", "[null]", "[true]",
		"{\"d\":1}",
	};
	double		 d = 0;
	json_t		*p;
	char		 err[128];
	size_t		 i;

	p = J("[1024]");
	ck_assert_int_eq(stratum_parse_difficulty(p, &d, err, sizeof(err)), 0);
	ck_assert_double_eq(d, 1024);
	json_decref(p);
	p = J("[0.00001]");
	ck_assert_int_eq(stratum_parse_difficulty(p, &d, err, sizeof(err)), 0);
	ck_assert_double_eq(d, 0.00001);
	json_decref(p);
	p = J("[1e15]");
	ck_assert_int_eq(stratum_parse_difficulty(p, &d, err, sizeof(err)), 0);
	ck_assert_double_eq(d, 1e15);
	json_decref(p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = J(bad[i]);
		d = 42;
		ck_assert_msg(stratum_parse_difficulty(p, &d, err,
		    sizeof(err)) == -1, "%s accepted", bad[i]);
		ck_assert_double_eq(d, 42);
		json_decref(p);
	}
}
END_TEST

START_TEST(parse_set_extranonce)
{
	static const char *const bad[] = {
		"[\"08000002\"]", "[\"08000002\",0]", "[\"08000002\",33]",
		"[\"0800000\",4]", "[\"0800000x\",4]", "[8000002,4]",
		"[\"08000002\",\"4\"]", "[]", "\"08000002\"",
	};
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 len = 0, size = 0, i;
	json_t		*p;
	char		 err[128];

	p = J("[\"08000002\",4]");
	ck_assert_int_eq(stratum_parse_set_extranonce(p, en1, &len, &size,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(size, 4);
	ck_assert_int_eq(en1[0], 0x08);
	json_decref(p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = J(bad[i]);
		len = size = 99;
		ck_assert_msg(stratum_parse_set_extranonce(p, en1, &len, &size,
		    err, sizeof(err)) == -1, "%s accepted", bad[i]);
		ck_assert_uint_eq(len, 99);
		ck_assert_ptr_nonnull(strstr(err, "set_extranonce"));
		json_decref(p);
	}
}
END_TEST

/* The per-share fast writers are byte-identical to the general ones, and
 * anything that needs escaping still comes out as valid JSON. */
START_TEST(fast_writers)
{
	struct evbuffer	*a = evbuffer_new(), *b = evbuffer_new();
	json_t		*id = json_integer(12345), *sid = json_string("x\"y");
	char		*fa, *fb;
	json_t		*v;

	stratum_write_true(a, id);
	stratum_write_result(b, id, json_true());
	fa = drain_str(a);
	fb = drain_str(b);
	ck_assert_str_eq(fa, fb);
	free(fa);
	free(fb);
	stratum_write_true(a, sid);
	stratum_write_result(b, sid, json_true());
	fa = drain_str(a);
	fb = drain_str(b);
	ck_assert_str_eq(fa, fb);
	free(fa);
	free(fb);

	stratum_write_submit(a, 7, "wallet.rig1", "1f", "00000000aabbccdd",
	    "647025b5", "0a029ed1", "00b4e000");
	stratum_write_request(b, 7, "mining.submit", json_pack("[ssssss]",
	    "wallet.rig1", "1f", "00000000aabbccdd", "647025b5", "0a029ed1",
	    "00b4e000"));
	fa = drain_str(a);
	fb = drain_str(b);
	ck_assert_str_eq(fa, fb);
	free(fa);
	free(fb);
	stratum_write_submit(a, 8, "w", "j", "00", "647025b5", "0a029ed1",
	    NULL);
	stratum_write_request(b, 8, "mining.submit", json_pack("[sssss]",
	    "w", "j", "00", "647025b5", "0a029ed1"));
	fa = drain_str(a);
	fb = drain_str(b);
	ck_assert_str_eq(fa, fb);
	free(fa);
	free(fb);

	/* a hostile worker name is escaped, not spliced into the line */
	stratum_write_submit(a, 9, "w\",\"x\\\n", "j\"", "00", "647025b5",
	    "0a029ed1", NULL);
	fa = drain_str(a);
	v = json_loads(fa, 0, NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v,
	    "params"), 0)), "w\",\"x\\\n");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v,
	    "params"), 1)), "j\"");
	json_decref(v);
	free(fa);
	json_decref(id);
	json_decref(sid);
	evbuffer_free(a);
	evbuffer_free(b);
}
END_TEST

static Suite *
stratum_suite(void)
{
	Suite	*s = suite_create("stratum");
	TCase	*dec = tcase_create("decode");
	TCase	*frm = tcase_create("framing");
	TCase	*wr = tcase_create("write");
	TCase	*err = tcase_create("errors");
	TCase	*par = tcase_create("params");

	tcase_add_test(dec, classify_request);
	tcase_add_test(dec, classify_notification);
	tcase_add_test(dec, classify_response);
	tcase_add_test(dec, params_absent_is_empty);
	tcase_add_loop_test(dec, decode_bad, 0,
	    (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
	tcase_add_test(dec, nul_byte);
	suite_add_tcase(s, dec);

	tcase_add_test(frm, empty_lines_skipped);
	tcase_add_test(frm, crlf);
	tcase_add_test(frm, several_lines);
	tcase_add_test(frm, split_line);
	tcase_add_test(frm, overflow);
	tcase_add_test(frm, bad_line_consumed);
	suite_add_tcase(s, frm);

	tcase_add_loop_test(wr, id_echo, 0, (int)(sizeof(ids) / sizeof(ids[0])));
	tcase_add_test(wr, id_echo_real);
	tcase_add_test(wr, writers_exact);
	tcase_add_test(wr, writer_large);
	suite_add_tcase(s, wr);

	tcase_add_test(err, error_forms);
	tcase_add_loop_test(err, error_texts, 0,
	    (int)(sizeof(reject_texts) / sizeof(reject_texts[0])));
	tcase_add_test(err, error_codes_pass);
	suite_add_tcase(s, err);

	tcase_add_test(par, parse_submit);
	tcase_add_test(par, parse_subscribe);
	tcase_add_test(par, parse_subscribe_bad);
	tcase_add_test(par, parse_configure);
	tcase_add_test(par, parse_configure_bad);
	tcase_add_test(par, parse_difficulty);
	tcase_add_test(par, parse_set_extranonce);
	tcase_add_test(par, fast_writers);
	suite_add_tcase(s, par);
	return (s);
}


int
main(void)
{
	SRunner	*sr = srunner_create(stratum_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
