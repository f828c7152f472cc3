/*
 * dpmp-loadgen: a precise Stratum v1 load generator for benchmarks.  It
 * opens N miner connections, subscribes and authorizes each, tracks the
 * job, difficulty and extranonce each one is given, and submits valid
 * shares at an exact aggregate rate, timing every submit to its answer
 * with CLOCK_MONOTONIC.  It does no mining: run the pool at a difficulty
 * so low that every hash meets it, and every share is valid by
 * construction (checked with the common share code unless the target is
 * saturated).  Idle mode only holds the connections and records when
 * each new job reaches each of them (notify fan-out).  One JSON summary
 * goes to stdout at the end; progress events go to stderr.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "diff.h"
#include "hex.h"
#include "job.h"
#include "stratum.h"

#define LG_MAX_CONNS		100000
#define LG_HIST_US		1000000		/* 1 µs buckets up to 1 s */
#define LG_RING			(1u << 22)	/* submits in flight, total */
#define LG_MAX_JOBS		1024		/* distinct jobs tracked */
#define LG_ID_SUBSCRIBE		1
#define LG_ID_AUTHORIZE		2
#define LG_ID_SHARE0		1000
#define LG_READ_MAX		65536
#define LG_VALID_TRIES		64
#define LG_DRAIN_S		3.0

enum lc_state {
	LC_IDLE,		/* not started */
	LC_CONNECTING,
	LC_HANDSHAKE,		/* subscribe + authorize sent */
	LC_READY,		/* authorized and has a job */
	LC_CLOSED,
};

struct lconn {
	int		 fd;
	uint32_t	 idx;
	bool		 is_ref;	/* reference connection to the pool */
	enum lc_state	 state;
	bool		 authorized;
	bool		 want_write;
	struct event	*ev;
	struct evbuffer	*in;
	struct evbuffer	*out;
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 en1_len;
	size_t		 en2_size;
	double		 difficulty;	/* for the next notify */
	/* current job (load mode only) */
	struct job	*job;
	double		 job_diff;
	uint8_t		 job_target[32];
	bool		 job_saturated;	/* every hash meets the target */
	uint64_t	 last_key;	/* fan-out: last job key seen here */
	uint32_t	 nonce;
	uint32_t	 en2_hi;
	uint32_t	 inflight;
};

struct jobrec {
	uint64_t	 key;
	uint64_t	 first_ns, last_ns, ref_ns;
	uint32_t	 count;
	bool		 after_ready;
};

struct opts {
	const char	*host;
	uint16_t	 port;
	uint16_t	 ref_port;
	unsigned	 conns;
	double		 rate;
	double		 duration;
	double		 warmup;
	bool		 idle;
	unsigned	 src_addrs;
	unsigned	 connect_batch;
	unsigned	 max_inflight;
	unsigned	 tick_us;
	double		 connect_timeout;
	const char	*user;
};

static struct {
	struct opts	 o;
	struct event_base *base;
	struct lconn	*c;		/* conns + 1 (the reference) */
	unsigned	 n;		/* miner connections */
	unsigned	 next_connect;
	unsigned	 connecting;
	unsigned	 ready;
	unsigned	 closed;
	unsigned	 connect_failed;
	uint64_t	 t_start_ns, t_ready_ns, t_measure_ns, t_end_ns;
	bool		 sending, draining, all_ready;
	struct event	*ev_tick, *ev_connect, *ev_stop, *ev_sig;
	/* shares */
	uint64_t	 seq;		/* submits sent */
	uint64_t	*sent_ns;	/* ring by seq */
	uint32_t	*sent_conn;
	uint64_t	 rr;		/* round-robin cursor */
	uint64_t	 sent_window, answered, answered_window, accepted,
			 rejected, throttled, invalid_skipped, unknown_answers;
	uint64_t	 reject_codes[64];
	uint64_t	 answered_after_end;
	uint32_t	*hist;
	uint64_t	 hist_over, hist_n;
	uint64_t	 lat_max_ns;
	double		 lat_sum_us;
	/* fan-out */
	struct jobrec	 jobs[LG_MAX_JOBS];
	unsigned	 n_jobs;
	uint64_t	 notifies, notify_bad;
	uint64_t	 bytes_in, bytes_out;
} lg;

static void	conn_start(struct lconn *);
static void	conn_close(struct lconn *, const char *);
static void	conn_cb(evutil_socket_t, short, void *);

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

