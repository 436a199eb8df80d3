/*
 * test-delivery.c - the delivery state machine (delivery.c) driven by a
 * clock of our own and fake POST results: no database, no network, no
 * sleeps. Every action it decides is written to a log the tests read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "unit.h"

#define T0 1700000000000LL      /* any start time, ms */
#define S 1000LL                /* a second, ms */
#define MAX_LOG 256

/* As EVENTS_RETRY_SCHEDULE: the first attempt at once. */
static const long schedule[] = { 0, 10, 60, 300 };

struct logged {
	enum tk_delivery_act kind;
	char event_id[32];
	char sub[25];
	int status;
	char reason[256];
	int64_t window;
	int attempts;
	bool replay;
	struct tk_delivery_job *job;
	char outcomes[128];     /* SETTLE: "delivered,dead,..." */
};

static struct logged lg[MAX_LOG];
static size_t n_lg;
static struct tk_delivery *m;
static bool refuse_bad;         /* the allow-list refuses "http://bad/" */

static void
record(void *arg, const struct tk_delivery_action *a)
{
	struct logged *l;
	size_t i;

	(void)arg;
	ck_assert_uint_lt(n_lg, MAX_LOG);
	l = &lg[n_lg++];
	memset(l, 0, sizeof *l);
	l->kind = a->kind;
	if (a->ev != NULL)
		snprintf(l->event_id, sizeof l->event_id, "%s",
		    a->ev->event_id);
	if (a->sub != NULL)
		snprintf(l->sub, sizeof l->sub, "%s", a->sub);
	l->status = a->status;
	if (a->reason != NULL)
		snprintf(l->reason, sizeof l->reason, "%s", a->reason);
	l->window = a->window;
	l->job = a->job;
	if (a->job != NULL) {
		l->attempts = a->job->attempts;
		l->replay = a->job->replay;
	}
	if (a->kind == DELIVERY_SETTLE)
		for (i = 0; i < a->ev->n_jobs; i++)
			snprintf(l->outcomes + strlen(l->outcomes),
			    sizeof l->outcomes - strlen(l->outcomes), "%s%s",
			    i ? "," : "", a->ev->jobs[i]->outcome);
}

static bool
allowed(void *arg, const char *url, bson_error_t *error)
{
	(void)arg;
	if (refuse_bad && strcmp(url, "http://bad/") == 0) {
		bson_set_error(error, 0, 0, "not on the allow-list");
		return false;
	}
	return true;
}

/* n_retry attempts at most, none after window seconds. */
static struct tk_delivery *
machine_of(const char *token, size_t n_retry, long window)
{
	struct tk_delivery_config cfg = { schedule, n_retry, 30, window, 1,
	    token, allowed, record, NULL };

	return tk_delivery_new(&cfg);
}

static struct tk_delivery *
machine(const char *token)
{
	return machine_of(token, 4, 370);
}

static void
setup(void)
{
	n_lg = 0;
	refuse_bad = false;
	m = machine("tok");
}

static void
teardown(void)
{
	tk_delivery_free(m);
}

/* Subscription i: id "00..0i", url http://hN/, made at created_ms. */
static struct tk_sub
sub(int i, int64_t created_ms)
{
	static char urls[8][32];
	struct tk_sub s;

	snprintf(s.id, sizeof s.id, "%024d", i);
	snprintf(urls[i], sizeof urls[i], "http://h%d/", i);
	s.url = urls[i];
	s.created_ms = created_ms;
	return s;
}

static const char *
sub_id(int i)
{
	static char id[8][25];

	snprintf(id[i], sizeof id[i], "%024d", i);
	return id[i];
}

static int n_subs;

static void
subs(struct tk_delivery *d, int n, int64_t now)
{
	struct tk_sub s[8];
	int i;

	n_subs = n;
	for (i = 0; i < n; i++)
		s[i] = sub(i, T0 - 3600 * S);
	tk_delivery_subs(d, s, (size_t)n, now);
}

