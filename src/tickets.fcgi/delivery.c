/*
 * delivery.c - who gets which event, decided without I/O (see
 * delivery.h): events, their jobs (one per subscription it goes to), the
 * subscriptions' queues and this process's backlogs. When each job is
 * sent, and what its result leads to, is retry.c's.
 *
 * At least once: every event holds its pending document (stored with its
 * reply, before the client heard 200) until each of its jobs is done or
 * parked. A job for a subscriber that fails is moved to a backlog of this
 * process's (one per time window), so that pending documents are
 * released within seconds whatever a subscriber does; a backlog window is
 * dropped once nothing in it waits. An event is settled, where it went
 * kept, once every job is done. An event adopted from a process that died
 * goes to the subscriptions that existed when it was made.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

void
tk_dl_act(struct tk_delivery *m, enum tk_delivery_act kind, int64_t now,
    const struct tk_delivery_event *ev, struct tk_delivery_job *j)
{
	struct tk_delivery_action a = { kind, now, ev, j, NULL, NULL, 0, NULL,
	    NULL, 0 };

	if (j != NULL) {
		a.sub = j->sub_id;
		a.url = j->sub != NULL ? j->sub->sub.url : NULL;
		a.window = j->window;
	}
	m->cfg.act(m->cfg.arg, &a);
}

/* ---- events ---- */

static struct tk_delivery_event **
bucket(struct tk_delivery *m, const bson_oid_t *id)
{
	return &m->buckets[bson_oid_hash(id) % N_BUCKETS];
}

static struct tk_delivery_event *
ev_find(struct tk_delivery *m, const bson_oid_t *id)
{
	struct tk_delivery_event *e;

	for (e = *bucket(m, id); e != NULL; e = e->hnext)
		if (bson_oid_equal(&e->id, id))
			return e;
	return NULL;
}

bool
tk_delivery_knows(struct tk_delivery *m, const bson_oid_t *id)
{
	return ev_find(m, id) != NULL;
}

static struct tk_delivery_event *
ev_make(struct tk_delivery *m, const struct tk_delivery_input *in)
{
	struct tk_delivery_event *e = bson_malloc0(sizeof *e);
	char hex[25];

	e->machine = m;
	bson_oid_copy(&in->id, &e->id);
	e->body = bson_malloc0(in->len + 1);
	memcpy(e->body, in->body, in->len);
	e->len = in->len;
	bson_oid_to_string(&e->id, hex);
	snprintf(e->event_id, sizeof e->event_id, "evt_%s", hex);
	memcpy(e->rid, in->rid, sizeof e->rid);
	memcpy(e->pending, in->pending, sizeof e->pending);
	e->created_ms = in->created_ms;
	e->hnext = *bucket(m, &e->id);
	*bucket(m, &e->id) = e;
	return e;
}

static void
ev_free(struct tk_delivery *m, struct tk_delivery_event *e)
{
	struct tk_delivery_event **p;
	size_t i;

	for (p = bucket(m, &e->id); *p != NULL; p = &(*p)->hnext)
		if (*p == e) {
			*p = e->hnext;
			break;
		}
	for (i = 0; i < e->n_jobs; i++)
		free(e->jobs[i]);
	free(e->jobs);
	free(e->body);
	free(e);
}

/* Nothing holds the event's pending document any more: every job is done
 * or parked. */
static void
release(struct tk_delivery *m, struct tk_delivery_event *e, int64_t now)
{
	if (e->released)
		return;
	e->released = true;
	if (*e->pending != '\0')
		tk_dl_act(m, DELIVERY_RELEASE, now, e, NULL);
}

/* Every job is done: where the event went is kept, and it is
 * forgotten. */
static void
settle(struct tk_delivery *m, struct tk_delivery_event *e, int64_t now)
{
	tk_dl_act(m, DELIVERY_SETTLE, now, e, NULL);
	release(m, e, now);
	ev_free(m, e);
}

/* A pending job of event e for subscription sub. */
static struct tk_delivery_job *
ev_job(const struct tk_delivery_event *e, const char *sub)
{
	size_t i;

	for (i = 0; i < e->n_jobs; i++)
		if (!e->jobs[i]->done && strcmp(e->jobs[i]->sub_id, sub) == 0)
			return e->jobs[i];
	return NULL;
}

/* ---- backlogs ---- */

