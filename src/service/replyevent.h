/*
 * replyevent.h - the reply event, the message of the tickets service to
 * its subscribers (the reply feed among them): its wire format is written
 * and read only through these (replyevent.c). Part of the service frame;
 * service.h includes it.
 */
#ifndef REPLYEVENT_H
#define REPLYEVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>
#include <cjson/cJSON.h>

struct svc_response;

/* One event, its fields as sent. Strings are borrowed. */
struct svc_event {
	const char *id;             /* "evt_<the reply's 24 hex>" */
	const char *type;           /* SVC_EVENT_TYPE */
	const char *ticket_id;      /* 24 hex digits */
	const char *title;
	const char *user;
	const char *message;
	int64_t created_ms;         /* when the reply was made */
};

/* The type of every event sent, and assumed when one comes without. */
#define SVC_EVENT_TYPE "reply.created"
#define SVC_EVENT_ID_PREFIX "evt_"

/* What a reader takes at most: the tickets service's own limits where the
 * fields come from it, bounded for a database everywhere. */
#define SVC_EVENT_ID_MAX 100
#define SVC_EVENT_TYPE_MAX 64
#define SVC_EVENT_USER_MAX 200
#define SVC_EVENT_MESSAGE_MAX 10000
#define SVC_EVENT_TITLE_MAX 1000
#define SVC_EVENT_TIME_MAX 40

/* The id of the event of reply (size 32 is room enough). */
void svc_event_id(const bson_oid_t *reply, char *buf, size_t size);

/* The reply of event id; false when id is not one svc_event_id makes. */
bool svc_event_reply_oid(const char *id, bson_oid_t *reply);

/* Whether id may name an event (a database key, a log line): 1 to
 * SVC_EVENT_ID_MAX printable ASCII characters. */
bool svc_event_id_usable(const char *id);

/* Appends ev's fields to doc (an open document): the event as it is sent,
 * createdAt as its ISO-8601 text. */
void svc_event_append(bson_t *doc, const struct svc_event *ev);

/* ev as a JSON object (fields that are NULL left out); caller frees with
 * cJSON_Delete(). */
cJSON *svc_event_json(const struct svc_event *ev);

/* Reads an event's fields from body into ev (strings owned by body):
 * ticketId, user, message and title must be there; id (NULL when absent),
 * type (SVC_EVENT_TYPE when absent) and createdAt (*has_created false and
 * ev->created_ms untouched when absent) may not be. false with a 400 in
 * resp when a field is missing or wrong. */
bool svc_event_read(const cJSON *body, struct svc_event *ev,
    bool *has_created, struct svc_response *resp);

#endif /* REPLYEVENT_H */
