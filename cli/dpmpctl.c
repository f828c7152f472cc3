/*
 * dpmpctl: the operator's command line.  Each command is one protobuf RPC
 * to the controlplane's Control service (ipc.control) and prints either an
 * aligned table for people or one JSON object for scripts (--json).
 *
 * Exit status: 0 success, 1 the controlplane failed or refused, 2 bad
 * arguments.  A failure prints exactly one line, "dpmpctl: <reason>", on
 * stderr, so scripts can show it as is.
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "rpc.h"

#define EXIT_ERROR		1
#define EXIT_USAGE		2

#define DEFAULT_CONFIG		"./dpmp.json"
#define DEFAULT_ENDPOINT	"ipc://./state/control.ipc"
#define DEFAULT_TIMEOUT_MS	5000
#define MAX_TIMEOUT_MS		600000

#define TABLE_MAX_COLS		12
#define CELL_MAX		64	/* display chars of one table cell */
#define MAX_WEIGHTS		CONFIG_MAX_POOLS

struct ctl {
	const char		*url;
	int			 timeout_ms;
	bool			 json;
	struct rpc_client	*cl;
};

struct command {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: no limit */
	int		(*run)(struct ctl *, int, char **);
};

static int	cmd_status(struct ctl *, int, char **);
static int	cmd_pools(struct ctl *, int, char **);
static int	cmd_miners(struct ctl *, int, char **);
static int	cmd_weights(struct ctl *, int, char **);
static int	cmd_pin(struct ctl *, int, char **);
static int	cmd_unpin(struct ctl *, int, char **);
static int	cmd_help(struct ctl *, int, char **);

static const struct command commands[] = {
	{ "status",	0, 0,	cmd_status },
	{ "pools",	0, 0,	cmd_pools },
	{ "miners",	0, 0,	cmd_miners },
	{ "weights",	0, -1,	cmd_weights },
	{ "pin",	2, 2,	cmd_pin },
	{ "unpin",	1, 1,	cmd_unpin },
	{ "help",	0, 1,	cmd_help },
};

static const char usage_text[] =
"usage: dpmpctl [-c CONFIG | -e URL] [--json] [-t TIMEOUT_MS] COMMAND [ARGS]\n"
"\n"
"  status                   controlplane, dataplane and pools at a glance\n"
"  pools                    pool table\n"
"  miners                   miner table\n"
"  weights                  show the scheduler weights\n"
"  weights set A=60 B=40    change weights live (persisted)\n"
"  pin WORKER POOL          keep a worker on one pool\n"
"  unpin WORKER             let the scheduler move it again\n"
"  help                     this text\n"
"\n"
"  -c CONFIG    config file whose ipc.control is used (default ./dpmp.json)\n"
"  -e URL       controlplane endpoint, e.g. ipc:///var/lib/dpmp/control.ipc\n"
"  -j, --json   one JSON object on stdout instead of tables\n"
"  -t MS        how long to wait for the controlplane (default 5000)\n";

/* ---- errors ------------------------------------------------------- */

/* One line on stderr whatever the message holds: a config error or a
 * server's text must not break the "one line" promise scripts rely on. */
static int
fail(int status, const char *fmt, ...)
{
	char		 buf[1024];
	va_list		 ap;
	size_t		 i;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	fflush(stdout);
	fprintf(stderr, "dpmpctl: %s\n", buf);
	return status;
}

static int
usage_error(const char *fmt, ...)
{
	char		 buf[512];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return fail(EXIT_USAGE, "%s (see 'dpmpctl help')", buf);
}

/* ---- text --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		 len, i;
	uint32_t	 cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond Unicode */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * Make a miner-supplied name safe for a terminal: control characters
 * (C0, DEL, and the C1 range that some terminals also obey) and invalid
 * UTF-8 become \xNN, a backslash becomes "\\", and the result is cut at
 * maxchars characters with "...".  Worker names come from miners, and a
 * name carrying an escape sequence must not rewrite the operator's screen.
 */
static size_t	display_width(const char *);

