/*
 * store-subscriptions.c - the subscriptions: subscribe (at most the cap),
 * unsubscribe, the active ones for the outbox, and disabling one that is
 * gone (410) or failed for too long.
 */
#include <string.h>

#include "store-private.h"

bool
tk_store_subscribe(struct tk_store *s, const char *url, long max, bool *created,
    bool *full, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER,
	    update = BSON_INITIALIZER, set, unset, all = BSON_INITIALIZER;
	bson_oid_t oid;
	int64_t n;
	bool ok;

	*created = *full = false;
	/* At the cap only a renewal goes through: its url is there. */
	n = mongoc_collection_count_documents(s->subs, &all, NULL, NULL, NULL,
	    error);
	bson_destroy(&all);
	if (n < 0)
		return false;
	if (n >= max) {
		BSON_APPEND_UTF8(&filter, "url", url);
		n = mongoc_collection_count_documents(s->subs, &filter, NULL,
		    NULL, NULL, error);
		bson_destroy(&filter);
		if (n < 0)
			return false;
		if (n == 0) {
			*full = true;
			return true;
		}
		bson_init(&filter);
	}
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_UTF8(&doc, "url", url);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", svc_now_ms());
	BSON_APPEND_UTF8(&doc, "state", "active");
	ok = mongoc_collection_insert_one(s->subs, &doc, NULL, NULL, error);
	*created = ok;
	/* Subscribing again is a renewal: the unique url says it is there;
	 * one that was disabled (410, or failing for a day) is enabled. */
	if (!ok && svc_db_duplicate(error)) {
		BSON_APPEND_UTF8(&filter, "url", url);
		BSON_APPEND_UTF8(&filter, "state", "disabled");
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", "active");
		BSON_APPEND_DATE_TIME(&set, "enabledAt", svc_now_ms());
		bson_append_document_end(&update, &set);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
		BSON_APPEND_UTF8(&unset, "disabledAt", "");
		BSON_APPEND_UTF8(&unset, "disabledReason", "");
		bson_append_document_end(&update, &unset);
		ok = mongoc_collection_update_one(s->subs, &filter, &update,
		    NULL, NULL, error);
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&update);
	return ok;
}

bool
tk_store_unsubscribe(struct tk_store *s, const char *url, bool *removed,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, reply;
	bson_iter_t it;
	bool ok;

	BSON_APPEND_UTF8(&filter, "url", url);
	ok = mongoc_collection_delete_many(s->subs, &filter, NULL, &reply,
	    error);
	*removed = ok && bson_iter_init_find(&it, &reply, "deletedCount") &&
	    bson_iter_as_int64(&it) > 0;
	bson_destroy(&reply);
	bson_destroy(&filter);
	return ok;
}

bool
tk_store_subs(struct tk_store *s, struct tk_sub **subs, size_t *n,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	size_t cap = 0;
	bool ok;

	*subs = NULL;
	*n = 0;
	{
		bson_t ne;

		BSON_APPEND_DOCUMENT_BEGIN(&filter, "state", &ne);
		BSON_APPEND_UTF8(&ne, "$ne", "disabled");
		bson_append_document_end(&filter, &ne);
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->subs, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		struct tk_sub *sub;

		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*subs = bson_realloc(*subs, cap * sizeof **subs);
		}
		sub = &(*subs)[*n];
		memset(sub, 0, sizeof *sub);
		if (!bson_iter_init_find(&it, doc, "url") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		sub->url = bson_strdup(bson_iter_utf8(&it, NULL));
		if (bson_iter_init_find(&it, doc, "_id") &&
		    BSON_ITER_HOLDS_OID(&it))
			bson_oid_to_string(bson_iter_oid(&it), sub->id);
		if (bson_iter_init_find(&it, doc, "createdAt") &&
		    BSON_ITER_HOLDS_DATE_TIME(&it))
			sub->created_ms = bson_iter_date_time(&it);
		(*n)++;
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	if (!ok) {
		tk_store_subs_free(*subs, *n);
		*subs = NULL;
		*n = 0;
	}
	return ok;
}

void
tk_store_subs_free(struct tk_sub *subs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bson_free(subs[i].url);
	bson_free(subs);
}

bool
tk_store_sub_exists(struct tk_store *s, const char *sub, bool *found,
    bson_error_t *error)
{
	bson_oid_t oid;
	bson_t doc;
	bool ok;

	*found = false;
	if (!svc_is_oid(sub))
		return true;
	bson_oid_init_from_string(&oid, sub);
	ok = tk_store_find_by_id(s->subs, &oid, &doc, found, error);
	bson_destroy(&doc);
	return ok;
}

bool
tk_store_disable(struct tk_store *s, const char *sub, const char *reason,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_oid_t oid;
	bool ok;

	if (!svc_is_oid(sub))
		return true;
	bson_oid_init_from_string(&oid, sub);
	BSON_APPEND_OID(&filter, "_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", "disabled");
	BSON_APPEND_DATE_TIME(&set, "disabledAt", svc_now_ms());
	BSON_APPEND_UTF8(&set, "disabledReason", reason);
	bson_append_document_end(&update, &set);
	ok = mongoc_collection_update_one(s->subs, &filter, &update, NULL,
	    NULL, error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return ok;
}
