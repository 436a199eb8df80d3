/*
 * service.h - the FastCGI frame the tickets and reply feed services share:
 * a request copied out of FastCGI, a response built in memory, a routing
 * table, the accept loop, logging, database and validation helpers.
 *
 * A handler is a plain function from a parsed request to a response, so it
 * runs the same under FastCGI and in a unit test.
 */
#ifndef SERVICE_H
#define SERVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>

#include <bson/bson.h>
#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include "vdispatch.h"

/* Request bodies above this are refused with 413, here and at nginx. */
#define SVC_BODY_MAX (64 * 1024)

/* ---- response.c: a growable buffer ---- */

struct svc_buf {
	char *data;
	size_t len;
	size_t cap;
};

void svc_buf_append(struct svc_buf *buf, const char *data, size_t len);
void svc_buf_printf(struct svc_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void svc_buf_reset(struct svc_buf *buf);
void svc_buf_free(struct svc_buf *buf);

/* ---- atomicfile.c ---- */

/* Replaces the file at path with len bytes of data, made mode, atomically
 * and durably (a file beside it, fsync, rename): a reader sees the old
 * content or the new. false with error when it cannot. */
bool svc_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, bson_error_t *error);

/* ---- sharedfile.c ---- */

/* Opens (creating it with mode) the file at path that the workers of a
 * service share, read and write, never through a symbolic link. In an
 * untrusted_dir (/dev/shm, writable by all) it is made with O_EXCL, and
 * one that exists is taken only when it is a plain file of this user that
 * no other may write: else -1 with errno EPERM. */
int svc_open_shared(const char *path, mode_t mode, bool untrusted_dir);

/* ---- request.c ---- */

/* The longest X-Request-Id taken from a client (else one is made). */
#define SVC_RID_MAX 128

/* Everything a handler may read, copied out of the FastCGI parameters
 * (libfcgi frees those at the next accept). Strings are never NULL. */
struct svc_request {
	const char *method;          /* "GET", "POST"... */
	const char *path;            /* PATH_INFO: "/tickets/addComment" */
	const char *script_name;     /* the version prefix: "/tickets/v1.0.0" */
	const char *query;           /* QUERY_STRING, "" if none */
	const char *content_type;    /* "" if none */
	long content_length;         /* -1 when absent */
	const char *request_id;      /* X-Request-Id given, or one made here */
	const char *body;            /* NUL-terminated, "" when none */
	size_t body_len;
	bool body_too_large;         /* announced over SVC_BODY_MAX: not read */

	/* Private: the storage of every string above. */
	char **params;               /* "NAME=value" copies, NULL-terminated */
	size_t n_params;
	char *store;
	struct svc_buf body_buf;
	char rid[SVC_RID_MAX + 1];
};

/* Fills req from a NULL-terminated "NAME=value" environment (as FastCGI
 * hands it over); the strings are copied. rid is the request id to use
 * when the client sent no usable X-Request-Id. */
void svc_request_from_env(struct svc_request *req, char **envp,
    const char *rid);

/* For tests: a request made of its parts (body may be NULL). */
void svc_request_make(struct svc_request *req, const char *method,
    const char *path, const char *content_type, const char *body);

/* Appends body bytes read from the client. */
void svc_request_add_body(struct svc_request *req, const char *data,
    size_t len);

/* Reads the query string's parameters name1 and name2 into buf1 and
 * buf2 ("" when absent). False when the query has another parameter, a
 * repeated one, a value too long for its buffer, or a percent-encoded
 * byte (no value of ours needs one). */
bool svc_query_params(const char *query, const char *name1, char *buf1,
    size_t size1, const char *name2, char *buf2, size_t size2);

/* The FastCGI parameter name (e.g. "HTTP_IDEMPOTENCY_KEY"), or NULL. */
const char *svc_request_param(const struct svc_request *req,
    const char *name);

/* Frees what the request holds and leaves it ready for the next one. */
void svc_request_clear(struct svc_request *req);

/* ---- response.c ---- */

