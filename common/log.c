/*
 * JSON-lines logging.  Each event is built as one jansson object and
 * written with a single fwrite, so a line is never interleaved with
 * another writer's and a log shipper (Loki, jq) can parse every line on
 * its own.  A mutex keeps the global state consistent if a second thread
 * (an HTTP worker) logs too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "log.h"

#define LOG_PROC_MAX		32
#define LOG_RL_SLOTS		128	/* distinct rate-limited events */
#define LOG_RL_NAME_MAX		64

struct log_rl_slot {
	char		 name[LOG_RL_NAME_MAX];
	uint64_t	 second;	/* monotonic second of the window */
	unsigned	 count;		/* lines emitted in that second */
	unsigned long	 suppressed;	/* dropped since the last emitted */
};

static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		 log_proc[LOG_PROC_MAX] = "dpmp";
static enum log_level	 log_level = LOG_LEVEL_INFO;
static FILE		*log_fp;	/* NULL = stderr */
static bool		 log_json = true;
static bool		 log_fp_owned;
static char		*log_path;
static unsigned		 log_burst;
static struct log_rl_slot log_rl[LOG_RL_SLOTS];

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

static FILE *
log_stream(void)
{
	return (log_fp != NULL ? log_fp : stderr);
}

static void
log_close_owned(void)
{
	if (log_fp != NULL && log_fp_owned)
		fclose(log_fp);
	log_fp = NULL;
	log_fp_owned = false;
}

void
log_init(const char *proc, enum log_level level)
{
	pthread_mutex_lock(&log_mtx);
	if (proc != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", proc);
	log_level = level;
	pthread_mutex_unlock(&log_mtx);
}

void
log_set_level(enum log_level level)
{
	pthread_mutex_lock(&log_mtx);
	log_level = level;
	pthread_mutex_unlock(&log_mtx);
}

enum log_level
log_get_level(void)
{
	return (log_level);
}

bool
log_enabled(enum log_level level)
{
	return (level >= log_level);
}

int
log_level_parse(const char *s)
{
	if (s == NULL)
		return (-1);
	if (strcasecmp(s, "debug") == 0)
		return (LOG_LEVEL_DEBUG);
	if (strcasecmp(s, "info") == 0)
		return (LOG_LEVEL_INFO);
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return (LOG_LEVEL_WARN);
	if (strcasecmp(s, "error") == 0)
		return (LOG_LEVEL_ERROR);
	return (-1);
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LEVEL_ERROR)
		return ("unknown");
	return (level_names[level]);
}

int
log_open_file(const char *path)
{
	FILE	*fp;
	char	*p;

	if (path == NULL) {
		pthread_mutex_lock(&log_mtx);
		log_close_owned();
		free(log_path);
		log_path = NULL;
		pthread_mutex_unlock(&log_mtx);
		return (0);
	}
	/* Open before closing anything, so a bad path leaves logging
	 * where it was instead of nowhere. */
	if ((fp = fopen(path, "a")) == NULL)
		return (-1);
	if ((p = strdup(path)) == NULL) {
		fclose(fp);
		return (-1);
	}
	pthread_mutex_lock(&log_mtx);
	log_close_owned();
	free(log_path);
	log_path = p;
	log_fp = fp;
	log_fp_owned = true;
	pthread_mutex_unlock(&log_mtx);
	return (0);
}

int
log_reopen(void)
{
	FILE	*fp;
	int	 rc = 0;

	pthread_mutex_lock(&log_mtx);
	if (log_path == NULL)
		goto done;
	/* logrotate has moved the old file away; keep writing to it if
	 * the new one cannot be created. */
	if ((fp = fopen(log_path, "a")) == NULL) {
		rc = -1;
		goto done;
	}
	log_close_owned();
	log_fp = fp;
	log_fp_owned = true;
 done:
	pthread_mutex_unlock(&log_mtx);
	return (rc);
}

void
log_set_stream(FILE *fp)
{
	pthread_mutex_lock(&log_mtx);
	log_close_owned();
	free(log_path);
	log_path = NULL;
	log_fp = fp;
	pthread_mutex_unlock(&log_mtx);
}

void
log_set_rate_limit(unsigned burst)
{
	pthread_mutex_lock(&log_mtx);
	log_burst = burst;
	memset(log_rl, 0, sizeof(log_rl));
	pthread_mutex_unlock(&log_mtx);
}

/* FNV-1a: short event names, a small table; any decent spread will do. */
static uint32_t
rl_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return (h);
}

/*
 * Decide whether this line of event may be written.  Returns false to
 * drop it; otherwise *suppressed gets the number dropped since the last
 * line of the same event.  An event that finds the table full is not
 * limited: losing a rare event is worse than a few extra lines.
 */
