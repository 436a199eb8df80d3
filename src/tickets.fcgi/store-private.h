/*
 * store-private.h - what the store's files (store*.c) share and nobody
 * else sees: the handle and the helpers of more than one collection.
 */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H

#include "inflight.h"
#include "tickets.h"

/* One per thread: a client of its own and every collection the store
 * uses (the table in store.c opens and closes them together). */
struct tk_store {
	mongoc_client_t *client;
	mongoc_collection_t *tickets;
	mongoc_collection_t *replies;
	mongoc_collection_t *subs;
	mongoc_collection_t *idem;
	mongoc_collection_t *pending;
	mongoc_collection_t *summaries;
	mongoc_collection_t *instances;
	mongoc_collection_t *seqs;
	mongoc_collection_t *attempts;
	mongoc_collection_t *substats;
	mongoc_collection_t *dead;
	mongoc_collection_t *backlogs;
	char *db_name;
	bool prepared;
};

/* The document of coll whose _id is the ObjectId id, copied into out
 * (always initialised; the caller destroys it); *found says whether
 * there was one. */
bool tk_store_find_by_id(mongoc_collection_t *coll, const bson_oid_t *id,
    bson_t *out, bool *found, bson_error_t *error);

/* The first document of coll matching filter, copied into out (always
 * initialised; the caller destroys it); *found says whether there was
 * one. */
bool tk_store_find_one(mongoc_collection_t *coll, const bson_t *filter,
    bson_t *out, bool *found, bson_error_t *error);

/* The reply a pending event holds, as a read-only view into pending
 * (nothing to destroy); false when it holds none. */
bool tk_store_held_reply(const bson_t *pending, bson_t *reply);

/* The reply documents of the pending events matching filter (the replies
 * accepted and not stored yet), sorted as the API shows them
 * (tk_replies_sort); *n of them, caller frees with
 * tk_store_docs_free. */
bool tk_store_pending_replies(struct tk_store *s, const bson_t *filter,
    bson_t ***docs, size_t *n, bson_error_t *error);
void tk_store_docs_free(bson_t **docs, size_t n);

/* Raises the "sequences" document of each ticket in max to its number
 * ($max, upserted). */
bool tk_store_raise_seqs(struct tk_store *s, const struct tk_seqs *max,
    bson_error_t *error);

/* Deletes the document of coll whose _id is the string id. */
bool tk_store_delete_id(mongoc_collection_t *coll, const char *id,
    bson_error_t *error);

/* Sets the fields of set in the document of coll whose _id is the
 * string id, inserting it if it is not there. */
bool tk_store_upsert_id(mongoc_collection_t *coll, const char *id,
    const bson_t *set, bson_error_t *error);

/* Appends {field: {op: [values]}} to filter; op is "$in" or "$nin". */
void tk_store_append_in(bson_t *filter, const char *field, const char *op,
    char *const *values, size_t n);

/* The length of a NULL-terminated array of strings (0 for NULL). */
size_t tk_store_strv_len(char *const *v);

/* Every document of coll matching filter as a JSON array (caller frees
 * with cJSON_Delete), NULL on a database error. */
cJSON *tk_store_find_json(mongoc_collection_t *coll, const bson_t *filter,
    const bson_t *sort, int64_t limit, bool keep_id, bson_error_t *error);

#endif /* STORE_PRIVATE_H */
