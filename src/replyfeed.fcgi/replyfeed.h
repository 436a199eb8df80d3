/*
 * replyfeed.h - the reply feed service: receives the tickets service's
 * reply events, keeps the latest ones in a database of its own and serves
 * the latest 10. It never reads the tickets database.
 */
#ifndef REPLYFEED_H
#define REPLYFEED_H

#include "service.h"

/* The longest URL of ours (an event's fields and their limits are the
 * wire format's: replyevent.c of the service frame). */
#define REPLYFEED_URL_MAX 2048

/* How many replies GET /latestReplies answers (the article's design). */
#define REPLYFEED_LATEST 10

/* Seconds an event's webhook-timestamp may be off (Standard Webhooks). */
#define REPLYFEED_TOLERANCE 300

/* How long a received event is kept whatever --keep says, so that its id
 * still stops a replay of the same signed request: one stamped t verifies
 * from t - TOLERANCE to t + TOLERANCE, so up to 2 * TOLERANCE after it
 * first arrived; a minute more for clocks. */
#define REPLYFEED_REMEMBER_MS ((2 * REPLYFEED_TOLERANCE + 60) * 1000LL)

/* A reply's "bucket": its receivedAt in whole RF_BUCKET_MS, so that
 * pruning finds the old ones by equality, which FerretDB serves from an
 * index (a range or a sort it serves by reading every document). Ten
 * seconds: a bucket's ids go in one delete, and PostgreSQL takes at most
 * 65,535 parameters (6,500 replies a second). */
#define RF_BUCKET_MS 10000LL

/* Buckets a bucket prune walks at most; further behind (a long quiet),
 * the whole collection is pruned at once (rf_store_prune). */
#define RF_PRUNE_SPAN 180

struct rf_config {
	const char *version;        /* "1.0.0" */
	const char *mongodb_uri;    /* NULL: $MONGODB_URI, else the default */
	const char *db_name;        /* "replyfeed" */
	const char *public_url;     /* nginx: "http://127.0.0.1:8080" */
	char prefix[128];           /* "/replyfeed/v1.0.0" */
	char event_url[REPLYFEED_URL_MAX + 1]; /* where events are POSTed */
	const char *tickets_range;  /* "Ticket Subscribe" range, "1.0.1" */
	long renew;                 /* seconds between subscription renewals */
	long keep;                  /* replies kept in the database */
	int heartbeat;              /* seconds between registry heartbeats */
	const char *log_level;
	const char *state_dir;      /* spawn/stack's state directory */
	const char *events_secret;  /* whsec_... list; NULL: not verified
	                             * (--insecure-no-signature only) */
	const char *latest_file;    /* kept for nginx to serve; NULL: none */
	bool decommission;          /* unsubscribe, unregister, exit */
};

/* ---- store.c: every database access, one store per thread ---- */

struct rf_store;

struct rf_store *rf_store_open(const struct rf_config *cfg,
    const char *appname, bson_error_t *error);
void rf_store_close(struct rf_store *store);

/* Creates the index the latest replies are read by. Safe to repeat; true
 * at once when done before. */
bool rf_store_prepare(struct rf_store *store, bson_error_t *error);

/* Whether rf_store_prepare() succeeded already. */
bool rf_store_prepared(const struct rf_store *store);

/* Whether the database answers. */
bool rf_store_ping(struct rf_store *store, bson_error_t *error);

/* Inserts event, received at received_ms, as its own document (its id is
 * the _id). An event stored before (the same id, delivered again) is not
 * stored again: true with *duplicate set. */
bool rf_store_insert(struct rf_store *store, const struct svc_event *event,
    int64_t received_ms, bool *duplicate, bson_error_t *error);

/* The latest n replies by (createdAt, _id), oldest first, as a JSON array
 * of events as they came (svc_event_json). Returns a new
 * array (caller frees with cJSON_Delete), NULL on error. */
cJSON *rf_store_latest(struct rf_store *store, int n, bson_error_t *error);

/* Deletes every reply but the newest keep and those received after
 * received_before (Unix ms). Reads every reply (FerretDB can use no index
 * for a sort or a range): the first prune of a process, and after a long
 * quiet. Returns how many went, -1 on error. */
long rf_store_prune(struct rf_store *store, long keep, int64_t received_before,
    bson_error_t *error);

/* Deletes the replies received in the buckets from *from to the one
 * before received_before's, keeping the keep received last when fewer
 * than keep were received after those buckets; sets *from to the bucket
 * to start from next time. Reads only the buckets it deletes from and,
 * newest first, the later ones until keep are counted: each an equality
 * on "bucket", which FerretDB serves from an index. Returns how many
 * went, -1 on error. */
long rf_store_prune_buckets(struct rf_store *store, long keep, int64_t now_ms,
    int64_t received_before, int64_t *from, bson_error_t *error);

/* ---- subscription.c: this process's subscription to reply events ---- */

struct rf_subscription;

/* Starts the thread that subscribes cfg->event_url through "Ticket
 * Subscribe" until it succeeds, then renews it every cfg->renew seconds.
 * Its calls are counted in metrics (may be NULL) and each carries an
 * X-Request-Id of its own, which its log lines show. Returns NULL with
 * error when the thread cannot start. */
struct rf_subscription *rf_subscription_start(const struct rf_config *cfg,
    struct svc_metrics *metrics, bson_error_t *error);

/* Stops the thread. The subscription stays: events sent while this
 * service is down wait for it. NULL is fine. */
void rf_subscription_stop(struct rf_subscription *sub);

/* Whether the subscription is in place, and through which version (""
 * when not), for /health. */
bool rf_subscription_state(struct rf_subscription *sub, char *version,
    size_t size);

/* replyfeed.fcgi --decommission: unsubscribes cfg->event_url through
 * "Ticket Unsubscribe" and removes this version's registry entries,
 * saying on stdout what it did. false with error saying what it could
 * not do (it tries both). */
bool rf_subscription_decommission(const struct rf_config *cfg,
    bson_error_t *error);

/* ---- the process ---- */

struct rf_app {
	const struct rf_config *cfg;
	struct rf_store *store;
	struct rf_subscription *subscription;
	long inserted;              /* events stored since the last prune */
	int64_t pruned_ms;          /* when the last prune ran */
	int64_t prune_from;         /* first bucket to prune; 0: prune all */
	int64_t prepare_ms;         /* when indexes were last attempted */
	bool rebuild;               /* the latest file needs making again */
	struct svc_metrics *metrics; /* the version's metrics (metrics.c) */
};

/* latestfile.c: the latest replies in a file nginx serves (path NULL:
 * none). Merges a new event into it, or makes it again from the
 * database; false, with error, when the file could not be written. */
bool rf_latest_file_add(const char *path, const struct svc_event *ev,
    bson_error_t *error);
bool rf_latest_file_rebuild(const char *path, struct rf_store *store,
    bson_error_t *error);

/* Handlers (event.c, latest.c, health.c; the metrics' in main.c). */
void rf_event(const struct svc_request *, struct svc_response *, void *);
void rf_latest(const struct svc_request *, struct svc_response *, void *);
void rf_health(const struct svc_request *, struct svc_response *,
    void *);
void rf_metrics(const struct svc_request *, struct svc_response *,
    void *);

/* routes.c */
extern const struct svc_route rf_routes[];
extern const size_t rf_n_routes;

#endif /* REPLYFEED_H */
