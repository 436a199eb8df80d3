/*
 * store-pending.c - what keeps delivery at least once across a crash: the
 * pending events and their settling, the instances that own them (a
 * heartbeat each), and the backlogs where events wait for a subscriber
 * that failed.
 *
 * Backlogs keep the events a failing subscriber still has to get out of
 * the pending collection, so that it stays small (FerretDB reads a whole
 * collection for a delete of many). Each process parks into collections of
 * its own, one per time window, listed in "backlogs" with their owner; a
 * window is dropped whole once all it holds is done, and an adopter takes
 * over the backlogs of dead owners.
 */
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

bool
tk_store_beat(struct tk_store *s, const char *owner, bson_error_t *error)
{
	bson_t set = BSON_INITIALIZER;
	bool ok;

	/* Each instance writes only its own document. */
	BSON_APPEND_DATE_TIME(&set, "lastSeen", svc_now_ms());
	ok = tk_store_upsert_id(s->instances, owner, &set, error);
	bson_destroy(&set);
	return ok;
}

bool
tk_store_gone(struct tk_store *s, const char *owner, bson_error_t *error)
{
	return tk_store_delete_id(s->instances, owner, error);
}

bool
tk_store_instances(struct tk_store *s, int64_t stale_ms, char ***owners,
    bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, gte;
	size_t n = 0, cap = 8;
	bool ok;

	*owners = bson_malloc0((cap + 1) * sizeof **owners);
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
			*owners = bson_realloc(*owners, (cap + 1) *
			    sizeof **owners);
		}
		(*owners)[n++] = bson_strdup(bson_iter_utf8(&it, NULL));
		(*owners)[n] = NULL;
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	return ok;
}

bool
tk_store_settle(struct tk_store *s, bson_t *const *summaries,
    size_t n_summaries, char *const *pending, size_t n_pending,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bool ok = true;

	/* The summaries first: an event gone from pending is one whose
	 * summary is there, or parked. Unordered: one settled twice (a
	 * replay) must not stop the rest. */
	BSON_APPEND_BOOL(&opts, "ordered", false);
	if (n_summaries > 0)
		ok = mongoc_collection_insert_many(s->summaries,
		    (const bson_t **)summaries, n_summaries, &opts, NULL,
		    error) || svc_db_duplicate(error);
	/* Then the tickets' counts, raised to the numbers of the events let
	 * go: a number no longer pending is one "sequences" counts. */
	if (ok && n_pending > 0) {
		struct tk_seqs max = { NULL, 0, 0 };
		bson_oid_t ticket;
		size_t i;

		for (i = 0; i < n_pending; i++)
			if (strlen(pending[i]) > 25 && pending[i][24] == '|' &&
			    bson_oid_is_valid(pending[i], 24)) {
				bson_oid_init_from_string(&ticket, pending[i]);
				tk_seqs_saw(&max, &ticket,
				    strtoll(pending[i] + 25, NULL, 10));
			}
		ok = tk_store_raise_seqs(s, &max, error);
		tk_seqs_clear(&max);
	}
	if (ok && n_pending > 0) {
		tk_store_append_in(&filter, "_id", "$in", pending, n_pending);
		ok = mongoc_collection_delete_many(s->pending, &filter, NULL,
		    NULL, error);
	}
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
tk_store_held_reply(const bson_t *pending, bson_t *reply)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init_find(&it, pending, "reply") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &len, &data);
	return bson_init_static(reply, data, len);
}

bool
tk_store_orphans(struct tk_store *s, char **live,
    void (*fn)(const bson_t *reply, void *arg), void *arg,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bool ok;

	tk_store_append_in(&filter, "owner", "$nin", live,
	    tk_store_strv_len(live));
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->pending, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_t reply, *one;
		bson_error_t failed;
		bool keep = false;

		if (!tk_store_held_reply(doc, &reply))
			continue;
		/* Stored (again: a duplicate says it was there already, and
		 * the stored one, its number included, is the reply). */
		one = bson_copy(&reply);
		if (tk_store_keep_replies(s, NULL, &one, 1, &keep, &failed) &&
		    keep)
			fn(one, arg);
		/* (A database failure: the next sweep.) */
		bson_destroy(one);
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
tk_store_park(struct tk_store *s, const char *name, const char *owner,
    bool *registered, bson_t *const *docs, size_t n, bson_error_t *error)
{
	mongoc_collection_t *coll;
	bson_t opts = BSON_INITIALIZER, doc = BSON_INITIALIZER;
	bool ok = true;

	/* Listed before its documents, every time: an adopter finds every
	 * backlog that holds something, even one it took for a dead
	 * process's (a heartbeat held up) and dropped. */
	BSON_APPEND_UTF8(&doc, "_id", name);
	BSON_APPEND_UTF8(&doc, "owner", owner);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", svc_now_ms());
	ok = mongoc_collection_insert_one(s->backlogs, &doc, NULL, NULL,
	    error) || svc_db_duplicate(error);
	*registered = *registered || ok;
	if (ok && n > 0) {
		coll = mongoc_client_get_collection(s->client, s->db_name,
		    name);
		BSON_APPEND_BOOL(&opts, "ordered", false);
		/* A duplicate is an event parked again (adopted twice). */
		ok = mongoc_collection_insert_many(coll, (const bson_t **)docs,
		    n, &opts, NULL, error) || svc_db_duplicate(error);
		mongoc_collection_destroy(coll);
	}
	bson_destroy(&doc);
	bson_destroy(&opts);
	return ok;
}

bool
tk_store_unpark(struct tk_store *s, const char *name, bson_error_t *error)
{
	mongoc_collection_t *coll;
	bson_error_t dropped;
	bool ok;

	coll = mongoc_client_get_collection(s->client, s->db_name, name);
	/* Dropped already (or never made): nothing to do. 26 is
	 * NamespaceNotFound; the messages are MongoDB's and FerretDB's. */
	if (!mongoc_collection_drop(coll, &dropped) && dropped.code != 26 &&
	    strstr(dropped.message, "not found") == NULL &&
	    strstr(dropped.message, "doesn't exist") == NULL) {
		*error = dropped;
		mongoc_collection_destroy(coll);
		return false;
	}
	mongoc_collection_destroy(coll);
	ok = tk_store_delete_id(s->backlogs, name, error);
	return ok;
}

bool
tk_store_orphan_backlogs(struct tk_store *s, char **live, char ***names,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_iter_t it;
	size_t n = 0, cap = 8;
	bool ok;

	*names = bson_malloc0(cap * sizeof **names);
	tk_store_append_in(&filter, "owner", "$nin", live,
	    tk_store_strv_len(live));
	cur = mongoc_collection_find_with_opts(s->backlogs, &filter, NULL,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_UTF8(&it))
			continue;
		if (n + 1 == cap)
			*names = bson_realloc(*names, (cap *= 2) *
			    sizeof **names);
		(*names)[n++] = bson_strdup(bson_iter_utf8(&it, NULL));
		(*names)[n] = NULL;
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	return ok;
}

bool
tk_store_backlog_each(struct tk_store *s, const char *name,
    void (*fn)(const bson_t *parked, void *arg), void *arg,
    bson_error_t *error)
{
	mongoc_collection_t *coll;
	mongoc_cursor_t *cur;
	bson_t filter = BSON_INITIALIZER;
	const bson_t *doc;
	bool ok;

	coll = mongoc_client_get_collection(s->client, s->db_name, name);
	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		fn(doc, arg);
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	bson_destroy(&filter);
	return ok;
}
