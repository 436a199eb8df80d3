/*
 * operator.c - what happened to the events, and replays: JSON endpoints
 * under the version prefix for operators.
 *
 *   GET  /tickets/subscriptions              every subscription and its state
 *   GET  /tickets/subscriptions/ID           one
 *   POST /tickets/subscriptions/ID/replay    {"since": ISO} every event since
 *   GET  /tickets/events/ID                  an event, its attempts, its dead
 *                                            letters
 *   POST /tickets/events/ID/replay           to its dead letters, or to
 *                                            {"subscription": ID}
 *   GET  /tickets/deadletters[?subscription=ID]
 *
 * A replay is queued in the outbox of the process that takes the request:
 * should that process die before sending it, ask again (dead letters are
 * forgotten only once delivered).
 */
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

#define REPLAY_MAX 10000

static void
db_or_404(struct svc_response *resp, const bson_error_t *error, bool found,
    const char *what, const char *id)
{
	if (found || error->code == 0)
		svc_response_error(resp, 404, "not found", "no %s %s", what,
		    id);
	else
		svc_db_fail(resp, what, error);
}

void
tk_subscriptions(const struct svc_request *req,
    struct svc_response *resp, void *arg)
{
	struct tk_app *app = arg;
	bson_error_t error;
	bool found;
	cJSON *list;

	(void)req;
	if ((list = tk_store_subscription_view(app->store, NULL, &found,
	    &error)) == NULL) {
		svc_db_fail(resp, "subscriptions", &error);
		return;
	}
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
}

void
tk_subscription(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	bson_error_t error = { 0 };
	char id[32] = "";
	bool found = false;
	cJSON *sub = NULL;

	if (svc_path_segment(req->path, 2, id, sizeof id) != NULL &&
	    svc_is_oid(id))
		sub = tk_store_subscription_view(app->store, id, &found,
		    &error);
	if (sub == NULL) {
		db_or_404(resp, &error, found, "subscription",
		    svc_is_oid(id) ? id : "with that id");
		return;
	}
	svc_response_json(resp, 200, sub);
	cJSON_Delete(sub);
}

/* The subscription named at segment 2 of the path, which must exist and
 * be active; NULL with the response filled otherwise. Caller frees. */
static cJSON *
active_sub(struct tk_app *app, const char *id,
    struct svc_response *resp)
{
	bson_error_t error = { 0 };
	bool found = false;
	cJSON *sub = NULL;

	if (svc_is_oid(id))
		sub = tk_store_subscription_view(app->store, id, &found,
		    &error);
	if (sub == NULL) {
		db_or_404(resp, &error, found, "subscription",
		    svc_is_oid(id) ? id : "with that id");
		return NULL;
	}
	if (strcmp(svc_json_str(sub, "state"), "disabled") == 0) {
		svc_response_error(resp, 409, "subscription disabled",
		    "subscription %s is disabled; subscribe its url again "
		    "before replaying", id);
		cJSON_Delete(sub);
		return NULL;
	}
	return sub;
}

/* Drops from subs (NULL-terminated, for bson_strfreev) the subscriptions
 * that are disabled or gone: no process queues events for them, so a
 * replay to them would be answered 202 and sent to nobody. False, with
 * the response filled, when the database cannot tell. */
static bool
keep_active(struct tk_app *app, char **subs, struct svc_response *resp)
{
	bson_error_t error = { 0 };
	size_t i, n = 0;
	bool found;
	cJSON *sub;

	for (i = 0; subs[i] != NULL; i++) {
		sub = tk_store_subscription_view(app->store, subs[i], &found,
		    &error);
		if (sub == NULL && error.code != 0) {
			while (subs[i] != NULL)
				bson_free(subs[i++]);
			subs[n] = NULL;
			svc_db_fail(resp, "replay", &error);
			return false;
		}
		if (sub != NULL &&
		    strcmp(svc_json_str(sub, "state"), "disabled") != 0)
			subs[n++] = subs[i];
		else
			bson_free(subs[i]);
		cJSON_Delete(sub);
	}
	subs[n] = NULL;
	return true;
}

struct replay {
	struct tk_app *app;
	char *subs[2];
	long queued;
};

static void
replay_one(const bson_t *doc, void *arg)
{
	struct replay *r = arg;

	r->queued += tk_outbox_replay(r->app->outbox, doc, r->subs);
}

