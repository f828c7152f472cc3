/*
 * dpmp-controlplane: configuration, scheduling policy and HTTP for DPMP.
 * Loads the config and the live-state overlay, talks to the dataplane
 * over nng, serves dpmpctl (Control service), the JSON API, /metrics and
 * the web UI, all from one libevent loop.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "control.h"
#include "cp.h"
#include "http.h"
#include "log.h"
#include "state.h"

#define LOG_BURST	50	/* lines per event name per second */

static void
usage(void)
{
	fprintf(stderr, "usage: dpmp-controlplane -c FILE [--check] [-v]\n");
	exit(2);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* logrotate moved the file away: write to a fresh one */
		if (log_reopen() == -1)
			log_error("log_reopen_failed", NULL);
		else
			log_info("log_reopened", NULL);
		return;
	}
	log_info("controlplane_stopping", "{s:i}", "signal", (int)sig);
	event_base_loopbreak(base);
}

/* Config file, then the state overlay; both validated.  0 or -1 with
 * the reason (naming the key) in err. */
static int
load(const char *path, struct config *cfg, json_t **overlay, char *err,
    size_t errlen)
{
	char e[512];

	*overlay = NULL;
	if (config_load_file(path, cfg, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s: %s", path, e);
		return -1;
	}
	if (state_load(cfg->state_dir, overlay, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	if (cp_overlay_apply(cfg, *overlay, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s/%s: %s", cfg->state_dir,
		    STATE_FILE_NAME, e);
		json_decref(*overlay);
		*overlay = NULL;
		return -1;
	}
	return 0;
}

static void *
watchdog(void *arg)
{
	(void)arg;
	sleep(3);
	log_warn("shutdown_forced", "{s:s}", "reason",
	    "socket close did not finish in 3 s");
	_exit(0);
	return NULL;
}

static void
shutdown_watchdog(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, watchdog, NULL) == 0)
		pthread_detach(t);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "check",	no_argument,		NULL, 'C' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct config		*cfg = NULL;
	struct event_base	*base = NULL;
	struct event		*sigs[3] = { NULL, NULL, NULL };
	static const int	 signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct cp		*cp = NULL;
	struct control		*ctl = NULL;
	struct http		*http = NULL;
	json_t			*overlay = NULL;
	const char		*path = NULL;
	char			 err[1024];
	bool			 check = false, verbose = false;
	int			 ch, level, rc = 1;
	size_t			 i;

	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();

	log_init("controlplane", LOG_LEVEL_INFO);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return 1;
	if (load(path, cfg, &overlay, err, sizeof(err)) == -1) {
		fprintf(stderr, "dpmp-controlplane: %s\n", err);
		if (!check)
			log_error("config_invalid", "{s:s,s:s}", "path", path,
			    "error", err);
		goto done;
	}
	if (check) {
		printf("%s: ok\n", path);
		rc = 0;
		goto done;
	}

	level = log_level_parse(cfg->log_level);
	log_set_level(verbose ? LOG_LEVEL_DEBUG :
	    level >= 0 ? (enum log_level)level : LOG_LEVEL_INFO);
	log_set_rate_limit(LOG_BURST);
	log_set_json(cfg->log_json);
	if (cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) == -1) {
		fprintf(stderr, "dpmp-controlplane: logging.file: cannot open "
		    "%s\n", cfg->log_file);
		goto done;
	}
	if (state_dir_ensure(cfg->state_dir, err, sizeof(err)) == -1) {
		log_error("state_dir_failed", "{s:s}", "error", err);
		goto done;
	}
	log_info("config_loaded", "{s:s,s:i,s:s,s:b}", "path", path,
	    "pools", (int)cfg->n_pools, "state_dir", cfg->state_dir,
	    "overlay", json_object_size(overlay) > 0);

	/* a client that goes away mid-reply must not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		goto done;
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, base);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			goto done;
	}
	if ((cp = cp_new(cfg, overlay)) == NULL)
		goto done;
	if ((http = http_new(cp, base)) == NULL)
		goto done;
	if ((ctl = control_new(cp, base, cfg->ipc_control)) == NULL)
		goto done;
	if (cp_start(cp, base) == -1)
		goto done;
	log_info("controlplane_started", "{s:s,s:i,s:s,s:s,s:s,s:i}",
	    "version", DPMP_VERSION, "pid", (int)getpid(), "control",
	    cfg->ipc_control, "dataplane", cfg->ipc_dataplane, "http_host",
	    cfg->http_host, "http_port", (int)cfg->http_port);

	if (event_base_dispatch(base) == -1)
		log_error("event_loop_failed", NULL);
	else
		rc = 0;
	log_info("controlplane_stopped", NULL);
	/* nng 1.5.2 can hang in nng_close when the dataplane dies at the
	 * same moment; a stop must still finish (systemd, operators) */
	shutdown_watchdog();
done:
	control_free(ctl);
	http_free(http);
	cp_free(cp);
	for (i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (base != NULL)
		event_base_free(base);
	json_decref(overlay);
	free(cfg);
	return rc;
}