static void
progress(const char *event, const char *fmt, ...)
{
	char		 buf[512];
	va_list		 ap;
	int		 k;

	k = snprintf(buf, sizeof(buf), "{\"event\":\"%s\",\"t\":%.3f", event,
	    (double)(now_ns() - lg.t_start_ns) / 1e9);
	if (fmt != NULL && k > 0 && (size_t)k < sizeof(buf)) {
		va_start(ap, fmt);
		vsnprintf(buf + k, sizeof(buf) - (size_t)k, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "%s}\n", buf);
	fflush(stderr);
}

/* ---- fan-out -------------------------------------------------------- */

/*
 * A job is recognised across connections by its coinb2: a proxy rewrites
 * the job id and appends to coinb1, but coinb2 is the pool's, identical
 * for every miner and every session.  Scanning the raw line for it costs
 * far less than decoding, so the arrival stamp measures the proxy, not us.
 */
static int
notify_key(const char *line, size_t len, uint64_t *key)
{
	const char	*p = memmem(line, len, "\"params\"", 8), *end = line + len;
	const char	*q;
	uint64_t	 h = 14695981039346656037ull;
	int		 str = 0;

	if (p == NULL)
		return (-1);
	p += 8;
	/* params: job_id, prevhash, coinb1, coinb2: the 4th string */
	while (p < end) {
		if (*p++ != '"')
			continue;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return (-1);
		if (++str == 4) {
			for (; p < q; p++) {
				h ^= (uint8_t)*p;
				h *= 1099511628211ull;
			}
			*key = h;
			return (0);
		}
		p = q + 1;
	}
	return (-1);
}

static void
fanout_record(struct lconn *c, uint64_t key, uint64_t t)
{
	struct jobrec	*j = NULL;
	unsigned	 i;

	if (key == c->last_key)
		return;		/* the same work re-sent under a new id */
	c->last_key = key;
	for (i = lg.n_jobs; i-- > 0;)
		if (lg.jobs[i].key == key) {
			j = &lg.jobs[i];
			break;
		}
	if (j == NULL) {
		if (lg.n_jobs >= LG_MAX_JOBS)
			return;
		j = &lg.jobs[lg.n_jobs++];
		memset(j, 0, sizeof(*j));
		j->key = key;
		j->after_ready = lg.all_ready;
	}
	if (c->is_ref) {
		if (j->ref_ns == 0)
			j->ref_ns = t;
		return;
	}
	if (j->count == 0 || t < j->first_ns)
		j->first_ns = t;
	if (t > j->last_ns)
		j->last_ns = t;
	j->count++;
}

/* ---- sending -------------------------------------------------------- */

static void
conn_flush(struct lconn *c)
{
	int		 r;

	while (evbuffer_get_length(c->out) > 0) {
		r = evbuffer_write(c->out, c->fd);
		if (r > 0) {
			lg.bytes_out += (uint64_t)r;
			continue;
		}
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		conn_close(c, "write failed");
		return;
	}
	if ((evbuffer_get_length(c->out) > 0) != c->want_write) {
		c->want_write = !c->want_write;
		event_del(c->ev);
		event_assign(c->ev, lg.base, c->fd, EV_READ | EV_PERSIST |
		    (c->want_write ? EV_WRITE : 0), conn_cb, c);
		event_add(c->ev, NULL);
	}
}

static void
send_handshake(struct lconn *c)
{
	evbuffer_add_printf(c->out,
	    "{\"id\":%d,\"method\":\"mining.subscribe\",\"params\":"
	    "[\"dpmp-loadgen/1\"]}\n"
	    "{\"id\":%d,\"method\":\"mining.authorize\",\"params\":"
	    "[\"%s.%u\",\"x\"]}\n", LG_ID_SUBSCRIBE, LG_ID_AUTHORIZE,
	    lg.o.user, c->idx);
	c->state = LC_HANDSHAKE;
	conn_flush(c);
}

/* One valid share on c's current job, unique by (en2, nonce). */
static int
send_share(struct lconn *c)
{
	uint8_t		 en2[EXTRANONCE_MAX], hash[32];
	char		 en2hex[2 * EXTRANONCE_MAX + 1];
	uint64_t	 id, slot;
	size_t		 i;
	int		 tries;

	memset(en2, 0, sizeof(en2));
	for (tries = 0; ; tries++) {
		if (++c->nonce == 0)
			c->en2_hi++;
		for (i = 0; i < c->en2_size && i < 4; i++)
			en2[c->en2_size - 1 - i] = (uint8_t)(c->en2_hi >> (8 * i));
		if (c->job_saturated)
			break;
		job_share_hash(c->job, c->en1, c->en1_len, en2, c->en2_size,
		    c->job->version, c->job->ntime, c->nonce, hash);
		if (diff_meets(hash, c->job_target))
			break;
		lg.invalid_skipped++;
		if (tries >= LG_VALID_TRIES)
			return (-1);
	}
	hex_encode(en2, c->en2_size, en2hex);
	id = lg.seq++;
	slot = id & (LG_RING - 1);
	evbuffer_add_printf(c->out,
	    "{\"id\":%llu,\"method\":\"mining.submit\",\"params\":"
	    "[\"%s.%u\",\"%s\",\"%s\",\"%08x\",\"%08x\"]}\n",
	    (unsigned long long)(id + LG_ID_SHARE0), lg.o.user, c->idx,
	    c->job->id, en2hex, c->job->ntime, c->nonce);
	c->inflight++;
	lg.sent_conn[slot] = c->idx;
	return (0);
}

/* Stamp the shares just queued on c (seq s0 up to now) and write them. */
static void
flush_shares(struct lconn *c, uint64_t s0)
{
	uint64_t	 t = now_ns(), q;

	for (q = s0; q < lg.seq; q++) {
		lg.sent_ns[q & (LG_RING - 1)] = t;
		if (t >= lg.t_measure_ns)
			lg.sent_window++;
	}
	conn_flush(c);
}

/*
 * Every tick sends what the rate says is due by now, round-robin over
 * the connections.  When more than one share per connection is due they
 * go out in one write, as a fast miner's would.
 */
static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	 t = now_ns(), target, due, cap, per, k, s0;
	unsigned	 scanned;
	struct lconn	*c;

	(void)fd; (void)ev; (void)arg;
	if (!lg.sending)
		return;
	if (t >= lg.t_end_ns) {
		lg.sending = false;
		return;
	}
	target = (uint64_t)(lg.o.rate * (double)(t - lg.t_ready_ns) / 1e9);
	if (target <= lg.seq + lg.throttled)
		return;
	due = target - lg.seq - lg.throttled;
	/* After a stall, catch up by at most 10 ms worth at once. */
	cap = (uint64_t)(lg.o.rate / 100.0) + 1;
	if (due > cap) {
		lg.throttled += due - cap;
		due = cap;
	}
	per = (due + lg.n - 1) / lg.n;
	scanned = 0;
	while (due > 0 && scanned < lg.n) {
		c = &lg.c[lg.rr++ % lg.n];
		if (c->state != LC_READY || c->job == NULL ||
		    c->inflight >= lg.o.max_inflight ||
		    lg.seq - (lg.answered + lg.unknown_answers) >= LG_RING / 2) {
			scanned++;
			continue;
		}
		s0 = lg.seq;
		for (k = 0; k < per && due > 0 &&
		    c->inflight < lg.o.max_inflight; k++) {
			if (send_share(c) == -1)
				break;
			due--;
		}
		if (lg.seq == s0) {
			scanned++;
			continue;
		}
		scanned = 0;
		flush_shares(c, s0);
	}
	lg.throttled += due;	/* no connection could take it */
}

