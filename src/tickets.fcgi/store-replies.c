/*
 * store-replies.c - a reply and its event: the sequence number it claims,
 * the idempotency key that makes a repeat apply once, the pending event
 * that holds it until the outbox stores it, and the reply documents read
 * back by event id or time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

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
 * with that key chose (*again set). The claim and the reply's pending
 * event are two inserts; if a process dies between them, the repeat
 * stores the reply with the claimed id. */
static enum tk_store_add
claim_key(struct tk_store *s, const char *key, const char *hash,
    bson_oid_t *reply_id, bool *again, bson_error_t *error)
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
	    BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_copy(bson_iter_oid(&it), reply_id);
		*again = true;
	}
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

/* The next number to claim for ticket, above floor (the highest this
 * request saw taken): drawn from the host's count (claims.h), which a
 * worker reads from "sequences" when nobody on the host did for a while;
 * without a slot for the ticket, from "sequences" each time. */
static bool
next_number(struct tk_store *s, struct tk_claim_slot *slot,
    const bson_oid_t *ticket, int64_t floor, int64_t *next,
    bson_error_t *error)
{
	int64_t now = svc_now_ms(), last;

	if (slot == NULL || !tk_claims_fresh(slot, now)) {
		if (!tk_store_reply_seq(s, ticket, &last, error))
			return false;
		if (last < floor)
			last = floor;
		if (slot == NULL) {
			*next = last + 1;
			return true;
		}
		tk_claims_seed(slot, last, now);
	}
	tk_claims_taken(slot, floor);
	*next = tk_claims_draw(slot);
	return true;
}

/* The reply that the first request with an idempotency key stored, as
 * pending or stored (in that order: the outbox stores a reply before it
 * deletes its pending event, so one of the two reads sees it). */
static bool
first_reply(struct tk_store *s, const bson_oid_t *id, bson_t *first,
    bool *found, bson_error_t *error)
{
	char event_id[32];

	svc_event_id(id, event_id, sizeof event_id);
	bson_destroy(first);
	return tk_store_event_doc(s, event_id, first, found, error);
}

/* The reply's one commit before its answer: its pending event, which
 * holds the whole reply and whose _id "<ticket>|<sequence>" claims the
 * ticket's next sequence number. The number is drawn from the host's
 * count (claims.h): a duplicate _id means another host (or a count read
 * back from the database) holds it pending, and the next is tried. The
 * outbox stores the reply ("replies") before it sends the event and
 * deletes the pending one; until then the reads of a ticket merge the
 * pending replies in. A number a stored reply holds already (settled
 * before this host's count saw it: another host's, mostly) is not looked
 * for here, which would cost every reply a read: the outbox finds it
 * when it stores the reply and stores it under the next free number
 * (renumber); the answer carries no number, and the event goes out
 * after. Numbers never repeat, and skip only when a request fails after
 * its claim or a reply is stored under a number above those pending. */
