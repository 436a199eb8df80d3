/*
 * query.c - GET /tickets and GET /tickets/{id}: the ticket queries, the
 * ones a version started with --fail-rate fails at random.
 *
 * FerretDB decodes every reply for GET /tickets, so its answer is kept and
 * built again only when a reply was added (the host's generation counter
 * moved, bumped before that reply's 200) or after a few seconds (a write
 * from another host, or straight into the database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickets.h"

/* The article's 1.0.1 failed half its queries; ours fails what it is told. */
static bool
inject_failure(struct tickets_app *app, struct svc_response *resp)
{
	if (app->cfg->fail_rate <= 0 ||
	    (double)rand_r(&app->seed) / RAND_MAX >= app->cfg->fail_rate)
		return false;
	svc_response_error(resp, 500, "injected failure",
	    "tickets %s fails ticket queries at random (fail rate %.2f)",
	    app->cfg->version, app->cfg->fail_rate);
	return true;
}

/* FNV-1a: an ETag that is the same for the same bytes, in every process. */
static uint64_t
fnv1a(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	while (len-- > 0) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool
rebuild(struct tickets_app *app, struct svc_response *resp)
{
	struct tickets_cache *c = &app->cache;
	bson_error_t error;
	uint64_t gen;
	cJSON *list;
	char *text;

	/* Read before the query: a reply added meanwhile moves it again. */
	gen = svc_gen_read(app->gen);
	if ((list = store_tickets(app->store, &error)) == NULL) {
		svc_db_fail(resp, "tickets query", &error);
		return false;
	}
	text = cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	if (text == NULL) {
		svc_response_error(resp, 500, "internal error",
		    "could not format the tickets");
		return false;
	}
	cJSON_free(c->body);
	c->body = text;
	c->len = strlen(text);
	c->gen = gen;
	c->built_ms = svc_now_ms();
	snprintf(c->etag, sizeof c->etag, "\"%016llx\"",
	    (unsigned long long)fnv1a(text, c->len));
	return true;
}

void
tickets_query(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
	struct tickets_cache *c = &app->cache;
	const char *match;

	if (inject_failure(app, resp))
		return;
	if ((app->gen == NULL || c->body == NULL ||
	    c->gen != svc_gen_read(app->gen) ||
	    svc_now_ms() - c->built_ms > TICKETS_CACHE_MS) &&
	    !rebuild(app, resp))
		return;
	svc_response_header(resp, "ETag", "%s", c->etag);
	match = svc_request_param(req, "HTTP_IF_NONE_MATCH");
	if (match != NULL && strstr(match, c->etag) != NULL) {
		svc_response_raw(resp, 304, "application/json", "", 0);
		return;
	}
	svc_response_raw(resp, 200, "application/json", c->body, c->len);
}

void
tickets_query_one(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tickets_app *app = arg;
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
	ticket = store_ticket(app->store, &oid, &found, &error);
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
