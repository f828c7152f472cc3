/*
 * api: the HTTP routes of the controlplane (JSON API, /metrics, web UI),
 * as one table of {method, path, handler}.  Independent of the HTTP
 * server: a request comes in as a struct api_req and leaves as a struct
 * api_resp, so routing, auth and validation are tested without sockets.
 */
#ifndef DPMP_CP_API_H
#define DPMP_CP_API_H

#include <stdbool.h>
#include <stddef.h>

/* Request bodies larger than this get 413. */
#define API_MAX_BODY	(64u * 1024)

struct config;
struct cp;

/* The metrics listener serves /metrics and nothing else. */
enum api_scope {
	API_SCOPE_ALL = 0,
	API_SCOPE_METRICS,
};

struct api_req {
	const char	*method;
	const char	*path;		/* decoded, without the query */
	const char	*auth;		/* Authorization, or NULL */
	const char	*host;		/* Host, or NULL */
	const char	*body;
	size_t		 body_len;
	bool		 body_too_large;
};

struct api_resp {
	unsigned	 status;
	const char	*content_type;
	char		*body;		/* malloc'd, or body_static */
	size_t		 len;
	bool		 body_static;
	bool		 html;		/* gets the CSP header */
	bool		 cacheable;	/* static asset: no "no-store" */
	bool		 challenge;	/* 401: add WWW-Authenticate */
	char		 allow[64];	/* 405: the Allow header */
};

void	api_handle(struct cp *cp, enum api_scope scope,
	    const struct api_req *req, struct api_resp *resp);
void	api_resp_free(struct api_resp *resp);
/* Whether the UI/API answers a request with this Host header: IP
 * literals, localhost, http.allowed_hosts; NULL (no header) passes. */
bool	api_host_ok(const struct config *cfg, const char *host);
/* Constant-time check of "Bearer <token>" against the configured token;
 * false when no token is configured. */
bool	api_auth_ok(const char *token, const char *header);

#endif
