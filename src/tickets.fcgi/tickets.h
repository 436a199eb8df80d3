/*
 * tickets.h - what the tickets service's files share: its configuration,
 * the handlers (the article's four endpoints and ours), the store over
 * one shared MongoDB database, the outbox and the loading of sample data;
 * any version from one binary.
 */
#ifndef TICKETS_H
#define TICKETS_H

#include "claims.h"
#include "inflight.h"
#include "service.h"

/* Field limits: generous for people, bounded for the database. */
#define TICKETS_USER_MAX 200
#define TICKETS_MESSAGE_MAX 10000
#define TICKETS_URL_MAX 2048
#define TICKETS_KEY_MAX 255

/* How long an answer or a title is kept at most, for writes the host's
 * generation counter does not see (another host, the database itself). */
#define TICKETS_CACHE_MS 5000
/* The longest GET /tickets answer kept in memory, by default
 * (TICKETS_LIST_CACHE_MAX); a longer one is streamed, made again for
 * every request. */
#define TICKETS_CACHE_MAX (1024 * 1024)
#define TICKETS_PAGE_DEFAULT 20
#define TICKETS_PAGE_MAX 100
/* The most tickets kept for paging (some 1 KB each); beyond, each page
 * is a query. */
#define TICKETS_BRIEF_MAX 10000
#define TICKETS_TITLE_MS 60000
#define TICKETS_TITLES_MAX 1024

struct tk_config {
	const char *version;        /* "1.0.1" */
	double fail_rate;           /* share of ticket queries answering 500 */
	const char *mongodb_uri;    /* NULL: $MONGODB_URI, else the default */
	const char *db_name;        /* "tickets" */
	const char *public_url;     /* nginx: "http://127.0.0.1:8080" */
	char prefix[64];            /* "/tickets/v1.0.1" */
	const char *load_file;      /* --load: load sample data and exit */
	const char *log_level;
	size_t list_cache_max;      /* bytes of GET /tickets kept at most */
	int heartbeat;              /* seconds between registry heartbeats */
	const long *retry_schedule; /* seconds between delivery attempts */
	size_t n_retry;
	long probe;                 /* seconds between probes of a subscriber
	                               that keeps failing */
	long event_timeout;         /* seconds one event POST may take */
	long retry_window;          /* seconds after which an undelivered
	                               event is dead: the schedule's sum */
	const char *events_secret;  /* whsec_... list; NULL: unsigned */
	vd_urls_t *allowed_urls;    /* where events may go */
	vd_urls_t *own_paths;       /* this service's paths on nginx: never */
	long max_subs;              /* subscriptions at most */
	const char *state_dir;      /* spawn/stack's state directory */
	struct svc_metrics *metrics; /* this version's metrics, shared by
	                               every thread (NULL: none); set by main */
};

/* subscribe.c: whether url may be subscribed and contacted: on the
 * allow-list, and never one of this service's own paths, whatever the
 * list says; false with error saying why not. */
bool tk_url_allowed(const struct tk_config *cfg, const char *url,
    bson_error_t *error);

/* subscribe.c: the loop's guard. A request carrying the headers of an
 * event delivery (Standard Webhooks) is never applied as a write: 403.
 * Returns false when it answered. */
bool tk_guard(const struct svc_request *req, struct svc_response *resp,
    void *app);

/* adopt.c: the name a process goes by as owner of events:
 * host:pid:start. */
void tk_owner_name(char *buf, size_t size);

/* ---- store*.c: every database access, one store per thread; each
 * function lives in the file of its collection (store.c lists them) ---- */

struct tk_store;

struct tk_store *tk_store_open(const struct tk_config *cfg,
    const char *appname, bson_error_t *error);
void tk_store_close(struct tk_store *store);

/* Creates the indexes the service relies on (subscriptions by unique url,
 * replies by ticket and by ticket and sequence, pending events by owner;
 * idempotency keys need none, being _ids). Safe to repeat; a failure is
 * retried on the next call. */
bool tk_store_prepare(struct tk_store *store, bson_error_t *error);

