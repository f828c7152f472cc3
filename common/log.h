/*
 * log: JSON-lines structured logging shared by every program.  One object
 * per line: {"ts":"2026-11-25T21:18:00.123Z","level":"info","proc":"...",
 * "event":"...", free fields...}.  Fields are given as a jansson pack
 * format, so a call reads log_info("miner_connected", "{s:s,s:i}",
 * "worker", w, "port", p).  Repetitive events are rate-limited per event
 * name so a flood cannot grow the log without bound.
 */
#ifndef DPMP_LOG_H
#define DPMP_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Process name for "proc"; level filter; output defaults to stderr. */
void	log_init(const char *proc, enum log_level level);
void	log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug" | "info" | "warn" | "warning" | "error" -> level; -1 unknown */
int	log_level_parse(const char *s);
const char *log_level_name(enum log_level level);
/* Log to a file (append) instead of stderr; NULL path = stderr again. */
int	log_open_file(const char *path);
/* Reopen the current file (SIGHUP / logrotate).  0 or -1. */
int	log_reopen(void);
/* Write to this stream instead (tests).  NULL restores stderr. */
void	log_set_stream(FILE *fp);
/* false: one human-readable line per event instead of JSON
 * ("ts level proc event key=value ..."; logging.json in the config). */
void	log_set_json(bool json);
/* Allow at most burst lines of one event per second; 0 disables. */
void	log_set_rate_limit(unsigned burst);
bool	log_enabled(enum log_level level);

/* fmt is a jansson pack format for an object ("{s:s,...}") or NULL.
 * References passed with "o" are consumed even when the line is filtered
 * out or rate-limited. */
void	log_event(enum log_level level, const char *event, const char *fmt,
	    ...);

#define log_debug(ev, ...)	do { if (log_enabled(LOG_LEVEL_DEBUG)) \
	log_event(LOG_LEVEL_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...)	log_event(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)	log_event(LOG_LEVEL_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...)	log_event(LOG_LEVEL_ERROR, ev, __VA_ARGS__)

#endif
