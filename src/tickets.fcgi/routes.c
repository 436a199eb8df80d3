/*
 * routes.c - the tickets service's paths, below its version prefix. The
 * first four are the article's, unchanged; the rest are ours.
 */
#include "tickets.h"

const struct svc_route tickets_routes[] = {
	{ "GET", "/tickets", tickets_query },
	{ "POST", "/tickets/addComment", tickets_add_comment },
	{ "POST", "/tickets/subscribeToComments", tickets_subscribe },
	{ "POST", "/tickets/unsubscribeToComments", tickets_unsubscribe },
	{ "GET", "/tickets/subscriptions", tickets_subscriptions },
	{ "GET", "/tickets/subscriptions/*", tickets_subscription },
	{ "POST", "/tickets/subscriptions/*/replay", tickets_replay_since },
	{ "GET", "/tickets/events/*", tickets_event },
	{ "POST", "/tickets/events/*/replay", tickets_replay_event },
	{ "GET", "/tickets/deadletters", tickets_deadletters },
	{ "GET", "/tickets/*", tickets_query_one },
	{ "GET", "/health", tickets_health },
	{ "GET", "/metrics", tickets_metrics },
};

const size_t tickets_n_routes = sizeof tickets_routes / sizeof *tickets_routes;
