/*
 * libFuzzer target: the IPC decoders.  Every input goes through the
 * server's request path (RpcRequest envelope, method lookup, payload
 * unpack, handler, reply) for both services, and through the pub/sub
 * event decoder.  Whatever the bytes, the server must answer with a reply
 * that itself decodes and carries the code it returned.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rpc.h"

/* Touch every string so ASan sees any bad pointer the unpacker left. */
static size_t
touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* A default message the layer can free the unpacked way. */
static ProtobufCMessage *
empty_reply(const ProtobufCMessageDescriptor *d)
{
	return protobuf_c_message_unpack(d, NULL, 0, (const uint8_t *)"");
}

static int
h_empty_in(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	(void)ctx;
	(void)in;
	(void)err;
	(void)errlen;
	return (*out = empty_reply(&dpmp__state__descriptor)) ? RPC_OK :
	    RPC_INTERNAL;
}

static int
h_assign(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__AssignRequest	*req = (const Dpmp__AssignRequest *)in;
	Dpmp__AssignReply		*rep;
	size_t				 i, n = 0;

	(void)ctx;
	for (i = 0; i < req->n_assignments; i++)
		n += touch(req->assignments[i]->pool);
	n += touch(req->reason) + touch(req->newcomer_pool);
	if (n % 7 == 3) {
		snprintf(err, errlen, "refused");
		return RPC_FAILED_PRECONDITION;
	}
	if ((rep = (Dpmp__AssignReply *)empty_reply(
	    &dpmp__assign_reply__descriptor)) == NULL)
		return RPC_INTERNAL;
	rep->applied = (uint32_t)req->n_assignments;
	*out = &rep->base;
	return RPC_OK;
}

static int
h_set_config(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__SetConfigRequest	*req;
	size_t				 i;

	(void)ctx;
	(void)out;
	req = (const Dpmp__SetConfigRequest *)in;
	for (i = 0; i < req->n_pools; i++)
		(void)(touch(req->pools[i]->key) + touch(req->pools[i]->host) +
		    touch(req->pools[i]->wallet));
	snprintf(err, errlen, "not now");
	return -1;	/* the 0/-1 style must map to INTERNAL */
}

static int
h_weights(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__Weights	*w = (const Dpmp__Weights *)in;
	size_t			 i;

	(void)ctx;
	(void)err;
	(void)errlen;
	for (i = 0; i < w->n_weights; i++)
		(void)touch(w->weights[i]->pool);
	return (*out = empty_reply(&dpmp__weights__descriptor)) ? RPC_OK :
	    RPC_INTERNAL;
}

static int
h_get_weights(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	(void)ctx;
	(void)in;	/* an Empty */
	(void)err;
	(void)errlen;
	return (*out = empty_reply(&dpmp__weights__descriptor)) ? RPC_OK :
	    RPC_INTERNAL;
}

static int
h_pin(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__PinRequest	*p = (const Dpmp__PinRequest *)in;

	(void)ctx;
	(void)err;
	(void)errlen;
	(void)(touch(p->worker) + touch(p->pool));
	return (*out = empty_reply(&dpmp__empty__descriptor)) ? RPC_OK :
	    RPC_INTERNAL;
}

/* GetState answers a State; GetCounters gets the wrong type on purpose:
 * the layer must refuse a handler's mismatched reply, not pack it. */
static const rpc_handler dp_handlers[] = {
	h_empty_in, h_assign, h_set_config, h_empty_in,
};
/* Status has no handler (UNIMPLEMENTED); GetWeights/SetWeights/pins do. */
static const rpc_handler cp_handlers[] = {
	NULL, h_get_weights, h_weights, h_pin, h_pin,
};

static void
check_one(const ProtobufCServiceDescriptor *svc, const rpc_handler *h,
    const uint8_t *data, size_t size)
{
	Dpmp__RpcResponse	*rep;
	uint8_t			*reply = NULL;
	size_t			 rlen = 0;
	int			 code;

	code = rpc_dispatch(svc, h, NULL, NULL, data, size, &reply, &rlen);
	if (code == -1)
		return;		/* out of memory only */
	if ((rep = dpmp__rpc_response__unpack(NULL, rlen, reply)) == NULL ||
	    rep->code != code || (code != RPC_OK && rep->error[0] == '\0'))
		abort();
	dpmp__rpc_response__free_unpacked(rep, NULL);
	free(reply);
}

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE	*devnull;

	(void)argc;
	(void)argv;
	/* every input is logged as a bad request; keep the fuzzer fast */
	if ((devnull = fopen("/dev/null", "w")) != NULL)
		log_set_stream(devnull);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Dpmp__Event	*ev;

	check_one(&dpmp__dataplane__descriptor, dp_handlers, data, size);
	check_one(&dpmp__control__descriptor, cp_handlers, data, size);
	if ((ev = rpc_event_decode(data, size)) != NULL) {
		if (strlen(ev->type) >= size)
			abort();
		dpmp__event__free_unpacked(ev, NULL);
	}
	return 0;
}
