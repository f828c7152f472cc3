/*
 * Check suite: proto/rpc.c.  Real nng sockets over ipc:// in a temporary
 * directory; the server side is polled from a thread through its receive
 * descriptor, the way the dataplane's event loop does it.  C11 threads:
 * <pthread.h> would pull in <sched.h>, which controlplane/sched.h shadows
 * on the test include path.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "log.h"
#include "rpc.h"

/*
 * For ASan builds.  nng 1.5.2 now and then leaks one request message (196
 * bytes) inside req0 when the connection it was sent on dies while the
 * server restarts: about one run in fifty under load, only in the restart
 * test.  The leak is nng's, after the message was handed to it, so it is
 * suppressed there and nowhere else.
 *
 * The listener-guard cases are built a second time from this file as
 * test_rpc_guard (DPMP_RPC_GUARD_ONLY) and run there alone: the listener
 * nng 1.5.2 stalled is never freed by nng, closed or not (about 3 KiB per
 * stall, allocated on nng's own threads, so no frame of ours to match),
 * and that binary suppresses leaks inside libnng for that reason only.
 */
const char	*__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
#ifdef DPMP_RPC_GUARD_ONLY
	return "leak:server_restart_fn\nleak:libnng.so\n";
#else
	return "leak:server_restart_fn\n";
#endif
}

/* ---- fixture ------------------------------------------------------ */

static char	 tmpdir[64];
static char	 url[128];		/* req/rep endpoint */
static char	 evurl[128];		/* pub/sub endpoint */
static char	*logbuf;
static size_t	 loglen;
static FILE	*logfp;

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dpmp-rpc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(url, sizeof(url), "ipc://%s/dp.ipc", tmpdir);
	snprintf(evurl, sizeof(evurl), "ipc://%s/ev.ipc", tmpdir);
	logfp = open_memstream(&logbuf, &loglen);
	ck_assert_ptr_nonnull(logfp);
	log_set_stream(logfp);
	log_set_rate_limit(0);
}

