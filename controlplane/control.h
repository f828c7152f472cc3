/*
 * control: the Control service (proto/dpmp.proto) that dpmpctl talks to
 * on ipc.control.  Each method is one row in a table and one handler that
 * reads or changes policy through cp; the RPC layer is polled from the
 * controlplane's event loop.
 */
#ifndef DPMP_CP_CONTROL_H
#define DPMP_CP_CONTROL_H

struct event_base;
struct cp;
struct control;

/* Listen on url and serve from base's loop.  NULL on failure (logged). */
struct control *control_new(struct cp *cp, struct event_base *base,
	    const char *url);
void	control_free(struct control *ctl);

#endif
