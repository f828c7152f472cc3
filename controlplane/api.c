#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "api.h"
#include "cp.h"
#include "log.h"
#include "metrics_render.h"
#include "pbjson.h"
#include "web_assets.h"

#define JSON_TYPE	"application/json"

/* ---- responses ---------------------------------------------------------- */

static void
resp_json(struct api_resp *resp, unsigned status, json_t *body)
{
	char *text = NULL;

	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	if (text == NULL) {
		resp->status = 500;
		resp->content_type = JSON_TYPE;
		resp->body = (char *)"{\"error\":\"out of memory\"}";
		resp->len = strlen(resp->body);
		resp->body_static = true;
		return;
	}
	resp->status = status;
	resp->content_type = JSON_TYPE;
	resp->body = text;
	resp->len = strlen(text);
	resp->body_static = false;
}

static void
resp_error(struct api_resp *resp, unsigned status, const char *msg)
{
	resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

static unsigned
result_status(enum cp_result r)
{
	switch (r) {
	case CP_OK:
		return 200;
	case CP_EINVAL:
		return 400;
	case CP_ENOENT:
		return 404;
	case CP_EIO:
		break;
	}
	return 500;
}

void
api_resp_free(struct api_resp *resp)
{
	if (!resp->body_static)
		free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

/* ---- auth --------------------------------------------------------------- */

bool
api_auth_ok(const char *token, const char *header)
{
	unsigned char	 want[SHA256_DIGEST_LENGTH];
	unsigned char	 got[SHA256_DIGEST_LENGTH];
	const char	*given;

	if (token == NULL || *token == '\0')
		return false;
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	for (given = header + 7; *given == ' '; given++)
		;
	/* compare digests: equal length, so neither the token's length nor
	 * its matching prefix leaks through timing */
	SHA256((const unsigned char *)token, strlen(token), want);
	SHA256((const unsigned char *)given, strlen(given), got);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

/* ---- Host --------------------------------------------------------------- */

/* What follows ':' in Host: digits, possibly none (RFC 3986 3.2.3). */
static bool
port_ok(const char *p)
{
	size_t n;

	for (n = 0; p[n] != '\0'; n++)
		if (p[n] < '0' || p[n] > '9' || n == 5)
			return false;
	return true;
}

/*
 * DNS rebinding: a page from elsewhere points a name it controls at this
 * address, and the victim's browser then talks to us as that name, with
 * its Host header.  So only names that cannot be rebound (IP literals,
 * localhost) and the ones the operator listed are served.  No Host at
 * all is not a browser (MHD answers HTTP/1.1 without one with 400).
 */
bool
api_host_ok(const struct config *cfg, const char *host)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 name[CONFIG_STR_MAX];
	const char	*end;
	size_t		 len, i;

	if (host == NULL)
		return true;
	if (*host == '[') {
		/* an IPv6 literal, the only form with ':' inside */
		if ((end = strchr(host, ']')) == NULL)
			return false;
		len = (size_t)(end - host - 1);
		if (len == 0 || len >= sizeof(name) ||
		    (end[1] != '\0' && (end[1] != ':' || !port_ok(end + 2))))
			return false;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		return inet_pton(AF_INET6, name, &a6) == 1;
	}
	if ((end = strchr(host, ':')) != NULL && !port_ok(end + 1))
		return false;
	len = end != NULL ? (size_t)(end - host) : strlen(host);
	if (len == 0 || len >= sizeof(name))
		return false;
	memcpy(name, host, len);
	name[len] = '\0';
	/* "localhost." is the same name, fully qualified */
	if (name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0)
		return false;
	if (inet_pton(AF_INET, name, &a4) == 1 ||
	    strcasecmp(name, "localhost") == 0)
		return true;
	for (i = 0; i < cfg->n_http_allowed_hosts; i++)
		if (strcmp(cfg->http_allowed_hosts[i], "*") == 0 ||
		    strcasecmp(cfg->http_allowed_hosts[i], name) == 0)
			return true;
	return false;
}

/* ---- request bodies ----------------------------------------------------- */

static json_t *
body_object(const struct api_req *req, struct api_resp *resp)
{
	json_error_t	 jerr;
	json_t		*root;
	char		 msg[256];

	if (req->body == NULL || req->body_len == 0) {
		resp_error(resp, 400, "expected a JSON object in the body");
		return NULL;
	}
	root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		snprintf(msg, sizeof(msg), "bad JSON: line %d: %s", jerr.line,
		    jerr.text);
		resp_error(resp, 400, msg);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		resp_error(resp, 400, "expected a JSON object in the body");
		return NULL;
	}
	return root;
}

/* ---- handlers ----------------------------------------------------------- */

static void
h_metrics(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	(void)req;
	(void)tail;
	resp->body = cp_metrics(cp, &resp->len);
	if (resp->body == NULL) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
}

static json_t *
status_json(struct cp *cp)
{
	struct cp_status	 st;
	json_t			*o;

	if (cp_status_build(cp, &st) == -1)
		return NULL;
	o = pbjson_from_message(&st.reply.base);
	cp_status_release(&st);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "weights", cp_weights_json(cp));
	json_object_set_new(o, "scheduler", cp_scheduler_json(cp));
	/* lets the page say why a change would be refused */
	json_object_set_new(o, "writes_enabled",
	    json_boolean(cp_config(cp)->http_token[0] != '\0'));
	return o;
}