/* ---- receiving ------------------------------------------------------ */

static void
hist_add(uint64_t ns)
{
	uint64_t	 us = ns / 1000;

	lg.hist_n++;
	lg.lat_sum_us += (double)ns / 1000.0;
	if (ns > lg.lat_max_ns)
		lg.lat_max_ns = ns;
	if (us >= LG_HIST_US)
		lg.hist_over++;
	else
		lg.hist[us]++;
}

static void
share_answer(struct lconn *c, uint64_t id, bool ok, int code, uint64_t t)
{
	uint64_t	 seq = id - LG_ID_SHARE0, slot, sent;

	if (id < LG_ID_SHARE0 || seq >= lg.seq ||
	    lg.seq - seq > LG_RING / 2 ||
	    lg.sent_conn[slot = seq & (LG_RING - 1)] != c->idx) {
		lg.unknown_answers++;
		return;
	}
	sent = lg.sent_ns[slot];
	if (c->inflight > 0)
		c->inflight--;
	lg.answered++;
	if (ok)
		lg.accepted++;
	else {
		lg.rejected++;
		lg.reject_codes[code >= 0 && code < 64 ? code : 0]++;
	}
	if (t > lg.t_end_ns)
		lg.answered_after_end++;
	else if (t >= lg.t_measure_ns)
		lg.answered_window++;
	if (sent >= lg.t_measure_ns && sent < lg.t_end_ns)
		hist_add(t - sent);
}

static void
conn_set_ready(struct lconn *c)
{
	if (c->state == LC_READY || !c->authorized ||
	    (!lg.o.idle && c->job == NULL) || (lg.o.idle && c->last_key == 0))
		return;
	c->state = LC_READY;
	if (c->is_ref)
		return;
	lg.ready++;
	if (lg.ready == lg.n && !lg.all_ready) {
		lg.all_ready = true;
		lg.t_ready_ns = now_ns();
		lg.t_measure_ns = lg.t_ready_ns +
		    (uint64_t)(lg.o.warmup * 1e9);
		lg.t_end_ns = lg.t_ready_ns + (uint64_t)(lg.o.duration * 1e9);
		progress("ready", ",\"conns\":%u,\"connect_s\":%.3f",
		    lg.n, (double)(lg.t_ready_ns - lg.t_start_ns) / 1e9);
		lg.sending = !lg.o.idle && lg.o.rate > 0;
	}
}