static void
teardown(void)
{
	char	 path[192];

	log_set_stream(NULL);
	fclose(logfp);
	free(logbuf);
	logbuf = NULL;
	snprintf(path, sizeof(path), "%s/dp.ipc", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ev.ipc", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

/* What the log holds so far (only read once writers have stopped). */
static const char *
log_text(void)
{
	fflush(logfp);
	return logbuf != NULL ? logbuf : "";
}

static int64_t
mono_ms(void)
{
	return (int64_t)clock_mono_ms();
}

/* ---- a fake dataplane service ------------------------------------- */

struct fake {
	char		 last_reason[64];
	unsigned	 n_miners;
	atomic_int	 calls;
};

/* A handler's reply as an independent heap copy, so the layer's default
 * (protobuf_c_message_free_unpacked) frees it. */
static ProtobufCMessage *
heap_copy(const ProtobufCMessage *m)
{
	size_t		 len = protobuf_c_message_get_packed_size(m);
	uint8_t		*buf = malloc(len ? len : 1);
	ProtobufCMessage *copy;

	ck_assert_ptr_nonnull(buf);
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

static int
h_get_state(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct fake		*f = ctx;
	Dpmp__State		 st = DPMP__STATE__INIT;
	Dpmp__PoolState		 pa = DPMP__POOL_STATE__INIT;
	Dpmp__PoolState		 pb = DPMP__POOL_STATE__INIT;
	Dpmp__PoolState		*pools[2] = { &pa, &pb };
	Dpmp__MinerState	*ms, **mp;
	char			(*names)[32];
	const Dpmp__StateRequest *rq = (const Dpmp__StateRequest *)in;
	unsigned		 i, first = 0, n;

	(void)err;
	(void)errlen;
	atomic_fetch_add(&f->calls, 1);
	ms = calloc(f->n_miners + 1, sizeof(*ms));
	mp = calloc(f->n_miners + 1, sizeof(*mp));
	names = calloc(f->n_miners + 1, sizeof(*names));
	for (i = 0; i < f->n_miners; i++) {
		dpmp__miner_state__init(&ms[i]);
		snprintf(names[i], sizeof(names[i]), "rig%u", i);
		ms[i].id = 1000 + i;
		ms[i].worker = names[i];
		ms[i].address = "10.0.0.1:4000";
		ms[i].pool = i % 2 ? "B" : "A";
		ms[i].difficulty = 0.00001;
		ms[i].hashrate = 1.5e12;
		ms[i].connected = true;
		mp[i] = &ms[i];
	}
	pa.key = "A";
	pa.name = "ocean";
	pa.up = true;
	pa.difficulty = 65536;
	pb.key = "B";
	pb.name = "bch";
	st.boot_id = "boot-1";
	st.version = "0.1.0";
	st.started_ms = 1700000000000ull;
	st.n_pools = 2;
	st.pools = pools;
	/* pages as the dataplane does: ids above after_miner_id, at most
	 * max_miners of them */
	if (rq->after_miner_id >= 1000)
		first = (unsigned)(rq->after_miner_id - 1000 + 1);
	if (first > f->n_miners)
		first = f->n_miners;
	n = f->n_miners - first;
	if (rq->max_miners > 0 && n > rq->max_miners) {
		n = rq->max_miners;
		st.next_after_id = ms[first + n - 1].id;
	}
	st.n_miners = n;
	st.miners = mp + first;
	*out = heap_copy(&st.base);
	free(names);
	free(mp);
	free(ms);
	return RPC_OK;
}

static int
h_assign(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct fake			*f = ctx;
	const Dpmp__AssignRequest	*req = (const Dpmp__AssignRequest *)in;
	Dpmp__AssignReply		 rep = DPMP__ASSIGN_REPLY__INIT;

	atomic_fetch_add(&f->calls, 1);
	snprintf(f->last_reason, sizeof(f->last_reason), "%s", req->reason);
	if (strcmp(req->reason, "fail") == 0) {
		snprintf(err, errlen, "reason 'fail' refused");
		return RPC_FAILED_PRECONDITION;
	}
	rep.applied = (uint32_t)req->n_assignments;
	*out = heap_copy(&rep.base);
	return RPC_OK;
}

/* Written the 0/-1 way, with no message: must still answer INTERNAL. */
static int
h_get_counters(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	(void)ctx;
	(void)in;
	(void)out;
	(void)err;
	(void)errlen;
	return -1;
}

/* Descriptor order: GetState, Assign, SetConfig, GetCounters. */
static const rpc_handler handlers[] = {
	h_get_state, h_assign, NULL, h_get_counters,
};

/* ---- server thread ------------------------------------------------ */

struct srv_thread {
	struct rpc_server	*srv;
	thrd_t			 th;
	int			 wake[2];
	atomic_bool		 stop;
	atomic_bool		 guard;		/* run rpc_server_guard */
	atomic_int		 restarts;
	struct fake		 fake;
};

static int
srv_loop(void *arg)
{
	struct srv_thread	*st = arg;
	struct pollfd		 pfd[2];

	pfd[0].fd = rpc_server_fd(st->srv);
	pfd[0].events = POLLIN;
	pfd[1].fd = st->wake[0];
	pfd[1].events = POLLIN;
	while (!atomic_load(&st->stop)) {
		if (poll(pfd, 2, atomic_load(&st->guard) ? 50 : 1000) > 0 &&
		    (pfd[0].revents & POLLIN))
			rpc_server_poll(st->srv);
		if (atomic_load(&st->guard))
			atomic_fetch_add(&st->restarts,
			    rpc_server_guard(st->srv));
	}
	return 0;
}

static void
srv_start(struct srv_thread *st, unsigned n_miners)
{
	memset(st, 0, sizeof(*st));
	st->fake.n_miners = n_miners;
	st->srv = rpc_server_new(url, &dpmp__dataplane__descriptor, handlers,
	    NULL, &st->fake);
	ck_assert_ptr_nonnull(st->srv);
	ck_assert_int_eq(pipe(st->wake), 0);
	ck_assert_int_eq(thrd_create(&st->th, srv_loop, st), thrd_success);
}

static void
srv_stop(struct srv_thread *st)
{
	atomic_store(&st->stop, true);
	ck_assert_int_eq(write(st->wake[1], "x", 1), 1);
	thrd_join(st->th, NULL);
	rpc_server_free(st->srv);
	st->srv = NULL;
	close(st->wake[0]);
	close(st->wake[1]);
}

/* GetState through cl, which must answer: how many miners it listed. */
static size_t
state_miners(struct rpc_client *cl)
{
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	Dpmp__State	*state = NULL;
	char		 err[256];
	size_t		 n;

	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetState", &sreq.base, (ProtobufCMessage **)&state, err,
	    sizeof(err)), RPC_OK);
	n = state->n_miners;
	dpmp__state__free_unpacked(state, NULL);
	return n;
}

/* ---- raw peers ---------------------------------------------------- */

/* Send bytes the rpc client would never build; returns the nng error or
 * 0 with the decoded reply. */
static int
raw_call(const void *buf, size_t len, int timeout_ms, Dpmp__RpcResponse **rep)
{
	nng_socket	 s;
	nng_msg		*msg;
	int		 rv;

	*rep = NULL;
	ck_assert_int_eq(nng_req0_open(&s), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms),
	    0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms),
	    0);
	ck_assert_int_eq(nng_dial(s, url, NULL, 0), 0);
	ck_assert_int_eq(nng_msg_alloc(&msg, len), 0);
	if (len > 0)
		memcpy(nng_msg_body(msg), buf, len);
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		goto out;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0)
		goto out;
	*rep = dpmp__rpc_response__unpack(NULL, nng_msg_len(msg),
	    nng_msg_body(msg));
	ck_assert_ptr_nonnull(*rep);
	nng_msg_free(msg);
 out:
	nng_close(s);
	return rv;
}

static int
raw_envelope(const char *method, const void *payload, size_t plen,
    Dpmp__RpcResponse **rep)
{
	Dpmp__RpcRequest	 req = DPMP__RPC_REQUEST__INIT;
	uint8_t			*buf;
	size_t			 len;
	int			 rv;

	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = plen;
	len = dpmp__rpc_request__get_packed_size(&req);
	buf = malloc(len + 1);
	dpmp__rpc_request__pack(&req, buf);
	rv = raw_call(buf, len, 2000, rep);
	free(buf);
	return rv;
}

/*
 * A req peer spoken by hand over the unix socket, below nng: SP header
 * {0,'S','P',0, proto(be16), 0,0} each way, then frames of type 1, a
 * big-endian u64 length and the body (4-byte request id + envelope).  It
 * can claim any length, and the test needs no nng req socket with a huge
 * message in flight (closing one of those can hang nng 1.5).
 */
