/*
 * routes.c - the tickets service's paths, below its version prefix. The
 * first four are the article's, unchanged; the rest are ours. Each names
 * the role a token must hold (docs: README, "Authentication"); the
 * registry entries announce the same roles (main.c).
 */
#include "tickets.h"

const struct svc_route tickets_routes[] = {
	{ "GET", "/tickets", tickets_query, SVC_ROLE_READ },
	{ "POST", "/tickets/addComment", tickets_add_comment, SVC_ROLE_WRITE },
	{ "POST", "/tickets/subscribeToComments", tickets_subscribe,
	    SVC_ROLE_SUBSCRIBE },
	{ "POST", "/tickets/unsubscribeToComments", tickets_unsubscribe,
	    SVC_ROLE_SUBSCRIBE },
	{ "GET", "/tickets/subscriptions", tickets_subscriptions,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/subscriptions/*", tickets_subscription,
	    SVC_ROLE_OPERATOR },
	{ "POST", "/tickets/subscriptions/*/replay", tickets_replay_since,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/events/*", tickets_event, SVC_ROLE_OPERATOR },
	{ "POST", "/tickets/events/*/replay", tickets_replay_event,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/deadletters", tickets_deadletters,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/*", tickets_query_one, SVC_ROLE_READ },
	{ "GET", "/health", tickets_health, NULL },
	/* What the registry holds, read as the ticket list is (README,
	 * "The registry over HTTP"). */
	{ "GET", "/registry", tickets_registry, SVC_ROLE_READ },
	{ "GET", "/metrics", tickets_metrics, SVC_ROLE_OPERATOR },
};

const size_t tickets_n_routes = sizeof tickets_routes / sizeof *tickets_routes;
