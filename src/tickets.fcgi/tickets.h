/*
 * tickets.h - the tickets service: the article's four endpoints over one
 * shared MongoDB database, any version from one binary.
 */
#ifndef TICKETS_H
#define TICKETS_H

#include "service.h"

/* Field limits: generous for people, bounded for the database. */
#define TICKETS_USER_MAX 200
#define TICKETS_MESSAGE_MAX 10000
#define TICKETS_URL_MAX 2048
#define TICKETS_KEY_MAX 255

struct tickets_config {
	const char *version;        /* "1.0.1" */
	double fail_rate;           /* share of ticket queries answering 500 */
	const char *mongodb_uri;    /* NULL: $MONGODB_URI, else the default */
	const char *db_name;        /* "tickets" */
	const char *public_url;     /* nginx: "http://127.0.0.1:8080" */
	char prefix[64];            /* "/tickets/v1.0.1" */
	const char *load_file;      /* --load: load sample data and exit */
	const char *log_level;
	int heartbeat;              /* seconds between registry heartbeats */
	const long *retry_schedule; /* seconds between delivery attempts */
	size_t n_retry;
	long probe;                 /* seconds between probes of a subscriber
	                               that keeps failing */
	long event_timeout;         /* seconds one event POST may take */
};

/* The name a process goes by as owner of events: host:pid:start. */
void tickets_owner_name(char *buf, size_t size);

/* ---- store.c: every database access, one store per thread ---- */

struct store;

struct store *store_open(const struct tickets_config *cfg,
    const char *appname, bson_error_t *error);
void store_close(struct store *store);

/* Creates the indexes the service relies on (unique url, idempotency).
 * Safe to repeat; a failure is retried on the next call. */
bool store_prepare(struct store *store, bson_error_t *error);

/* Whether the database answers. */
bool store_ping(struct store *store, bson_error_t *error);

/* All tickets as a JSON array, each with its replies (the loaded ones
 * followed by the accepted ones, oldest first). */
cJSON *store_tickets(struct store *store, bson_error_t *error);

/* One ticket, or NULL with *found false. */
cJSON *store_ticket(struct store *store, const bson_oid_t *id, bool *found,
    bson_error_t *error);

/* The title of a ticket, or false with *found false when it is not there.
 * Caller frees *title with bson_free(). */
bool store_ticket_title(struct store *store, const bson_oid_t *id,
    char **title, bool *found, bson_error_t *error);

/* A reply as accepted. */
struct reply {
	bson_oid_t id;              /* the reply's and the event's identity */
	bson_oid_t ticket;
	const char *user;
	const char *message;
	const char *title;
	int64_t created_ms;
};

enum store_add {
	STORE_ADDED,                /* a new reply and its pending event */
	STORE_REPEATED,             /* the idempotency key was used: *reply
	                               holds the first outcome */
	STORE_KEY_REUSED,           /* the key was used for another request */
	STORE_FAILED
};

/* Inserts reply with its pending event in one document. With key, the
 * first request with that key decides: repeats apply nothing and return
 * the reply first stored (in *first, caller frees with bson_destroy). */
enum store_add store_add_reply(struct store *store, const struct reply *reply,
    const char *owner, const char *key, const char *hash, bson_t *first,
    bson_error_t *error);

/* The event body of a reply document, as sent to subscribers. */
char *store_event_json(const bson_t *reply_doc);

bool store_subscribe(struct store *store, const char *url, bool *created,
    bson_error_t *error);
bool store_unsubscribe(struct store *store, const char *url, bool *removed,
    bson_error_t *error);

/* The subscriptions as a JSON array of {id, url, createdAt}. */
cJSON *store_subscriptions(struct store *store, bson_error_t *error);

/* How many tickets there are, -1 on error. */
int64_t store_count_tickets(struct store *store, bson_error_t *error);

