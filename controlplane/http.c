#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "api.h"
#include "clock.h"
#include "cp.h"
#include "http.h"
#include "log.h"

/* What the page may load: only itself.  Even a worker name that got
 * past the page's escaping could not run script. */
#define HTML_CSP	"default-src 'none'; script-src 'self'; " \
			"style-src 'self'; img-src 'self' data:; " \
			"connect-src 'self'; base-uri 'none'; " \
			"form-action 'none'; frame-ancestors 'none'"

/*
 * A connection turned away at the cap.  It has its 503 and our FIN; we
 * read and drop what the client still sends until it closes or the
 * linger runs out, because closing a socket with unread input sends a
 * reset that can destroy the 503 before the client reads it (RFC 9112,
 * 9.6: close in stages).
 */
struct http_refusal {
	struct http_listener		*l;
	LIST_ENTRY(http_refusal)	 entry;
	struct event			*ev;
	int				 fd;
	size_t				 drained;
};

/* Whether the listener is turning connections away; only changed in
 * listener_set_state, which logs it. */
enum http_state {
	HTTP_SERVING = 0,
	HTTP_AT_CAP,
};

struct http_listener {
	struct http		*http;
	struct MHD_Daemon	*mhd;
	enum api_scope		 scope;
	const char		*name;		/* "http", "metrics" */
	enum http_state		 state;
	uint64_t		 refused;	/* since the state changed */
	int			 fd;		/* listen socket: ours */
	struct event		*ev_accept;
	struct event		*ev_resume;	/* accept paused: no fds */
	struct event		*ev_io;		/* MHD's epoll fd */
	struct event		*ev_timer;	/* MHD_get_timeout */
	LIST_HEAD(, http_refusal) refusing;
	size_t			 n_refusing;
};

struct http {
	struct cp		*cp;
	struct event_base	*base;
	struct http_listener	 l[2];
	size_t			 n;
};

/* Per request, kept in MHD's con_cls between calls. */
struct http_request {
	char		*body;
	size_t		 len;
	bool		 too_large;
	uint64_t	 started_ms;
};

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_listener	*l = cls;
	char			 msg[256];
	size_t			 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("http_error", "{s:s,s:s}", "listener", l->name, "error", msg);
}

