/*
 * store-replies.c - a reply and its event: the sequence number it draws,
 * the idempotency key that makes a repeat apply once, the pending event
 * stored with it, and the reply documents read back by event id or time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store-private.h"

/* The next sequence number of a ticket's replies. On MongoDB the $inc is
 * atomic; on FerretDB two concurrent ones may return the same number, and
 * the unique (ticketId, sequence) index makes the second insert fail and
 * take another: numbers may skip, never repeat. */
static int64_t
next_sequence(struct tk_store *s, const bson_oid_t *ticket, bson_error_t *error)
{
	mongoc_find_and_modify_opts_t *opts;
	bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER, inc, reply;
	bson_iter_t it;
	int64_t seq = -1;

	BSON_APPEND_OID(&query, "_id", ticket);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "seq", 1);
	bson_append_document_end(&update, &inc);
	opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(opts, &update);
	mongoc_find_and_modify_opts_set_flags(opts,
	    MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(s->seqs, &query, opts,
	    &reply, error))
		;
	else if (bson_iter_init_find(&it, &reply, "value") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it) &&
	    bson_iter_recurse(&it, &it) && bson_iter_find(&it, "seq"))
		seq = bson_iter_as_int64(&it);
	else
		bson_set_error(error, MONGOC_ERROR_COLLECTION, 0,
		    "no sequence number came back");
	bson_destroy(&reply);
	bson_destroy(&query);
	bson_destroy(&update);
	mongoc_find_and_modify_opts_destroy(opts);
	return seq;
}

/* Appends the reply's event, as it is sent (replyevent.c), with the
 * reply's sequence number. */
static void
append_event(bson_t *doc, const struct tk_reply *r)
{
	char id[32], ticket[25];
	struct svc_event e = { id, SVC_EVENT_TYPE, ticket, r->title, r->user,
	    r->message, r->created_ms };
	bson_t ev;

	svc_event_id(&r->id, id, sizeof id);
	bson_oid_to_string(&r->ticket, ticket);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "event", &ev);
	svc_event_append(&ev, &e);
	BSON_APPEND_INT64(&ev, "sequence", r->sequence);
	bson_append_document_end(doc, &ev);
}

/* Claims key for a new reply id, or learns the reply id the first request
 * with that key chose. The claim and the reply are two inserts; if a
 * process dies between them, the repeat inserts the reply with the
 * claimed id, and the unique _id still lets only one through. */
