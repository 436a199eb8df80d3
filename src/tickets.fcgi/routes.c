/*
 * routes.c - the tickets service's paths, below its version prefix. The
 * first four are the article's, unchanged.
 */
#include "tickets.h"

const struct svc_route tickets_routes[] = {
	{ "GET", "/tickets", tickets_query, 0 },
	{ "POST", "/tickets/addComment", tickets_add_comment, 0 },
	{ "POST", "/tickets/subscribeToComments", tickets_subscribe, 0 },
	{ "POST", "/tickets/unsubscribeToComments", tickets_unsubscribe, 0 },
	{ "GET", "/tickets/subscriptions", tickets_subscriptions, 0 },
	{ "GET", "/tickets/", tickets_query_one, SVC_ROUTE_PREFIX },
	{ "GET", "/health", tickets_health, 0 },
};

const size_t tickets_n_routes = sizeof tickets_routes / sizeof *tickets_routes;
