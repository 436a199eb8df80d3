/*
 * store.c - the reply feed's own database: one document per event received,
 * keyed by the event id.
 *
 * Events arrive at least once, so the same event may come twice, even to
 * two worker processes at the same moment. An insert with the event id as
 * _id lets exactly one through on MongoDB and FerretDB alike; nothing here
 * updates a document (FerretDB's updates are read, modify, write back).
 */

#include "replyfeed.h"

struct rf_store {
	mongoc_client_t *client;
	mongoc_collection_t *replies;
	bool prepared;
};

struct rf_store *
rf_store_open(const struct rf_config *cfg, const char *appname,
    bson_error_t *error)
{
	struct rf_store *s;

	s = bson_malloc0(sizeof *s);
	if ((s->client = svc_db_open(cfg->mongodb_uri, appname, error)) ==
	    NULL) {
		bson_free(s);
		return NULL;
	}
	s->replies = mongoc_client_get_collection(s->client, cfg->db_name,
	    "replies");
	return s;
}

void
rf_store_close(struct rf_store *s)
{
	if (s == NULL)
		return;
	mongoc_collection_destroy(s->replies);
	mongoc_client_destroy(s->client);
	bson_free(s);
}

/* The order of the feed, newest first; the index has the same keys. */
static void
append_newest_first(bson_t *sort)
{
	BSON_APPEND_INT32(sort, "createdAt", -1);
	BSON_APPEND_INT32(sort, "_id", -1);
}

bool
rf_store_prepare(struct rf_store *s, bson_error_t *error)
{
	bson_t keys = BSON_INITIALIZER;

	if (s->prepared)
		return true;
	/* _id is unique by itself: only the feed's order needs an index. */
	append_newest_first(&keys);
	s->prepared = svc_db_index(s->replies, &keys, "createdAt_id", false,
	    error);
	bson_destroy(&keys);
	return s->prepared;
}

bool
rf_store_prepared(const struct rf_store *s)
{
	return s->prepared;
}

bool
rf_store_ping(struct rf_store *s, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, reply;
	bool ok;

	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(s->client, "admin", &cmd, NULL,
	    &reply, error);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}

bool
rf_store_insert(struct rf_store *s, const struct svc_event *ev,
    int64_t received_ms, bool *duplicate, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok;

	*duplicate = false;
	BSON_APPEND_UTF8(&doc, "_id", ev->id);
	BSON_APPEND_UTF8(&doc, "type", ev->type);
	BSON_APPEND_UTF8(&doc, "ticketId", ev->ticket_id);
	BSON_APPEND_UTF8(&doc, "title", ev->title);
	BSON_APPEND_UTF8(&doc, "user", ev->user);
	BSON_APPEND_UTF8(&doc, "message", ev->message);
	/* A date, not the sender's text: dates sort in time order whatever
	 * precision or offset the sender wrote. */
	BSON_APPEND_DATE_TIME(&doc, "createdAt", ev->created_ms);
	BSON_APPEND_DATE_TIME(&doc, "receivedAt", received_ms);
	ok = mongoc_collection_insert_one(s->replies, &doc, NULL, NULL, error);
	if (!ok && svc_db_duplicate(error)) {
		/* Delivered before: the first copy stands. */
		*duplicate = true;
		ok = true;
	}
	bson_destroy(&doc);
	return ok;
}

/* The string field key of doc, NULL when it is not one. */
static const char *
utf8(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ?
	    bson_iter_utf8(&it, NULL) : NULL;
}

/* A stored event as the feed shows it: as it came (replyevent.c). */
static cJSON *
reply_json(const bson_t *doc)
{
	struct svc_event ev = { utf8(doc, "_id"), utf8(doc, "type"),
	    utf8(doc, "ticketId"), utf8(doc, "title"), utf8(doc, "user"),
	    utf8(doc, "message"), 0 };
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		ev.created_ms = bson_iter_date_time(&it);
	return svc_event_json(&ev);
}

cJSON *
rf_store_latest(struct rf_store *s, int n, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	cJSON *list = cJSON_CreateArray();

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	append_newest_first(&sort);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", n);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	/* Read newest first, shown oldest first: each goes in front. */
	while (mongoc_cursor_next(cur, &doc))
		cJSON_InsertItemInArray(list, 0, reply_json(doc));
	if (mongoc_cursor_error(cur, error)) {
		cJSON_Delete(list);
		list = NULL;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return list;
}

/* The oldest reply to keep: the keep-th newest. *found is false when
 * there are no more than keep. Caller frees *id with bson_free(). */
static bool
find_boundary(struct rf_store *s, long keep, int64_t *created, char **id,
    bool *found, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, proj;
	bson_iter_t it;
	bool ok;

	*found = false;
	*id = NULL;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	append_newest_first(&sort);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "createdAt", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT64(&opts, "skip", keep - 1);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	if (mongoc_cursor_next(cur, &doc) &&
	    bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it)) {
		*created = bson_iter_date_time(&it);
		if (bson_iter_init_find(&it, doc, "_id") &&
		    BSON_ITER_HOLDS_UTF8(&it)) {
			*id = bson_strdup(bson_iter_utf8(&it, NULL));
			*found = true;
		}
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

long
rf_store_prune(struct rf_store *s, long keep, int64_t received_before,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, or, alt, cond, reply;
	bson_iter_t it;
	int64_t created = 0;
	char *id = NULL;
	bool found;
	long n = -1;

	if (keep < 1)
		keep = 1;
	if (!find_boundary(s, keep, &created, &id, &found, error))
		goto out;
	if (!found) {
		n = 0;
		goto out;
	}
	/* Everything after the boundary in the feed's order: older, or as
	 * old with a smaller id. */
	BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "createdAt", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$lt", created);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&or, &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
	BSON_APPEND_DATE_TIME(&alt, "createdAt", created);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "_id", &cond);
	BSON_APPEND_UTF8(&cond, "$lt", id);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&or, &alt);
	bson_append_array_end(&filter, &or);
	/* And not received lately: its id still guards against a replay. */
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "receivedAt", &cond);
	BSON_APPEND_DATE_TIME(&cond, "$lt", received_before);
	bson_append_document_end(&filter, &cond);
	if (mongoc_collection_delete_many(s->replies, &filter, NULL, &reply,
	    error))
		n = bson_iter_init_find(&it, &reply, "deletedCount") ?
		    (long)bson_iter_as_int64(&it) : 0;
	bson_destroy(&reply);
out:
	bson_free(id);
	bson_destroy(&filter);
	return n;
}
