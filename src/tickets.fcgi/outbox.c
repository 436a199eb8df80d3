/*
 * outbox.c - delivery of reply events to subscribers, at least once: the
 * thread that applies the decisions of the delivery machine (delivery.c,
 * retry.c) through the store and the sender.
 *
 * Each accepted reply is stored as its pending event before the client
 * hears 200; the request thread then hands the reply to this process's
 * delivery thread, which stores it in "replies" with the others of its
 * batch (STORE_MS), gives it to the machine and POSTs the event, signed, to every subscriber through libcurl's multi
 * interface, off the request path. What the machine decides at once (a
 * dead letter, a subscription disabled) is written at once; the rest
 * (parked events, summaries, failed attempts, the pending documents let
 * go) in batches (writes.c). The results of POSTs are kept and told to
 * the machine after its action, never from within.
 *
 * Nothing is lost when a process dies: every event is pending (a document
 * of its own, stored before its reply) until every subscriber has it or
 * it is parked in a backlog of this process's for those still to get it.
 * Every process heartbeats an "instances" document, and one live instance
 * adopts what dead ones left (adopt.c).
 *
 * FerretDB decodes a whole collection for some queries, and for a delete
 * of many documents: nothing here reads the history, and the collections
 * deleted from stay small. Events come from the request threads in
 * memory; pending holds seconds of events whatever a subscriber does; a
 * backlog window is dropped whole once nothing in it is waiting;
 * adoption reads only pending and backlogs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"

#define IN_FLIGHT 256           /* concurrent POSTs to all subscribers */
#define BEAT_MS 3000
#define SWEEP_MS 5000           /* look at the instances */
#define FULL_SWEEP_MS 60000     /* and at the pending events anyway */
#define SUBS_MS 2000            /* subscriptions read again at the latest */
#define STORE_MS 100            /* handed-over replies stored this often */
#define STORE_BATCH 256         /* or as soon as this many wait */
#define PREPARE_MS 10000        /* indexes the database refused, again */
#define MEND_MS 600000          /* or, refused for what it holds, later */

void
tk_outbox_grow(void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 64;
	*v = bson_realloc(*v, *cap * size);
}

/* Database trouble is said once a minute, not once per attempt. */
void
tk_outbox_db_warn(struct tk_outbox *o, const char *what,
    const bson_error_t *error)
{
	int64_t now = svc_now_ms();

	if (now - o->db_warned_ms < 60000)
		return;
	o->db_warned_ms = now;
	svc_log(SVC_WARN, "outbox: %s: %s (retrying)", what, error->message);
}

/* ---- the machine's actions ---- */

static void
delivered(const vd_delivery_t *d, void *arg)
{
	struct tk_delivery_job *j = arg;
	struct tk_outbox *o = tk_delivery_arg(j->ev->machine);
	struct tk_result *r;

	tk_outbox_grow((void **)&o->results, o->n_results, &o->cap_results,
	    sizeof *o->results);
	r = &o->results[o->n_results++];
	r->job = j;
	r->d = *d;
	r->d.url = r->d.event_id = NULL;
	snprintf(r->error, sizeof r->error, "%s", d->error);
	r->d.error = r->error;
}

/* Tells the machine what the POSTs came to, each copied out of the array
 * first: nothing its actions do to the array can move it. */
static void
take_results(struct tk_outbox *o)
{
	struct tk_result r;
	size_t i;

	for (i = 0; i < o->n_results; i++) {
		r = o->results[i];
		r.d.error = r.error;
		if (r.d.code != VD_ECANCELED)
			svc_metrics_count(o->cfg->metrics, SVC_METRIC_EVENTS,
			    r.d.code == VD_OK ? "outcome=\"delivered\"" :
			    "outcome=\"failed\"", 1);
		tk_delivery_result(o->machine, r.job, &r.d, svc_now_ms());
	}
	o->n_results = 0;
}

static void
send_job(struct tk_outbox *o, const struct tk_delivery_action *a)
{
	const struct tk_delivery_event *e = a->ev;
	const char *headers[2] = { e->rid, NULL };
	vd_error_t err;

	if (vd_sender_post_headers(o->sender, a->url, e->event_id, e->body,
	    e->len, *e->rid != '\0' ? headers : NULL, delivered, a->job,
	    &err) != VD_OK) {
		vd_delivery_t d = { a->url, e->event_id, 0, err.code,
		    err.message, -1, 0 };

		delivered(&d, a->job);
	}
}

