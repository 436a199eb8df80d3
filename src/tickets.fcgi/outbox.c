/*
 * outbox.c - delivery of reply events to subscribers, at least once.
 *
 * Each accepted reply is stored, after its pending event, before the
 * client hears 200; the request thread then hands the stored document
 * to this process's delivery thread, which POSTs the event, signed, to
 * every subscriber through libcurl's multi interface, off the request path.
 * Only a 2xx is a delivery. A failed POST is retried on a schedule (with
 * jitter, honouring Retry-After); a subscriber that keeps failing is only
 * probed now and then, and once it answers again everything it missed goes
 * at once. An event that no retry delivered within the schedule is kept as
 * a dead letter, to be replayed; a 410 Gone ends the subscription.
 *
 * Nothing is lost when a process dies: every event is pending (a document
 * of its own, stored before its reply) until every subscriber has it or
 * it is parked for those still to get it (a subscriber that failed), in a
 * backlog collection of this process's, until it is delivered or dead.
 * Every process heartbeats an "instances" document, and the live instance
 * with the smallest name adopts the pending events and the backlogs of
 * owners that stopped beating (or, on the same host, whose pid is gone).
 *
 * FerretDB decodes a whole collection for any query but one on _id, and
 * for a delete of many documents: nothing here reads the history, and
 * the collections deleted from stay small. Events come from the request
 * threads in memory; what is written (summaries, failed attempts, parked
 * events) is inserted in batches; the pending documents of events that
 * are done or parked are deleted in batches, so pending holds seconds of
 * events whatever a subscriber does; a backlog window is dropped whole
 * once nothing in it is waiting; adoption reads only pending and backlogs.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickets.h"

#define N_BUCKETS 4096
#define PER_SUB_INFLIGHT 8      /* concurrent POSTs to one subscriber */
#define IN_FLIGHT 256           /* and to all of them */
#define FAILING_AFTER 3         /* consecutive failures: only probe */
#define BEAT_MS 3000
#define STALE_MS 15000          /* an instance silent this long is dead */
#define SWEEP_MS 5000           /* look at the instances */
#define FULL_SWEEP_MS 60000     /* and at the pending events anyway */
#define FLUSH_MS 500            /* write what settled or parked this often */
#define FLUSH_BATCH 256
#define STATS_MS 2000           /* write subscriber states this often */
#define SUBS_MS 2000            /* subscriptions read again at the latest */
#define SUBS_UNKNOWN_MS 30000   /* unread this long: nothing is sent */
#define MAX_ATTEMPTS_KEPT 20000 /* attempt records waiting for the DB */
#define WINDOW_MS 600000        /* a backlog collection per 10 minutes */
#define WINDOW_GRACE_MS 60000   /* dropped this long after, when empty */

struct ev;
struct subq;
struct outbox;

static struct subq *subq_find(struct outbox *o, const char *id);
static void flush_settled(struct outbox *o, bool now);

/* One event on its way to one subscriber. */
struct job {
	struct ev *ev;
	struct subq *sub;
	struct job *prev, *next;        /* in sub's queue, oldest first */
	char sub_id[25];
	int attempts;
	int64_t due_ms;
	bool inflight;
	bool done;
	bool parked;                    /* in a backlog, not holding pending */
	int64_t window;                 /* which backlog, when parked */
	bool replay;                    /* asked for again by an operator */
	const char *outcome;            /* when done: "delivered", "dead",
	                                   "unsubscribed" */
	int status;                     /* the last HTTP status */
	int64_t done_ms;
};

struct ev {
	struct outbox *outbox;
	bson_oid_t id;
	char event_id[32];
	char *body;
	size_t len;
	char rid[SVC_RID_MAX + 16];     /* "X-Request-Id: ..." of its reply */
	char pending[64];               /* its pending document's _id */
	int64_t created_ms;
	int left;                       /* jobs not done yet */
	int held;                       /* of them, not parked */
	bool released;                  /* pending document let go */
	struct job **jobs;
	size_t n_jobs;
	struct ev *hnext;
};

struct subq {
	struct sub sub;                 /* id, url, created_ms */
	struct job *head, *tail;
	int inflight;
	int64_t next_probe_ms;
	struct job *probed;             /* the last probe: the next is after */
	struct sub_stats stats;         /* failures: consecutive */
	bool dirty;                     /* stats not written yet */
	bool seen;                      /* in the last refresh */
	bool checked;                   /* its url passed the allow-list */
	bool disabled;                  /* by this process: what is in flight
	                                   ends as a dead letter */
	struct subq *next;
};

/* What the request threads hand over: a stored reply, and for a replay
 * the subscriptions it goes to again. */
struct handoff {
	bson_t *doc;
	char **subs;                    /* NULL: a fresh event, to everyone */
};

/* One backlog collection of this process's: the events parked in a time
 * window. */
struct window {
	int64_t end_ms;
	char name[64];
	int waiting;                    /* parked jobs not done */
	bool registered;                /* listed in "backlogs" */
};

/* An event parked, to be written to its window. */
struct park {
	int64_t window;
	bson_t *doc;
};

struct outbox {
	const struct tickets_config *cfg;
	char owner[320];
	char token[25];                 /* names this process's backlogs */
	vd_sender_t *sender;
	pthread_t thread;

	pthread_mutex_t lock;           /* guards pushed and stop */
	struct handoff *pushed;
	size_t n_pushed, cap_pushed;
	bool stop;

