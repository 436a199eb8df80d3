/*
 * event.c - POST /replyEvent: a reply event from the tickets service.
 *
 * Events come at least once, so an event id seen before is acknowledged
 * (200, "duplicate": true) and not stored again. The article's own tickets
 * service sends only ticketId, title, user and message; such events are
 * taken too, under an id made here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replyfeed.h"

/* ---- fields ---- */

/* Fills ev from body (the wire format's fields, replyevent.c) and names
 * it; false with a 400 in resp when a field is missing or wrong. made is
 * room for an id made here. */
static bool
read_fields(const cJSON *body, const struct svc_request *req,
    int64_t received_ms, struct svc_event *ev, char *made, size_t made_size,
    struct svc_response *resp)
{
	const char *header;
	bool has_created;
	bson_oid_t oid;

	if (!svc_event_read(body, ev, &has_created, resp))
		return false;
	if (!has_created)
		ev->created_ms = received_ms;
	/* Without an id in the body, the delivery's webhook-id header still
	 * names the event; without either, each delivery is a new event. */
	header = svc_request_param(req, "HTTP_WEBHOOK_ID");
	if (header != NULL && !svc_event_id_usable(header)) {
		svc_response_error(resp, 400, "invalid request",
		    "the webhook-id header must be 1 to %d printable ASCII "
		    "characters", SVC_EVENT_ID_MAX);
		return false;
	}
	if (ev->id == NULL && header != NULL)
		ev->id = header;
	/* The signature binds the webhook-id: the body may not name another
	 * event (and slip past the duplicate check under a new id). */
	if (header != NULL && strcmp(ev->id, header) != 0) {
		svc_response_error(resp, 400, "invalid request",
		    "field 'id' differs from the webhook-id header");
		return false;
	}
	if (ev->id == NULL) {
		bson_oid_init(&oid, NULL);
		svc_event_id(&oid, made, made_size);
		ev->id = made;
	}
	return true;
}

/* ---- signature ---- */

/* Whether the event comes from who it says: its Standard Webhooks headers
 * checked against our secrets over the raw body, before anything is read
 * from it. The answer says which check failed; a replay of a genuine
 * event is stopped by the five-minute window and, within it, by the id
 * already stored. */
static bool
event_verify(const struct svc_request *req, struct svc_response *resp,
    const struct rf_app *app)
{
	const char *secrets = app->cfg->events_secret;
	vd_error_t err;
	vd_code_t rc;

	if (secrets == NULL)
		return true;	/* --insecure-no-signature, said at start */
	rc = vd_webhook_verify(secrets,
	    svc_request_param(req, "HTTP_WEBHOOK_ID"),
	    svc_request_param(req, "HTTP_WEBHOOK_TIMESTAMP"),
	    svc_request_param(req, "HTTP_WEBHOOK_SIGNATURE"), req->body,
	    req->body_len, (int64_t)time(NULL), REPLYFEED_TOLERANCE, &err);
	if (rc == VD_OK)
		return true;
	svc_log(SVC_WARN, "rid=%s event refused: %s", req->request_id,
	    err.message);
	if (rc == VD_EINVAL) {
		svc_response_error(resp, 500, "misconfigured",
		    "this receiver's EVENTS_SECRET is malformed");
		return false;
	}
	svc_response_error(resp, 401, rc == VD_ESTALE ? "stale timestamp" :
	    strncmp(err.message, "missing", 7) == 0 ? "missing signature" :
	    "invalid signature", "%s", err.message);
	return false;
}

/* ---- the handler ---- */

/* A user name fit for one log line: no control characters, bounded. */
static void
log_safe(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), i;

	if (n >= size)
		n = size - 1;
	/* Cut between UTF-8 characters, not inside one. */
	while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	buf[n] = '\0';
}

void
rf_event(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct rf_app *app = arg;
	char made[32], from[64];
	struct svc_event ev;
	int64_t received_ms;
	bson_error_t error;
	bool duplicate;
	cJSON *body, *out;

	if (req->body_too_large) {
		svc_response_error(resp, 413, "payload too large",
		    "the body is over %d bytes", SVC_BODY_MAX);
		return;
	}
	if (!event_verify(req, resp, app))
		return;
	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	memset(&ev, 0, sizeof ev);
	received_ms = svc_now_ms();
	if (!read_fields(body, req, received_ms, &ev, made, sizeof made,
	    resp))
		goto done;
	if (!rf_store_insert(app->store, &ev, received_ms, &duplicate,
	    &error)) {
		svc_db_fail(resp, "replyEvent", &error);
		goto done;
	}
	log_safe(ev.user, from, sizeof from);
	if (duplicate)
		svc_log(SVC_INFO, "event repeated id=%s ticket=%s from=%s "
		    "rid=%s: delivered before, ignored", ev.id, ev.ticket_id,
		    from, req->request_id);
	else {
		app->inserted++;
		svc_log(SVC_INFO, "event received id=%s ticket=%s from=%s "
		    "rid=%s", ev.id, ev.ticket_id, from, req->request_id);
		/* Before the 200: a reader after it sees the event. */
		if (!rf_latest_file_add(app->cfg->latest_file, &ev,
		    &error)) {
			svc_log(SVC_WARN, "%s; it is made again from the "
			    "database", error.message);
			app->rebuild = true;
		}
	}
	out = cJSON_CreateObject();
	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddStringToObject(out, "id", ev.id);
	cJSON_AddBoolToObject(out, "duplicate", duplicate);
	svc_response_json(resp, 200, out);
	cJSON_Delete(out);
done:
	cJSON_Delete(body);
}
