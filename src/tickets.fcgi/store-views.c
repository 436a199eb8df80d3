/*
 * store-views.c - the JSON views of the operators' endpoints (operator.c):
 * a subscription with what the processes saw of it, an event with its
 * attempts and dead letters, the dead letters.
 */
#include <string.h>

#include "store-private.h"

/* One subscription as the endpoints show it: its document, and what the
 * processes saw of it summed up (the latest news wins). */
static void
summarize(cJSON *sub, const cJSON *stats, const cJSON *dead)
{
	const cJSON *st, *latest = NULL, *d;
	const char *id = svc_json_str(sub, "id"), *best = "", *last_ok = "",
	    *last_fail = "";
	int dead_n = 0;

	cJSON_ArrayForEach(st, stats) {
		const char *ok = svc_json_str(st, "lastSuccess");
		const char *fail = svc_json_str(st, "lastFailure");
		const char *when = strcmp(ok, fail) > 0 ? ok : fail;

		if (strcmp(svc_json_str(st, "subscription"), id) != 0)
			continue;
		/* ISO-8601 UTC strings of one format sort as time does. */
		if (strcmp(ok, last_ok) > 0)
			last_ok = ok;
		if (strcmp(fail, last_fail) > 0)
			last_fail = fail;
		if (latest == NULL || strcmp(when, best) > 0) {
			latest = st;
			best = when;
		}
	}
	cJSON_ArrayForEach(d, dead)
		dead_n += strcmp(svc_json_str(d, "subscription"), id) == 0;
	if (*last_ok)
		cJSON_AddStringToObject(sub, "lastSuccess", last_ok);
	if (*last_fail)
		cJSON_AddStringToObject(sub, "lastFailure", last_fail);
	cJSON_AddNumberToObject(sub, "consecutiveFailures", latest != NULL ?
	    cJSON_GetNumberValue(cJSON_GetObjectItem(latest,
	    "consecutiveFailures")) : 0);
	if (latest != NULL && *svc_json_str(latest, "lastError"))
		cJSON_AddStringToObject(sub, "lastError",
		    svc_json_str(latest, "lastError"));
	cJSON_AddNumberToObject(sub, "deadLetters", dead_n);
	if (strcmp(svc_json_str(sub, "state"), "disabled") != 0) {
		cJSON_DeleteItemFromObject(sub, "state");
		cJSON_AddStringToObject(sub, "state",
		    cJSON_GetNumberValue(cJSON_GetObjectItem(sub,
		    "consecutiveFailures")) > 0 ? "failing" : "active");
	}
}

cJSON *
tk_store_subscription_view(struct tk_store *s, const char *sub, bool *found,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, all = BSON_INITIALIZER,
	    sort = BSON_INITIALIZER;
	cJSON *subs, *stats = NULL, *dead = NULL, *it, *one = NULL;
	bson_oid_t oid;

	*found = false;
	if (sub != NULL) {
		if (!svc_is_oid(sub))
			return NULL;
		bson_oid_init_from_string(&oid, sub);
		BSON_APPEND_OID(&filter, "_id", &oid);
	}
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	subs = tk_store_find_json(s->subs, &filter, &sort, 0, false, error);
	if (subs != NULL)
		stats = tk_store_find_json(s->substats, &all, NULL, 0, true,
		    error);
	if (stats != NULL)
		dead = tk_store_find_json(s->dead, &all, NULL, 0, true, error);
	if (dead == NULL) {
		cJSON_Delete(subs);
		subs = NULL;
		goto out;
	}
	cJSON_ArrayForEach(it, subs)
		summarize(it, stats, dead);
	*found = cJSON_GetArraySize(subs) > 0;
	if (sub != NULL) {
		one = *found ? cJSON_DetachItemFromArray(subs, 0) : NULL;
		cJSON_Delete(subs);
		subs = one;
	}
out:
	cJSON_Delete(stats);
	cJSON_Delete(dead);
	bson_destroy(&filter);
	bson_destroy(&all);
	bson_destroy(&sort);
	return subs;
}

cJSON *
tk_store_event_view(struct tk_store *s, const char *event_id, bool *found,
    bson_error_t *error)
{
	bson_t doc, filter = BSON_INITIALIZER, sort = BSON_INITIALIZER,
	    by_id = BSON_INITIALIZER;
	cJSON *out = NULL, *reply, *attempts = NULL, *dead = NULL,
	    *pending = NULL, *summary = NULL, *deliveries;

	if (!tk_store_event_doc(s, event_id, &doc, found, error) || !*found) {
		bson_destroy(&doc);
		return NULL;
	}
	BSON_APPEND_UTF8(&filter, "eventId", event_id);
	BSON_APPEND_INT32(&sort, "at", 1);
	BSON_APPEND_UTF8(&by_id, "_id", event_id);
	if ((attempts = tk_store_find_json(s->attempts, &filter, &sort, 1000,
	    true, error)) == NULL || (dead = tk_store_find_json(s->dead,
	    &filter, NULL, 0, true, error)) ==
	    NULL ||
	    (pending = tk_store_find_json(s->pending, &filter, NULL, 1, true,
	    error)) == NULL ||
	    (summary = tk_store_find_json(s->summaries, &by_id, NULL, 1, true,
	    error)) == NULL)
		goto out;
	reply = svc_bson_to_json(&doc);
	out = cJSON_CreateObject();
	cJSON_AddItemToObject(out, "event",
	    cJSON_DetachItemFromObject(reply, "event"));
	cJSON_Delete(reply);
	/* Settled: delivered to every subscriber, or kept as a dead letter
	 * for those it could not reach. */
	cJSON_AddBoolToObject(out, "settled",
	    cJSON_GetArraySize(pending) == 0 && cJSON_GetArraySize(summary) > 0);
	deliveries = cJSON_DetachItemFromObject(cJSON_GetArrayItem(summary, 0),
	    "subscriptions");
	cJSON_AddItemToObject(out, "deliveries", deliveries != NULL ?
	    deliveries : cJSON_CreateArray());
	cJSON_AddItemToObject(out, "failedAttempts", attempts);
	cJSON_AddItemToObject(out, "deadLetters", dead);
	attempts = dead = NULL;
out:
	cJSON_Delete(attempts);
	cJSON_Delete(dead);
	cJSON_Delete(pending);
	cJSON_Delete(summary);
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&sort);
	bson_destroy(&by_id);
	return out;
}

cJSON *
tk_store_deadletters(struct tk_store *s, const char *sub, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, sort = BSON_INITIALIZER;
	cJSON *list;

	if (sub != NULL)
		BSON_APPEND_UTF8(&filter, "subscription", sub);
	BSON_APPEND_INT32(&sort, "at", -1);
	list = tk_store_find_json(s->dead, &filter, &sort, 1000, true, error);
	bson_destroy(&filter);
	bson_destroy(&sort);
	return list;
}