static void
escape_text(char *dst, size_t dstlen, const char *src, size_t maxchars)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 n = strlen(src), i = 0, o = 0, chars = 0;
	size_t			 len, plen, pw;
	char			 piece[8];

	while (i < n) {
		len = utf8_len(s + i, n - i);
		if (len == 1 && s[i] == '\\')
			snprintf(piece, sizeof(piece), "\\\\");
		else if (len == 1 && s[i] >= 0x20 && s[i] != 0x7f)
			snprintf(piece, sizeof(piece), "%c", s[i]);
		else if (len > 1 && !(s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			memcpy(piece, s + i, len);
			piece[len] = '\0';
		} else {
			/* C0, DEL, C1 (U+0080..U+009F) or not UTF-8 */
			snprintf(piece, sizeof(piece), "\\x%02x", s[i]);
			len = 1;
		}
		plen = strlen(piece);
		pw = display_width(piece);
		if (chars + pw > maxchars || o + plen + 4 > dstlen) {
			if (o + 4 <= dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, piece, plen);
		o += plen;
		chars += pw;
		i += len;
	}
	if (dstlen > 0)
		dst[o] = '\0';
}

/* Characters on screen: every byte that does not continue a sequence. */
static size_t
display_width(const char *s)
{
	size_t	 w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* A number without a pointless ".000000": 70 stays 70, 0.00001 1e-05. */
static void
fmt_num(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.6g", v);
}

static void
fmt_hashrate(char *buf, size_t len, double hs)
{
	static const char	*units[] = { "H/s", "kH/s", "MH/s", "GH/s",
				    "TH/s", "PH/s", "EH/s" };
	size_t			 u = 0;

	if (!isfinite(hs) || hs < 0) {
		snprintf(buf, len, "-");
		return;
	}
	while (hs >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		hs /= 1000;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.2f %s", hs, units[u]);
}

static void
fmt_duration(char *buf, size_t len, uint64_t s)
{
	if (s < 60)
		snprintf(buf, len, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned)(s / 60),
		    (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600),
		    (unsigned)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02uh",
		    (unsigned long long)(s / 86400),
		    (unsigned)(s % 86400 / 3600));
}

static void
fmt_pct(char *buf, size_t len, double share)
{
	if (!isfinite(share))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", share * 100.0);
}

/* ---- tables ------------------------------------------------------- */

struct table_row {
	char		*cell[TABLE_MAX_COLS];
};

struct table {
	size_t		 ncols;
	const char	*head[TABLE_MAX_COLS];
	const char	*align;		/* 'l' or 'r' per column */
	struct table_row *rows;
	size_t		 nrows;
	size_t		 cap;
};

static void
table_init(struct table *t, const char *align, ...)
{
	va_list		 ap;
	size_t		 i;

	memset(t, 0, sizeof(*t));
	t->align = align;
	t->ncols = strlen(align);
	va_start(ap, align);
	for (i = 0; i < t->ncols; i++)
		t->head[i] = va_arg(ap, const char *);
	va_end(ap);
}

static void
table_free(struct table *t)
{
	size_t	 r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			free(t->rows[r].cell[c]);
	free(t->rows);
	t->rows = NULL;
	t->nrows = t->cap = 0;
}

/* Append a row of ncols strings (copied). */
static int
table_add(struct table *t, ...)
{
	struct table_row	*rows, *row;
	va_list			 ap;
	const char		*s;
	size_t			 c;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;

		if ((rows = reallocarray(t->rows, ncap, sizeof(*rows))) == NULL)
			return -1;
		t->rows = rows;
		t->cap = ncap;
	}
	row = &t->rows[t->nrows];
	memset(row, 0, sizeof(*row));
	va_start(ap, t);
	for (c = 0; c < t->ncols; c++) {
		s = va_arg(ap, const char *);
		row->cell[c] = strdup(s != NULL ? s : "");
	}
	va_end(ap);
	t->nrows++;
	for (c = 0; c < t->ncols; c++)
		if (row->cell[c] == NULL)
			return -1;
	return 0;
}

static void
table_print(const struct table *t)
{
	size_t	 width[TABLE_MAX_COLS], r, c, w;

	for (c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->head[c]);
		for (r = 0; r < t->nrows; r++)
			if ((w = display_width(t->rows[r].cell[c])) > width[c])
				width[c] = w;
	}
	for (r = 0; r <= t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] :
			    t->rows[r - 1].cell[c];
			size_t pad = width[c] - display_width(s);

			if (c > 0)
				fputs("  ", stdout);
			if (t->align[c] == 'r')
				printf("%*s%s", (int)pad, "", s);
			else if (c + 1 < t->ncols)
				printf("%s%*s", s, (int)pad, "");
			else
				fputs(s, stdout);	/* no trailing blanks */
		}
		putchar('\n');
	}
}

/* ---- JSON --------------------------------------------------------- */

/* A JSON string from peer text: jansson takes only valid UTF-8, so an
 * invalid byte becomes U+FFFD instead of losing the whole field. */
