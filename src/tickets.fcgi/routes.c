/*
 * routes.c - the tickets service's paths, below its version prefix. The
 * first four are the article's, unchanged; the rest are ours. Each names
 * the role a token must hold (docs: README, "Authentication"); the
 * registry entries announce the same roles (main.c).
 */
#include "tickets.h"

const struct svc_route tk_routes[] = {
	{ "GET", "/tickets", tk_query, SVC_ROLE_READ },
	{ "POST", "/tickets/addComment", tk_add_comment, SVC_ROLE_WRITE },
	{ "POST", "/tickets/subscribeToComments", tk_subscribe,
	    SVC_ROLE_SUBSCRIBE },
	{ "POST", "/tickets/unsubscribeToComments", tk_unsubscribe,
	    SVC_ROLE_SUBSCRIBE },
	{ "GET", "/tickets/subscriptions", tk_subscriptions,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/subscriptions/*", tk_subscription,
	    SVC_ROLE_OPERATOR },
	{ "POST", "/tickets/subscriptions/*/replay", tk_replay_since,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/events/*", tk_event, SVC_ROLE_OPERATOR },
	{ "POST", "/tickets/events/*/replay", tk_replay_event,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/deadletters", tk_deadletters,
	    SVC_ROLE_OPERATOR },
	{ "GET", "/tickets/*", tk_query_one, SVC_ROLE_READ },
	{ "GET", "/health", tk_health, NULL },
	/* What the registry holds, read as the ticket list is (README,
	 * "The registry over HTTP"). */
	{ "GET", "/registry", tk_registry, SVC_ROLE_READ },
	{ "GET", "/metrics", tk_metrics, SVC_ROLE_OPERATOR },
};

const size_t tk_n_routes = sizeof tk_routes / sizeof *tk_routes;
