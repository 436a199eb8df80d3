/*
 * writes.c - what the delivery thread writes of the machine's decisions,
 * in batches: parked events, summaries of settled events, the pending
 * documents let go (in that order: a pending document goes only once its
 * event is safe elsewhere), the failed attempts, and every couple of
 * seconds the subscribers' states. A batch that fails is written again
 * whole at the next flush: every write is harmless to repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

#define FLUSH_MS 500            /* write what settled or parked this often */
#define FLUSH_BATCH 256
#define STATS_MS 2000           /* write subscriber states this often */
#define MAX_ATTEMPTS_KEPT 20000 /* attempt records waiting for the DB */

void
tk_outbox_park(struct tk_outbox *o, const struct tk_delivery_action *a)
{
	const struct tk_delivery_event *e = a->ev;
	struct tk_park *p;
	char id[64];

	tk_outbox_grow((void **)&o->parks, o->n_parks, &o->cap_parks,
	    sizeof *o->parks);
	p = &o->parks[o->n_parks++];
	p->window = a->window;
	p->doc = bson_new();
	snprintf(id, sizeof id, "%s|%s", e->event_id, a->sub);
	BSON_APPEND_UTF8(p->doc, "_id", id);
	BSON_APPEND_UTF8(p->doc, "eventId", e->event_id);
	BSON_APPEND_UTF8(p->doc, "subscription", a->sub);
	BSON_APPEND_DATE_TIME(p->doc, "createdAt", e->created_ms);
	bson_append_utf8(p->doc, "body", 4, e->body, (int)e->len);
	BSON_APPEND_UTF8(p->doc, "rid", e->rid);
	BSON_APPEND_INT32(p->doc, "attempts", a->job->attempts);
	BSON_APPEND_BOOL(p->doc, "replay", a->job->replay);
}

/* A summary of where a settled event went stays, for its view. */
void
tk_outbox_settle(struct tk_outbox *o, const struct tk_delivery_action *a)
{
	const struct tk_delivery_event *e = a->ev;
	bson_t *sum = bson_new(), subs, one;
	char key[16];
	const char *k;
	size_t i;

	BSON_APPEND_UTF8(sum, "_id", e->event_id);
	BSON_APPEND_DATE_TIME(sum, "at", a->now);
	BSON_APPEND_ARRAY_BEGIN(sum, "subscriptions", &subs);
	for (i = 0; i < e->n_jobs; i++) {
		const struct tk_delivery_job *j = e->jobs[i];

		bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
		BSON_APPEND_DOCUMENT_BEGIN(&subs, k, &one);
		BSON_APPEND_UTF8(&one, "subscription", j->sub_id);
		BSON_APPEND_UTF8(&one, "outcome", j->outcome != NULL ?
		    j->outcome : "unsubscribed");
		BSON_APPEND_INT32(&one, "attempts", j->attempts);
		BSON_APPEND_INT32(&one, "status", j->status);
		BSON_APPEND_DATE_TIME(&one, "at", j->done_ms);
		bson_append_document_end(&subs, &one);
	}
	bson_append_array_end(sum, &subs);
	tk_outbox_grow((void **)&o->summaries, o->n_summaries,
	    &o->cap_summaries, sizeof *o->summaries);
	o->summaries[o->n_summaries++] = sum;
}

void
tk_outbox_record(struct tk_outbox *o, const struct tk_delivery_action *a)
{
	const vd_delivery_t *d = a->result;
	struct tk_attempt *at;

	if (o->n_attempts == MAX_ATTEMPTS_KEPT) {
		/* The database has been down a long while: keep delivering,
		 * let the oldest records go. */
		free(o->attempts[0].url);
		memmove(o->attempts, o->attempts + 1,
		    --o->n_attempts * sizeof *o->attempts);
	}
	tk_outbox_grow((void **)&o->attempts, o->n_attempts, &o->cap_attempts,
	    sizeof *o->attempts);
	at = &o->attempts[o->n_attempts++];
	memset(at, 0, sizeof *at);
	memcpy(at->event_id, a->ev->event_id, sizeof at->event_id);
	snprintf(at->sub, sizeof at->sub, "%s", a->sub);
	at->url = bson_strdup(a->url);
	at->number = a->job->attempts;
	at->at_ms = a->now;
	at->status = d->http_status;
	at->ms = d->elapsed_ms;
	at->replay = a->job->replay;
	if (d->code != VD_OK)
		snprintf(at->error, sizeof at->error, "%s", *d->error ?
		    d->error : "failed");
}