/* Inserts a ticket; one that is there already (same _id) is kept. */
bool store_insert_ticket(struct store *store, const bson_t *ticket,
    bson_error_t *error);

/* load.c: loads the tickets of a JSON file when there are none yet.
 * Returns how many were inserted, -1 on error (said on stderr). */
long tickets_load(struct store *store, const char *path);

/* ---- store.c: what the outbox keeps ---- */

struct sub {
	char id[25];
	char *url;
	int64_t created_ms;
};

/* Every subscription, oldest first. Caller frees with store_subs_free. */
bool store_subs(struct store *store, struct sub **subs, size_t *n,
    bson_error_t *error);
void store_subs_free(struct sub *subs, size_t n);

/* Records that event reached subscription sub (idempotent). */
bool store_delivered(struct store *store, const char *event_id,
    const char *sub, int status, bson_error_t *error);

/* Every recorded delivery as "eventId|subscription", sorted, in a
 * NULL-terminated array; caller frees with bson_strfreev(). The records
 * of finished events are removed, so this stays small. */
bool store_deliveries(struct store *store, char ***keys, bson_error_t *error);

/* Marks the events of these replies as delivered to everyone, and drops
 * their delivery records. */
bool store_events_done(struct store *store, const bson_oid_t *ids, size_t n,
    bson_error_t *error);

/* This process is alive (upserts its own document in "instances"). */
bool store_beat(struct store *store, const char *owner, bson_error_t *error);

/* This process stops: its pending events are free to adopt at once. */
bool store_gone(struct store *store, const char *owner, bson_error_t *error);

/* The owners of every instance document seen within stale_ms, as a
 * NULL-terminated array (caller frees with bson_strfreev()). */
bool store_instances(struct store *store, int64_t stale_ms, char ***owners,
    bson_error_t *error);

/* Takes over the undelivered events of owners not in live (NULL-terminated):
 * they become owner's. Returns how many, -1 on error. */
long store_adopt(struct store *store, char **live, const char *owner,
    bson_error_t *error);

/* Calls fn for every undelivered event owner holds, oldest first. */
bool store_owned(struct store *store, const char *owner,
    void (*fn)(const bson_t *doc, void *arg), void *arg, bson_error_t *error);

/* ---- outbox: delivery of reply events (outbox.c, outbox-store.c) ---- */

struct outbox;

/* Starts the delivery thread of this process. owner names this process
 * in the events it accepts, so that another can adopt them if it dies. */
struct outbox *outbox_start(const struct tickets_config *cfg,
    const char *owner);

/* Hands a freshly stored reply document (with its event) to the delivery
 * thread: sent at once, off the request path, without reading it back
 * (FerretDB finds a document by _id with a full scan). The event is in the
 * database already, so losing this hand-off loses nothing. */
void outbox_push(struct outbox *outbox, const bson_t *reply_doc);

void outbox_stop(struct outbox *outbox);

/* ---- the process ---- */

struct tickets_app {
	const struct tickets_config *cfg;
	struct store *store;
	struct outbox *outbox;
	char owner[320];            /* this process, as events name it */
	unsigned int seed;          /* rand_r state for injected failures */
};

/* Handlers (query.c, comment.c, subscribe.c, health.c). */
void tickets_query(const struct svc_request *, struct svc_response *, void *);
void tickets_query_one(const struct svc_request *, struct svc_response *,
    void *);
void tickets_add_comment(const struct svc_request *, struct svc_response *,
    void *);
void tickets_subscribe(const struct svc_request *, struct svc_response *,
    void *);
void tickets_unsubscribe(const struct svc_request *, struct svc_response *,
    void *);
void tickets_subscriptions(const struct svc_request *, struct svc_response *,
    void *);
void tickets_health(const struct svc_request *, struct svc_response *,
    void *);

/* routes.c */
extern const struct svc_route tickets_routes[];
extern const size_t tickets_n_routes;

#endif /* TICKETS_H */