static json_t *
jstr(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	json_t			*j;
	char			*buf;
	size_t			 n, i = 0, o = 0, len;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL)
		return j;
	n = strlen(s);
	if ((buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	while (i < n) {
		if ((len = utf8_len(p + i, n - i)) == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(buf + o, p + i, len);
			o += len;
			i += len;
		}
	}
	buf[o] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

/* Integral values print as integers ({"A": 70}), others as reals. */
static json_t *
jnum(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9007199254740992.0)	/* 2^53 */
		return json_integer((json_int_t)v);
	return json_real(v);
}

static int
json_print(json_t *root)
{
	char	*s;

	if (root == NULL)
		return fail(EXIT_ERROR, "out of memory");
	s = json_dumps(root, 0);
	json_decref(root);
	if (s == NULL)
		return fail(EXIT_ERROR, "cannot encode JSON");
	puts(s);
	free(s);
	return 0;
}

/* ---- RPC ---------------------------------------------------------- */

static int
ctl_call(struct ctl *ctl, const char *method, const ProtobufCMessage *in,
    ProtobufCMessage **out)
{
	char	 err[512];
	int	 code;

	if (ctl->cl == NULL && (ctl->cl = rpc_client_connect(ctl->url,
	    ctl->timeout_ms, err, sizeof(err))) == NULL)
		return fail(EXIT_ERROR, "controlplane not reachable at %s: %s",
		    ctl->url, err);
	code = rpc_call(ctl->cl, &dpmp__control__descriptor, method, in,
	    out, err, sizeof(err));
	if (code == RPC_UNAVAILABLE)
		return fail(EXIT_ERROR, "controlplane not reachable at %s: %s",
		    ctl->url, err);
	if (code != RPC_OK)
		return fail(EXIT_ERROR, "%s", err);
	return 0;
}

static int
get_status(struct ctl *ctl, Dpmp__StatusReply **st)
{
	Dpmp__Empty	 in = DPMP__EMPTY__INIT;

	return ctl_call(ctl, "Status", &in.base, (ProtobufCMessage **)st);
}

/* The controlplane's clock when it sent one, else ours. */
static uint64_t
status_now_ms(const Dpmp__StatusReply *st)
{
	return st->now_ms != 0 ? st->now_ms : clock_wall_ms();
}

static const char *
pin_of(const Dpmp__StatusReply *st, const char *worker)
{
	size_t	 i;

	for (i = 0; i < st->n_pins; i++)
		if (strcmp(st->pins[i]->worker, worker) == 0)
			return st->pins[i]->pool;
	return NULL;
}

/* A miner's shares over every pool; rejects as the dataplane splits
 * them (refused here vs by the pool) and their total. */
struct work_sum {
	uint64_t	 acc, rej, rej_local, rej_pool;
};

static void
miner_work(const Dpmp__MinerState *m, struct work_sum *ws)
{
	size_t	 i;

	memset(ws, 0, sizeof(*ws));
	for (i = 0; i < m->n_work; i++) {
		ws->acc += m->work[i]->accepted;
		ws->rej += m->work[i]->rejected;
		ws->rej_local += m->work[i]->rejected_local;
		ws->rej_pool += m->work[i]->rejected_pool;
	}
}

static const Dpmp__PoolState empty_pool = DPMP__POOL_STATE__INIT;

static const Dpmp__PoolState *
pool_state(const Dpmp__PoolStatus *p)
{
	return p->state != NULL ? p->state : &empty_pool;
}

/* ---- status / pools / miners --------------------------------------- */

static json_t *
rejects_json(const Dpmp__PoolStatus *p)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < p->n_rejected_by_reason; i++) {
		const Dpmp__RejectCount *rc = p->rejected_by_reason[i];

		json_array_append_new(a, json_pack("{s:o,s:o,s:I}",
		    "where", jstr(rc->where), "reason", jstr(rc->reason),
		    "count", (json_int_t)rc->count));
	}
	return a;
}

static json_t *
pool_json(const Dpmp__PoolStatus *p)
{
	const Dpmp__PoolState	*ps = pool_state(p);

	return json_pack("{s:o,s:o,s:o,s:i,s:o,s:b,s:b,s:o,s:i,s:i,s:o,"
	    "s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:o,s:o}",
	    "key", jstr(ps->key), "name", jstr(ps->name),
	    "host", jstr(ps->host), "port", (int)ps->port,
	    "chain", jstr(ps->chain), "up", ps->up, "enabled", ps->enabled,
	    "difficulty", jnum(ps->difficulty),
	    "miners", (int)ps->miners_assigned,
	    "upstream_connections", (int)ps->upstream_connections,
	    "weight", jnum(p->weight), "target_share", jnum(p->target_share),
	    "actual_share", jnum(p->actual_share),
	    "total_share", jnum(p->total_share),
	    "accepted", (json_int_t)p->accepted,
	    "rejected", (json_int_t)p->rejected,
	    "rejected_local", (json_int_t)p->rejected_local,
	    "rejected_pool", (json_int_t)p->rejected_pool,
	    "rejected_by_reason", rejects_json(p),
	    "accepted_difficulty", jnum(p->accepted_difficulty));
}