/* Whether the database answers. */
bool tk_store_ping(struct tk_store *store, bson_error_t *error);

/* Every ticket in _id order, each with its replies (the loaded ones,
 * in its "replies", followed by the accepted ones, oldest first), handed
 * over one at a time so that no caller needs to hold them all. Each
 * callback takes ownership of the JSON it is given; one that returns
 * false stops the walk, and tk_store_each_ticket returns false. */
struct tk_store_visit {
	bool (*ticket)(void *arg, cJSON *ticket);
	bool (*reply)(void *arg, cJSON *reply);
	bool (*ticket_end)(void *arg);
	void *arg;
};
bool tk_store_each_ticket(struct tk_store *store,
    const struct tk_store_visit *v, bson_error_t *error);

/* At most limit tickets with an _id after after (NULL: from the first),
 * in _id order, each without its replies but with their "replyCount":
 * the replies it was loaded with and the sequence numbers its accepted
 * replies drew (one lookup, at any size). A request that failed after it
 * drew its number, the database failing mid-way, is counted too. */
cJSON *tk_store_tickets_page(struct tk_store *store, const bson_oid_t *after,
    int limit, bson_error_t *error);

/* Every ticket in _id order as tk_store_tickets_page shows it, but with only
 * the loaded replies in "replyCount"; NULL when there are more than max
 * (error->code 0) or on a database error. */
cJSON *tk_store_tickets_brief(struct tk_store *store, size_t max,
    bson_error_t *error);

/* The last sequence number the accepted replies of ticket id drew. */
bool tk_store_reply_seq(struct tk_store *store, const bson_oid_t *id,
    int64_t *seq, bson_error_t *error);

/* The highest sequence number that the pending replies of each ticket
 * hold (accepted, not stored yet), into max: one read of the pending
 * events, which are only those in flight. */
bool tk_store_pending_seqs(struct tk_store *store, struct tk_seqs *max,
    bson_error_t *error);

/* The sequence numbers ticket id's accepted replies drew: the highest of
 * "sequences" (raised as the outbox stores them) and of those pending
 * (from tk_store_pending_seqs). */
bool tk_store_reply_count(struct tk_store *store, const bson_oid_t *id,
    const struct tk_seqs *pending, int64_t *count, bson_error_t *error);

/* One ticket with its replies, stored and pending, or NULL with *found
 * false. */
cJSON *tk_store_ticket(struct tk_store *store, const bson_oid_t *id,
    bool *found, bson_error_t *error);

/* The title of a ticket, or false with *found false when it is not there.
 * Caller frees *title with bson_free(). */
bool tk_store_ticket_title(struct tk_store *store, const bson_oid_t *id,
    char **title, bool *found, bson_error_t *error);

/* A reply as accepted. */
struct tk_reply {
	bson_oid_t id;              /* the reply's and the event's identity */
	bson_oid_t ticket;
	const char *user;
	const char *message;
	const char *title;
	int64_t created_ms;
	int64_t sequence;           /* set by tk_store_add_reply */
	const char *request_id;     /* of the request that made it */
};

enum tk_store_add {
	STORE_ADDED,                /* a new reply and its pending event */
	STORE_REPEATED,             /* the idempotency key was used: *reply
	                               holds the first outcome */
	STORE_KEY_REUSED,           /* the key was used for another request */
	STORE_FAILED
};

/* Claims the ticket's next sequence number with the reply's pending
 * event, which holds the reply until the outbox stores it
 * (tk_store_keep_replies): one commit. With key, the first request with
 * that key decides: repeats apply nothing and return the reply first
 * accepted (in *first, caller frees with bson_destroy). */
enum tk_store_add tk_store_add_reply(struct tk_store *store,
    struct tk_claims *claims, const struct tk_reply *reply,
    const char *owner, const char *key, const char *hash, bson_t *first,
    bson_error_t *error);

/* The event body of a reply document, as sent to subscribers. */
char *tk_store_event_json(const bson_t *reply_doc);

/* Subscribes url; *created is false when it was subscribed already (a
 * disabled subscription is enabled again). When max subscriptions (of
 * any state) exist already and url is not one of them, nothing is stored
 * and *full is set. */
