/*
 * outbox.h - the delivery thread's own state, shared by its files:
 * outbox.c (the thread, the hand-over, the sender), writes.c (the
 * batched writes) and adopt.c (instances, and what dead processes left).
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <pthread.h>

#include "delivery.h"

/* What the request threads hand over: a stored reply, and for a replay
 * the subscriptions it goes to again. */
struct tk_handoff {
	bson_t *doc;
	char **subs;                    /* NULL: a fresh event, to everyone */
};

/* An event parked, to be written to its window. */
struct tk_park {
	int64_t window;
	bson_t *doc;
};

/* A POST's result, kept until the machine is told (never from within
 * one of its actions). */
struct tk_result {
	struct tk_delivery_job *job;
	vd_delivery_t d;                /* url and event_id NULL */
	char error[VD_ERROR_SIZE];
};

struct tk_outbox {
	const struct tk_config *cfg;
	char owner[320];
	char token[25];                 /* names this process's backlogs */
	vd_sender_t *sender;
	pthread_t thread;

	pthread_mutex_t lock;           /* guards pushed and stop */
	struct tk_handoff *pushed;
	size_t n_pushed, cap_pushed;
	bool stop;

	/* Owned by the delivery thread. */
	struct tk_store *store;
	struct tk_delivery *machine;
	struct tk_handoff *loading;        /* handed over, not taken in yet */
	size_t n_loading, cap_loading;
	int64_t loading_ms;             /* when the first of them came */
	struct tk_result *results;         /* not given to the machine yet */
	size_t n_results, cap_results;
	char **release;                 /* pending documents to delete */
	size_t n_release, cap_release;
	bson_t **summaries;             /* where settled events went */
	size_t n_summaries, cap_summaries;
	struct tk_park *parks;             /* parked, not written yet */
	size_t n_parks, cap_parks;
	struct tk_attempt *attempts;       /* to record */
	size_t n_attempts, cap_attempts;
	int64_t subs_ms, beat_ms, sweep_ms, full_ms, flush_ms, stats_ms;
	int64_t attempts_ms;
	int64_t db_warned_ms;
	bool indexes_ready;             /* made, at start or since */
	int64_t prepare_ms;             /* when to try them again */
	char **live;                    /* live instances at the last sweep */
	struct svc_gen *subs_gen;       /* moved by every (un)subscribe */
	struct tk_claims *claims;       /* the host's count, or NULL */
	uint64_t subs_seen;             /* what it was when last read */
};

/* outbox.c: makes room for one more in *v; database trouble said once a
 * minute. */
void tk_outbox_grow(void **v, size_t n, size_t *cap, size_t size);
void tk_outbox_db_warn(struct tk_outbox *o, const char *what,
    const bson_error_t *error);

/* writes.c: the actions PARK, SETTLE and RECORD, kept to be written. */
void tk_outbox_park(struct tk_outbox *o, const struct tk_delivery_action *a);
void tk_outbox_settle(struct tk_outbox *o, const struct tk_delivery_action *a);
void tk_outbox_record(struct tk_outbox *o, const struct tk_delivery_action *a);

/* writes.c: writes what was parked, settled and let go, when a batch is
 * full or due, or now. */
void tk_outbox_flush(struct tk_outbox *o, bool now);

/* writes.c: writes the attempts recorded (with the batches) and the
 * subscribers' states (every couple of seconds), or all now (force). */
void tk_outbox_flush_records(struct tk_outbox *o, int64_t now, bool force);

/* writes.c: frees what was not written. */
void tk_outbox_writes_free(struct tk_outbox *o);

/* adopt.c: the event of a stored reply, as the machine takes it (*body
 * the caller's, freed with cJSON_free); false when doc is not one. */
bool tk_outbox_event_input(const bson_t *doc, struct tk_delivery_input *in,
    char **body);

/* adopt.c: adopts the pending events and the backlogs of dead owners, if
 * this process is the one to (tk_delivery_adopts): when an instance died, at
 * start, and when full. */
void tk_outbox_sweep(struct tk_outbox *o, bool full);

#endif /* OUTBOX_H */