static void
apply(void *arg, const struct tk_delivery_action *a)
{
	struct tk_outbox *o = arg;
	bson_error_t error;

	switch (a->kind) {
	case DELIVERY_SEND:
		send_job(o, a);
		break;
	case DELIVERY_CANCEL:
		/* Reported to delivered() at once, as canceled. */
		vd_sender_cancel(o->sender, a->job);
		break;
	case DELIVERY_PARK:
		tk_outbox_park(o, a);
		break;
	case DELIVERY_RELEASE:
		tk_outbox_grow((void **)&o->release, o->n_release,
		    &o->cap_release, sizeof *o->release);
		o->release[o->n_release++] = bson_strdup(a->ev->pending);
		break;
	case DELIVERY_SETTLE:
		tk_outbox_settle(o, a);
		break;
	case DELIVERY_DEAD:
		svc_metrics_count(o->cfg->metrics, SVC_METRIC_EVENTS,
		    "outcome=\"dead\"", 1);
		if (!tk_store_deadletter(o->store, a->ev->event_id, a->sub,
		    a->url, a->job->attempts, a->status, a->reason, &error))
			tk_outbox_db_warn(o, "keeping a dead letter", &error);
		break;
	case DELIVERY_DISABLE:
		if (!tk_store_disable(o->store, a->sub, a->reason, &error))
			tk_outbox_db_warn(o, "disabling a subscription",
			    &error);
		svc_gen_bump(o->subs_gen);
		break;
	case DELIVERY_RECORD:
		tk_outbox_record(o, a);
		break;
	case DELIVERY_FORGET:
		if (!tk_store_deadletter_drop(o->store, a->ev->event_id, a->sub,
		    &error))
			tk_outbox_db_warn(o,
			    "forgetting a replayed dead letter", &error);
		break;
	}
}

static bool
url_allowed(void *arg, const char *url, bson_error_t *error)
{
	struct tk_outbox *o = arg;

	return tk_url_allowed(o->cfg, url, error);
}

/* ---- subscriptions ---- */

static bool
subs_refresh(struct tk_outbox *o)
{
	struct tk_sub *subs;
	bson_error_t error;
	size_t n;
	int64_t started = svc_now_ms();
	/* Read before the query: a subscription made meanwhile moves it
	 * again, and the next look reads them again. */
	uint64_t gen = svc_gen_read(o->subs_gen);

	if (!tk_store_subs(o->store, &subs, &n, &error)) {
		tk_outbox_db_warn(o, "reading subscriptions", &error);
		return false;
	}
	tk_delivery_subs(o->machine, subs, n, started);
	tk_store_subs_free(subs, n);
	o->subs_ms = started;
	o->subs_seen = gen;
	take_results(o);
	return true;
}

/* The subscriptions, read again only when one was made or ended on this
 * host since (its counter moved, before that request's answer), or after
 * SUBS_MS for those of other hosts: not once per event. */
static bool
subs_current(struct tk_outbox *o)
{
	if (o->subs_gen != NULL && svc_gen_read(o->subs_gen) == o->subs_seen &&
	    svc_now_ms() - o->subs_ms < SUBS_MS)
		return true;
	return subs_refresh(o);
}

/* ---- the thread ---- */

/* Takes a handed-over reply into the machine. */
static void
load_one(struct tk_outbox *o, const struct tk_handoff *h)
{
	struct tk_delivery_input in;
	char *body = NULL;

	if (!tk_outbox_event_input(h->doc, &in, NULL))
		return;
	if (h->subs == NULL && tk_delivery_knows(o->machine, &in.id))
		return;
	if (!tk_outbox_event_input(h->doc, &in, &body))
		return;
	tk_delivery_add(o->machine, &in, h->subs != NULL ? DELIVERY_REPLAY :
	    DELIVERY_FRESH, h->subs, svc_now_ms());
	cJSON_free(body);
}

/* Stores the replies handed over in "replies", in one insert, before
 * their events go out (a reply is there for every event sent) and
 * before their pending documents go: until then, reads merge the
 * pending ones in. Drops those whose event must not go out. */
static bool
store_loading(struct tk_outbox *o)
{
	bson_t **docs;
	bson_error_t error;
	bool *keep, ok;
	size_t i, j;

	docs = bson_malloc0(o->n_loading * sizeof *docs);
	keep = bson_malloc0(o->n_loading * sizeof *keep);
	for (i = 0; i < o->n_loading; i++)
		docs[i] = o->loading[i].doc;
	ok = tk_store_keep_replies(o->store, o->claims, docs, o->n_loading,
	    keep, &error);
	/* The stored document, when it is not the one handed over. */
	for (i = 0; i < o->n_loading; i++)
		o->loading[i].doc = docs[i];
	if (!ok) {
		tk_outbox_db_warn(o, "storing replies", &error);
		free(docs);
		free(keep);
		return false;
	}
	for (i = j = 0; i < o->n_loading; i++) {
		if (keep[i]) {
			o->loading[j++] = o->loading[i];
			continue;
		}
		bson_destroy(o->loading[i].doc);
		bson_strfreev(o->loading[i].subs);
	}
	o->n_loading = j;
	free(docs);
	free(keep);
	return true;
}

