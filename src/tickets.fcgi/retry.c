/*
 * retry.c - the delivery machine's sending, and what each result leads
 * to (see delivery.c): at most DELIVERY_PER_SUB_INFLIGHT POSTs at once to
 * a subscriber, retries on the schedule with jitter and Retry-After, one
 * probe at a time to a subscriber that keeps failing, dead letters, and
 * a 410 Gone or a URL refused disabling the subscription.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

/* Keeps j as a dead letter and takes it out of the queue. */
static void
dead_letter(struct tk_delivery *m, struct tk_delivery_job *j, int status,
    const char *reason, int64_t now)
{
	struct tk_delivery_action a = { DELIVERY_DEAD, now, j->ev, j, j->sub_id,
	    j->sub->sub.url, status, reason, NULL, j->window };

	svc_log(SVC_WARN, "event dead id=%s to=%s attempts=%d: %s",
	    j->ev->event_id, j->sub->sub.url, j->attempts, reason);
	m->cfg.act(m->cfg.arg, &a);
	tk_dl_job_finish(m, j, "dead", now);
}

/* Ends subscription q for reason: no event goes to it until it is
 * subscribed again; what was waiting for it is kept as dead letters. */
static void
disable(struct tk_delivery *m, struct tk_delivery_sub *q, int status,
    const char *reason, int64_t now)
{
	struct tk_delivery_action a = { DELIVERY_DISABLE, now, NULL, NULL,
	    q->sub.id, q->sub.url, status, reason, NULL, 0 };
	struct tk_delivery_job *j, *next;

	svc_log(SVC_WARN, "outbox: subscription %s (%s) disabled: %s",
	    q->sub.id, q->sub.url, reason);
	m->cfg.act(m->cfg.arg, &a);
	for (j = q->head; j != NULL; j = next) {
		next = j->next;
		if (!j->inflight)
			dead_letter(m, j, status, reason, now);
	}
	/* Dropped once no POST of it is in flight. */
	q->seen = false;
	q->disabled = true;
}

/* ---- sending ---- */

static void
send_job(struct tk_delivery *m, struct tk_delivery_job *j, int64_t now)
{
	j->inflight = true;
	j->sub->inflight++;
	tk_dl_act(m, DELIVERY_SEND, now, j->ev, j);
}

void
tk_delivery_send_due(struct tk_delivery *m, int64_t now)
{
	struct tk_delivery_sub *q, *next;
	struct tk_delivery_job *j;
	bson_error_t why;

	/* An operator's unsubscribe must not be lost on a database too busy
	 * to answer (a reply flood): events wait until they are read. */
	if (now - m->subs_ok_ms > DELIVERY_SUBS_UNKNOWN_MS) {
		if (!m->holding)
			svc_log(SVC_WARN, "outbox: subscriptions not read for "
			    "%d s: holding deliveries until they are",
			    DELIVERY_SUBS_UNKNOWN_MS / 1000);
		m->holding = true;
		return;
	}
	if (m->holding)
		svc_log(SVC_INFO, "outbox: subscriptions read again: "
		    "delivering");
	m->holding = false;
	for (q = m->subs; q != NULL; q = next) {
		next = q->next;
		if (q->head == NULL || !q->seen)
			continue;
		/* The allow-list may have changed since it subscribed (or the
		 * database holds what was never checked): a URL it refuses,
		 * or one of this service's own, is never contacted. */
		if (!q->checked && m->cfg.url_allowed != NULL &&
		    !m->cfg.url_allowed(m->cfg.arg, q->sub.url, &why)) {
			disable(m, q, 0, why.message, now);
			if (q->inflight == 0)
				tk_dl_sub_drop(m, q, now);
			continue;
		}
		q->checked = true;
		if (q->stats.failures >= DELIVERY_FAILING_AFTER) {
			/* A failing subscriber gets one probe at a time, each
			 * with the next event in turn: one event it refuses
			 * must not hide that it takes the others again. */
			if (q->inflight == 0 && now >= q->next_probe_ms) {
				j = q->probed != NULL && q->probed->next !=
				    NULL ? q->probed->next : q->head;
				q->probed = j;
				send_job(m, j, now);
			}
			continue;
		}
		for (j = q->head; j != NULL &&
		    q->inflight < DELIVERY_PER_SUB_INFLIGHT; j = j->next)
			if (!j->inflight && j->due_ms <= now)
				send_job(m, j, now);
	}
}

/* Seconds before attempt number attempts + 1, with up to 20% of jitter so
 * that the retries of many events do not all come back at once. */
static long
retry_delay(struct tk_delivery *m, int attempts)
{
	size_t i = (size_t)attempts, n = m->cfg.n_retry;
	long d;

	if (n == 0)
		return 60;
	d = m->cfg.retry_schedule[i < n ? i : n - 1];
	return d + (long)((double)d * 0.2 * rand_r(&m->cfg.seed) / RAND_MAX);
}