/* A body made while it is sent, for one too large to hold (the tickets
 * list at a million replies). The loop writes the headers without a
 * Content-Length, then calls the stream function, which hands its bytes
 * to write(out, ...). It returns false when it failed part-way: the loop
 * then drops the connection, so that the client sees a body cut short
 * rather than one that looks whole. */
typedef void svc_write_fn(void *out, const char *data, size_t len);
typedef bool svc_stream_fn(void *arg, svc_write_fn *write, void *out);

struct svc_response {
	int status;
	const char *content_type;    /* static string */
	struct svc_buf headers;      /* extra "Name: value\r\n" lines */
	struct svc_buf body;
	svc_stream_fn *stream;       /* NULL: the body is in body */
	void *stream_arg;
};

void svc_response_init(struct svc_response *resp);
void svc_response_clear(struct svc_response *resp);
void svc_response_free(struct svc_response *resp);

/* A JSON body made from json (not consumed). */
void svc_response_json(struct svc_response *resp, int status,
    const cJSON *json);

/* Raw bytes with their content type. */
void svc_response_raw(struct svc_response *resp, int status,
    const char *content_type, const char *body, size_t len);

/* A body that stream(arg, ...) makes as it is sent (see above); arg must
 * live until the response is written. */
void svc_response_stream(struct svc_response *resp, int status,
    const char *content_type, svc_stream_fn *stream, void *arg);

