/*
 * store.c - the tickets database: the store's handle, its collections and
 * indexes, and the helpers its files share. Each collection's access is in
 * a file of its own: store-tickets.c (tickets and their replies as the API
 * shows them), store-replies.c (a reply and its event), store-subscriptions.c,
 * store-pending.c (pending events, instances, backlogs), store-deliveries.c
 * (what the outbox records) and store-views.c (the operators' JSON views).
 *
 * FerretDB applies updates as read, modify, write back, so two concurrent
 * updates of one document can lose one. Nothing here updates a shared
 * document on the request path: a reply is an insert of its own document,
 * and the first request with an idempotency key wins by a unique _id.
 */
#include <stddef.h>

#include "store-private.h"

/* Every collection the store uses, opened and closed together. */
static const struct {
	size_t at;
	const char *name;
} collections[] = {
	{ offsetof(struct tk_store, tickets), "tickets" },
	{ offsetof(struct tk_store, replies), "replies" },
	{ offsetof(struct tk_store, subs), "subscriptions" },
	{ offsetof(struct tk_store, idem), "idempotency" },
	{ offsetof(struct tk_store, pending), "pending" },
	{ offsetof(struct tk_store, summaries), "deliveries" },
	{ offsetof(struct tk_store, instances), "instances" },
	{ offsetof(struct tk_store, seqs), "sequences" },
	{ offsetof(struct tk_store, attempts), "attempts" },
	{ offsetof(struct tk_store, substats), "substats" },
	{ offsetof(struct tk_store, dead), "deadletters" },
	{ offsetof(struct tk_store, backlogs), "backlogs" },
};

static mongoc_collection_t **
collection(struct tk_store *s, size_t i)
{
	return (mongoc_collection_t **)((char *)s + collections[i].at);
}

struct tk_store *
tk_store_open(const struct tk_config *cfg, const char *appname,
    bson_error_t *error)
{
	struct tk_store *s;
	size_t i;

	s = bson_malloc0(sizeof *s);
	if ((s->client = svc_db_open(cfg->mongodb_uri, appname, error)) ==
	    NULL) {
		bson_free(s);
		return NULL;
	}
	for (i = 0; i < sizeof collections / sizeof *collections; i++)
		*collection(s, i) = mongoc_client_get_collection(s->client,
		    cfg->db_name, collections[i].name);
	s->db_name = bson_strdup(cfg->db_name);
	return s;
}

void
tk_store_close(struct tk_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof collections / sizeof *collections; i++)
		mongoc_collection_destroy(*collection(s, i));
	mongoc_client_destroy(s->client);
	bson_free(s->db_name);
	bson_free(s);
}

bool
tk_store_prepare(struct tk_store *s, bson_error_t *error)
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
	/* A sequence number is a ticket's reply once: the pending event
	 * that claimed it is gone once its reply is stored, so the reply's
	 * own insert is what refuses a second holder (and
	 * tk_store_keep_replies stores that one under the next free
	 * number). Then a ticket's sequence counts its replies
	 * (replyCount), more only by a request that failed after claiming
	 * its number. */
	bson_reinit(&keys);
	BSON_APPEND_INT32(&keys, "ticketId", 1);
	BSON_APPEND_INT32(&keys, "sequence", 1);
	ok = ok && svc_db_index(s->replies, &keys, "ticketId_sequence", true,
	    error);
	/* The pending events (the sequence numbers they claim are their
	 * _id) are found by owner when one dies. */
	bson_reinit(&keys);
	BSON_APPEND_INT32(&keys, "owner", 1);
	ok = ok && svc_db_index(s->pending, &keys, "owner", false, error);
	bson_destroy(&keys);
	s->prepared = ok;
	return ok;
}

bool
tk_store_ping(struct tk_store *s, bson_error_t *error)
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
tk_store_find_one(mongoc_collection_t *coll, const bson_t *filter,
    bson_t *out, bool *found, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t opts = BSON_INITIALIZER;
	bool ok;

	*found = false;
	bson_init(out);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cur = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		*found = true;
		bson_destroy(out);
		bson_copy_to(doc, out);
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return ok;
}

/* Finds a document by _id (on FerretDB through the GIN index of
 * spawn/db-indexes.conf; its own _id index serves no filter). */
bool
tk_store_find_by_id(mongoc_collection_t *coll, const bson_oid_t *id,
    bson_t *out, bool *found, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_OID(&filter, "_id", id);
	ok = tk_store_find_one(coll, &filter, out, found, error);
	bson_destroy(&filter);
	return ok;
}

bool
tk_store_delete_id(mongoc_collection_t *coll, const char *id,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&filter, "_id", id);
	ok = mongoc_collection_delete_one(coll, &filter, NULL, NULL, error);
	bson_destroy(&filter);
	return ok;
}

/* Builds {field: {$in: [values]}} (or $nin) into filter. */
void
tk_store_append_in(bson_t *filter, const char *field, const char *op,
    char *const *values, size_t n)
{
	bson_t in, arr;
	char key[16];
	const char *k;
	size_t i;

	BSON_APPEND_DOCUMENT_BEGIN(filter, field, &in);
	BSON_APPEND_ARRAY_BEGIN(&in, op, &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
		BSON_APPEND_UTF8(&arr, k, values[i]);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(filter, &in);
}

size_t
tk_store_strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

bool
tk_store_upsert_id(mongoc_collection_t *coll, const char *id, const bson_t *set,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER,
	    opts = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT(&update, "$set", set);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_update_one(coll, &filter, &update, &opts, NULL,
	    error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return ok;
}

/* Every document of coll matching filter, as JSON, in sort order (NULL:
 * any), at most limit (0: all); "_id" renamed "id" unless keep_id. */
cJSON *
tk_store_find_json(mongoc_collection_t *coll, const bson_t *filter,
    const bson_t *sort, int64_t limit, bool keep_id, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t opts = BSON_INITIALIZER;
	cJSON *list = cJSON_CreateArray();

	if (sort != NULL)
		BSON_APPEND_DOCUMENT(&opts, "sort", sort);
	if (limit > 0)
		BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		cJSON *j = svc_bson_to_json(doc), *id;

		if (!keep_id && (id = cJSON_DetachItemFromObject(j,
		    "_id")) != NULL)
			cJSON_AddItemToObject(j, "id", id);
		cJSON_AddItemToArray(list, j);
	}
	if (mongoc_cursor_error(cur, error)) {
		cJSON_Delete(list);
		list = NULL;
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return list;
}
