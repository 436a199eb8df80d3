/*
 * store.c - the tickets database: tickets, replies (each with its pending
 * event), subscriptions, idempotency keys.
 *
 * FerretDB applies updates as read, modify, write back, so two concurrent
 * updates of one document can lose one. Nothing here updates a shared
 * document on the request path: a reply is an insert of its own document,
 * and the first request with an idempotency key wins by a unique _id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

struct store {
	mongoc_client_t *client;
	mongoc_collection_t *tickets;
	mongoc_collection_t *replies;
	mongoc_collection_t *subs;
	mongoc_collection_t *idem;
	mongoc_collection_t *deliveries;
	mongoc_collection_t *instances;
	bool prepared;
};

struct store *
store_open(const struct tickets_config *cfg, const char *appname,
    bson_error_t *error)
{
	struct store *s;
	mongoc_uri_t *uri;

	if ((uri = svc_db_uri(cfg->mongodb_uri, error)) == NULL)
		return NULL;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->client = svc_db_client(uri, appname)) == NULL) {
		bson_set_error(error, MONGOC_ERROR_CLIENT,
		    MONGOC_ERROR_CLIENT_NOT_READY, "cannot create a client");
		mongoc_uri_destroy(uri);
		free(s);
		return NULL;
	}
	mongoc_uri_destroy(uri);
	s->tickets = mongoc_client_get_collection(s->client, cfg->db_name,
	    "tickets");
	s->replies = mongoc_client_get_collection(s->client, cfg->db_name,
	    "replies");
	s->subs = mongoc_client_get_collection(s->client, cfg->db_name,
	    "subscriptions");
	s->idem = mongoc_client_get_collection(s->client, cfg->db_name,
	    "idempotency");
	s->deliveries = mongoc_client_get_collection(s->client, cfg->db_name,
	    "deliveries");
	s->instances = mongoc_client_get_collection(s->client, cfg->db_name,
	    "instances");
	return s;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	mongoc_collection_destroy(s->tickets);
	mongoc_collection_destroy(s->replies);
	mongoc_collection_destroy(s->subs);
	mongoc_collection_destroy(s->idem);
	mongoc_collection_destroy(s->deliveries);
	mongoc_collection_destroy(s->instances);
	mongoc_client_destroy(s->client);
	free(s);
}

bool
store_prepare(struct store *s, bson_error_t *error)
{
	bson_t keys;
	bool ok;

	if (s->prepared)
		return true;
	bson_init(&keys);
	BSON_APPEND_INT32(&keys, "url", 1);
	ok = svc_db_index(s->subs, &keys, "url_unique", true, error);
	bson_reinit(&keys);
	BSON_APPEND_INT32(&keys, "ticketId", 1);
	ok = ok && svc_db_index(s->replies, &keys, "ticketId", false, error);
	bson_reinit(&keys);
	BSON_APPEND_INT32(&keys, "delivered", 1);
	ok = ok && svc_db_index(s->replies, &keys, "delivered", false, error);
	bson_destroy(&keys);
	s->prepared = ok;
	return ok;
}

bool
store_ping(struct store *s, bson_error_t *error)
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

/* ---- tickets ---- */

int64_t
store_count_tickets(struct store *s, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	int64_t n;

	n = mongoc_collection_count_documents(s->tickets, &filter, NULL, NULL,
	    NULL, error);
	bson_destroy(&filter);
	return n;
}

