/*
 * routes.c - the reply feed's paths, below its version prefix. The first
 * two are the article's, unchanged.
 */
#include "replyfeed.h"

const struct svc_route rf_routes[] = {
	/* Authenticated by its Standard Webhooks signature (event.c). */
	{ "POST", "/replyEvent", rf_event, NULL },
	{ "GET", "/latestReplies", rf_latest, SVC_ROLE_READ },
	{ "GET", "/health", rf_health, NULL },
	{ "GET", "/metrics", rf_metrics, SVC_ROLE_OPERATOR },
};

const size_t rf_n_routes =
    sizeof rf_routes / sizeof *rf_routes;