static json_t *
miner_json(const Dpmp__StatusReply *st, const Dpmp__MinerState *m,
    uint64_t now)
{
	json_t		*work;
	const char	*pin = pin_of(st, m->worker);
	struct work_sum	 ws;
	size_t		 i;

	miner_work(m, &ws);
	if ((work = json_object()) == NULL)
		return NULL;
	for (i = 0; i < m->n_work; i++) {
		const Dpmp__PoolWork *w = m->work[i];

		json_object_set_new(work, w->pool, json_pack(
		    "{s:I,s:I,s:I,s:I,s:o}",
		    "accepted", (json_int_t)w->accepted,
		    "rejected", (json_int_t)w->rejected,
		    "rejected_local", (json_int_t)w->rejected_local,
		    "rejected_pool", (json_int_t)w->rejected_pool,
		    "accepted_difficulty", jnum(w->accepted_difficulty)));
	}
	return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,"
	    "s:b,s:o,s:o}",
	    "id", (json_int_t)m->id, "worker", jstr(m->worker),
	    "address", jstr(m->address), "pool", jstr(m->pool),
	    "pinned", pin != NULL ? jstr(pin) : json_null(),
	    "difficulty", jnum(m->difficulty), "hashrate", jnum(m->hashrate),
	    "accepted", (json_int_t)ws.acc, "rejected", (json_int_t)ws.rej,
	    "rejected_local", (json_int_t)ws.rej_local,
	    "rejected_pool", (json_int_t)ws.rej_pool,
	    "connected_s", (json_int_t)(m->connected_ms != 0 &&
	    now > m->connected_ms ? (now - m->connected_ms) / 1000 : 0),
	    "connected", m->connected, "user_agent", jstr(m->user_agent),
	    "work", work);
}

static json_t *
pools_json(const Dpmp__StatusReply *st)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < st->n_pools; i++)
		json_array_append_new(a, pool_json(st->pools[i]));
	return a;
}

static json_t *
miners_json(const Dpmp__StatusReply *st)
{
	json_t		*a;
	uint64_t	 now = status_now_ms(st);
	size_t		 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < st->n_miners; i++)
		json_array_append_new(a, miner_json(st, st->miners[i], now));
	return a;
}

static json_t *
pins_json(const Dpmp__StatusReply *st)
{
	json_t	*o;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < st->n_pins; i++)
		json_object_set_new(o, st->pins[i]->worker,
		    jstr(st->pins[i]->pool));
	return o;
}