static int
sp_connect(void)
{
	static const uint8_t	 hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct sockaddr_un	 sun;
	uint8_t			 peer[8];
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(url + 6), sizeof(sun.sun_path));
	memcpy(sun.sun_path, url + 6, strlen(url + 6) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(write(fd, hello, sizeof(hello)), 8);
	ck_assert_int_eq(recv(fd, peer, sizeof(peer), MSG_WAITALL), 8);
	ck_assert_int_eq(peer[1], 'S');
	ck_assert_int_eq(peer[5], 0x31);	/* rep0 */
	return fd;
}

/* Returns whether it all went out: a peer that refuses a frame may
 * close before its body is written. */
static bool
sp_send(int fd, uint64_t claimed, const void *body, size_t len)
{
	uint8_t	 hdr[9];
	int	 i;

	hdr[0] = 1;
	for (i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(claimed >> (56 - 8 * i));
	return send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(hdr) &&
	    send(fd, body, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* Wait for the peer to close: true if it did within timeout_ms. */
static bool
sp_closed(int fd, int timeout_ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	uint8_t		 b[256];
	ssize_t		 n;

	while (poll(&pfd, 1, timeout_ms) > 0) {
		if ((n = read(fd, b, sizeof(b))) <= 0)
			return true;
	}
	return false;
}

/* ---- req/rep ------------------------------------------------------ */

START_TEST(roundtrip_get_state_assign)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	Dpmp__State		*state = NULL;
	Dpmp__AssignRequest	 ar = DPMP__ASSIGN_REQUEST__INIT;
	Dpmp__Assignment	 a[3], *ap[3];
	Dpmp__AssignReply	*rep = NULL;
	char			 err[256];
	size_t			 i;

	srv_start(&st, 3);
	cl = rpc_client_new(url, 2000);
	ck_assert_ptr_nonnull(cl);

	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetState", &sreq.base, (ProtobufCMessage **)&state, err,
	    sizeof(err)), RPC_OK);
	ck_assert_ptr_nonnull(state);
	ck_assert_str_eq(state->boot_id, "boot-1");
	ck_assert_uint_eq(state->started_ms, 1700000000000ull);
	ck_assert_uint_eq(state->n_pools, 2);
	ck_assert_str_eq(state->pools[0]->key, "A");
	ck_assert_str_eq(state->pools[0]->name, "ocean");
	ck_assert(state->pools[0]->up);
	ck_assert(!state->pools[1]->up);
	ck_assert_uint_eq(state->n_miners, 3);
	ck_assert_str_eq(state->miners[2]->worker, "rig2");
	ck_assert_uint_eq(state->miners[2]->id, 1002);
	/* a pool difficulty below 1 survives the trip unrounded */
	ck_assert_double_eq(state->miners[1]->difficulty, 0.00001);
	dpmp__state__free_unpacked(state, NULL);

	/* "Service.Method" form works too */
	for (i = 0; i < 3; i++) {
		dpmp__assignment__init(&a[i]);
		a[i].miner_id = 1000 + i;
		a[i].pool = "B";
		ap[i] = &a[i];
	}
	ar.n_assignments = 3;
	ar.assignments = ap;
	ar.reason = "schedule";
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "Dataplane.Assign", &ar.base, (ProtobufCMessage **)&rep, err,
	    sizeof(err)), RPC_OK);
	ck_assert_uint_eq(rep->applied, 3);
	ck_assert_uint_eq(rep->failed, 0);
	dpmp__assign_reply__free_unpacked(rep, NULL);
	ck_assert_str_eq(st.fake.last_reason, "schedule");

	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(state_pages_merge)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__State		*state = NULL;
	char			 err[256];
	size_t			 i;
	unsigned		 page[] = { 0, 3000, 2500, 1, 10001 };
	int			 calls0;

	srv_start(&st, 5000);
	cl = rpc_client_new(url, 5000);
	for (i = 0; i < sizeof(page) / sizeof(page[0]); i++) {
		size_t k;

		calls0 = atomic_load(&st.fake.calls);
		ck_assert_int_eq(rpc_get_state(cl, page[i], &state, err,
		    sizeof(err)), RPC_OK);
		ck_assert_uint_eq(state->n_miners, 5000);
		ck_assert_uint_eq(state->next_after_id, 0);
		for (k = 0; k < state->n_miners; k++)
			ck_assert_uint_eq(state->miners[k]->id, 1000 + k);
		ck_assert_str_eq(state->miners[4999]->worker, "rig4999");
		ck_assert_uint_eq(state->n_pools, 2);
		/* one call per page */
		ck_assert_int_eq(atomic_load(&st.fake.calls) - calls0,
		    page[i] == 0 || page[i] >= 5000 ? 1 :
		    (int)((5000 + page[i] - 1) / page[i]));
		dpmp__state__free_unpacked(state, NULL);
	}
	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(big_state_roundtrip)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	Dpmp__State		*state = NULL;
	char			 err[256];

	/* 10k miners: the size the benchmark targets, well under the cap */
	srv_start(&st, 10000);
	cl = rpc_client_new(url, 5000);
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetState", &sreq.base, (ProtobufCMessage **)&state, err,
	    sizeof(err)), RPC_OK);
	ck_assert_uint_eq(state->n_miners, 10000);
	ck_assert_str_eq(state->miners[9999]->worker, "rig9999");
	dpmp__state__free_unpacked(state, NULL);
	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(unknown_method)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__RpcResponse	*rep;
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	Dpmp__SetConfigRequest	 sc = DPMP__SET_CONFIG_REQUEST__INIT;
	ProtobufCMessage	*out = NULL;
	char			 err[256];

	srv_start(&st, 1);
	ck_assert_int_eq(raw_envelope("Dataplane.Nope", NULL, 0, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_UNIMPLEMENTED);
	ck_assert_str_eq(rep->error, "unknown method Dataplane.Nope");
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* a method of another service is not this socket's */
	ck_assert_int_eq(raw_envelope("Control.GetState", NULL, 0, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_UNIMPLEMENTED);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* no service part at all */
	ck_assert_int_eq(raw_envelope("GetState", NULL, 0, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_UNIMPLEMENTED);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* the full name is the same service */
	ck_assert_int_eq(raw_envelope("dpmp.Dataplane.GetState", NULL, 0,
	    &rep), 0);
	ck_assert_int_eq(rep->code, RPC_OK);
	ck_assert_uint_gt(rep->payload.len, 0);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* an unprintable method name is not echoed raw */
	ck_assert_int_eq(raw_envelope("Dataplane.\x1b[2J\xff", NULL, 0, &rep),
	    0);
	ck_assert_int_eq(rep->code, RPC_UNIMPLEMENTED);
	ck_assert_str_eq(rep->error, "unknown method Dataplane.?[2J?");
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* a method with no handler */
	cl = rpc_client_new(url, 2000);
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "SetConfig", &sc.base, &out, err, sizeof(err)),
	    RPC_UNIMPLEMENTED);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "Dataplane.SetConfig not implemented");
	/* a method the descriptor does not have never leaves the client */
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor, "Nope",
	    &empty.base, &out, err, sizeof(err)), RPC_UNIMPLEMENTED);
	/* nor does an input of the wrong type */
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor, "Assign",
	    &empty.base, &out, err, sizeof(err)), RPC_INVALID_ARGUMENT);
	ck_assert_int_eq(atomic_load(&st.fake.calls), 1);
	rpc_client_free(cl);

	srv_stop(&st);
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "\"event\":\"ipc_bad_request\""));
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "unknown method Dataplane.Nope"));
}
END_TEST