enum tk_store_add
tk_store_add_reply(struct tk_store *s, struct tk_claims *claims,
    const struct tk_reply *r, const char *owner, const char *key,
    const char *hash, bson_t *first, bson_error_t *error)
{
	struct tk_reply mine = *r;
	struct tk_claim_slot *slot;
	int64_t floor = 0;
	bson_t doc = BSON_INITIALIZER, pending = BSON_INITIALIZER;
	enum tk_store_add rc = STORE_ADDED;
	char claim[64], event_id[32];
	bool again = false, found;
	int tries;

	bson_init(first);
	if (key != NULL) {
		rc = claim_key(s, key, hash, &mine.id, &again, error);
		if (rc != STORE_ADDED)
			goto out;
	}
	if (again) {
		if (!first_reply(s, &mine.id, first, &found, error)) {
			rc = STORE_FAILED;
			goto out;
		}
		if (found) {
			rc = STORE_REPEATED;
			goto out;
		}
		/* The first request died before its pending event: this one
		 * stores the reply, with the id that request chose. */
	}
	svc_event_id(&mine.id, event_id, sizeof event_id);
	slot = claims != NULL ? tk_claims_slot(claims, &mine.ticket) : NULL;
	if (slot != NULL)
		mine.created_ms = tk_claims_stamp(slot, mine.created_ms);
	for (tries = 0; tries < 100; tries++) {
		if (!next_number(s, slot, &mine.ticket, floor,
		    &mine.sequence, error)) {
			rc = STORE_FAILED;
			goto out;
		}
		pending_key(&mine.ticket, mine.sequence, claim, sizeof claim);
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
		bson_reinit(&pending);
		BSON_APPEND_UTF8(&pending, "_id", claim);
		BSON_APPEND_UTF8(&pending, "eventId", event_id);
		BSON_APPEND_OID(&pending, "ticketId", &mine.ticket);
		BSON_APPEND_INT64(&pending, "sequence", mine.sequence);
		BSON_APPEND_UTF8(&pending, "owner", owner);
		BSON_APPEND_DATE_TIME(&pending, "createdAt", mine.created_ms);
		BSON_APPEND_DOCUMENT(&pending, "reply", &doc);
		if (mongoc_collection_insert_one(s->pending, &pending, NULL,
		    NULL, error)) {
			bson_destroy(first);
			bson_copy_to(&doc, first);
			goto out;
		}
		if (!svc_db_duplicate(error)) {
			rc = STORE_FAILED;
			goto out;
		}
		floor = mine.sequence;
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

/* Pending first, then stored: the outbox stores a reply before it
 * deletes its pending event, so a reply accepted before this read is
 * seen by one of the two. */
bool
tk_store_event_doc(struct tk_store *s, const char *event_id, bson_t *doc,
    bool *found, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, pending, reply;
	bson_oid_t oid;
	bool ok;

	if (!svc_event_reply_oid(event_id, &oid)) {
		*found = false;
		bson_init(doc);
		return true;
	}
	BSON_APPEND_UTF8(&filter, "eventId", event_id);
	ok = tk_store_find_one(s->pending, &filter, &pending, found, error);
	bson_destroy(&filter);
	if (ok && *found && tk_store_held_reply(&pending, &reply)) {
		bson_copy_to(&reply, doc);
		bson_destroy(&pending);
		return true;
	}
	bson_destroy(&pending);
	if (!ok)
		return false;
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

/* Raises each ticket's "sequences" document to the highest number of
 * its stored replies ($max: a stale raise never lowers it), before
 * their pending events go (tk_store_settle): a number no longer pending
 * is one "sequences" counts. FerretDB
 * applies an update as read, modify, write back, so two processes that
 * raise one ticket at the same moment may leave the lower of the two:
 * the next raise of that ticket mends it, and until then a worker that
 * reads it claims numbers taken already, which it sees and skips. */
bool
tk_store_raise_seqs(struct tk_store *s, const struct tk_seqs *max,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, op,
	    opts = BSON_INITIALIZER;
	bool ok = true;
	size_t i;
	int tries;

	BSON_APPEND_BOOL(&opts, "upsert", true);
	for (i = 0; ok && i < max->n; i++) {
		bson_reinit(&filter);
		bson_reinit(&update);
		BSON_APPEND_OID(&filter, "_id", &max->v[i].ticket);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$max", &op);
		BSON_APPEND_INT64(&op, "seq", max->v[i].last);
		bson_append_document_end(&update, &op);
		/* Two first raises of a ticket at once: one upsert inserts,
		 * the other's insert is refused (E11000) and it updates. */
		for (tries = 0; tries < 2; tries++) {
			ok = mongoc_collection_update_one(s->seqs, &filter,
			    &update, &opts, NULL, error);
			if (ok || !svc_db_duplicate(error))
				break;
		}
	}
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return ok;
}

/* The indexes of docs that the insert refused as duplicates. */
static void
refused(const bson_t *reply, bool *dup, size_t n)
{
	bson_iter_t it, e, f;

	if (!bson_iter_init_find(&it, reply, "writeErrors") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &e))
		return;
	while (bson_iter_next(&e)) {
		int64_t index = -1, code = 0;

		if (!BSON_ITER_HOLDS_DOCUMENT(&e) || !bson_iter_recurse(&e, &f))
			continue;
		while (bson_iter_next(&f)) {
			if (strcmp(bson_iter_key(&f), "index") == 0)
				index = bson_iter_as_int64(&f);
			else if (strcmp(bson_iter_key(&f), "code") == 0)
				code = bson_iter_as_int64(&f);
		}
		if (index >= 0 && (size_t)index < n &&
		    (code == 11000 || code == 11001))
			dup[index] = true;
	}
}

/* The ticket and sequence number of reply document doc. */
static bool
reply_number(const bson_t *doc, bson_oid_t *ticket, int64_t *seq)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, "ticketId") ||
	    !BSON_ITER_HOLDS_OID(&it))
		return false;
	bson_oid_copy(bson_iter_oid(&it), ticket);
	if (!bson_iter_init_find(&it, doc, "sequence") ||
	    !BSON_ITER_HOLDS_INT64(&it))
		return false;
	*seq = bson_iter_int64(&it);
	return true;
}

/* The highest number that coll's documents of ticket hold (0 for none):
 * one query on ticketId, which an index serves; in "replies", it reads
 * all of the ticket's (FerretDB sorts none). */
static bool
ticket_high(mongoc_collection_t *coll, const bson_oid_t *ticket,
    int64_t *high, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	bson_iter_t it;
	bool ok;

	*high = 0;
	BSON_APPEND_OID(&filter, "ticketId", ticket);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "sequence", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc))
		if (bson_iter_init_find(&it, doc, "sequence") &&
		    bson_iter_as_int64(&it) > *high)
			*high = bson_iter_as_int64(&it);
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return ok;
}

