/*
 * adopt.c - what processes that died left undelivered, taken over.
 *
 * Every process heartbeats an "instances" document under its owner name
 * (host:pid:start). An owner that stopped beating for STALE_MS, or one on
 * this host whose process is gone (its pid runs no more, or runs another
 * process, started at another time), is dead; the live instance with the
 * smallest name adopts its pending events and its backlogs (one adopter,
 * without a lock: tk_delivery_adopts decides), when an instance died, at
 * start, and every minute. Adopted events go out as this process's;
 * should it die too, they still name an owner that is dead, and the next
 * adopter takes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"

#define STALE_MS 15000          /* an instance silent this long is dead */

/* The start time of process pid as its owner name says it, "0" when it
 * is gone or a zombie: a pid reused by another process, or a process that
 * died but was not reaped yet, is not the one that made the events. */
static void
process_start(long pid, char *buf, size_t size)
{
	struct svc_proc p;

	if (!svc_proc_read(pid, &p) || p.state == 'Z' || p.state == 'X')
		snprintf(buf, size, "0");
	else
		snprintf(buf, size, "%llu", p.start);
}

void
tk_owner_name(char *buf, size_t size)
{
	char host[256] = "localhost", start[32];

	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	process_start((long)getpid(), start, sizeof start);
	snprintf(buf, size, "%s:%ld:%s", host, (long)getpid(), start);
}

/* An owner on this host whose process is gone is dead now, without
 * waiting for its heartbeat to go stale. */
static bool
owner_alive(const char *owner)
{
	char host[256], start[32], me[256], now_start[32];
	long pid;

	if (sscanf(owner, "%255[^:]:%ld:%31s", host, &pid, start) != 3)
		return true;
	/* On another host, only its heartbeat can tell. */
	if (gethostname(me, sizeof me) != 0 || strcmp(me, host) != 0)
		return true;
	process_start(pid, now_start, sizeof now_start);
	return strcmp(now_start, start) == 0;
}

bool
tk_outbox_event_input(const bson_t *doc, struct tk_delivery_input *in,
    char **body)
{
	bson_iter_t it;
	char hex[25];

	memset(in, 0, sizeof *in);
	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return false;
	bson_oid_copy(bson_iter_oid(&it), &in->id);
	if (body == NULL)
		return true;
	if ((*body = tk_store_event_json(doc)) == NULL)
		return false;
	in->body = *body;
	in->len = strlen(*body);
	if (bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		in->created_ms = bson_iter_date_time(&it);
	/* The pending event's _id: the claim, as the ticket and number
	 * name it unless the reply was stored under another number. */
	if (bson_iter_init_find(&it, doc, "claim") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		snprintf(in->pending, sizeof in->pending, "%s",
		    bson_iter_utf8(&it, NULL));
	else if (bson_iter_init_find(&it, doc, "ticketId") &&
	    BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_to_string(bson_iter_oid(&it), hex);
		snprintf(in->pending, sizeof in->pending, "%s|%" PRId64, hex,
		    bson_iter_init_find(&it, doc, "sequence") ?
		    bson_iter_as_int64(&it) : (int64_t)0);
	}
	/* The receiver's log can name the request the reply came from. */
	if (bson_iter_init_find(&it, doc, "requestId") &&
	    BSON_ITER_HOLDS_UTF8(&it) && *bson_iter_utf8(&it, NULL) != '\0')
		snprintf(in->rid, sizeof in->rid, "X-Request-Id: %s",
		    bson_iter_utf8(&it, NULL));
	return true;
}

static void
adopt_one(const bson_t *reply, void *arg)
{
	struct tk_outbox *o = arg;
	struct tk_delivery_input in;
	char *body = NULL;

	if (!tk_outbox_event_input(reply, &in, NULL) ||
	    tk_delivery_knows(o->machine, &in.id) ||
	    !tk_outbox_event_input(reply, &in, &body))
		return;
	tk_delivery_add(o->machine, &in, DELIVERY_ADOPTED, NULL, svc_now_ms());
	cJSON_free(body);
}

/* Takes in an event parked by a process that died: it goes to that one
 * subscriber, parked in this process's backlog. */
static void
adopt_parked(const bson_t *doc, void *arg)
{
	struct tk_outbox *o = arg;
	const char *event_id = NULL, *sub = NULL, *rid = "";
	struct tk_delivery_input in;
	int attempts = 0;
	bool replay = false;
	bson_iter_t it;
	uint32_t len = 0;

	memset(&in, 0, sizeof in);
	if (!bson_iter_init(&it, doc))
		return;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_UTF8(&it)) {
			if (strcmp(k, "eventId") == 0)
				event_id = bson_iter_utf8(&it, NULL);
			else if (strcmp(k, "subscription") == 0)
				sub = bson_iter_utf8(&it, NULL);
			else if (strcmp(k, "body") == 0)
				in.body = bson_iter_utf8(&it, &len);
			else if (strcmp(k, "rid") == 0)
				rid = bson_iter_utf8(&it, NULL);
		} else if (strcmp(k, "createdAt") == 0 &&
		    BSON_ITER_HOLDS_DATE_TIME(&it))
			in.created_ms = bson_iter_date_time(&it);
		else if (strcmp(k, "attempts") == 0 &&
		    BSON_ITER_HOLDS_INT32(&it))
			attempts = bson_iter_int32(&it);
		else if (strcmp(k, "replay") == 0 && BSON_ITER_HOLDS_BOOL(&it))
			replay = bson_iter_bool(&it);
	}
	if (event_id == NULL || sub == NULL || in.body == NULL ||
	    strncmp(event_id, "evt_", 4) != 0 ||
	    strlen(event_id + 4) != 24 ||
	    !bson_oid_is_valid(event_id + 4, 24))
		return;
	bson_oid_init_from_string(&in.id, event_id + 4);
	in.len = len;
	snprintf(in.rid, sizeof in.rid, "%s", rid);
	tk_delivery_adopt_parked(o->machine, &in, sub, attempts, replay,
	    svc_now_ms());
}