START_TEST(malformed_envelope)
{
	struct srv_thread	 st;
	Dpmp__RpcResponse	*rep;
	/* field 1 length-delimited with a length far past the end */
	static const uint8_t	 garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f,
				    'x', 'y' };
	static const uint8_t	 badtag[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
				    0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };

	srv_start(&st, 1);
	ck_assert_int_eq(raw_call(garbage, sizeof(garbage), 2000, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_INVALID_ARGUMENT);
	ck_assert_str_eq(rep->error, "malformed request");
	ck_assert_uint_eq(rep->payload.len, 0);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	ck_assert_int_eq(raw_call(badtag, sizeof(badtag), 2000, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_INVALID_ARGUMENT);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	/* an empty message is an empty envelope: no method */
	ck_assert_int_eq(raw_call("", 0, 2000, &rep), 0);
	ck_assert_int_eq(rep->code, RPC_UNIMPLEMENTED);
	dpmp__rpc_response__free_unpacked(rep, NULL);

	ck_assert_int_eq(atomic_load(&st.fake.calls), 0);
	srv_stop(&st);
	ck_assert_ptr_nonnull(strstr(log_text(), "malformed request"));
}
END_TEST

START_TEST(bad_payload)
{
	struct srv_thread	 st;
	Dpmp__RpcResponse	*rep;
	static const uint8_t	 junk[] = { 0x0a, 0x05, 0x01 };	/* truncated */

	srv_start(&st, 1);
	ck_assert_int_eq(raw_envelope("Dataplane.Assign", junk, sizeof(junk),
	    &rep), 0);
	ck_assert_int_eq(rep->code, RPC_INVALID_ARGUMENT);
	ck_assert_str_eq(rep->error, "malformed Dataplane.Assign payload");
	dpmp__rpc_response__free_unpacked(rep, NULL);
	/* the handler never saw it */
	ck_assert_int_eq(atomic_load(&st.fake.calls), 0);
	srv_stop(&st);
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "malformed Dataplane.Assign payload"));
}
END_TEST