/* The shell reads the subscriptions every couple of seconds, then sends
 * what is due. */
static void
send_at(int64_t now)
{
	subs(m, n_subs, now);
	tk_delivery_send_due(m, now);
}

static struct tk_delivery_input
input(int i, int64_t created_ms)
{
	struct tk_delivery_input in;
	char hex[25];

	memset(&in, 0, sizeof in);
	snprintf(hex, sizeof hex, "%024x", i);
	bson_oid_init_from_string(&in.id, hex);
	in.body = "{\"id\":1}";
	in.len = strlen(in.body);
	snprintf(in.pending, sizeof in.pending, "t|%d", i);
	in.created_ms = created_ms;
	return in;
}

static void
add(struct tk_delivery *d, int i, enum tk_delivery_how how, int64_t now)
{
	struct tk_delivery_input in = input(i, now);

	tk_delivery_add(d, &in, how, NULL, now);
}

static const char *
evt(int i)
{
	static char id[8][32];

	snprintf(id[i % 8], sizeof id[i % 8], "evt_%024x", i);
	return id[i % 8];
}

/* How many actions of kind are logged from index from on. */
static int
count(enum tk_delivery_act kind, size_t from)
{
	int n = 0;

	for (; from < n_lg; from++)
		n += lg[from].kind == kind;
	return n;
}

/* The last action of kind, which must be there. */
static struct logged *
last(enum tk_delivery_act kind)
{
	size_t i;

	for (i = n_lg; i > 0; i--)
		if (lg[i - 1].kind == kind)
			return &lg[i - 1];
	ck_abort_msg("no action of kind %d", kind);
	return NULL;
}

/* Answers the POST of the last SEND with status (2xx: delivered). */
static void
answer(struct tk_delivery_job *j, int status, long retry_after, int64_t now)
{
	vd_delivery_t d = { "http://h/", "evt", status,
	    status >= 200 && status < 300 ? VD_OK : VD_EHTTP,
	    status >= 200 && status < 300 ? "" : "HTTP error", retry_after,
	    5 };

	tk_delivery_result(m, j, &d, now);
}

START_TEST(delivered_at_once)
{
	struct tk_delivery_input in = input(1, T0);
	struct tk_delivery_job *a, *b;

	subs(m, 2, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	add(m, 1, DELIVERY_FRESH, T0);          /* taken once */
	ck_assert(tk_delivery_knows(m, &in.id));
	send_at(T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 2);
	a = lg[0].job;
	b = lg[1].job;
	ck_assert_str_eq(lg[0].event_id, evt(1));
	answer(a, 200, -1, T0 + 10);
	/* The pending document is held until every subscriber has it. */
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 0);
	answer(b, 204, -1, T0 + 20);
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 1);
	ck_assert_int_eq(count(DELIVERY_SETTLE, 0), 1);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes,
	    "delivered,delivered");
	/* A clean delivery is told by the summary only. */
	ck_assert_int_eq(count(DELIVERY_RECORD, 0), 0);
	ck_assert_int_eq(count(DELIVERY_PARK, 0), 0);
	ck_assert(!tk_delivery_knows(m, &in.id));
}
END_TEST

START_TEST(nobody_to_tell)
{
	add(m, 1, DELIVERY_FRESH, T0);
	ck_assert_int_eq(count(DELIVERY_SETTLE, 0), 1);
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 1);
}
END_TEST

/* An outage: the failed job is recorded and parked (its pending document
 * let go only once it is), retried on the schedule, then delivered. */
