/*
 * state: the controlplane's state file, <state_dir>/state.json.  It holds
 * the live changes an operator made (weights, pins, pool and scheduler
 * edits) as an overlay on the config file, which may itself be read-only.
 * Writes are atomic (temp file, fsync, rename, fsync of the directory) so
 * a crash or kill -9 leaves either the old file or the new one.
 */
#ifndef DPMP_CP_STATE_H
#define DPMP_CP_STATE_H

#include <stddef.h>

#include <jansson.h>

#define STATE_FILE_NAME		"state.json"
#define STATE_FILE_MAX		(1u << 20)	/* larger is refused */

/* Create state_dir (and missing parents) with mode 0700.  0 or -1. */
int	state_dir_ensure(const char *dir, char *err, size_t errlen);
/* Read <dir>/state.json into *out (new reference).  A missing file gives
 * an empty object; a malformed one fails with the reason in err. */
int	state_load(const char *dir, json_t **out, char *err, size_t errlen);
/* Replace <dir>/state.json with overlay, atomically.  0 or -1. */
int	state_save(const char *dir, const json_t *overlay, char *err,
	    size_t errlen);
/* The part of an overlay config_apply_overlay understands ("weights",
 * "pools", "scheduler"), as a new object; pins stay with the caller. */
json_t	*state_config_part(const json_t *overlay);

#endif
