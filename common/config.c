/*
 * config: load, validate and dump the JSON configuration.
 *
 * Every loader works on a private copy and only writes the caller's
 * struct config when the whole document validated, so a bad live edit
 * (or a bad state overlay) never leaves a half-applied configuration
 * behind.  Error messages start with the key path ("pools.A.port: ...")
 * because that is what an operator needs to find the mistake.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define PATH_MAX_LEN	(CONFIG_KEY_MAX + 64)

/* Which optional keys the file gave, for defaults that depend on others. */
struct load_state {
	bool	 ipc_dataplane;
	bool	 ipc_events;
	bool	 ipc_control;
};

static int
fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	return -1;
}

/* parent.key, or key alone at top level.  A path only names a key in an
 * error message: a long one is cut, never an error (and gcc's Release
 * format-truncation check has nothing to say about a plain copy). */
static void
path_join(char *dst, size_t dstlen, const char *parent, const char *key)
{
	size_t i = 0;

	if (dstlen == 0)
		return;
	if (parent != NULL && *parent != '\0') {
		for (; *parent != '\0' && i + 1 < dstlen; parent++)
			dst[i++] = *parent;
		if (i + 1 < dstlen)
			dst[i++] = '.';
	}
	for (; *key != '\0' && i + 1 < dstlen; key++)
		dst[i++] = *key;
	dst[i] = '\0';
}

/*
 * Zero-fill the whole buffer, not just up to the NUL: two configs that
 * hold the same values then compare equal byte for byte, which is what
 * the round-trip test and "did anything change" checks rely on.
 */
static void
set_str(char *dst, size_t dstlen, const char *src)
{
	size_t	 n = strlen(src);

	if (n >= dstlen)
		n = dstlen - 1;
	memset(dst, 0, dstlen);
	memcpy(dst, src, n);
}

/*
 * Lookup helper: a missing key and an explicit null both mean "use the
 * default" (Python configs write null for "not set").
 */
static const json_t *
get(const json_t *obj, const char *key)
{
	const json_t	*v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	return v;
}

/* A section that, when present, must be an object. */
static int
get_section(const json_t *obj, const char *parent, const char *key,
    const json_t **out, char *err, size_t errlen)
{
	char		 path[PATH_MAX_LEN];
	const json_t	*v;

	*out = NULL;
	if ((v = get(obj, key)) == NULL)
		return 0;
	if (!json_is_object(v)) {
		path_join(path, sizeof(path), parent, key);
		return fail(err, errlen, path, "must be an object");
	}
	*out = v;
	return 0;
}

static int
get_string(const json_t *obj, const char *parent, const char *key,
    char *dst, size_t dstlen, char *err, size_t errlen)
{
	char		 path[PATH_MAX_LEN];
	const json_t	*v;

	if ((v = get(obj, key)) == NULL)
		return 0;
	path_join(path, sizeof(path), parent, key);
	if (!json_is_string(v))
		return fail(err, errlen, path, "must be a string");
	/* Truncating a host or a wallet would silently mine elsewhere. */
	if (json_string_length(v) >= dstlen)
		return fail(err, errlen, path, "longer than %zu characters",
		    dstlen - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, errlen, path, "contains a NUL character");
	set_str(dst, dstlen, json_string_value(v));
	return 0;
}

/*
 * Integers may be written 3333 or 3333.0 (both come out of Python's json
 * module depending on how the file was produced); anything fractional
 * or out of range is refused.
 */
static int
json_integral(const json_t *v, long long *out)
{
	double	 d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (isfinite(d) && d == floor(d) && fabs(d) < 9e15) {
			*out = (long long)d;
			return 0;
		}
	}
	return -1;
}

static int
get_uint(const json_t *obj, const char *parent, const char *key,
    unsigned lo, unsigned hi, unsigned *dst, char *err, size_t errlen)
{
	char		 path[PATH_MAX_LEN];
	const json_t	*v;
	long long	 n;

	if ((v = get(obj, key)) == NULL)
		return 0;
	path_join(path, sizeof(path), parent, key);
	if (json_integral(v, &n) == -1 || n < (long long)lo ||
	    n > (long long)hi)
		return fail(err, errlen, path, "must be an integer %u..%u",
		    lo, hi);
	*dst = (unsigned)n;
	return 0;
}

static int
get_port(const json_t *obj, const char *parent, const char *key,
    uint16_t *dst, char *err, size_t errlen)
{
	unsigned	 port = *dst;

	if (get_uint(obj, parent, key, 1, 65535, &port, err, errlen) == -1)
		return -1;
	*dst = (uint16_t)port;
	return 0;
}