static enum tk_store_add
claim_key(struct tk_store *s, const char *key, const char *hash,
    bson_oid_t *reply_id, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER, found_doc;
	bson_iter_t it;
	bool found;
	enum tk_store_add rc = STORE_ADDED;

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

/* "<ticket hex>|<sequence>": a pending event's _id, which claims its
 * sequence number. */
static void
pending_key(const bson_oid_t *ticket, int64_t seq, char *buf, size_t size)
{
	char hex[25];

	bson_oid_to_string(ticket, hex);
	snprintf(buf, size, "%s|%" PRId64, hex, seq);
}

/* The reply is stored in two inserts. First its pending event, whose _id
 * claims the ticket's next sequence number (two concurrent replies that
 * drew the same number from FerretDB's non-atomic $inc: one insert wins,
 * the other draws again) and which holds the whole reply. Then the reply,
 * whose only unique key is its _id. Whoever finds a pending event of a
 * process that died inserts its reply again: a duplicate _id means it was
 * there, anything else that it is now; either way the event goes out, and
 * a reply never exists without its event. */
enum tk_store_add
tk_store_add_reply(struct tk_store *s, const struct tk_reply *r,
    const char *owner, const char *key, const char *hash, bson_t *first,
    bson_error_t *error)
{
	struct tk_reply mine = *r;
	bson_t doc = BSON_INITIALIZER, pending = BSON_INITIALIZER;
	enum tk_store_add rc = STORE_ADDED;
	bson_error_t ignored;
	char claim[64], event_id[32];
	bool found;
	int tries;

	bson_init(first);
	if (key != NULL) {
		rc = claim_key(s, key, hash, &mine.id, error);
		if (rc != STORE_ADDED)
			goto out;
	}
	svc_event_id(&mine.id, event_id, sizeof event_id);
	for (tries = 0; tries < 100; tries++) {
		if ((mine.sequence = next_sequence(s, &mine.ticket,
		    error)) < 0) {
			rc = STORE_FAILED;
			goto out;
		}
		bson_reinit(&doc);
		BSON_APPEND_OID(&doc, "_id", &mine.id);
		BSON_APPEND_OID(&doc, "ticketId", &mine.ticket);
		BSON_APPEND_INT64(&doc, "sequence", mine.sequence);
		BSON_APPEND_UTF8(&doc, "user", mine.user);
		BSON_APPEND_UTF8(&doc, "message", mine.message);
		BSON_APPEND_DATE_TIME(&doc, "createdAt", mine.created_ms);
		BSON_APPEND_UTF8(&doc, "owner", owner);
		BSON_APPEND_UTF8(&doc, "requestId", mine.request_id != NULL ?
		    mine.request_id : "");
		append_event(&doc, &mine);
		pending_key(&mine.ticket, mine.sequence, claim, sizeof claim);
		bson_reinit(&pending);
		BSON_APPEND_UTF8(&pending, "_id", claim);
		BSON_APPEND_UTF8(&pending, "eventId", event_id);
		BSON_APPEND_UTF8(&pending, "owner", owner);
		BSON_APPEND_DATE_TIME(&pending, "createdAt", mine.created_ms);
		BSON_APPEND_DOCUMENT(&pending, "reply", &doc);
		if (!mongoc_collection_insert_one(s->pending, &pending, NULL,
		    NULL, error)) {
			if (!svc_db_duplicate(error)) {
				rc = STORE_FAILED;
				goto out;
			}
			continue;
		}
		if (mongoc_collection_insert_one(s->replies, &doc, NULL, NULL,
		    error)) {
			bson_destroy(first);
			bson_copy_to(&doc, first);
			goto out;
		}
		/* Not stored: its pending event must not go out. (Should this
		 * fail too, the event of a reply that is there goes out
		 * again: a duplicate its receiver drops by id.) */
		tk_store_delete_id(s->pending, claim, &ignored);
		if (!svc_db_duplicate(error)) {
			rc = STORE_FAILED;
			goto out;
		}
		/* A duplicate: of the reply's _id, when the first request
		 * with this key stored it (return that); else of its
		 * sequence number, drawn again after its first holder's
		 * pending event was settled (draw another). FerretDB does
		 * not say which index refused it. */
		bson_destroy(first);
		if (!tk_store_find_by_id(s->replies, &mine.id, first, &found,
		    error)) {
			rc = STORE_FAILED;
			goto out;
		}
		if (found) {
			rc = key != NULL ? STORE_REPEATED : STORE_FAILED;
			if (key == NULL)
				bson_set_error(error, MONGOC_ERROR_COLLECTION,
				    0, "a new reply's id is taken");
			goto out;
		}
		bson_reinit(first);
	}
	bson_set_error(error, MONGOC_ERROR_COLLECTION, 0,
	    "no free sequence number after %d tries", tries);
	rc = STORE_FAILED;
out:
	bson_destroy(&doc);
	bson_destroy(&pending);
	return rc;
}

char *
tk_store_event_json(const bson_t *reply_doc)
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

bool
tk_store_event_doc(struct tk_store *s, const char *event_id, bson_t *doc,
    bool *found, bson_error_t *error)
{
	bson_oid_t oid;

	if (!svc_event_reply_oid(event_id, &oid)) {
		*found = false;
		bson_init(doc);
		return true;
	}
	return tk_store_find_by_id(s->replies, &oid, doc, found, error);
}

long
tk_store_events_since(struct tk_store *s, int64_t since_ms, long limit,
    void (*fn)(const bson_t *doc, void *arg), void *arg, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, gte, opts = BSON_INITIALIZER, sort;
	long n = 0;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "createdAt", &gte);
	BSON_APPEND_DATE_TIME(&gte, "$gte", since_ms);
	bson_append_document_end(&filter, &gte);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(s->replies, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		fn(doc, arg);
		n++;
	}
	if (mongoc_cursor_error(cur, error))
		n = -1;
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return n;
}
