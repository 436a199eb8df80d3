/*
 * delivery.h - the delivery of reply events as a state machine, without
 * I/O: no database, no network, no clock of its own, no thread.
 *
 * Its inputs are the events stored (fresh, adopted from a process that
 * died, asked for again, or parked by a process that died), the set of
 * subscriptions, the result of each POST and the time, given with every
 * call. Its outputs are actions, handed to a callback as they are decided:
 * send a POST, cancel one, park a job in a backlog, release an event's
 * pending document, settle an event, keep a dead letter, disable a
 * subscription, record an attempt, forget a replayed dead letter.
 * outbox.c applies them through the store and the sender; the unit tests
 * (tests/unit/test-delivery.c) apply them to a log and a fake clock.
 *
 * The callback must not call the machine back: a POST that fails at once,
 * or one canceled, is reported with tk_delivery_result() afterwards.
 */
#ifndef DELIVERY_H
#define DELIVERY_H

#include "tickets.h"

#define DELIVERY_FAILING_AFTER 3        /* consecutive failures: only probe */
#define DELIVERY_PER_SUB_INFLIGHT 8     /* concurrent POSTs to one subscriber */
#define DELIVERY_WINDOW_MS 600000       /* a backlog collection per 10 min */
#define DELIVERY_WINDOW_GRACE_MS 60000  /* dropped this long after, empty */
#define DELIVERY_SUBS_UNKNOWN_MS 30000  /* subscriptions unread this long:
                                           nothing is sent */

struct tk_delivery;
struct tk_delivery_sub;
struct tk_delivery_job;

/* One event in memory. The machine's: callers only read it. */
struct tk_delivery_event {
	bson_oid_t id;
	char event_id[32];              /* "evt_<24 hex>" */
	char *body;                     /* the JSON sent */
	size_t len;
	char rid[SVC_RID_MAX + 16];     /* "X-Request-Id: ..." or "" */
	char pending[64];               /* its pending document's _id, or ""
	                                   (adopted from a backlog: none) */
	int64_t created_ms;
	struct tk_delivery_job **jobs;     /* one per subscription it went to */
	size_t n_jobs;
	int left;                       /* jobs not done yet */
	int held;                       /* of them, not parked */
	bool released;                  /* pending document let go */
	struct tk_delivery *machine;
	struct tk_delivery_event *hnext;
};

