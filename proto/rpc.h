/*
 * rpc: gRPC-style protobuf services over nng.  A request is an RpcRequest
 * envelope ("Service.Method" + packed input) on a req/rep socket; the
 * server dispatches through the protoc-c service descriptor, so adding a
 * method is one line in the .proto and one handler.  Servers are
 * non-blocking and polled from the caller's event loop through their
 * receive descriptor; nng's own threads never call into our code.
 */
#ifndef DPMP_RPC_H
#define DPMP_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dpmp.pb-c.h"

#define RPC_MAX_MSG	(4u << 20)	/* largest request or reply, bytes */

/* gRPC status codes used in RpcResponse.code */
enum rpc_code {
	RPC_OK = 0,
	RPC_INVALID_ARGUMENT = 3,
	RPC_NOT_FOUND = 5,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
};

/* A handler gets the unpacked input and sets *out to a message it
 * allocated (freed by the layer with protobuf_c_message_free_unpacked
 * semantics: see rpc_out_free) or returns an error code with err set. */
typedef int (*rpc_handler)(void *ctx, const ProtobufCMessage *in,
    ProtobufCMessage **out, char *err, size_t errlen);
/* Frees what a handler returned in *out.  Each server names one. */
typedef void (*rpc_out_free)(void *ctx, ProtobufCMessage *out);

struct rpc_server;

/* Listen on url (ipc:// or tcp://).  handlers[i] serves the service's
 * method i (descriptor order); NULL answers UNIMPLEMENTED.  The table is
 * copied.  With out_free NULL, replies are freed with
 * protobuf_c_message_free_unpacked (build them by unpacking, or with every
 * field malloc'd).  A handler returning -1 answers INTERNAL. */
struct rpc_server *rpc_server_new(const char *url,
	    const ProtobufCServiceDescriptor *svc, const rpc_handler *handlers,
	    rpc_out_free out_free, void *ctx);
void	rpc_server_free(struct rpc_server *srv);
/* Descriptor that becomes readable when a request waits. */
int	rpc_server_fd(struct rpc_server *srv);
/* Serve every request that is waiting, without blocking.  Returns the
 * number served. */
int	rpc_server_poll(struct rpc_server *srv);
/*
 * Keep the listener alive: call about once a second from the owner's loop.
 * nng 1.5.2 stops accepting for good after one client disconnects during
 * the handshake (nng #1518); this notices (an in-process probe dial every
 * few seconds) and listens again, logging ipc_listener_restarted.  Returns
 * 1 when it restarted the listener, else 0.
 */
int	rpc_server_guard(struct rpc_server *srv);
/* How many times the guard has opened the listener again. */
unsigned long rpc_server_restarts(const struct rpc_server *srv);
/* The guard's timing, process-wide (tests); 0 keeps the default. */
void	rpc_guard_timing(int every_ms, int wait_ms);
/* What the server does with one request, without a socket (tests,
 * fuzzers): decode buf, run the handler, and return the packed RpcResponse
 * in *reply (free() it).  Returns the rpc_code answered, or -1 when no
 * reply could be built. */
int	rpc_dispatch(const ProtobufCServiceDescriptor *svc,
	    const rpc_handler *handlers, rpc_out_free out_free, void *ctx,
	    const void *buf, size_t len, uint8_t **reply, size_t *replylen);

struct rpc_client;

/* Dial url (nng redials by itself).  timeout_ms bounds each call. */
struct rpc_client *rpc_client_new(const char *url, int timeout_ms);
/* Same, but dial once now and fail at once (NULL, reason in err) when
 * nothing listens: for one-shot tools like dpmpctl.  Later redials are
 * still automatic. */
struct rpc_client *rpc_client_connect(const char *url, int timeout_ms,
	    char *err, size_t errlen);
void	rpc_client_free(struct rpc_client *cl);
/* Call svc.method with in; on RPC_OK *out is the unpacked reply (free
 * with protobuf_c_message_free_unpacked(*out, NULL)).  Returns an rpc_code
 * (RPC_UNAVAILABLE when nothing answered in time) with err set. */
int	rpc_call(struct rpc_client *cl, const ProtobufCServiceDescriptor *svc,
	    const char *method, const ProtobufCMessage *in,
	    ProtobufCMessage **out, char *err, size_t errlen);

/* Dataplane.GetState, every page of it (page_size 0: the server's), merged
 * into one State (free with dpmp__state__free_unpacked).  Returns an
 * rpc_code with err set; RPC_INTERNAL when pages do not advance. */
int	rpc_get_state(struct rpc_client *cl, unsigned page_size,
	    Dpmp__State **out, char *err, size_t errlen);

/* Events: a pub socket the dataplane listens on, sub sockets that dial. */
struct rpc_pub;
struct rpc_pub *rpc_pub_new(const char *url);
void	rpc_pub_free(struct rpc_pub *pub);
int	rpc_pub_send(struct rpc_pub *pub, const Dpmp__Event *ev);
/* As rpc_server_guard, for the events listener. */
int	rpc_pub_guard(struct rpc_pub *pub);
unsigned long rpc_pub_restarts(const struct rpc_pub *pub);

struct rpc_sub;
struct rpc_sub *rpc_sub_new(const char *url);
void	rpc_sub_free(struct rpc_sub *sub);
int	rpc_sub_fd(struct rpc_sub *sub);
/* Next event without blocking: the unpacked event (free with
 * dpmp__event__free_unpacked) or NULL when none is waiting or a message
 * was malformed (logged and dropped). */
Dpmp__Event *rpc_sub_recv(struct rpc_sub *sub);
/* Decode one pub/sub message ("type\0" + packed Event) as rpc_sub_recv
 * does: the event, or NULL (logged) when malformed. */
Dpmp__Event *rpc_event_decode(const void *buf, size_t len);

#endif