/* When the replies handed over are due to be stored: STORE_MS after the
 * first of them came, or once STORE_BATCH wait; 0 now. */
static int64_t
store_wait(const struct tk_outbox *o, int64_t now)
{
	int64_t due = o->loading_ms + STORE_MS - now;

	return o->n_loading >= STORE_BATCH || due <= 0 ? 0 : due;
}

/* Takes in the events handed over since the last round, a batch at a
 * time: one insert stores many replies. */
static void
load_pushed(struct tk_outbox *o)
{
	size_t i;

	if (o->n_loading == 0 || store_wait(o, svc_now_ms()) > 0)
		return;
	/* Looked at after the events were stored: a subscription made
	 * before a reply is sure to get its event. */
	if (!subs_current(o) || !store_loading(o))
		return;
	for (i = 0; i < o->n_loading; i++) {
		load_one(o, &o->loading[i]);
		bson_destroy(o->loading[i].doc);
		bson_strfreev(o->loading[i].subs);
	}
	o->n_loading = 0;
}

static void
take_pushed(struct tk_outbox *o, bool *stop)
{
	size_t i;

	pthread_mutex_lock(&o->lock);
	if (o->n_loading == 0 && o->n_pushed > 0)
		o->loading_ms = svc_now_ms();
	for (i = 0; i < o->n_pushed; i++) {
		tk_outbox_grow((void **)&o->loading, o->n_loading,
		    &o->cap_loading, sizeof *o->loading);
		o->loading[o->n_loading++] = o->pushed[i];
	}
	o->n_pushed = 0;
	*stop = o->stop;
	pthread_mutex_unlock(&o->lock);
}

/* Indexes the database refused when the process started: down then, or
 * holding what a unique one forbids. The unique (ticketId, sequence) is
 * what refuses a number stored twice (tk_store_keep_replies), so it is
 * made as soon as the database takes it, and its absence said loudly. */
static void
prepare(struct tk_outbox *o, int64_t now)
{
	bson_error_t error;

	if (tk_store_prepare(o->store, &error)) {
		o->indexes_ready = true;
		svc_log(SVC_INFO, "outbox: indexes ready");
	} else if (svc_db_duplicate(&error)) {
		o->prepare_ms = now + MEND_MS;
		svc_log(SVC_ERROR, "indexes refused: %s: the database holds "
		    "twice what a unique index forbids (two replies with one "
		    "ticket's number, or two subscriptions with one URL), and "
		    "until they are mended nothing refuses another; "
		    "docs/database.md says how to find them (tried again in "
		    "%d minutes)", error.message, MEND_MS / 60000);
	} else {
		o->prepare_ms = now + PREPARE_MS;
		tk_outbox_db_warn(o, "indexes", &error);
	}
}

static void
round_once(struct tk_outbox *o, int64_t now)
{
	bson_error_t error;
	vd_error_t verr;
	int64_t wait;

	load_pushed(o);
	if (!o->indexes_ready && now >= o->prepare_ms)
		prepare(o, now);
	if (now - o->beat_ms >= BEAT_MS) {
		if (tk_store_beat(o->store, o->owner, &error))
			o->beat_ms = now;
		else
			tk_outbox_db_warn(o, "heartbeat", &error);
	}
	/* At once when an (un)subscribe on this host moved the counter, else
	 * every SUBS_MS. */
	subs_current(o);
	if (now - o->sweep_ms >= SWEEP_MS) {
		bool full = now - o->full_ms >= FULL_SWEEP_MS;

		o->sweep_ms = now;
		if (full)
			o->full_ms = now;
		tk_outbox_sweep(o, full);
		tk_delivery_expire(o->machine, now);
	}
	/* Subscriptions that changed on this host (its counter moved) and
	 * were not read since may have ended: an operator's unsubscribe must
	 * not be lost. Events wait until they are read. */
	if (o->subs_gen == NULL || svc_gen_read(o->subs_gen) == o->subs_seen)
		tk_delivery_send_due(o->machine, svc_now_ms());
	take_results(o);
	tk_outbox_flush(o, false);
	tk_outbox_flush_records(o, now, false);
	/* Back when the waiting replies are due; later while they cannot
	 * be stored (the database is down). */
	wait = o->n_loading == 0 ? 100 : store_wait(o, svc_now_ms());
	if (vd_sender_poll(o->sender, wait > 0 ? (int)wait : 200, &verr) !=
	    VD_OK)
		svc_log(SVC_WARN, "outbox: %s", verr.message);
	take_results(o);
}

