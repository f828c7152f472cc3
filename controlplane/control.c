#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "control.h"
#include "cp.h"
#include "log.h"
#include "pbjson.h"
#include "rpc.h"

struct control {
	struct cp		*cp;
	struct rpc_server	*srv;
	struct event		*ev;
	struct event		*tick;
	rpc_handler		*handlers;
};

static int
result_code(enum cp_result r)
{
	switch (r) {
	case CP_OK:
		return RPC_OK;
	case CP_EINVAL:
		return RPC_INVALID_ARGUMENT;
	case CP_ENOENT:
		return RPC_NOT_FOUND;
	case CP_EIO:
		break;
	}
	return RPC_INTERNAL;
}

/* Replies are built from borrowed parts and handed out as a deep copy,
 * which the layer frees through out_free. */
static int
reply(const ProtobufCMessage *msg, ProtobufCMessage **out, char *err,
    size_t errlen)
{
	if ((*out = pbjson_clone(msg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return RPC_INTERNAL;
	}
	return RPC_OK;
}

static int
ctl_status(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct control		*ctl = ctx;
	struct cp_status	 st;
	int			 rc;

	(void)in;
	if (cp_status_build(ctl->cp, &st) == -1) {
		snprintf(err, errlen, "out of memory");
		return RPC_INTERNAL;
	}
	rc = reply(&st.reply.base, out, err, errlen);
	cp_status_release(&st);
	return rc;
}

static int
ctl_get_weights(void *ctx, const ProtobufCMessage *in,
    ProtobufCMessage **out, char *err, size_t errlen)
{
	struct control		*ctl = ctx;
	const struct config	*cfg = cp_config(ctl->cp);
	Dpmp__Weights		 ws = DPMP__WEIGHTS__INIT;
	Dpmp__Weight		 w[CONFIG_MAX_POOLS];
	Dpmp__Weight		*wp[CONFIG_MAX_POOLS];
	size_t			 i;

	(void)in;
	for (i = 0; i < cfg->n_pools; i++) {
		dpmp__weight__init(&w[i]);
		w[i].pool = (char *)cfg->pools[i].key;
		w[i].weight = cfg->pools[i].weight;
		wp[i] = &w[i];
	}
	ws.n_weights = cfg->n_pools;
	ws.weights = wp;
	return reply(&ws.base, out, err, errlen);
}

static int
ctl_set_weights(void *ctx, const ProtobufCMessage *in,
    ProtobufCMessage **out, char *err, size_t errlen)
{
	struct control		*ctl = ctx;
	const Dpmp__Weights	*ws = (const Dpmp__Weights *)in;
	const char		*keys[CONFIG_MAX_POOLS];
	double			 w[CONFIG_MAX_POOLS];
	enum cp_result		 r;
	size_t			 i;

	if (ws->n_weights > CONFIG_MAX_POOLS) {
		snprintf(err, errlen, "weights: more than %d pools",
		    CONFIG_MAX_POOLS);
		return RPC_INVALID_ARGUMENT;
	}
	for (i = 0; i < ws->n_weights; i++) {
		keys[i] = ws->weights[i]->pool;
		w[i] = ws->weights[i]->weight;
	}
	r = cp_set_weights(ctl->cp, keys, w, ws->n_weights, "rpc", err,
	    errlen);
	if (r != CP_OK)
		return result_code(r);
	return ctl_get_weights(ctx, in, out, err, errlen);
}

static int
ctl_pin(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct control		*ctl = ctx;
	const Dpmp__PinRequest	*req = (const Dpmp__PinRequest *)in;
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	enum cp_result		 r;

	if (req->pool == NULL || *req->pool == '\0') {
		snprintf(err, errlen, "pool: required (UnpinMiner unpins)");
		return RPC_INVALID_ARGUMENT;
	}
	r = cp_pin(ctl->cp, req->worker, req->pool, "rpc", err, errlen);
	if (r != CP_OK)
		return result_code(r);
	return reply(&empty.base, out, err, errlen);
}

static int
ctl_unpin(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct control		*ctl = ctx;
	const Dpmp__PinRequest	*req = (const Dpmp__PinRequest *)in;
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	enum cp_result		 r;

	r = cp_pin(ctl->cp, req->worker, NULL, "rpc", err, errlen);
	if (r != CP_OK)
		return result_code(r);
	return reply(&empty.base, out, err, errlen);
}

static const struct {
	const char	*method;
	rpc_handler	 handler;
} control_methods[] = {
	{ "Status",	ctl_status },
	{ "GetWeights",	ctl_get_weights },
	{ "SetWeights",	ctl_set_weights },
	{ "PinMiner",	ctl_pin },
	{ "UnpinMiner",	ctl_unpin },
};

static void
out_free(void *ctx, ProtobufCMessage *out)
{
	(void)ctx;
	if (out != NULL)
		protobuf_c_message_free_unpacked(out, NULL);
}

static void
on_request(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	(void)fd;
	(void)what;
	rpc_server_poll(ctl->srv);
}

/* Keep the listener accepting (see rpc_server_guard). */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	(void)fd;
	(void)what;
	rpc_server_guard(ctl->srv);
}

struct control *
control_new(struct cp *cp, struct event_base *base, const char *url)
{
	const ProtobufCServiceDescriptor *svc = &dpmp__control__descriptor;
	const struct timeval second = { 1, 0 };
	struct control	*ctl;
	size_t		 i, j;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->cp = cp;
	/* the layer indexes handlers in descriptor order; match by name so
	 * the table above reads in any order */
	if ((ctl->handlers = calloc(svc->n_methods + 1,
	    sizeof(*ctl->handlers))) == NULL)
		goto err;
	for (i = 0; i < svc->n_methods; i++)
		for (j = 0; j < sizeof(control_methods) /
		    sizeof(control_methods[0]); j++)
			if (strcmp(svc->methods[i].name,
			    control_methods[j].method) == 0)
				ctl->handlers[i] = control_methods[j].handler;
	ctl->srv = rpc_server_new(url, svc, ctl->handlers, out_free, ctl);
	if (ctl->srv == NULL) {
		log_error("control_listen_failed", "{s:s}", "url", url);
		goto err;
	}
	ctl->ev = event_new(base, rpc_server_fd(ctl->srv),
	    EV_READ | EV_PERSIST, on_request, ctl);
	if (ctl->ev == NULL || event_add(ctl->ev, NULL) == -1)
		goto err;
	ctl->tick = event_new(base, -1, EV_PERSIST, on_tick, ctl);
	if (ctl->tick == NULL || event_add(ctl->tick, &second) == -1)
		goto err;
	return ctl;
err:
	control_free(ctl);
	return NULL;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->ev != NULL)
		event_free(ctl->ev);
	if (ctl->tick != NULL)
		event_free(ctl->tick);
	rpc_server_free(ctl->srv);
	free(ctl->handlers);
	free(ctl);
}
