/*
 * subscribe.c - POST /tickets/subscribeToComments and
 * /tickets/unsubscribeToComments {"url"} (operator.c lists the
 * subscriptions); which URLs may be subscribed (tk_url_allowed, which the
 * outbox asks again before each POST); and the loop's guard that refuses
 * an event delivery sent to the tickets service as a write (tk_guard).
 *
 * Subscriptions are shared data in the database, so one made through any
 * version is honoured by every version and survives restarts (the
 * article kept them in one process's memory).
 */
#include <stdio.h>
#include <string.h>

#include "tickets.h"

bool
tk_url_allowed(const struct tk_config *cfg, const char *url,
    bson_error_t *error)
{
	vd_error_t err;

	/* Whatever the list says: an event posted to this service's own
	 * paths would come back as a write, and make more events. */
	if (vd_urls_reaches(cfg->own_paths, url)) {
		bson_set_error(error, 0, 0, "the url is one of the tickets "
		    "service's own paths: events must not come back to it");
		return false;
	}
	if (vd_urls_check(cfg->allowed_urls, url, &err) != VD_OK) {
		bson_set_error(error, 0, 0, "%s (EVENTS_ALLOWED_URLS)",
		    err.message);
		return false;
	}
	return true;
}

/* Names of the headers that make a request an event delivery, as FastCGI
 * passes them. */
static const char *const webhook_params[] = {
	"HTTP_WEBHOOK_ID", "HTTP_WEBHOOK_SIGNATURE", "HTTP_WEBHOOK_TIMESTAMP",
};

bool
tk_guard(const struct svc_request *req, struct svc_response *resp,
    void *app)
{
	size_t i;

	(void)app;
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		return true;
	for (i = 0; i < sizeof webhook_params / sizeof *webhook_params; i++)
		if (svc_request_param(req, webhook_params[i]) != NULL) {
			svc_log(SVC_INFO, "rid=%s refused an event delivery as "
			    "a write", req->request_id);
			svc_response_error(resp, 403, "event not accepted",
			    "a request with webhook-id, webhook-signature or "
			    "webhook-timestamp is an event delivery, and the "
			    "tickets service never applies one as a write");
			return false;
		}
	return true;
}

/* The url of the body, checked; NULL with the response filled if not. */
static const char *
body_url(const struct tk_config *cfg, const cJSON *body,
    struct svc_response *resp)
{
	const char *url;
	bson_error_t why;

	if ((url = svc_field_string(body, "url", TICKETS_URL_MAX, false,
	    resp)) == NULL)
		return NULL;
	if (!tk_url_allowed(cfg, url, &why)) {
		svc_response_error(resp, 400, "invalid url", "%s",
		    why.message);
		return NULL;
	}
	return url;
}

void
tk_subscribe(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	const char *url;
	bson_error_t error;
	bool created, full;
	cJSON *body, *out;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	if ((url = body_url(app->cfg, body, resp)) == NULL)
		goto done;
	if (!tk_store_subscribe(app->store, url, app->cfg->max_subs, &created,
	    &full, &error)) {
		svc_db_fail(resp, "subscribe", &error);
		goto done;
	}
	if (full) {
		/* 409: the state of the service, not the request, is what
		 * refuses it; unsubscribing one lets it through. */
		svc_response_error(resp, 409, "too many subscriptions",
		    "there are %ld subscriptions already, the most allowed "
		    "(EVENTS_MAX_SUBSCRIPTIONS); unsubscribe one first",
		    app->cfg->max_subs);
		goto done;
	}
	/* Before the answer: an event after it is sure to go there. */
	svc_gen_bump(app->subs_gen);
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
tk_unsubscribe(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
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
	if (!tk_store_unsubscribe(app->store, url, &removed, &error)) {
		svc_db_fail(resp, "unsubscribe", &error);
		goto done;
	}
	svc_gen_bump(app->subs_gen);
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