/* Stores reply *doc, whose number a stored reply holds, under the
 * ticket's next free number: above "sequences", above every number
 * pending for the ticket (which their own replies will store) and above
 * its own; should that be taken too ("sequences" far behind), above the
 * ticket's stored replies. *doc becomes the document stored, which its
 * event is made from. Should the reply turn out stored meanwhile
 * (adopted), that one stands. */
static bool
renumber(struct tk_store *s, struct tk_claims *claims, bson_t **doc,
    bson_error_t *error)
{
	struct tk_claim_slot *slot;
	struct tk_seqs one = { NULL, 0, 0 };
	bson_oid_t ticket, id;
	bson_iter_t it;
	bson_t *again, stored;
	int64_t taken, last, held;
	char hex[25];
	bool ok, found;
	int tries;

	if (!reply_number(*doc, &ticket, &taken) ||
	    !bson_iter_init_find(&it, *doc, "_id") ||
	    !BSON_ITER_HOLDS_OID(&it)) {
		bson_set_error(error, MONGOC_ERROR_BSON,
		    MONGOC_ERROR_BSON_INVALID, "a pending reply without its "
		    "ticket, number or id");
		return false;
	}
	bson_oid_copy(bson_iter_oid(&it), &id);
	if (!tk_store_reply_seq(s, &ticket, &last, error) ||
	    !ticket_high(s->pending, &ticket, &held, error))
		return false;
	if (last < taken)
		last = taken;
	if (last < held)
		last = held;
	for (tries = 0; tries < 100; tries++) {
		again = tk_reply_renumbered(*doc, ++last);
		if (mongoc_collection_insert_one(s->replies, again, NULL, NULL,
		    error)) {
			bson_oid_to_string(&id, hex);
			svc_log(SVC_WARN, "reply %s: its number %" PRId64
			    " was another reply's; stored as %" PRId64, hex,
			    taken, last);
			bson_destroy(*doc);
			*doc = again;
			/* The host's count steps past it at once (a count
			 * that drew one taken number draws the next ones
			 * too), and "sequences" counts it now: the pending
			 * event's _id, which the flush raises it by, names
			 * the number lost. */
			if (claims != NULL &&
			    (slot = tk_claims_slot(claims, &ticket)) != NULL)
				tk_claims_taken(slot, last);
			tk_seqs_saw(&one, &ticket, last);
			ok = tk_store_raise_seqs(s, &one, error);
			tk_seqs_clear(&one);
			return ok;
		}
		bson_destroy(again);
		if (!svc_db_duplicate(error))
			return false;
		if (!tk_store_find_by_id(s->replies, &id, &stored, &found,
		    error))
			return false;
		if (found) {
			bson_destroy(*doc);
			*doc = bson_copy(&stored);
			bson_destroy(&stored);
			return true;
		}
		bson_destroy(&stored);
		if (tries == 0) {
			if (!ticket_high(s->replies, &ticket, &held, error))
				return false;
			if (last < held)
				last = held;
		}
	}
	bson_set_error(error, MONGOC_ERROR_COLLECTION, 0,
	    "no free sequence number after %d tries", tries);
	return false;
}

bool
tk_store_keep_replies(struct tk_store *s, struct tk_claims *claims,
    bson_t **docs, size_t n, bool *keep, bson_error_t *error)
{
	bson_t opts = BSON_INITIALIZER, reply, stored;
	bson_iter_t it;
	bool ok, *dup, found;
	size_t i;

	if (n == 0)
		return true;
	dup = bson_malloc0(n * sizeof *dup);
	BSON_APPEND_BOOL(&opts, "ordered", false);
	ok = mongoc_collection_insert_many(s->replies, (const bson_t **)docs,
	    n, &opts, &reply, error);
	if (!ok && svc_db_duplicate(error)) {
		refused(&reply, dup, n);
		ok = true;
	}
	bson_destroy(&reply);
	for (i = 0; ok && i < n; i++) {
		keep[i] = true;
		if (!dup[i])
			continue;
		/* There already (stored again, or its pending event was
		 * adopted): the stored one is the reply, its number
		 * included. Else its number is another reply's. */
		if (!bson_iter_init_find(&it, docs[i], "_id") ||
		    !BSON_ITER_HOLDS_OID(&it)) {
			keep[i] = false;
			continue;
		}
		ok = tk_store_find_by_id(s->replies, bson_iter_oid(&it),
		    &stored, &found, error);
		if (ok && found) {
			bson_destroy(docs[i]);
			docs[i] = bson_copy(&stored);
		} else if (ok)
			ok = renumber(s, claims, &docs[i], error);
		bson_destroy(&stored);
	}
	bson_destroy(&opts);
	free(dup);
	return ok;
}
