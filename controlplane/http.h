/*
 * http: the controlplane's HTTP listeners on libmicrohttpd, run from the
 * one libevent loop (MHD in external epoll mode: its epoll descriptor is
 * watched by libevent, its timeouts by a timer).  One listener on
 * http.host:http.port serves everything in api.c; when metrics are
 * enabled, another on metrics.host:metrics.port serves only /metrics.
 */
#ifndef DPMP_CP_HTTP_H
#define DPMP_CP_HTTP_H

#define HTTP_MAX_CONNECTIONS	64
#define HTTP_TIMEOUT_SECONDS	15	/* idle or slow clients cut off */

struct event_base;
struct cp;
struct http;

/* Bind and start listening.  NULL on failure (the reason is logged). */
struct http *http_new(struct cp *cp, struct event_base *base);
void	http_free(struct http *http);

#endif