static void
h_status(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	json_t *o;

	(void)req;
	(void)tail;
	if ((o = status_json(cp)) == NULL) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	resp_json(resp, 200, o);
}

static void
status_part(struct cp *cp, const char *key, struct api_resp *resp)
{
	json_t *o, *part;

	if ((o = status_json(cp)) == NULL) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	part = json_pack("{s:O}", key, json_object_get(o, key));
	json_decref(o);
	resp_json(resp, part != NULL ? 200 : 500, part);
}

static void
h_pools(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	(void)req;
	(void)tail;
	status_part(cp, "pools", resp);
}

static void
h_miners(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	(void)req;
	(void)tail;
	status_part(cp, "miners", resp);
}

static void
h_get_weights(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	(void)req;
	(void)tail;
	resp_json(resp, 200, json_pack("{s:o}", "weights",
	    cp_weights_json(cp)));
}

static void
h_put_weights(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	const char	*keys[CONFIG_MAX_POOLS], *k;
	double		 w[CONFIG_MAX_POOLS];
	json_t		*root, *ws, *v;
	char		 err[256];
	enum cp_result	 r;
	size_t		 n = 0;

	(void)tail;
	if ((root = body_object(req, resp)) == NULL)
		return;
	ws = json_object_get(root, "weights");
	if (!json_is_object(ws) || json_object_size(ws) == 0) {
		resp_error(resp, 400,
		    "weights: expected {\"weights\": {\"A\": 60, ...}}");
		goto done;
	}
	if (json_object_size(ws) > CONFIG_MAX_POOLS) {
		resp_error(resp, 400, "weights: too many pools");
		goto done;
	}
	json_object_foreach(ws, k, v) {
		if (!json_is_number(v)) {
			snprintf(err, sizeof(err), "weights.%s: must be a "
			    "number", k);
			resp_error(resp, 400, err);
			goto done;
		}
		keys[n] = k;
		w[n++] = json_number_value(v);
	}
	r = cp_set_weights(cp, keys, w, n, "http", err, sizeof(err));
	if (r != CP_OK)
		resp_error(resp, result_status(r), err);
	else
		h_get_weights(cp, req, tail, resp);
done:
	json_decref(root);
}

static void
h_pins(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	json_t		*root, *worker, *pool;
	char		 err[256];
	enum cp_result	 r;

	(void)tail;
	if ((root = body_object(req, resp)) == NULL)
		return;
	worker = json_object_get(root, "worker");
	pool = json_object_get(root, "pool");
	if (!json_is_string(worker)) {
		resp_error(resp, 400, "worker: must be a string");
		goto done;
	}
	if (pool == NULL || (!json_is_null(pool) && !json_is_string(pool))) {
		resp_error(resp, 400,
		    "pool: must be a pool key, or null to unpin");
		goto done;
	}
	r = cp_pin(cp, json_string_value(worker),
	    json_is_string(pool) ? json_string_value(pool) : NULL, "http",
	    err, sizeof(err));
	if (r != CP_OK) {
		resp_error(resp, result_status(r), err);
		goto done;
	}
	resp_json(resp, 200, json_pack("{s:O,s:O}", "worker", worker,
	    "pool", pool));
done:
	json_decref(root);
}

