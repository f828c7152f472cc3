/*
 * rpc: gRPC-style protobuf services over nng req/rep, and events over
 * nng pub/sub.  See rpc.h for the contract.
 *
 * Everything read from a socket is untrusted: sizes are capped by nng
 * (NNG_OPT_RECVMAXSZ) before we see a byte, every unpack is checked, and a
 * bad request still gets exactly one reply because a rep socket cannot take
 * the next request from that peer until it has answered this one.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "log.h"
#include "rpc.h"

/*
 * nng counts its own protocol header (the req/rep backtrace, 4 bytes per
 * hop) against NNG_OPT_RECVMAXSZ, and a peer that exceeds it has its
 * connection closed rather than getting an answer.  Our own envelopes stay
 * this far below the limit so that anything we build is always deliverable.
 */
#define RPC_WIRE_SLACK		64
#define RPC_ENVELOPE_MAX	(RPC_MAX_MSG - RPC_WIRE_SLACK)

/* Longest method name or peer text copied into a log line or an error. */
#define RPC_NAME_MAX		96

/* Redial quickly after the peer restarts, but back off a dead one. */
#define RPC_RECONNECT_MIN_MS	100
#define RPC_RECONNECT_MAX_MS	1000

#define RPC_SUB_QUEUE		1024	/* events buffered per subscriber */

/*
 * How long a reply may wait for its connection.  rep0 marks a connection
 * busy until nng's own thread has seen the previous reply's write finish,
 * and a quick client can have its next request served before that: a
 * non-blocking send then fails and the reply is lost.  Waiting is normally
 * microseconds; the bound only matters for a peer that stopped reading.
 */
#define RPC_REPLY_TIMEOUT_MS	100

/*
 * The listener guard.  nng 1.5.2 (Debian 12) stops accepting on a listener
 * for good once one peer disconnects during the SP handshake (nng issue
 * #1518, fixed in nng 1.6.0): a single connect() and close() on the ipc
 * path is enough, and every later client then waits forever.  So each
 * listener we own is watched: every RPC_GUARD_EVERY_MS the owner's loop
 * dials it from inside the process, and when the socket has attached no
 * connection at all RPC_GUARD_WAIT_MS later, the listener is closed and
 * opened again.  Connections it had are dropped with it; req clients
 * redial and resend, sub clients redial.
 */
#define RPC_GUARD_EVERY_MS	2000
#define RPC_GUARD_WAIT_MS	1000

struct rpc_guard {
	nng_socket		 sock;		/* the socket listening */
	nng_listener		 l;
	bool			 listening;
	nng_socket		 probe;		/* peer protocol, lazily */
	bool			 have_probe;
	nng_dialer		 d;
	bool			 probing;
	int			 (*probe_open)(nng_socket *);
	const char		*url;		/* owner's copy */
	const char		*service;
	atomic_uint		 attached;	/* counted on nng's threads */
	unsigned		 mark;
	int64_t			 started_ms, next_ms;
	unsigned long		 restarts;
};

static int	guard_every_ms = RPC_GUARD_EVERY_MS;
static int	guard_wait_ms = RPC_GUARD_WAIT_MS;

struct rpc_server {
	nng_socket			 sock;
	char				*url;
	struct rpc_guard		 guard;
	const ProtobufCServiceDescriptor *svc;
	rpc_handler			*handlers;	/* svc->n_methods */
	rpc_out_free			 out_free;
	void				*ctx;
	int				 fd;
};

struct rpc_client {
	nng_socket			 sock;
	char				*url;
	int				 timeout_ms;
};

struct rpc_pub {
	nng_socket			 sock;
	char				*url;
	struct rpc_guard		 guard;
};

struct rpc_sub {
	nng_socket			 sock;
	char				*url;
	int				 fd;
};

/*
 * Copy untrusted text for a log line or an error string: printable ASCII
 * only (jansson refuses invalid UTF-8, and a terminal should not see
 * escapes), bounded, with "..." when cut.
 */