START_TEST(outage_retried_on_schedule)
{
	struct tk_delivery_job *j;
	size_t mark;

	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	j = last(DELIVERY_SEND)->job;
	answer(j, 503, -1, T0 + S);
	ck_assert_int_eq(count(DELIVERY_RECORD, 0), 1);
	ck_assert_int_eq(last(DELIVERY_RECORD)->attempts, 1);
	ck_assert_int_eq(count(DELIVERY_PARK, 0), 1);
	ck_assert_int_eq(last(DELIVERY_PARK)->window, T0 - T0 % 600000 +
	    600000);
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 1);
	ck_assert_int_eq(count(DELIVERY_SETTLE, 0), 0);
	/* 10 s, up to 20% more: not before, surely after. */
	mark = n_lg;
	send_at(T0 + S + 9999);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 0);
	send_at(T0 + S + 12 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 14 * S);
	/* What followed a failure is recorded too. */
	ck_assert_int_eq(count(DELIVERY_RECORD, mark), 1);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes, "delivered");
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 1);
}
END_TEST

START_TEST(retry_after_honoured)
{
	size_t mark;

	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	answer(last(DELIVERY_SEND)->job, 429, 100, T0);
	mark = n_lg;
	send_at(T0 + 99 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 0);
	send_at(T0 + 100 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
}
END_TEST

/* 410 Gone: a dead letter, the subscription disabled, what waited for
 * it dead too, and nothing more goes to it. */
START_TEST(gone_disables)
{
	struct tk_delivery_job *first;
	size_t mark;

	subs(m, 2, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	first = lg[0].job;
	ck_assert_str_eq(lg[0].sub, sub_id(0));
	answer(lg[1].job, 200, -1, T0);
	add(m, 2, DELIVERY_FRESH, T0 + S);      /* queued behind */
	answer(first, 410, -1, T0 + S);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 2);
	ck_assert_int_eq(last(DELIVERY_DEAD)->status, 410);
	ck_assert_int_eq(count(DELIVERY_DISABLE, 0), 1);
	ck_assert_str_eq(last(DELIVERY_DISABLE)->sub, sub_id(0));
	ck_assert_str_eq(last(DELIVERY_DISABLE)->reason,
	    "410 Gone from http://h0/");
	mark = n_lg;
	add(m, 3, DELIVERY_FRESH, T0 + 2 * S);
	send_at(T0 + 2 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 2);        /* 2 and 3 */
	for (; mark < n_lg; mark++)
		if (lg[mark].kind == DELIVERY_SEND)
			ck_assert_str_eq(lg[mark].sub, sub_id(1));
}
END_TEST

/* The schedule's attempts are all there is. */
START_TEST(dead_after_schedule)
{
	int64_t t = T0;

	tk_delivery_free(m);
	m = machine_of("tok", 2, 100000);
	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(t);
	answer(last(DELIVERY_SEND)->job, 500, -1, t);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 0);
	t += 20 * S;
	send_at(t);
	answer(last(DELIVERY_SEND)->job, 500, -1, t);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 2);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 1);
	ck_assert_str_eq(last(DELIVERY_DEAD)->reason,
	    "not delivered after 2 attempts: HTTP error");
	ck_assert_int_eq(last(DELIVERY_DEAD)->status, 500);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes, "dead");
}
END_TEST

/* Nor any attempt after the retry window: the next would come after. */
START_TEST(dead_after_window)
{
	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	answer(last(DELIVERY_SEND)->job, 500, -1, T0);
	send_at(T0 + 365 * S);
	answer(last(DELIVERY_SEND)->job, 500, -1, T0 + 365 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 2);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 1);
	ck_assert_str_eq(last(DELIVERY_DEAD)->reason,
	    "not delivered after 2 attempts: HTTP error");
}
END_TEST

/* Subscription 0 alone, failing three times in a row at t (events 1 to
 * 3 sent at T0, each refused with a 503). */
static void
three_failures(int64_t t)
{
	int i;

	subs(m, 1, T0);
	for (i = 1; i <= 3; i++)
		add(m, i, DELIVERY_FRESH, T0);
	send_at(T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 3);
	for (i = 0; i < 3; i++)
		answer(lg[i].job, 503, -1, t);
	ck_assert_int_eq(count(DELIVERY_PARK, 0), 3);
}

/* Three failures in a row: events wait in the backlog from the start, one
 * probe at a time, and all of it at once when it answers again. */
