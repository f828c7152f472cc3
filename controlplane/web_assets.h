/*
 * web_assets: the web UI's files (controlplane/web/), embedded into the
 * binary at build time by embed.cmake so the daemon needs nothing beside
 * it on disk.
 */
#ifndef DPMP_CP_WEB_ASSETS_H
#define DPMP_CP_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char		*name;	/* file name, "app.js" */
	const unsigned char	*data;
	size_t			 len;
};

extern const struct web_asset	web_assets[];
extern const size_t		web_assets_count;

#endif