/* The error body every failure has: {"error": error, "detail": ...}. */
void svc_response_error(struct svc_response *resp, int status,
    const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An extra header line; value is formatted. */
void svc_response_header(struct svc_response *resp, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The reason phrase of an HTTP status ("Not Found"). */
const char *svc_status_text(int status);

/* ---- hash.c ---- */

/* FNV-1a of len bytes: stable across processes and hosts. The one hash
 * of the services. */
uint64_t svc_hash(const void *data, size_t len);

/* The same, in parts: svc_hash_add(SVC_HASH_INIT, ...) is svc_hash(...),
 * and each part goes on from the hash of those before. */
#define SVC_HASH_INIT 14695981039346656037ULL
uint64_t svc_hash_add(uint64_t h, const void *data, size_t len);

/* ---- proc.c ---- */

/* What /proc/PID/stat says of a process. */
struct svc_proc {
	char state;                 /* 'R', 'S', ...; 'Z' or 'X': it died */
	unsigned long long cpu;     /* user and system time, clock ticks */
	unsigned long long start;   /* start time, clock ticks since boot */
	long long rss;              /* resident pages */
};

/* false when pid is not a process (any more). */
bool svc_proc_read(long pid, struct svc_proc *p);

/* Seconds since the epoch at boot (/proc/stat), 0 when unknown. */
double svc_proc_boot_time(void);

/* ---- auth.c ---- */

/* The roles (the "roles" claim of a token; authorizedRoles in the
 * registry). */
#define SVC_ROLE_READ "tickets.read"           /* reads, when protected */
#define SVC_ROLE_WRITE "tickets.write"         /* add a reply */
#define SVC_ROLE_SUBSCRIBE "subscriptions.manage" /* subscribe, unsubscribe */
#define SVC_ROLE_OPERATOR "operator"           /* subscriptions, events,
                                                  dead letters, replays,
                                                  metrics */

/* How tokens are checked. secret (secret_len bytes, 32 at least) checks
 * HS256; jwks (a JWKS document's text) gives the RS256 (RSA, 2048 bits at
 * least) and ES256 (P-256) keys; issuer and audience, when not NULL,
 * must be the token's iss and be in its aud; leeway is the seconds of
 * clock skew allowed on exp and nbf. insecure: no token is checked at all.
 * protect_reads: reads need SVC_ROLE_READ too. */
struct svc_auth_config {
	const unsigned char *secret;
	size_t secret_len;
	const char *jwks;
	const char *issuer;
	const char *audience;
	int leeway;
	bool insecure;
	bool protect_reads;
};

struct svc_auth;

/* NULL with error on a bad key, and when there is no key at all and the
 * config is not insecure (fail closed). Free with svc_auth_free(). */
struct svc_auth *svc_auth_new(const struct svc_auth_config *cfg,
    bson_error_t *error);
void svc_auth_free(struct svc_auth *a);
bool svc_auth_insecure(const struct svc_auth *a);

/* Checks token at now (seconds since the epoch) and, role not NULL, that
 * its roles claim holds role. false when it does not, with error's code
 * the status to answer (403 when the token is good but lacks the role,
 * 401 otherwise) and its message what failed. */
bool svc_auth_check(const struct svc_auth *a, const char *token,
    const char *role, int64_t now, bson_error_t *error);

/* Whether a route of this role needs a token under a. */
bool svc_auth_required(const struct svc_auth *a, const char *role);

/* The frame's check of a request's "Authorization: Bearer" header for a
 * route of role: true when the handler may run, else resp holds the JSON
 * 401 (with WWW-Authenticate: Bearer) or 403. */
bool svc_auth_request(const struct svc_auth *a, const struct svc_request *req,
    const char *role, struct svc_response *resp);

/* base64url without padding (RFC 7515) decoded into a new NUL-terminated
 * buffer of *out_len bytes (bson_free()); NULL when in is not that. */
unsigned char *svc_base64url_decode(const char *in, size_t len,
    size_t *out_len);

/* ---- authconfig.c ---- */

/* Auth from the environment: VD_AUTH_HS256_SECRET or the file named by
 * VD_AUTH_HS256_SECRET_FILE (one trailing newline dropped), the JWKS file
 * VD_AUTH_JWKS, VD_AUTH_ISSUER, VD_AUTH_AUDIENCE, VD_AUTH_LEEWAY (60 s),
 * VD_AUTH_READS=1 to protect reads. insecure as given by the option that
 * says so. Logs what it uses (a warning at every start when insecure);
 * NULL with error when the service must not start. */
struct svc_auth *svc_auth_from_env(bool insecure, bson_error_t *error);

/* ---- route.c ---- */

typedef void (*svc_handler_fn)(const struct svc_request *req,
    struct svc_response *resp, void *app);

/* A path is matched whole; a segment "*" in it matches any one segment:
 * a pattern /tickets/STAR matches /tickets/abc, not /tickets/a/b. role is
 * what the request's token must hold for the handler to run (auth.c);
 * NULL for none, SVC_ROLE_READ for a read that is public unless reads are
 * protected. */
struct svc_route {
	const char *method;
	const char *path;
	svc_handler_fn handler;
	const char *role;
};

/* Segment n of path (0 is the first: "tickets" in "/tickets/abc"), copied
 * into buf; NULL when there is none or it does not fit, and buf is then
 * the empty string. */
const char *svc_path_segment(const char *path, int n, char *buf,
    size_t size);

/* The role a route's path needs ("" when public, SVC_ROLE_READ's name
 * only when auth protects reads), for registry entries; NULL when no
 * route has that method and path. */
const char *svc_route_role(const struct svc_route *table, size_t n,
    const char *method, const char *path, const struct svc_auth *auth);

/* Runs the route matching req; an unknown path is 404, a known path with
 * another method 405 with Allow. HEAD runs the GET route. A route with a
 * role runs only for a token holding it (401 or 403 otherwise, see
 * svc_auth_request; auth NULL refuses them all). Returns the route that
 * matched, or NULL. */
const struct svc_route *svc_route(const struct svc_route *table, size_t n,
    const struct svc_request *req, struct svc_response *resp, void *app,
    const struct svc_auth *auth);

/* ---- loop.c ---- */

/* Called once per request after the handler ran, for metrics and logs. */
typedef void (*svc_after_fn)(const struct svc_request *req,
    const struct svc_response *resp, const struct svc_route *route,
    double seconds, void *app);

struct svc_metrics;

/* Called once per request before routing: false when it answered the
 * request itself (resp filled) and the handler must not run. */
typedef bool (*svc_before_fn)(const struct svc_request *req,
    struct svc_response *resp, void *app);

struct svc_loop {
	const struct svc_route *routes;
	size_t n_routes;
	void *app;
	const struct svc_auth *auth; /* checks the routes' roles */
	svc_before_fn before;        /* may refuse a request; may be NULL */
	struct svc_metrics *metrics; /* requests counted here; may be NULL */
	svc_after_fn after;          /* after the answer is sent; may be NULL */
};

/* Accepts FastCGI requests on fd 0 (where spawn-fcgi puts the socket)
 * until SIGTERM or SIGINT; returns 0 then, -1 if fd 0 is no FastCGI
 * socket. */
int svc_loop_run(const struct svc_loop *loop);

/* True once SIGTERM or SIGINT arrived; background threads watch it. */
bool svc_stopping(void);

/* pthread_create for background threads: they block SIGTERM and SIGINT,
 * so that those always reach the accept loop and end it. */
int svc_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* ---- log.c ---- */

enum svc_log_level { SVC_DEBUG, SVC_INFO, SVC_WARN, SVC_ERROR };

/* Names this process in every line: "tickets@1.0.1", and sets the least
 * level logged (NULL: $VD_LOG_LEVEL, else info). false with error for a
 * level that is not debug, info, warn or error. When stderr
 * is the journal ($JOURNAL_STREAM), lines carry "<N>" priorities instead
 * of a time. SIGHUP and SIGUSR2 then open the log file again (after a
 * rotation). Call once at start, before svc_log_open(). */
bool svc_log_init(const char *name, const char *version, const char *level,
    bson_error_t *error);

/* Sends stderr (our lines and the libraries') to path, appending: spawn-fcgi
 * gives its children /dev/null. false with errno when it cannot open. */
bool svc_log_open(const char *path);

/* One line to stderr: time (or journal priority), name@version[pid],
 * level, message. */
void svc_log(enum svc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adapter for vd_client_set_logger(). */
void svc_log_vd(vd_log_level_t level, const char *message, void *userdata);


/* ---- memory.c ---- */

/* Out of memory ends the process: libbson's allocators (bson_malloc0,
 * bson_realloc, bson_strdup), which the services use, abort, and this
 * makes cJSON's abort too. Call once at start, before any cJSON. */
void svc_memory_init(void);

/* ---- clock.c ---- */

/* Milliseconds since the epoch, and a monotonic clock in seconds. */
int64_t svc_now_ms(void);
double svc_monotonic(void);

/* Formats ms since the epoch as "2026-11-26T10:00:00.123Z". */
void svc_iso_time(int64_t ms, char *buf, size_t size);

/* Parses an ISO-8601 date and time with a zone ("2026-11-26T10:00:00Z",
 * "...10:00:00.5+01:00") into ms since the epoch; false when s is not
 * one (a time without a zone is refused: whose local time would it be?). */
bool svc_parse_iso_time(const char *s, int64_t *ms);

/* ---- metrics.c, metrics-update.c, metrics-render.c ---- */

/* Metrics in the Prometheus text format (0.0.4), totals of one service
 * version over all of its worker processes: every worker maps one file and
 * updates it with atomic operations (no lock, no system call), so a scrape
 * that reaches any worker sees the same totals.
 *
 * A series is a name and its labels, written as Prometheus writes them
 * without the braces: `outcome="failed"`, or "" for none (label values
 * that do not come from the program are escaped with svc_metrics_label).
 * At most 1024 series per version; names under 64 bytes, labels under
 * 192. Updates that do not fit are dropped and counted in
 * vdispatch_metrics_overflow_total. Every function does nothing when m is
 * NULL, and every one may be called from any thread. */
struct svc_metrics;

/* The families the frame and the services report. */
#define SVC_METRIC_REQUESTS "vdispatch_requests_total"
#define SVC_METRIC_DURATION "vdispatch_request_duration_seconds"
#define SVC_METRIC_ATTEMPTS "vdispatch_dispatch_attempts_total"
#define SVC_METRIC_FALLBACKS "vdispatch_dispatch_fallbacks_total"
#define SVC_METRIC_SKIPPED "vdispatch_dispatch_skipped_total"
#define SVC_METRIC_BUDGET "vdispatch_dispatch_budget_refusals_total"
#define SVC_METRIC_BREAKER "vdispatch_breaker_state"
#define SVC_METRIC_BREAKER_CHANGES "vdispatch_breaker_changes_total"
#define SVC_METRIC_EVENTS "vdispatch_event_deliveries_total"

#define SVC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Maps the metrics file of service@version, creating it if needed:
 * STATE_DIR/metrics/SERVICE-VERSION.metrics, or without a state directory
 * a file in /dev/shm named after the socket on fd 0. Call once per process
 * (after spawn-fcgi's fork), before any thread uses it. Returns NULL with
 * error set when the file cannot be made or mapped. Free with
 * svc_metrics_close(). */
struct svc_metrics *svc_metrics_open(const char *state_dir,
    const char *service, const char *version, bson_error_t *error);
void svc_metrics_close(struct svc_metrics *m);

/* The file mapped ("" for NULL). */
const char *svc_metrics_path(const struct svc_metrics *m);

/* Adds n to the counter name{labels}. */
void svc_metrics_count(struct svc_metrics *m, const char *name,
    const char *labels, uint64_t n);

/* Sets this process's value of the gauge name{labels}; the scrape shows
 * the largest value among the live processes. */
void svc_metrics_gauge(struct svc_metrics *m, const char *name,
    const char *labels, int64_t value);

/* Counts seconds into the histogram name{labels} (buckets from 1 ms to
 * 5 s, and +Inf). */
void svc_metrics_observe(struct svc_metrics *m, const char *name,
    const char *labels, double seconds);

/* Appends key="value" (value escaped, a comma before it unless buf is
 * empty) to the NUL-terminated labels in buf. Returns the length the
 * labels need; when that is size or more, buf is left as it was. */
size_t svc_metrics_label(char *buf, size_t size, const char *key,
    const char *value);

/* Counts a request: vdispatch_requests_total{endpoint,method,status} and
 * vdispatch_request_duration_seconds{endpoint,method}, where endpoint is
 * the route's path ("none" when no route ran). For the loop's after hook. */
void svc_metrics_request(struct svc_metrics *m, const struct svc_request *req,
    const struct svc_response *resp, const struct svc_route *route,
    double seconds);

/* Adapter for vd_client_set_observer(); userdata is the svc_metrics. */
void svc_metrics_vd_observe(const vd_observation_t *obs, void *userdata);

/* Appends every series to out in the text format, with the process
 * figures of the live workers. */
void svc_metrics_render(struct svc_metrics *m, struct svc_buf *out);

/* A GET <prefix>/metrics handler's body: the rendered text (503 when m is
 * NULL). */
void svc_metrics_serve(struct svc_metrics *m, const struct svc_request *req,
    struct svc_response *resp);

/* ---- db.c ---- */

/* Initialises the driver once per process and routes its log lines to
 * svc_log. */
void svc_db_init(void);

/* The MongoDB URI to use: opt if set, else $MONGODB_URI, else the default,
 * with the timeouts that make a down database fail at once. Caller frees
 * with mongoc_uri_destroy(). */
mongoc_uri_t *svc_db_uri(const char *opt, bson_error_t *error);

/* A client for one thread, of the database at uri_opt (see svc_db_uri).
 * Caller frees with mongoc_client_destroy(); NULL with error set. */
mongoc_client_t *svc_db_open(const char *uri_opt, const char *appname,
    bson_error_t *error);

/* True when error means the database could not be reached (503), as
 * opposed to a failed operation. */
bool svc_db_unavailable(const bson_error_t *error);

/* True for a duplicate key error (E11000), and for a unique index the
 * data refuses. */
bool svc_db_duplicate(const bson_error_t *error);

/* Answers 503 or 500 for a database error and logs it. */
void svc_db_fail(struct svc_response *resp, const char *what,
    const bson_error_t *error);

/* Creates an index (keys as a BSON document) if it is not there. */
bool svc_db_index(mongoc_collection_t *coll, const bson_t *keys,
    const char *name, bool unique, bson_error_t *error);

/* ---- bsonjson.c ---- */

/* A document as the article's services returned it: ObjectIds as 24-hex
 * strings, dates as ISO-8601 UTC strings, numbers and strings as they are.
 * Returns a new object (caller frees with cJSON_Delete), never NULL. */
cJSON *svc_bson_to_json(const bson_t *doc);

/* The reverse, for loading data: a top-level "_id" that is a 24-hex
 * string becomes an ObjectId; integral numbers become int32 or int64.
 * Appends to out, which the caller has initialised. false when json is
 * not an object, holds a key starting with '$', or text (a key or a
 * string) that is not UTF-8. */
bool svc_json_to_bson(const cJSON *json, bson_t *out);


/* ---- validate.c ---- */

/* Parses the request body as a JSON object: 415 when the content type is
 * not application/json, 413 when too large, 400 when it is not JSON, not
 * an object, nested too deep, or has a key starting with '$' (or holding
 * a NUL or a '.' at the top level of a stored field). On failure the
 * response is filled and NULL returned. Caller frees with cJSON_Delete. */
cJSON *svc_parse_body(const struct svc_request *req,
    struct svc_response *resp);

/* The string field name of obj, at most max bytes long and not empty
 * unless allow_empty; else fills a 400 and returns NULL. */
const char *svc_field_string(const cJSON *obj, const char *name,
    size_t max, bool allow_empty, struct svc_response *resp);

/* The string member name of obj; "" when it is missing or not a string
 * (never NULL). Owned by obj. */
const char *svc_json_str(const cJSON *obj, const char *name);

/* True when s is exactly 24 hexadecimal digits. */
bool svc_is_oid(const char *s);

/* True when s is 1 to max printable ASCII characters: fit for a database
 * key and a log line. */
bool svc_is_printable(const char *s, size_t max);

/* True when s is an http or https URL with a host, at most max bytes. */
bool svc_is_http_url(const char *s, size_t max);

/* ---- replyevent.c: the reply event's wire format (replyevent.h) ---- */

#include "replyevent.h"

/* ---- generation.c ---- */

/* size bytes of the file name shared by every process of the host that
 * maps it (in state_dir/cache, or /dev/shm/vdispatch-NAME without a state
 * directory), zeroed when new; unmapped with munmap(). NULL with error
 * when it cannot be made. */
void *svc_shared_map(const char *state_dir, const char *name, size_t size,
    bson_error_t *error);

/* A counter shared by every process of the host that opens name: in
 * state_dir/cache/NAME.gen, or /dev/shm/vdispatch-NAME.gen without a state
 * directory. NULL with error when it cannot be made (then readers keep
 * nothing). */
struct svc_gen;
struct svc_gen *svc_gen_open(const char *state_dir, const char *name,
    bson_error_t *error);
void svc_gen_close(struct svc_gen *gen);

/* After a write, before its answer: whatever was read before is old. */
void svc_gen_bump(struct svc_gen *gen);

/* The counter now; one memory load (0 for a NULL gen: a caller without
 * one must keep nothing). */
uint64_t svc_gen_read(const struct svc_gen *gen);

/* ---- announce.c ---- */

/* Registers services in the registry now and every interval seconds from
 * a thread of its own (the heartbeat), until svc_announce_stop(). Failures
 * to register are logged and retried; they never stop the service. NULL
 * with error when the thread cannot start. */
struct svc_announce;
struct svc_announce *svc_announce_start(const char *mongodb_uri,
    const vd_service_t *services, size_t n, int interval,
    bson_error_t *error);
void svc_announce_stop(struct svc_announce *announce);

#endif /* SERVICE_H */
