/*
 * health.c - GET /health: is this responder up, and can it reach its
 * database? For load balancers and operators.
 */
#include "tickets.h"

void
tk_health(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	bson_error_t error;
	bool db = tk_store_ping(app->store, &error);
	cJSON *out = cJSON_CreateObject();

	(void)req;
	cJSON_AddStringToObject(out, "status", db ? "ok" : "degraded");
	cJSON_AddStringToObject(out, "service", "tickets");
	cJSON_AddStringToObject(out, "version", app->cfg->version);
	cJSON_AddStringToObject(out, "database", db ? "ok" : "unavailable");
	svc_response_json(resp, db ? 200 : 503, out);
	cJSON_Delete(out);
}