/* One event on its way to one subscriber. The machine's, as above. */
struct tk_delivery_job {
	struct tk_delivery_event *ev;
	struct tk_delivery_sub *sub;       /* NULL once done */
	struct tk_delivery_job *prev, *next;       /* in sub's queue */
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

enum tk_delivery_act {
	DELIVERY_SEND,          /* POST job's event to url */
	DELIVERY_CANCEL,        /* stop job's POST: its subscription is gone */
	DELIVERY_PARK,          /* write job to backlog window (end ms) */
	DELIVERY_RELEASE,       /* delete ev's pending document, once the
	                           parks decided before are written */
	DELIVERY_SETTLE,        /* ev is done: keep where it went (its jobs) */
	DELIVERY_DEAD,          /* keep job as a dead letter (status, reason) */
	DELIVERY_DISABLE,       /* disable subscription sub (reason) */
	DELIVERY_RECORD,        /* record job's attempt (result) */
	DELIVERY_FORGET         /* job, a replayed dead letter, is delivered */
};

struct tk_delivery_action {
	enum tk_delivery_act kind;
	int64_t now;
	const struct tk_delivery_event *ev;
	struct tk_delivery_job *job;     /* NULL for RELEASE, SETTLE, DISABLE */
	const char *sub;                /* subscription id */
	const char *url;                /* its URL, NULL when done */
	int status;                     /* DEAD, DISABLE */
	const char *reason;             /* DEAD, DISABLE */
	const vd_delivery_t *result;    /* RECORD */
	int64_t window;                 /* PARK */
};

struct tk_delivery_config {
	const long *retry_schedule;     /* seconds before attempt 2, 3, ... */
	size_t n_retry;
	long probe;                     /* seconds between probes at most */
	long retry_window;              /* seconds an event may wait */
	unsigned int seed;              /* rand_r state for the jitter */
	const char *token;              /* names this process's backlogs */
	/* Whether url may be contacted; false with error saying why not. */
	bool (*url_allowed)(void *arg, const char *url, bson_error_t *error);
	void (*act)(void *arg, const struct tk_delivery_action *action);
	void *arg;
};

struct tk_delivery *tk_delivery_new(const struct tk_delivery_config *cfg);
void tk_delivery_free(struct tk_delivery *m);

/* An event as stored: copied by the machine. */
struct tk_delivery_input {
	bson_oid_t id;
	const char *body;
	size_t len;
	char rid[SVC_RID_MAX + 16];     /* "X-Request-Id: ..." or "" */
	char pending[64];               /* "" when it has none */
	int64_t created_ms;
};

enum tk_delivery_how {
	DELIVERY_FRESH,         /* just stored: to every subscription */
	DELIVERY_ADOPTED,       /* of a process that died: to those that
	                           existed when it was made */
	DELIVERY_REPLAY         /* again, to the subscriptions named */
};

/* The arg of the machine's configuration. */
void *tk_delivery_arg(const struct tk_delivery *m);

/* Whether event id is in memory (a fresh or adopted one is taken once). */
bool tk_delivery_knows(struct tk_delivery *m, const bson_oid_t *id);

/* Takes in an event with one job per subscription it goes to; targets
 * (NULL-terminated) names them for a replay. */
void tk_delivery_add(struct tk_delivery *m, const struct tk_delivery_input *in,
    enum tk_delivery_how how, char **targets, int64_t now);

/* Takes in an event parked for subscription sub by a process that died:
 * it goes to that one, parked in this process's backlog. */
void tk_delivery_adopt_parked(struct tk_delivery *m,
    const struct tk_delivery_input *in, const char *sub, int attempts,
    bool replay, int64_t now);

/* The subscriptions as read at now (ids, urls, creation times; copied):
 * those missing are gone, and nothing more goes to them. */
void tk_delivery_subs(struct tk_delivery *m, const struct tk_sub *subs,
    size_t n, int64_t now);

/* Sends what is due: at most DELIVERY_PER_SUB_INFLIGHT per subscriber,
 * one probe at a time to one that keeps failing; nothing while the
 * subscriptions are unknown (unread for DELIVERY_SUBS_UNKNOWN_MS). */
void tk_delivery_send_due(struct tk_delivery *m, int64_t now);

/* The result of job's POST (code VD_ECANCELED when it was canceled). */
void tk_delivery_result(struct tk_delivery *m, struct tk_delivery_job *job,
    const vd_delivery_t *d, int64_t now);

/* Dead letters for what waited past the retry window. */
void tk_delivery_expire(struct tk_delivery *m, int64_t now);

/* One backlog collection of this process's: the jobs parked in a time
 * window. registered is the store's (listed in "backlogs"). */
struct tk_delivery_window {
	int64_t end_ms;
	char name[64];
	int waiting;                    /* parked jobs not done */
	bool registered;
};

/* The window ending at end_ms: valid until the next call. */
struct tk_delivery_window *tk_delivery_window(struct tk_delivery *m,
    int64_t end_ms);

/* Calls drop for each window over (and its grace) that holds nothing
 * waiting; forgets those for which it returns true. */
void tk_delivery_drop_windows(struct tk_delivery *m, int64_t now,
    bool (*drop)(void *arg, struct tk_delivery_window *w), void *arg);

/* Calls fn for each subscriber whose state changed since fn last
 * returned true for it. */
void tk_delivery_each_changed(struct tk_delivery *m,
    bool (*fn)(void *arg, const char *sub, const struct tk_sub_stats *stats),
    void *arg);

/* Whether me, among the live owners now (NULL-terminated; me included),
 * adopts what dead owners left: it has the smallest name, and someone
 * listed before (NULL at the first look) is missing, or full asks. */
bool tk_delivery_adopts(const char *me, char **now, char **before, bool full);

#endif /* DELIVERY_H */