/* Lines that are not share answers: decoded with the common codec. */
static void
handle_full(struct lconn *c, const char *line, size_t len, uint64_t t)
{
	struct stratum_msg m;
	struct stratum_subscribe_result sr;
	struct job	*j;
	char		 err[128];
	double		 d;
	json_int_t	 id;
	int		 code;
	uint64_t	 key;

	if (stratum_decode(line, len, &m, err, sizeof(err)) == -1) {
		progress("bad_line", ",\"conn\":%u,\"reason\":\"%s\"", c->idx,
		    err);
		return;
	}
	if (m.kind == STRATUM_RESPONSE) {
		id = json_is_integer(m.id) ? json_integer_value(m.id) : -1;
		if (id == LG_ID_SUBSCRIBE) {
			if (m.error != NULL || stratum_parse_subscribe_result(
			    m.result, &sr, err, sizeof(err)) == -1) {
				conn_close(c, "subscribe failed");
				goto out;
			}
			memcpy(c->en1, sr.en1, sr.en1_len);
			c->en1_len = sr.en1_len;
			c->en2_size = sr.en2_size;
			if (c->en2_size == 0 || c->en2_size > EXTRANONCE_MAX) {
				conn_close(c, "bad extranonce2 size");
				goto out;
			}
		} else if (id == LG_ID_AUTHORIZE) {
			if (!json_is_true(m.result)) {
				conn_close(c, "authorize refused");
				goto out;
			}
			c->authorized = true;
			conn_set_ready(c);
		} else if (id >= LG_ID_SHARE0) {
			const char *text;

			code = stratum_error_code(&m, &text);
			share_answer(c, (uint64_t)id, json_is_true(m.result),
			    code, t);
		}
		goto out;
	}
	if (strcmp(m.method, "mining.set_difficulty") == 0) {
		if (stratum_parse_difficulty(m.params, &d, err,
		    sizeof(err)) == 0)
			c->difficulty = d;
	} else if (strcmp(m.method, "mining.notify") == 0) {
		/* only the lines notify_key could not read come here */
		if (lg.o.idle || c->is_ref) {
			lg.notify_bad++;
			goto out;
		}
		if ((j = calloc(1, sizeof(*j))) == NULL ||
		    job_from_notify(m.params, j, err, sizeof(err)) == -1) {
			free(j);
			lg.notify_bad++;
			goto out;
		}
		if (c->job != NULL) {
			job_clear(c->job);
			free(c->job);
		}
		c->job = j;
		c->job_diff = c->difficulty;
		c->job_saturated = true;
		if (diff_to_target(c->job_diff, c->job_target) == 0) {
			for (size_t i = 0; i < 32; i++)
				if (c->job_target[i] != 0xff)
					c->job_saturated = false;
		}
		if (notify_key(line, len, &key) == 0)
			fanout_record(c, key, t);
		conn_set_ready(c);
	} else if (strcmp(m.method, "mining.set_extranonce") == 0) {
		size_t n2;

		if (stratum_parse_set_extranonce(m.params, c->en1,
		    &c->en1_len, &n2, err, sizeof(err)) == 0)
			c->en2_size = n2;
	} else if (strcmp(m.method, "client.reconnect") == 0) {
		progress("client_reconnect", ",\"conn\":%u", c->idx);
	}
 out:
	stratum_msg_clear(&m);
}

/*
 * Share answers are most of the traffic; the compact form every pool and
 * the proxy write ({"id":N,"result":true,"error":null}) is recognised
 * without a JSON decode so the generator's own cost stays small.
 */
static void
handle_line(struct lconn *c, const char *line, size_t len, uint64_t t)
{
	uint64_t	 id = 0, key;
	size_t		 i;

	if (len > 7 && memcmp(line, "{\"id\":", 6) == 0 &&
	    line[6] >= '0' && line[6] <= '9') {
		for (i = 6; i < len && line[i] >= '0' && line[i] <= '9'; i++)
			id = id * 10 + (uint64_t)(line[i] - '0');
		if (id >= LG_ID_SHARE0 && len - i >= 14 &&
		    memcmp(line + i, ",\"result\":true", 14) == 0) {
			share_answer(c, id, true, 0, t);
			return;
		}
	}
	if (memmem(line, len, "\"mining.notify\"", 15) != NULL) {
		lg.notifies++;
		if ((lg.o.idle || c->is_ref) && notify_key(line, len,
		    &key) == 0) {
			fanout_record(c, key, t);
			conn_set_ready(c);
			return;
		}
	}
	handle_full(c, line, len, t);
}