bool
store_insert_ticket(struct store *s, const bson_t *ticket,
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
attach_replies(struct store *s, cJSON *list, const bson_t *filter,
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

cJSON *
store_tickets(struct store *s, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	cJSON *list = cJSON_CreateArray();

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->tickets, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc))
		cJSON_AddItemToArray(list, svc_bson_to_json(doc));
	if (mongoc_cursor_error(cur, error) ||
	    !attach_replies(s, list, &filter, error)) {
		cJSON_Delete(list);
		list = NULL;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return list;
}

cJSON *
store_ticket(struct store *s, const bson_oid_t *id, bool *found,
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
store_ticket_title(struct store *s, const bson_oid_t *id, char **title,
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

/* ---- replies and their events ---- */

static void
append_event(bson_t *doc, const struct reply *r)
{
	char hex[25], id[32], when[32];
	bson_t ev;

	bson_oid_to_string(&r->id, hex);
	snprintf(id, sizeof id, "evt_%s", hex);
	svc_iso_time(r->created_ms, when, sizeof when);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "event", &ev);
	BSON_APPEND_UTF8(&ev, "id", id);
	BSON_APPEND_UTF8(&ev, "type", "reply.created");
	BSON_APPEND_UTF8(&ev, "createdAt", when);
	bson_oid_to_string(&r->ticket, hex);
	BSON_APPEND_UTF8(&ev, "ticketId", hex);
	BSON_APPEND_UTF8(&ev, "title", r->title);
	BSON_APPEND_UTF8(&ev, "user", r->user);
	BSON_APPEND_UTF8(&ev, "message", r->message);
	bson_append_document_end(doc, &ev);
}

static bool
find_by_id(mongoc_collection_t *coll, const bson_oid_t *id, bson_t *out,
    bool *found, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	*found = false;
	BSON_APPEND_OID(&filter, "_id", id);
	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		*found = true;
		bson_copy_to(doc, out);
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	return ok;
}

/* Claims key for a new reply id, or learns the reply id the first request
 * with that key chose. The claim and the reply are two inserts; if a
 * process dies between them, the repeat inserts the reply with the
 * claimed id, and the unique _id still lets only one through. */
static enum store_add
claim_key(struct store *s, const char *key, const char *hash,
    bson_oid_t *reply_id, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER, found_doc;
	bson_iter_t it;
	bool found;
	enum store_add rc = STORE_ADDED;

	BSON_APPEND_UTF8(&doc, "_id", key);
	BSON_APPEND_OID(&doc, "replyId", reply_id);
	BSON_APPEND_UTF8(&doc, "hash", hash);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", svc_now_ms());
	if (mongoc_collection_insert_one(s->idem, &doc, NULL, NULL, error))
		goto out;
	if (!svc_db_duplicate(error)) {
		rc = STORE_FAILED;
		goto out;
	}
	bson_init(&found_doc);
	bson_destroy(&doc);
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "_id", key);
	{
		mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
		    s->idem, &doc, NULL, NULL);
		const bson_t *d;

		found = mongoc_cursor_next(cur, &d);
		if (found)
			bson_copy_to(d, &found_doc);
		if (mongoc_cursor_error(cur, error))
			rc = STORE_FAILED;
		mongoc_cursor_destroy(cur);
	}
	if (rc == STORE_FAILED || !found) {
		/* Pruned between our insert and find: treat as the first. */
		if (rc != STORE_FAILED)
			memset(error, 0, sizeof *error);
		bson_destroy(&found_doc);
		goto out;
	}
	if (bson_iter_init_find(&it, &found_doc, "hash") &&
	    BSON_ITER_HOLDS_UTF8(&it) &&
	    strcmp(bson_iter_utf8(&it, NULL), hash) != 0)
		rc = STORE_KEY_REUSED;
	else if (bson_iter_init_find(&it, &found_doc, "replyId") &&
	    BSON_ITER_HOLDS_OID(&it))
		bson_oid_copy(bson_iter_oid(&it), reply_id);
	bson_destroy(&found_doc);
out:
	bson_destroy(&doc);
	return rc;
}

enum store_add
store_add_reply(struct store *s, const struct reply *r, const char *owner,
    const char *key, const char *hash, bson_t *first, bson_error_t *error)
{
	struct reply mine = *r;
	bson_t doc = BSON_INITIALIZER;
	enum store_add rc = STORE_ADDED;
	bool found;

	bson_init(first);
	if (key != NULL) {
		rc = claim_key(s, key, hash, &mine.id, error);
		if (rc != STORE_ADDED)
			goto out;
	}
	BSON_APPEND_OID(&doc, "_id", &mine.id);
	BSON_APPEND_OID(&doc, "ticketId", &mine.ticket);
	BSON_APPEND_UTF8(&doc, "user", mine.user);
	BSON_APPEND_UTF8(&doc, "message", mine.message);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", mine.created_ms);
	BSON_APPEND_UTF8(&doc, "owner", owner);
	BSON_APPEND_BOOL(&doc, "delivered", false);
	append_event(&doc, &mine);
	if (mongoc_collection_insert_one(s->replies, &doc, NULL, NULL, error)) {
		bson_destroy(first);
		bson_copy_to(&doc, first);
		goto out;
	}
	if (key == NULL || !svc_db_duplicate(error)) {
		rc = STORE_FAILED;
		goto out;
	}
	/* The first request with this key stored its reply: return that. */
	bson_destroy(first);
	bson_init(first);
	if (!find_by_id(s->replies, &mine.id, first, &found, error) || !found) {
		if (!found)
			bson_set_error(error, MONGOC_ERROR_COLLECTION, 0,
			    "reply %s vanished", "of an idempotency key");
		rc = STORE_FAILED;
		goto out;
	}
	rc = STORE_REPEATED;
out:
	bson_destroy(&doc);
	return rc;
}