bool tk_store_subscribe(struct tk_store *store, const char *url, long max,
    bool *created, bool *full, bson_error_t *error);
bool tk_store_unsubscribe(struct tk_store *store, const char *url,
    bool *removed, bson_error_t *error);


/* How many tickets there are, -1 on error. */
int64_t tk_store_count_tickets(struct tk_store *store, bson_error_t *error);

/* Inserts a ticket; one that is there already (same _id) is kept. */
bool tk_store_insert_ticket(struct tk_store *store, const bson_t *ticket,
    bson_error_t *error);

/* load.c: loads the tickets of a JSON file when there are none yet.
 * Returns how many were inserted, -1 with error when it cannot. */
long tk_load(struct tk_store *store, const char *path, bson_error_t *error);

/* ---- store*.c: what the outbox keeps ---- */

struct tk_sub {
	char id[25];
	char *url;
	int64_t created_ms;
};

/* Every active subscription, oldest first. Caller frees with
 * tk_store_subs_free. */
bool tk_store_subs(struct tk_store *store, struct tk_sub **subs, size_t *n,
    bson_error_t *error);
void tk_store_subs_free(struct tk_sub *subs, size_t n);

/* Inserts summaries (where a settled event went: {_id: event id, at,
 * subscriptions: [...]}, kept for the event's view), raises the tickets'
 * "sequences" (the list's replyCount) to the numbers of the pending
 * documents named ("<ticket>|<sequence>"), then deletes those, of events
 * that need them no more: settled, or parked for the subscribers still
 * to reach.
 * A repeat is harmless. */
bool tk_store_settle(struct tk_store *store, bson_t *const *summaries,
    size_t n_summaries, char *const *pending, size_t n_pending,
    bson_error_t *error);

/*
 * Backlogs: the events a failing subscriber still has to get, parked out
 * of the pending collection so that it stays small (FerretDB reads a whole
 * collection for a delete of many). Each process parks into collections
 * of its own, one per time window, listed in "backlogs" with their owner;
 * a window is dropped whole once all it holds is done, and an adopter
 * takes over the backlogs of dead owners.
 */

/* Inserts docs (n may be 0) into backlog collection name, listing it
 * first (*registered is set once it was). Duplicates are ignored. */
bool tk_store_park(struct tk_store *store, const char *name, const char *owner,
    bool *registered, bson_t *const *docs, size_t n, bson_error_t *error);

/* Drops backlog collection name and its listing. */
bool tk_store_unpark(struct tk_store *store, const char *name,
    bson_error_t *error);

/* The backlogs of owners not in live (NULL-terminated): *names is set to
 * a NULL-terminated array the caller frees with bson_strfreev. */
bool tk_store_orphan_backlogs(struct tk_store *store, char **live,
    char ***names, bson_error_t *error);

/* Calls fn for every document of backlog collection name. */
bool tk_store_backlog_each(struct tk_store *store, const char *name,
    void (*fn)(const bson_t *parked, void *arg), void *arg,
    bson_error_t *error);

/* Stores the replies of pending events (docs, n of them, each from
 * bson_new() or bson_copy(), owned by the caller) in "replies", before
 * their events go out and their pending documents are deleted. A reply
 * stored already stands (docs[i] is replaced by it); one whose sequence
 * number another stored reply holds is stored under the ticket's next
 * free number (docs[i] is replaced by the document stored; claims, may
 * be NULL, is told the number is taken). keep[i] says
 * whether docs[i]'s event is to go out. A repeat is harmless. On false,
 * docs[i] may have been replaced all the same. */
bool tk_store_keep_replies(struct tk_store *store, struct tk_claims *claims,
    bson_t **docs, size_t n, bool *keep, bson_error_t *error);

/* Calls fn, oldest first, for the reply of every pending event whose
 * owner is not in live (NULL-terminated): what a process that died left
 * undelivered. Each reply is stored again first (a duplicate is fine), so
 * that a reply is there for every event that goes out. Reads only the
 * pending events, never the history. */