static void
conn_read(struct lconn *c)
{
	uint64_t	 t;
	size_t		 len, off;
	char		*buf, *nl;
	int		 r;

	r = evbuffer_read(c->in, c->fd, LG_READ_MAX);
	t = now_ns();
	if (r == 0) {
		conn_close(c, "closed by peer");
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c, "read failed");
		return;
	}
	lg.bytes_in += (uint64_t)r;
	len = evbuffer_get_length(c->in);
	buf = (char *)evbuffer_pullup(c->in, (ssize_t)len);
	off = 0;
	while (off < len && c->state != LC_CLOSED &&
	    (nl = memchr(buf + off, '\n', len - off)) != NULL) {
		size_t	 ll = (size_t)(nl - (buf + off));

		if (ll > 0 && buf[off + ll - 1] == '\r')
			ll--;
		if (ll > 0)
			handle_line(c, buf + off, ll, t);
		off = (size_t)(nl - buf) + 1;
	}
	if (c->state == LC_CLOSED)
		return;
	evbuffer_drain(c->in, off);
	if (evbuffer_get_length(c->in) > STRATUM_MAX_LINE)
		conn_close(c, "line too long");
}

/* ---- connections ---------------------------------------------------- */

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lconn	*c = arg;
	socklen_t	 sl;
	int		 err = 0;

	(void)fd;
	if (c->state == LC_CONNECTING) {
		sl = sizeof(err);
		if ((what & EV_TIMEOUT) != 0 || getsockopt(c->fd, SOL_SOCKET,
		    SO_ERROR, &err, &sl) == -1 || err != 0) {
			lg.connect_failed++;
			conn_close(c, err ? strerror(err) : "connect timeout");
			return;
		}
		lg.connecting--;
		event_del(c->ev);
		event_assign(c->ev, lg.base, c->fd, EV_READ | EV_PERSIST,
		    conn_cb, c);
		event_add(c->ev, NULL);
		send_handshake(c);
		if (!event_pending(lg.ev_connect, EV_TIMEOUT, NULL))
			event_active(lg.ev_connect, EV_TIMEOUT, 0);
		return;
	}
	if ((what & EV_WRITE) != 0) {
		conn_flush(c);
		if (c->state == LC_CLOSED)
			return;
	}
	if ((what & EV_READ) != 0)
		conn_read(c);
}

static void
conn_close(struct lconn *c, const char *why)
{
	if (c->state == LC_CLOSED || c->state == LC_IDLE)
		return;
	if (c->state == LC_CONNECTING)
		lg.connecting--;
	if (c->state == LC_READY && !c->is_ref)
		lg.ready--;
	if (why != NULL && (lg.closed < 10 ||
	    (lg.closed & (lg.closed - 1)) == 0))
		progress("conn_closed", ",\"conn\":%u,\"reason\":\"%s\","
		    "\"closed\":%u", c->idx, why, lg.closed + 1);
	c->state = LC_CLOSED;
	lg.closed++;
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->job != NULL) {
		job_clear(c->job);
		free(c->job);
		c->job = NULL;
	}
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	c->in = c->out = NULL;
	if (!lg.all_ready && !event_pending(lg.ev_connect, EV_TIMEOUT, NULL))
		event_active(lg.ev_connect, EV_TIMEOUT, 0);
}

static void
conn_start(struct lconn *c)
{
	struct sockaddr_in sin, src;
	struct timeval	 tv;
	int		 one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(c->is_ref ? lg.o.ref_port : lg.o.port);
	inet_pton(AF_INET, lg.o.host, &sin.sin_addr);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->state = LC_CONNECTING;
	lg.connecting++;
	if (c->in == NULL || c->out == NULL ||
	    (c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1) {
		lg.connect_failed++;
		conn_close(c, "socket failed");
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* More than ~28k connections to one address:port need more source
	 * addresses (127.0.0.0/8 is all local). */
	if (lg.o.src_addrs > 1) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001u +
		    (c->idx % lg.o.src_addrs));
#ifdef IP_BIND_ADDRESS_NO_PORT
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
#endif
		bind(c->fd, (struct sockaddr *)&src, sizeof(src));
	}
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		lg.connect_failed++;
		conn_close(c, strerror(errno));
		return;
	}
	c->ev = event_new(lg.base, c->fd, EV_WRITE, conn_cb, c);
	tv.tv_sec = (time_t)lg.o.connect_timeout;
	tv.tv_usec = 0;
	if (c->ev == NULL || event_add(c->ev, &tv) == -1) {
		lg.connect_failed++;
		conn_close(c, "event_add failed");
	}
}

