/*
 * dpmp-ipctool: speaks the dataplane's IPC from a shell, for black-box
 * tests and benchmarks (python has no protobuf in its standard library).
 *
 *   dpmp-ipctool -e URL [-p PAGE] state | counters
 *   dpmp-ipctool -e URL assign POOL [MINER_ID ...]   (all miners if none)
 *   dpmp-ipctool -e URL flip POOLS INTERVAL_S DURATION_S
 *   dpmp-ipctool -e URL call METHOD            (empty input, e.g. bogus)
 *   dpmp-ipctool -e URL raw N                  (N random bytes, no envelope)
 *   dpmp-ipctool -e URL badpayload METHOD      (envelope, garbage payload)
 *   dpmp-ipctool -e EVENTS_URL events SECONDS  (print events as JSON lines)
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "pbjson.h"
#include "rpc.h"

static const char *url;
static int timeout_ms = 3000;
static unsigned page_size;		/* GetState page, 0 = the server's */

static void
usage(void)
{
	fprintf(stderr, "usage: dpmp-ipctool -e URL [-t MS] [-p PAGE] "
	    "state|counters|assign POOL [ID..]|flip POOLS INTERVAL DURATION|"
	    "call METHOD|raw N|badpayload METHOD|events SECONDS\n");
	exit(2);
}