static int
get_size(const json_t *obj, const char *parent, const char *key,
    unsigned lo, unsigned hi, size_t *dst, char *err, size_t errlen)
{
	unsigned	 n = (unsigned)*dst;

	if (get_uint(obj, parent, key, lo, hi, &n, err, errlen) == -1)
		return -1;
	*dst = n;
	return 0;
}

static int
get_bool(const json_t *obj, const char *parent, const char *key, bool *dst,
    char *err, size_t errlen)
{
	char		 path[PATH_MAX_LEN];
	const json_t	*v;

	if ((v = get(obj, key)) == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		path_join(path, sizeof(path), parent, key);
		return fail(err, errlen, path, "must be true or false");
	}
	*dst = json_is_true(v);
	return 0;
}

/* A number >= 0 given as the value v itself (weights, difficulties). */
static int
check_nonneg(const json_t *v, const char *path, double *dst, char *err,
    size_t errlen)
{
	double	 d;

	if (!json_is_number(v))
		return fail(err, errlen, path, "must be a number >= 0");
	d = json_number_value(v);
	if (!isfinite(d) || d < 0)
		return fail(err, errlen, path, "must be a number >= 0");
	*dst = d;
	return 0;
}

static int
get_nonneg(const json_t *obj, const char *parent, const char *key,
    double *dst, char *err, size_t errlen)
{
	char		 path[PATH_MAX_LEN];
	const json_t	*v;

	if ((v = get(obj, key)) == NULL)
		return 0;
	path_join(path, sizeof(path), parent, key);
	return check_nonneg(v, path, dst, err, errlen);
}

/* Pool keys end up in metric labels, URLs and CLI arguments. */
static bool
pool_key_valid(const char *key)
{
	size_t	 i, n = strlen(key);

	if (n == 0 || n >= CONFIG_KEY_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)key[i]) && key[i] != '_' &&
		    key[i] != '-')
			return false;
	}
	return true;
}

static int
pool_cmp(const void *a, const void *b)
{
	const struct config_pool *pa = a, *pb = b;

	return strcmp(pa->key, pb->key);
}

static void
pool_defaults(struct config_pool *p, const char *key)
{
	memset(p, 0, sizeof(*p));
	set_str(p->key, sizeof(p->key), key);
	set_str(p->name, sizeof(p->name), key);
	set_str(p->password, sizeof(p->password), "x");
	/*
	 * A pool nobody gave a weight gets 1: with no weights anywhere the
	 * pools split evenly, which is the least surprising thing to do
	 * with a config that names pools but no ratio.
	 */
	p->weight = 1;
	p->silent_seconds = 120;
	p->enabled = true;
}