static void
safe_copy(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t	 i, o = 0;

	if (dstlen == 0)
		return;
	for (i = 0; i < srclen && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
	if (i < srclen && dstlen >= 4)
		memcpy(dst + dstlen - 4, "...", 4);
}

/*
 * Socket options every dialing socket wants: a message size cap and quick,
 * bounded redials.  The reconnect options are endpoint defaults on the
 * socket, so they must be set before nng_dial.
 */
static int
dialer_opts(nng_socket sock, const char *url, const char *what)
{
	int	 rv;

	if ((rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ,
	    RPC_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMINT,
	    RPC_RECONNECT_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT,
	    RPC_RECONNECT_MAX_MS)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", what, "error", nng_strerror(rv));
		return -1;
	}
	return 0;
}

/*
 * Find a method from "Service.Method".  The service part may be the short
 * name ("Dataplane") or the full one ("dpmp.Dataplane"); anything else is
 * another service, which this socket does not serve.
 */
static const ProtobufCMethodDescriptor *
method_find(const ProtobufCServiceDescriptor *svc, const char *name)
{
	const char	*dot;
	size_t		 slen;

	if (name == NULL || (dot = strrchr(name, '.')) == NULL)
		return NULL;
	slen = (size_t)(dot - name);
	if (!((strlen(svc->short_name) == slen &&
	    strncmp(svc->short_name, name, slen) == 0) ||
	    (strlen(svc->name) == slen && strncmp(svc->name, name, slen) == 0)))
		return NULL;
	return protobuf_c_service_descriptor_get_method_by_name(svc, dot + 1);
}

/* Pack a message into a fresh buffer (free()), at most max bytes. */
static uint8_t *
pack_alloc(const ProtobufCMessage *msg, size_t max, size_t *lenp)
{
	uint8_t	*buf;
	size_t	 len;

	len = protobuf_c_message_get_packed_size(msg);
	*lenp = len;
	if (len > max)
		return NULL;
	/* malloc(0) may return NULL; an empty message packs to 0 bytes. */
	if ((buf = malloc(len ? len : 1)) == NULL)
		return NULL;
	if (protobuf_c_message_pack(msg, buf) != len) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- listener guard (see RPC_GUARD_EVERY_MS) ------------------------ */

/* Runs on an nng thread: count only, never call into the owner. */
static void
guard_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rpc_guard *g = arg;

	(void)p;
	(void)ev;
	atomic_fetch_add(&g->attached, 1);
}

static int
guard_listen(struct rpc_guard *g)
{
	int	 rv;

	/*
	 * nng removes a stale ipc socket file left by a dead process itself
	 * and fails with EADDRINUSE only when another process is live on it,
	 * which must stay an error: two dataplanes on one endpoint would
	 * split the controlplane's requests between them.
	 */
	if ((rv = nng_listen(g->sock, g->url, &g->l, 0)) == 0)
		g->listening = true;
	return rv;
}

static int
guard_start(struct rpc_guard *g, nng_socket sock, const char *url,
    const char *service, int (*probe_open)(nng_socket *))
{
	int	 rv;

	g->sock = sock;
	g->url = url;
	g->service = service;
	g->probe_open = probe_open;
	atomic_init(&g->attached, 0);
	g->next_ms = (int64_t)clock_mono_ms() + guard_every_ms;
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, guard_pipe_cb,
	    g)) != 0)
		return rv;
	return guard_listen(g);
}

static void
guard_stop(struct rpc_guard *g)
{
	if (g->have_probe)
		nng_close(g->probe);	/* closes the dialer too */
	g->have_probe = g->probing = false;
}

static void
guard_restart(struct rpc_guard *g)
{
	int	 rv;

	g->restarts++;
	if (g->listening)
		nng_listener_close(g->l);
	g->listening = false;
	if ((rv = guard_listen(g)) != 0) {
		/* the old one may still hold the path: try next round */
		log_error("ipc_listen_failed", "{s:s,s:s,s:s}", "url", g->url,
		    "service", g->service, "error", nng_strerror(rv));
		return;
	}
	log_warn("ipc_listener_restarted", "{s:s,s:s,s:s,s:i}", "url",
	    g->url, "service", g->service, "reason",
	    "accepted no connection (nng 1.5 listener stall)", "waited_ms",
	    guard_wait_ms);
}

