/*
 * machine.h - the inside of the delivery machine, shared by its two
 * files: delivery.c (events, jobs, backlogs, subscriptions) and retry.c
 * (sending, results, retries). Callers use delivery.h.
 */
#ifndef MACHINE_H
#define MACHINE_H

#include "delivery.h"

#define N_BUCKETS 4096

/* One subscription and the jobs waiting for it, oldest first. */
struct tk_delivery_sub {
	struct tk_sub sub;                 /* id, url, created_ms */
	struct tk_delivery_job *head, *tail;
	int inflight;
	int64_t next_probe_ms;
	struct tk_delivery_job *probed;  /* the last probe: the next is after */
	struct tk_sub_stats stats;         /* failures: consecutive */
	bool dirty;                     /* stats changed since last told */
	bool seen;                      /* in the last set */
	bool checked;                   /* its url passed the allow-list */
	bool disabled;                  /* what is in flight ends as a dead
	                                   letter */
	struct tk_delivery_sub *next;
};

struct tk_delivery {
	struct tk_delivery_config cfg;
	struct tk_delivery_sub *subs;
	struct tk_delivery_event *buckets[N_BUCKETS];
	struct tk_delivery_window *windows;
	size_t n_windows, cap_windows;
	int64_t subs_ok_ms;             /* subscriptions last given */
	bool holding;                   /* not sending: they are unknown */
};

/* Hands one action to the callback; job (may be NULL) names the
 * subscription, its URL and its window. */
void tk_dl_act(struct tk_delivery *m, enum tk_delivery_act kind, int64_t now,
    const struct tk_delivery_event *ev, struct tk_delivery_job *j);

/* Moves job j out of its event's pending document into this process's
 * backlog of the current window. */
void tk_dl_park(struct tk_delivery *m, struct tk_delivery_job *j, int64_t now);

/* A job is over: delivered, dead, or its subscription is gone. The event
 * is settled when all its jobs are. */
void tk_dl_job_finish(struct tk_delivery *m, struct tk_delivery_job *j,
    const char *outcome, int64_t now);

/* Forgets subscription q: what waits for it ends as unsubscribed. */
void tk_dl_sub_drop(struct tk_delivery *m, struct tk_delivery_sub *q,
    int64_t now);

#endif /* MACHINE_H */