	/* Owned by the delivery thread. */
	struct store *store;
	struct subq *subs;
	struct ev *buckets[N_BUCKETS];
	struct handoff *loading;        /* handed over, not taken in yet */
	size_t n_loading, cap_loading;
	char **release;                 /* pending documents to delete */
	size_t n_release, cap_release;
	bson_t **summaries;             /* where settled events went */
	size_t n_summaries, cap_summaries;
	struct park *parks;             /* parked, not written yet */
	size_t n_parks, cap_parks;
	struct window *windows;
	size_t n_windows, cap_windows;
	struct attempt *attempts;       /* to record */
	size_t n_attempts, cap_attempts;
	int64_t subs_ms, beat_ms, sweep_ms, full_ms, flush_ms, stats_ms;
	int64_t subs_ok_ms;             /* subscriptions last read */
	bool holding;                   /* not sending: they are unknown */
	int64_t attempts_ms;
	int64_t db_warned_ms;
	char **live;                    /* live instances at the last sweep */
	struct svc_gen *subs_gen;       /* moved by every (un)subscribe */
	uint64_t subs_seen;             /* what it was when last read */
	unsigned int seed;              /* rand_r state for jitter */
};

static void
grow(void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 64;
	if ((*v = realloc(*v, *cap * size)) == NULL)
		abort();
}

/* Nothing holds the event's pending document any more: every job is done
 * or parked (once that is written). */
static void
release(struct outbox *o, struct ev *e)
{
	if (e->released)
		return;
	e->released = true;
	if (*e->pending == '\0')
		return;         /* adopted from a backlog: none */
	grow((void **)&o->release, o->n_release, &o->cap_release,
	    sizeof *o->release);
	o->release[o->n_release++] = bson_strdup(e->pending);
}

/* The event is settled: a summary of where it went stays, for its
 * view. */