/* Fields of one pool object onto p (defaults or the pool as it was). */
static int
parse_pool_fields(const json_t *o, const char *path, struct config_pool *p,
    char *err, size_t errlen)
{
	if (get_string(o, path, "name", p->name, sizeof(p->name), err,
	    errlen) == -1 ||
	    get_string(o, path, "host", p->host, sizeof(p->host), err,
	    errlen) == -1 ||
	    get_port(o, path, "port", &p->port, err, errlen) == -1 ||
	    get_string(o, path, "wallet", p->wallet, sizeof(p->wallet), err,
	    errlen) == -1 ||
	    get_string(o, path, "password", p->password, sizeof(p->password),
	    err, errlen) == -1 ||
	    get_string(o, path, "chain", p->chain, sizeof(p->chain), err,
	    errlen) == -1 ||
	    get_uint(o, path, "silent_seconds", 1, 86400, &p->silent_seconds,
	    err, errlen) == -1 ||
	    get_bool(o, path, "enabled", &p->enabled, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * pools.{KEY: {...}}.  With partial, an existing pool is edited in place
 * (state overlay); a key not seen yet is a new pool either way and must
 * be complete.
 */
static int
parse_pools(const json_t *pools, struct config *cfg, bool partial, char *err,
    size_t errlen)
{
	char			 path[PATH_MAX_LEN];
	const char		*key;
	const json_t		*o;
	struct config_pool	*p;
	int			 idx;

	if (!json_is_object(pools))
		return fail(err, errlen, "pools", "must be an object");
	json_object_foreach((json_t *)pools, key, o) {
		if (!pool_key_valid(key))
			return fail(err, errlen, "pools", "key \"%.40s\": must "
			    "be 1..%d characters of A-Z a-z 0-9 _ -", key,
			    CONFIG_KEY_MAX - 1);
		path_join(path, sizeof(path), "pools", key);
		if (!json_is_object(o))
			return fail(err, errlen, path, "must be an object");
		idx = partial ? config_pool_index(cfg, key) : -1;
		if (idx >= 0) {
			p = &cfg->pools[idx];
		} else {
			if (cfg->n_pools >= CONFIG_MAX_POOLS)
				return fail(err, errlen, "pools",
				    "at most %d pools", CONFIG_MAX_POOLS);
			p = &cfg->pools[cfg->n_pools];
			pool_defaults(p, key);
		}
		if (parse_pool_fields(o, path, p, err, errlen) == -1)
			return -1;
		if (idx < 0) {
			if (p->host[0] == '\0') {
				snprintf(path, sizeof(path), "pools.%s.host",
				    key);
				return fail(err, errlen, path,
				    "required (a string)");
			}
			if (p->port == 0) {
				snprintf(path, sizeof(path), "pools.%s.port",
				    key);
				return fail(err, errlen, path,
				    "required (an integer 1..65535)");
			}
			cfg->n_pools++;
		}
	}
	/*
	 * Sorted by key so pool indices (which the scheduler, the IPC and
	 * the metrics use) do not depend on the order keys were written in;
	 * A comes before B as a v2 config expects.
	 */
	qsort(cfg->pools, cfg->n_pools, sizeof(cfg->pools[0]), pool_cmp);
	return 0;
}

/*
 * "poolA_min" / "poolA_weight": the v2 way of giving per-pool values.
 * Returns the pool key in key, or false when name is not of that shape.
 */
static bool
pool_suffix_key(const char *name, const char *suffix, char *key,
    size_t keylen)
{
	size_t	 n = strlen(name), sl = strlen(suffix);

	if (strncmp(name, "pool", 4) != 0 || n <= 4 + sl ||
	    strcmp(name + n - sl, suffix) != 0)
		return false;
	n -= 4 + sl;
	if (n >= keylen)
		return false;
	memcpy(key, name + 4, n);
	key[n] = '\0';
	return true;
}

/* {"A": 70, "B": 30} onto the pools' weights; every key must be a pool. */
static int
parse_weights(const json_t *w, const char *path, struct config *cfg,
    char *err, size_t errlen)
{
	char		 kpath[PATH_MAX_LEN];
	const char	*key;
	const json_t	*v;
	double		 d = 0;
	int		 idx;

	if (!json_is_object(w))
		return fail(err, errlen, path, "must be an object");
	json_object_foreach((json_t *)w, key, v) {
		snprintf(kpath, sizeof(kpath), "%s.%.*s", path,
		    CONFIG_KEY_MAX, key);
		if ((idx = config_pool_index(cfg, key)) == -1)
			return fail(err, errlen, kpath, "no such pool");
		if (check_nonneg(v, kpath, &d, err, errlen) == -1)
			return -1;
		cfg->pools[idx].weight = d;
	}
	return 0;
}

static int
parse_scheduler(const json_t *o, struct config *cfg, char *err,
    size_t errlen)
{
	char		 key[CONFIG_KEY_MAX], path[PATH_MAX_LEN];
	const char	*name;
	const json_t	*v;
	int		 idx;

	if (get_string(o, "scheduler", "mode", cfg->sched_mode,
	    sizeof(cfg->sched_mode), err, errlen) == -1)
		return -1;
	/* Running another mode as "ratio" would silently do the wrong thing. */
	if (strcmp(cfg->sched_mode, "ratio") != 0)
		return fail(err, errlen, "scheduler.mode",
		    "only \"ratio\" is supported");
	if (get_uint(o, "scheduler", "slice_seconds", 1, 86400,
	    &cfg->slice_seconds, err, errlen) == -1 ||
	    get_uint(o, "scheduler", "min_switch_seconds", 1, 86400,
	    &cfg->min_switch_seconds, err, errlen) == -1 ||
	    get_uint(o, "scheduler", "window_seconds", 10, 7 * 86400,
	    &cfg->window_seconds, err, errlen) == -1)
		return -1;
	json_object_foreach((json_t *)o, name, v) {
		if (!pool_suffix_key(name, "_weight", key, sizeof(key)))
			continue;
		path_join(path, sizeof(path), "scheduler", name);
		if (json_is_null(v))
			continue;
		if ((idx = config_pool_index(cfg, key)) == -1)
			return fail(err, errlen, path, "no such pool %s", key);
		if (check_nonneg(v, path, &cfg->pools[idx].weight, err,
		    errlen) == -1)
			return -1;
	}
	/* The map form wins: it is what we write back and what dpmpctl sets. */
	if ((v = get(o, "weights")) != NULL &&
	    parse_weights(v, "scheduler.weights", cfg, err, errlen) == -1)
		return -1;
	return 0;
}

static int
parse_downstream_diff(const json_t *o, struct config *cfg, char *err,
    size_t errlen)
{
	char		 key[CONFIG_KEY_MAX], path[PATH_MAX_LEN];
	const char	*name;
	const json_t	*v;
	int		 idx;

	if (get_nonneg(o, "downstream_diff", "default_min",
	    &cfg->default_min_diff, err, errlen) == -1)
		return -1;
	json_object_foreach((json_t *)o, name, v) {
		if (!pool_suffix_key(name, "_min", key, sizeof(key)))
			continue;
		path_join(path, sizeof(path), "downstream_diff", name);
		if (json_is_null(v))
			continue;
		if ((idx = config_pool_index(cfg, key)) == -1)
			return fail(err, errlen, path, "no such pool %s", key);
		if (check_nonneg(v, path, &cfg->pools[idx].min_diff, err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

static int
parse_upstream(const json_t *o, struct config *cfg, char *err, size_t errlen)
{
	char	 mode[CONFIG_KEY_MAX] = "";

	if (get_string(o, "upstream", "mode", mode, sizeof(mode), err,
	    errlen) == -1)
		return -1;
	if (mode[0] != '\0') {
		if (strcmp(mode, "per_miner") == 0)
			cfg->upstream_mode = UPSTREAM_PER_MINER;
		else if (strcmp(mode, "aggregate") == 0)
			cfg->upstream_mode = UPSTREAM_AGGREGATE;
		else
			return fail(err, errlen, "upstream.mode",
			    "must be \"per_miner\" or \"aggregate\"");
	}
	/* 2 bytes is the least a miner can roll usefully; 8 is Stratum's max. */
	if (get_uint(o, "upstream", "extranonce2_size", 2, 8,
	    &cfg->extranonce2_size, err, errlen) == -1 ||
	    get_uint(o, "upstream", "sessions", 1, 64,
	    &cfg->upstream_sessions, err, errlen) == -1)
		return -1;
	return 0;
}

/* A name as a browser puts it in Host: letters, digits, '-', '.', '_';
 * no port, no brackets.  "*" alone switches the check off. */
static bool
host_name_ok(const char *s)
{
	const char *p;

	if (strcmp(s, "*") == 0)
		return true;
	if (*s == '\0' || *s == '.' || s[strlen(s) - 1] == '.')
		return false;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return false;
	return true;
}

static int
parse_allowed_hosts(const json_t *o, struct config *cfg, char *err,
    size_t errlen)
{
	const json_t	*v = get(o, "allowed_hosts"), *h;
	char		 path[PATH_MAX_LEN];
	size_t		 i;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return fail(err, errlen, "http.allowed_hosts",
		    "must be an array of host names");
	if (json_array_size(v) > CONFIG_MAX_HOSTS)
		return fail(err, errlen, "http.allowed_hosts",
		    "more than %d names", CONFIG_MAX_HOSTS);
	json_array_foreach(v, i, h) {
		snprintf(path, sizeof(path), "http.allowed_hosts[%zu]", i);
		if (!json_is_string(h))
			return fail(err, errlen, path, "must be a string");
		if (json_string_length(h) >= CONFIG_STR_MAX)
			return fail(err, errlen, path,
			    "longer than %d characters", CONFIG_STR_MAX - 1);
		/* "dpmp.lan:8855" would never match: Host is compared
		 * without its port */
		if (!host_name_ok(json_string_value(h)))
			return fail(err, errlen, path, "must be a host name "
			    "without port (letters, digits, '-', '.'), or \"*\"");
		set_str(cfg->http_allowed_hosts[i],
		    sizeof(cfg->http_allowed_hosts[i]), json_string_value(h));
	}
	cfg->n_http_allowed_hosts = json_array_size(v);
	return 0;
}

static int
parse_http(const json_t *o, struct config *cfg, char *err, size_t errlen)
{
	if (get_string(o, "http", "host", cfg->http_host,
	    sizeof(cfg->http_host), err, errlen) == -1 ||
	    get_port(o, "http", "port", &cfg->http_port, err, errlen) == -1 ||
	    get_string(o, "http", "token", cfg->http_token,
	    sizeof(cfg->http_token), err, errlen) == -1 ||
	    get_uint(o, "http", "idle_timeout_seconds", 1, 3600,
	    &cfg->http_idle_timeout, err, errlen) == -1 ||
	    parse_allowed_hosts(o, cfg, err, errlen) == -1)
		return -1;
	return 0;
}

static int
parse_limits(const json_t *o, struct config *cfg, char *err, size_t errlen)
{
	if (get_uint(o, "limits", "max_miners", 1, 1000000, &cfg->max_miners,
	    err, errlen) == -1 ||
	    get_uint(o, "limits", "max_per_address", 0, 1000000,
	    &cfg->max_per_address, err, errlen) == -1 ||
	    get_uint(o, "limits", "handshake_timeout_seconds", 0, 3600,
	    &cfg->handshake_timeout_seconds, err, errlen) == -1 ||
	    get_size(o, "limits", "max_line", 512, 1024 * 1024, &cfg->max_line,
	    err, errlen) == -1 ||
	    get_size(o, "limits", "max_outq", 4096, 64 * 1024 * 1024,
	    &cfg->max_outq, err, errlen) == -1 ||
	    get_uint(o, "limits", "jobs_kept", 2, 4096, &cfg->jobs_kept, err,
	    errlen) == -1 ||
	    get_uint(o, "limits", "pending_shares", 16, 1000000,
	    &cfg->pending_shares, err, errlen) == -1 ||
	    get_uint(o, "limits", "stale_grace_ms", 0, 600000,
	    &cfg->stale_grace_ms, err, errlen) == -1 ||
	    get_uint(o, "limits", "reconnect_grace_seconds", 0, 86400,
	    &cfg->reconnect_grace_seconds, err, errlen) == -1 ||
	    get_uint(o, "limits", "connect_timeout_ms", 100, 600000,
	    &cfg->connect_timeout_ms, err, errlen) == -1)
		return -1;
	return 0;
}

static int
parse_logging(const json_t *o, struct config *cfg, char *err, size_t errlen)
{
	static const char *const levels[] = {
		"debug", "info", "warn", "warning", "error",
	};
	char	 level[CONFIG_KEY_MAX];
	size_t	 i;

	if (get_bool(o, "logging", "json", &cfg->log_json, err, errlen) == -1 ||
	    get_string(o, "logging", "file", cfg->log_file,
	    sizeof(cfg->log_file), err, errlen) == -1)
		return -1;
	set_str(level, sizeof(level), cfg->log_level);
	if (get_string(o, "logging", "level", level, sizeof(level), err,
	    errlen) == -1)
		return -1;
	/* Python's logging names are upper case; accept either. */
	for (i = 0; level[i] != '\0'; i++)
		level[i] = (char)tolower((unsigned char)level[i]);
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(level, levels[i]) == 0)
			break;
	}
	if (i == sizeof(levels) / sizeof(levels[0]))
		return fail(err, errlen, "logging.level",
		    "must be debug, info, warn or error");
	set_str(cfg->log_level, sizeof(cfg->log_level), level);
	return 0;
}

static int
parse_ipc(const json_t *o, struct config *cfg, struct load_state *ls,
    char *err, size_t errlen)
{
	ls->ipc_dataplane = get(o, "dataplane") != NULL;
	ls->ipc_events = get(o, "events") != NULL;
	ls->ipc_control = get(o, "control") != NULL;
	if (get_string(o, "ipc", "dataplane", cfg->ipc_dataplane,
	    sizeof(cfg->ipc_dataplane), err, errlen) == -1 ||
	    get_string(o, "ipc", "events", cfg->ipc_events,
	    sizeof(cfg->ipc_events), err, errlen) == -1 ||
	    get_string(o, "ipc", "control", cfg->ipc_control,
	    sizeof(cfg->ipc_control), err, errlen) == -1)
		return -1;
	return 0;
}

/* The endpoints live under state_dir unless given, so compute them last. */
static int
ipc_default(char *dst, size_t dstlen, const char *state_dir, const char *file,
    char *err, size_t errlen)
{
	char	 buf[CONFIG_STR_MAX + 32];

	snprintf(buf, sizeof(buf), "ipc://%s/%s", state_dir, file);
	if (strlen(buf) >= dstlen)
		return fail(err, errlen, "state_dir",
		    "too long to hold the ipc sockets (%s)", file);
	set_str(dst, dstlen, buf);
	return 0;
}

/* Checks that span keys, shared by the file loader and the overlay. */
static int
validate(const struct config *cfg, char *err, size_t errlen)
{
	size_t	 i;
	double	 sum = 0;
	bool	 any_enabled = false;

	if (cfg->n_pools == 0)
		return fail(err, errlen, "pools",
		    "at least one pool is required");
	for (i = 0; i < cfg->n_pools; i++) {
		sum += cfg->pools[i].weight;
		any_enabled |= cfg->pools[i].enabled;
	}
	if (!(sum > 0))
		return fail(err, errlen, "scheduler.weights",
		    "all weights are zero");
	if (!any_enabled)
		return fail(err, errlen, "pools", "every pool is disabled");
	return 0;
}

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	set_str(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
	cfg->listen_port = 3351;
	cfg->metrics_enabled = true;
	set_str(cfg->metrics_host, sizeof(cfg->metrics_host), "127.0.0.1");
	cfg->metrics_port = 9210;
	cfg->metrics_per_worker = false;
	set_str(cfg->http_host, sizeof(cfg->http_host), "127.0.0.1");
	cfg->http_port = 8855;
	cfg->http_idle_timeout = 15;
	set_str(cfg->state_dir, sizeof(cfg->state_dir), "./state");
	set_str(cfg->ipc_dataplane, sizeof(cfg->ipc_dataplane),
	    "ipc://./state/dataplane.ipc");
	set_str(cfg->ipc_events, sizeof(cfg->ipc_events),
	    "ipc://./state/events.ipc");
	set_str(cfg->ipc_control, sizeof(cfg->ipc_control),
	    "ipc://./state/control.ipc");
	set_str(cfg->sched_mode, sizeof(cfg->sched_mode), "ratio");
	cfg->slice_seconds = 30;
	cfg->min_switch_seconds = 10;
	cfg->window_seconds = 600;
	cfg->default_min_diff = 0;
	cfg->upstream_mode = UPSTREAM_PER_MINER;
	cfg->extranonce2_size = 4;
	cfg->upstream_sessions = 1;
	cfg->max_miners = 10000;
	cfg->max_per_address = 1000;
	cfg->handshake_timeout_seconds = 30;
	cfg->max_line = 4096;
	cfg->max_outq = 256 * 1024;
	cfg->jobs_kept = 64;
	cfg->pending_shares = 4096;
	cfg->stale_grace_ms = 5000;
	cfg->reconnect_grace_seconds = 60;
	cfg->connect_timeout_ms = 5000;
	cfg->log_json = true;
	set_str(cfg->log_level, sizeof(cfg->log_level), "info");
}

static int
load_into(const json_t *root, struct config *cfg, char *err, size_t errlen)
{
	struct load_state	 ls;
	const json_t		*sec, *pools;

	memset(&ls, 0, sizeof(ls));
	config_defaults(cfg);
	if (!json_is_object(root))
		return fail(err, errlen, "config", "must be a JSON object");

	if (get_section(root, NULL, "listen", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL &&
	    (get_string(sec, "listen", "host", cfg->listen_host,
	    sizeof(cfg->listen_host), err, errlen) == -1 ||
	    get_port(sec, "listen", "port", &cfg->listen_port, err,
	    errlen) == -1))
		return -1;

	if (get_section(root, NULL, "metrics", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL &&
	    (get_bool(sec, "metrics", "enabled", &cfg->metrics_enabled, err,
	    errlen) == -1 ||
	    get_string(sec, "metrics", "host", cfg->metrics_host,
	    sizeof(cfg->metrics_host), err, errlen) == -1 ||
	    get_port(sec, "metrics", "port", &cfg->metrics_port, err,
	    errlen) == -1 ||
	    get_bool(sec, "metrics", "per_worker", &cfg->metrics_per_worker,
	    err, errlen) == -1))
		return -1;

	if (get_section(root, NULL, "http", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_http(sec, cfg, err, errlen) == -1)
		return -1;

	if (get_string(root, NULL, "state_dir", cfg->state_dir,
	    sizeof(cfg->state_dir), err, errlen) == -1)
		return -1;
	if (cfg->state_dir[0] == '\0')
		return fail(err, errlen, "state_dir", "must not be empty");
	if (get_section(root, NULL, "ipc", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_ipc(sec, cfg, &ls, err, errlen) == -1)
		return -1;

	/* Pools first: the scheduler and diff sections refer to their keys. */
	if ((pools = get(root, "pools")) == NULL)
		return fail(err, errlen, "pools",
		    "at least one pool is required");
	if (parse_pools(pools, cfg, false, err, errlen) == -1)
		return -1;

	if (get_section(root, NULL, "scheduler", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_scheduler(sec, cfg, err, errlen) == -1)
		return -1;
	if (get_section(root, NULL, "downstream_diff", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_downstream_diff(sec, cfg, err, errlen) == -1)
		return -1;
	if (get_section(root, NULL, "upstream", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_upstream(sec, cfg, err, errlen) == -1)
		return -1;
	if (get_section(root, NULL, "limits", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_limits(sec, cfg, err, errlen) == -1)
		return -1;
	if (get_section(root, NULL, "logging", &sec, err, errlen) == -1)
		return -1;
	if (sec != NULL && parse_logging(sec, cfg, err, errlen) == -1)
		return -1;

	if ((!ls.ipc_dataplane && ipc_default(cfg->ipc_dataplane,
	    sizeof(cfg->ipc_dataplane), cfg->state_dir, "dataplane.ipc", err,
	    errlen) == -1) ||
	    (!ls.ipc_events && ipc_default(cfg->ipc_events,
	    sizeof(cfg->ipc_events), cfg->state_dir, "events.ipc", err,
	    errlen) == -1) ||
	    (!ls.ipc_control && ipc_default(cfg->ipc_control,
	    sizeof(cfg->ipc_control), cfg->state_dir, "control.ipc", err,
	    errlen) == -1))
		return -1;

	return validate(cfg, err, errlen);
}

int
config_load_json(const json_t *root, struct config *cfg, char *err,
    size_t errlen)
{
	struct config	*tmp;

	/* A config is ~20 KiB; keep it off the stack of whoever calls us. */
	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return fail(err, errlen, "config", "out of memory");
	if (load_into(root, tmp, err, errlen) == -1) {
		free(tmp);
		return -1;
	}
	memcpy(cfg, tmp, sizeof(*cfg));
	free(tmp);
	return 0;
}

int
config_load_file(const char *path, struct config *cfg, char *err,
    size_t errlen)
{
	FILE		*fp;
	json_t		*root;
	json_error_t	 jerr;
	int		 rc;

	if ((fp = fopen(path, "r")) == NULL)
		return fail(err, errlen, "config", "cannot open %s: %s", path,
		    strerror(errno));
	/* Duplicate keys are almost always a copy-paste mistake. */
	root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
	fclose(fp);
	if (root == NULL)
		return fail(err, errlen, "config", "line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	rc = config_load_json(root, cfg, err, errlen);
	json_decref(root);
	return rc;
}

int
config_apply_overlay(struct config *cfg, const json_t *overlay, char *err,
    size_t errlen)
{
	struct config	*tmp;
	const json_t	*v;

	if (!json_is_object(overlay))
		return fail(err, errlen, "overlay", "must be a JSON object");
	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return fail(err, errlen, "overlay", "out of memory");
	memcpy(tmp, cfg, sizeof(*tmp));

	/* Pools first so weights may name a pool the same overlay adds. */
	if ((v = get(overlay, "pools")) != NULL &&
	    parse_pools(v, tmp, true, err, errlen) == -1)
		goto err;
	if ((v = get(overlay, "scheduler")) != NULL) {
		if (!json_is_object(v)) {
			fail(err, errlen, "scheduler", "must be an object");
			goto err;
		}
		if (parse_scheduler(v, tmp, err, errlen) == -1)
			goto err;
	}
	if ((v = get(overlay, "weights")) != NULL &&
	    parse_weights(v, "weights", tmp, err, errlen) == -1)
		goto err;
	/* "pins" belong to the scheduler, which reads them itself. */
	if (validate(tmp, err, errlen) == -1)
		goto err;

	memcpy(cfg, tmp, sizeof(*cfg));
	free(tmp);
	return 0;
err:
	free(tmp);
	return -1;
}

int
config_pool_index(const struct config *cfg, const char *key)
{
	size_t	 i;

	for (i = 0; i < cfg->n_pools; i++) {
		if (strcmp(cfg->pools[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

/* Whole numbers print as integers so `weights --json` shows 70, not 70.0. */
static json_t *
json_num(double d)
{
	if (d == floor(d) && fabs(d) < 9e15)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static json_t *
json_secret(const char *s, bool mask)
{
	return json_string(mask && s[0] != '\0' ? "***" : s);
}

static json_t *
hosts_json(const struct config *cfg)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < cfg->n_http_allowed_hosts; i++)
		if (json_array_append_new(a,
		    json_string(cfg->http_allowed_hosts[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
config_to_json(const struct config *cfg, bool mask_secrets)
{
	const struct config_pool *p;
	json_t	*root, *pools, *weights, *dd, *sched;
	char	 name[CONFIG_KEY_MAX + 16];
	size_t	 i;

	if ((root = json_object()) == NULL)
		return NULL;
	pools = json_object();
	weights = json_object();
	dd = json_pack("{s:o}", "default_min", json_num(cfg->default_min_diff));
	if (pools == NULL || weights == NULL || dd == NULL)
		goto err;
	for (i = 0; i < cfg->n_pools; i++) {
		p = &cfg->pools[i];
		if (json_object_set_new(pools, p->key, json_pack(
		    "{s:s,s:s,s:i,s:s,s:o,s:s,s:i,s:b}",
		    "name", p->name, "host", p->host, "port", (int)p->port,
		    "wallet", p->wallet,
		    "password", json_secret(p->password, mask_secrets),
		    "chain", p->chain,
		    "silent_seconds", (int)p->silent_seconds,
		    "enabled", (int)p->enabled)) == -1 ||
		    json_object_set_new(weights, p->key,
		    json_num(p->weight)) == -1)
			goto err;
		snprintf(name, sizeof(name), "pool%s_min", p->key);
		if (json_object_set_new(dd, name, json_num(p->min_diff)) == -1)
			goto err;
	}
	sched = json_pack("{s:s,s:i,s:i,s:i,s:O}",
	    "mode", cfg->sched_mode,
	    "slice_seconds", (int)cfg->slice_seconds,
	    "min_switch_seconds", (int)cfg->min_switch_seconds,
	    "window_seconds", (int)cfg->window_seconds,
	    "weights", weights);
	if (sched == NULL ||
	    json_object_set_new(root, "scheduler", sched) == -1 ||
	    json_object_set(root, "pools", pools) == -1 ||
	    json_object_set(root, "downstream_diff", dd) == -1)
		goto err;
	json_decref(pools);
	json_decref(weights);
	json_decref(dd);
	pools = weights = dd = NULL;

	if (json_object_set_new(root, "listen", json_pack("{s:s,s:i}",
	    "host", cfg->listen_host, "port", (int)cfg->listen_port)) == -1 ||
	    json_object_set_new(root, "metrics", json_pack(
	    "{s:b,s:s,s:i,s:b}", "enabled", (int)cfg->metrics_enabled,
	    "host", cfg->metrics_host, "port", (int)cfg->metrics_port,
	    "per_worker", (int)cfg->metrics_per_worker)) == -1 ||
	    json_object_set_new(root, "http", json_pack("{s:s,s:i,s:o,s:i,s:o}",
	    "host", cfg->http_host, "port", (int)cfg->http_port,
	    "token", json_secret(cfg->http_token, mask_secrets),
	    "idle_timeout_seconds", (int)cfg->http_idle_timeout,
	    "allowed_hosts", hosts_json(cfg))) == -1 ||
	    json_object_set_new(root, "state_dir",
	    json_string(cfg->state_dir)) == -1 ||
	    json_object_set_new(root, "ipc", json_pack("{s:s,s:s,s:s}",
	    "dataplane", cfg->ipc_dataplane, "events", cfg->ipc_events,
	    "control", cfg->ipc_control)) == -1 ||
	    json_object_set_new(root, "upstream", json_pack("{s:s,s:i,s:i}",
	    "mode", cfg->upstream_mode == UPSTREAM_AGGREGATE ? "aggregate" :
	    "per_miner", "extranonce2_size", (int)cfg->extranonce2_size,
	    "sessions", (int)cfg->upstream_sessions)) == -1 ||
	    json_object_set_new(root, "limits", json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "max_miners", (json_int_t)cfg->max_miners,
	    "max_per_address", (json_int_t)cfg->max_per_address,
	    "handshake_timeout_seconds",
	    (json_int_t)cfg->handshake_timeout_seconds,
	    "max_line", (json_int_t)cfg->max_line,
	    "max_outq", (json_int_t)cfg->max_outq,
	    "jobs_kept", (json_int_t)cfg->jobs_kept,
	    "pending_shares", (json_int_t)cfg->pending_shares,
	    "stale_grace_ms", (json_int_t)cfg->stale_grace_ms,
	    "reconnect_grace_seconds",
	    (json_int_t)cfg->reconnect_grace_seconds,
	    "connect_timeout_ms", (json_int_t)cfg->connect_timeout_ms)) == -1 ||
	    json_object_set_new(root, "logging", json_pack("{s:b,s:s,s:s}",
	    "json", (int)cfg->log_json, "level", cfg->log_level,
	    "file", cfg->log_file)) == -1)
		goto err;
	return root;
err:
	json_decref(pools);
	json_decref(weights);
	json_decref(dd);
	json_decref(root);
	return NULL;
}