static int
guard_check(struct rpc_guard *g)
{
	int64_t	 now = (int64_t)clock_mono_ms();
	int	 rv, restarted = 0;

	if (g->probing) {
		if (atomic_load(&g->attached) == g->mark) {
			if (now - g->started_ms < guard_wait_ms)
				return 0;
			guard_restart(g);
			restarted = 1;
		}
		/* Closed only now, long after its handshake ended, so the
		 * probe can never be the disconnect that stalls nng. */
		nng_dialer_close(g->d);
		g->probing = false;
		g->next_ms = now + (g->listening ? guard_every_ms : 200);
		return restarted;
	}
	if (now < g->next_ms)
		return 0;
	if (!g->listening) {
		guard_restart(g);
		g->next_ms = now + (g->listening ? guard_every_ms : 200);
		return 0;
	}
	if (!g->have_probe) {
		if ((rv = g->probe_open(&g->probe)) != 0) {
			log_warn("ipc_socket_failed", "{s:s,s:s,s:s}", "url",
			    g->url, "socket", "probe", "error",
			    nng_strerror(rv));
			g->next_ms = now + guard_every_ms;
			return 0;
		}
		g->have_probe = true;
	}
	g->mark = atomic_load(&g->attached);
	if ((rv = nng_dialer_create(&g->d, g->probe, g->url)) == 0 &&
	    (rv = nng_dialer_start(g->d, NNG_FLAG_NONBLOCK)) != 0)
		nng_dialer_close(g->d);
	if (rv != 0) {
		/* nothing to dial (the path was removed?): listen again */
		guard_restart(g);
		g->next_ms = now + guard_every_ms;
		return 1;
	}
	g->probing = true;
	g->started_ms = now;
	return 0;
}

void
rpc_guard_timing(int every_ms, int wait_ms)
{
	guard_every_ms = every_ms > 0 ? every_ms : RPC_GUARD_EVERY_MS;
	guard_wait_ms = wait_ms > 0 ? wait_ms : RPC_GUARD_WAIT_MS;
}

/* ---- server ------------------------------------------------------- */

/* Free what a handler returned: its own out_free, or, when a server names
 * none, the message was built the way protobuf-c unpacks (malloc'd fields). */
static void
out_release(rpc_out_free out_free, void *ctx, ProtobufCMessage *out)
{
	if (out == NULL)
		return;
	if (out_free != NULL)
		out_free(ctx, out);
	else
		protobuf_c_message_free_unpacked(out, NULL);
}

/*
 * Run one request.  Fills code/err and, on success, the packed output in
 * *payload.  Every refusal is logged here, where the reason is known.
 */
static int
dispatch_one(const ProtobufCServiceDescriptor *svc,
    const rpc_handler *handlers, rpc_out_free out_free, void *ctx,
    const char *url, const void *buf, size_t len, char *err, size_t errlen,
    uint8_t **payload, size_t *paylen)
{
	Dpmp__RpcRequest		*req = NULL;
	const ProtobufCMethodDescriptor	*md;
	ProtobufCMessage		*in = NULL, *out = NULL;
	char				 name[RPC_NAME_MAX] = "";
	const char			*reason;
	size_t				 idx, outlen;
	int				 code;

	*payload = NULL;
	*paylen = 0;
	err[0] = '\0';

	if ((req = dpmp__rpc_request__unpack(NULL, len, buf)) == NULL) {
		code = RPC_INVALID_ARGUMENT;
		snprintf(err, errlen, "malformed request");
		goto refuse;
	}
	safe_copy(name, sizeof(name), req->method, strlen(req->method));
	if ((md = method_find(svc, req->method)) == NULL) {
		code = RPC_UNIMPLEMENTED;
		snprintf(err, errlen, "unknown method %s", name);
		goto refuse;
	}
	idx = (size_t)(md - svc->methods);
	if (handlers == NULL || handlers[idx] == NULL) {
		code = RPC_UNIMPLEMENTED;
		snprintf(err, errlen, "%s not implemented", name);
		goto refuse;
	}
	if ((in = protobuf_c_message_unpack(md->input, NULL,
	    req->payload.len, req->payload.data)) == NULL) {
		code = RPC_INVALID_ARGUMENT;
		snprintf(err, errlen, "malformed %s payload", name);
		goto refuse;
	}

	code = handlers[idx](ctx, in, &out, err, errlen);
	if (code != RPC_OK) {
		/* Handlers written the 0/-1 way still map to a status. */
		if (code < 0)
			code = RPC_INTERNAL;
		if (err[0] == '\0')
			snprintf(err, errlen, "%s failed (code %d)", name,
			    code);
		out_release(out_free, ctx, out);
		out = NULL;
		/* The handler's own refusal is its business to log. */
		goto done;
	}
	if (out == NULL || out->descriptor != md->output) {
		code = RPC_INTERNAL;
		snprintf(err, errlen, "%s handler returned no %s", name,
		    md->output->name);
		reason = "handler_bad_output";
		goto fail;
	}
	if ((*payload = pack_alloc(out, RPC_ENVELOPE_MAX - RPC_WIRE_SLACK,
	    &outlen)) == NULL) {
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(err, errlen, "%s reply too large (%zu bytes)", name,
		    outlen);
		reason = "reply_too_large";
		goto fail;
	}
	*paylen = outlen;
	goto done;

 refuse:
	log_warn("ipc_bad_request", "{s:s?,s:s,s:i,s:s,s:I}", "url", url,
	    "method", name, "code", code, "reason", err, "bytes",
	    (json_int_t)len);
	goto done;
 fail:
	log_error("ipc_handler_failed", "{s:s?,s:s,s:s,s:s}", "url", url,
	    "method", name, "reason", reason, "error", err);
 done:
	out_release(out_free, ctx, out);
	if (in != NULL)
		protobuf_c_message_free_unpacked(in, NULL);
	if (req != NULL)
		dpmp__rpc_request__free_unpacked(req, NULL);
	return code;
}

