/*
 * http: the controlplane's HTTP listeners on libmicrohttpd, run from the
 * one libevent loop (MHD in external epoll mode: its epoll descriptor is
 * watched by libevent, its timeouts by a timer).  We accept connections
 * ourselves and hand them to MHD below the cap; above it they get a 503.
 * One listener on http.host:http.port serves everything in api.c; when
 * metrics are enabled, another on metrics.host:metrics.port serves only
 * /metrics.
 */
#ifndef DPMP_CP_HTTP_H
#define DPMP_CP_HTTP_H

#define HTTP_MAX_CONNECTIONS	64	/* served at once, per listener */
#define HTTP_MAX_REFUSING	16	/* 503s still draining, per listener */
#define HTTP_REFUSE_LINGER_MS	1000	/* a 503 waits this for the close */
#define HTTP_REFUSE_DRAIN	(16u * 1024)	/* bytes read from it at most */
#define HTTP_ACCEPT_BATCH	16	/* accepts per wakeup */
#define HTTP_ACCEPT_PAUSE_MS	500	/* out of descriptors: retry after */
#define HTTP_BACKLOG		64

struct event_base;
struct cp;
struct http;

/* Bind and start listening.  NULL on failure (the reason is logged). */
struct http *http_new(struct cp *cp, struct event_base *base);
void	http_free(struct http *http);

#endif
