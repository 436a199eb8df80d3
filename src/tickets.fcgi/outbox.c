/*
 * outbox.c - delivery of reply events to subscribers, at least once.
 *
 * Each accepted reply is stored with its event (delivered: false) before
 * the client hears 200; the request thread then hands the reply id to this
 * process's delivery thread, which POSTs the event to every subscriber
 * through libcurl's multi interface, off the request path. Failed POSTs are
 * retried on a schedule; a subscriber that keeps failing is only probed now
 * and then, and once it answers again everything it missed goes at once.
 *
 * Nothing is lost when a process dies: its undelivered events name it as
 * owner, every process heartbeats an "instances" document, and the live
 * instance with the smallest name adopts the events of owners that stopped
 * beating (or, on the same host, whose pid is gone).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickets.h"

#define N_BUCKETS 4096
#define PER_SUB_INFLIGHT 8      /* concurrent POSTs to one subscriber */
#define FAILING_AFTER 3         /* consecutive failures: only probe */
/* FerretDB scans a whole collection for any filter, even on _id, so the
 * passes over the replies (adoption, marking delivered) are rare and
 * batched; the small collections (instances, subscriptions) are cheap. */
#define BEAT_MS 3000
#define STALE_MS 15000          /* an instance silent this long is dead */
#define SWEEP_MS 5000           /* look at the instances */
#define FULL_SWEEP_MS 60000     /* and at all undelivered events */
#define FLUSH_MS 1000           /* mark delivered at most this often */
#define FLUSH_BATCH 256
#define SUBS_MS 2000

struct ev;
struct subq;

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
};

struct ev {
	struct outbox *outbox;
	bson_oid_t id;
	char event_id[32];
	char *body;
	size_t len;
	int left;                       /* jobs not done yet */
	bool troubled;                  /* a POST failed: record each success */
	struct job **jobs;
	size_t n_jobs;
	struct ev *hnext;
};

struct subq {
	struct sub sub;                 /* id, url, created_ms */
	struct job *head, *tail;
	int inflight;
	int failures;                   /* consecutive */
	int64_t next_probe_ms;
	struct job *probed;             /* the last probe: the next is after */
	bool seen;                      /* in the last refresh */
	struct subq *next;
};

struct outbox {
	const struct tickets_config *cfg;
	char owner[320];
	vd_sender_t *sender;
	pthread_t thread;

	pthread_mutex_t lock;           /* guards pushed and stop */
	bson_t **pushed;                /* reply documents handed over */
	size_t n_pushed, cap_pushed;
	bool stop;

	/* Owned by the delivery thread. */
	struct store *store;
	struct subq *subs;
	struct ev *buckets[N_BUCKETS];
	bson_t **loading;               /* handed over, not taken in yet */
	size_t n_loading, cap_loading;
	bson_oid_t *done;               /* events to mark delivered */
	size_t n_done, cap_done;
	int64_t subs_ms, beat_ms, sweep_ms, full_ms, flush_ms, db_warned_ms;
	char **live;                    /* live instances at the last sweep */
	char **reached;                 /* deliveries during a sweep */
};

static void
oid_push(bson_oid_t **v, size_t *n, size_t *cap, const bson_oid_t *id)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((*v = realloc(*v, *cap * sizeof **v)) == NULL)
			abort();
	}
	bson_oid_copy(id, &(*v)[(*n)++]);
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

/* A job is over: delivered, or its subscription is gone. The event is
 * over when all its jobs are. */
static void
job_finish(struct outbox *o, struct job *j)
{
	struct ev *e = j->ev;

	j->done = true;
	queue_remove(j->sub, j);
	j->sub = NULL;
	if (--e->left == 0) {
		oid_push(&o->done, &o->n_done, &o->cap_done, &e->id);
		ev_free(o, e);
	}
}

static bool
listed(char **list, const char *s)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the sweep's delivery records say event reached sub. */
static bool
reached(struct outbox *o, const char *event_id, const char *sub)
{
	char key[64], *k = key;
	size_t n = 0;

	if (o->reached == NULL)
		return false;
	while (o->reached[n] != NULL)
		n++;
	snprintf(key, sizeof key, "%s|%s", event_id, sub);
	return bsearch(&k, o->reached, n, sizeof *o->reached, cmp_key) != NULL;
}