static void *
tk_outbox_main(void *arg)
{
	struct tk_outbox *o = arg;
	bson_error_t error;
	bool stop = false;

	if ((o->store = tk_store_open(o->cfg, "tickets-outbox",
	    &error)) == NULL) {
		svc_log(SVC_ERROR, "outbox: %s", error.message);
		return NULL;
	}
	for (;;) {
		take_pushed(o, &stop);
		if (stop)
			break;
		round_once(o, svc_now_ms());
	}
	tk_outbox_flush_records(o, svc_now_ms(), true);
	tk_outbox_flush(o, true);
	/* What is still pending stays in the database, owned by a process
	 * that is no more: another adopts it at once. */
	if (!tk_store_gone(o->store, o->owner, &error))
		tk_outbox_db_warn(o, "leaving", &error);
	tk_store_close(o->store);
	return NULL;
}

struct tk_outbox *
tk_outbox_start(const struct tk_config *cfg, const char *owner,
    struct svc_gen *subs_gen, struct tk_claims *claims, bool indexes_ready)
{
	struct tk_delivery_config dc = { cfg->retry_schedule, cfg->n_retry,
	    cfg->probe, cfg->retry_window, 0, NULL, url_allowed, apply, NULL };
	struct tk_outbox *o;
	bson_oid_t token;
	vd_error_t err;

	o = bson_malloc0(sizeof *o);
	o->cfg = cfg;
	snprintf(o->owner, sizeof o->owner, "%s", owner);
	bson_oid_init(&token, NULL);
	bson_oid_to_string(&token, o->token);
	o->subs_gen = subs_gen;
	o->claims = claims;
	o->indexes_ready = indexes_ready;
	pthread_mutex_init(&o->lock, NULL);
	dc.seed = (unsigned int)getpid() ^ (unsigned int)svc_now_ms();
	dc.token = o->token;
	dc.arg = o;
	o->machine = tk_delivery_new(&dc);
	if ((o->sender = vd_sender_new(&err)) == NULL) {
		svc_log(SVC_ERROR, "outbox: %s", err.message);
		goto fail;
	}
	vd_sender_set_timeouts(o->sender, 2000, cfg->event_timeout * 1000);
	/* Subscribers behind one nginx share a host: the bound that keeps a
	 * slow one from delaying the others is per subscriber, the
	 * machine's. */
	vd_sender_set_limits(o->sender, IN_FLIGHT, IN_FLIGHT);
	if (cfg->events_secret != NULL &&
	    vd_sender_set_secrets(o->sender, cfg->events_secret, &err) !=
	    VD_OK) {
		svc_log(SVC_ERROR, "outbox: EVENTS_SECRET: %s", err.message);
		goto fail;
	}
	if (svc_thread_start(&o->thread, tk_outbox_main, o) != 0)
		goto fail;
	return o;
fail:
	vd_sender_destroy(o->sender);
	tk_delivery_free(o->machine);
	pthread_mutex_destroy(&o->lock);
	free(o);
	return NULL;
}

static bool
hand_over(struct tk_outbox *o, const bson_t *doc, char **subs)
{
	struct tk_handoff h;
	size_t n = 0;

	if (o == NULL)
		return false;
	h.doc = bson_copy(doc);
	h.subs = NULL;
	if (subs != NULL) {
		while (subs[n] != NULL)
			n++;
		h.subs = bson_malloc0((n + 1) * sizeof *h.subs);
		for (n = 0; subs[n] != NULL; n++)
			h.subs[n] = bson_strdup(subs[n]);
	}
	pthread_mutex_lock(&o->lock);
	tk_outbox_grow((void **)&o->pushed, o->n_pushed, &o->cap_pushed,
	    sizeof *o->pushed);
	o->pushed[o->n_pushed++] = h;
	pthread_mutex_unlock(&o->lock);
	vd_sender_wakeup(o->sender);
	return true;
}

void
tk_outbox_push(struct tk_outbox *o, const bson_t *reply_doc)
{
	hand_over(o, reply_doc, NULL);
}

bool
tk_outbox_replay(struct tk_outbox *o, const bson_t *reply_doc, char **subs)
{
	return subs != NULL && hand_over(o, reply_doc, subs);
}

static void
handoffs_free(struct tk_handoff *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		bson_destroy(h[i].doc);
		bson_strfreev(h[i].subs);
	}
	free(h);
}

void
tk_outbox_stop(struct tk_outbox *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_mutex_unlock(&o->lock);
	vd_sender_wakeup(o->sender);
	pthread_join(o->thread, NULL);
	/* The sender goes first: it drops its transfers unreported. */
	vd_sender_destroy(o->sender);
	tk_delivery_free(o->machine);
	handoffs_free(o->pushed, o->n_pushed);
	handoffs_free(o->loading, o->n_loading);
	tk_outbox_writes_free(o);
	free(o->results);
	bson_strfreev(o->live);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