bool tk_store_orphans(struct tk_store *store, char **live,
    void (*fn)(const bson_t *reply, void *arg), void *arg,
    bson_error_t *error);

/* What one process saw of a subscriber, kept per process (one writer per
 * document) and summed up when read. */
struct tk_sub_stats {
	int64_t last_success_ms;    /* 0: never */
	int64_t last_failure_ms;
	int failures;               /* consecutive */
	int last_status;
	char last_error[160];
};

/* One delivery attempt, as the outbox records it: a failure, or what
 * followed one (a clean delivery is only in the event's summary). */
struct tk_attempt {
	char event_id[32];
	char sub[25];
	char *url;                  /* owned */
	int number;                 /* 1 for the first attempt */
	int64_t at_ms;
	int status;                 /* 0 when no HTTP answer came */
	char error[160];            /* "" on success */
	long ms;
	bool replay;
};

/* Records attempts (in one insert); the structs stay the caller's. */
bool tk_store_attempts(struct tk_store *store,
    const struct tk_attempt *attempts, size_t n, bson_error_t *error);

/* Records what this process (owner) saw of subscription sub. */
bool tk_store_substats(struct tk_store *store, const char *owner,
    const char *sub, const struct tk_sub_stats *stats, bson_error_t *error);

/* Disables subscription sub for reason: no events go to it until it is
 * subscribed again. */
bool tk_store_disable(struct tk_store *store, const char *sub,
    const char *reason, bson_error_t *error);

/* Keeps an event that could not be delivered to sub (a dead letter), or
 * forgets it once replayed. */
bool tk_store_deadletter(struct tk_store *store, const char *event_id,
    const char *sub, const char *url, int attempts, int status,
    const char *reason, bson_error_t *error);
bool tk_store_deadletter_drop(struct tk_store *store, const char *event_id,
    const char *sub, bson_error_t *error);

/* For the JSON endpoints (operator.c). Each returns a new cJSON value,
 * caller frees with cJSON_Delete(), or NULL on error (or not found, with
 * *found false). */
cJSON *tk_store_subscription_view(struct tk_store *store, const char *sub,
    bool *found, bson_error_t *error);
cJSON *tk_store_event_view(struct tk_store *store, const char *event_id,
    bool *found, bson_error_t *error);
cJSON *tk_store_deadletters(struct tk_store *store, const char *sub,
    bson_error_t *error);

/* The reply document of event_id, with its event. */
bool tk_store_event_doc(struct tk_store *store, const char *event_id,
    bson_t *doc, bool *found, bson_error_t *error);

/* The subscriptions event_id is a dead letter for, NULL-terminated;
 * caller frees with bson_strfreev(). */
bool tk_store_deadletter_subs(struct tk_store *store, const char *event_id,
    char ***subs, bson_error_t *error);

/* Calls fn for every reply document created at or after since_ms, oldest
 * first, at most limit; returns how many, -1 on error. */
long tk_store_events_since(struct tk_store *store, int64_t since_ms, long limit,
    void (*fn)(const bson_t *doc, void *arg), void *arg, bson_error_t *error);

/* Whether a subscription with this id exists (any state). */
bool tk_store_sub_exists(struct tk_store *store, const char *sub, bool *found,
    bson_error_t *error);

/* This process is alive (upserts its own document in "instances"). */
bool tk_store_beat(struct tk_store *store, const char *owner,
    bson_error_t *error);

/* This process stops: its pending events are free to adopt at once. */
bool tk_store_gone(struct tk_store *store, const char *owner,
    bson_error_t *error);

/* The owners of every instance document seen within stale_ms, as a
 * NULL-terminated array (caller frees with bson_strfreev()). */
bool tk_store_instances(struct tk_store *store, int64_t stale_ms,
    char ***owners, bson_error_t *error);

/* ---- outbox.c: delivery of reply events ---- */

struct tk_outbox;

/* Starts the delivery thread of this process. owner names this process
 * in the events it accepts, so that another can adopt them if it dies;
 * subs_gen (may be NULL) moves when subscriptions change on this host;
 * claims (may be NULL) is the host's count of sequence numbers, told of
 * a number the outbox stores a reply under; indexes_ready says whether
 * tk_store_prepare succeeded (the outbox tries again until it does). */