START_TEST(failing_subscriber_probed)
{
	size_t mark;

	three_failures(T0 + S);
	mark = n_lg;
	add(m, 4, DELIVERY_FRESH, T0 + 2 * S);
	ck_assert_int_eq(count(DELIVERY_PARK, mark), 1);
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 1);
	/* The probe comes after at most the delay (10 s + jitter). */
	send_at(T0 + 2 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 0);
	send_at(T0 + 14 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	send_at(T0 + 15 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);  /* one at a time */
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 15 * S);
	mark = n_lg;
	send_at(T0 + 15 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 3);
}
END_TEST

/* A job parked at once (its subscriber keeps failing) does not let go of
 * the pending document while another job of the event still needs it. */
START_TEST(pending_held_by_any_job)
{
	size_t mark;

	three_failures(T0);
	subs(m, 2, T0 + S);                     /* 1 is well */
	mark = n_lg;
	add(m, 4, DELIVERY_FRESH, T0 + S);
	ck_assert_int_eq(count(DELIVERY_PARK, mark), 1);
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 0);
	send_at(T0 + S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	ck_assert_str_eq(last(DELIVERY_SEND)->sub, sub_id(1));
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + S);
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 1);
	ck_assert_int_eq(count(DELIVERY_SETTLE, mark), 0);      /* parked */
}
END_TEST

START_TEST(expired_while_probed)
{
	int i;

	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	for (i = 0; i < 3; i++)
		add(m, 10 + i, DELIVERY_FRESH, T0 + 300 * S);
	send_at(T0 + 300 * S);
	for (i = 0; i < 3; i++)
		answer(lg[i].job, 503, -1, T0 + 300 * S);
	tk_delivery_expire(m, T0 + 369 * S);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 0);
	tk_delivery_expire(m, T0 + 371 * S);
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 1);
	ck_assert_str_eq(last(DELIVERY_DEAD)->event_id, evt(1));
	ck_assert_str_eq(last(DELIVERY_DEAD)->reason,
	    "not delivered within the retry schedule");
}
END_TEST

static int dropped;

static bool
drop(void *arg, struct tk_delivery_window *w)
{
	(void)arg;
	ck_assert_str_eq(w->name, "backlog_tok_1700000400");
	dropped++;
	return true;
}

/* A backlog window is dropped once over, its grace passed, and nothing in
 * it waiting. */
START_TEST(backlog_window_dropped)
{
	int64_t end = T0 - T0 % 600000 + 600000;

	dropped = 0;
	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	answer(last(DELIVERY_SEND)->job, 503, -1, T0);
	ck_assert_int_eq(tk_delivery_window(m, end)->waiting, 1);
	tk_delivery_drop_windows(m, end + 61 * S, drop, NULL);
	ck_assert_int_eq(dropped, 0);           /* still waiting */
	send_at(T0 + 20 * S);
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 20 * S);
	tk_delivery_drop_windows(m, end + 59 * S, drop, NULL);
	ck_assert_int_eq(dropped, 0);           /* in its grace */
	tk_delivery_drop_windows(m, end + 60 * S, drop, NULL);
	ck_assert_int_eq(dropped, 1);
	tk_delivery_drop_windows(m, end + 60 * S, drop, NULL);
	ck_assert_int_eq(dropped, 1);           /* forgotten */
}
END_TEST

/* A crash: the process that took the event dies before any answer. The
 * adopter sends it to the subscribers that existed when it was made (not
 * to one made since), and takes its backlog over. */
