/*
 * replyevent.c - the reply event's wire format, the one place that says
 * it: the tickets service writes it (stored with the reply, then POSTed
 * to every subscriber) and the reply feed reads it, keeps it and shows it
 * again in its latest replies.
 *
 *   {"id": "evt_<the reply's 24 hex>", "type": "reply.created",
 *    "createdAt": "2026-11-26T10:00:00.123Z", "ticketId": "<24 hex>",
 *    "title": "...", "user": "...", "message": "..."}
 *
 * The tickets service adds "sequence" (the reply's number in its ticket);
 * a reader ignores what it does not know. The article's own tickets
 * service sent only ticketId, title, user and message: id, type and
 * createdAt may be missing.
 */
#include <stdio.h>
#include <string.h>

#include "service.h"

void
svc_event_id(const bson_oid_t *reply, char *buf, size_t size)
{
	char hex[25];

	bson_oid_to_string(reply, hex);
	snprintf(buf, size, "%s%s", SVC_EVENT_ID_PREFIX, hex);
}

bool
svc_event_reply_oid(const char *id, bson_oid_t *reply)
{
	size_t n = strlen(SVC_EVENT_ID_PREFIX);

	if (strncmp(id, SVC_EVENT_ID_PREFIX, n) != 0 || !svc_is_oid(id + n))
		return false;
	bson_oid_init_from_string(reply, id + n);
	return true;
}

bool
svc_event_id_usable(const char *id)
{
	return svc_is_printable(id, SVC_EVENT_ID_MAX);
}

void
svc_event_append(bson_t *doc, const struct svc_event *ev)
{
	char when[32];

	svc_iso_time(ev->created_ms, when, sizeof when);
	BSON_APPEND_UTF8(doc, "id", ev->id);
	BSON_APPEND_UTF8(doc, "type", ev->type);
	BSON_APPEND_UTF8(doc, "createdAt", when);
	BSON_APPEND_UTF8(doc, "ticketId", ev->ticket_id);
	BSON_APPEND_UTF8(doc, "title", ev->title);
	BSON_APPEND_UTF8(doc, "user", ev->user);
	BSON_APPEND_UTF8(doc, "message", ev->message);
}

cJSON *
svc_event_json(const struct svc_event *ev)
{
	cJSON *out = cJSON_CreateObject();
	char when[32];

	svc_iso_time(ev->created_ms, when, sizeof when);
#define PUT(key, value) do {                                            \
	if ((value) != NULL)                                            \
		cJSON_AddStringToObject(out, (key), (value));           \
} while (0)
	PUT("id", ev->id);
	PUT("type", ev->type);
	PUT("ticketId", ev->ticket_id);
	PUT("title", ev->title);
	PUT("user", ev->user);
	PUT("message", ev->message);
	PUT("createdAt", when);
#undef PUT
	return out;
}

/* The optional string field name: *out is the fallback when it is absent.
 * false (with a 400) when it is there but not an acceptable string. */
static bool
optional_string(const cJSON *body, const char *name, size_t max,
    const char *fallback, const char **out, struct svc_response *resp)
{
	if (cJSON_GetObjectItemCaseSensitive(body, name) == NULL) {
		*out = fallback;
		return true;
	}
	return (*out = svc_field_string(body, name, max, false, resp)) != NULL;
}

bool
svc_event_read(const cJSON *body, struct svc_event *ev, bool *has_created,
    struct svc_response *resp)
{
	const char *created;

	if ((ev->ticket_id = svc_field_string(body, "ticketId", 24, false,
	    resp)) == NULL)
		return false;
	if (!svc_is_oid(ev->ticket_id)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "ticketId must be 24 hexadecimal digits");
		return false;
	}
	if ((ev->user = svc_field_string(body, "user", SVC_EVENT_USER_MAX,
	    false, resp)) == NULL ||
	    (ev->message = svc_field_string(body, "message",
	    SVC_EVENT_MESSAGE_MAX, false, resp)) == NULL ||
	    (ev->title = svc_field_string(body, "title", SVC_EVENT_TITLE_MAX,
	    true, resp)) == NULL)
		return false;
	if (!optional_string(body, "id", SVC_EVENT_ID_MAX, NULL, &ev->id,
	    resp))
		return false;
	if (ev->id != NULL && !svc_event_id_usable(ev->id)) {
		svc_response_error(resp, 400, "invalid request",
		    "field 'id' must be printable ASCII");
		return false;
	}
	if (!optional_string(body, "type", SVC_EVENT_TYPE_MAX, SVC_EVENT_TYPE,
	    &ev->type, resp) ||
	    !optional_string(body, "createdAt", SVC_EVENT_TIME_MAX, NULL,
	    &created, resp))
		return false;
	*has_created = created != NULL;
	if (created != NULL && !svc_parse_iso_time(created, &ev->created_ms)) {
		svc_response_error(resp, 400, "invalid request",
		    "field 'createdAt' must be an ISO-8601 date and time with "
		    "a time zone, such as 2026-11-26T10:00:00.123Z");
		return false;
	}
	return true;
}
