/*
 * store-tickets.c - the tickets, and their replies as the API shows them:
 * the whole list, a page, one ticket, a title. Tickets are loaded, never
 * changed by the API; their accepted replies live in "replies".
 */
#include <stdint.h>
#include <string.h>

#include "store-private.h"

int64_t
tk_store_count_tickets(struct tk_store *s, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	int64_t n;

	n = mongoc_collection_count_documents(s->tickets, &filter, NULL, NULL,
	    NULL, error);
	bson_destroy(&filter);
	return n;
}

bool
tk_store_insert_ticket(struct tk_store *s, const bson_t *ticket,
    bson_error_t *error)
{
	return mongoc_collection_insert_one(s->tickets, ticket, NULL, NULL,
	    error) || svc_db_duplicate(error);
}

/* A reply document as the API shows it inside a ticket. */
static cJSON *
reply_json(const bson_t *doc)
{
	cJSON *all = svc_bson_to_json(doc), *out = cJSON_CreateObject();
	static const char *const keep[] = { "user", "message", "createdAt" };
	size_t i;

	for (i = 0; i < sizeof keep / sizeof *keep; i++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(all, keep[i]);
		if (v != NULL)
			cJSON_AddItemToObject(out, keep[i], v);
	}
	cJSON_AddStringToObject(out, "id",
	    cJSON_GetStringValue(cJSON_GetObjectItem(all, "_id")));
	cJSON_Delete(all);
	return out;
}

/* Appends the stored replies of the tickets in list (ordered by _id
 * string) to their "replies" arrays. */
static bool
attach_replies(struct tk_store *s, cJSON *list, const bson_t *filter,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t opts = BSON_INITIALIZER, sort;
	bool ok;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->replies, filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		char hex[25];
		cJSON *t;

		if (!bson_iter_init_find(&it, doc, "ticketId") ||
		    !BSON_ITER_HOLDS_OID(&it))
			continue;
		bson_oid_to_string(bson_iter_oid(&it), hex);
		cJSON_ArrayForEach(t, list) {
			const char *id = cJSON_GetStringValue(
			    cJSON_GetObjectItem(t, "_id"));
			cJSON *r;

			if (id == NULL || strcmp(id, hex) != 0)
				continue;
			r = cJSON_GetObjectItem(t, "replies");
			if (!cJSON_IsArray(r)) {
				cJSON_DeleteItemFromObject(t, "replies");
				r = cJSON_AddArrayToObject(t, "replies");
			}
			cJSON_AddItemToArray(r, reply_json(doc));
			break;
		}
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return ok;
}

/* Hands each stored reply of ticket id to v->reply, oldest first: one
 * query on ticketId, which an index serves at any size. */
static bool
each_reply(struct tk_store *s, const bson_t *ticket,
    const struct tk_store_visit *v, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	bson_iter_t it;
	bool ok, go = true;

	if (!bson_iter_init_find(&it, ticket, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return true;
	BSON_APPEND_OID(&filter, "ticketId", bson_iter_oid(&it));
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts, NULL);
	while (go && mongoc_cursor_next(cur, &doc))
		go = v->reply(v->arg, reply_json(doc));
	ok = !mongoc_cursor_error(cur, error) && go;
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

bool
tk_store_each_ticket(struct tk_store *s, const struct tk_store_visit *v,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	bool ok = true;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (ok && mongoc_cursor_next(cur, &doc)) {
		ok = v->ticket(v->arg, svc_bson_to_json(doc)) &&
		    each_reply(s, doc, v, error) && v->ticket_end(v->arg);
	}
	if (mongoc_cursor_error(cur, error))
		ok = false;
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* The last sequence number ticket id's accepted replies drew (0: none). */
bool
tk_store_reply_seq(struct tk_store *s, const bson_oid_t *id, int64_t *seq,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_iter_t it;
	bool ok;

	*seq = 0;
	BSON_APPEND_OID(&filter, "_id", id);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cur = mongoc_collection_find_with_opts(s->seqs, &filter, &opts, NULL);
	if (mongoc_cursor_next(cur, &doc) &&
	    bson_iter_init_find(&it, doc, "seq"))
		*seq = bson_iter_as_int64(&it);
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* A ticket for a page: its replies replaced by the number it was loaded
 * with, in "replyCount", to which the caller adds the accepted ones. */
static cJSON *
brief(const bson_t *doc)
{
	cJSON *t = svc_bson_to_json(doc), *loaded;

	loaded = cJSON_GetObjectItem(t, "replies");
	cJSON_AddNumberToObject(t, "replyCount", cJSON_IsArray(loaded) ?
	    cJSON_GetArraySize(loaded) : 0);
	cJSON_DeleteItemFromObject(t, "replies");
	return t;
}

cJSON *
tk_store_tickets_brief(struct tk_store *s, size_t max, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	cJSON *list = cJSON_CreateArray();
	size_t n = 0;

	memset(error, 0, sizeof *error);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", (int64_t)max + 1);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (n++ <= max && mongoc_cursor_next(cur, &doc))
		cJSON_AddItemToArray(list, brief(doc));
	if (mongoc_cursor_error(cur, error) ||
	    (size_t)cJSON_GetArraySize(list) > max) {
		cJSON_Delete(list);
		list = NULL;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return list;
}

cJSON *
tk_store_tickets_page(struct tk_store *s, const bson_oid_t *after, int limit,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, gt;
	cJSON *list = cJSON_CreateArray();
	bool ok = true;

	if (after != NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
		BSON_APPEND_OID(&gt, "$gt", after);
		bson_append_document_end(&filter, &gt);
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (ok && mongoc_cursor_next(cur, &doc)) {
		cJSON *t = brief(doc);
		bson_iter_t it;
		int64_t seq;

		cJSON_AddItemToArray(list, t);
		if (bson_iter_init_find(&it, doc, "_id") &&
		    BSON_ITER_HOLDS_OID(&it) &&
		    (ok = tk_store_reply_seq(s, bson_iter_oid(&it), &seq,
		        error)))
			cJSON_SetNumberValue(cJSON_GetObjectItem(t,
			    "replyCount"), cJSON_GetNumberValue(
			    cJSON_GetObjectItem(t, "replyCount")) + seq);
	}
	if (mongoc_cursor_error(cur, error))
		ok = false;
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	if (!ok) {
		cJSON_Delete(list);
		list = NULL;
	}
	return list;
}

cJSON *
tk_store_ticket(struct tk_store *s, const bson_oid_t *id, bool *found,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, rfilter = BSON_INITIALIZER;
	cJSON *list = cJSON_CreateArray(), *one = NULL;

	memset(error, 0, sizeof *error);
	*found = false;
	BSON_APPEND_OID(&filter, "_id", id);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		cJSON_AddItemToArray(list, svc_bson_to_json(doc));
		*found = true;
	}
	if (mongoc_cursor_error(cur, error))
		*found = false;
	else if (*found) {
		BSON_APPEND_OID(&rfilter, "ticketId", id);
		if (attach_replies(s, list, &rfilter, error))
			one = cJSON_DetachItemFromArray(list, 0);
		else
			*found = false;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&rfilter);
	cJSON_Delete(list);
	return one;
}

bool
tk_store_ticket_title(struct tk_store *s, const bson_oid_t *id, char **title,
    bool *found, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	bson_iter_t it;
	bool ok;

	*title = NULL;
	*found = false;
	BSON_APPEND_OID(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "title", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		*found = true;
		*title = bson_strdup(bson_iter_init_find(&it, doc, "title") &&
		    BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "");
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}