static void
h_config(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	json_t *o;

	(void)req;
	(void)tail;
	if ((o = config_to_json(cp_config(cp), true)) == NULL) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	resp_json(resp, 200, o);
}

/* The masked config of one pool, however config_to_json lays pools out
 * (an object by key, or an array of objects with a "key"). */
static json_t *
masked_pool(struct cp *cp, const char *key)
{
	json_t	*all, *pools, *p = NULL, *it;
	size_t	 i;

	if ((all = config_to_json(cp_config(cp), true)) == NULL)
		return NULL;
	pools = json_object_get(all, "pools");
	if (json_is_object(pools))
		p = json_object_get(pools, key);
	else if (json_is_array(pools))
		json_array_foreach(pools, i, it)
			if (json_is_string(json_object_get(it, "key")) &&
			    strcmp(json_string_value(json_object_get(it,
			    "key")), key) == 0)
				p = it;
	if (p != NULL)
		json_incref(p);
	json_decref(all);
	return p;
}

static void
h_put_pool(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	json_t		*root, *p;
	char		 err[256];
	enum cp_result	 r;

	if ((root = body_object(req, resp)) == NULL)
		return;
	r = cp_edit_pool(cp, tail, root, "http", err, sizeof(err));
	json_decref(root);
	if (r != CP_OK) {
		resp_error(resp, result_status(r), err);
		return;
	}
	p = masked_pool(cp, tail);
	resp_json(resp, 200, json_pack("{s:s,s:o}", "key", tail, "pool",
	    p != NULL ? p : json_object()));
}

static void
h_get_scheduler(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	(void)req;
	(void)tail;
	resp_json(resp, 200, json_pack("{s:o}", "scheduler",
	    cp_scheduler_json(cp)));
}

static void
h_put_scheduler(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	json_t		*root;
	char		 err[256];
	enum cp_result	 r;

	if ((root = body_object(req, resp)) == NULL)
		return;
	r = cp_edit_scheduler(cp, root, "http", err, sizeof(err));
	json_decref(root);
	if (r != CP_OK)
		resp_error(resp, result_status(r), err);
	else
		h_get_scheduler(cp, req, tail, resp);
}

static const char *
asset_type(const char *name)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{ ".html",	"text/html; charset=utf-8" },
		{ ".js",	"text/javascript; charset=utf-8" },
		{ ".css",	"text/css; charset=utf-8" },
		{ ".svg",	"image/svg+xml" },
		{ ".png",	"image/png" },
		{ ".ico",	"image/x-icon" },
	};
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static void
h_static(struct cp *cp, const struct api_req *req, const char *tail,
    struct api_resp *resp)
{
	const char	*name;
	size_t		 i;

	(void)cp;
	/* "/" is the page; everything else lives under /static/ */
	name = strcmp(req->path, "/") == 0 ? "index.html" : tail;
	for (i = 0; i < web_assets_count; i++) {
		if (strcmp(web_assets[i].name, name) != 0)
			continue;
		resp->status = 200;
		resp->content_type = asset_type(name);
		resp->body = (char *)web_assets[i].data;
		resp->len = web_assets[i].len;
		resp->body_static = true;
		resp->cacheable = true;
		resp->html = strcmp(name, "index.html") == 0;
		return;
	}
	resp_error(resp, 404, "not found");
}

/* ---- routing ------------------------------------------------------------ */

typedef void (*api_handler)(struct cp *, const struct api_req *,
    const char *, struct api_resp *);