static void
settle(struct outbox *o, struct ev *e)
{
	bson_t *sum = bson_new(), subs, one;
	char key[16];
	const char *k;
	size_t i;

	BSON_APPEND_UTF8(sum, "_id", e->event_id);
	BSON_APPEND_DATE_TIME(sum, "at", svc_now_ms());
	BSON_APPEND_ARRAY_BEGIN(sum, "subscriptions", &subs);
	for (i = 0; i < e->n_jobs; i++) {
		const struct job *j = e->jobs[i];

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
	grow((void **)&o->summaries, o->n_summaries, &o->cap_summaries,
	    sizeof *o->summaries);
	o->summaries[o->n_summaries++] = sum;
	release(o, e);
}

/* Database trouble is said once a minute, not once per attempt. */
static void
db_warn(struct outbox *o, const char *what, const bson_error_t *error)
{
	int64_t now = svc_now_ms();

	if (now - o->db_warned_ms < 60000)
		return;
	o->db_warned_ms = now;
	svc_log(SVC_WARN, "outbox: %s: %s (retrying)", what, error->message);
}

/* ---- events in memory ---- */

static struct ev **
bucket(struct outbox *o, const bson_oid_t *id)
{
	return &o->buckets[bson_oid_hash(id) % N_BUCKETS];
}

static struct ev *
ev_find(struct outbox *o, const bson_oid_t *id)
{
	struct ev *e;

	for (e = *bucket(o, id); e != NULL; e = e->hnext)
		if (bson_oid_equal(&e->id, id))
			return e;
	return NULL;
}

static void
ev_free(struct outbox *o, struct ev *e)
{
	struct ev **p;
	size_t i;

	for (p = bucket(o, &e->id); *p != NULL; p = &(*p)->hnext)
		if (*p == e) {
			*p = e->hnext;
			break;
		}
	for (i = 0; i < e->n_jobs; i++)
		free(e->jobs[i]);
	free(e->jobs);
	cJSON_free(e->body);
	free(e);
}

/* ---- backlogs ---- */

static struct window *
window_get(struct outbox *o, int64_t end_ms)
{
	struct window *w;
	size_t i;

	for (i = 0; i < o->n_windows; i++)
		if (o->windows[i].end_ms == end_ms)
			return &o->windows[i];
	grow((void **)&o->windows, o->n_windows, &o->cap_windows,
	    sizeof *o->windows);
	w = &o->windows[o->n_windows++];
	memset(w, 0, sizeof *w);
	w->end_ms = end_ms;
	snprintf(w->name, sizeof w->name, "backlog_%s_%" PRId64, o->token,
	    end_ms / 1000);
	return w;
}

static void
window_done(struct outbox *o, int64_t end_ms)
{
	window_get(o, end_ms)->waiting--;
}

/* Moves job j out of its event's pending document into this process's
 * backlog (written at the next flush, before that document goes). */
static void
park(struct outbox *o, struct job *j)
{
	int64_t end = (svc_now_ms() / WINDOW_MS + 1) * WINDOW_MS;
	struct ev *e = j->ev;
	struct park *p;
	char id[64];

	if (j->parked || j->done)
		return;
	j->parked = true;
	j->window = end;
	window_get(o, end)->waiting++;
	grow((void **)&o->parks, o->n_parks, &o->cap_parks, sizeof *o->parks);
	p = &o->parks[o->n_parks++];
	p->window = end;
	p->doc = bson_new();
	snprintf(id, sizeof id, "%s|%s", e->event_id, j->sub_id);
	BSON_APPEND_UTF8(p->doc, "_id", id);
	BSON_APPEND_UTF8(p->doc, "eventId", e->event_id);
	BSON_APPEND_UTF8(p->doc, "subscription", j->sub_id);
	BSON_APPEND_DATE_TIME(p->doc, "createdAt", e->created_ms);
	bson_append_utf8(p->doc, "body", 4, e->body, (int)e->len);
	BSON_APPEND_UTF8(p->doc, "rid", e->rid);
	BSON_APPEND_INT32(p->doc, "attempts", j->attempts);
	BSON_APPEND_BOOL(p->doc, "replay", j->replay);
	if (--e->held == 0)
		release(o, e);
}

static void
queue_remove(struct subq *q, struct job *j)
{
	if (q->probed == j)
		q->probed = j->prev;
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		q->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		q->tail = j->prev;
	j->prev = j->next = NULL;
}

/* A job is over: delivered, dead, or its subscription is gone. The event
 * is settled when all its jobs are. */
static void
job_finish(struct outbox *o, struct job *j, const char *outcome)
{
	struct ev *e = j->ev;

	j->done = true;
	j->outcome = outcome;
	j->done_ms = svc_now_ms();
	queue_remove(j->sub, j);
	j->sub = NULL;
	if (j->parked)
		window_done(o, j->window);
	else if (--e->held == 0)
		release(o, e);
	if (--e->left == 0) {
		settle(o, e);
		ev_free(o, e);
	}
}

static struct job *
job_add(struct ev *e, struct subq *q, bool replay)
{
	struct job *j;

	if ((j = calloc(1, sizeof *j)) == NULL ||
	    (e->jobs = realloc(e->jobs, (e->n_jobs + 1) *
	    sizeof *e->jobs)) == NULL)
		abort();
	j->ev = e;
	j->sub = q;
	j->replay = replay;
	memcpy(j->sub_id, q->sub.id, sizeof j->sub_id);
	j->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	e->jobs[e->n_jobs++] = j;
	e->left++;
	e->held++;
	/* A failing subscriber's events wait in its backlog from the start:
	 * it may not take them for hours. */
	if (q->stats.failures >= FAILING_AFTER)
		park(e->outbox, j);
	return j;
}

static bool
listed(char **list, const char *s)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* An event in memory, with body (the caller's, given over). */
static struct ev *
ev_make(struct outbox *o, const bson_oid_t *id, char *body)
{
	struct ev *e;
	char hex[25];

	if ((e = calloc(1, sizeof *e)) == NULL)
		abort();
	e->outbox = o;
	bson_oid_copy(id, &e->id);
	e->body = body;
	e->len = strlen(e->body);
	bson_oid_to_string(&e->id, hex);
	snprintf(e->event_id, sizeof e->event_id, "evt_%s", hex);
	e->hnext = *bucket(o, &e->id);
	*bucket(o, &e->id) = e;
	return e;
}

/* The event of a stored reply. */
static struct ev *
ev_new(struct outbox *o, const bson_t *doc)
{
	bson_iter_t it;
	struct ev *e;
	char *body, hex[25];

	if (!bson_iter_init_find(&it, doc, "_id") ||
	    !BSON_ITER_HOLDS_OID(&it) ||
	    (body = store_event_json(doc)) == NULL)
		return NULL;
	e = ev_make(o, bson_iter_oid(&it), body);
	if (bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		e->created_ms = bson_iter_date_time(&it);
	if (bson_iter_init_find(&it, doc, "ticketId") &&
	    BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_to_string(bson_iter_oid(&it), hex);
		snprintf(e->pending, sizeof e->pending, "%s|%" PRId64, hex,
		    bson_iter_init_find(&it, doc, "sequence") ?
		    bson_iter_as_int64(&it) : (int64_t)0);
	}
	/* The receiver's log can name the request the reply came from. */
	if (bson_iter_init_find(&it, doc, "requestId") &&
	    BSON_ITER_HOLDS_UTF8(&it) && *bson_iter_utf8(&it, NULL) != '\0')
		snprintf(e->rid, sizeof e->rid, "X-Request-Id: %s",
		    bson_iter_utf8(&it, NULL));
	return e;
}

enum take { FRESH, ADOPTED, REPLAY };

/* Takes an event into memory with one job per subscriber it goes to. A
 * fresh event (handed over by the request thread) goes to every current
 * subscriber; an adopted one to those that existed when it was made; a
 * replay to the subscriptions named. */
static void
ev_add(struct outbox *o, const bson_t *doc, enum take how, char **targets)
{
	bson_iter_t it;
	struct subq *q;
	struct ev *e;
	size_t i;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return;
	if ((e = ev_find(o, bson_iter_oid(&it))) != NULL && how != REPLAY)
		return;
	if (e == NULL && (e = ev_new(o, doc)) == NULL)
		return;
	/* Held while its jobs are made: one parked at once must not let go
	 * of the pending document before the others hold it. */
	e->held++;
	for (q = o->subs; q != NULL; q = q->next) {
		bool pending = false;

		if (!q->seen)
			continue;       /* gone: waits for its POSTs to end */
		if (how == REPLAY) {
			if (!listed(targets, q->sub.id))
				continue;
			for (i = 0; i < e->n_jobs; i++)
				pending |= !e->jobs[i]->done &&
				    strcmp(e->jobs[i]->sub_id, q->sub.id) == 0;
			if (!pending)
				job_add(e, q, true);
			continue;
		}
		/* A second of slack for clocks of other hosts. Whom a dead
		 * process reached is not known: they get it again, and drop
		 * it by its id. */
		if (how == ADOPTED && q->sub.created_ms > e->created_ms + 1000)
			continue;
		job_add(e, q, false);
	}
	e->held--;
	if (e->left == 0) {
		/* Nobody to tell. */
		settle(o, e);
		ev_free(o, e);
	} else if (e->held == 0)
		release(o, e);
}

/* Takes in an event parked by a process that died: it goes to that one
 * subscriber, parked in this process's backlog. */
static void
adopt_parked(const bson_t *doc, void *arg)
{
	struct outbox *o = arg;
	const char *event_id = NULL, *sub = NULL, *body = NULL, *rid = "";
	int64_t created_ms = 0;
	int attempts = 0;
	bool replay = false;
	bson_iter_t it;
	bson_oid_t id;
	struct subq *q;
	struct ev *e;
	struct job *j;
	uint32_t len = 0;
	char *copy;
	size_t i;

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
				body = bson_iter_utf8(&it, &len);
			else if (strcmp(k, "rid") == 0)
				rid = bson_iter_utf8(&it, NULL);
		} else if (strcmp(k, "createdAt") == 0 &&
		    BSON_ITER_HOLDS_DATE_TIME(&it))
			created_ms = bson_iter_date_time(&it);
		else if (strcmp(k, "attempts") == 0 &&
		    BSON_ITER_HOLDS_INT32(&it))
			attempts = bson_iter_int32(&it);
		else if (strcmp(k, "replay") == 0 && BSON_ITER_HOLDS_BOOL(&it))
			replay = bson_iter_bool(&it);
	}
	if (event_id == NULL || sub == NULL || body == NULL ||
	    strncmp(event_id, "evt_", 4) != 0 ||
	    !bson_oid_is_valid(event_id + 4, strlen(event_id + 4)) ||
	    strlen(event_id + 4) != 24)
		return;
	/* Unsubscribed meanwhile: not wanted any more. */
	if ((q = subq_find(o, sub)) == NULL || !q->seen)
		return;
	bson_oid_init_from_string(&id, event_id + 4);
	if ((e = ev_find(o, &id)) == NULL) {
		if ((copy = cJSON_malloc(len + 1)) == NULL)
			abort();
		memcpy(copy, body, len);
		copy[len] = '\0';
		e = ev_make(o, &id, copy);
		e->created_ms = created_ms;
		e->released = true;     /* its pending document is gone */
		snprintf(e->rid, sizeof e->rid, "%s", rid);
	}
	for (i = 0; i < e->n_jobs; i++)
		if (!e->jobs[i]->done && strcmp(e->jobs[i]->sub_id, sub) == 0)
			return;
	e->held++;
	j = job_add(e, q, replay);
	j->attempts = attempts;
	park(o, j);
	if (--e->held == 0)
		release(o, e);
}

/* ---- subscriptions ---- */

static struct subq *
subq_find(struct outbox *o, const char *id)
{
	struct subq *q;

	for (q = o->subs; q != NULL; q = q->next)
		if (strcmp(q->sub.id, id) == 0)
			return q;
	return NULL;
}

static void
subq_drop(struct outbox *o, struct subq *q)
{
	struct subq **p;

	while (q->head != NULL)
		job_finish(o, q->head, "unsubscribed");
	for (p = &o->subs; *p != NULL; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	free(q->sub.url);
	free(q);
}

/* Stops the POSTs of q that are queued in the sender or under way: its
 * subscription is gone, and an operator who ends a delivery storm must
 * not wait for them. Each comes back through delivered() at once. */
static void
cancel_inflight(struct outbox *o, struct subq *q)
{
	struct job *jobs[IN_FLIGHT], *j;
	size_t n = 0, i;

	for (j = q->head; j != NULL && n < IN_FLIGHT; j = j->next)
		if (j->inflight)
			jobs[n++] = j;
	for (i = 0; i < n; i++)
		vd_sender_cancel(o->sender, jobs[i]);
}

static bool
subs_refresh(struct outbox *o)
{
	struct sub *subs;
	struct subq *q, *next, **tail;
	bson_error_t error;
	size_t n, i;
	int64_t started = svc_now_ms();
	/* Read before the query: a subscription made meanwhile moves it
	 * again, and the next look reads them again. */
	uint64_t gen = svc_gen_read(o->subs_gen);

	if (!store_subs(o->store, &subs, &n, &error)) {
		db_warn(o, "reading subscriptions", &error);
		return false;
	}
	for (q = o->subs; q != NULL; q = q->next)
		q->seen = false;
	for (i = 0; i < n; i++) {
		if ((q = subq_find(o, subs[i].id)) != NULL) {
			q->seen = true;
			continue;
		}
		if ((q = calloc(1, sizeof *q)) == NULL)
			abort();
		q->sub = subs[i];
		subs[i].url = NULL;
		q->seen = true;
		for (tail = &o->subs; *tail != NULL; tail = &(*tail)->next)
			;
		*tail = q;
	}
	store_subs_free(subs, n);
	/* Unsubscribed (or disabled): nothing more goes to it, from now. */
	for (q = o->subs; q != NULL; q = next) {
		next = q->next;
		if (q->seen)
			continue;
		if (!q->disabled)
			cancel_inflight(o, q);
		if (q->inflight == 0) {
			svc_log(SVC_INFO, "outbox: subscription %s (%s) is "
			    "gone", q->sub.id, q->sub.url);
			subq_drop(o, q);
		}
	}
	o->subs_ms = o->subs_ok_ms = started;
	o->subs_seen = gen;
	return true;
}

/* The subscriptions, read again only when one was made or ended on this
 * host since (its counter moved, before that request's answer), or after
 * SUBS_MS for those of other hosts: not once per event. */
static bool
subs_current(struct outbox *o)
{
	if (o->subs_gen != NULL && svc_gen_read(o->subs_gen) == o->subs_seen &&
	    svc_now_ms() - o->subs_ms < SUBS_MS)
		return true;
	return subs_refresh(o);
}

/* Keeps j as a dead letter and takes it out of the queue. */
static void
dead_letter(struct outbox *o, struct job *j, int status, const char *reason)
{
	bson_error_t error;

	svc_log(SVC_WARN, "event dead id=%s to=%s attempts=%d: %s",
	    j->ev->event_id, j->sub->sub.url, j->attempts, reason);
	svc_metrics_count(o->cfg->metrics, SVC_METRIC_EVENTS,
	    "outcome=\"dead\"", 1);
	if (!store_deadletter(o->store, j->ev->event_id, j->sub_id,
	    j->sub->sub.url, j->attempts, status, reason, &error))
		db_warn(o, "keeping a dead letter", &error);
	job_finish(o, j, "dead");
}

/* Ends subscription q for reason: no event goes to it until it is
 * subscribed again; what was pending for it is kept as dead letters. */
static void
disable(struct outbox *o, struct subq *q, int status, const char *reason)
{
	bson_error_t error;
	struct job *j, *next;

	svc_log(SVC_WARN, "outbox: subscription %s (%s) disabled: %s",
	    q->sub.id, q->sub.url, reason);
	if (!store_disable(o->store, q->sub.id, reason, &error))
		db_warn(o, "disabling a subscription", &error);
	svc_gen_bump(o->subs_gen);
	for (j = q->head; j != NULL; j = next) {
		next = j->next;
		if (!j->inflight)
			dead_letter(o, j, status, reason);
	}
	/* The caller drops q once no POST of it is in flight. */
	q->seen = false;
	q->disabled = true;
}

/* ---- sending ---- */

static void delivered(const vd_delivery_t *d, void *arg);

static void
send_job(struct outbox *o, struct job *j)
{
	const char *headers[2] = { j->ev->rid, NULL };
	vd_error_t err;

	j->inflight = true;
	j->sub->inflight++;
	if (vd_sender_post_headers(o->sender, j->sub->sub.url, j->ev->event_id,
	    j->ev->body, j->ev->len, *j->ev->rid != '\0' ? headers : NULL,
	    delivered, j, &err) != VD_OK) {
		vd_delivery_t d = { j->sub->sub.url, j->ev->event_id, 0,
		    err.code, err.message, -1, 0 };

		delivered(&d, j);
	}
}

static void
send_due(struct outbox *o, int64_t now)
{
	struct subq *q, *next;
	struct job *j;
	char why[VD_ERROR_SIZE + 64];

	/* Subscriptions that changed on this host (its counter moved) and
	 * were not read since, or not read for long, may have ended: an
	 * operator's unsubscribe must not be lost on a database too busy to
	 * answer (a reply flood). Events wait until they are read. */
	if (o->subs_gen != NULL && svc_gen_read(o->subs_gen) != o->subs_seen)
		return;
	if (now - o->subs_ok_ms > SUBS_UNKNOWN_MS) {
		if (!o->holding)
			svc_log(SVC_WARN, "outbox: subscriptions not read for "
			    "%d s: holding deliveries until they are",
			    SUBS_UNKNOWN_MS / 1000);
		o->holding = true;
		return;
	}
	if (o->holding)
		svc_log(SVC_INFO, "outbox: subscriptions read again: "
		    "delivering");
	o->holding = false;
	for (q = o->subs; q != NULL; q = next) {
		next = q->next;
		if (q->head == NULL || !q->seen)
			continue;
		/* The allow-list may have changed since it subscribed (or the
		 * database holds what was never checked): a URL it refuses,
		 * or one of this service's own, is never contacted. */
		if (!q->checked && !tickets_url_allowed(o->cfg, q->sub.url,
		    why, sizeof why)) {
			disable(o, q, 0, why);
			if (q->inflight == 0)
				subq_drop(o, q);
			continue;
		}
		q->checked = true;
		if (q->stats.failures >= FAILING_AFTER) {
			/* A failing subscriber gets one probe at a time, each
			 * with the next event in turn: one event it refuses
			 * must not hide that it takes the others again. */
			if (q->inflight == 0 && now >= q->next_probe_ms) {
				j = q->probed != NULL && q->probed->next !=
				    NULL ? q->probed->next : q->head;
				q->probed = j;
				send_job(o, j);
			}
			continue;
		}
		for (j = q->head; j != NULL && q->inflight < PER_SUB_INFLIGHT;
		    j = j->next)
			if (!j->inflight && j->due_ms <= now)
				send_job(o, j);
	}
}

/* Seconds before attempt number attempts + 1, with up to 20% of jitter so
 * that the retries of many events do not all come back at once. */
static long
retry_delay(struct outbox *o, int attempts)
{
	const struct tickets_config *cfg = o->cfg;
	size_t i = (size_t)attempts;
	long d;

	if (cfg->n_retry == 0)
		return 60;
	d = cfg->retry_schedule[i < cfg->n_retry ? i : cfg->n_retry - 1];
	return d + (long)((double)d * 0.2 * rand_r(&o->seed) / RAND_MAX);
}

static void
record_attempt(struct outbox *o, const struct job *j, const vd_delivery_t *d)
{
	struct attempt *a;

	if (o->n_attempts == MAX_ATTEMPTS_KEPT) {
		/* The database has been down a long while: keep delivering,
		 * let the oldest records go. */
		free(o->attempts[0].url);
		memmove(o->attempts, o->attempts + 1,
		    --o->n_attempts * sizeof *o->attempts);
	}
	grow((void **)&o->attempts, o->n_attempts, &o->cap_attempts,
	    sizeof *o->attempts);
	a = &o->attempts[o->n_attempts++];
	memset(a, 0, sizeof *a);
	memcpy(a->event_id, j->ev->event_id, sizeof a->event_id);
	memcpy(a->sub, j->sub_id, sizeof a->sub);
	if ((a->url = strdup(d->url)) == NULL)
		abort();
	a->number = j->attempts;
	a->at_ms = svc_now_ms();
	a->status = d->http_status;
	a->ms = d->elapsed_ms;
	a->replay = j->replay;
	if (d->code != VD_OK)
		snprintf(a->error, sizeof a->error, "%s", *d->error ? d->error :
		    "failed");
}

static void
succeeded(struct outbox *o, struct job *j, const vd_delivery_t *d)
{
	struct subq *q = j->sub;
	struct ev *e = j->ev;
	bson_error_t error;
	struct job *k;

	svc_log(SVC_INFO, "event sent id=%s to=%s status=%d ms=%ld attempt=%d",
	    e->event_id, q->sub.url, d->http_status, d->elapsed_ms,
	    j->attempts);
	if (q->stats.failures >= FAILING_AFTER) {
		svc_log(SVC_INFO, "outbox: %s answers again; sending what it "
		    "missed", q->sub.url);
		for (k = q->head; k != NULL; k = k->next)
			k->due_ms = 0;
	}
	q->stats.failures = 0;
	q->stats.last_success_ms = svc_now_ms();
	q->stats.last_status = d->http_status;
	q->dirty = true;
	if (j->replay && !store_deadletter_drop(o->store, e->event_id, j->sub_id,
	    &error))
		db_warn(o, "forgetting a replayed dead letter", &error);
	job_finish(o, j, "delivered");
}

static void
failed(struct outbox *o, struct job *j, const vd_delivery_t *d)
{
	struct subq *q = j->sub;
	struct ev *e = j->ev;
	int64_t now = svc_now_ms();
	char reason[256];
	struct job *k;
	long delay;

	q->stats.failures++;
	q->stats.last_failure_ms = now;
	q->stats.last_status = d->http_status;
	snprintf(q->stats.last_error, sizeof q->stats.last_error, "%s",
	    d->error);
	q->dirty = true;
	if (d->http_status == 410) {
		snprintf(reason, sizeof reason, "410 Gone from %s", q->sub.url);
		dead_letter(o, j, 410, reason);
		disable(o, q, 410, reason);
		return;
	}
	delay = retry_delay(o, j->attempts);
	if (d->retry_after_s > delay)
		delay = d->retry_after_s;
	svc_log(SVC_WARN, "event failed id=%s to=%s status=%d error=%s "
	    "attempt=%d next_in=%lds", e->event_id, q->sub.url, d->http_status,
	    d->error, j->attempts, delay);
	if ((size_t)j->attempts >= o->cfg->n_retry ||
	    now + delay * 1000 > e->created_ms + o->cfg->retry_window * 1000) {
		snprintf(reason, sizeof reason, "not delivered after %d "
		    "attempts: %s", j->attempts, d->error);
		dead_letter(o, j, d->http_status, reason);
		return;
	}
	j->due_ms = now + delay * 1000;
	park(o, j);
	if (q->stats.failures >= FAILING_AFTER)
		q->next_probe_ms = now + (delay < o->cfg->probe ? delay :
		    o->cfg->probe) * 1000;
	/* Failing now: what waits for it may wait for hours. */
	if (q->stats.failures == FAILING_AFTER)
		for (k = q->head; k != NULL; k = k->next)
			park(o, k);
}

static void
delivered(const vd_delivery_t *d, void *arg)
{
	struct job *j = arg;
	struct subq *q = j->sub;
	struct outbox *o = j->ev->outbox;

	j->inflight = false;
	q->inflight--;
	/* Its subscription is gone (cancel_inflight): the caller drops
	 * it. */
	if (d->code == VD_ECANCELED)
		return;
	j->attempts++;
	j->status = d->http_status;
	/* Failures, and what followed one: a clean delivery is told by the
	 * event's summary. */
	if (d->code != VD_OK || j->attempts > 1 || j->replay)
		record_attempt(o, j, d);
	svc_metrics_count(o->cfg->metrics, SVC_METRIC_EVENTS, d->code == VD_OK ?
	    "outcome=\"delivered\"" : "outcome=\"failed\"", 1);
	if (d->code == VD_OK)
		succeeded(o, j, d);
	else
		failed(o, j, d);
	if (!q->seen && q->inflight == 0)
		subq_drop(o, q);
}

/* A subscriber in probe mode sends few attempts, so its old events are
 * found dead by age, here. */
static void
expire(struct outbox *o, int64_t now)
{
	struct subq *q;
	struct job *j, *next;

	for (q = o->subs; q != NULL; q = q->next)
		for (j = q->head; j != NULL; j = next) {
			next = j->next;
			if (!j->inflight && now > j->ev->created_ms +
			    o->cfg->retry_window * 1000)
				dead_letter(o, j, q->stats.last_status,
				    "not delivered within the retry schedule");
		}
}

/* ---- instances and adoption ---- */

/* The start time (field 22 of /proc/PID/stat) of a process, "0" when it
 * is gone or a zombie: a pid reused by another process, or a process that
 * died but was not reaped yet, is not the one that made the events. */
static void
process_start(long pid, char *buf, size_t size)
{
	char path[64], line[1024], *p;
	FILE *f;
	int field;

	snprintf(buf, size, "0");
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(line, sizeof line, f) != NULL &&
	    (p = strrchr(line, ')')) != NULL && p[1] == ' ' &&
	    p[2] != 'Z' && p[2] != 'X') {
		/* p is at the end of field 2; field 22 is 20 spaces on. */
		for (field = 2; field < 22 && p != NULL; field++)
			p = strchr(p + 1, ' ');
		if (p != NULL)
			snprintf(buf, size, "%.*s", (int)strcspn(p + 1, " "),
			    p + 1);
	}
	fclose(f);
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

static void
adopt_one(const bson_t *reply, void *arg)
{
	ev_add(arg, reply, ADOPTED, NULL);
}

/* Whether an owner of before is missing from now: somebody died. */
static bool
someone_died(char **before, char **now)
{
	if (before == NULL)
		return true;	/* the first look, at start */
	for (; *before != NULL; before++)
		if (!listed(now, *before))
			return true;
	return false;
}

/* Adopts the pending events and the backlogs of dead owners, if this
 * process is the live instance with the smallest name (one adopter,
 * without a lock): when an instance died, at start, and every minute. */
static void
sweep(struct outbox *o, bool full)
{
	char **live = NULL, **names = NULL, **p;
	bson_error_t error;
	size_t i, j;
	bool adopter = true, died;

	if (!store_instances(o->store, STALE_MS, &live, &error)) {
		db_warn(o, "reading instances", &error);
		bson_strfreev(live);
		return;
	}
	for (i = j = 0; live[i] != NULL; i++) {
		if (strcmp(live[i], o->owner) != 0 && !owner_alive(live[i])) {
			bson_free(live[i]);
			continue;
		}
		live[j++] = live[i];
	}
	live[j] = NULL;
	died = someone_died(o->live, live);
	bson_strfreev(o->live);
	o->live = live;
	for (p = live; *p != NULL; p++)
		if (strcmp(*p, o->owner) < 0)
			adopter = false;
	if (!adopter || !(died || full))
		return;
	/* Adopted events go out as this process's; should it die too, they
	 * still name an owner that is dead, and the next adopter takes them. */
	if (!store_orphans(o->store, live, adopt_one, o, &error))
		db_warn(o, "adopting the events of stopped processes", &error);
	if (!store_orphan_backlogs(o->store, live, &names, &error)) {
		db_warn(o, "looking for backlogs of stopped processes", &error);
		bson_strfreev(names);
		return;
	}
	for (p = names; *p != NULL; p++) {
		if (!store_backlog_each(o->store, *p, adopt_parked, o,
		    &error)) {
			db_warn(o, "adopting a backlog", &error);
			break;
		}
		/* In this process's backlog before theirs goes. */
		flush_settled(o, true);
		if (o->n_parks > 0)
			break;
		if (!store_unpark(o->store, *p, &error)) {
			db_warn(o, "dropping an adopted backlog", &error);
			break;
		}
		svc_log(SVC_INFO, "outbox: adopted backlog %s", *p);
	}
	bson_strfreev(names);
}

/* ---- the thread ---- */

/* Takes in the events handed over since the last round. */
static void
load_pushed(struct outbox *o)
{
	size_t i;

	if (o->n_loading == 0)
		return;
	/* Looked at after the events were stored: a subscription made
	 * before a reply is sure to get its event. */
	if (!subs_current(o))
		return;
	for (i = 0; i < o->n_loading; i++) {
		struct handoff *h = &o->loading[i];

		ev_add(o, h->doc, h->subs != NULL ? REPLAY : FRESH, h->subs);
		bson_destroy(h->doc);
		bson_strfreev(h->subs);
	}
	o->n_loading = 0;
}

/* Writes the events parked since the last flush, window by window. */
static bool
flush_parks(struct outbox *o, bson_error_t *error)
{
	bson_t **docs;
	struct window *w;
	size_t i, j, n;

	if (o->n_parks == 0)
		return true;
	if ((docs = calloc(o->n_parks, sizeof *docs)) == NULL)
		abort();
	for (i = 0; i < o->n_parks; i = j) {
		for (j = i, n = 0; j < o->n_parks &&
		    o->parks[j].window == o->parks[i].window; j++)
			docs[n++] = o->parks[j].doc;
		w = window_get(o, o->parks[i].window);
		if (!store_park(o->store, w->name, o->owner, &w->registered,
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

/* Drops the backlog windows that are over and hold nothing waiting. */
static void
drop_windows(struct outbox *o, int64_t now)
{
	bson_error_t error;
	struct window *w;
	size_t i = 0;

	while (i < o->n_windows) {
		w = &o->windows[i];
		if (w->waiting > 0 || now < w->end_ms + WINDOW_GRACE_MS) {
			i++;
			continue;
		}
		if (w->registered && !store_unpark(o->store, w->name, &error)) {
			db_warn(o, "dropping a backlog", &error);
			i++;
			continue;
		}
		o->windows[i] = o->windows[--o->n_windows];
	}
}

/* Parked events first, then summaries, then the pending documents that
 * nothing holds: a pending document goes only once its event is safe
 * elsewhere. */
static void
flush_settled(struct outbox *o, bool now)
{
	bson_error_t error;
	int64_t t = svc_now_ms();
	size_t i, n = o->n_release + o->n_summaries + o->n_parks;

	if (!now && n < FLUSH_BATCH && t - o->flush_ms < FLUSH_MS)
		return;
	o->flush_ms = t;
	if (n > 0) {
		if (!flush_parks(o, &error)) {
			db_warn(o, "parking events", &error);
			return;
		}
		if (!store_settle(o->store, o->summaries, o->n_summaries,
		    o->release, o->n_release, &error)) {
			db_warn(o, "settling events", &error);
			return;
		}
		for (i = 0; i < o->n_release; i++)
			bson_free(o->release[i]);
		for (i = 0; i < o->n_summaries; i++)
			bson_destroy(o->summaries[i]);
		o->n_release = o->n_summaries = 0;
	}
	drop_windows(o, t);
}

/* Writes what was recorded: the attempts (one insert, as often as
 * flush_settled writes), and every couple of seconds the subscribers'
 * states. */
static void
flush_records(struct outbox *o, int64_t now, bool force)
{
	bson_error_t error;
	struct subq *q;
	size_t i;

	if (o->n_attempts > 0 && (force || o->n_attempts >= FLUSH_BATCH ||
	    now - o->attempts_ms >= FLUSH_MS)) {
		o->attempts_ms = now;
		if (store_attempts(o->store, o->attempts, o->n_attempts,
		    &error)) {
			for (i = 0; i < o->n_attempts; i++)
				free(o->attempts[i].url);
			o->n_attempts = 0;
		} else
			db_warn(o, "recording attempts", &error);
	}
	if (!force && now - o->stats_ms < STATS_MS)
		return;
	o->stats_ms = now;
	for (q = o->subs; q != NULL; q = q->next) {
		if (!q->dirty)
			continue;
		if (store_substats(o->store, o->owner, q->sub.id, &q->stats,
		    &error))
			q->dirty = false;
		else
			db_warn(o, "recording a subscriber's state", &error);
	}
}

static void
take_pushed(struct outbox *o, bool *stop)
{
	size_t i;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n_pushed; i++) {
		grow((void **)&o->loading, o->n_loading, &o->cap_loading,
		    sizeof *o->loading);
		o->loading[o->n_loading++] = o->pushed[i];
	}
	o->n_pushed = 0;
	*stop = o->stop;
	pthread_mutex_unlock(&o->lock);
}

static void *
outbox_main(void *arg)
{
	struct outbox *o = arg;
	bson_error_t error;
	bool stop = false;

	if ((o->store = store_open(o->cfg, "tickets-outbox", &error)) == NULL) {
		svc_log(SVC_ERROR, "outbox: %s", error.message);
		return NULL;
	}
	while (!stop) {
		int64_t now = svc_now_ms();
		vd_error_t verr;

		take_pushed(o, &stop);
		if (stop)
			break;
		load_pushed(o);
		if (now - o->beat_ms >= BEAT_MS) {
			if (store_beat(o->store, o->owner, &error))
				o->beat_ms = now;
			else
				db_warn(o, "heartbeat", &error);
		}
		/* At once when an (un)subscribe on this host moved the
		 * counter, else every SUBS_MS. */
		subs_current(o);
		if (now - o->sweep_ms >= SWEEP_MS) {
			bool full = now - o->full_ms >= FULL_SWEEP_MS;

			o->sweep_ms = now;
			if (full)
				o->full_ms = now;
			sweep(o, full);
			expire(o, now);
		}
		send_due(o, svc_now_ms());
		flush_settled(o, false);
		flush_records(o, now, false);
		if (vd_sender_poll(o->sender, o->n_loading ? 200 : 100,
		    &verr) != VD_OK)
			svc_log(SVC_WARN, "outbox: %s", verr.message);
	}
	flush_records(o, svc_now_ms(), true);
	flush_settled(o, true);
	/* What is still pending stays in the database, owned by a process
	 * that is no more: another adopts it at once. */
	if (!store_gone(o->store, o->owner, &error))
		db_warn(o, "leaving", &error);
	store_close(o->store);
	return NULL;
}

struct outbox *
outbox_start(const struct tickets_config *cfg, const char *owner,
    struct svc_gen *subs_gen)
{
	struct outbox *o;
	vd_error_t err;

	if ((o = calloc(1, sizeof *o)) == NULL)
		return NULL;
	o->cfg = cfg;
	snprintf(o->owner, sizeof o->owner, "%s", owner);
	{
		bson_oid_t token;

		bson_oid_init(&token, NULL);
		bson_oid_to_string(&token, o->token);
	}
	o->seed = (unsigned int)getpid() ^ (unsigned int)svc_now_ms();
	o->subs_gen = subs_gen;
	pthread_mutex_init(&o->lock, NULL);
	if ((o->sender = vd_sender_new(&err)) == NULL) {
		svc_log(SVC_ERROR, "outbox: %s", err.message);
		free(o);
		return NULL;
	}
	vd_sender_set_timeouts(o->sender, 2000, cfg->event_timeout * 1000);
	/* Subscribers behind one nginx share a host: the bound that keeps a
	 * slow one from delaying the others is per subscriber, ours. */
	vd_sender_set_limits(o->sender, IN_FLIGHT, IN_FLIGHT);
	if (cfg->events_secret != NULL &&
	    vd_sender_set_secrets(o->sender, cfg->events_secret, &err) !=
	    VD_OK) {
		svc_log(SVC_ERROR, "outbox: EVENTS_SECRET: %s", err.message);
		vd_sender_destroy(o->sender);
		free(o);
		return NULL;
	}
	if (svc_thread_start(&o->thread, outbox_main, o) != 0) {
		vd_sender_destroy(o->sender);
		free(o);
		return NULL;
	}
	return o;
}

static bool
hand_over(struct outbox *o, const bson_t *doc, char **subs)
{
	struct handoff h;
	size_t n = 0;

	if (o == NULL || (h.doc = bson_copy(doc)) == NULL)
		return false;
	h.subs = NULL;
	if (subs != NULL) {
		while (subs[n] != NULL)
			n++;
		if ((h.subs = calloc(n + 1, sizeof *h.subs)) == NULL)
			abort();
		for (n = 0; subs[n] != NULL; n++)
			h.subs[n] = bson_strdup(subs[n]);
	}
	pthread_mutex_lock(&o->lock);
	grow((void **)&o->pushed, o->n_pushed, &o->cap_pushed,
	    sizeof *o->pushed);
	o->pushed[o->n_pushed++] = h;
	pthread_mutex_unlock(&o->lock);
	vd_sender_wakeup(o->sender);
	return true;
}

void
outbox_push(struct outbox *o, const bson_t *reply_doc)
{
	hand_over(o, reply_doc, NULL);
}

bool
outbox_replay(struct outbox *o, const bson_t *reply_doc, char **subs)
{
	return subs != NULL && hand_over(o, reply_doc, subs);
}

void
outbox_stop(struct outbox *o)
{
	struct subq *q, *next;
	size_t i;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_mutex_unlock(&o->lock);
	vd_sender_wakeup(o->sender);
	pthread_join(o->thread, NULL);
	/* The sender goes first: it drops its transfers unreported. */
	vd_sender_destroy(o->sender);
	for (q = o->subs; q != NULL; q = next) {
		next = q->next;
		free(q->sub.url);
		free(q);
	}
	for (i = 0; i < N_BUCKETS; i++)
		while (o->buckets[i] != NULL)
			ev_free(o, o->buckets[i]);
	for (i = 0; i < o->n_pushed; i++) {
		bson_destroy(o->pushed[i].doc);
		bson_strfreev(o->pushed[i].subs);
	}
	for (i = 0; i < o->n_loading; i++) {
		bson_destroy(o->loading[i].doc);
		bson_strfreev(o->loading[i].subs);
	}
	for (i = 0; i < o->n_attempts; i++)
		free(o->attempts[i].url);
	for (i = 0; i < o->n_release; i++)
		bson_free(o->release[i]);
	for (i = 0; i < o->n_summaries; i++)
		bson_destroy(o->summaries[i]);
	for (i = 0; i < o->n_parks; i++)
		bson_destroy(o->parks[i].doc);
	free(o->pushed);
	free(o->loading);
	free(o->release);
	free(o->summaries);
	free(o->parks);
	free(o->windows);
	free(o->attempts);
	bson_strfreev(o->live);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void
tickets_owner_name(char *buf, size_t size)
{
	char host[256] = "localhost", start[32];

	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	process_start((long)getpid(), start, sizeof start);
	snprintf(buf, size, "%s:%ld:%s", host, (long)getpid(), start);
}
