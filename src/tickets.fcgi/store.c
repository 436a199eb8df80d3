/*
 * store.c - the tickets database: tickets, replies (each with its pending
 * event), subscriptions, idempotency keys.
 *
 * FerretDB applies updates as read, modify, write back, so two concurrent
 * updates of one document can lose one. Nothing here updates a shared
 * document on the request path: a reply is an insert of its own document,
 * and the first request with an idempotency key wins by a unique _id.
 */
#include <inttypes.h>
#include <stddef.h>
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

/* Every collection the store uses, opened and closed together. */
static const struct {
	size_t at;
	const char *name;
} collections[] = {
	{ offsetof(struct store, tickets), "tickets" },
	{ offsetof(struct store, replies), "replies" },
	{ offsetof(struct store, subs), "subscriptions" },
	{ offsetof(struct store, idem), "idempotency" },
	{ offsetof(struct store, pending), "pending" },
	{ offsetof(struct store, summaries), "deliveries" },
	{ offsetof(struct store, instances), "instances" },
	{ offsetof(struct store, seqs), "sequences" },
	{ offsetof(struct store, attempts), "attempts" },
	{ offsetof(struct store, substats), "substats" },
	{ offsetof(struct store, dead), "deadletters" },
	{ offsetof(struct store, backlogs), "backlogs" },
};

static mongoc_collection_t **
collection(struct store *s, size_t i)
{
	return (mongoc_collection_t **)((char *)s + collections[i].at);
}

struct store *
store_open(const struct tickets_config *cfg, const char *appname,
    bson_error_t *error)
{
	struct store *s;
	size_t i;

	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->client = svc_db_open(cfg->mongodb_uri, appname, error)) ==
	    NULL) {
		free(s);
		return NULL;
	}
	for (i = 0; i < sizeof collections / sizeof *collections; i++)
		*collection(s, i) = mongoc_client_get_collection(s->client,
		    cfg->db_name, collections[i].name);
	s->db_name = bson_strdup(cfg->db_name);
	return s;
}

void
store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof collections / sizeof *collections; i++)
		mongoc_collection_destroy(*collection(s, i));
	mongoc_client_destroy(s->client);
	bson_free(s->db_name);
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
	/* A sequence number is a ticket's reply once: FerretDB's $inc can
	 * hand one out twice, and the pending event that claimed it is gone
	 * once settled, so the reply's own insert is what refuses the
	 * second (store_add_reply draws again). Then a ticket's sequence
	 * counts its replies (replyCount), more only by a request that
	 * failed after drawing its number. */
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

/* Hands each stored reply of ticket id to v->reply, oldest first: one
 * query on ticketId, which an index serves at any size. */