START_TEST(crash_then_adoption)
{
	struct tk_delivery_input in;
	struct tk_sub s[2];
	size_t mark;

	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	tk_delivery_send_due(m, T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 1);
	tk_delivery_free(m);                      /* crashed: nothing settled */
	ck_assert_int_eq(count(DELIVERY_RELEASE, 0), 0);

	m = machine("adopter");
	s[0] = sub(0, T0 - 3600 * S);
	s[1] = sub(1, T0 + 5 * S);
	tk_delivery_subs(m, s, 2, T0 + 20 * S);
	mark = n_lg;
	in = input(1, T0);
	tk_delivery_add(m, &in, DELIVERY_ADOPTED, NULL, T0 + 20 * S);
	tk_delivery_send_due(m, T0 + 20 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	ck_assert_str_eq(last(DELIVERY_SEND)->sub, sub_id(0));
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 21 * S);
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 1);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes, "delivered");

	/* Its backlog: parked in ours, no pending document of its own. */
	mark = n_lg;
	in = input(2, T0);
	in.pending[0] = '\0';
	tk_delivery_adopt_parked(m, &in, sub_id(1), 2, false, T0 + 30 * S);
	tk_delivery_adopt_parked(m, &in, sub_id(1), 2, false, T0 + 30 * S);
	ck_assert_int_eq(count(DELIVERY_PARK, mark), 1);
	ck_assert_int_eq(last(DELIVERY_PARK)->attempts, 2);
	ck_assert_str_eq(last(DELIVERY_PARK)->sub, sub_id(1));
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 0);
	/* Unsubscribed meanwhile: not wanted. */
	tk_delivery_adopt_parked(m, &in, sub_id(5), 2, false, T0 + 30 * S);
	ck_assert_int_eq(count(DELIVERY_PARK, mark), 1);
	tk_delivery_send_due(m, T0 + 30 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 31 * S);
	ck_assert_int_eq(last(DELIVERY_RECORD)->attempts, 3);
	ck_assert_int_eq(count(DELIVERY_RELEASE, mark), 0);
	ck_assert_int_eq(count(DELIVERY_SETTLE, mark), 1);

}
END_TEST

START_TEST(adopter_chosen)
{
	char *live[] = { "b:2:9", "a:1:9", NULL };
	char *before[] = { "a:1:9", "b:2:9", "c:3:9", NULL };
	char *same[] = { "a:1:9", "b:2:9", NULL };

	ck_assert(tk_delivery_adopts("a:1:9", live, NULL, false));  /* start */
	/* c died */
	ck_assert(tk_delivery_adopts("a:1:9", live, before, false));
	ck_assert(!tk_delivery_adopts("a:1:9", live, same, false));
	ck_assert(tk_delivery_adopts("a:1:9", live, same, true));
	ck_assert(!tk_delivery_adopts("b:2:9", live, before, true));
}
END_TEST

/* Unsubscribed while POSTs are under way: they are canceled, and the
 * event settles without it. */
START_TEST(unsubscribe_cancels)
{
	struct tk_delivery_job *j;
	vd_delivery_t d = { "u", "e", 0, VD_ECANCELED, "canceled", -1, 0 };

	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	j = last(DELIVERY_SEND)->job;
	subs(m, 0, T0 + S);
	ck_assert_int_eq(count(DELIVERY_CANCEL, 0), 1);
	ck_assert_ptr_eq(last(DELIVERY_CANCEL)->job, j);
	tk_delivery_result(m, j, &d, T0 + S);
	ck_assert_int_eq(count(DELIVERY_RECORD, 0), 0);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes, "unsubscribed");
}
END_TEST

START_TEST(subscriptions_unknown_hold)
{
	subs(m, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	tk_delivery_send_due(m, T0 + 31 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 0);
	subs(m, 1, T0 + 32 * S);
	tk_delivery_send_due(m, T0 + 32 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 1);
}
END_TEST

/* A fresh event reaches the machine a batch after its reply was
 * accepted: a subscription made after the reply does not get it. */
START_TEST(fresh_skips_later_subscriptions)
{
	struct tk_delivery_input in = input(1, T0);
	struct tk_sub s[2];

	s[0] = sub(0, T0 - 3600 * S);
	s[1] = sub(1, T0 + 50);
	tk_delivery_subs(m, s, 2, T0 + 100);
	tk_delivery_add(m, &in, DELIVERY_FRESH, NULL, T0 + 100);
	tk_delivery_send_due(m, T0 + 100);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 1);
	ck_assert_str_eq(last(DELIVERY_SEND)->sub, sub_id(0));
}
END_TEST

