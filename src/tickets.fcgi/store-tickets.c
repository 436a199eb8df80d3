/*
 * store-tickets.c - the tickets, and their replies as the API shows them:
 * the whole list, a page, one ticket, a title. Tickets are loaded, never
 * changed by the API; their accepted replies live in "replies".
 */
#include <stdint.h>
#include <stdlib.h>
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

bool
tk_store_pending_replies(struct tk_store *s, const bson_t *filter,
    bson_t ***docs, size_t *n, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	size_t cap = 0;
	bool ok;

	*docs = NULL;
	*n = 0;
	cur = mongoc_collection_find_with_opts(s->pending, filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_t reply;

		if (!tk_store_held_reply(doc, &reply))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*docs = bson_realloc(*docs, cap * sizeof **docs);
		}
		(*docs)[(*n)++] = bson_copy(&reply);
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	if (!ok) {
		tk_store_docs_free(*docs, *n);
		*docs = NULL;
		*n = 0;
		return false;
	}
	tk_replies_sort(*docs, *n);
	return true;
}

void
tk_store_docs_free(bson_t **docs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bson_destroy(docs[i]);
	bson_free(docs);
}

/* Hands fn the stored replies of cur and the pending ones (pend, sorted)
 * in the API's order, each once: a reply may be in both, stored by the
 * outbox between the two reads. Stops when fn returns false. */
static bool
walk_merged(mongoc_cursor_t *cur, bson_t *const *pend, size_t n,
    bool (*fn)(void *arg, const bson_t *doc), void *arg)
{
	const bson_t *doc;
	bool go = true;
	size_t i = 0;

	while (go && mongoc_cursor_next(cur, &doc)) {
		while (go && i < n && tk_reply_order(pend[i], doc) < 0)
			go = fn(arg, pend[i++]);
		if (i < n && tk_reply_order(pend[i], doc) == 0)
			i++;
		if (go)
			go = fn(arg, doc);
	}
	while (go && i < n)
		go = fn(arg, pend[i++]);
	return go;
}

/* A ticket's replies as the API shows them, stored and pending: one
 * query on ticketId, which an index serves at any size. The pending ones
 * were read first (the outbox stores a reply before it deletes its
 * pending event, so none is missed). */
static mongoc_cursor_t *
stored_replies(struct tk_store *s, const bson_oid_t *ticket)
{
	mongoc_cursor_t *cur;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;

	BSON_APPEND_OID(&filter, "ticketId", ticket);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts, NULL);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return cur;
}

static bool
visit_reply(void *arg, const bson_t *doc)
{
	const struct tk_store_visit *v = arg;

	return v->reply(v->arg, reply_json(doc));
}

/* Hands each reply of ticket id to v->reply, oldest first; pend holds
 * the pending replies of every ticket, sorted. */