struct tk_delivery_window *
tk_delivery_window(struct tk_delivery *m, int64_t end_ms)
{
	struct tk_delivery_window *w;
	size_t i;

	for (i = 0; i < m->n_windows; i++)
		if (m->windows[i].end_ms == end_ms)
			return &m->windows[i];
	if (m->n_windows == m->cap_windows) {
		m->cap_windows = m->cap_windows ? m->cap_windows * 2 : 8;
		m->windows = bson_realloc(m->windows, m->cap_windows *
		    sizeof *m->windows);
	}
	w = &m->windows[m->n_windows++];
	memset(w, 0, sizeof *w);
	w->end_ms = end_ms;
	snprintf(w->name, sizeof w->name, "backlog_%s_%" PRId64, m->cfg.token,
	    end_ms / 1000);
	return w;
}

void
tk_delivery_drop_windows(struct tk_delivery *m, int64_t now,
    bool (*drop)(void *arg, struct tk_delivery_window *w), void *arg)
{
	struct tk_delivery_window *w;
	size_t i = 0;

	while (i < m->n_windows) {
		w = &m->windows[i];
		if (w->waiting > 0 ||
		    now < w->end_ms + DELIVERY_WINDOW_GRACE_MS ||
		    !drop(arg, w)) {
			i++;
			continue;
		}
		m->windows[i] = m->windows[--m->n_windows];
	}
}

/* Moves job j out of its event's pending document into this process's
 * backlog of the current window. */
void
tk_dl_park(struct tk_delivery *m, struct tk_delivery_job *j, int64_t now)
{
	struct tk_delivery_event *e = j->ev;

	if (j->parked || j->done)
		return;
	j->parked = true;
	j->window = (now / DELIVERY_WINDOW_MS + 1) * DELIVERY_WINDOW_MS;
	tk_delivery_window(m, j->window)->waiting++;
	tk_dl_act(m, DELIVERY_PARK, now, e, j);
	if (--e->held == 0)
		release(m, e, now);
}

/* ---- jobs ---- */

static void
queue_remove(struct tk_delivery_sub *q, struct tk_delivery_job *j)
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
void
tk_dl_job_finish(struct tk_delivery *m, struct tk_delivery_job *j,
    const char *outcome, int64_t now)
{
	struct tk_delivery_event *e = j->ev;

	j->done = true;
	j->outcome = outcome;
	j->done_ms = now;
	queue_remove(j->sub, j);
	j->sub = NULL;
	if (j->parked)
		tk_delivery_window(m, j->window)->waiting--;
	else if (--e->held == 0)
		release(m, e, now);
	if (--e->left == 0)
		settle(m, e, now);
}