/* Writes the events parked since the last flush, window by window. */
static bool
flush_parks(struct tk_outbox *o, bson_error_t *error)
{
	struct tk_delivery_window *w;
	bson_t **docs;
	size_t i, j, n;

	if (o->n_parks == 0)
		return true;
	docs = bson_malloc0(o->n_parks * sizeof *docs);
	for (i = 0; i < o->n_parks; i = j) {
		for (j = i, n = 0; j < o->n_parks &&
		    o->parks[j].window == o->parks[i].window; j++)
			docs[n++] = o->parks[j].doc;
		w = tk_delivery_window(o->machine, o->parks[i].window);
		if (!tk_store_park(o->store, w->name, o->owner, &w->registered,
		    docs, n, error)) {
			free(docs);
			return false;	/* all again: duplicates are fine */
		}
	}
	free(docs);
	for (i = 0; i < o->n_parks; i++)
		bson_destroy(o->parks[i].doc);
	o->n_parks = 0;
	return true;
}

/* Drops a backlog window that is over and holds nothing waiting. */
static bool
drop_window(void *arg, struct tk_delivery_window *w)
{
	struct tk_outbox *o = arg;
	bson_error_t error;

	if (w->registered && !tk_store_unpark(o->store, w->name, &error)) {
		tk_outbox_db_warn(o, "dropping a backlog", &error);
		return false;
	}
	return true;
}

/* Parked events first, then summaries, then the pending documents that
 * nothing holds: a pending document goes only once its event is safe
 * elsewhere. Every FLUSH_MS or FLUSH_BATCH, or now. */
void
tk_outbox_flush(struct tk_outbox *o, bool now)
{
	bson_error_t error;
	int64_t t = svc_now_ms();
	size_t i, n = o->n_release + o->n_summaries + o->n_parks;

	if (!now && n < FLUSH_BATCH && t - o->flush_ms < FLUSH_MS)
		return;
	o->flush_ms = t;
	if (n > 0) {
		if (!flush_parks(o, &error)) {
			tk_outbox_db_warn(o, "parking events", &error);
			return;
		}
		if (!tk_store_settle(o->store, o->summaries, o->n_summaries,
		    o->release, o->n_release, &error)) {
			tk_outbox_db_warn(o, "settling events", &error);
			return;
		}
		for (i = 0; i < o->n_release; i++)
			bson_free(o->release[i]);
		for (i = 0; i < o->n_summaries; i++)
			bson_destroy(o->summaries[i]);
		o->n_release = o->n_summaries = 0;
	}
	tk_delivery_drop_windows(o->machine, t, drop_window, o);
}

static bool
write_stats(void *arg, const char *sub, const struct tk_sub_stats *stats)
{
	struct tk_outbox *o = arg;
	bson_error_t error;

	if (tk_store_substats(o->store, o->owner, sub, stats, &error))
		return true;
	tk_outbox_db_warn(o, "recording a subscriber's state", &error);
	return false;
}

/* Writes what was recorded: the attempts (one insert, as often as
 * tk_outbox_flush writes), and every couple of seconds the subscribers'
 * states. */
void
tk_outbox_flush_records(struct tk_outbox *o, int64_t now, bool force)
{
	bson_error_t error;
	size_t i;

	if (o->n_attempts > 0 && (force || o->n_attempts >= FLUSH_BATCH ||
	    now - o->attempts_ms >= FLUSH_MS)) {
		o->attempts_ms = now;
		if (tk_store_attempts(o->store, o->attempts, o->n_attempts,
		    &error)) {
			for (i = 0; i < o->n_attempts; i++)
				free(o->attempts[i].url);
			o->n_attempts = 0;
		} else
			tk_outbox_db_warn(o, "recording attempts", &error);
	}
	if (!force && now - o->stats_ms < STATS_MS)
		return;
	o->stats_ms = now;
	tk_delivery_each_changed(o->machine, write_stats, o);
}

void
tk_outbox_writes_free(struct tk_outbox *o)
{
	size_t i;

	for (i = 0; i < o->n_attempts; i++)
		free(o->attempts[i].url);
	for (i = 0; i < o->n_release; i++)
		bson_free(o->release[i]);
	for (i = 0; i < o->n_summaries; i++)
		bson_destroy(o->summaries[i]);
	for (i = 0; i < o->n_parks; i++)
		bson_destroy(o->parks[i].doc);
	free(o->release);
	free(o->summaries);
	free(o->parks);
	free(o->attempts);
}
