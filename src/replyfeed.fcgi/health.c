/*
 * health.c - GET /health: is this responder up, can it reach its
 * database, and is it subscribed to reply events? For load balancers and
 * operators.
 */
#include "replyfeed.h"

void
rf_health(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct rf_app *app = arg;
	bson_error_t error;
	char version[32];
	bool db = rf_store_ping(app->store, &error);
	bool subscribed = rf_subscription_state(app->subscription, version,
	    sizeof version);
	cJSON *out = cJSON_CreateObject(), *sub;

	(void)req;
	cJSON_AddStringToObject(out, "status", db ? "ok" : "degraded");
	cJSON_AddStringToObject(out, "service", "replyfeed");
	cJSON_AddStringToObject(out, "version", app->cfg->version);
	cJSON_AddStringToObject(out, "database", db ? "ok" : "unavailable");
	/* Not subscribed yet is no reason to take this responder out: the
	 * feed still answers, and the events wait at the tickets service. */
	sub = cJSON_AddObjectToObject(out, "subscription");
	cJSON_AddStringToObject(sub, "url", app->cfg->event_url);
	cJSON_AddStringToObject(sub, "state", subscribed ? "subscribed" :
	    "pending");
	if (subscribed)
		cJSON_AddStringToObject(sub, "through", version);
	svc_response_json(resp, db ? 200 : 503, out);
	cJSON_Delete(out);
}
