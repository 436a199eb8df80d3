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
	bson_reinit(&keys);
	BSON_APPEND_INT32(&keys, "bucket", 1);
	s->prepared = s->prepared && svc_db_index(s->replies, &keys, "bucket",
	    false, error);
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
	BSON_APPEND_INT64(&doc, "bucket", received_ms / RF_BUCKET_MS);
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

/* Deletes what filter matches. Returns how many went, -1 on error. */
static long
delete_where(struct rf_store *s, const bson_t *filter, bson_error_t *error)
{
	bson_t reply;
	bson_iter_t it;
	long n = -1;

	if (mongoc_collection_delete_many(s->replies, filter, NULL, &reply,
	    error))
		n = bson_iter_init_find(&it, &reply, "deletedCount") ?
		    (long)bson_iter_as_int64(&it) : 0;
	bson_destroy(&reply);
	return n;
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
	bson_t filter = BSON_INITIALIZER, or, alt, cond;
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
	n = delete_where(s, &filter, error);
out:
	bson_free(id);
	bson_destroy(&filter);
	return n;
}

/* ---- pruning by bucket ---- */

/* How many replies bucket b holds, counting no further than limit; -1 on
 * error. */
static long
bucket_count(struct rf_store *s, int64_t b, long limit, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	long n = 0;

	BSON_APPEND_INT64(&filter, "bucket", b);
	BSON_APPEND_INT64(&opts, "limit", limit);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	while (n < limit && mongoc_cursor_next(cur, &doc))
		n++;
	if (mongoc_cursor_error(cur, error))
		n = -1;
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return n;
}

/* Deletes every reply of bucket b. Returns how many went, -1 on error. */
static long
bucket_delete(struct rf_store *s, int64_t b, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	long n;

	BSON_APPEND_INT64(&filter, "bucket", b);
	n = delete_where(s, &filter, error);
	bson_destroy(&filter);
	return n;
}

struct received {
	int64_t at;
	char *id;
};

/* Latest received first. */
static int
later(const void *a, const void *b)
{
	const struct received *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? 1 : -1;
	return strcmp(y->id, x->id);
}

/* Deletes the replies of bucket b but the *spare received last (fewer
 * when it holds fewer), and takes those kept off *spare. Returns how many
 * went, -1 on error; *kept says whether any stayed. */
static long
bucket_thin(struct rf_store *s, int64_t b, long *spare, bool *kept,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, del,
	    in, ids;
	bson_iter_t it;
	struct received *v = NULL;
	size_t n = 0, size = 0, i, from;
	long gone = -1;
	char key[16];
	const char *k;

	BSON_APPEND_INT64(&filter, "bucket", b);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "receivedAt", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		if (n == size) {
			size = size ? 2 * size : 64;
			v = bson_realloc(v, size * sizeof *v);
		}
		v[n].id = bson_strdup(bson_iter_utf8(&it, NULL));
		v[n].at = bson_iter_init_find(&it, doc, "receivedAt") &&
		    BSON_ITER_HOLDS_DATE_TIME(&it) ?
		    bson_iter_date_time(&it) : 0;
		n++;
	}
	if (mongoc_cursor_error(cur, error))
		goto out;
	qsort(v, n, sizeof *v, later);
	from = (size_t)*spare < n ? (size_t)*spare : n;
	*spare -= (long)from;
	*kept = from > 0;
	gone = 0;
	/* By _id in pieces: FerretDB deletes {_id: {$in}} by those ids. */
	for (i = from; i < n && gone >= 0; ) {
		long went;
		size_t j;

		bson_init(&del);
		BSON_APPEND_DOCUMENT_BEGIN(&del, "_id", &in);
		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &ids);
		for (j = 0; i < n && j < 500; i++, j++) {
			bson_uint32_to_string((uint32_t)j, &k, key,
			    sizeof key);
			BSON_APPEND_UTF8(&ids, k, v[i].id);
		}
		bson_append_array_end(&in, &ids);
		bson_append_document_end(&del, &in);
		went = delete_where(s, &del, error);
		gone = went < 0 ? -1 : gone + went;
		bson_destroy(&del);
	}
out:
	for (i = 0; i < n; i++)
		bson_free(v[i].id);
	bson_free(v);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return gone;
}

long
rf_store_prune_buckets(struct rf_store *s, long keep, int64_t now_ms,
    int64_t received_before, int64_t *from, bson_error_t *error)
{
	int64_t cut = received_before / RF_BUCKET_MS, b, lowest = -1;
	long later_ones = 0, spare, n, gone = 0;
	bool kept;

	if (*from >= cut)
		return 0;
	/* Enough received since the cut: every older bucket goes whole. */
	for (b = now_ms / RF_BUCKET_MS; b >= cut && later_ones < keep; b--) {
		if ((n = bucket_count(s, b, keep - later_ones, error)) < 0)
			return -1;
		later_ones += n;
	}
	spare = keep - later_ones;
	for (b = cut - 1; b >= *from; b--) {
		kept = false;
		n = spare > 0 ? bucket_thin(s, b, &spare, &kept, error) :
		    bucket_delete(s, b, error);
		if (n < 0)
			return -1;
		gone += n;
		if (kept)
			lowest = b;
	}
	/* A bucket that kept some is looked at again next time. */
	*from = lowest >= 0 ? lowest : cut;
	return gone;
}