static enum MHD_Result
send_response(struct MHD_Connection *conn, struct api_resp *ar)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(ar->len, ar->body,
	    ar->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		api_resp_free(ar);
		return MHD_NO;
	}
	/* MHD frees it now */
	if (!ar->body_static)
		ar->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    ar->content_type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    ar->cacheable ? "no-cache" : "no-store");
	if (ar->html) {
		MHD_add_response_header(r, "Content-Security-Policy",
		    HTML_CSP);
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	if (ar->allow[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, ar->allow);
	if (ar->challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"dpmp\"");
	ret = MHD_queue_response(conn, ar->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct http_listener	*l = cls;
	struct http_request	*hr = *con_cls;
	struct api_req		 req;
	struct api_resp		 resp;
	const char		*clen;
	enum MHD_Result		 ret;
	char			*end;
	unsigned long long	 n;

	(void)version;
	if (hr == NULL) {
		/* headers are in; the body, if any, follows */
		if ((hr = calloc(1, sizeof(*hr))) == NULL)
			return MHD_NO;
		hr->started_ms = clock_mono_ms();
		*con_cls = hr;
		clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen != NULL) {
			errno = 0;
			n = strtoull(clen, &end, 10);
			/* refuse at once rather than read what we would
			 * throw away; MHD closes the connection after */
			if (errno != 0 || *end != '\0' || n > API_MAX_BODY)
				hr->too_large = true;
		}
		if (!hr->too_large)
			return MHD_YES;
		upload_size = NULL;
	}
	if (upload_size != NULL && *upload_size != 0) {
		if (!hr->too_large && hr->len + *upload_size > API_MAX_BODY) {
			/* chunked bodies have no length up front: keep
			 * reading, keep nothing, answer 413 at the end */
			hr->too_large = true;
			free(hr->body);
			hr->body = NULL;
			hr->len = 0;
		}
		if (!hr->too_large) {
			char *nb;

			nb = realloc(hr->body, hr->len + *upload_size + 1);

			if (nb == NULL)
				return MHD_NO;
			hr->body = nb;
			memcpy(hr->body + hr->len, upload_data, *upload_size);
			hr->len += *upload_size;
			hr->body[hr->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	req.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	req.body = hr->body;
	req.body_len = hr->len;
	req.body_too_large = hr->too_large;
	api_handle(l->http->cp, l->scope, &req, &resp);
	log_debug("http_request", "{s:s,s:s,s:s,s:i,s:I}", "listener",
	    l->name, "method", method, "path", url, "status",
	    (int)resp.status, "ms",
	    (json_int_t)(clock_mono_ms() - hr->started_ms));
	ret = send_response(conn, &resp);
	api_resp_free(&resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_request *hr = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (hr != NULL) {
		free(hr->body);
		free(hr);
		*con_cls = NULL;
	}
}

/* Run MHD, then arm the timer for whatever it still has to do: work it
 * has queued (timeout 0) or the next connection timeout. */
static void
listener_run(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG	timeout;
	struct timeval		tv;

	MHD_run(l->mhd);
	if (MHD_get_timeout(l->mhd, &timeout) == MHD_YES) {
		if (timeout > 60000)
			timeout = 60000;
		tv.tv_sec = (time_t)(timeout / 1000);
		tv.tv_usec = (suseconds_t)(timeout % 1000) * 1000;
		evtimer_add(l->ev_timer, &tv);
	} else
		evtimer_del(l->ev_timer);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listener_run(arg);
}

/* ---- the cap ------------------------------------------------------------ */

static void
listener_set_state(struct http_listener *l, enum http_state state)
{
	if (l->state == state)
		return;
	if (state == HTTP_AT_CAP)
		log_warn("http_at_capacity", "{s:s,s:i}", "listener", l->name,
		    "max_connections", HTTP_MAX_CONNECTIONS);
	else
		log_info("http_below_capacity", "{s:s,s:I}", "listener",
		    l->name, "refused", (json_int_t)l->refused);
	l->state = state;
	l->refused = 0;
}

/* Connections MHD holds; this also reaps the ones it has closed. */
static unsigned
listener_connections(struct http_listener *l)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(l->mhd,
	    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info != NULL ? info->num_connections : HTTP_MAX_CONNECTIONS;
}

static void
refusal_close(struct http_refusal *r)
{
	LIST_REMOVE(r, entry);
	r->l->n_refusing--;
	event_free(r->ev);
	close(r->fd);
	free(r);
}

static void
on_refusal(evutil_socket_t fd, short what, void *arg)
{
	struct http_refusal	*r = arg;
	char			 buf[2048];
	ssize_t			 n;

	if (what & EV_TIMEOUT) {
		refusal_close(r);
		return;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			r->drained += (size_t)n;
			if (r->drained > HTTP_REFUSE_DRAIN)
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;		/* closed by the client, or an error */
	}
	refusal_close(r);
}

/* Answer 503 on fd without reading the request (a server may answer
 * early), then close it, lingering when there is room to. */
static void
refuse(struct http_listener *l, int fd)
{
	static const char	 body[] = "too many connections, retry\n";
	struct http_refusal	*r = NULL;
	struct timeval		 tv;
	char			 msg[256];
	int			 n;

	listener_set_state(l, HTTP_AT_CAP);
	l->refused++;
	cp_http_refused(l->http->cp, l->name, "limit", 1);
	n = snprintf(msg, sizeof(msg), "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Retry-After: 1\r\nConnection: close\r\n\r\n%s",
	    sizeof(body) - 1, body);
	/* a fresh socket's send buffer takes it whole; a short write only
	 * costs this client its 503 */
	(void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	if (l->n_refusing >= HTTP_MAX_REFUSING ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		goto drop;
	r->l = l;
	r->fd = fd;
	r->ev = event_new(l->http->base, fd, EV_READ | EV_PERSIST, on_refusal,
	    r);
	tv.tv_sec = HTTP_REFUSE_LINGER_MS / 1000;
	tv.tv_usec = (HTTP_REFUSE_LINGER_MS % 1000) * 1000;
	if (r->ev == NULL || event_add(r->ev, &tv) == -1)
		goto drop;
	LIST_INSERT_HEAD(&l->refusing, r, entry);
	l->n_refusing++;
	return;
drop:
	if (r != NULL && r->ev != NULL)
		event_free(r->ev);
	free(r);
	close(fd);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd;
	(void)what;
	if (event_add(l->ev_accept, NULL) == -1)
		log_error("http_accept_failed", "{s:s,s:s}", "listener",
		    l->name, "error", "cannot watch the listen socket");
}

/*
 * We accept, not MHD: MHD 0.9.75 in external epoll mode takes its listen
 * socket out of its epoll set at the connection limit and puts it back
 * only at the start of a later MHD_run, which never comes once the
 * connections that were open have closed; the port then stays silent
 * for good.  Our listen socket is always watched, and what is above the
 * cap gets an answer instead of waiting in the backlog.
 */
static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct http_listener	*l = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	socklen_t		 sslen;
	int			 fd, i;
	bool			 added = false;

	(void)what;
	for (i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* out of descriptors or memory: the socket stays
			 * readable, so stop watching it for a while rather
			 * than spin */
			log_warn("http_accept_paused", "{s:s,s:s,s:i}",
			    "listener", l->name, "error", strerror(errno),
			    "ms", HTTP_ACCEPT_PAUSE_MS);
			event_del(l->ev_accept);
			tv.tv_sec = HTTP_ACCEPT_PAUSE_MS / 1000;
			tv.tv_usec = (HTTP_ACCEPT_PAUSE_MS % 1000) * 1000;
			evtimer_add(l->ev_resume, &tv);
			break;
		}
		if (listener_connections(l) >= HTTP_MAX_CONNECTIONS) {
			refuse(l, fd);
			continue;
		}
		listener_set_state(l, HTTP_SERVING);
		/* MHD owns fd from here, and closes it on failure */
		if (MHD_add_connection(l->mhd, fd, (struct sockaddr *)&ss,
		    sslen) == MHD_YES)
			added = true;
		else
			log_warn("http_accept_failed", "{s:s,s:s}", "listener",
			    l->name, "error", strerror(errno));
	}
	/* MHD reads the new connections on its next run */
	if (added)
		listener_run(l);
}

static int
listen_socket(const char *host, uint16_t port, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 portstr[8];
	int		 fd = -1, one = 1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		/* a restart must not wait for TIME_WAIT to clear */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, HTTP_BACKLOG) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s:%u: %s", host, (unsigned)port,
		    strerror(saved));
	return fd;
}

static int
listener_start(struct http *http, struct http_listener *l, const char *name,
    enum api_scope scope, const char *host, uint16_t port)
{
	const union MHD_DaemonInfo	*info;
	char				 err[256];

	l->http = http;
	l->name = name;
	l->scope = scope;
	l->fd = -1;
	LIST_INIT(&l->refusing);
	cp_http_refused(http->cp, name, "limit", 0);
	if (scope == API_SCOPE_ALL)
		cp_http_refused(http->cp, name, "host", 0);
	if ((l->fd = listen_socket(host, port, err, sizeof(err))) == -1) {
		log_error("http_listen_failed", "{s:s,s:s}", "listener", name,
		    "error", err);
		return -1;
	}
	l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, l,
	    /* first, or MHD prints what comes before it to stderr */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
	    /* since the last byte either way: idle and slow clients */
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)cp_config(http->cp)->http_idle_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    MHD_OPTION_END);
	if (l->mhd == NULL) {
		log_error("http_listen_failed", "{s:s,s:s}", "listener", name,
		    "error", "MHD_start_daemon failed");
		return -1;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		log_error("http_listen_failed", "{s:s,s:s}", "listener", name,
		    "error", "no epoll descriptor");
		return -1;
	}
	l->ev_io = event_new(http->base, info->epoll_fd, EV_READ | EV_PERSIST,
	    on_io, l);
	l->ev_timer = evtimer_new(http->base, on_io, l);
	l->ev_accept = event_new(http->base, l->fd, EV_READ | EV_PERSIST,
	    on_accept, l);
	l->ev_resume = evtimer_new(http->base, on_resume, l);
	if (l->ev_io == NULL || l->ev_timer == NULL || l->ev_accept == NULL ||
	    l->ev_resume == NULL || event_add(l->ev_io, NULL) == -1 ||
	    event_add(l->ev_accept, NULL) == -1)
		return -1;
	log_info("http_listening", "{s:s,s:s,s:i}", "listener", name, "host",
	    host, "port", (int)port);
	listener_run(l);
	return 0;
}

struct http *
http_new(struct cp *cp, struct event_base *base)
{
	const struct config	*cfg = cp_config(cp);
	struct http		*http;

	if ((http = calloc(1, sizeof(*http))) == NULL)
		return NULL;
	http->cp = cp;
	http->base = base;
	if (listener_start(http, &http->l[http->n++], "http", API_SCOPE_ALL,
	    cfg->http_host, cfg->http_port) == -1)
		goto err;
	/* the http listener serves /metrics too; a second one only when
	 * it is somewhere else */
	if (cfg->metrics_enabled && (cfg->metrics_port != cfg->http_port ||
	    strcmp(cfg->metrics_host, cfg->http_host) != 0)) {
		if (listener_start(http, &http->l[http->n++], "metrics",
		    API_SCOPE_METRICS, cfg->metrics_host,
		    cfg->metrics_port) == -1)
			goto err;
	}
	return http;
err:
	http_free(http);
	return NULL;
}

void
http_free(struct http *http)
{
	struct http_listener	*l;
	size_t			 i;

	if (http == NULL)
		return;
	for (i = 0; i < http->n; i++) {
		l = &http->l[i];
		while (!LIST_EMPTY(&l->refusing))
			refusal_close(LIST_FIRST(&l->refusing));
		if (l->ev_accept != NULL)
			event_free(l->ev_accept);
		if (l->ev_resume != NULL)
			event_free(l->ev_resume);
		if (l->ev_io != NULL)
			event_free(l->ev_io);
		if (l->ev_timer != NULL)
			event_free(l->ev_timer);
		if (l->mhd != NULL)
			MHD_stop_daemon(l->mhd);
		if (l->fd != -1)
			close(l->fd);
	}
	free(http);
}