START_TEST(handler_errors)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__AssignRequest	 ar = DPMP__ASSIGN_REQUEST__INIT;
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	ProtobufCMessage	*out = NULL;
	char			 err[256];

	srv_start(&st, 1);
	cl = rpc_client_new(url, 2000);
	ar.reason = "fail";
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor, "Assign",
	    &ar.base, &out, err, sizeof(err)), RPC_FAILED_PRECONDITION);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "reason 'fail' refused");

	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetCounters", &empty.base, &out, err, sizeof(err)),
	    RPC_INTERNAL);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "GetCounters failed"));
	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(oversized_message)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__RpcRequest	 req = DPMP__RPC_REQUEST__INIT;
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	Dpmp__State		*state = NULL;
	Dpmp__AssignRequest	 ar = DPMP__ASSIGN_REQUEST__INIT;
	Dpmp__Assignment	 a, **ap;
	ProtobufCMessage	*out = NULL;
	uint8_t			 frame[4096];
	size_t			 n, i;
	char			 err[256];
	int64_t			 t0;
	int			 fd;

	srv_start(&st, 1);
	/* The hand-made framing is right: a small request is answered. */
	fd = sp_connect();
	req.method = "Dataplane.GetState";
	memcpy(frame, "\x80\x00\x00\x01", 4);
	n = 4 + dpmp__rpc_request__pack(&req, frame + 4);
	ck_assert(sp_send(fd, n, frame, n));
	ck_assert_int_eq(recv(fd, frame, 9 + 4, MSG_WAITALL), 13);
	ck_assert_int_eq(frame[0], 1);
	ck_assert_int_eq(memcmp(frame + 9, "\x80\x00\x00\x01", 4), 0);

	/* A peer announcing more than RPC_MAX_MSG is cut off by nng before
	 * a byte is buffered or decoded, and gets no answer. */
	(void)sp_send(fd, (uint64_t)RPC_MAX_MSG + 1024, frame, sizeof(frame));
	ck_assert(sp_closed(fd, 2000));
	close(fd);
	/* even one that claims 2^64-1 */
	fd = sp_connect();
	(void)sp_send(fd, UINT64_MAX, frame, 16);
	ck_assert(sp_closed(fd, 2000));
	close(fd);

	/* and the server goes on serving */
	cl = rpc_client_new(url, 2000);
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetState", &sreq.base, (ProtobufCMessage **)&state, err,
	    sizeof(err)), RPC_OK);
	ck_assert_str_eq(state->boot_id, "boot-1");
	dpmp__state__free_unpacked(state, NULL);

	/* Our own client refuses to build one, at once. */
	n = RPC_MAX_MSG / 8 + 1;
	ap = calloc(n, sizeof(*ap));
	dpmp__assignment__init(&a);
	a.miner_id = UINT64_MAX;
	a.pool = "A";
	for (i = 0; i < n; i++)
		ap[i] = &a;
	ar.n_assignments = n;
	ar.assignments = ap;
	t0 = mono_ms();
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor, "Assign",
	    &ar.base, &out, err, sizeof(err)), RPC_RESOURCE_EXHAUSTED);
	ck_assert_int_lt(mono_ms() - t0, 1000);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	free(ap);

	/* still serving */
	(void)state_miners(cl);
	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(timeout_without_server)
{
	struct rpc_client	*cl;
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	ProtobufCMessage	*out = NULL;
	char			 err[256], want[256];
	int64_t			 t0, dt;

	cl = rpc_client_new(url, 300);
	ck_assert_ptr_nonnull(cl);
	t0 = mono_ms();
	ck_assert_int_eq(rpc_call(cl, &dpmp__dataplane__descriptor,
	    "GetState", &sreq.base, &out, err, sizeof(err)),
	    RPC_UNAVAILABLE);
	dt = mono_ms() - t0;
	ck_assert_ptr_null(out);
	snprintf(want, sizeof(want), "no answer from %s in 300 ms", url);
	ck_assert_str_eq(err, want);
	ck_assert_int_ge(dt, 250);
	ck_assert_int_lt(dt, 1500);
	rpc_client_free(cl);

	/* the one-shot dial fails at once instead */
	t0 = mono_ms();
	ck_assert_ptr_null(rpc_client_connect(url, 300, err, sizeof(err)));
	ck_assert_int_lt(mono_ms() - t0, 250);
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(server_restart)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	Dpmp__StateRequest	 sreq = DPMP__STATE_REQUEST__INIT;
	Dpmp__State		*state = NULL;
	char			 err[256];

	/* the client comes first, as the controlplane may; redials back off
	 * up to a second, so leave room for that */
	cl = rpc_client_new(url, 5000);
	ck_assert_ptr_nonnull(cl);
	srv_start(&st, 2);
	(void)state_miners(cl);
	srv_stop(&st);

	/* while it is gone: a timeout, not a hang or a crash */
	{
		struct rpc_client *gone = rpc_client_new(url, 300);

		ck_assert_int_eq(rpc_call(gone, &dpmp__dataplane__descriptor,
		    "GetState", &sreq.base, (ProtobufCMessage **)&state, err,
		    sizeof(err)), RPC_UNAVAILABLE);
		ck_assert_ptr_null(state);
		rpc_client_free(gone);
	}
	/* back: the same client redials by itself */
	srv_start(&st, 4);
	ck_assert_uint_eq(state_miners(cl), 4);
	srv_stop(&st);

	/* and across a second restart with the client kept throughout */
	srv_start(&st, 5);
	ck_assert_uint_eq(state_miners(cl), 5);
	rpc_client_free(cl);
	srv_stop(&st);
}
END_TEST

START_TEST(listen_twice_refused)
{
	struct srv_thread	 st;

	srv_start(&st, 1);
	/* a live listener keeps its address; a second one fails, logged */
	ck_assert_ptr_null(rpc_server_new(url, &dpmp__dataplane__descriptor,
	    handlers, NULL, NULL));
	srv_stop(&st);
	ck_assert_ptr_nonnull(strstr(log_text(), "ipc_listen_failed"));
}
END_TEST