/* The pools table shared by status and pools; status adds the shares. */
static int
print_pools(const Dpmp__StatusReply *st, bool shares)
{
	struct table	 t;
	char		 name[CELL_MAX * 4 + 8], key[CONFIG_KEY_MAX * 4 + 8];
	char		 host[CELL_MAX * 4 + 16], chain[CONFIG_KEY_MAX * 4 + 8];
	char		 miners[16], weight[32], target[16], actual[16];
	char		 total[16], acc[24], rloc[24], rpool[24], diff[32];
	char		 window[32];
	uint64_t	 tacc = 0, trloc = 0, trpool = 0, tminers = 0;
	double		 tweight = 0;
	size_t		 i;
	int		 rv = 0;

	snprintf(window, sizeof(window), st->window_s ? "WINDOW %us" :
	    "WINDOW", (unsigned)st->window_s);
	/* rejects DPMP answered itself apart from those the pool refused */
	if (shares)
		table_init(&t, "lllrrrrrrrr", "POOL", "NAME", "STATE", "MINERS",
		    "WEIGHT", "TARGET", window, "TOTAL", "ACCEPTED",
		    "REJ(local)", "REJ(pool)");
	else
		table_init(&t, "llllrrrrrrr", "POOL", "NAME", "HOST", "CHAIN",
		    "STATE", "MINERS", "WEIGHT", "DIFFICULTY", "ACCEPTED",
		    "REJ(local)", "REJ(pool)");
	for (i = 0; i < st->n_pools; i++) {
		const Dpmp__PoolStatus	*p = st->pools[i];
		const Dpmp__PoolState	*ps = pool_state(p);
		const char		*state;
		char			 h[CELL_MAX * 4];

		state = !ps->enabled && !ps->up ? "disabled" :
		    ps->up ? "up" : "down";
		escape_text(key, sizeof(key), ps->key, CONFIG_KEY_MAX);
		escape_text(name, sizeof(name), ps->name, 24);
		escape_text(h, sizeof(h), ps->host, 40);
		snprintf(host, sizeof(host), "%s:%u", h, (unsigned)ps->port);
		escape_text(chain, sizeof(chain), ps->chain, 12);
		snprintf(miners, sizeof(miners), "%u",
		    (unsigned)ps->miners_assigned);
		fmt_num(weight, sizeof(weight), p->weight);
		fmt_pct(target, sizeof(target), p->target_share);
		fmt_pct(actual, sizeof(actual), p->actual_share);
		fmt_pct(total, sizeof(total), p->total_share);
		fmt_num(diff, sizeof(diff), ps->difficulty);
		snprintf(acc, sizeof(acc), "%llu",
		    (unsigned long long)p->accepted);
		snprintf(rloc, sizeof(rloc), "%llu",
		    (unsigned long long)p->rejected_local);
		snprintf(rpool, sizeof(rpool), "%llu",
		    (unsigned long long)p->rejected_pool);
		tacc += p->accepted;
		trloc += p->rejected_local;
		trpool += p->rejected_pool;
		tminers += ps->miners_assigned;
		if (isfinite(p->weight))
			tweight += p->weight;
		if (shares)
			rv = table_add(&t, key, name, state, miners, weight,
			    target, actual, total, acc, rloc, rpool);
		else
			rv = table_add(&t, key, name, host, chain, state,
			    miners, weight, diff, acc, rloc, rpool);
		if (rv == -1)
			goto err;
	}
	snprintf(miners, sizeof(miners), "%llu", (unsigned long long)tminers);
	fmt_num(weight, sizeof(weight), tweight);
	snprintf(acc, sizeof(acc), "%llu", (unsigned long long)tacc);
	snprintf(rloc, sizeof(rloc), "%llu", (unsigned long long)trloc);
	snprintf(rpool, sizeof(rpool), "%llu", (unsigned long long)trpool);
	if (shares)
		rv = table_add(&t, "total", "", "", miners, weight, "", "", "",
		    acc, rloc, rpool);
	else
		rv = table_add(&t, "total", "", "", "", "", miners, weight, "",
		    acc, rloc, rpool);
	if (rv == -1)
		goto err;
	table_print(&t);
	table_free(&t);
	return 0;

 err:
	table_free(&t);
	return fail(EXIT_ERROR, "out of memory");
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__StatusReply	*st = NULL;
	char			 up[32], dpup[32], w[CELL_MAX * 4 + 8];
	char			 p[CONFIG_KEY_MAX * 4 + 8];
	uint64_t		 tacc = 0, trej = 0, trloc = 0, trpool = 0;
	double			 hashrate = 0, tdiff = 0;
	size_t			 i;
	int			 rv;

	(void)argc;
	(void)argv;
	if ((rv = get_status(ctl, &st)) != 0)
		return rv;
	for (i = 0; i < st->n_pools; i++) {
		tacc += st->pools[i]->accepted;
		trej += st->pools[i]->rejected;
		trloc += st->pools[i]->rejected_local;
		trpool += st->pools[i]->rejected_pool;
		if (isfinite(st->pools[i]->accepted_difficulty))
			tdiff += st->pools[i]->accepted_difficulty;
	}
	for (i = 0; i < st->n_miners; i++)
		if (isfinite(st->miners[i]->hashrate))
			hashrate += st->miners[i]->hashrate;

	if (ctl->json) {
		rv = json_print(json_pack("{s:o,s:I,s:b,s:I,s:I,s:i,s:o,s:{s:i,"
		    "s:I,s:I,s:I,s:I,s:o,s:o},s:o}",
		    "version", jstr(st->version),
		    "uptime_s", (json_int_t)st->uptime_s,
		    "dataplane_connected", st->dataplane_connected,
		    "dataplane_uptime_s", (json_int_t)st->dataplane_uptime_s,
		    "switches", (json_int_t)st->switches,
		    "window_s", (int)st->window_s,
		    "pools", pools_json(st),
		    "totals", "miners", (int)st->n_miners,
		    "accepted", (json_int_t)tacc, "rejected", (json_int_t)trej,
		    "rejected_local", (json_int_t)trloc,
		    "rejected_pool", (json_int_t)trpool,
		    "hashrate", jnum(hashrate),
		    "accepted_difficulty", jnum(tdiff),
		    "pins", pins_json(st)));
		goto out;
	}

	fmt_duration(up, sizeof(up), st->uptime_s);
	escape_text(w, sizeof(w), st->version[0] ? st->version : "?",
	    CELL_MAX);
	printf("controlplane %s, up %s\n", w, up);
	if (st->dataplane_connected) {
		fmt_duration(dpup, sizeof(dpup), st->dataplane_uptime_s);
		printf("dataplane connected, up %s\n", dpup);
	} else
		printf("dataplane NOT connected\n");
	fmt_hashrate(up, sizeof(up), hashrate);
	printf("miners %zu, hashrate %s, switches %llu\n\n", st->n_miners, up,
	    (unsigned long long)st->switches);
	if ((rv = print_pools(st, true)) != 0)
		goto out;
	for (i = 0; i < st->n_pins; i++) {
		escape_text(w, sizeof(w), st->pins[i]->worker, CELL_MAX);
		escape_text(p, sizeof(p), st->pins[i]->pool, CONFIG_KEY_MAX);
		printf("%s%s -> %s", i == 0 ? "\npinned: " : ", ", w, p);
	}
	if (st->n_pins > 0)
		putchar('\n');
 out:
	dpmp__status_reply__free_unpacked(st, NULL);
	return rv;
}