char *
store_event_json(const bson_t *reply_doc)
{
	bson_iter_t it;
	bson_t ev;
	const uint8_t *data;
	uint32_t len;
	cJSON *json;
	char *text;

	if (!bson_iter_init_find(&it, reply_doc, "event") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it))
		return NULL;
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&ev, data, len))
		return NULL;
	json = svc_bson_to_json(&ev);
	text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	return text;
}

/* ---- subscriptions ---- */

bool
store_subscribe(struct store *s, const char *url, bool *created,
    bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t oid;
	bool ok;

	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_UTF8(&doc, "url", url);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", svc_now_ms());
	ok = mongoc_collection_insert_one(s->subs, &doc, NULL, NULL, error);
	*created = ok;
	/* Subscribing again is a renewal: the unique url says it is there. */
	if (!ok && svc_db_duplicate(error))
		ok = true;
	bson_destroy(&doc);
	return ok;
}

bool
store_unsubscribe(struct store *s, const char *url, bool *removed,
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

cJSON *
store_subscriptions(struct store *s, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	cJSON *list = cJSON_CreateArray();

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->subs, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		cJSON *j = svc_bson_to_json(doc), *id;

		/* "id" reads better than "_id" in our own extensions. */
		if ((id = cJSON_DetachItemFromObject(j, "_id")) != NULL)
			cJSON_AddItemToObject(j, "id", id);
		cJSON_AddItemToArray(list, j);
	}
	if (mongoc_cursor_error(cur, error)) {
		cJSON_Delete(list);
		list = NULL;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return list;
}

/* ---- the outbox's records ---- */

bool
store_subs(struct store *s, struct sub **subs, size_t *n, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	size_t cap = 0;
	bool ok;

	*subs = NULL;
	*n = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->subs, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		struct sub *sub;

		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*subs = realloc(*subs, cap * sizeof **subs);
		}
		sub = &(*subs)[*n];
		memset(sub, 0, sizeof *sub);
		if (!bson_iter_init_find(&it, doc, "url") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		sub->url = strdup(bson_iter_utf8(&it, NULL));
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
		store_subs_free(*subs, *n);
		*subs = NULL;
		*n = 0;
	}
	return ok;
}

void
store_subs_free(struct sub *subs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(subs[i].url);
	free(subs);
}

