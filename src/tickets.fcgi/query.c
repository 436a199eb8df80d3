/*
 * query.c - GET /tickets and GET /tickets/{id}: the ticket queries, the
 * ones a version started with --fail-rate fails at random.
 *
 * The answer to GET /tickets is kept, while it is small enough, and built
 * again only when a reply was added (the host's generation counter moved,
 * bumped before that reply's 200) or after a few seconds (a write from
 * another host, or straight into the database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

/* The article's 1.0.1 failed half its queries; ours fails what it is told. */
static bool
inject_failure(struct tk_app *app, struct svc_response *resp)
{
	if (app->cfg->fail_rate <= 0 ||
	    (double)rand_r(&app->seed) / RAND_MAX >= app->cfg->fail_rate)
		return false;
	svc_response_error(resp, 500, "injected failure",
	    "tickets %s fails ticket queries at random (fail rate %.2f)",
	    app->cfg->version, app->cfg->fail_rate);
	return true;
}

/*
 * The list is written ticket by ticket, and each ticket reply by reply, so
 * that nothing holds the whole of it: at a million replies it is some
 * 150 MB. While it is short enough to keep (list_cache_max) it is made
 * in memory first, kept, and answered with an ETag; past that it is made
 * again as it is sent.
 */
struct list_writer {
	struct svc_buf *buf;        /* in memory: the body so far */
	size_t limit;               /* in memory: its longest */
	svc_write_fn *write;        /* streamed: where bytes go */
	void *out;
	bool over;                  /* in memory, and past the limit */
	bool first_ticket, first_reply;
};

static bool
emit(struct list_writer *w, const char *s, size_t n)
{
	if (w->write != NULL) {
		w->write(w->out, s, n);
		return true;
	}
	if (w->buf->len + n > w->limit) {
		w->over = true;
		return false;
	}
	svc_buf_append(w->buf, s, n);
	return true;
}

static bool
emit_json(struct list_writer *w, cJSON *json, size_t drop_tail)
{
	char *text = cJSON_PrintUnformatted(json);
	bool ok;

	cJSON_Delete(json);
	if (text == NULL)
		return false;
	ok = emit(w, text, strlen(text) - drop_tail);
	cJSON_free(text);
	return ok;
}

static bool
reply_out(void *arg, cJSON *reply)
{
	struct list_writer *w = arg;

	if (!w->first_reply && !emit(w, ",", 1)) {
		cJSON_Delete(reply);
		return false;
	}
	w->first_reply = false;
	return emit_json(w, reply, 0);
}

/* A ticket without its "replies", open: `{..., "replies":[` and the
 * replies it was loaded with. */
static bool
ticket_out(void *arg, cJSON *ticket)
{
	struct list_writer *w = arg;
	cJSON *loaded = cJSON_DetachItemFromObjectCaseSensitive(ticket,
	    "replies"), *r;
	bool ok;

	ok = (w->first_ticket || emit(w, ",", 1)) &&
	    emit_json(w, ticket, 1) && emit(w, ",\"replies\":[", 12);
	w->first_ticket = false;
	w->first_reply = true;
	while (ok && cJSON_IsArray(loaded) &&
	    (r = cJSON_DetachItemFromArray(loaded, 0)) != NULL)
		ok = reply_out(w, r);
	cJSON_Delete(loaded);
	return ok;
}

static bool
ticket_end(void *arg)
{
	return emit(arg, "]}", 2);
}

/* Writes the list into w; false on a database error (error set) or when
 * w is in memory and the list is longer than can be kept. */
static bool
write_list(struct tk_app *app, struct list_writer *w,
    bson_error_t *error)
{
	const struct tk_store_visit v = { ticket_out, reply_out, ticket_end,
	    w };

	memset(error, 0, sizeof *error);
	w->first_ticket = true;
	return emit(w, "[", 1) && tk_store_each_ticket(app->store, &v, error) &&
	    emit(w, "]", 1);
}

static bool
stream_list(void *arg, svc_write_fn *write, void *out)
{
	struct list_writer w = { .write = write, .out = out };
	bson_error_t error;

	if (write_list(arg, &w, &error))
		return true;
	svc_log(SVC_ERROR, "tickets list cut short: %s", error.message);
	return false;
}

/* Makes the list in memory and keeps it; false with c->too_long when it is
 * too long to keep, false with resp set on a database error. */
static bool
rebuild(struct tk_app *app, struct svc_response *resp)
{
	struct tk_cache *c = &app->cache;
	struct svc_buf buf = { 0 };
	struct list_writer w = { .buf = &buf,
	    .limit = app->cfg->list_cache_max };
	bson_error_t error;
	uint64_t gen;

	/* Read before the query: a reply added meanwhile moves it again. */
	gen = svc_gen_read(app->gen);
	if (!write_list(app, &w, &error)) {
		svc_buf_free(&buf);
		if (!w.over) {
			svc_db_fail(resp, "tickets query", &error);
			return false;
		}
		buf = (struct svc_buf){ 0 };
	}
	svc_buf_free(&c->body);
	c->body = buf;
	c->too_long = w.over;
	c->gen = gen;
	c->built_ms = svc_now_ms();
	if (w.over)
		return false;
	snprintf(c->etag, sizeof c->etag, "\"%016llx\"",
	    (unsigned long long)svc_hash(buf.data, buf.len));
	return true;
}

/* A page from the kept tickets, each copied with its accepted replies
 * added to its replyCount; NULL on a database error, or with error->code
 * 0 when there are too many tickets to keep. */