/* Keeps at most connect_batch connections in the TCP handshake. */
static void
connect_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	while (lg.next_connect < lg.n && lg.connecting < lg.o.connect_batch)
		conn_start(&lg.c[lg.next_connect++]);
	if (lg.next_connect == lg.n && lg.ready + lg.closed >= lg.n &&
	    !lg.all_ready && lg.closed > 0) {
		progress("connect_incomplete", ",\"ready\":%u,\"closed\":%u",
		    lg.ready, lg.closed);
		event_base_loopexit(lg.base, NULL);
	}
}

/* ---- end ------------------------------------------------------------ */

static uint64_t
hist_pct(double q)
{
	uint64_t	 want, acc = 0;
	size_t		 i;

	if (lg.hist_n == 0)
		return (0);
	want = (uint64_t)ceil(q * (double)lg.hist_n);
	if (want == 0)
		want = 1;
	for (i = 0; i < LG_HIST_US; i++) {
		acc += lg.hist[i];
		if (acc >= want)
			return (i);
	}
	return (lg.lat_max_ns / 1000);
}

static void
summary(void)
{
	json_t		*o, *lat, *fo, *arr, *codes;
	double		 window = lg.o.duration - lg.o.warmup;
	double		 spread_sum = 0, spread_max = 0, lag_sum = 0,
			 lag_max = 0;
	unsigned	 i, nfull = 0, nlag = 0;
	struct rusage	 ru;
	char		 k[16];

	getrusage(RUSAGE_SELF, &ru);
	o = json_object();
	json_object_set_new(o, "host", json_string(lg.o.host));
	json_object_set_new(o, "port", json_integer(lg.o.port));
	json_object_set_new(o, "conns", json_integer(lg.n));
	json_object_set_new(o, "ready", json_integer(lg.ready));
	json_object_set_new(o, "all_ready", json_boolean(lg.all_ready));
	json_object_set_new(o, "closed", json_integer(lg.closed));
	json_object_set_new(o, "connect_failed",
	    json_integer(lg.connect_failed));
	json_object_set_new(o, "connect_s", json_real(lg.all_ready ?
	    (double)(lg.t_ready_ns - lg.t_start_ns) / 1e9 : -1));
	json_object_set_new(o, "idle", json_boolean(lg.o.idle));
	json_object_set_new(o, "rate_target", json_real(lg.o.rate));
	json_object_set_new(o, "duration_s", json_real(lg.o.duration));
	json_object_set_new(o, "warmup_s", json_real(lg.o.warmup));
	json_object_set_new(o, "sent", json_integer((json_int_t)lg.seq));
	json_object_set_new(o, "sent_window",
	    json_integer((json_int_t)lg.sent_window));
	json_object_set_new(o, "answered",
	    json_integer((json_int_t)lg.answered));
	json_object_set_new(o, "accepted",
	    json_integer((json_int_t)lg.accepted));
	json_object_set_new(o, "rejected",
	    json_integer((json_int_t)lg.rejected));
	codes = json_object();
	for (i = 0; i < 64; i++)
		if (lg.reject_codes[i] > 0) {
			snprintf(k, sizeof(k), "%u", i);
			json_object_set_new(codes, k,
			    json_integer((json_int_t)lg.reject_codes[i]));
		}
	json_object_set_new(o, "reject_codes", codes);
	json_object_set_new(o, "unanswered", json_integer((json_int_t)
	    (lg.seq - lg.answered)));
	json_object_set_new(o, "unknown_answers",
	    json_integer((json_int_t)lg.unknown_answers));
	json_object_set_new(o, "throttled",
	    json_integer((json_int_t)lg.throttled));
	json_object_set_new(o, "invalid_skipped",
	    json_integer((json_int_t)lg.invalid_skipped));
	json_object_set_new(o, "answered_per_s", json_real(window > 0 ?
	    (double)lg.answered_window / window : 0));
	json_object_set_new(o, "sent_per_s", json_real(window > 0 ?
	    (double)lg.sent_window / window : 0));
	lat = json_object();
	json_object_set_new(lat, "count", json_integer((json_int_t)lg.hist_n));
	json_object_set_new(lat, "mean", json_real(lg.hist_n ?
	    lg.lat_sum_us / (double)lg.hist_n : 0));
	json_object_set_new(lat, "p50", json_integer((json_int_t)hist_pct(0.5)));
	json_object_set_new(lat, "p90", json_integer((json_int_t)hist_pct(0.9)));
	json_object_set_new(lat, "p99", json_integer((json_int_t)hist_pct(0.99)));
	json_object_set_new(lat, "p999",
	    json_integer((json_int_t)hist_pct(0.999)));
	json_object_set_new(lat, "max",
	    json_integer((json_int_t)(lg.lat_max_ns / 1000)));
	json_object_set_new(lat, "over_1s",
	    json_integer((json_int_t)lg.hist_over));
	json_object_set_new(o, "latency_us", lat);

	arr = json_array();
	for (i = 0; i < lg.n_jobs; i++) {
		struct jobrec *j = &lg.jobs[i];
		json_t	*e;
		double	 spread, lag;

		if (!j->after_ready || j->count == 0)
			continue;
		e = json_object();
		spread = (double)(j->last_ns - j->first_ns) / 1000.0;
		json_object_set_new(e, "count", json_integer(j->count));
		json_object_set_new(e, "spread_us", json_real(spread));
		if (j->ref_ns != 0) {
			lag = ((double)j->last_ns - (double)j->ref_ns) / 1000.0;
			json_object_set_new(e, "first_after_ref_us", json_real(
			    ((double)j->first_ns - (double)j->ref_ns) / 1000.0));
			json_object_set_new(e, "last_after_ref_us",
			    json_real(lag));
		}
		json_array_append_new(arr, e);
		if (j->count == lg.n) {
			nfull++;
			spread_sum += spread;
			if (spread > spread_max)
				spread_max = spread;
			if (j->ref_ns != 0) {
				lag = ((double)j->last_ns -
				    (double)j->ref_ns) / 1000.0;
				nlag++;
				lag_sum += lag;
				if (lag > lag_max)
					lag_max = lag;
			}
		}
	}
	fo = json_object();
	json_object_set_new(fo, "jobs", arr);
	json_object_set_new(fo, "complete_jobs", json_integer(nfull));
	json_object_set_new(fo, "spread_mean_us", json_real(nfull ?
	    spread_sum / nfull : 0));
	json_object_set_new(fo, "spread_max_us", json_real(spread_max));
	json_object_set_new(fo, "last_after_ref_mean_us", json_real(nlag ?
	    lag_sum / nlag : 0));
	json_object_set_new(fo, "last_after_ref_max_us", json_real(lag_max));
	json_object_set_new(fo, "notifies", json_integer((json_int_t)
	    lg.notifies));
	json_object_set_new(o, "fanout", fo);
	json_object_set_new(o, "bytes_in", json_integer((json_int_t)lg.bytes_in));
	json_object_set_new(o, "bytes_out",
	    json_integer((json_int_t)lg.bytes_out));
	json_object_set_new(o, "loadgen_cpu_s", json_real(
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	 tv = { 0, 10000 };
	uint64_t	 t = now_ns();

	(void)fd; (void)ev; (void)arg;
	if (!lg.all_ready) {
		/* handshakes plus ~2 ms per connection of slack */
		if (t - lg.t_start_ns > (uint64_t)((lg.o.connect_timeout +
		    10.0 + lg.n / 500.0) * 1e9)) {
			progress("ready_timeout", ",\"ready\":%u,\"closed\":%u",
			    lg.ready, lg.closed);
			event_base_loopexit(lg.base, NULL);
			return;
		}
	} else if (t >= lg.t_end_ns) {
		lg.sending = false;
		/* wait for answers in flight, then stop */
		if (lg.answered + lg.unknown_answers >= lg.seq ||
		    lg.o.idle || t >= lg.t_end_ns + (uint64_t)(LG_DRAIN_S * 1e9)) {
			event_base_loopexit(lg.base, NULL);
			return;
		}
	}
	event_add(lg.ev_stop, &tv);
}

static void
sig_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	if (lg.all_ready)
		lg.t_end_ns = now_ns();
	else
		event_base_loopexit(lg.base, NULL);
}

static void
raise_nofile(unsigned need)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		fprintf(stderr, "dpmp-loadgen: %u connections need %u file "
		    "descriptors; RLIMIT_NOFILE hard limit is %llu\n",
		    lg.o.conns, need, (unsigned long long)rl.rlim_max);
		exit(2);
	}
}