static bool
each_reply(struct store *s, const bson_t *ticket, const struct store_visit *v,
    bson_error_t *error)
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
store_each_ticket(struct store *s, const struct store_visit *v,
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
store_reply_seq(struct store *s, const bson_oid_t *id, int64_t *seq,
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
store_tickets_brief(struct store *s, size_t max, bson_error_t *error)
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
store_tickets_page(struct store *s, const bson_oid_t *after, int limit,
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
		    (ok = store_reply_seq(s, bson_iter_oid(&it), &seq, error)))
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

/* The next sequence number of a ticket's replies. On MongoDB the $inc is
 * atomic; on FerretDB two concurrent ones may return the same number, and
 * the unique (ticketId, sequence) index makes the second insert fail and
 * take another: numbers may skip, never repeat. */
static int64_t
next_sequence(struct store *s, const bson_oid_t *ticket, bson_error_t *error)
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
	BSON_APPEND_INT64(&ev, "sequence", r->sequence);
	bson_append_document_end(doc, &ev);
}

/* Finds a document by _id (on FerretDB through the GIN index of
 * spawn/db-indexes.conf; its own _id index serves no filter). out is
 * always initialised; the caller destroys it. */
static bool
find_by_id(mongoc_collection_t *coll, const bson_oid_t *id, bson_t *out,
    bool *found, bson_error_t *error)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	*found = false;
	bson_init(out);
	BSON_APPEND_OID(&filter, "_id", id);
	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		*found = true;
		bson_destroy(out);
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

/* "<ticket hex>|<sequence>": a pending event's _id, which claims its
 * sequence number. */
static void
pending_key(const bson_oid_t *ticket, int64_t seq, char *buf, size_t size)
{
	char hex[25];

	bson_oid_to_string(ticket, hex);
	snprintf(buf, size, "%s|%" PRId64, hex, seq);
}

static bool
delete_id(mongoc_collection_t *coll, const char *id, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	bool ok;

	BSON_APPEND_UTF8(&filter, "_id", id);
	ok = mongoc_collection_delete_one(coll, &filter, NULL, NULL, error);
	bson_destroy(&filter);
	return ok;
}

/* The reply is stored in two inserts. First its pending event, whose _id
 * claims the ticket's next sequence number (two concurrent replies that
 * drew the same number from FerretDB's non-atomic $inc: one insert wins,
 * the other draws again) and which holds the whole reply. Then the reply,
 * whose only unique key is its _id. Whoever finds a pending event of a
 * process that died inserts its reply again: a duplicate _id means it was
 * there, anything else that it is now; either way the event goes out, and
 * a reply never exists without its event. */
enum store_add
store_add_reply(struct store *s, const struct reply *r, const char *owner,
    const char *key, const char *hash, bson_t *first, bson_error_t *error)
{
	struct reply mine = *r;
	bson_t doc = BSON_INITIALIZER, pending = BSON_INITIALIZER;
	enum store_add rc = STORE_ADDED;
	bson_error_t ignored;
	char claim[64], event_id[32], hex[25];
	bool found;
	int tries;

	bson_init(first);
	if (key != NULL) {
		rc = claim_key(s, key, hash, &mine.id, error);
		if (rc != STORE_ADDED)
			goto out;
	}
	bson_oid_to_string(&mine.id, hex);
	snprintf(event_id, sizeof event_id, "evt_%s", hex);
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
		delete_id(s->pending, claim, &ignored);
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
		if (!find_by_id(s->replies, &mine.id, first, &found, error)) {
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
store_subscribe(struct store *s, const char *url, long max, bool *created,
    bool *full, bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER,
	    update = BSON_INITIALIZER, set, unset, all = BSON_INITIALIZER;
	bson_oid_t oid;
	int64_t n;
	bool ok;

	*created = *full = false;
	/* At the cap only a renewal goes through: its url is there. */
	n = mongoc_collection_count_documents(s->subs, &all, NULL, NULL, NULL,
	    error);
	bson_destroy(&all);
	if (n < 0)
		return false;
	if (n >= max) {
		BSON_APPEND_UTF8(&filter, "url", url);
		n = mongoc_collection_count_documents(s->subs, &filter, NULL,
		    NULL, NULL, error);
		bson_destroy(&filter);
		if (n < 0)
			return false;
		if (n == 0) {
			*full = true;
			return true;
		}
		bson_init(&filter);
	}
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_UTF8(&doc, "url", url);
	BSON_APPEND_DATE_TIME(&doc, "createdAt", svc_now_ms());
	BSON_APPEND_UTF8(&doc, "state", "active");
	ok = mongoc_collection_insert_one(s->subs, &doc, NULL, NULL, error);
	*created = ok;
	/* Subscribing again is a renewal: the unique url says it is there;
	 * one that was disabled (410, or failing for a day) is enabled. */
	if (!ok && svc_db_duplicate(error)) {
		BSON_APPEND_UTF8(&filter, "url", url);
		BSON_APPEND_UTF8(&filter, "state", "disabled");
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", "active");
		BSON_APPEND_DATE_TIME(&set, "enabledAt", svc_now_ms());
		bson_append_document_end(&update, &set);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
		BSON_APPEND_UTF8(&unset, "disabledAt", "");
		BSON_APPEND_UTF8(&unset, "disabledReason", "");
		bson_append_document_end(&update, &unset);
		ok = mongoc_collection_update_one(s->subs, &filter, &update,
		    NULL, NULL, error);
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&update);
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
	{
		bson_t ne;

		BSON_APPEND_DOCUMENT_BEGIN(&filter, "state", &ne);
		BSON_APPEND_UTF8(&ne, "$ne", "disabled");
		bson_append_document_end(&filter, &ne);
	}
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

/* Builds {field: {$in: [values]}} (or $nin) into filter. */
static void
append_in(bson_t *filter, const char *field, const char *op,
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

static size_t
count(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

bool
store_settle(struct store *s, bson_t *const *summaries, size_t n_summaries,
    char *const *pending, size_t n_pending, bson_error_t *error)
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
	if (ok && n_pending > 0) {
		append_in(&filter, "_id", "$in", pending, n_pending);
		ok = mongoc_collection_delete_many(s->pending, &filter, NULL,
		    NULL, error);
	}
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

bool
store_orphans(struct store *s, char **live,
    void (*fn)(const bson_t *reply, void *arg), void *arg,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bool ok;

	append_in(&filter, "owner", "$nin", live, count(live));
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(s->pending, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		const uint8_t *data;
		uint32_t len;
		bson_t reply;
		bson_error_t dup;

		if (!bson_iter_init_find(&it, doc, "reply") ||
		    !BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&reply, data, len))
			continue;
		/* Stored again: a duplicate _id says it was there already. */
		if (!mongoc_collection_insert_one(s->replies, &reply, NULL, NULL,
		    &dup) && !svc_db_duplicate(&dup))
			continue;	/* the database failed: next sweep */
		fn(&reply, arg);
	}
	ok = !mongoc_cursor_error(cur, error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ok;
}

/* ---- backlogs: events parked for subscribers that failed ---- */

bool
store_park(struct store *s, const char *name, const char *owner,
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
store_unpark(struct store *s, const char *name, bson_error_t *error)
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
	ok = delete_id(s->backlogs, name, error);
	return ok;
}

bool
store_orphan_backlogs(struct store *s, char **live, char ***names,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_iter_t it;
	size_t n = 0, cap = 8;
	bool ok;

	*names = bson_malloc0(cap * sizeof **names);
	append_in(&filter, "owner", "$nin", live, count(live));
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
store_backlog_each(struct store *s, const char *name,
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

/* ---- what the outbox records, and the views of it ---- */

bool
store_attempts(struct store *s, const struct attempt *a, size_t n,
    bson_error_t *error)
{
	bson_t **docs;
	bson_t opts = BSON_INITIALIZER;
	size_t i;
	bool ok;

	if (n == 0)
		return true;
	if ((docs = calloc(n, sizeof *docs)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		docs[i] = bson_new();
		BSON_APPEND_UTF8(docs[i], "eventId", a[i].event_id);
		BSON_APPEND_UTF8(docs[i], "subscription", a[i].sub);
		BSON_APPEND_UTF8(docs[i], "url", a[i].url);
		BSON_APPEND_INT32(docs[i], "attempt", a[i].number);
		BSON_APPEND_DATE_TIME(docs[i], "at", a[i].at_ms);
		BSON_APPEND_INT32(docs[i], "status", a[i].status);
		BSON_APPEND_BOOL(docs[i], "ok", a[i].error[0] == '\0');
		if (a[i].error[0] != '\0')
			BSON_APPEND_UTF8(docs[i], "error", a[i].error);
		BSON_APPEND_INT64(docs[i], "ms", a[i].ms);
		if (a[i].replay)
			BSON_APPEND_BOOL(docs[i], "replay", true);
	}
	BSON_APPEND_BOOL(&opts, "ordered", false);
	ok = mongoc_collection_insert_many(s->attempts, (const bson_t **)docs,
	    n, &opts, NULL, error);
	for (i = 0; i < n; i++)
		bson_destroy(docs[i]);
	free(docs);
	bson_destroy(&opts);
	return ok;
}

static bool
upsert(mongoc_collection_t *coll, const char *id, const bson_t *set,
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

bool
store_substats(struct store *s, const char *owner, const char *sub,
    const struct sub_stats *st, bson_error_t *error)
{
	bson_t set = BSON_INITIALIZER;
	char id[400];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", sub, owner);
	BSON_APPEND_UTF8(&set, "subscription", sub);
	BSON_APPEND_UTF8(&set, "owner", owner);
	if (st->last_success_ms > 0)
		BSON_APPEND_DATE_TIME(&set, "lastSuccess", st->last_success_ms);
	if (st->last_failure_ms > 0)
		BSON_APPEND_DATE_TIME(&set, "lastFailure", st->last_failure_ms);
	BSON_APPEND_INT32(&set, "consecutiveFailures", st->failures);
	BSON_APPEND_INT32(&set, "lastStatus", st->last_status);
	BSON_APPEND_UTF8(&set, "lastError", st->last_error);
	BSON_APPEND_DATE_TIME(&set, "updatedAt", svc_now_ms());
	ok = upsert(s->substats, id, &set, error);
	bson_destroy(&set);
	return ok;
}

bool
store_disable(struct store *s, const char *sub, const char *reason,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_oid_t oid;
	bool ok;

	if (!svc_is_oid(sub))
		return true;
	bson_oid_init_from_string(&oid, sub);
	BSON_APPEND_OID(&filter, "_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", "disabled");
	BSON_APPEND_DATE_TIME(&set, "disabledAt", svc_now_ms());
	BSON_APPEND_UTF8(&set, "disabledReason", reason);
	bson_append_document_end(&update, &set);
	ok = mongoc_collection_update_one(s->subs, &filter, &update, NULL,
	    NULL, error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return ok;
}

bool
store_deadletter(struct store *s, const char *event_id, const char *sub,
    const char *url, int attempts, int status, const char *reason,
    bson_error_t *error)
{
	bson_t set = BSON_INITIALIZER;
	char id[64];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", event_id, sub);
	BSON_APPEND_UTF8(&set, "eventId", event_id);
	BSON_APPEND_UTF8(&set, "subscription", sub);
	BSON_APPEND_UTF8(&set, "url", url);
	BSON_APPEND_INT32(&set, "attempts", attempts);
	BSON_APPEND_INT32(&set, "lastStatus", status);
	BSON_APPEND_UTF8(&set, "reason", reason);
	BSON_APPEND_DATE_TIME(&set, "at", svc_now_ms());
	ok = upsert(s->dead, id, &set, error);
	bson_destroy(&set);
	return ok;
}

bool
store_deadletter_drop(struct store *s, const char *event_id, const char *sub,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	char id[64];
	bool ok;

	snprintf(id, sizeof id, "%s|%s", event_id, sub);
	BSON_APPEND_UTF8(&filter, "_id", id);
	ok = mongoc_collection_delete_one(s->dead, &filter, NULL, NULL, error);
	bson_destroy(&filter);
	return ok;
}

/* Every document of coll matching filter, as JSON, in sort order (NULL:
 * any), at most limit (0: all); "_id" renamed "id" unless keep_id. */
static cJSON *
find_json(mongoc_collection_t *coll, const bson_t *filter, const bson_t *sort,
    int64_t limit, bool keep_id, bson_error_t *error)
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

/* One subscription as the endpoints show it: its document, and what the
 * processes saw of it summed up (the latest news wins). */
static void
summarize(cJSON *sub, const cJSON *stats, const cJSON *dead)
{
	const cJSON *st, *latest = NULL, *d;
	const char *id = svc_json_str(sub, "id"), *best = "", *last_ok = "",
	    *last_fail = "";
	int dead_n = 0;

	cJSON_ArrayForEach(st, stats) {
		const char *ok = svc_json_str(st, "lastSuccess");
		const char *fail = svc_json_str(st, "lastFailure");
		const char *when = strcmp(ok, fail) > 0 ? ok : fail;

		if (strcmp(svc_json_str(st, "subscription"), id) != 0)
			continue;
		/* ISO-8601 UTC strings of one format sort as time does. */
		if (strcmp(ok, last_ok) > 0)
			last_ok = ok;
		if (strcmp(fail, last_fail) > 0)
			last_fail = fail;
		if (latest == NULL || strcmp(when, best) > 0) {
			latest = st;
			best = when;
		}
	}
	cJSON_ArrayForEach(d, dead)
		dead_n += strcmp(svc_json_str(d, "subscription"), id) == 0;
	if (*last_ok)
		cJSON_AddStringToObject(sub, "lastSuccess", last_ok);
	if (*last_fail)
		cJSON_AddStringToObject(sub, "lastFailure", last_fail);
	cJSON_AddNumberToObject(sub, "consecutiveFailures", latest != NULL ?
	    cJSON_GetNumberValue(cJSON_GetObjectItem(latest,
	    "consecutiveFailures")) : 0);
	if (latest != NULL && *svc_json_str(latest, "lastError"))
		cJSON_AddStringToObject(sub, "lastError",
		    svc_json_str(latest, "lastError"));
	cJSON_AddNumberToObject(sub, "deadLetters", dead_n);
	if (strcmp(svc_json_str(sub, "state"), "disabled") != 0) {
		cJSON_DeleteItemFromObject(sub, "state");
		cJSON_AddStringToObject(sub, "state",
		    cJSON_GetNumberValue(cJSON_GetObjectItem(sub,
		    "consecutiveFailures")) > 0 ? "failing" : "active");
	}
}

cJSON *
store_subscription_view(struct store *s, const char *sub, bool *found,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, all = BSON_INITIALIZER,
	    sort = BSON_INITIALIZER;
	cJSON *subs, *stats = NULL, *dead = NULL, *it, *one = NULL;
	bson_oid_t oid;

	*found = false;
	if (sub != NULL) {
		if (!svc_is_oid(sub))
			return NULL;
		bson_oid_init_from_string(&oid, sub);
		BSON_APPEND_OID(&filter, "_id", &oid);
	}
	BSON_APPEND_INT32(&sort, "createdAt", 1);
	subs = find_json(s->subs, &filter, &sort, 0, false, error);
	if (subs != NULL)
		stats = find_json(s->substats, &all, NULL, 0, true, error);
	if (stats != NULL)
		dead = find_json(s->dead, &all, NULL, 0, true, error);
	if (dead == NULL) {
		cJSON_Delete(subs);
		subs = NULL;
		goto out;
	}
	cJSON_ArrayForEach(it, subs)
		summarize(it, stats, dead);
	*found = cJSON_GetArraySize(subs) > 0;
	if (sub != NULL) {
		one = *found ? cJSON_DetachItemFromArray(subs, 0) : NULL;
		cJSON_Delete(subs);
		subs = one;
	}
out:
	cJSON_Delete(stats);
	cJSON_Delete(dead);
	bson_destroy(&filter);
	bson_destroy(&all);
	bson_destroy(&sort);
	return subs;
}

/* The reply id in an event id "evt_<24 hex>". */
static bool
event_oid(const char *event_id, bson_oid_t *oid)
{
	if (strncmp(event_id, "evt_", 4) != 0 || !svc_is_oid(event_id + 4))
		return false;
	bson_oid_init_from_string(oid, event_id + 4);
	return true;
}

bool
store_event_doc(struct store *s, const char *event_id, bson_t *doc,
    bool *found, bson_error_t *error)
{
	bson_oid_t oid;

	if (!event_oid(event_id, &oid)) {
		*found = false;
		bson_init(doc);
		return true;
	}
	return find_by_id(s->replies, &oid, doc, found, error);
}

cJSON *
store_event_view(struct store *s, const char *event_id, bool *found,
    bson_error_t *error)
{
	bson_t doc, filter = BSON_INITIALIZER, sort = BSON_INITIALIZER,
	    by_id = BSON_INITIALIZER;
	cJSON *out = NULL, *reply, *attempts = NULL, *dead = NULL,
	    *pending = NULL, *summary = NULL, *deliveries;

	if (!store_event_doc(s, event_id, &doc, found, error) || !*found) {
		bson_destroy(&doc);
		return NULL;
	}
	BSON_APPEND_UTF8(&filter, "eventId", event_id);
	BSON_APPEND_INT32(&sort, "at", 1);
	BSON_APPEND_UTF8(&by_id, "_id", event_id);
	if ((attempts = find_json(s->attempts, &filter, &sort, 1000, true,
	    error)) == NULL ||
	    (dead = find_json(s->dead, &filter, NULL, 0, true, error)) ==
	    NULL ||
	    (pending = find_json(s->pending, &filter, NULL, 1, true,
	    error)) == NULL ||
	    (summary = find_json(s->summaries, &by_id, NULL, 1, true,
	    error)) == NULL)
		goto out;
	reply = svc_bson_to_json(&doc);
	out = cJSON_CreateObject();
	cJSON_AddItemToObject(out, "event",
	    cJSON_DetachItemFromObject(reply, "event"));
	cJSON_Delete(reply);
	/* Settled: delivered to every subscriber, or kept as a dead letter
	 * for those it could not reach. */
	cJSON_AddBoolToObject(out, "settled",
	    cJSON_GetArraySize(pending) == 0 && cJSON_GetArraySize(summary) > 0);
	deliveries = cJSON_DetachItemFromObject(cJSON_GetArrayItem(summary, 0),
	    "subscriptions");
	cJSON_AddItemToObject(out, "deliveries", deliveries != NULL ?
	    deliveries : cJSON_CreateArray());
	cJSON_AddItemToObject(out, "failedAttempts", attempts);
	cJSON_AddItemToObject(out, "deadLetters", dead);
	attempts = dead = NULL;
out:
	cJSON_Delete(attempts);
	cJSON_Delete(dead);
	cJSON_Delete(pending);
	cJSON_Delete(summary);
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&sort);
	bson_destroy(&by_id);
	return out;
}

cJSON *
store_deadletters(struct store *s, const char *sub, bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER, sort = BSON_INITIALIZER;
	cJSON *list;

	if (sub != NULL)
		BSON_APPEND_UTF8(&filter, "subscription", sub);
	BSON_APPEND_INT32(&sort, "at", -1);
	list = find_json(s->dead, &filter, &sort, 1000, true, error);
	bson_destroy(&filter);
	bson_destroy(&sort);
	return list;
}

bool
store_deadletter_subs(struct store *s, const char *event_id, char ***subs,
    bson_error_t *error)
{
	bson_t filter = BSON_INITIALIZER;
	cJSON *list, *d;
	size_t n = 0;

	BSON_APPEND_UTF8(&filter, "eventId", event_id);
	list = find_json(s->dead, &filter, NULL, 0, true, error);
	bson_destroy(&filter);
	*subs = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof **subs);
	cJSON_ArrayForEach(d, list)
		(*subs)[n++] = bson_strdup(svc_json_str(d, "subscription"));
	cJSON_Delete(list);
	return list != NULL;
}

long
store_events_since(struct store *s, int64_t since_ms, long limit,
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

bool
store_sub_exists(struct store *s, const char *sub, bool *found,
    bson_error_t *error)
{
	bson_oid_t oid;
	bson_t doc;
	bool ok;

	*found = false;
	if (!svc_is_oid(sub))
		return true;
	bson_oid_init_from_string(&oid, sub);
	ok = find_by_id(s->subs, &oid, &doc, found, error);
	bson_destroy(&doc);
	return ok;
}