START_TEST(dispatch_without_socket)
{
	Dpmp__RpcRequest	 req = DPMP__RPC_REQUEST__INIT;
	Dpmp__RpcResponse	*rep;
	Dpmp__State		*state;
	struct fake		 f;
	uint8_t			 buf[64], *reply;
	size_t			 len, rlen;

	memset(&f, 0, sizeof(f));
	f.n_miners = 1;
	req.method = "Dataplane.GetState";
	len = dpmp__rpc_request__pack(&req, buf);
	ck_assert_int_eq(rpc_dispatch(&dpmp__dataplane__descriptor, handlers,
	    NULL, &f, buf, len, &reply, &rlen), RPC_OK);
	rep = dpmp__rpc_response__unpack(NULL, rlen, reply);
	ck_assert_int_eq(rep->code, 0);
	state = dpmp__state__unpack(NULL, rep->payload.len,
	    rep->payload.data);
	ck_assert_str_eq(state->boot_id, "boot-1");
	dpmp__state__free_unpacked(state, NULL);
	dpmp__rpc_response__free_unpacked(rep, NULL);
	free(reply);

	ck_assert_int_eq(rpc_dispatch(&dpmp__dataplane__descriptor, handlers,
	    NULL, &f, "\xff", 1, &reply, &rlen), RPC_INVALID_ARGUMENT);
	free(reply);
}
END_TEST

/* The local/pool reject split came as new fields: what an older peer
 * sends still decodes (split 0, total kept), and no field moved. */
START_TEST(reject_fields_wire_compatible)
{
	/* PoolWork{pool "A", accepted 10, rejected 3} as an older build
	 * packs it */
	static const uint8_t old[] = { 0x0a, 0x01, 'A', 0x10, 0x0a, 0x18,
	    0x03 };
	Dpmp__PoolWork	 w = DPMP__POOL_WORK__INIT, *got;
	uint8_t		 buf[64];
	size_t		 len;
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char	*name;
		unsigned	 id;
	} ids[] = {
		{ &dpmp__pool_work__descriptor, "rejected", 3 },
		{ &dpmp__pool_work__descriptor, "rejected_local", 5 },
		{ &dpmp__pool_work__descriptor, "rejected_pool", 6 },
		{ &dpmp__pool_status__descriptor, "rejected", 7 },
		{ &dpmp__pool_status__descriptor, "rejected_local", 9 },
		{ &dpmp__pool_status__descriptor, "rejected_pool", 10 },
		{ &dpmp__pool_status__descriptor, "rejected_by_reason", 11 },
		{ &dpmp__event__descriptor, "reason", 8 },
		{ &dpmp__event__descriptor, "where", 11 },
		{ &dpmp__event__descriptor, "mono_ms", 12 },
	};
	size_t		 i;

	got = dpmp__pool_work__unpack(NULL, sizeof(old), old);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->rejected, 3);
	ck_assert_uint_eq(got->rejected_local, 0);
	ck_assert_uint_eq(got->rejected_pool, 0);
	dpmp__pool_work__free_unpacked(got, NULL);

	w.pool = "A";
	w.rejected = 5;
	w.rejected_local = 2;
	w.rejected_pool = 3;
	len = dpmp__pool_work__pack(&w, buf);
	got = dpmp__pool_work__unpack(NULL, len, buf);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->rejected, 5);
	ck_assert_uint_eq(got->rejected_local, 2);
	ck_assert_uint_eq(got->rejected_pool, 3);
	dpmp__pool_work__free_unpacked(got, NULL);

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const ProtobufCFieldDescriptor *f;

		f = protobuf_c_message_descriptor_get_field_by_name(ids[i].d,
		    ids[i].name);
		ck_assert_msg(f != NULL && f->id == ids[i].id, "%s.%s",
		    ids[i].d->name, ids[i].name);
	}
}
END_TEST

/* ---- pub/sub ------------------------------------------------------ */