static int
cmd_pools(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__StatusReply	*st = NULL;
	int			 rv;

	(void)argc;
	(void)argv;
	if ((rv = get_status(ctl, &st)) != 0)
		return rv;
	if (ctl->json)
		rv = json_print(json_pack("{s:o}", "pools", pools_json(st)));
	else
		rv = print_pools(st, false);
	dpmp__status_reply__free_unpacked(st, NULL);
	return rv;
}

static int
cmd_miners(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__StatusReply	*st = NULL;
	struct table		 t;
	char			 worker[CELL_MAX * 4 + 32];
	char			 addr[CELL_MAX * 4 + 8], pool[CELL_MAX * 4];
	char			 p[CONFIG_KEY_MAX * 4 + 8], diff[32], hr[32];
	char			 acc[24], rloc[24], rpool[24], since[32];
	struct work_sum		 ws;
	uint64_t		 now;
	size_t			 i;
	int			 rv;

	(void)argc;
	(void)argv;
	if ((rv = get_status(ctl, &st)) != 0)
		return rv;
	if (ctl->json) {
		rv = json_print(json_pack("{s:o}", "miners",
		    miners_json(st)));
		goto out;
	}

	now = status_now_ms(st);
	table_init(&t, "lllrrrrrr", "WORKER", "ADDRESS", "POOL", "DIFFICULTY",
	    "HASHRATE", "ACCEPTED", "REJ(local)", "REJ(pool)", "SINCE");
	for (i = 0; i < st->n_miners; i++) {
		const Dpmp__MinerState	*m = st->miners[i];
		const char		*pin = pin_of(st, m->worker);

		escape_text(worker, sizeof(worker), m->worker[0] ? m->worker :
		    "-", CELL_MAX);
		if (!m->connected) {
			size_t wl = strlen(worker);

			snprintf(worker + wl, sizeof(worker) - wl, " (away)");
		}
		escape_text(addr, sizeof(addr), m->address, 48);
		escape_text(p, sizeof(p), m->pool[0] ? m->pool : "-",
		    CONFIG_KEY_MAX);
		snprintf(pool, sizeof(pool), "%s%s", p,
		    pin != NULL ? " (pinned)" : "");
		fmt_num(diff, sizeof(diff), m->difficulty);
		fmt_hashrate(hr, sizeof(hr), m->hashrate);
		miner_work(m, &ws);
		snprintf(acc, sizeof(acc), "%llu", (unsigned long long)ws.acc);
		snprintf(rloc, sizeof(rloc), "%llu",
		    (unsigned long long)ws.rej_local);
		snprintf(rpool, sizeof(rpool), "%llu",
		    (unsigned long long)ws.rej_pool);
		if (m->connected_ms != 0 && now >= m->connected_ms)
			fmt_duration(since, sizeof(since),
			    (now - m->connected_ms) / 1000);
		else
			snprintf(since, sizeof(since), "-");
		if (table_add(&t, worker, addr, pool, diff, hr, acc, rloc,
		    rpool, since) == -1) {
			table_free(&t);
			rv = fail(EXIT_ERROR, "out of memory");
			goto out;
		}
	}
	table_print(&t);
	table_free(&t);
	if (st->n_miners == 0)
		printf("(no miners connected)\n");
 out:
	dpmp__status_reply__free_unpacked(st, NULL);
	return rv;
}

/* ---- weights ------------------------------------------------------ */

static int
print_weights(const struct ctl *ctl, const Dpmp__Weights *w)
{
	json_t	*o;
	char	 key[CONFIG_KEY_MAX * 4 + 8], num[32];
	size_t	 i;

	if (ctl->json) {
		if ((o = json_object()) == NULL)
			return fail(EXIT_ERROR, "out of memory");
		for (i = 0; i < w->n_weights; i++) {
			json_t *k = jstr(w->weights[i]->pool);

			/* keys go through jstr so bad UTF-8 cannot drop one */
			json_object_set_new(o, k ? json_string_value(k) : "?",
			    jnum(w->weights[i]->weight));
			json_decref(k);
		}
		return json_print(json_pack("{s:o}", "weights", o));
	}
	for (i = 0; i < w->n_weights; i++) {
		escape_text(key, sizeof(key), w->weights[i]->pool,
		    CONFIG_KEY_MAX);
		fmt_num(num, sizeof(num), w->weights[i]->weight);
		printf("%s%s=%s", i ? " " : "", key, num);
	}
	if (w->n_weights == 0)
		printf("(no weights)");
	putchar('\n');
	return 0;
}

