#include <sys/types.h>
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

struct http_listener {
	struct http		*http;
	struct MHD_Daemon	*mhd;
	enum api_scope		 scope;
	const char		*name;		/* "http", "metrics" */
	struct event		*ev_io;		/* MHD's epoll fd */
	struct event		*ev_timer;	/* MHD_get_timeout */
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
		    listen(fd, 64) == 0)
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
	int				 fd;

	l->http = http;
	l->name = name;
	l->scope = scope;
	if ((fd = listen_socket(host, port, err, sizeof(err))) == -1) {
		log_error("http_listen_failed", "{s:s,s:s}", "listener", name,
		    "error", err);
		return -1;
	}
	l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL,
	    NULL, on_request, l,
	    /* first, or MHD prints what comes before it to stderr */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_SECONDS,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    MHD_OPTION_END);
	if (l->mhd == NULL) {
		close(fd);
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
	if (l->ev_io == NULL || l->ev_timer == NULL ||
	    event_add(l->ev_io, NULL) == -1)
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
	size_t i;

	if (http == NULL)
		return;
	for (i = 0; i < http->n; i++) {
		if (http->l[i].ev_io != NULL)
			event_free(http->l[i].ev_io);
		if (http->l[i].ev_timer != NULL)
			event_free(http->l[i].ev_timer);
		if (http->l[i].mhd != NULL)
			MHD_stop_daemon(http->l[i].mhd);
	}
	free(http);
}
