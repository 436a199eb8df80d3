/*
 * subscribe.c - POST /tickets/subscribeToComments and
 * /tickets/unsubscribeToComments {"url"}, and GET /tickets/subscriptions.
 *
 * Subscriptions are shared data in the database, so one made through any
 * version is honoured by every version and survives restarts (the
 * article kept them in one process's memory).
 */
#include <string.h>

#include "tickets.h"

/* The url of the body, checked; NULL with the response filled if not. */
static const char *
body_url(const cJSON *body, struct svc_response *resp)
{
	const char *url;

	if ((url = svc_field_string(body, "url", TICKETS_URL_MAX, false,
	    resp)) == NULL)
		return NULL;
	if (!svc_is_http_url(url, TICKETS_URL_MAX)) {
		svc_response_error(resp, 400, "invalid url",
		    "url must be an http or https URL with a host");
		return NULL;
	}
	return url;
}

void
tickets_subscribe(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
	const char *url;
	bson_error_t error;
	bool created;
	cJSON *body, *out;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	if ((url = body_url(body, resp)) == NULL)
		goto done;
	if (!store_subscribe(app->store, url, &created, &error)) {
		svc_db_fail(resp, "subscribe", &error);
		goto done;
	}
	if (created)
		svc_log(SVC_INFO, "rid=%s subscribed %s", req->request_id, url);
	out = cJSON_CreateObject();
	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddStringToObject(out, "url", url);
	cJSON_AddBoolToObject(out, "created", created);
	svc_response_json(resp, 200, out);
	cJSON_Delete(out);
done:
	cJSON_Delete(body);
}

void
tickets_unsubscribe(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
	const char *url;
	bson_error_t error;
	bool removed;
	cJSON *body, *out;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	/* Any string may be removed: a URL refused today may be stored. */
	if ((url = svc_field_string(body, "url", TICKETS_URL_MAX, false,
	    resp)) == NULL)
		goto done;
	if (!store_unsubscribe(app->store, url, &removed, &error)) {
		svc_db_fail(resp, "unsubscribe", &error);
		goto done;
	}
	if (removed)
		svc_log(SVC_INFO, "rid=%s unsubscribed %s", req->request_id,
		    url);
	out = cJSON_CreateObject();
	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddStringToObject(out, "url", url);
	cJSON_AddBoolToObject(out, "removed", removed);
	svc_response_json(resp, 200, out);
	cJSON_Delete(out);
done:
	cJSON_Delete(body);
}

void
tickets_subscriptions(const struct svc_request *req,
    struct svc_response *resp, void *arg)
{
	struct tickets_app *app = arg;
	bson_error_t error;
	cJSON *list;

	(void)req;
	if ((list = store_subscriptions(app->store, &error)) == NULL) {
		svc_db_fail(resp, "subscriptions", &error);
		return;
	}
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
}