static Dpmp__Event *
sub_wait(struct rpc_sub *sub, int timeout_ms)
{
	struct pollfd	 pfd = { .fd = rpc_sub_fd(sub), .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return NULL;
	return rpc_sub_recv(sub);
}

/* pub/sub drops what is sent before the subscriber is connected; send
 * pings until one arrives, then drain. */
static void
sub_sync(struct rpc_sub *sub, void (*send_ping)(void *), void *arg)
{
	Dpmp__Event	*ev = NULL;
	int		 i;

	for (i = 0; i < 200 && ev == NULL; i++) {
		send_ping(arg);
		ev = sub_wait(sub, 20);
	}
	ck_assert_ptr_nonnull(ev);
	dpmp__event__free_unpacked(ev, NULL);
	while ((ev = sub_wait(sub, 50)) != NULL)
		dpmp__event__free_unpacked(ev, NULL);
}

static void
ping_rpc(void *arg)
{
	Dpmp__Event	 ev = DPMP__EVENT__INIT;

	ev.type = "ping";
	ck_assert_int_eq(rpc_pub_send(arg, &ev), 0);
}

START_TEST(pubsub_roundtrip)
{
	struct rpc_pub	*pub;
	struct rpc_sub	*sub;
	Dpmp__Event	 ev = DPMP__EVENT__INIT, *got;

	pub = rpc_pub_new(evurl);
	ck_assert_ptr_nonnull(pub);
	sub = rpc_sub_new(evurl);
	ck_assert_ptr_nonnull(sub);
	ck_assert_int_ge(rpc_sub_fd(sub), 0);
	ck_assert_ptr_null(rpc_sub_recv(sub));	/* nothing yet, no block */
	sub_sync(sub, ping_rpc, pub);

	ev.type = "share_result";
	ev.ts_ms = 1700000000123ull;
	ev.miner_id = 42;
	ev.worker = "rig1";
	ev.pool = "B";
	ev.from_pool = "A";
	ev.result = "accepted";
	ev.reason = "";
	ev.difficulty = 0.00001;
	ck_assert_int_eq(rpc_pub_send(pub, &ev), 0);
	ev.type = "pool_down";
	ev.pool = "A";
	ck_assert_int_eq(rpc_pub_send(pub, &ev), 0);

	got = sub_wait(sub, 2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->type, "share_result");
	ck_assert_uint_eq(got->ts_ms, 1700000000123ull);
	ck_assert_uint_eq(got->miner_id, 42);
	ck_assert_str_eq(got->worker, "rig1");
	ck_assert_str_eq(got->pool, "B");
	ck_assert_str_eq(got->from_pool, "A");
	ck_assert_str_eq(got->result, "accepted");
	ck_assert_double_eq(got->difficulty, 0.00001);
	dpmp__event__free_unpacked(got, NULL);
	got = sub_wait(sub, 2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->type, "pool_down");
	ck_assert_str_eq(got->pool, "A");
	dpmp__event__free_unpacked(got, NULL);

	/* a reject says who refused it */
	ev.type = "share_result";
	ev.result = "rejected";
	ev.reason = "duplicate";
	ev.where = "local";
	ck_assert_int_eq(rpc_pub_send(pub, &ev), 0);
	got = sub_wait(sub, 2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->result, "rejected");
	ck_assert_str_eq(got->reason, "duplicate");
	ck_assert_str_eq(got->where, "local");
	dpmp__event__free_unpacked(got, NULL);

	rpc_sub_free(sub);
	rpc_pub_free(pub);
}
END_TEST

static void
raw_pub(nng_socket s, const void *buf, size_t len)
{
	nng_msg	*msg;

	ck_assert_int_eq(nng_msg_alloc(&msg, len), 0);
	memcpy(nng_msg_body(msg), buf, len);
	ck_assert_int_eq(nng_sendmsg(s, msg, 0), 0);
}

static void
raw_pub_event(nng_socket s, const char *topic, const Dpmp__Event *ev)
{
	uint8_t	 buf[512];
	size_t	 tl = strlen(topic) + 1;
	size_t	 n;

	memcpy(buf, topic, tl);
	n = dpmp__event__pack(ev, buf + tl);
	raw_pub(s, buf, tl + n);
}

static void
ping_raw(void *arg)
{
	Dpmp__Event	 ev = DPMP__EVENT__INIT;

	ev.type = "ping";
	raw_pub_event(*(nng_socket *)arg, "ping", &ev);
}

START_TEST(pubsub_malformed)
{
	nng_socket	 pub;
	struct rpc_sub	*sub;
	Dpmp__Event	 ev = DPMP__EVENT__INIT, *got;
	static const uint8_t trunc[] = "share_result\0\x22\x05rig";

	ck_assert_int_eq(nng_pub0_open(&pub), 0);
	ck_assert_int_eq(nng_listen(pub, evurl, NULL, 0), 0);
	sub = rpc_sub_new(evurl);
	ck_assert_ptr_nonnull(sub);
	sub_sync(sub, ping_raw, &pub);

	/* no topic terminator */
	raw_pub(pub, "garbage", 7);
	ck_assert_ptr_null(sub_wait(sub, 2000));
	/* a topic, then a truncated Event */
	raw_pub(pub, trunc, sizeof(trunc) - 1);
	ck_assert_ptr_null(sub_wait(sub, 2000));
	/* a well-formed Event under a topic that is not its type */
	ev.type = "pool_up";
	raw_pub_event(pub, "pool_down", &ev);
	ck_assert_ptr_null(sub_wait(sub, 2000));

	/* and the next good one arrives intact */
	ev.type = "miner_connected";
	ev.worker = "rig\xc3\xa9";
	ev.miner_id = 7;
	raw_pub_event(pub, "miner_connected", &ev);
	got = sub_wait(sub, 2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->type, "miner_connected");
	ck_assert_str_eq(got->worker, "rig\xc3\xa9");
	ck_assert_uint_eq(got->miner_id, 7);
	dpmp__event__free_unpacked(got, NULL);

	rpc_sub_free(sub);
	nng_close(pub);
	ck_assert_ptr_nonnull(strstr(log_text(), "ipc_bad_event"));
	ck_assert_ptr_nonnull(strstr(log_text(), "no topic"));
	ck_assert_ptr_nonnull(strstr(log_text(), "topic does not match type"));
}
END_TEST

START_TEST(sub_before_pub)
{
	struct rpc_pub	*pub;
	struct rpc_sub	*sub;

	/* the controlplane may start first: the sub redials */
	sub = rpc_sub_new(evurl);
	ck_assert_ptr_nonnull(sub);
	ck_assert_ptr_null(rpc_sub_recv(sub));
	pub = rpc_pub_new(evurl);
	ck_assert_ptr_nonnull(pub);
	sub_sync(sub, ping_rpc, pub);
	rpc_sub_free(sub);
	rpc_pub_free(pub);

	rpc_pub_free(NULL);
	rpc_sub_free(NULL);
	rpc_server_free(NULL);
	rpc_client_free(NULL);
}
END_TEST

/* ---- listener guard ----------------------------------------------- */

/* What nng 1.5.2 cannot take (nng #1518): a peer that connects to the ipc
 * path and leaves before the SP handshake is done. */
static void
connect_and_leave(const char *ipc_url)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	ck_assert(strncmp(ipc_url, "ipc://", 6) == 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ipc_url + 6);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	close(fd);
}