static struct tk_delivery_job *
job_add(struct tk_delivery_event *e, struct tk_delivery_sub *q, bool replay,
    int64_t now)
{
	struct tk_delivery_job *j = bson_malloc0(sizeof *j);

	e->jobs = bson_realloc(e->jobs, (e->n_jobs + 1) * sizeof *e->jobs);
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
	if (q->stats.failures >= DELIVERY_FAILING_AFTER)
		tk_dl_park(e->machine, j, now);
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

void
tk_delivery_add(struct tk_delivery *m, const struct tk_delivery_input *in,
    enum tk_delivery_how how, char **targets, int64_t now)
{
	struct tk_delivery_sub *q;
	struct tk_delivery_event *e;

	if ((e = ev_find(m, &in->id)) != NULL && how != DELIVERY_REPLAY)
		return;
	if (e == NULL)
		e = ev_make(m, in);
	/* Held while its jobs are made: one parked at once must not let go
	 * of the pending document before the others hold it. */
	e->held++;
	for (q = m->subs; q != NULL; q = q->next) {
		if (!q->seen)
			continue;       /* gone: waits for its POSTs to end */
		if (how == DELIVERY_REPLAY) {
			if (listed(targets, q->sub.id) &&
			    ev_job(e, q->sub.id) == NULL)
				job_add(e, q, true, now);
			continue;
		}
		/* A second of slack for clocks of other hosts. Whom a dead
		 * process reached is not known: they get it again, and drop
		 * it by its id. */
		if (how == DELIVERY_ADOPTED &&
		    q->sub.created_ms > e->created_ms + 1000)
			continue;
		/* A fresh event comes a batch after its reply (the shell
		 * stores replies a batch at a time): a subscription made
		 * since, by this host's clock, is not one it was made for. */
		if (how == DELIVERY_FRESH && q->sub.created_ms > e->created_ms)
			continue;
		job_add(e, q, false, now);
	}
	e->held--;
	if (e->left == 0)
		settle(m, e, now);      /* nobody to tell */
	else if (e->held == 0)
		release(m, e, now);
}

static struct tk_delivery_sub *
sub_find(struct tk_delivery *m, const char *id)
{
	struct tk_delivery_sub *q;

	for (q = m->subs; q != NULL; q = q->next)
		if (strcmp(q->sub.id, id) == 0)
			return q;
	return NULL;
}

void
tk_delivery_adopt_parked(struct tk_delivery *m,
    const struct tk_delivery_input *in, const char *sub, int attempts,
    bool replay, int64_t now)
{
	struct tk_delivery_sub *q;
	struct tk_delivery_event *e;
	struct tk_delivery_job *j;

	/* Unsubscribed meanwhile: not wanted any more. */
	if ((q = sub_find(m, sub)) == NULL || !q->seen)
		return;
	if ((e = ev_find(m, &in->id)) == NULL) {
		e = ev_make(m, in);
		e->released = true;     /* its pending document is gone */
	}
	if (ev_job(e, sub) != NULL)
		return;
	e->held++;
	j = job_add(e, q, replay, now);
	j->attempts = attempts;
	tk_dl_park(m, j, now);
	if (--e->held == 0)
		release(m, e, now);
}

/* ---- subscriptions ---- */

void
tk_dl_sub_drop(struct tk_delivery *m, struct tk_delivery_sub *q, int64_t now)
{
	struct tk_delivery_sub **p;

	svc_log(SVC_INFO, "outbox: subscription %s (%s) is gone", q->sub.id,
	    q->sub.url);
	while (q->head != NULL)
		tk_dl_job_finish(m, q->head, "unsubscribed", now);
	for (p = &m->subs; *p != NULL; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	free(q->sub.url);
	free(q);
}

void
tk_delivery_subs(struct tk_delivery *m, const struct tk_sub *subs, size_t n,
    int64_t now)
{
	struct tk_delivery_sub *q, *next, **tail;
	struct tk_delivery_job *j, *jn;
	size_t i;

	for (q = m->subs; q != NULL; q = q->next)
		q->seen = false;
	for (i = 0; i < n; i++) {
		if ((q = sub_find(m, subs[i].id)) != NULL) {
			q->seen = true;
			continue;
		}
		q = bson_malloc0(sizeof *q);
		q->sub = subs[i];
		q->sub.url = bson_strdup(subs[i].url);
		q->seen = true;
		for (tail = &m->subs; *tail != NULL; tail = &(*tail)->next)
			;
		*tail = q;
	}
	m->subs_ok_ms = now;
	/* Unsubscribed (or disabled): nothing more goes to it, from now; an
	 * operator who ends a delivery storm must not wait for the POSTs
	 * under way. Each comes back canceled, and it goes with the last. */
	for (q = m->subs; q != NULL; q = next) {
		next = q->next;
		if (q->seen)
			continue;
		if (q->inflight == 0) {
			tk_dl_sub_drop(m, q, now);
			continue;
		}
		if (!q->disabled)
			for (j = q->head; j != NULL; j = jn) {
				jn = j->next;
				if (j->inflight)
					tk_dl_act(m, DELIVERY_CANCEL, now,
					    j->ev, j);
			}
	}
}

/* ---- adoption ---- */

bool
tk_delivery_adopts(const char *me, char **now, char **before, bool full)
{
	char **p;
	bool died = before == NULL;     /* the first look, at start */

	for (p = now; *p != NULL; p++)
		if (strcmp(*p, me) < 0)
			return false;
	for (p = before; !died && *p != NULL; p++)
		died = !listed(now, *p);
	return died || full;
}

/* ---- the machine ---- */

struct tk_delivery *
tk_delivery_new(const struct tk_delivery_config *cfg)
{
	struct tk_delivery *m = bson_malloc0(sizeof *m);

	m->cfg = *cfg;
	return m;
}

void *
tk_delivery_arg(const struct tk_delivery *m)
{
	return m->cfg.arg;
}

void
tk_delivery_free(struct tk_delivery *m)
{
	struct tk_delivery_sub *q, *next;
	size_t i;

	if (m == NULL)
		return;
	for (q = m->subs; q != NULL; q = next) {
		next = q->next;
		free(q->sub.url);
		free(q);
	}
	for (i = 0; i < N_BUCKETS; i++)
		while (m->buckets[i] != NULL)
			ev_free(m, m->buckets[i]);
	free(m->windows);
	free(m);
}
