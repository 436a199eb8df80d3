/*
 * routes.c - the reply feed's paths, below its version prefix. The first
 * two are the article's, unchanged.
 */
#include "replyfeed.h"

const struct svc_route replyfeed_routes[] = {
	{ "POST", "/replyEvent", replyfeed_event },
	{ "GET", "/latestReplies", replyfeed_latest },
	{ "GET", "/health", replyfeed_health },
	{ "GET", "/metrics", replyfeed_metrics },
};

const size_t replyfeed_n_routes =
    sizeof replyfeed_routes / sizeof *replyfeed_routes;
