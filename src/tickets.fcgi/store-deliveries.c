/*
 * store-deliveries.c - what the outbox records of its deliveries: failed
 * attempts, what each process saw of a subscriber, dead letters.
 */
#include <stdio.h>

#include "store-private.h"

bool
tk_store_attempts(struct tk_store *s, const struct tk_attempt *a, size_t n,
    bson_error_t *error)
{
	bson_t **docs;
	bson_t opts = BSON_INITIALIZER;
	size_t i;
	bool ok;

	if (n == 0)
		return true;
	docs = bson_malloc0(n * sizeof *docs);
	for (i = 0; i < n; i++) {
		docs[i] = bson_new();
		BSON_APPEND_UTF8(docs[i], "eventId", a[i].event_id);
		BSON_APPEND_UTF8(docs[i], "subscription", a[i].sub);
		BSON_APPEND_UTF8(docs[i], "url", a[i].url);
		BSON_APPEND_INT32(docs[i], "attempt", a[i].number);
		BSON_APPEND_DATE_TIME(docs[i], "at", a[i].at_ms);
		BSON_APPEND_INT32(docs[i], "status", a[i].status);
		BSON_APPEND_BOOL(docs[i], "ok", a[i].error[0] == '\0');
		if (a[i].error[0] != '\0')
			BSON_APPEND_UTF8(docs[i], "error", a[i].error);
		BSON_APPEND_INT64(docs[i], "ms", a[i].ms);
		if (a[i].replay)
			BSON_APPEND_BOOL(docs[i], "replay", true);
	}
	BSON_APPEND_BOOL(&opts, "ordered", false);
	ok = mongoc_collection_insert_many(s->attempts, (const bson_t **)docs,
	    n, &opts, NULL, error);
	for (i = 0; i < n; i++)
		bson_destroy(docs[i]);
	bson_free(docs);
	bson_destroy(&opts);
	return ok;
}

bool
tk_store_substats(struct tk_store *s, const char *owner, const char *sub,
    const struct tk_sub_stats *st, bson_error_t *error)
{
	bson_t set = BSON_INITIALIZER;
	char id[400];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", sub, owner);
	BSON_APPEND_UTF8(&set, "subscription", sub);
	BSON_APPEND_UTF8(&set, "owner", owner);
	if (st->last_success_ms > 0)
		BSON_APPEND_DATE_TIME(&set, "lastSuccess", st->last_success_ms);
	if (st->last_failure_ms > 0)
		BSON_APPEND_DATE_TIME(&set, "lastFailure", st->last_failure_ms);
	BSON_APPEND_INT32(&set, "consecutiveFailures", st->failures);
	BSON_APPEND_INT32(&set, "lastStatus", st->last_status);
	BSON_APPEND_UTF8(&set, "lastError", st->last_error);
	BSON_APPEND_DATE_TIME(&set, "updatedAt", svc_now_ms());
	ok = tk_store_upsert_id(s->substats, id, &set, error);
	bson_destroy(&set);
	return ok;
}

bool
tk_store_deadletter(struct tk_store *s, const char *event_id, const char *sub,
    const char *url, int attempts, int status, const char *reason,
    bson_error_t *error)
{
	bson_t set = BSON_INITIALIZER;
	char id[64];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", event_id, sub);
	BSON_APPEND_UTF8(&set, "eventId", event_id);
	BSON_APPEND_UTF8(&set, "subscription", sub);
	BSON_APPEND_UTF8(&set, "url", url);
	BSON_APPEND_INT32(&set, "attempts", attempts);
	BSON_APPEND_INT32(&set, "lastStatus", status);
	BSON_APPEND_UTF8(&set, "reason", reason);
	BSON_APPEND_DATE_TIME(&set, "at", svc_now_ms());
	ok = tk_store_upsert_id(s->dead, id, &set, error);
	bson_destroy(&set);
	return ok;
}

bool
tk_store_deadletter_drop(struct tk_store *s, const char *event_id,
    const char *sub, bson_error_t *error)
{
	char id[64];

	snprintf(id, sizeof id, "%s|%s", event_id, sub);
	return tk_store_delete_id(s->dead, id, error);
}

bool
tk_store_deadletter_subs(struct tk_store *s, const char *event_id, char ***subs,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	cJSON *list, *d;
	size_t n = 0;

	BSON_APPEND_UTF8(&filter, "eventId", event_id);
	list = tk_store_find_json(s->dead, &filter, NULL, 0, true, error);
	bson_destroy(&filter);
	*subs = bson_malloc0(((size_t)cJSON_GetArraySize(list) + 1) *
	    sizeof **subs);
	cJSON_ArrayForEach(d, list)
		(*subs)[n++] = bson_strdup(svc_json_str(d, "subscription"));
	cJSON_Delete(list);
	return list != NULL;
}