static cJSON *
page_from_brief(struct tk_app *app, const char *after, long limit,
    bson_error_t *error)
{
	struct tk_brief *b = &app->brief;
	struct tk_seqs pending = { NULL, 0, 0 };
	cJSON *page, *t;
	long n = 0;

	memset(error, 0, sizeof *error);
	if (svc_now_ms() - b->built_ms > TICKETS_CACHE_MS ||
	    (b->list == NULL && !b->too_many)) {
		cJSON_Delete(b->list);
		b->list = tk_store_tickets_brief(app->store, TICKETS_BRIEF_MAX,
		    error);
		b->too_many = b->list == NULL && error->code == 0;
		b->built_ms = b->list != NULL || b->too_many ? svc_now_ms() : 0;
	}
	if (b->list == NULL)
		return NULL;
	if (!tk_store_pending_seqs(app->store, &pending, error))
		return NULL;
	page = cJSON_CreateArray();
	cJSON_ArrayForEach(t, b->list) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(t,
		    "_id"));
		cJSON *copy, *count;
		bson_oid_t oid;
		int64_t seq;

		/* Lowercase hex compares as the ObjectId's bytes do. */
		if (id == NULL || (*after != '\0' && strcmp(id, after) <= 0))
			continue;
		if (n++ == limit)
			break;
		copy = cJSON_Duplicate(t, true);
		cJSON_AddItemToArray(page, copy);
		if (!svc_is_oid(id))
			continue;
		bson_oid_init_from_string(&oid, id);
		if (!tk_store_reply_count(app->store, &oid, &pending, &seq,
		    error)) {
			cJSON_Delete(page);
			tk_seqs_clear(&pending);
			return NULL;
		}
		count = cJSON_GetObjectItem(copy, "replyCount");
		cJSON_SetNumberValue(count, cJSON_GetNumberValue(count) +
		    (double)seq);
	}
	tk_seqs_clear(&pending);
	return page;
}

/* ?limit=N&after=ID: one page of the list (our extension). Returns false
 * when the query has neither, true with resp set otherwise. */
static bool
query_page(struct tk_app *app, const struct svc_request *req,
    struct svc_response *resp)
{
	char limit_s[16] = "", after_s[32] = "";
	bson_oid_t after;
	bson_error_t error;
	cJSON *list, *last;
	long limit = TICKETS_PAGE_DEFAULT;
	char *end;

	if (*req->query == '\0')
		return false;
	if (!svc_query_params(req->query, "limit", limit_s, sizeof limit_s,
	    "after", after_s, sizeof after_s)) {
		svc_response_error(resp, 400, "invalid request", "the "
		    "parameters are limit (1 to %d) and after (a ticket id)",
		    TICKETS_PAGE_MAX);
		return true;
	}
	if (*limit_s != '\0') {
		limit = strtol(limit_s, &end, 10);
		if (*end != '\0' || limit < 1 || limit > TICKETS_PAGE_MAX) {
			svc_response_error(resp, 400, "invalid request",
			    "limit is a number from 1 to %d",
			    TICKETS_PAGE_MAX);
			return true;
		}
	}
	if (*after_s != '\0' && !svc_is_oid(after_s)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "after is a ticket id of 24 hexadecimal digits");
		return true;
	}
	list = page_from_brief(app, after_s, limit, &error);
	if (list == NULL && error.code == 0) {
		if (*after_s != '\0')
			bson_oid_init_from_string(&after, after_s);
		list = tk_store_tickets_page(app->store,
		    *after_s ? &after : NULL, (int)limit, &error);
	}
	if (list == NULL) {
		svc_db_fail(resp, "tickets query", &error);
		return true;
	}
	/* A full page may have a next one: where it starts. */
	last = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
	if (cJSON_GetArraySize(list) == limit && last != NULL)
		svc_response_header(resp, "Link", "<%s/tickets?limit=%ld&"
		    "after=%s>; rel=\"next\"", req->script_name, limit,
		    cJSON_GetStringValue(cJSON_GetObjectItem(last, "_id")));
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
	return true;
}

void
tk_query(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	struct tk_cache *c = &app->cache;
	const char *match;

	if (inject_failure(app, resp))
		return;
	if (query_page(app, req, resp))
		return;
	if (app->gen == NULL || (c->body.data == NULL && !c->too_long) ||
	    c->gen != svc_gen_read(app->gen) ||
	    svc_now_ms() - c->built_ms > TICKETS_CACHE_MS) {
		if (!rebuild(app, resp) && resp->status != 200)
			return;
	}
	/* Too long to keep: made again as it is sent (not tried in memory
	 * again until it may have changed). */
	if (c->too_long) {
		svc_response_stream(resp, 200, "application/json",
		    stream_list, app);
		return;
	}
	svc_response_header(resp, "ETag", "%s", c->etag);
	match = svc_request_param(req, "HTTP_IF_NONE_MATCH");
	if (match != NULL && strstr(match, c->etag) != NULL) {
		svc_response_raw(resp, 304, "application/json", "", 0);
		return;
	}
	svc_response_raw(resp, 200, "application/json", c->body.data,
	    c->body.len);
}

void
tk_query_one(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	const char *id = strrchr(req->path, '/') + 1;
	bson_error_t error;
	bson_oid_t oid;
	bool found;
	cJSON *ticket;

	if (!svc_is_oid(id)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "a ticket id is 24 hexadecimal digits");
		return;
	}
	if (inject_failure(app, resp))
		return;
	bson_oid_init_from_string(&oid, id);
	ticket = tk_store_ticket(app->store, &oid, &found, &error);
	if (ticket == NULL && error.code != 0) {
		svc_db_fail(resp, "ticket query", &error);
		return;
	}
	if (!found) {
		svc_response_error(resp, 404, "ticket not found",
		    "no ticket has id %s", id);
		return;
	}
	svc_response_json(resp, 200, ticket);
	cJSON_Delete(ticket);
}