/* Build the packed RpcResponse for one request buffer. */
static int
respond(const ProtobufCServiceDescriptor *svc, const rpc_handler *handlers,
    rpc_out_free out_free, void *ctx, const char *url, const void *buf,
    size_t len, uint8_t **reply, size_t *replylen)
{
	Dpmp__RpcResponse	 rep = DPMP__RPC_RESPONSE__INIT;
	uint8_t			*payload;
	size_t			 paylen;
	char			 err[256];
	int			 code;

	code = dispatch_one(svc, handlers, out_free, ctx, url, buf, len,
	    err, sizeof(err), &payload, &paylen);
	rep.code = code;
	if (code != RPC_OK)
		rep.error = err;
	rep.payload.data = payload;
	rep.payload.len = paylen;
	*reply = pack_alloc(&rep.base, RPC_ENVELOPE_MAX, replylen);
	free(payload);
	if (*reply == NULL) {
		log_error("ipc_reply_failed", "{s:s?,s:s}", "url", url,
		    "error", "cannot build reply");
		return -1;
	}
	return code;
}

int
rpc_dispatch(const ProtobufCServiceDescriptor *svc,
    const rpc_handler *handlers, rpc_out_free out_free, void *ctx,
    const void *buf, size_t len, uint8_t **reply, size_t *replylen)
{
	return respond(svc, handlers, out_free, ctx, NULL, buf, len, reply,
	    replylen);
}

struct rpc_server *
rpc_server_new(const char *url, const ProtobufCServiceDescriptor *svc,
    const rpc_handler *handlers, rpc_out_free out_free, void *ctx)
{
	struct rpc_server	*srv;
	int			 rv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	srv->svc = svc;
	srv->out_free = out_free;
	srv->ctx = ctx;
	srv->fd = -1;
	/* Own a copy: callers often build the table on the stack. */
	if ((srv->handlers = calloc(svc->n_methods ? svc->n_methods : 1,
	    sizeof(*srv->handlers))) == NULL)
		goto err;
	if (handlers != NULL)
		memcpy(srv->handlers, handlers,
		    svc->n_methods * sizeof(*srv->handlers));
	if ((srv->url = strdup(url)) == NULL)
		goto err;

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", "rep", "error", nng_strerror(rv));
		goto err;
	}
	if ((rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ,
	    RPC_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_ms(srv->sock, NNG_OPT_SENDTIMEO,
	    RPC_REPLY_TIMEOUT_MS)) != 0 ||
	    (rv = nng_socket_get_int(srv->sock, NNG_OPT_RECVFD,
	    &srv->fd)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", "rep", "error", nng_strerror(rv));
		goto err_sock;
	}
	if ((rv = guard_start(&srv->guard, srv->sock, srv->url, svc->name,
	    nng_req0_open)) != 0) {
		log_error("ipc_listen_failed", "{s:s,s:s,s:s}", "url", url,
		    "service", svc->name, "error", nng_strerror(rv));
		goto err_sock;
	}
	log_info("ipc_listening", "{s:s,s:s}", "url", url, "service",
	    svc->name);
	return srv;

 err_sock:
	nng_close(srv->sock);
 err:
	free(srv->url);
	free(srv->handlers);
	free(srv);
	return NULL;
}

void
rpc_server_free(struct rpc_server *srv)
{
	if (srv == NULL)
		return;
	guard_stop(&srv->guard);
	nng_close(srv->sock);
	free(srv->url);
	free(srv->handlers);
	free(srv);
}

int
rpc_server_guard(struct rpc_server *srv)
{
	return guard_check(&srv->guard);
}

unsigned long
rpc_server_restarts(const struct rpc_server *srv)
{
	return srv->guard.restarts;
}

int
rpc_server_fd(struct rpc_server *srv)
{
	return srv->fd;
}