/* A replay goes to the subscriptions named; its delivery is recorded and
 * its dead letter forgotten. */
START_TEST(replay_forgets_dead_letter)
{
	struct tk_delivery_input in = input(1, T0);
	char *targets[] = { (char *)sub_id(1), NULL };
	size_t mark;

	subs(m, 2, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	send_at(T0);
	answer(lg[0].job, 200, -1, T0);
	answer(lg[1].job, 200, -1, T0);
	mark = n_lg;
	tk_delivery_add(m, &in, DELIVERY_REPLAY, targets, T0 + 60 * S);
	send_at(T0 + 60 * S);
	ck_assert_int_eq(count(DELIVERY_SEND, mark), 1);
	ck_assert_str_eq(last(DELIVERY_SEND)->sub, sub_id(1));
	ck_assert(last(DELIVERY_SEND)->replay);
	answer(last(DELIVERY_SEND)->job, 200, -1, T0 + 61 * S);
	ck_assert_int_eq(count(DELIVERY_RECORD, mark), 1);
	ck_assert_int_eq(count(DELIVERY_FORGET, mark), 1);
	ck_assert_str_eq(last(DELIVERY_FORGET)->sub, sub_id(1));
}
END_TEST

START_TEST(refused_url_disabled)
{
	struct tk_sub s = { "", "http://bad/", T0 };

	refuse_bad = true;
	snprintf(s.id, sizeof s.id, "%s", sub_id(3));
	tk_delivery_subs(m, &s, 1, T0);
	add(m, 1, DELIVERY_FRESH, T0);
	tk_delivery_send_due(m, T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), 0);
	ck_assert_int_eq(count(DELIVERY_DISABLE, 0), 1);
	ck_assert_str_eq(last(DELIVERY_DISABLE)->reason,
	    "not on the allow-list");
	ck_assert_int_eq(count(DELIVERY_DEAD, 0), 1);
	ck_assert_str_eq(last(DELIVERY_SETTLE)->outcomes, "dead");
}
END_TEST

/* At most eight POSTs at once to one subscriber; the others wait. */
START_TEST(backlog_per_subscriber_capped)
{
	int i;

	subs(m, 1, T0);
	for (i = 1; i <= 20; i++)
		add(m, i, DELIVERY_FRESH, T0);
	send_at(T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0), DELIVERY_PER_SUB_INFLIGHT);
	answer(lg[0].job, 200, -1, T0);
	send_at(T0);
	ck_assert_int_eq(count(DELIVERY_SEND, 0),
	    DELIVERY_PER_SUB_INFLIGHT + 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("delivery");
	TCase *tc = tcase_create("machine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, delivered_at_once);
	tcase_add_test(tc, nobody_to_tell);
	tcase_add_test(tc, outage_retried_on_schedule);
	tcase_add_test(tc, retry_after_honoured);
	tcase_add_test(tc, gone_disables);
	tcase_add_test(tc, dead_after_schedule);
	tcase_add_test(tc, dead_after_window);
	tcase_add_test(tc, failing_subscriber_probed);
	tcase_add_test(tc, pending_held_by_any_job);
	tcase_add_test(tc, expired_while_probed);
	tcase_add_test(tc, backlog_window_dropped);
	tcase_add_test(tc, crash_then_adoption);
	tcase_add_test(tc, adopter_chosen);
	tcase_add_test(tc, unsubscribe_cancels);
	tcase_add_test(tc, subscriptions_unknown_hold);
	tcase_add_test(tc, fresh_skips_later_subscriptions);
	tcase_add_test(tc, replay_forgets_dead_letter);
	tcase_add_test(tc, refused_url_disabled);
	tcase_add_test(tc, backlog_per_subscriber_capped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	svc_log_init("test-delivery", "0", "error", NULL);
	return unit_run(suite());
}