static const struct route {
	const char	*method;
	const char	*path;		/* trailing '*': one segment */
	bool		 write;		/* needs the bearer token */
	bool		 metrics;	/* also on the metrics listener */
	api_handler	 handler;
} routes[] = {
	{ "GET",  "/metrics",		false, true,  h_metrics },
	{ "GET",  "/api/v1/status",	false, false, h_status },
	{ "GET",  "/api/v1/pools",	false, false, h_pools },
	{ "GET",  "/api/v1/miners",	false, false, h_miners },
	{ "GET",  "/api/v1/weights",	false, false, h_get_weights },
	{ "PUT",  "/api/v1/weights",	true,  false, h_put_weights },
	{ "POST", "/api/v1/pins",	true,  false, h_pins },
	{ "GET",  "/api/v1/config",	false, false, h_config },
	{ "PUT",  "/api/v1/pools/*",	true,  false, h_put_pool },
	{ "GET",  "/api/v1/scheduler",	false, false, h_get_scheduler },
	{ "PUT",  "/api/v1/scheduler",	true,  false, h_put_scheduler },
	{ "GET",  "/",			false, false, h_static },
	{ "GET",  "/static/*",		false, false, h_static },
};

/* Returns the matched tail ("" for an exact route) or NULL. */
static const char *
path_match(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*') {
		if (strncmp(pattern, path, n - 1) != 0)
			return NULL;
		path += n - 1;
		/* one non-empty segment: no "/" and no dot-only names */
		if (*path == '\0' || strchr(path, '/') != NULL ||
		    strcmp(path, ".") == 0 || strcmp(path, "..") == 0)
			return NULL;
		return path;
	}
	return strcmp(pattern, path) == 0 ? "" : NULL;
}

void
api_handle(struct cp *cp, enum api_scope scope, const struct api_req *req,
    struct api_resp *resp)
{
	const struct route	*r, *found = NULL;
	const char		*tail = NULL, *method = req->method, *t;
	size_t			 i;
	bool			 path_known = false;

	memset(resp, 0, sizeof(*resp));
	/* before routing: a rebound name learns nothing, not even a 404.
	 * The metrics listener serves any name (Prometheus scrapes by IP
	 * or by whatever name its targets say). */
	if (scope == API_SCOPE_ALL && !api_host_ok(cp_config(cp), req->host)) {
		cp_http_refused(cp, "http", "host", 1);
		log_warn("http_host_refused", "{s:s%}", "host", req->host,
		    strnlen(req->host, 128));
		resp_error(resp, 421, "this server does not answer to that "
		    "Host name (http.allowed_hosts)");
		return;
	}
	/* HEAD is GET without the body; the server drops the body */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if (scope == API_SCOPE_METRICS && !r->metrics)
			continue;
		if ((t = path_match(r->path, req->path)) == NULL)
			continue;
		if (!path_known)
			resp->allow[0] = '\0';
		path_known = true;
		if (strcmp(r->method, method) == 0) {
			found = r;
			tail = t;
			break;
		}
		if (resp->allow[0] != '\0')
			strncat(resp->allow, ", ", sizeof(resp->allow) -
			    strlen(resp->allow) - 1);
		strncat(resp->allow, r->method, sizeof(resp->allow) -
		    strlen(resp->allow) - 1);
		if (strcmp(r->method, "GET") == 0)
			strncat(resp->allow, ", HEAD", sizeof(resp->allow) -
			    strlen(resp->allow) - 1);
	}
	if (found == NULL) {
		if (path_known) {
			resp_error(resp, 405, "method not allowed");
			return;
		}
		resp->allow[0] = '\0';
		resp_error(resp, 404, "not found");
		return;
	}
	resp->allow[0] = '\0';
	if (found->write) {
		if (cp_config(cp)->http_token[0] == '\0') {
			resp->challenge = true;
			resp_error(resp, 401, "writes are disabled: no "
			    "http.token is configured");
			return;
		}
		if (!api_auth_ok(cp_config(cp)->http_token, req->auth)) {
			resp->challenge = true;
			resp_error(resp, 401, "missing or wrong bearer token");
			return;
		}
	}
	if (req->body_too_large) {
		char msg[80];

		snprintf(msg, sizeof(msg), "request body larger than %u bytes",
		    API_MAX_BODY);
		resp_error(resp, 413, msg);
		return;
	}
	found->handler(cp, req, tail, resp);
}