START_TEST(guard_quiet_when_healthy)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	int			 i;

	rpc_guard_timing(100, 300);
	srv_start(&st, 3);
	atomic_store(&st.guard, true);
	cl = rpc_client_new(url, 2000);
	ck_assert_ptr_nonnull(cl);
	/* a dozen probe rounds with a client busy on the socket */
	for (i = 0; i < 30; i++) {
		ck_assert_uint_eq(state_miners(cl), 3);
		usleep(50 * 1000);
	}
	rpc_client_free(cl);
	srv_stop(&st);
	rpc_guard_timing(0, 0);
	ck_assert_int_eq(atomic_load(&st.restarts), 0);
	ck_assert_ptr_null(strstr(log_text(), "ipc_listener_restarted"));
}
END_TEST

START_TEST(guard_recovers_stalled_listener)
{
	struct srv_thread	 st;
	struct rpc_client	*cl;
	int64_t			 t0;
	int			 i;

	rpc_guard_timing(200, 300);
	srv_start(&st, 2);
	atomic_store(&st.guard, true);
	for (i = 0; i < 3; i++)
		connect_and_leave(url);
	/* a fresh client, which nng 1.5.2 alone would leave hanging */
	t0 = mono_ms();
	cl = rpc_client_new(url, 5000);
	ck_assert_ptr_nonnull(cl);
	ck_assert_uint_eq(state_miners(cl), 2);
	ck_assert_int_lt(mono_ms() - t0, 3000);
	/* and it keeps serving afterwards */
	(void)state_miners(cl);
	rpc_client_free(cl);
	srv_stop(&st);
	rpc_guard_timing(0, 0);
	/* with a fixed nng nothing stalls and there is nothing to restart */
	if (atomic_load(&st.restarts) > 0)
		ck_assert_ptr_nonnull(strstr(log_text(),
		    "\"event\":\"ipc_listener_restarted\""));
}
END_TEST

START_TEST(guard_recovers_events_listener)
{
	struct rpc_pub	*pub;
	struct rpc_sub	*sub;
	Dpmp__Event	 ev = DPMP__EVENT__INIT, *got = NULL;
	int64_t		 t0;

	rpc_guard_timing(200, 300);
	pub = rpc_pub_new(evurl);
	ck_assert_ptr_nonnull(pub);
	connect_and_leave(evurl);
	usleep(50 * 1000);
	sub = rpc_sub_new(evurl);
	ck_assert_ptr_nonnull(sub);
	ev.type = "pool_up";
	ev.pool = "A";
	/* publish (and guard) until the late subscriber hears something */
	for (t0 = mono_ms(); got == NULL && mono_ms() - t0 < 5000;) {
		rpc_pub_guard(pub);
		ck_assert_int_eq(rpc_pub_send(pub, &ev), 0);
		got = sub_wait(sub, 100);
	}
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->type, "pool_up");
	dpmp__event__free_unpacked(got, NULL);
	rpc_sub_free(sub);
	rpc_pub_free(pub);
	rpc_guard_timing(0, 0);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite	*s = suite_create("rpc");
	TCase	*tc;

	tc = tcase_create("guard");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, guard_quiet_when_healthy);
	suite_add_tcase(s, tc);

	/* run by test_rpc_guard only (see __lsan_default_suppressions) */
	tc = tcase_create("stall");
	tcase_set_tags(tc, "stall");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, guard_recovers_stalled_listener);
	tcase_add_test(tc, guard_recovers_events_listener);
	suite_add_tcase(s, tc);

	tc = tcase_create("reqrep");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, roundtrip_get_state_assign);
	tcase_add_test(tc, big_state_roundtrip);
	tcase_add_test(tc, state_pages_merge);
	tcase_add_test(tc, unknown_method);
	tcase_add_test(tc, malformed_envelope);
	tcase_add_test(tc, bad_payload);
	tcase_add_test(tc, handler_errors);
	tcase_add_test(tc, oversized_message);
	tcase_add_test(tc, timeout_without_server);
	tcase_add_test(tc, server_restart);
	tcase_add_test(tc, listen_twice_refused);
	tcase_add_test(tc, dispatch_without_socket);
	tcase_add_test(tc, reject_fields_wire_compatible);
	suite_add_tcase(s, tc);

	tc = tcase_create("pubsub");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pubsub_roundtrip);
	tcase_add_test(tc, pubsub_malformed);
	tcase_add_test(tc, sub_before_pub);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(rpc_suite());
	int	 failed;

#ifdef DPMP_RPC_GUARD_ONLY
	srunner_run_tagged(sr, NULL, NULL, "stall", NULL, CK_NORMAL);
#else
	srunner_run_tagged(sr, NULL, NULL, NULL, "stall", CK_NORMAL);
#endif
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