/*
 * Parse KEY=NUMBER pairs.  Only the form is checked here; whether a key
 * names a configured pool is the controlplane's call, since only it knows
 * the live pool list.
 */
static int
parse_weights(int argc, char **argv, Dpmp__Weight *ws, Dpmp__Weight **wp,
    size_t *np)
{
	size_t	 n = 0, i;
	bool	 nonzero = false;
	char	*eq, *end;
	double	 v;
	int	 a;

	if (argc == 0)
		return usage_error("weights set needs KEY=WEIGHT pairs, e.g. "
		    "A=60 B=40");
	if ((size_t)argc > MAX_WEIGHTS)
		return usage_error("at most %d weights", MAX_WEIGHTS);
	for (a = 0; a < argc; a++) {
		char	key[CONFIG_KEY_MAX * 4 + 8];

		if ((eq = strchr(argv[a], '=')) == NULL || eq == argv[a])
			return usage_error("'%s' is not KEY=WEIGHT", argv[a]);
		*eq = '\0';
		escape_text(key, sizeof(key), argv[a], CONFIG_KEY_MAX);
		if (strlen(argv[a]) >= CONFIG_KEY_MAX)
			return usage_error("pool key '%s' too long", key);
		errno = 0;
		v = strtod(eq + 1, &end);
		if (eq[1] == '\0' || *end != '\0' || errno == ERANGE ||
		    !isfinite(v))
			return usage_error("weight of %s: '%s' is not a "
			    "number", key, eq + 1);
		if (v < 0)
			return usage_error("weight of %s must not be negative",
			    key);
		for (i = 0; i < n; i++)
			if (strcmp(ws[i].pool, argv[a]) == 0)
				return usage_error("pool %s given twice", key);
		dpmp__weight__init(&ws[n]);
		ws[n].pool = argv[a];
		ws[n].weight = v;
		wp[n] = &ws[n];
		n++;
		if (v > 0)
			nonzero = true;
	}
	if (!nonzero)
		return usage_error("weights must not all be zero");
	*np = n;
	return 0;
}

static int
cmd_weights(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__Empty	 empty = DPMP__EMPTY__INIT;
	Dpmp__Weights	 in = DPMP__WEIGHTS__INIT, *out = NULL;
	Dpmp__Weight	 ws[MAX_WEIGHTS], *wp[MAX_WEIGHTS];
	size_t		 n = 0;
	int		 rv;

	if (argc == 0) {
		if ((rv = ctl_call(ctl, "GetWeights", &empty.base,
		    (ProtobufCMessage **)&out)) != 0)
			return rv;
	} else if (strcmp(argv[0], "set") == 0) {
		if ((rv = parse_weights(argc - 1, argv + 1, ws, wp, &n)) != 0)
			return rv;
		in.n_weights = n;
		in.weights = wp;
		if ((rv = ctl_call(ctl, "SetWeights", &in.base,
		    (ProtobufCMessage **)&out)) != 0)
			return rv;
	} else
		return usage_error("unknown weights subcommand '%s'", argv[0]);

	rv = print_weights(ctl, out);
	dpmp__weights__free_unpacked(out, NULL);
	return rv;
}

/* ---- pins --------------------------------------------------------- */

static int
cmd_pin(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__PinRequest	 in = DPMP__PIN_REQUEST__INIT;
	ProtobufCMessage	*out = NULL;
	char			 w[CELL_MAX * 4 + 8], p[CONFIG_KEY_MAX * 4 + 8];
	int			 rv;

	(void)argc;
	if (argv[0][0] == '\0' || argv[1][0] == '\0')
		return usage_error("pin needs a worker and a pool");
	in.worker = argv[0];
	in.pool = argv[1];
	if ((rv = ctl_call(ctl, "PinMiner", &in.base, &out)) != 0)
		return rv;
	protobuf_c_message_free_unpacked(out, NULL);
	if (ctl->json)
		return json_print(json_pack("{s:{s:o,s:o}}", "pinned",
		    "worker", jstr(argv[0]), "pool", jstr(argv[1])));
	escape_text(w, sizeof(w), argv[0], CELL_MAX);
	escape_text(p, sizeof(p), argv[1], CONFIG_KEY_MAX);
	printf("pinned %s to pool %s\n", w, p);
	return 0;
}

