/*
 * routes.c - the reply feed's paths, below its version prefix. The first
 * two are the article's, unchanged.
 */
#include "replyfeed.h"

const struct svc_route replyfeed_routes[] = {
	/* Authenticated by its Standard Webhooks signature (event.c). */
	{ "POST", "/replyEvent", replyfeed_event, NULL },
	{ "GET", "/latestReplies", replyfeed_latest, SVC_ROLE_READ },
	{ "GET", "/health", replyfeed_health, NULL },
	{ "GET", "/metrics", replyfeed_metrics, SVC_ROLE_OPERATOR },
};

const size_t replyfeed_n_routes =
    sizeof replyfeed_routes / sizeof *replyfeed_routes;