static void
usage(void)
{
	fprintf(stderr,
"usage: dpmp-loadgen --port N [options]\n"
"  --host ADDR          server IPv4 address (127.0.0.1)\n"
"  --port N             server port (pool or proxy)\n"
"  --conns N            miner connections (100)\n"
"  --rate R             valid shares/s, all connections together (1000)\n"
"  --duration S         seconds from all-ready to stop sending (10)\n"
"  --warmup S           first seconds not measured (1)\n"
"  --idle               hold connections, submit nothing (memory, fan-out)\n"
"  --ref-port N         also connect once straight to the pool on this port\n"
"                       as the reference for notify fan-out times\n"
"  --src-addrs K        spread source addresses over 127.0.0.1..K (1)\n"
"  --connect-batch N    TCP handshakes in flight at once (500)\n"
"  --max-inflight N     unanswered submits per connection (1000)\n"
"  --tick-us N          send timer period in µs (1000)\n"
"  --connect-timeout S  per connection (10)\n"
"  --user NAME          worker prefix; worker i is NAME.i (lg)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "idle", no_argument, NULL, 'i' },
		{ "ref-port", required_argument, NULL, 'R' },
		{ "src-addrs", required_argument, NULL, 's' },
		{ "connect-batch", required_argument, NULL, 'b' },
		{ "max-inflight", required_argument, NULL, 'm' },
		{ "tick-us", required_argument, NULL, 't' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct event_config *ecfg;
	struct timeval	 tv;
	struct in_addr	 ia;
	unsigned	 i, total;
	int		 ch;

	lg.o.host = "127.0.0.1";
	lg.o.conns = 100;
	lg.o.rate = 1000;
	lg.o.duration = 10;
	lg.o.warmup = 1;
	lg.o.src_addrs = 1;
	lg.o.connect_batch = 500;
	lg.o.max_inflight = 1000;
	lg.o.tick_us = 1000;
	lg.o.connect_timeout = 10;
	lg.o.user = "lg";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': lg.o.host = optarg; break;
		case 'p': lg.o.port = (uint16_t)atoi(optarg); break;
		case 'n': lg.o.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': lg.o.rate = atof(optarg); break;
		case 'd': lg.o.duration = atof(optarg); break;
		case 'w': lg.o.warmup = atof(optarg); break;
		case 'i': lg.o.idle = true; break;
		case 'R': lg.o.ref_port = (uint16_t)atoi(optarg); break;
		case 's': lg.o.src_addrs = (unsigned)atoi(optarg); break;
		case 'b': lg.o.connect_batch = (unsigned)atoi(optarg); break;
		case 'm': lg.o.max_inflight = (unsigned)atoi(optarg); break;
		case 't': lg.o.tick_us = (unsigned)atoi(optarg); break;
		case 'T': lg.o.connect_timeout = atof(optarg); break;
		case 'u': lg.o.user = optarg; break;
		default:
			usage();
			return (ch == 'h' ? 0 : 2);
		}
	}
	if (lg.o.port == 0 || lg.o.conns == 0 || lg.o.conns > LG_MAX_CONNS ||
	    lg.o.duration <= lg.o.warmup || lg.o.rate < 0 ||
	    lg.o.tick_us == 0 || lg.o.connect_batch == 0 ||
	    lg.o.max_inflight == 0 || lg.o.src_addrs == 0 ||
	    lg.o.src_addrs > 250 || inet_pton(AF_INET, lg.o.host, &ia) != 1) {
		usage();
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(lg.o.conns + 64);

	lg.n = lg.o.conns;
	total = lg.n + (lg.o.ref_port ? 1 : 0);
	lg.c = calloc(total, sizeof(*lg.c));
	lg.hist = calloc(LG_HIST_US, sizeof(*lg.hist));
	lg.sent_ns = calloc(LG_RING, sizeof(*lg.sent_ns));
	lg.sent_conn = calloc(LG_RING, sizeof(*lg.sent_conn));
	if (lg.c == NULL || lg.hist == NULL || lg.sent_ns == NULL ||
	    lg.sent_conn == NULL) {
		fprintf(stderr, "dpmp-loadgen: out of memory\n");
		return (1);
	}
	for (i = 0; i < total; i++) {
		lg.c[i].fd = -1;
		lg.c[i].idx = i;
		lg.c[i].is_ref = i == lg.n;
		lg.c[i].difficulty = 1;
	}
	if ((ecfg = event_config_new()) == NULL)
		return (1);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	lg.base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (lg.base == NULL)
		return (1);
	lg.t_start_ns = now_ns();
	lg.t_measure_ns = lg.t_end_ns = UINT64_MAX;

	lg.ev_tick = event_new(lg.base, -1, EV_PERSIST, tick_cb, NULL);
	lg.ev_connect = event_new(lg.base, -1, 0, connect_cb, NULL);
	lg.ev_stop = event_new(lg.base, -1, 0, stop_cb, NULL);
	lg.ev_sig = evsignal_new(lg.base, SIGINT, sig_cb, NULL);
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)lg.o.tick_us;
	event_add(lg.ev_tick, &tv);
	event_add(lg.ev_sig, NULL);
	tv.tv_usec = 10000;
	event_add(lg.ev_stop, &tv);
	/* The reference connection first, so it is up before any job. */
	if (lg.o.ref_port)
		conn_start(&lg.c[lg.n]);
	event_active(lg.ev_connect, EV_TIMEOUT, 0);
	event_base_dispatch(lg.base);

	summary();
	for (i = 0; i < total; i++)
		conn_close(&lg.c[i], NULL);
	event_free(lg.ev_tick);
	event_free(lg.ev_connect);
	event_free(lg.ev_stop);
	event_free(lg.ev_sig);
	event_base_free(lg.base);
	free(lg.c);
	free(lg.hist);
	free(lg.sent_ns);
	free(lg.sent_conn);
	return (lg.all_ready ? 0 : 1);
}