struct tk_outbox *tk_outbox_start(const struct tk_config *cfg,
    const char *owner, struct svc_gen *subs_gen, struct tk_claims *claims,
    bool indexes_ready);

/* Hands a freshly stored reply document (with its event) to the delivery
 * thread: sent at once, off the request path, without reading it back (a
 * round trip saved on every reply). The event is in the
 * database already, so losing this hand-off loses nothing. */
void tk_outbox_push(struct tk_outbox *outbox, const bson_t *reply_doc);

/* Sends the event of reply_doc again to the subscriptions listed
 * (NULL-terminated), whatever was sent before: a replay. Returns false
 * when the outbox is not running. */
bool tk_outbox_replay(struct tk_outbox *outbox, const bson_t *reply_doc,
    char **subs);

void tk_outbox_stop(struct tk_outbox *outbox);

/* ---- the process ---- */

/* What GET /tickets answered, kept while no reply was added on this host
 * (the generation counter did not move) and for a few seconds at most
 * (for writes that came another way). */
struct tk_cache {
	uint64_t gen;
	int64_t built_ms;
	struct svc_buf body;        /* data NULL: nothing kept */
	char etag[24];
	bool too_long;              /* at gen and built_ms: streamed */
};

/* Every ticket without its replies, for the pages of the list: FerretDB
 * reads the whole collection for a range on _id, so it is read once and
 * kept for as long as the list (tickets are not changed by the API). */
struct tk_brief {
	cJSON *list;                /* NULL: not kept */
	bool too_many;              /* over TICKETS_BRIEF_MAX: not kept */
	int64_t built_ms;
};

/* A ticket's title, kept: replies need it, and tickets do not change. */
struct tk_title {
	bson_oid_t id;
	char *title;
	int64_t at_ms;
};

struct tk_app {
	const struct tk_config *cfg;
	struct tk_store *store;
	struct tk_outbox *outbox;
	char owner[320];            /* this process, as events name it */
	unsigned int seed;          /* rand_r state for injected failures */
	struct svc_gen *gen;        /* bumped by every reply added */
	struct svc_gen *subs_gen;   /* bumped by every (un)subscribe */
	struct tk_claims claims;    /* the host's count of sequence numbers */
	bool claims_shared;         /* mapped (else this process's own) */
	struct tk_cache cache;
	struct tk_brief brief;
	struct tk_title *titles;
	size_t n_titles;
	struct svc_metrics *metrics; /* the version's metrics (metrics.c) */
	vd_client_t *registry;      /* GET /registry's reader (registry.c);
	                               NULL until the first */
};

/* Handlers (query.c, comment.c, subscribe.c, operator.c, health.c,
 * registry.c; the metrics' in main.c). */
void tk_query(const struct svc_request *, struct svc_response *, void *);
void tk_query_one(const struct svc_request *, struct svc_response *,
    void *);
void tk_add_comment(const struct svc_request *, struct svc_response *,
    void *);
void tk_subscribe(const struct svc_request *, struct svc_response *,
    void *);
void tk_unsubscribe(const struct svc_request *, struct svc_response *,
    void *);
void tk_subscriptions(const struct svc_request *, struct svc_response *,
    void *);
void tk_subscription(const struct svc_request *, struct svc_response *,
    void *);
void tk_replay_since(const struct svc_request *, struct svc_response *,
    void *);
void tk_event(const struct svc_request *, struct svc_response *, void *);
void tk_replay_event(const struct svc_request *, struct svc_response *,
    void *);
void tk_deadletters(const struct svc_request *, struct svc_response *,
    void *);
void tk_health(const struct svc_request *, struct svc_response *,
    void *);
void tk_registry(const struct svc_request *, struct svc_response *,
    void *);
void tk_metrics(const struct svc_request *, struct svc_response *,
    void *);

/* routes.c */
extern const struct svc_route tk_routes[];
extern const size_t tk_n_routes;

#endif /* TICKETS_H */
