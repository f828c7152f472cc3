/*
 * cp: the controlplane's core.  Owns the running config, the live overlay
 * persisted in <state_dir>/state.json, the scheduler and the last picture
 * of the dataplane (GetState, GetCounters, events).  It feeds the
 * scheduler from that picture and sends the scheduler's moves back as
 * batched Assign calls.  The HTTP API and the Control service read and
 * change policy only through the functions here.
 */
#ifndef DPMP_CP_H
#define DPMP_CP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "dpmp.pb-c.h"
#include "sched.h"

#define CP_POLL_MS		1000	/* GetState period, connected */
#define CP_RETRY_MS		1000	/* ... and while it is away */
#define CP_SOON_MS		50	/* after an event, poll this soon */
#define CP_RPC_TIMEOUT_MS	1000	/* bounds every dataplane call */
#define CP_PROBE_TIMEOUT_MS	250	/* "anyone there?" while away */
#define CP_MAX_PINS		10000
#define CP_MAX_WEIGHT		1e9	/* keeps weight sums finite */
#define CP_WORKER_MAX		256	/* longest worker name pinned */
#define CP_REFUSAL_SERIES	4	/* listener x reason pairs counted */

/* How a live change failed: the caller's input (HTTP 400/404,
 * INVALID_ARGUMENT/NOT_FOUND) or something here (HTTP 500, INTERNAL). */
enum cp_result {
	CP_OK = 0,
	CP_EINVAL = -1,
	CP_ENOENT = -2,
	CP_EIO = -3,
};

struct event_base;
struct cp;

/* The status the Control service and the JSON API show.  reply borrows
 * from the cp and from the arrays below: use it before the loop runs
 * again, then cp_status_release. */
struct cp_status {
	Dpmp__StatusReply	  reply;
	Dpmp__PoolStatus	 *pools;
	Dpmp__PoolStatus	**pool_ptrs;
	Dpmp__PoolState		 *cfg_states;
	Dpmp__Pin		 *pins;
	Dpmp__Pin		**pin_ptrs;
	Dpmp__RejectCount	 *rejects;	/* every pool's, in turn */
	Dpmp__RejectCount	**reject_ptrs;
	size_t			  n_rejects, cap_rejects;
};

/* Apply a state overlay to cfg: config_apply_overlay for weights, pools
 * and scheduler, plus the scheduler keys the controlplane edits live.
 * 0, or -1 with "key: reason" in err. */
int	cp_overlay_apply(struct config *cfg, const json_t *overlay,
	    char *err, size_t errlen);

/* cfg already has overlay applied; the cp keeps its own copies. */
struct cp *cp_new(const struct config *cfg, const json_t *overlay);
void	cp_free(struct cp *cp);
/* Dial the dataplane, subscribe to its events, start polling. */
int	cp_start(struct cp *cp, struct event_base *base);
/* Poll now (tests, and the timer). */
void	cp_poll(struct cp *cp);
/* One event from the dataplane. */
void	cp_handle_event(struct cp *cp, const Dpmp__Event *ev);

const struct config *cp_config(const struct cp *cp);
bool	cp_dataplane_connected(const struct cp *cp);

/* Live changes: validated, persisted atomically, then applied.  source
 * ("http", "rpc") goes to the log.  err gets a message for the caller. */
enum cp_result cp_set_weights(struct cp *cp, const char *const *keys,
	    const double *weights, size_t n, const char *source, char *err,
	    size_t errlen);
enum cp_result cp_pin(struct cp *cp, const char *worker, const char *pool,
	    const char *source, char *err, size_t errlen);
enum cp_result cp_edit_pool(struct cp *cp, const char *key,
	    const json_t *fields, const char *source, char *err,
	    size_t errlen);
enum cp_result cp_edit_scheduler(struct cp *cp, const json_t *fields,
	    const char *source, char *err, size_t errlen);

/* Views (new references). */
/* {"A": 70, "B": 30} */
json_t	*cp_weights_json(const struct cp *cp);
json_t	*cp_scheduler_json(const struct cp *cp);
int	cp_status_build(struct cp *cp, struct cp_status *st);
void	cp_status_release(struct cp_status *st);
/* /metrics text (malloc'd, length in *len), or NULL. */
char	*cp_metrics(struct cp *cp, size_t *len);
/* n more refusals by an HTTP listener ("http", "metrics") for a reason
 * ("limit", "host"), for dpmp_http_refused_total.  n = 0 declares the
 * series so it is exported as 0 before the first refusal.  Both strings
 * must outlive the cp (literals). */
void	cp_http_refused(struct cp *cp, const char *listener,
	    const char *reason, uint64_t n);

#endif