static void
print_msg(const ProtobufCMessage *m)
{
	json_t *j = pbjson_from_message(m);

	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

/* A failed call, as the one JSON line tests read: {"code":N,"error":...} */
static void
print_error(int rc, const char *err)
{
	json_t *j = json_pack("{s:i,s:s}", "code", rc, "error", err);

	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

static int
call(struct rpc_client *cl, const char *method, const ProtobufCMessage *in,
    ProtobufCMessage **out)
{
	char err[256];
	int rc;

	rc = rpc_call(cl, &dpmp__dataplane__descriptor, method, in, out, err,
	    sizeof(err));
	if (rc != RPC_OK)
		print_error(rc, err);
	return rc;
}

/* Every page of GetState, merged; on failure prints the error and
 * returns NULL. */
static Dpmp__State *
get_state(struct rpc_client *cl)
{
	Dpmp__State *st;
	char err[256];
	int rc;

	if ((rc = rpc_get_state(cl, page_size, &st, err, sizeof(err))) !=
	    RPC_OK) {
		print_error(rc, err);
		return NULL;
	}
	return st;
}

static int
assign(struct rpc_client *cl, const char *pool, char **ids, int nids,
    bool quiet)
{
	Dpmp__State *st = NULL;
	Dpmp__AssignRequest req = DPMP__ASSIGN_REQUEST__INIT;
	Dpmp__Assignment *as = NULL, **ap = NULL;
	ProtobufCMessage *out = NULL;
	size_t i, n;
	int rc;

	if (nids == 0) {
		if ((st = get_state(cl)) == NULL)
			return 1;
		n = st->n_miners;
	} else
		n = (size_t)nids;
	as = calloc(n + 1, sizeof(*as));
	ap = calloc(n + 1, sizeof(*ap));
	for (i = 0; i < n; i++) {
		dpmp__assignment__init(&as[i]);
		as[i].miner_id = st ? st->miners[i]->id :
		    strtoull(ids[i], NULL, 10);
		as[i].pool = (char *)pool;
		ap[i] = &as[i];
	}
	req.assignments = ap;
	req.n_assignments = n;
	req.reason = (char *)"schedule";
	req.newcomer_pool = (char *)pool;
	rc = call(cl, "Dataplane.Assign", &req.base, &out);
	if (rc == RPC_OK && !quiet)
		print_msg(out);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	if (st)
		dpmp__state__free_unpacked(st, NULL);
	free(as);
	free(ap);
	return rc == RPC_OK ? 0 : 1;
}

static int
raw_send(const void *buf, size_t len)
{
	nng_socket s;
	nng_msg *msg;
	void *body;
	size_t blen;
	Dpmp__RpcResponse *rep;
	int rv;

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0 ||
	    (rv = nng_send(s, (void *)buf, len, 0)) != 0 ||
	    (rv = nng_recvmsg(s, &msg, 0)) != 0) {
		printf("{\"nng_error\":\"%s\"}\n", nng_strerror(rv));
		return 1;
	}
	body = nng_msg_body(msg);
	blen = nng_msg_len(msg);
	rep = dpmp__rpc_response__unpack(NULL, blen, body);
	if (rep == NULL) {
		printf("{\"error\":\"reply is not an RpcResponse\"}\n");
		nng_msg_free(msg);
		return 1;
	}
	print_msg(&rep->base);
	dpmp__rpc_response__free_unpacked(rep, NULL);
	nng_msg_free(msg);
	nng_close(s);
	return 0;
}

/* Subscribe to url and print every event for `seconds`; flushes each
 * line so a test can read them as they come. */
static int
events(double seconds)
{
	struct rpc_sub *sub;
	struct pollfd pfd;
	Dpmp__Event *ev;
	double end = clock_mono_us() / 1e6 + seconds;

	if ((sub = rpc_sub_new(url)) == NULL) {
		fprintf(stderr, "dpmp-ipctool: cannot subscribe to %s\n", url);
		return 1;
	}
	pfd.fd = rpc_sub_fd(sub);
	pfd.events = POLLIN;
	printf("{\"subscribed\":true}\n");
	fflush(stdout);
	while (clock_mono_us() / 1e6 < end) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		while ((ev = rpc_sub_recv(sub)) != NULL) {
			print_msg(&ev->base);
			dpmp__event__free_unpacked(ev, NULL);
		}
		fflush(stdout);
	}
	rpc_sub_free(sub);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct rpc_client *cl;
	ProtobufCMessage *out = NULL;
	Dpmp__Empty e = DPMP__EMPTY__INIT;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "e:p:t:")) != -1) {
		switch (ch) {
		case 'e': url = optarg; break;
		case 'p': page_size = (unsigned)atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (url == NULL || argc < 1)
		usage();
	if (strcmp(argv[0], "raw") == 0 && argc == 2) {
		size_t n = strtoul(argv[1], NULL, 10), i;
		unsigned char *buf = malloc(n ? n : 1);

		srand(42);
		for (i = 0; i < n; i++)
			buf[i] = (unsigned char)rand();
		rc = raw_send(buf, n);
		free(buf);
		return rc;
	}
	if (strcmp(argv[0], "badpayload") == 0 && argc == 2) {
		Dpmp__RpcRequest req = DPMP__RPC_REQUEST__INIT;
		uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99 };
		size_t len;
		uint8_t *buf;

		req.method = argv[1];
		req.payload.data = junk;
		req.payload.len = sizeof(junk);
		len = dpmp__rpc_request__get_packed_size(&req);
		buf = malloc(len);
		dpmp__rpc_request__pack(&req, buf);
		rc = raw_send(buf, len);
		free(buf);
		return rc;
	}
	if (strcmp(argv[0], "events") == 0 && argc == 2)
		return events(atof(argv[1]));
	if ((cl = rpc_client_new(url, timeout_ms)) == NULL) {
		fprintf(stderr, "dpmp-ipctool: cannot dial %s\n", url);
		return 1;
	}
	if (strcmp(argv[0], "state") == 0) {
		if ((out = (ProtobufCMessage *)get_state(cl)) != NULL)
			print_msg(out);
		else
			rc = 1;
	} else if (strcmp(argv[0], "counters") == 0) {
		if ((rc = call(cl, "Dataplane.GetCounters", &e.base, &out)) ==
		    0)
			print_msg(out);
	} else if (strcmp(argv[0], "call") == 0 && argc == 2) {
		if ((rc = call(cl, argv[1], &e.base, &out)) == 0)
			print_msg(out);
	} else if (strcmp(argv[0], "assign") == 0 && argc >= 2) {
		rc = assign(cl, argv[1], argv + 2, argc - 2, false);
	} else if (strcmp(argv[0], "flip") == 0 && argc == 4) {
		/* move every miner to the next pool each interval */
		char *pools[16], *list = strdup(argv[1]), *tok, *save;
		int np = 0, k = 0, moves = 0;
		double interval = atof(argv[2]), duration = atof(argv[3]);
		struct timespec nap;
		double end;

		for (tok = strtok_r(list, ",", &save); tok && np < 16;
		    tok = strtok_r(NULL, ",", &save))
			pools[np++] = tok;
		if (np == 0)
			usage();
		nap.tv_sec = (time_t)interval;
		nap.tv_nsec = (long)((interval - (double)nap.tv_sec) * 1e9);
		end = clock_mono_us() / 1e6 + duration;
		while (clock_mono_us() / 1e6 < end) {
			if (assign(cl, pools[k++ % np], NULL, 0, true) == 0)
				moves++;
			nanosleep(&nap, NULL);
		}
		printf("{\"rounds\":%d}\n", moves);
		free(list);
	} else
		usage();
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	rpc_client_free(cl);
	return rc == 0 ? 0 : 1;
}