void
tk_replay_since(const struct svc_request *req,
    struct svc_response *resp, void *arg)
{
	struct tk_app *app = arg;
	struct replay r = { app, { NULL, NULL }, 0 };
	const char *since;
	bson_error_t error;
	char id[32] = "";
	int64_t since_ms;
	long n;
	cJSON *body, *sub = NULL, *out;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	if ((since = svc_field_string(body, "since", 40, false, resp)) == NULL)
		goto done;
	if (!svc_parse_iso_time(since, &since_ms)) {
		svc_response_error(resp, 400, "invalid request", "since must "
		    "be an ISO-8601 date and time with a zone");
		goto done;
	}
	svc_path_segment(req->path, 2, id, sizeof id);
	if ((sub = active_sub(app, id, resp)) == NULL)
		goto done;
	r.subs[0] = id;
	if ((n = tk_store_events_since(app->store, since_ms, REPLAY_MAX,
	    replay_one, &r, &error)) < 0) {
		svc_db_fail(resp, "replay", &error);
		goto done;
	}
	svc_log(SVC_INFO, "rid=%s replaying %ld events since %s to %s",
	    req->request_id, r.queued, since, id);
	out = cJSON_CreateObject();
	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddNumberToObject(out, "queued", (double)r.queued);
	cJSON_AddBoolToObject(out, "truncated", n == REPLAY_MAX);
	svc_response_json(resp, 202, out);
	cJSON_Delete(out);
done:
	cJSON_Delete(sub);
	cJSON_Delete(body);
}

void
tk_event(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	bson_error_t error = { 0 };
	char id[40] = "";
	bool found = false;
	cJSON *ev = NULL;

	if (svc_path_segment(req->path, 2, id, sizeof id) != NULL)
		ev = tk_store_event_view(app->store, id, &found, &error);
	if (ev == NULL) {
		db_or_404(resp, &error, found, "event", "with that id");
		return;
	}
	svc_response_json(resp, 200, ev);
	cJSON_Delete(ev);
}

void
tk_replay_event(const struct svc_request *req,
    struct svc_response *resp, void *arg)
{
	struct tk_app *app = arg;
	bson_error_t error = { 0 };
	char id[40] = "", **subs = NULL, *one[2] = { NULL, NULL };
	const char *sub_id = NULL;
	bool found = false;
	cJSON *body = NULL, *sub = NULL, *out, *list;
	bson_t doc;
	size_t i;

	bson_init(&doc);
	/* No body, or no "subscription" in it: to its dead letters. */
	if (req->body_len > 0) {
		if ((body = svc_parse_body(req, resp)) == NULL)
			goto done;
		if (cJSON_GetObjectItem(body, "subscription") != NULL &&
		    (sub_id = svc_field_string(body, "subscription", 24, false,
		    resp)) == NULL)
			goto done;
	}
	svc_path_segment(req->path, 2, id, sizeof id);
	bson_destroy(&doc);
	if (!tk_store_event_doc(app->store, id, &doc, &found,
	    &error) || !found) {
		db_or_404(resp, &error, found, "event", "with that id");
		goto done;
	}
	if (sub_id != NULL) {
		if ((sub = active_sub(app, sub_id, resp)) == NULL)
			goto done;
		one[0] = (char *)sub_id;
	} else if (!tk_store_deadletter_subs(app->store, id, &subs, &error)) {
		svc_db_fail(resp, "replay", &error);
		goto done;
	} else if (subs[0] == NULL) {
		svc_response_error(resp, 409, "nothing to replay",
		    "%s is no dead letter; name a subscription to send it to "
		    "again", id);
		goto done;
	} else if (!keep_active(app, subs, resp)) {
		goto done;
	} else if (subs[0] == NULL) {
		svc_response_error(resp, 409, "subscription disabled",
		    "every subscription %s is a dead letter for is disabled "
		    "or gone; subscribe its url again before replaying", id);
		goto done;
	}
	if (!tk_outbox_replay(app->outbox, &doc, sub_id != NULL ? one : subs)) {
		svc_response_error(resp, 503, "outbox unavailable",
		    "this responder cannot send events now; try again");
		goto done;
	}
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "subscriptions");
	for (i = 0; (sub_id != NULL ? one : subs)[i] != NULL; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(
		    (sub_id != NULL ? one : subs)[i]));
	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddNumberToObject(out, "queued", (double)i);
	svc_log(SVC_INFO, "rid=%s replaying %s to %zu subscriptions",
	    req->request_id, id, i);
	svc_response_json(resp, 202, out);
	cJSON_Delete(out);
done:
	bson_strfreev(subs);
	bson_destroy(&doc);
	cJSON_Delete(sub);
	cJSON_Delete(body);
}

void
tk_deadletters(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	const char *q = req->query, *sub = NULL;
	bson_error_t error;
	cJSON *list;

	if (strncmp(q, "subscription=", 13) == 0) {
		sub = q + 13;
		if (!svc_is_oid(sub)) {
			svc_response_error(resp, 400, "invalid request",
			    "subscription must be a subscription id");
			return;
		}
	} else if (*q != '\0') {
		svc_response_error(resp, 400, "invalid request",
		    "the only parameter is subscription=ID");
		return;
	}
	if ((list = tk_store_deadletters(app->store, sub, &error)) == NULL) {
		svc_db_fail(resp, "dead letters", &error);
		return;
	}
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
}