/* The live owners: those that beat lately, less those of this host whose
 * process is gone. NULL on error. */
static char **
live_owners(struct tk_outbox *o)
{
	char **live = NULL;
	bson_error_t error;
	size_t i, j;

	if (!tk_store_instances(o->store, STALE_MS, &live, &error)) {
		tk_outbox_db_warn(o, "reading instances", &error);
		bson_strfreev(live);
		return NULL;
	}
	for (i = j = 0; live[i] != NULL; i++) {
		if (strcmp(live[i], o->owner) != 0 && !owner_alive(live[i])) {
			bson_free(live[i]);
			continue;
		}
		live[j++] = live[i];
	}
	live[j] = NULL;
	return live;
}

void
tk_outbox_sweep(struct tk_outbox *o, bool full)
{
	char **live, **names = NULL, **p;
	bson_error_t error;
	bool adopter;

	if ((live = live_owners(o)) == NULL)
		return;
	adopter = tk_delivery_adopts(o->owner, live, o->live, full);
	bson_strfreev(o->live);
	o->live = live;
	if (!adopter)
		return;
	if (!tk_store_orphans(o->store, live, adopt_one, o, &error))
		tk_outbox_db_warn(o, "adopting the events of stopped processes",
		    &error);
	if (!tk_store_orphan_backlogs(o->store, live, &names, &error)) {
		tk_outbox_db_warn(o,
		    "looking for backlogs of stopped processes", &error);
		bson_strfreev(names);
		return;
	}
	for (p = names; *p != NULL; p++) {
		if (!tk_store_backlog_each(o->store, *p, adopt_parked, o,
		    &error)) {
			tk_outbox_db_warn(o, "adopting a backlog", &error);
			break;
		}
		/* In this process's backlog before theirs goes. */
		tk_outbox_flush(o, true);
		if (o->n_parks > 0)
			break;
		if (!tk_store_unpark(o->store, *p, &error)) {
			tk_outbox_db_warn(o, "dropping an adopted backlog",
			    &error);
			break;
		}
		svc_log(SVC_INFO, "outbox: adopted backlog %s", *p);
	}
	bson_strfreev(names);
}