static void
succeeded(struct tk_delivery *m, struct tk_delivery_job *j,
    const vd_delivery_t *d, int64_t now)
{
	struct tk_delivery_sub *q = j->sub;
	struct tk_delivery_job *k;

	svc_log(SVC_INFO, "event sent id=%s to=%s status=%d ms=%ld attempt=%d",
	    j->ev->event_id, q->sub.url, d->http_status, d->elapsed_ms,
	    j->attempts);
	if (q->stats.failures >= DELIVERY_FAILING_AFTER) {
		svc_log(SVC_INFO, "outbox: %s answers again; sending what it "
		    "missed", q->sub.url);
		for (k = q->head; k != NULL; k = k->next)
			k->due_ms = 0;
	}
	q->stats.failures = 0;
	q->stats.last_success_ms = now;
	q->stats.last_status = d->http_status;
	q->dirty = true;
	if (j->replay)
		tk_dl_act(m, DELIVERY_FORGET, now, j->ev, j);
	tk_dl_job_finish(m, j, "delivered", now);
}

static void
failed(struct tk_delivery *m, struct tk_delivery_job *j, const vd_delivery_t *d,
    int64_t now)
{
	struct tk_delivery_sub *q = j->sub;
	struct tk_delivery_event *e = j->ev;
	char reason[256];
	struct tk_delivery_job *k;
	long delay;

	q->stats.failures++;
	q->stats.last_failure_ms = now;
	q->stats.last_status = d->http_status;
	snprintf(q->stats.last_error, sizeof q->stats.last_error, "%s",
	    d->error);
	q->dirty = true;
	if (d->http_status == 410) {
		snprintf(reason, sizeof reason, "410 Gone from %s", q->sub.url);
		dead_letter(m, j, 410, reason, now);
		disable(m, q, 410, reason, now);
		return;
	}
	delay = retry_delay(m, j->attempts);
	if (d->retry_after_s > delay)
		delay = d->retry_after_s;
	svc_log(SVC_WARN, "event failed id=%s to=%s status=%d error=%s "
	    "attempt=%d next_in=%lds", e->event_id, q->sub.url, d->http_status,
	    d->error, j->attempts, delay);
	if ((size_t)j->attempts >= m->cfg.n_retry ||
	    now + delay * 1000 > e->created_ms + m->cfg.retry_window * 1000) {
		snprintf(reason, sizeof reason, "not delivered after %d "
		    "attempts: %s", j->attempts, d->error);
		dead_letter(m, j, d->http_status, reason, now);
		return;
	}
	j->due_ms = now + delay * 1000;
	tk_dl_park(m, j, now);
	if (q->stats.failures >= DELIVERY_FAILING_AFTER)
		q->next_probe_ms = now + (delay < m->cfg.probe ? delay :
		    m->cfg.probe) * 1000;
	/* Failing now: what waits for it may wait for hours. */
	if (q->stats.failures == DELIVERY_FAILING_AFTER)
		for (k = q->head; k != NULL; k = k->next)
			tk_dl_park(m, k, now);
}

void
tk_delivery_result(struct tk_delivery *m, struct tk_delivery_job *j,
    const vd_delivery_t *d, int64_t now)
{
	struct tk_delivery_sub *q = j->sub;

	j->inflight = false;
	q->inflight--;
	if (d->code != VD_ECANCELED) {
		j->attempts++;
		j->status = d->http_status;
		/* Failures, and what followed one: a clean delivery is told
		 * by the event's summary. */
		if (d->code != VD_OK || j->attempts > 1 || j->replay) {
			struct tk_delivery_action a = { DELIVERY_RECORD, now,
			    j->ev, j, j->sub_id, q->sub.url, 0, NULL, d, 0 };

			m->cfg.act(m->cfg.arg, &a);
		}
		if (d->code == VD_OK)
			succeeded(m, j, d, now);
		else
			failed(m, j, d, now);
	}
	/* Its subscription is gone: it goes with its last POST. */
	if (!q->seen && q->inflight == 0)
		tk_dl_sub_drop(m, q, now);
}

/* A subscriber in probe mode sends few attempts, so its old events are
 * found dead by age, here. */
void
tk_delivery_expire(struct tk_delivery *m, int64_t now)
{
	struct tk_delivery_sub *q;
	struct tk_delivery_job *j, *next;

	for (q = m->subs; q != NULL; q = q->next)
		for (j = q->head; j != NULL; j = next) {
			next = j->next;
			if (!j->inflight && now > j->ev->created_ms +
			    m->cfg.retry_window * 1000)
				dead_letter(m, j, q->stats.last_status,
				    "not delivered within the retry schedule",
				    now);
		}
}

void
tk_delivery_each_changed(struct tk_delivery *m,
    bool (*fn)(void *arg, const char *sub, const struct tk_sub_stats *stats),
    void *arg)
{
	struct tk_delivery_sub *q;

	for (q = m->subs; q != NULL; q = q->next)
		if (q->dirty && fn(arg, q->sub.id, &q->stats))
			q->dirty = false;
}