static int
cmd_unpin(struct ctl *ctl, int argc, char **argv)
{
	Dpmp__PinRequest	 in = DPMP__PIN_REQUEST__INIT;
	ProtobufCMessage	*out = NULL;
	char			 w[CELL_MAX * 4 + 8];
	int			 rv;

	(void)argc;
	if (argv[0][0] == '\0')
		return usage_error("unpin needs a worker");
	in.worker = argv[0];
	if ((rv = ctl_call(ctl, "UnpinMiner", &in.base, &out)) != 0)
		return rv;
	protobuf_c_message_free_unpacked(out, NULL);
	if (ctl->json)
		return json_print(json_pack("{s:{s:o}}", "unpinned",
		    "worker", jstr(argv[0])));
	escape_text(w, sizeof(w), argv[0], CELL_MAX);
	printf("unpinned %s\n", w);
	return 0;
}

static int
cmd_help(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	fputs(usage_text, stdout);
	return 0;
}

/* ---- main --------------------------------------------------------- */

/*
 * The endpoint: -e wins; otherwise ipc.control from the config file named
 * with -c, or from ./dpmp.json when it exists (so dpmpctl run beside the
 * daemons' config finds them), else the daemons' built-in default.
 */
static int
resolve_endpoint(const char *config, const char *endpoint, char *url,
    size_t urllen)
{
	struct config	*cfg;
	char		 err[512];

	if (endpoint != NULL) {
		if (strstr(endpoint, "://") == NULL)
			return usage_error("endpoint '%s' is not a URL like "
			    "ipc:///path or tcp://host:port", endpoint);
		snprintf(url, urllen, "%s", endpoint);
		return 0;
	}
	if (config == NULL) {
		if (access(DEFAULT_CONFIG, F_OK) != 0) {
			snprintf(url, urllen, "%s", DEFAULT_ENDPOINT);
			return 0;
		}
		config = DEFAULT_CONFIG;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return fail(EXIT_ERROR, "out of memory");
	if (config_load_file(config, cfg, err, sizeof(err)) == -1) {
		free(cfg);
		return fail(EXIT_ERROR, "%s: %s", config, err);
	}
	if (cfg->ipc_control[0] != '\0')
		snprintf(url, urllen, "%s", cfg->ipc_control);
	else if (cfg->state_dir[0] != '\0')
		snprintf(url, urllen, "ipc://%s/control.ipc", cfg->state_dir);
	else
		snprintf(url, urllen, "%s", DEFAULT_ENDPOINT);
	free(cfg);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "endpoint",	required_argument,	NULL, 'e' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct ctl		 ctl;
	const struct command	*cmd = NULL;
	const char		*config = NULL, *endpoint = NULL;
	char			 url[CONFIG_STR_MAX + 32];
	char			*end;
	FILE			*devnull = NULL;
	long			 t;
	size_t			 i;
	int			 ch, nargs, rv;

	memset(&ctl, 0, sizeof(ctl));
	ctl.timeout_ms = DEFAULT_TIMEOUT_MS;
	/*
	 * The shared library logs JSON lines for daemons; here every failure
	 * is reported as the one "dpmpctl:" line instead, so its log goes
	 * nowhere unless asked for.
	 */
	log_init("dpmpctl", LOG_LEVEL_ERROR);
	if (getenv("DPMPCTL_DEBUG") == NULL &&
	    (devnull = fopen("/dev/null", "w")) != NULL)
		log_set_stream(devnull);
	opterr = 0;	/* our own one-line messages */
	while ((ch = getopt_long(argc, argv, ":c:e:jt:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 't':
			errno = 0;
			t = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    t < 1 || t > MAX_TIMEOUT_MS)
				return usage_error("timeout must be 1..%d ms",
				    MAX_TIMEOUT_MS);
			ctl.timeout_ms = (int)t;
			break;
		case 'h':
			return cmd_help(&ctl, 0, NULL);
		case ':':
			return usage_error("option %s needs a value",
			    argv[optind - 1]);
		default:
			return usage_error("unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage_error("no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		return usage_error("unknown command '%s'", argv[0]);
	nargs = argc - 1;
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args))
		return usage_error("wrong number of arguments for %s",
		    cmd->name);
	if (cmd->run == cmd_help)
		return cmd_help(&ctl, nargs, argv + 1);

	if ((rv = resolve_endpoint(config, endpoint, url, sizeof(url))) != 0)
		return rv;
	ctl.url = url;
	rv = cmd->run(&ctl, nargs, argv + 1);
	rpc_client_free(ctl.cl);
	if (rv == 0 && (fflush(stdout) == EOF || ferror(stdout)))
		rv = fail(EXIT_ERROR, "cannot write output: %s",
		    strerror(errno));
	log_set_stream(NULL);
	if (devnull != NULL)
		fclose(devnull);
	return rv;
}