int
rpc_server_poll(struct rpc_server *srv)
{
	nng_msg		*msg, *rmsg;
	uint8_t		*reply;
	size_t		 replylen;
	int		 rv, served = 0;

	for (;;) {
		if ((rv = nng_recvmsg(srv->sock, &msg,
		    NNG_FLAG_NONBLOCK)) != 0) {
			if (rv != NNG_EAGAIN && rv != NNG_ECLOSED)
				log_warn("ipc_recv_failed", "{s:s,s:s}",
				    "url", srv->url, "error",
				    nng_strerror(rv));
			break;
		}
		rv = respond(srv->svc, srv->handlers, srv->out_free,
		    srv->ctx, srv->url, nng_msg_body(msg), nng_msg_len(msg),
		    &reply, &replylen);
		nng_msg_free(msg);
		served++;
		if (rv == -1)
			continue;	/* logged; the client times out */
		if ((rv = nng_msg_alloc(&rmsg, replylen)) != 0) {
			free(reply);
			log_error("ipc_reply_failed", "{s:s,s:s}", "url",
			    srv->url, "error", nng_strerror(rv));
			continue;
		}
		memcpy(nng_msg_body(rmsg), reply, replylen);
		free(reply);
		/*
		 * Bounded by RPC_REPLY_TIMEOUT_MS, not NONBLOCK (see there).
		 * A reply that still cannot go is lost and the client times
		 * out; a gone client is no error (nng drops it quietly).
		 */
		if ((rv = nng_sendmsg(srv->sock, rmsg, 0)) != 0) {
			nng_msg_free(rmsg);
			log_warn("ipc_reply_failed", "{s:s,s:s}", "url",
			    srv->url, "error", nng_strerror(rv));
		}
	}
	return served;
}

/* ---- client ------------------------------------------------------- */

