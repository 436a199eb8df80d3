/*
 * event.c - POST /replyEvent: a reply event from the tickets service.
 *
 * Events come at least once, so an event id seen before is acknowledged
 * (200, "duplicate": true) and not stored again. The article's own tickets
 * service sends only ticketId, title, user and message; such events are
 * taken too, under an id made here.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "replyfeed.h"

/* ---- time ---- */

/* n decimal digits at *p, advancing it; false if there are fewer. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm(), no time zone database. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

bool
replyfeed_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
	int sign = 0;

	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
	    !expect(&s, '-') || !digits(&s, 2, &d))
		return false;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return false;
	s++;
	if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
	    !expect(&s, ':') || !digits(&s, 2, &sec))
		return false;
	if (*s == '.' || *s == ',') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		/* Milliseconds are kept; finer digits are read and dropped. */
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	/* A time without a zone is local to somebody unknown: refused. */
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!digits(&s, 2, &oh))
			return false;
		if (*s == ':')
			s++;
		if (!digits(&s, 2, &om))
			return false;
	} else
		return false;
	if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return false;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - sign * (oh * 3600 + om * 60)) * 1000) + frac;
	return true;
}

/* ---- fields ---- */

/* An event id goes into a database key and into log lines. */
static bool
usable_id(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > REPLYFEED_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isprint((unsigned char)id[i]))
			return false;
	return true;
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

/* Fills ev from body, checking every field; false with a 400 in resp when
 * one is missing or wrong. made is room for an id made here. */
static bool
read_fields(const cJSON *body, const struct svc_request *req,
    struct event *ev, char *made, size_t made_size,
    struct svc_response *resp)
{
	const char *header, *created;
	bson_oid_t oid;
	char hex[25];

	if ((ev->ticket_id = svc_field_string(body, "ticketId", 24, false,
	    resp)) == NULL)
		return false;
	if (!svc_is_oid(ev->ticket_id)) {
		svc_response_error(resp, 400, "invalid ticket id",
		    "ticketId must be 24 hexadecimal digits");
		return false;
	}
	if ((ev->user = svc_field_string(body, "user", REPLYFEED_USER_MAX,
	    false, resp)) == NULL ||
	    (ev->message = svc_field_string(body, "message",
	    REPLYFEED_MESSAGE_MAX, false, resp)) == NULL ||
	    (ev->title = svc_field_string(body, "title", REPLYFEED_TITLE_MAX,
	    true, resp)) == NULL)
		return false;

	if (!optional_string(body, "id", REPLYFEED_ID_MAX, NULL, &ev->id,
	    resp))
		return false;
	if (ev->id != NULL && !usable_id(ev->id)) {
		svc_response_error(resp, 400, "invalid request",
		    "field 'id' must be printable ASCII");
		return false;
	}
	/* Without an id in the body, the delivery's webhook-id header still
	 * names the event; without either, each delivery is a new event. */
	header = svc_request_param(req, "HTTP_WEBHOOK_ID");
	if (ev->id == NULL && header != NULL && usable_id(header))
		ev->id = header;
	if (ev->id == NULL) {
		bson_oid_init(&oid, NULL);
		bson_oid_to_string(&oid, hex);
		snprintf(made, made_size, "evt_%s", hex);
		ev->id = made;
	}

	if (!optional_string(body, "type", REPLYFEED_TYPE_MAX,
	    REPLYFEED_DEFAULT_TYPE, &ev->type, resp) ||
	    !optional_string(body, "createdAt", REPLYFEED_TIME_MAX, NULL,
	    &created, resp))
		return false;
	if (created == NULL)
		ev->created_ms = ev->received_ms;
	else if (!replyfeed_parse_time(created, &ev->created_ms)) {
		svc_response_error(resp, 400, "invalid request",
		    "field 'createdAt' must be an ISO-8601 date and time with "
		    "a time zone, such as 2026-11-26T10:00:00.123Z");
		return false;
	}
	return true;
}

/* ---- signature ---- */

/* Whether the event comes from who it says. This is where Standard
 * Webhooks verification goes (issue "Events that are never lost, never
 * forged"): the webhook-id, webhook-timestamp and webhook-signature
 * headers checked against the configured secrets over the raw body
 * (req->body, req->body_len), answering 401 with the reason when they do
 * not hold. Until then every event is taken. */
static bool
event_verify(const struct svc_request *req, struct svc_response *resp,
    const struct replyfeed_app *app)
{
	(void)req;
	(void)resp;
	(void)app;
	return true;
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
replyfeed_event(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct replyfeed_app *app = arg;
	char made[32], from[64];
	struct event ev;
	bson_error_t error;
	bool duplicate;
	cJSON *body, *out;

	if ((body = svc_parse_body(req, resp)) == NULL)
		return;
	if (!event_verify(req, resp, app))
		goto done;
	memset(&ev, 0, sizeof ev);
	ev.received_ms = svc_now_ms();
	if (!read_fields(body, req, &ev, made, sizeof made, resp))
		goto done;
	if (!store_insert(app->store, &ev, &duplicate, &error)) {
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