static bool
rl_admit(const char *event, unsigned long *suppressed)
{
	struct log_rl_slot	*slot = NULL;
	uint64_t		 sec;
	uint32_t		 h;
	size_t			 i, idx;

	*suppressed = 0;
	if (log_burst == 0)
		return (true);
	h = rl_hash(event);
	for (i = 0; i < LOG_RL_SLOTS; i++) {
		idx = (h + i) % LOG_RL_SLOTS;
		if (log_rl[idx].name[0] == '\0') {
			slot = &log_rl[idx];
			snprintf(slot->name, sizeof(slot->name), "%s", event);
			break;
		}
		if (strncmp(log_rl[idx].name, event,
		    sizeof(log_rl[idx].name) - 1) == 0) {
			slot = &log_rl[idx];
			break;
		}
	}
	if (slot == NULL)
		return (true);

	sec = clock_mono_ms() / 1000;
	if (slot->second != sec) {
		slot->second = sec;
		slot->count = 0;
	}
	if (slot->count >= log_burst) {
		slot->suppressed++;
		return (false);
	}
	slot->count++;
	*suppressed = slot->suppressed;
	slot->suppressed = 0;
	return (true);
}

static void
format_ts(char *buf, size_t len)
{
	uint64_t	 ms = clock_wall_ms();
	time_t		 sec = (time_t)(ms / 1000);
	struct tm	 tm;
	size_t		 n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}

void
log_set_json(bool json)
{
	pthread_mutex_lock(&log_mtx);
	log_json = json;
	pthread_mutex_unlock(&log_mtx);
}

/* A value as it goes after "key=": plain when it is one safe word, else
 * as its JSON text (strings quoted and escaped, objects compact). */
static void
text_value(FILE *fp, const json_t *v)
{
	const char	*s, *p;
	char		*j;

	if (json_is_string(v)) {
		s = json_string_value(v);
		for (p = s; *p != '\0'; p++)
			if (*p <= ' ' || *p == '"' || *p == '=' ||
			    *p == '\\' || (unsigned char)*p >= 0x7f)
				break;
		if (*s != '\0' && *p == '\0') {
			fputs(s, fp);
			return;
		}
	}
	if ((j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
		fputs(j, fp);
		free(j);
	}
}

/* logging.json false: "ts level proc event k=v ...", fields in order. */
static void
log_write_text(json_t *obj)
{
	const char	*key;
	json_t		*v;
	FILE		*fp = log_stream();

	fprintf(fp, "%s %s %s %s",
	    json_string_value(json_object_get(obj, "ts")),
	    json_string_value(json_object_get(obj, "level")),
	    json_string_value(json_object_get(obj, "proc")),
	    json_string_value(json_object_get(obj, "event")));
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 ||
		    strcmp(key, "proc") == 0 || strcmp(key, "event") == 0)
			continue;
		fprintf(fp, " %s=", key);
		text_value(fp, v);
	}
	fputc('\n', fp);
	(void)fflush(fp);
}

static void
log_write(json_t *obj)
{
	char	 stackbuf[2048], *buf = stackbuf;
	size_t	 n;
	FILE	*fp = log_stream();

	if (!log_json) {
		log_write_text(obj);
		return;
	}
	if ((n = json_dumpb(obj, stackbuf, sizeof(stackbuf) - 1,
	    JSON_COMPACT)) == 0)
		return;
	if (n >= sizeof(stackbuf) - 1) {
		if ((buf = malloc(n + 1)) == NULL)
			return;
		if (json_dumpb(obj, buf, n, JSON_COMPACT) != n)
			goto done;
	}
	buf[n] = '\n';
	(void)fwrite(buf, 1, n + 1, fp);
	(void)fflush(fp);
 done:
	if (buf != stackbuf)
		free(buf);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	json_error_t	 jerr;
	json_t		*obj = NULL, *fields = NULL;
	unsigned long	 suppressed;
	char		 ts[40];
	va_list		 ap;
	int		 saved_errno = errno;

	if (event == NULL)
		event = "(null)";

	pthread_mutex_lock(&log_mtx);
	if (!log_enabled(level) || !rl_admit(event, &suppressed)) {
		/* "o" arguments are stolen references whether or not the
		 * line is written; pack and drop them so nothing leaks. */
		if (fmt != NULL && strchr(fmt, 'o') != NULL) {
			va_start(ap, fmt);
			fields = json_vpack_ex(NULL, 0, fmt, ap);
			va_end(ap);
		}
		goto done;
	}

	format_ts(ts, sizeof(ts));
	obj = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level",
	    log_level_name(level), "proc", log_proc, "event", event);
	if (obj == NULL) {
		/* Only an event name that is not UTF-8 gets here. */
		obj = json_pack("{s:s,s:s,s:s,s:s,s:s}", "ts", ts, "level",
		    log_level_name(level), "proc", log_proc, "event",
		    "invalid_event", "log_error", "event name is not UTF-8");
		if (obj == NULL)
			goto done;
	} else if (fmt != NULL) {
		va_start(ap, fmt);
		fields = json_vpack_ex(&jerr, 0, fmt, ap);
		va_end(ap);
		if (fields == NULL)
			json_object_set_new(obj, "log_error",
			    json_string(jerr.text));
		else if (!json_is_object(fields))
			json_object_set_new(obj, "log_error",
			    json_string("format is not an object"));
		else
			/* The fixed keys win over a field of the same name. */
			json_object_update_missing(obj, fields);
	}
	if (suppressed > 0)
		json_object_set_new(obj, "suppressed",
		    json_integer((json_int_t)suppressed));
	log_write(obj);
 done:
	pthread_mutex_unlock(&log_mtx);
	json_decref(fields);
	json_decref(obj);
	errno = saved_errno;
}
