/*
 * comment.c - POST /tickets/addComment {"ticketId","user","message"}.
 *
 * The reply is stored only after its pending event (store-replies.c says
 * why), so no reply exists without its event; the event goes out from the
 * outbox after the client has its answer. With an Idempotency-Key, a
 * repeat applies nothing and answers what the first request was answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tickets.h"

/* What the request asks, hashed: the same key with another request is
 * the client's mistake (422), not a repeat. */
static void
request_hash(const char *ticket, const char *user, const char *message,
    char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	/* NUL separators: fields cannot run into each other. */
	EVP_DigestUpdate(ctx, ticket, strlen(ticket) + 1);
	EVP_DigestUpdate(ctx, user, strlen(user) + 1);
	EVP_DigestUpdate(ctx, message, strlen(message) + 1);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The answer to an accepted reply, from its stored document, so that a
 * repeat gets the same bytes as the first. */
static void
answer(struct svc_response *resp, const bson_t *doc)
{
	cJSON *all = svc_bson_to_json(doc), *out = cJSON_CreateObject();
	cJSON *ev = cJSON_GetObjectItem(all, "event");
	static const char *const keep[] = { "ticketId", "user", "message",
	    "createdAt" };
	size_t i;

	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddStringToObject(out, "id",
	    cJSON_GetStringValue(cJSON_GetObjectItem(all, "_id")));
	for (i = 0; i < sizeof keep / sizeof *keep; i++) {
		cJSON *v = cJSON_DetachItemFromObject(all, keep[i]);
		if (v != NULL)
			cJSON_AddItemToObject(out, keep[i], v);
	}
	cJSON_AddStringToObject(out, "eventId",
	    cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id")));
	svc_response_json(resp, 200, out);
	cJSON_Delete(out);
	cJSON_Delete(all);
}

/* The title of ticket id, kept for a while: every reply's event names it,
 * and tickets do not change through this service. 1 and *title (owned by
 * app) when the ticket exists, 0 when it does not, -1 on a database
 * error. */
static int
ticket_title(struct tk_app *app, const bson_oid_t *id,
    const char **title, bson_error_t *error)
{
	struct tk_title *t = NULL;
	int64_t now = svc_now_ms();
	char *fresh = NULL;
	bool found;
	size_t i;

	for (i = 0; i < app->n_titles && t == NULL; i++)
		if (bson_oid_equal(&app->titles[i].id, id))
			t = &app->titles[i];
	if (t != NULL && now - t->at_ms < TICKETS_TITLE_MS) {
		*title = t->title;
		return 1;
	}
	if (!tk_store_ticket_title(app->store, id, &fresh, &found, error))
		return -1;
	if (!found)
		return 0;
	if (t == NULL) {
		/* Few tickets, many replies: a full table starts again. */
		if (app->n_titles == TICKETS_TITLES_MAX) {
			for (i = 0; i < app->n_titles; i++)
				bson_free(app->titles[i].title);
			app->n_titles = 0;
		}
		if (app->titles == NULL)
			app->titles = bson_malloc0(TICKETS_TITLES_MAX *
			    sizeof *app->titles);
		t = &app->titles[app->n_titles++];
		bson_oid_copy(id, &t->id);
	} else
		bson_free(t->title);
	t->title = fresh;
	t->at_ms = now;
	*title = fresh;
	return 1;
}

void
tk_add_comment(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	const char *ticket, *user, *message, *key;
	char scoped[TICKETS_KEY_MAX + 32], hash[65] = "";
	struct tk_reply reply;
	bson_error_t error;
	bson_t first;
	const char *title;
	cJSON *body;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	if ((ticket = svc_field_string(body, "ticketId", 24, false,
	    resp)) == NULL ||
	    (user = svc_field_string(body, "user", TICKETS_USER_MAX, false,
	    resp)) == NULL ||
	    (message = svc_field_string(body, "message", TICKETS_MESSAGE_MAX,
	    false, resp)) == NULL)
		goto out;
	if (!svc_is_oid(ticket)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "ticketId must be 24 hexadecimal digits");
		goto out;
	}
	key = svc_request_param(req, "HTTP_IDEMPOTENCY_KEY");
	if (key != NULL && !svc_is_printable(key, TICKETS_KEY_MAX)) {
		svc_response_error(resp, 400, "invalid idempotency key",
		    "Idempotency-Key must be 1 to %d printable ASCII characters",
		    TICKETS_KEY_MAX);
		goto out;
	}

	memset(&reply, 0, sizeof reply);
	bson_oid_init_from_string(&reply.ticket, ticket);
	switch (ticket_title(app, &reply.ticket, &title, &error)) {
	case -1:
		svc_db_fail(resp, "addComment", &error);
		goto out;
	case 0:
		svc_response_error(resp, 404, "ticket not found",
		    "no ticket has id %s", ticket);
		goto out;
	}
	bson_oid_init(&reply.id, NULL);
	reply.user = user;
	reply.message = message;
	reply.title = title;
	reply.created_ms = svc_now_ms();
	reply.request_id = req->request_id;
	if (key != NULL) {
		snprintf(scoped, sizeof scoped, "addComment|%s", key);
		request_hash(ticket, user, message, hash);
	}

	switch (tk_store_add_reply(app->store, &app->claims, &reply,
	    app->owner, key != NULL ? scoped : NULL, hash, &first, &error)) {
	case STORE_ADDED:
		/* Before the 200: a GET after it must see this reply. */
		svc_gen_bump(app->gen);
		answer(resp, &first);
		tk_outbox_push(app->outbox, &first);
		svc_log(SVC_INFO, "rid=%s reply added to ticket %s by %s",
		    req->request_id, ticket, user);
		break;
	case STORE_REPEATED:
		answer(resp, &first);
		svc_response_header(resp, "Idempotent-Replayed", "true");
		break;
	case STORE_KEY_REUSED:
		svc_response_error(resp, 422, "idempotency key reused",
		    "this Idempotency-Key was used for a different request");
		break;
	case STORE_FAILED:
		svc_db_fail(resp, "addComment", &error);
		break;
	}
	bson_destroy(&first);
out:
	cJSON_Delete(body);
}
