/* conf.h - the dispatch command's settings files and cache. */
#ifndef DISPATCH_CONF_H
#define DISPATCH_CONF_H

#include <stdbool.h>
#include <stddef.h>

/* configure's sysconfdir, from the Makefile. */
#ifndef VD_SYSCONFDIR
#define VD_SYSCONFDIR "/etc"
#endif

/* Set MONGODB_URI, VD_ALLOWED_URLS, VD_REGISTRY_CACHE and VD_REGISTRY_DB
 * from the per-user, then the system's vdispatch.env, where the
 * environment does not set them already. */
void dispatch_conf_load(void);

/* Write the default registry cache's path into BUF (making its
 * directory); false when there is no home to put it in. */
bool dispatch_conf_cache_file(char *buf, size_t size);

#endif
