/*
 * subscribe.c - POST /tickets/subscribeToComments and
 * /tickets/unsubscribeToComments {"url"}, and GET /tickets/subscriptions.
 *
 * Subscriptions are shared data in the database, so one made through any
 * version is honoured by every version and survives restarts (the
 * article kept them in one process's memory).
 */
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tickets.h"

/* Whether host:port (port "" for any) is on the allow-list. Nothing is
 * resolved: a name is compared as written, so a name that does not
 * resolve, or resolves elsewhere later, gains nothing. */
static bool
listed_host(char **allowed, const char *host, const char *port)
{
	size_t hl = strlen(host);

	for (; allowed != NULL && *allowed != NULL; allowed++) {
		const char *a = *allowed;

		if (strcmp(a, "*") == 0)
			return true;
		if (strncasecmp(a, host, hl) != 0)
			continue;
		if (a[hl] == '\0' || (a[hl] == ':' && strcmp(a + hl + 1,
		    port) == 0))
			return true;
	}
	return false;
}

bool
tickets_url_allowed(const struct tickets_config *cfg, const char *url,
    const char **why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL;
	bool ok = false;

	*why = "url must be an http or https URL with a host";
	if (!svc_is_http_url(url, TICKETS_URL_MAX) || (u = curl_url()) == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK) {
		ok = listed_host(cfg->allowed_hosts, host, port);
		if (!ok)
			*why = "the url's host is not on the allow-list "
			    "(EVENTS_ALLOWED_HOSTS)";
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

/* The url of the body, checked; NULL with the response filled if not. */
static const char *
body_url(const struct tickets_config *cfg, const cJSON *body,
    struct svc_response *resp)
{
	const char *url, *why;

	if ((url = svc_field_string(body, "url", TICKETS_URL_MAX, false,
	    resp)) == NULL)
		return NULL;
	if (!tickets_url_allowed(cfg, url, &why)) {
		svc_response_error(resp, 400, "invalid url", "%s", why);
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
	if ((url = body_url(app->cfg, body, resp)) == NULL)
		goto done;
	if (!store_subscribe(app->store, url, &created, &error)) {
		svc_db_fail(resp, "subscribe", &error);
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