static struct rpc_client *
client_open(const char *url, int timeout_ms, int dial_flags, char *err,
    size_t errlen)
{
	struct rpc_client	*cl;
	int			 rv;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	if ((cl->url = strdup(url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	if ((rv = nng_req0_open(&cl->sock)) != 0) {
		snprintf(err, errlen, "%s", nng_strerror(rv));
		goto err;
	}
	if (dialer_opts(cl->sock, url, "req") == -1) {
		snprintf(err, errlen, "cannot set socket options");
		goto err_sock;
	}
	/*
	 * req0 resends a request whose connection dropped as soon as a new
	 * one is up (a server restart mid-call still gets its answer), but
	 * only while its resend timer is enabled: with it disabled the call
	 * fails at once with ECONNRESET.  So keep it on, and longer than a
	 * call, so that a slow answer is never asked for twice.
	 */
	if ((rv = nng_socket_set_ms(cl->sock, NNG_OPT_REQ_RESENDTIME,
	    cl->timeout_ms + 1000)) != 0) {
		snprintf(err, errlen, "%s", nng_strerror(rv));
		goto err_sock;
	}
	if ((rv = nng_dial(cl->sock, url, NULL, dial_flags)) != 0) {
		snprintf(err, errlen, "%s", nng_strerror(rv));
		goto err_sock;
	}
	return cl;

 err_sock:
	nng_close(cl->sock);
 err:
	free(cl->url);
	free(cl);
	return NULL;
}

struct rpc_client *
rpc_client_new(const char *url, int timeout_ms)
{
	struct rpc_client	*cl;
	char			 err[128];

	/* Non-blocking dial: the server may come up after us, and nng keeps
	 * redialling in the background until it does. */
	if ((cl = client_open(url, timeout_ms, NNG_FLAG_NONBLOCK, err,
	    sizeof(err))) == NULL)
		log_error("ipc_dial_failed", "{s:s,s:s}", "url", url,
		    "error", err);
	return cl;
}

struct rpc_client *
rpc_client_connect(const char *url, int timeout_ms, char *err,
    size_t errlen)
{
	return client_open(url, timeout_ms, 0, err, errlen);
}

void
rpc_client_free(struct rpc_client *cl)
{
	if (cl == NULL)
		return;
	nng_close(cl->sock);
	free(cl->url);
	free(cl);
}

int
rpc_call(struct rpc_client *cl, const ProtobufCServiceDescriptor *svc,
    const char *method, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	Dpmp__RpcRequest		 req = DPMP__RPC_REQUEST__INIT;
	Dpmp__RpcResponse		*rep = NULL;
	const ProtobufCMethodDescriptor	*md;
	const char			*dot;
	char				 full[RPC_NAME_MAX * 2];
	uint8_t				*payload = NULL, *buf = NULL;
	size_t				 paylen, buflen;
	nng_msg				*msg = NULL;
	int64_t				 start, left;
	int				 code, rv;

	*out = NULL;
	err[0] = '\0';
	/* Accept "GetState" as well as "Dataplane.GetState". */
	if ((dot = strrchr(method, '.')) != NULL)
		method = dot + 1;
	if ((md = protobuf_c_service_descriptor_get_method_by_name(svc,
	    method)) == NULL) {
		snprintf(err, errlen, "unknown method %s.%s", svc->short_name,
		    method);
		return RPC_UNIMPLEMENTED;
	}
	if (in == NULL || in->descriptor != md->input) {
		snprintf(err, errlen, "%s.%s takes a %s", svc->short_name,
		    method, md->input->name);
		return RPC_INVALID_ARGUMENT;
	}
	snprintf(full, sizeof(full), "%s.%s", svc->short_name, md->name);

	if ((payload = pack_alloc(in, RPC_ENVELOPE_MAX, &paylen)) == NULL) {
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(err, errlen, "%s request too large (%zu bytes)", full,
		    paylen);
		goto out;
	}
	req.method = full;
	req.payload.data = payload;
	req.payload.len = paylen;
	if ((buf = pack_alloc(&req.base, RPC_ENVELOPE_MAX, &buflen)) == NULL) {
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(err, errlen, "%s request too large (%zu bytes)", full,
		    buflen);
		goto out;
	}
	if ((rv = nng_msg_alloc(&msg, buflen)) != 0) {
		code = RPC_INTERNAL;
		snprintf(err, errlen, "%s", nng_strerror(rv));
		goto out;
	}
	memcpy(nng_msg_body(msg), buf, buflen);

	/*
	 * One deadline for the whole call.  req0 holds a send until a
	 * connection exists, so with no server the send is what times out;
	 * the receive gets whatever time is left.
	 */
	start = (int64_t)clock_mono_ms();
	if ((rv = nng_socket_set_ms(cl->sock, NNG_OPT_SENDTIMEO,
	    cl->timeout_ms)) != 0 ||
	    (rv = nng_sendmsg(cl->sock, msg, 0)) != 0) {
		code = RPC_UNAVAILABLE;
		if (rv == NNG_ETIMEDOUT)
			snprintf(err, errlen, "no answer from %s in %d ms",
			    cl->url, cl->timeout_ms);
		else
			snprintf(err, errlen, "%s: %s", cl->url,
			    nng_strerror(rv));
		goto out;
	}
	msg = NULL;	/* nng owns it now */
	left = cl->timeout_ms - ((int64_t)clock_mono_ms() - start);
	if (left < 1)
		left = 1;
	if ((rv = nng_socket_set_ms(cl->sock, NNG_OPT_RECVTIMEO,
	    (nng_duration)left)) != 0 ||
	    (rv = nng_recvmsg(cl->sock, &msg, 0)) != 0) {
		code = RPC_UNAVAILABLE;
		if (rv == NNG_ETIMEDOUT)
			snprintf(err, errlen, "no answer from %s in %d ms",
			    cl->url, cl->timeout_ms);
		else
			snprintf(err, errlen, "%s: %s", cl->url,
			    nng_strerror(rv));
		goto out;
	}

	if ((rep = dpmp__rpc_response__unpack(NULL, nng_msg_len(msg),
	    nng_msg_body(msg))) == NULL) {
		code = RPC_INTERNAL;
		snprintf(err, errlen, "malformed reply from %s", cl->url);
		log_warn("ipc_bad_reply", "{s:s,s:s,s:s}", "url", cl->url,
		    "method", full, "reason", err);
		goto out;
	}
	if (rep->code != RPC_OK) {
		code = rep->code;
		if (rep->error != NULL && rep->error[0] != '\0')
			safe_copy(err, errlen, rep->error,
			    strlen(rep->error));
		else
			snprintf(err, errlen, "%s failed (code %d)", full,
			    code);
		goto out;
	}
	if ((*out = protobuf_c_message_unpack(md->output, NULL,
	    rep->payload.len, rep->payload.data)) == NULL) {
		code = RPC_INTERNAL;
		snprintf(err, errlen, "malformed %s reply from %s", full,
		    cl->url);
		log_warn("ipc_bad_reply", "{s:s,s:s,s:s}", "url", cl->url,
		    "method", full, "reason", err);
		goto out;
	}
	code = RPC_OK;

 out:
	if (rep != NULL)
		dpmp__rpc_response__free_unpacked(rep, NULL);
	if (msg != NULL)
		nng_msg_free(msg);
	free(buf);
	free(payload);
	return code;
}

/* ---- paged GetState ------------------------------------------------ */

#define RPC_STATE_PAGES_MAX	10000	/* a bound, not a size: 50M miners */

int
rpc_get_state(struct rpc_client *cl, unsigned page_size, Dpmp__State **out,
    char *err, size_t errlen)
{
	Dpmp__StateRequest	 req = DPMP__STATE_REQUEST__INIT;
	Dpmp__State		*st = NULL, *pg;
	Dpmp__MinerState	**v;
	unsigned		 pages;
	int			 rc;

	*out = NULL;
	req.max_miners = page_size;
	for (pages = 0; pages < RPC_STATE_PAGES_MAX; pages++) {
		pg = NULL;
		rc = rpc_call(cl, &dpmp__dataplane__descriptor, "GetState",
		    &req.base, (ProtobufCMessage **)&pg, err, errlen);
		if (rc != RPC_OK)
			goto fail;
		if (st == NULL)
			st = pg;
		else if (pg->n_miners > 0) {
			/* move the page's miners over; protobuf-c frees with
			 * free(), so its arrays can be grown with realloc() */
			if ((v = realloc(st->miners, (st->n_miners +
			    pg->n_miners) * sizeof(*v))) == NULL) {
				dpmp__state__free_unpacked(pg, NULL);
				snprintf(err, errlen, "out of memory");
				rc = RPC_RESOURCE_EXHAUSTED;
				goto fail;
			}
			memcpy(v + st->n_miners, pg->miners,
			    pg->n_miners * sizeof(*v));
			st->miners = v;
			st->n_miners += pg->n_miners;
			pg->n_miners = 0;
			st->next_after_id = pg->next_after_id;
		} else
			st->next_after_id = pg->next_after_id;
		if (pg != st)
			dpmp__state__free_unpacked(pg, NULL);
		if (st->next_after_id == 0) {
			*out = st;
			return RPC_OK;
		}
		if (st->next_after_id <= req.after_miner_id) {
			snprintf(err, errlen, "GetState pages do not advance "
			    "(after %llu)", (unsigned long long)
			    req.after_miner_id);
			rc = RPC_INTERNAL;
			goto fail;
		}
		req.after_miner_id = st->next_after_id;
	}
	snprintf(err, errlen, "GetState: more than %u pages",
	    RPC_STATE_PAGES_MAX);
	rc = RPC_INTERNAL;
 fail:
	if (st != NULL)
		dpmp__state__free_unpacked(st, NULL);
	return rc;
}

/* ---- events ------------------------------------------------------- */

struct rpc_pub *
rpc_pub_new(const char *url)
{
	struct rpc_pub	*pub;
	int		 rv;

	if ((pub = calloc(1, sizeof(*pub))) == NULL)
		return NULL;
	if ((pub->url = strdup(url)) == NULL)
		goto err;
	if ((rv = nng_pub0_open(&pub->sock)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", "pub", "error", nng_strerror(rv));
		goto err;
	}
	if ((rv = guard_start(&pub->guard, pub->sock, pub->url, "events",
	    nng_sub0_open)) != 0) {
		log_error("ipc_listen_failed", "{s:s,s:s,s:s}", "url", url,
		    "service", "events", "error", nng_strerror(rv));
		nng_close(pub->sock);
		goto err;
	}
	log_info("ipc_listening", "{s:s,s:s}", "url", url, "service",
	    "events");
	return pub;

 err:
	free(pub->url);
	free(pub);
	return NULL;
}

void
rpc_pub_free(struct rpc_pub *pub)
{
	if (pub == NULL)
		return;
	guard_stop(&pub->guard);
	nng_close(pub->sock);
	free(pub->url);
	free(pub);
}

int
rpc_pub_guard(struct rpc_pub *pub)
{
	return guard_check(&pub->guard);
}

unsigned long
rpc_pub_restarts(const struct rpc_pub *pub)
{
	return pub->guard.restarts;
}

int
rpc_pub_send(struct rpc_pub *pub, const Dpmp__Event *ev)
{
	const char	*type = ev->type != NULL ? ev->type : "";
	nng_msg		*msg;
	size_t		 tlen, plen;
	uint8_t		*body;
	int		 rv;

	tlen = strlen(type);
	plen = protobuf_c_message_get_packed_size(&ev->base);
	if (tlen + 1 + plen > RPC_ENVELOPE_MAX) {
		log_warn("ipc_event_dropped", "{s:s,s:s}", "type", type,
		    "reason", "too large");
		return -1;
	}
	if ((rv = nng_msg_alloc(&msg, tlen + 1 + plen)) != 0)
		goto fail;
	body = nng_msg_body(msg);
	/* The topic is the type and its NUL, so a subscriber could filter
	 * by type with a prefix subscription. */
	memcpy(body, type, tlen + 1);
	protobuf_c_message_pack(&ev->base, body + tlen + 1);
	/* pub never waits for subscribers; NONBLOCK keeps it that way. */
	if ((rv = nng_sendmsg(pub->sock, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg);
		goto fail;
	}
	return 0;

 fail:
	log_warn("ipc_event_dropped", "{s:s,s:s}", "type", type, "reason",
	    nng_strerror(rv));
	return -1;
}

struct rpc_sub *
rpc_sub_new(const char *url)
{
	struct rpc_sub	*sub;
	int		 rv;

	if ((sub = calloc(1, sizeof(*sub))) == NULL)
		return NULL;
	sub->fd = -1;
	if ((sub->url = strdup(url)) == NULL)
		goto err;
	if ((rv = nng_sub0_open(&sub->sock)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", "sub", "error", nng_strerror(rv));
		goto err;
	}
	if (dialer_opts(sub->sock, url, "sub") == -1)
		goto err_sock;
	/* nng 1.5 has no nng_sub0_socket_subscribe; the empty prefix
	 * matches every topic. */
	if ((rv = nng_socket_set(sub->sock, NNG_OPT_SUB_SUBSCRIBE, "",
	    0)) != 0 ||
	    (rv = nng_socket_get_int(sub->sock, NNG_OPT_RECVFD,
	    &sub->fd)) != 0) {
		log_error("ipc_socket_failed", "{s:s,s:s,s:s}", "url", url,
		    "socket", "sub", "error", nng_strerror(rv));
		goto err_sock;
	}
	/* sub drops the oldest event when its queue is full; give a busy
	 * moment (a pool going down moves every miner) room to drain. */
	if ((rv = nng_socket_set_int(sub->sock, NNG_OPT_RECVBUF,
	    RPC_SUB_QUEUE)) != 0)
		log_warn("ipc_socket_option", "{s:s,s:s,s:s}", "url", url,
		    "option", NNG_OPT_RECVBUF, "error", nng_strerror(rv));
	if ((rv = nng_dial(sub->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		log_error("ipc_dial_failed", "{s:s,s:s}", "url", url,
		    "error", nng_strerror(rv));
		goto err_sock;
	}
	return sub;

 err_sock:
	nng_close(sub->sock);
 err:
	free(sub->url);
	free(sub);
	return NULL;
}

void
rpc_sub_free(struct rpc_sub *sub)
{
	if (sub == NULL)
		return;
	nng_close(sub->sock);
	free(sub->url);
	free(sub);
}

int
rpc_sub_fd(struct rpc_sub *sub)
{
	return sub->fd;
}

Dpmp__Event *
rpc_event_decode(const void *buf, size_t len)
{
	const uint8_t	*p = buf, *nul;
	Dpmp__Event	*ev;
	const char	*reason;
	char		 topic[RPC_NAME_MAX];

	if ((nul = memchr(p, '\0', len)) == NULL) {
		reason = "no topic";
		safe_copy(topic, sizeof(topic), buf, len);
		goto bad;
	}
	safe_copy(topic, sizeof(topic), buf, (size_t)(nul - p));
	if ((ev = dpmp__event__unpack(NULL, len - (size_t)(nul - p) - 1,
	    nul + 1)) == NULL) {
		reason = "malformed event";
		goto bad;
	}
	/* The topic is derived from the type; a mismatch is not ours. */
	if (strcmp(ev->type, (const char *)p) != 0) {
		dpmp__event__free_unpacked(ev, NULL);
		reason = "topic does not match type";
		goto bad;
	}
	return ev;

 bad:
	log_warn("ipc_bad_event", "{s:s,s:s,s:I}", "topic", topic, "reason",
	    reason, "bytes", (json_int_t)len);
	return NULL;
}

Dpmp__Event *
rpc_sub_recv(struct rpc_sub *sub)
{
	nng_msg		*msg;
	Dpmp__Event	*ev;
	int		 rv;

	if ((rv = nng_recvmsg(sub->sock, &msg, NNG_FLAG_NONBLOCK)) != 0) {
		if (rv != NNG_EAGAIN && rv != NNG_ECLOSED)
			log_warn("ipc_recv_failed", "{s:s,s:s}", "url",
			    sub->url, "error", nng_strerror(rv));
		return NULL;
	}
	ev = rpc_event_decode(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	return ev;
}