static bool
each_reply(struct tk_store *s, const bson_t *ticket, bson_t *const *pend,
    size_t n_pend, const struct tk_store_visit *v, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	bson_iter_t it;
	bson_t **mine;
	size_t i, n = 0;
	bool ok, go;

	if (!bson_iter_init_find(&it, ticket, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return true;
	mine = bson_malloc0((n_pend + 1) * sizeof *mine);
	for (i = 0; i < n_pend; i++) {
		bson_iter_t t;

		if (bson_iter_init_find(&t, pend[i], "ticketId") &&
		    BSON_ITER_HOLDS_OID(&t) &&
		    bson_oid_equal(bson_iter_oid(&t), bson_iter_oid(&it)))
			mine[n++] = pend[i];
	}
	cur = stored_replies(s, bson_iter_oid(&it));
	go = walk_merged(cur, mine, n, visit_reply, (void *)v);
	ok = !mongoc_cursor_error(cur, error) && go;
	mongoc_cursor_destroy(cur);
	free(mine);
	return ok;
}

bool
tk_store_each_ticket(struct tk_store *s, const struct tk_store_visit *v,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	bson_t **pend;
	size_t n_pend;
	bool ok = true;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	/* The pending replies first, all at once (pending holds only what
	 * is in flight). */
	if (!tk_store_pending_replies(s, &filter, &pend, &n_pend, error)) {
		bson_destroy(&opts);
		return false;
	}
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (ok && mongoc_cursor_next(cur, &doc)) {
		ok = v->ticket(v->arg, svc_bson_to_json(doc)) &&
		    each_reply(s, doc, pend, n_pend, v, error) &&
		    v->ticket_end(v->arg);
	}
	if (mongoc_cursor_error(cur, error))
		ok = false;
	mongoc_cursor_destroy(cur);
	tk_store_docs_free(pend, n_pend);
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

bool
tk_store_pending_seqs(struct tk_store *s, struct tk_seqs *max,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	bool ok;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "ticketId", 1);
	BSON_APPEND_INT32(&proj, "sequence", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(s->pending, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t t, n;

		if (bson_iter_init_find(&t, doc, "ticketId") &&
		    BSON_ITER_HOLDS_OID(&t) &&
		    bson_iter_init_find(&n, doc, "sequence"))
			tk_seqs_saw(max, bson_iter_oid(&t),
			    bson_iter_as_int64(&n));
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
tk_store_reply_count(struct tk_store *s, const bson_oid_t *id,
    const struct tk_seqs *pending, int64_t *count, bson_error_t *error)
{
	int64_t held;

	if (!tk_store_reply_seq(s, id, count, error))
		return false;
	if (tk_seqs_last(pending, id, &held) && held > *count)
		*count = held;
	return true;
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
	struct tk_seqs pending = { NULL, 0, 0 };
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
	if (!tk_store_pending_seqs(s, &pending, error)) {
		ok = false;
		goto out;
	}
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (ok && mongoc_cursor_next(cur, &doc)) {
		cJSON *t = brief(doc);
		bson_iter_t it;
		int64_t seq;

		cJSON_AddItemToArray(list, t);
		if (bson_iter_init_find(&it, doc, "_id") &&
		    BSON_ITER_HOLDS_OID(&it) &&
		    (ok = tk_store_reply_count(s, bson_iter_oid(&it), &pending,
		        &seq, error)))
			cJSON_SetNumberValue(cJSON_GetObjectItem(t,
			    "replyCount"), cJSON_GetNumberValue(
			    cJSON_GetObjectItem(t, "replyCount")) + seq);
	}
	if (mongoc_cursor_error(cur, error))
		ok = false;
	mongoc_cursor_destroy(cur);
out:
	tk_seqs_clear(&pending);
	bson_destroy(&opts);
	bson_destroy(&filter);
	if (!ok) {
		cJSON_Delete(list);
		list = NULL;
	}
	return list;
}

static bool
add_reply_json(void *arg, const bson_t *doc)
{
	cJSON_AddItemToArray(arg, reply_json(doc));
	return true;
}

cJSON *
tk_store_ticket(struct tk_store *s, const bson_oid_t *id, bool *found,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	bson_t filter = BSON_INITIALIZER, ticket, **pend = NULL;
	size_t n_pend = 0;
	cJSON *one = NULL, *replies;

	memset(error, 0, sizeof *error);
	*found = false;
	/* Its pending replies first (GIN pending.ticketId): none is missed
	 * between the two reads. */
	BSON_APPEND_OID(&filter, "ticketId", id);
	if (!tk_store_pending_replies(s, &filter, &pend, &n_pend, error)) {
		bson_destroy(&filter);
		return NULL;
	}
	if (!tk_store_find_by_id(s->tickets, id, &ticket, found, error) ||
	    !*found) {
		*found = false;
		goto out;
	}
	one = svc_bson_to_json(&ticket);
	replies = cJSON_GetObjectItem(one, "replies");
	if (!cJSON_IsArray(replies)) {
		cJSON_DeleteItemFromObject(one, "replies");
		replies = cJSON_AddArrayToObject(one, "replies");
	}
	cur = stored_replies(s, id);
	walk_merged(cur, pend, n_pend, add_reply_json, replies);
	if (mongoc_cursor_error(cur, error)) {
		cJSON_Delete(one);
		one = NULL;
		*found = false;
	}
	mongoc_cursor_destroy(cur);
out:
	bson_destroy(&ticket);
	bson_destroy(&filter);
	tk_store_docs_free(pend, n_pend);
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