bool
store_delivered(struct store *s, const char *event_id, const char *sub,
    int status, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;
	char id[64];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", event_id, sub);
	BSON_APPEND_UTF8(&doc, "_id", id);
	BSON_APPEND_UTF8(&doc, "eventId", event_id);
	BSON_APPEND_UTF8(&doc, "subscription", sub);
	BSON_APPEND_INT32(&doc, "status", status);
	BSON_APPEND_DATE_TIME(&doc, "at", svc_now_ms());
	ok = mongoc_collection_insert_one(s->deliveries, &doc, NULL, NULL,
	    error) || svc_db_duplicate(error);
	bson_destroy(&doc);
	return ok;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool
store_deliveries(struct store *s, char ***keys, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER;
	size_t n = 0, cap = 16;
	bool ok;

	*keys = calloc(cap + 1, sizeof **keys);
	cur = mongoc_collection_find_with_opts(s->deliveries, &filter, NULL,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;

		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		if (n == cap) {
			cap *= 2;
			*keys = realloc(*keys, (cap + 1) * sizeof **keys);
		}
		(*keys)[n++] = bson_strdup(bson_iter_utf8(&it, NULL));
		(*keys)[n] = NULL;
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	qsort(*keys, n, sizeof **keys, cmp_str);
	return ok;
}

bool
store_events_done(struct store *s, const bson_oid_t *ids, size_t n,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, in, arr, update = BSON_INITIALIZER,
	    set;
	char key[16];
	const char *k;
	size_t i;
	bool ok;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
		BSON_APPEND_OID(&arr, k, &ids[i]);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(&filter, &in);
	/* Only ever set to true, by whoever finishes: a lost update between
	 * two writers of the same value changes nothing. */
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_BOOL(&set, "delivered", true);
	bson_append_document_end(&update, &set);
	ok = mongoc_collection_update_many(s->replies, &filter, &update, NULL,
	    NULL, error);
	bson_destroy(&filter);
	bson_destroy(&update);
	if (ok) {
		/* Who got a finished event matters no more. */
		bson_init(&filter);
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "eventId", &in);
		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
		for (i = 0; i < n; i++) {
			char hex[25], id[32];

			bson_oid_to_string(&ids[i], hex);
			snprintf(id, sizeof id, "evt_%s", hex);
			bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
			BSON_APPEND_UTF8(&arr, k, id);
		}
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
		ok = mongoc_collection_delete_many(s->deliveries, &filter, NULL,
		    NULL, error);
		bson_destroy(&filter);
	}
	return ok;
}

bool
store_beat(struct store *s, const char *owner, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set,
	    opts = BSON_INITIALIZER;
	bool ok;

	/* Each instance writes only its own document. */
	BSON_APPEND_UTF8(&filter, "_id", owner);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_DATE_TIME(&set, "lastSeen", svc_now_ms());
	bson_append_document_end(&update, &set);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_update_one(s->instances, &filter, &update, &opts,
	    NULL, error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return ok;
}

bool
store_gone(struct store *s, const char *owner, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&filter, "_id", owner);
	ok = mongoc_collection_delete_one(s->instances, &filter, NULL, NULL,
	    error);
	bson_destroy(&filter);
	return ok;
}

bool
store_instances(struct store *s, int64_t stale_ms, char ***owners,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, gte;
	size_t n = 0, cap = 8;
	bool ok;

	*owners = calloc(cap + 1, sizeof **owners);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "lastSeen", &gte);
	BSON_APPEND_DATE_TIME(&gte, "$gte", svc_now_ms() - stale_ms);
	bson_append_document_end(&filter, &gte);
	cur = mongoc_collection_find_with_opts(s->instances, &filter, NULL,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;

		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		if (n == cap) {
			cap *= 2;
			*owners = realloc(*owners, (cap + 1) * sizeof **owners);
		}
		(*owners)[n++] = bson_strdup(bson_iter_utf8(&it, NULL));
		(*owners)[n] = NULL;
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	return ok;
}

long
store_adopt(struct store *s, char **live, const char *owner,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, nin, arr, update = BSON_INITIALIZER,
	    set, reply;
	bson_iter_t it;
	char key[16];
	const char *k;
	uint32_t i;
	long n = -1;

	BSON_APPEND_BOOL(&filter, "delivered", false);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "owner", &nin);
	BSON_APPEND_ARRAY_BEGIN(&nin, "$nin", &arr);
	for (i = 0; live[i] != NULL; i++) {
		bson_uint32_to_string(i, &k, key, sizeof key);
		BSON_APPEND_UTF8(&arr, k, live[i]);
	}
	bson_append_array_end(&nin, &arr);
	bson_append_document_end(&filter, &nin);
	/* The previous owner is dead and writes nothing more to these. */
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "owner", owner);
	bson_append_document_end(&update, &set);
	if (mongoc_collection_update_many(s->replies, &filter, &update, NULL,
	    &reply, error))
		n = bson_iter_init_find(&it, &reply, "modifiedCount") ?
		    (long)bson_iter_as_int64(&it) : 0;
	bson_destroy(&reply);
	bson_destroy(&filter);
	bson_destroy(&update);
	return n;
}

bool
store_owned(struct store *s, const char *owner,
    void (*fn)(const bson_t *doc, void *arg), void *arg, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	bool ok;

	BSON_APPEND_BOOL(&filter, "delivered", false);
	BSON_APPEND_UTF8(&filter, "owner", owner);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc))
		fn(doc, arg);
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}
