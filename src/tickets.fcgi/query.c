/*
 * query.c - GET /tickets and GET /tickets/{id}: the ticket queries, the
 * ones a version started with --fail-rate fails at random.
 */
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

/* The article's 1.0.1 failed half its queries; ours fails what it is told. */
static bool
inject_failure(struct tickets_app *app, struct svc_response *resp)
{
	if (app->cfg->fail_rate <= 0 ||
	    (double)rand_r(&app->seed) / RAND_MAX >= app->cfg->fail_rate)
		return false;
	svc_response_error(resp, 500, "injected failure",
	    "tickets %s fails ticket queries at random (fail rate %.2f)",
	    app->cfg->version, app->cfg->fail_rate);
	return true;
}

void
tickets_query(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
	bson_error_t error;
	cJSON *list;

	(void)req;
	if (inject_failure(app, resp))
		return;
	if ((list = store_tickets(app->store, &error)) == NULL) {
		svc_db_fail(resp, "tickets query", &error);
		return;
	}
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
}

void
tickets_query_one(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
	const char *id = strrchr(req->path, '/') + 1;
	bson_error_t error;
	bson_oid_t oid;
	bool found;
	cJSON *ticket;

	if (!svc_is_oid(id)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "a ticket id is 24 hexadecimal digits");
		return;
	}
	if (inject_failure(app, resp))
		return;
	bson_oid_init_from_string(&oid, id);
	ticket = store_ticket(app->store, &oid, &found, &error);
	if (ticket == NULL && error.code != 0) {
		svc_db_fail(resp, "ticket query", &error);
		return;
	}
	if (!found) {
		svc_response_error(resp, 404, "ticket not found",
		    "no ticket has id %s", id);
		return;
	}
	svc_response_json(resp, 200, ticket);
	cJSON_Delete(ticket);
}