/* Takes an event into memory with one job per subscriber. A fresh event
 * (handed over by the request thread) goes to every current subscriber;
 * an adopted one only to those that existed when it was made and that it
 * has not reached yet. */
static void
ev_add(struct outbox *o, const bson_t *doc, bool fresh)
{
	bson_iter_t it;
	bson_oid_t id;
	int64_t created = 0;
	struct subq *q;
	struct ev *e;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return;
	bson_oid_copy(bson_iter_oid(&it), &id);
	if (ev_find(o, &id) != NULL)
		return;
	if (bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		created = bson_iter_date_time(&it);
	if ((e = calloc(1, sizeof *e)) == NULL)
		abort();
	e->outbox = o;
	bson_oid_copy(&id, &e->id);
	if ((e->body = store_event_json(doc)) == NULL) {
		free(e);
		return;
	}
	e->len = strlen(e->body);
	{
		char hex[25];

		bson_oid_to_string(&id, hex);
		snprintf(e->event_id, sizeof e->event_id, "evt_%s", hex);
	}
	e->troubled = !fresh;
	for (q = o->subs; q != NULL; q = q->next) {
		struct job *j;

		/* A second of slack for clocks of other hosts. */
		if (!fresh && (q->sub.created_ms > created + 1000 ||
		    reached(o, e->event_id, q->sub.id)))
			continue;
		if ((j = calloc(1, sizeof *j)) == NULL)
			abort();
		j->ev = e;
		j->sub = q;
		memcpy(j->sub_id, q->sub.id, sizeof j->sub_id);
		j->prev = q->tail;
		if (q->tail != NULL)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		e->jobs = realloc(e->jobs, (e->n_jobs + 1) * sizeof *e->jobs);
		e->jobs[e->n_jobs++] = j;
		e->left++;
	}
	e->hnext = *bucket(o, &id);
	*bucket(o, &id) = e;
	if (e->left == 0) {
		/* Nobody to tell. */
		oid_push(&o->done, &o->n_done, &o->cap_done, &e->id);
		ev_free(o, e);
	}
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

	/* Jobs in flight finish in their callback, which sees sub gone. */
	while (q->head != NULL)
		job_finish(o, q->head);
	for (p = &o->subs; *p != NULL; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	svc_log(SVC_INFO, "outbox: subscription %s (%s) is gone", q->sub.id,
	    q->sub.url);
	free(q->sub.url);
	free(q);
}

static bool
subs_refresh(struct outbox *o)
{
	struct sub *subs;
	struct subq *q, *next, **tail;
	bson_error_t error;
	size_t n, i;
	int64_t started = svc_now_ms();

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
	for (q = o->subs; q != NULL; q = next) {
		next = q->next;
		if (!q->seen && q->inflight == 0)
			subq_drop(o, q);
	}
	o->subs_ms = started;
	return true;
}

/* ---- sending ---- */

static void delivered(const vd_delivery_t *d, void *arg);

static void
send_job(struct outbox *o, struct job *j)
{
	vd_error_t err;

	j->inflight = true;
	j->sub->inflight++;
	if (vd_sender_post(o->sender, j->sub->sub.url, j->ev->event_id,
	    j->ev->body, j->ev->len, delivered, j, &err) != VD_OK) {
		/* Not sendable at all (a URL that is not http): say so. */
		vd_delivery_t d = { j->sub->sub.url, j->ev->event_id, 0,
		    err.code, err.message, -1, 0 };

		delivered(&d, j);
	}
}

static void
send_due(struct outbox *o, int64_t now)
{
	struct subq *q;
	struct job *j;

	for (q = o->subs; q != NULL; q = q->next) {
		if (q->failures >= FAILING_AFTER) {
			/* A failing subscriber gets one probe at a time, each
			 * with the next event in turn: one event it refuses
			 * must not hide that it takes the others again. */
			if (q->inflight == 0 && q->head != NULL &&
			    now >= q->next_probe_ms) {
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

static long
retry_delay(const struct tickets_config *cfg, int attempts)
{
	size_t i = (size_t)attempts;

	if (cfg->n_retry == 0)
		return 60;
	return cfg->retry_schedule[i < cfg->n_retry ? i : cfg->n_retry - 1];
}

/* Records the subscribers an event reached, so that whoever adopts it does
 * not send it to them again. */
static void
record_success(struct outbox *o, struct job *j, int status)
{
	bson_error_t error;

	if (!store_delivered(o->store, j->ev->event_id, j->sub_id, status,
	    &error))
		db_warn(o, "recording a delivery", &error);
}

static void
delivered(const vd_delivery_t *d, void *arg)
{
	struct job *j = arg;
	struct ev *e = j->ev;
	struct outbox *o = e->outbox;
	struct subq *q = j->sub;
	int64_t now = svc_now_ms();
	long delay;
	size_t i;

	j->inflight = false;
	j->attempts++;
	if (q == NULL) {
		/* Its subscription went away while this was in flight. */
		return;
	}
	q->inflight--;
	if (d->code == VD_OK) {
		svc_log(SVC_INFO, "event sent id=%s to=%s status=%d ms=%ld "
		    "attempt=%d", e->event_id, q->sub.url, d->http_status,
		    d->elapsed_ms, j->attempts);
		if (q->failures >= FAILING_AFTER) {
			struct job *k;

			svc_log(SVC_INFO, "outbox: %s answers again; sending "
			    "what it missed", q->sub.url);
			for (k = q->head; k != NULL; k = k->next)
				k->due_ms = 0;
		}
		q->failures = 0;
		if (e->troubled)
			record_success(o, j, d->http_status);
		job_finish(o, j);
		return;
	}

	q->failures++;
	delay = retry_delay(o->cfg, j->attempts);
	if (d->retry_after_s > delay)
		delay = d->retry_after_s;
	j->due_ms = now + delay * 1000;
	if (q->failures >= FAILING_AFTER)
		q->next_probe_ms = now + (delay < o->cfg->probe ? delay :
		    o->cfg->probe) * 1000;
	svc_log(SVC_WARN, "event failed id=%s to=%s status=%d error=%s "
	    "attempt=%d next_in=%lds", e->event_id, q->sub.url, d->http_status,
	    d->error, j->attempts, delay);
	if (!e->troubled) {
		/* From now on an adopter must know whom it reached. */
		e->troubled = true;
		for (i = 0; i < e->n_jobs; i++)
			if (e->jobs[i]->done)
				record_success(o, e->jobs[i], 200);
	}
}

/* ---- the thread ---- */

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
adopt_one(const bson_t *doc, void *arg)
{
	ev_add(arg, doc, false);
}

static bool
same_set(char **a, char **b)
{
	size_t na = 0, nb = 0;

	if (a == NULL || b == NULL)
		return false;
	for (; a[na] != NULL; na++)
		if (!listed(b, a[na]))
			return false;
	while (b[nb] != NULL)
		nb++;
	return na == nb;
}

/* Adopts the events of dead owners, if this process is the live instance
 * with the smallest name (one adopter, without a lock). The pass over the
 * replies runs when an instance died, and every minute (which also finds
 * this process's own events that memory lost track of). */
static void
sweep(struct outbox *o, bool full)
{
	char **live = NULL, **p;
	bson_error_t error;
	long n;
	size_t i, j;
	bool adopter = true;

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
	if (!full && same_set(live, o->live)) {
		bson_strfreev(live);
		return;
	}
	bson_strfreev(o->live);
	o->live = live;
	for (p = live; *p != NULL; p++)
		if (strcmp(*p, o->owner) < 0)
			adopter = false;
	if (adopter) {
		n = store_adopt(o->store, live, o->owner, &error);
		if (n < 0)
			db_warn(o, "adopting events", &error);
		else if (n > 0)
			svc_log(SVC_INFO, "outbox: adopted %ld undelivered "
			    "events of stopped processes", n);
		if (n > 0 || full)
			full = true;
	}
	if (!full)
		return;
	if (!store_deliveries(o->store, &o->reached, &error)) {
		db_warn(o, "reading deliveries", &error);
	} else if (!store_owned(o->store, o->owner, adopt_one, o, &error))
		db_warn(o, "loading own undelivered events", &error);
	bson_strfreev(o->reached);
	o->reached = NULL;
}

static void
doc_push(bson_t ***v, size_t *n, size_t *cap, bson_t *doc)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((*v = realloc(*v, *cap * sizeof **v)) == NULL)
			abort();
	}
	(*v)[(*n)++] = doc;
}

/* Takes in the events handed over since the last round. */
static void
load_pushed(struct outbox *o)
{
	size_t i;

	if (o->n_loading == 0)
		return;
	/* The subscriptions are read after the events were stored, so a
	 * subscription made before a reply is sure to get its event. */
	if (!subs_refresh(o))
		return;
	for (i = 0; i < o->n_loading; i++) {
		ev_add(o, o->loading[i], true);
		bson_destroy(o->loading[i]);
	}
	o->n_loading = 0;
}

static void
flush_done(struct outbox *o, bool now)
{
	bson_error_t error;
	int64_t t = svc_now_ms();

	if (o->n_done == 0 || (!now && o->n_done < FLUSH_BATCH &&
	    t - o->flush_ms < FLUSH_MS))
		return;
	o->flush_ms = t;
	if (store_events_done(o->store, o->done, o->n_done, &error))
		o->n_done = 0;
	else
		db_warn(o, "marking events delivered", &error);
}

static void
take_pushed(struct outbox *o, bool *stop)
{
	size_t i;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n_pushed; i++)
		doc_push(&o->loading, &o->n_loading, &o->cap_loading,
		    o->pushed[i]);
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
		if (now - o->subs_ms >= SUBS_MS)
			subs_refresh(o);
		if (now - o->sweep_ms >= SWEEP_MS) {
			bool full = now - o->full_ms >= FULL_SWEEP_MS;

			o->sweep_ms = now;
			if (full)
				o->full_ms = now;
			sweep(o, full);
		}
		send_due(o, svc_now_ms());
		flush_done(o, false);
		if (vd_sender_poll(o->sender, o->n_loading ? 200 : 100,
		    &verr) != VD_OK)
			svc_log(SVC_WARN, "outbox: %s", verr.message);
	}
	flush_done(o, true);
	/* What is still pending stays in the database, owned by a process
	 * that is no more: another adopts it at once. */
	if (!store_gone(o->store, o->owner, &error))
		db_warn(o, "leaving", &error);
	store_close(o->store);
	return NULL;
}

struct outbox *
outbox_start(const struct tickets_config *cfg, const char *owner)
{
	struct outbox *o;
	vd_error_t err;

	if ((o = calloc(1, sizeof *o)) == NULL)
		return NULL;
	o->cfg = cfg;
	snprintf(o->owner, sizeof o->owner, "%s", owner);
	pthread_mutex_init(&o->lock, NULL);
	if ((o->sender = vd_sender_new(&err)) == NULL) {
		svc_log(SVC_ERROR, "outbox: %s", err.message);
		free(o);
		return NULL;
	}
	vd_sender_set_timeouts(o->sender, 2000, cfg->event_timeout * 1000);
	if (svc_thread_start(&o->thread, outbox_main, o) != 0) {
		vd_sender_destroy(o->sender);
		free(o);
		return NULL;
	}
	return o;
}

void
outbox_push(struct outbox *o, const bson_t *reply_doc)
{
	bson_t *copy;

	if (o == NULL || (copy = bson_copy(reply_doc)) == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	doc_push(&o->pushed, &o->n_pushed, &o->cap_pushed, copy);
	pthread_mutex_unlock(&o->lock);
	vd_sender_wakeup(o->sender);
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
	for (i = 0; i < o->n_pushed; i++)
		bson_destroy(o->pushed[i]);
	for (i = 0; i < o->n_loading; i++)
		bson_destroy(o->loading[i]);
	free(o->pushed);
	free(o->loading);
	free(o->done);
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
