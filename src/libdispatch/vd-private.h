/*
 * vd-private.h - what the files of libvdispatch share with each other and
 * with the unit tests. Nothing here is exported: the library is built with
 * -fvisibility=hidden and only VD_EXPORT functions are visible outside it.
 *
 * The files call each other in layers, never in a circle (make check's
 * tests/unit/layers.py reads the objects and fails on one):
 *   error, runtime (init, clocks, logger), semver, urls, json, webhook,
 *   breaker, budget, entries: pure or nearly, under everything;
 *   http (one request), sender (event POSTs); plan (a call's decisions);
 *   registry (the database's documents);
 *   cache, cachefile (the client's copy of the registry and its file);
 *   client (the handle); lookup (vd_register, vd_lookup, candidates);
 *   call (the call object); perform (vd_call_perform, vd_call_json).
 */
#ifndef VD_PRIVATE_H
#define VD_PRIVATE_H

#include <pthread.h>
#include <stdarg.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "vdispatch.h"

#define VD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Replies larger than this are refused as unreadable rather than held. */
#define VD_HTTP_MAX_BODY (16L * 1024 * 1024)

/* error.c */

/* Fills error (if not NULL) with code, http_status and a printf-style
 * message, truncated to fit. Returns code, so that failing paths can end
 * with "return vd_error_set(...)". */
vd_code_t vd_error_set(vd_error_t *error, vd_code_t code, int http_status,
    const char *fmt, ...) VD_PRINTF(4, 5);

/* runtime.c: what every file may use; it calls nothing of the library. */

/* mongoc_init() and curl_global_init(), once per process. */
void vd_global_init(void);

/* Wall-clock time (for lastSeen) and a monotonic clock (for deadlines), in
 * milliseconds. */
int64_t vd_now_ms(void);
int64_t vd_mono_ms(void);

/* Sends one formatted line to the client's logger, if it has one. */
void vd_log(const vd_client_t *client, vd_log_level_t level,
    const char *fmt, ...) VD_PRINTF(3, 4);

/* Sends obs to the client's observer, if it has one. */
void vd_observe(const vd_client_t *client, const vd_observation_t *obs);

/* urls.c: URL allow-lists. */

/* A URL as the server behind it routes it: scheme and host lowercase
 * (IPv4 as a dotted quad, IPv6 in brackets), port (the scheme's default
 * when none is written), path decoded with "//" merged and dot segments
 * resolved. Strings owned, freed by vd_url_parts_clear. */
struct vd_url_parts {
	char *scheme;
	char *host;
	char *port;
	char *path;
};

/* Fills p (cleared on failure) from url; VD_EREFUSED when it is not an
 * http or https URL with a host or its path cannot be known for sure. */
vd_code_t vd_url_parse(const char *url, struct vd_url_parts *p,
    vd_error_t *error);
void vd_url_parts_clear(struct vd_url_parts *p);

/* Whether host (as vd_url_parse writes it) is a loopback name or address. */
bool vd_url_loopback(const char *host);

/* Whether p is on the list; with loopback_as_one, any loopback host
 * stands for any other. */
bool vd_urls_match_parts(const vd_urls_t *urls, const struct vd_url_parts *p,
    bool loopback_as_one);

/* The origin of url, "scheme://host[:port]" as written there (lowercase),
 * into buf: what names a host in the registry. Its length; 0 (and "")
 * when url has no "://" or the origin does not fit in size. */
size_t vd_url_origin(const char *url, char *buf, size_t size);

/* The text the list was made from. Owned by urls; "" for NULL. */
const char *vd_urls_spec(const vd_urls_t *urls);

/* breaker.c: a circuit breaker (see breaker.c); one per service version
 * and host. */

/* Defaults, in line with Hystrix (20 calls, 50 %, 10 s window, 5 s sleep
 * window) and Envoy's outlier detection (5 consecutive 5xx; an ejection
 * time that grows with each ejection, capped). */
#define VD_BREAKER_CONSECUTIVE 5
#define VD_BREAKER_RATE_PERCENT 50
#define VD_BREAKER_MIN_CALLS 20
#define VD_BREAKER_WINDOW_MS 10000
#define VD_BREAKER_BASE_OPEN_MS 5000
#define VD_BREAKER_MAX_OPEN_MS 60000
#define VD_BREAKER_BUCKETS 10

typedef enum vd_breaker_state {
	VD_BREAKER_CLOSED = 0,
	VD_BREAKER_OPEN = 1,
	VD_BREAKER_HALF_OPEN = 2
} vd_breaker_state_t;

typedef struct vd_breaker_config {
	unsigned consecutive;       /* failures in a row that open; 0: never */
	unsigned rate_percent;      /* share of failures that opens; 0: never */
	unsigned min_calls;         /* ... out of at least this many calls */
	int64_t window_ms;          /* ... in this rolling window */
	int64_t base_open_ms;       /* first open period */
	int64_t max_open_ms;        /* cap of the growing open period */
} vd_breaker_config_t;

typedef struct vd_breaker {
	vd_breaker_state_t state;
	unsigned consecutive;       /* failures in a row, when closed */
	struct {
		bool used;
		int64_t start;
		uint32_t calls;
		uint32_t failures;
	} bucket[VD_BREAKER_BUCKETS];
	int64_t open_until;         /* open: when the trial may go */
	int64_t open_ms;            /* the last open period (it grows) */
	int64_t closed_at;          /* when it last closed from half-open */
	unsigned openings;          /* how many times it opened */
	bool trial;                 /* half-open: the one trial is out */
	bool probe;                 /* open: a forced probe is out */
	bool panic_told;            /* its forced probes were logged */
} vd_breaker_t;

void vd_breaker_config_default(vd_breaker_config_t *cfg);
void vd_breaker_init(vd_breaker_t *b);
const char *vd_breaker_state_name(vd_breaker_state_t state);

/* What a call at now would find, without changing b: CLOSED (go), OPEN
 * (skip; *remaining_ms, if not NULL, says for how long, 0 when it waits
 * for a trial's outcome) or HALF_OPEN (a trial may go). */
vd_breaker_state_t vd_breaker_peek(const vd_breaker_t *b, int64_t now,
    int64_t *remaining_ms);

/* A call is about to go: an open breaker whose time is up becomes
 * half-open with this call as its trial. Returns the state the call goes
 * in: CLOSED, HALF_OPEN (a trial), or OPEN: it must not go, unless force
 * (every candidate of the call is open) made it a probe, whose success
 * closes the breaker and whose failure changes nothing. */
vd_breaker_state_t vd_breaker_begin(vd_breaker_t *b, int64_t now,
    bool force);

/* A trial or probe given by vd_breaker_begin() that did not happen. */
void vd_breaker_cancel(vd_breaker_t *b);

/* Counts the outcome of a call that went; returns the new state. When
 * the state changed, why (if not NULL) says why ("5 consecutive
 * failures", "12 of 20 calls failed in 10.0 s", "trial call failed",
 * "trial call succeeded", "call succeeded while every version was
 * open"), else it is "". */
vd_breaker_state_t vd_breaker_record(vd_breaker_t *b,
    const vd_breaker_config_t *cfg, int64_t now, bool success, char *why,
    size_t why_size);

/* Calls and failures in the rolling window that ends at now. */
void vd_breaker_window(const vd_breaker_t *b, const vd_breaker_config_t *cfg,
    int64_t now, unsigned *calls, unsigned *failures);

/* budget.c: the retry budget (see budget.c). */

#define VD_BUDGET_PERCENT 20.0
#define VD_BUDGET_PER_SECOND 10.0
#define VD_BUDGET_WINDOW_S 10
#define VD_BUDGET_SLOTS 60          /* the longest window, in seconds */

typedef struct vd_budget {
	double percent;
	double per_second;
	int window_s;
	struct vd_budget_slot {
		bool used;
		int64_t second;
		uint32_t calls;
		uint32_t fallbacks;
	} slot[VD_BUDGET_SLOTS];
} vd_budget_t;

void vd_budget_init(vd_budget_t *b, double percent, double per_second,
    int window_s);

/* Changes the settings, keeping the counts; a negative value (or a
 * window_s <= 0) leaves a setting as it is. */
void vd_budget_configure(vd_budget_t *b, double percent, double per_second,
    int window_s);

/* Counts one call. */
void vd_budget_deposit(vd_budget_t *b, int64_t now_ms);

/* Counts one fallback and returns true if the budget allows it; returns
 * false (and counts nothing) when it is spent. */
bool vd_budget_withdraw(vd_budget_t *b, int64_t now_ms);

/* Fallbacks still allowed at now_ms (may be fractional or negative). */
double vd_budget_balance(const vd_budget_t *b, int64_t now_ms);

/* plan.c: the decisions of a call, without its I/O (see plan.c). */

/* One candidate of a call as the plan sees it. */
struct vd_plan_cand {
	vd_version_t version;
	const char *host;           /* "scheme://host[:port]"; not owned */
	vd_breaker_t *breaker;      /* not owned; NULL: none (no memory) */
	bool allowed;               /* every endpoint on the allow-list */
	size_t entry;               /* the caller's index of the candidate */
	bool shared;                /* set by vd_plan_order: its version has
	                               other hosts (logs then name its host) */
};

/* Orders cands for trying: newest version first, the hosts of a version
 * together and before the next version, each version's hosts starting at
 * the host turn picks (turn % hosts). */
void vd_plan_order(struct vd_plan_cand *cands, size_t n, unsigned turn);

typedef enum vd_step_kind {
	VD_STEP_TRY = 0,            /* call cands[index] */
	VD_STEP_SKIP = 1,           /* cands[index] is not called: why */
	VD_STEP_END = 2             /* no more attempts: why */
} vd_step_kind_t;

enum {
	VD_SKIP_URL = 1,            /* an endpoint is off the allow-list */
	VD_SKIP_OPEN,               /* its circuit is open (remaining_ms) */
	VD_END_EXHAUSTED,           /* every candidate was considered */
	VD_END_DEADLINE,            /* the call's deadline passed */
	VD_END_BUDGET,              /* the budget refused cands[index] */
	VD_END_ANSWERED,            /* 2xx or 4xx: the call has its answer */
	VD_END_NOMEM                /* out of memory */
};

typedef struct vd_step {
	vd_step_kind_t kind;
	int why;                    /* SKIP, END: VD_SKIP_*, VD_END_* */
	size_t index;               /* the candidate concerned */
	bool forced;                /* TRY: its circuit is open, but every
	                               candidate's is: a probe */
	vd_breaker_state_t from;    /* TRY: its breaker before ... */
	vd_breaker_state_t to;      /* ... and as it goes (a trial: half-open) */
	int64_t remaining_ms;       /* SKIP_OPEN: open for this long yet; 0
	                               when half-open with its trial out */
} vd_step_t;

struct vd_plan {
	struct vd_plan_cand *cands;
	size_t n;
	size_t next;                /* the next candidate to consider */
	size_t forced;              /* tried despite its open circuit, or
	                               SIZE_MAX */
	int64_t forced_ms;          /* ... which stays open this long yet */
	bool tried_one;             /* a request went: the rest are fallbacks */
	bool ended;
	int end;                    /* VD_END_* once ended */
	int64_t deadline_at;
	const vd_breaker_config_t *cfg;
	vd_budget_t *budget;
};

/* What an outcome did to a candidate's breaker; why is "" when it did
 * not change. */
struct vd_plan_change {
	vd_breaker_state_t from;
	vd_breaker_state_t to;
	char why[96];
};

/* Starts a call over cands (ordered) at now: counts it in the budget and
 * picks the probe when every circuit is open. */
void vd_plan_init(struct vd_plan *p, struct vd_plan_cand *cands, size_t n,
    const vd_breaker_config_t *cfg, vd_budget_t *budget, int64_t now,
    int64_t deadline_at);

/* The next step at now. A TRY has begun its breaker (an open one whose
 * time is up becomes half-open with this attempt as its trial) and, when
 * it is a fallback, withdrawn from the budget. */
vd_step_t vd_plan_next(struct vd_plan *p, int64_t now);

/* Records the outcome of a TRY step s (code, requests made) at now in its
 * breaker; returns whether the call goes on (it failed in a way that
 * falls back). */
bool vd_plan_record(struct vd_plan *p, const vd_step_t *s, vd_code_t code,
    size_t made, int64_t now, struct vd_plan_change *change);

/* cache.c and cachefile.c: the client's copy of the whole registry (see
 * cache.c), and its file (cachefile.c: vd_cache_serialize to
 * vd_cache_load). */

/* One read of the registry: every entry, sorted. Shared by the calls that
 * use it and freed by the last (refs is guarded by the client's
 * reg_lock). */
struct vd_snapshot {
	int refs;
	vd_entry_t *entries;
	size_t count;
	int64_t fetched_ms;         /* wall clock of the read */
	bool from_file;
};

/* The registry copy as JSON text for the cache file; caller frees with
 * free(); NULL when out of memory. */
char *vd_cache_serialize(const vd_entry_t *entries, size_t count,
    int64_t fetched_ms);

/* Parses text written by vd_cache_serialize. *entries (sorted): caller
 * frees with vd_entries_free(). VD_EINVAL when it is not such a text. */
vd_code_t vd_cache_parse(const char *text, size_t len, vd_entry_t **entries,
    size_t *count, int64_t *fetched_ms, vd_error_t *error);

/* A hash of the entries, their lastSeen left out. */
uint64_t vd_cache_hash(const vd_entry_t *entries, size_t count);

/* Writes the file atomically (temporary file in the same directory,
 * fsync, rename); reads it back. */
vd_code_t vd_cache_save(const char *path, const vd_entry_t *entries,
    size_t count, int64_t fetched_ms, vd_error_t *error);
vd_code_t vd_cache_load(const char *path, vd_entry_t **entries,
    size_t *count, int64_t *fetched_ms, vd_error_t *error);

/* The copy for a call (caller releases it with vd_cache_release), read
 * now if there is none yet, else refreshed in the background when older
 * than the refresh interval. VD_EREGISTRY when there is no copy and the
 * registry cannot be read. */
vd_code_t vd_cache_acquire(vd_client_t *client, struct vd_snapshot **out,
    vd_error_t *error);
void vd_cache_release(vd_client_t *client, struct vd_snapshot *s);

/* The next call reads the registry itself (after a change made through
 * this client). */
void vd_cache_invalidate(vd_client_t *client);

/* Stops and joins the refresher thread, if any. */
void vd_cache_stop(vd_client_t *client);

/* Stops the refresher and drops the copy (the registry moved). */
void vd_cache_clear(vd_client_t *client);

/* vd_lookup and the cache file: after a read of the whole registry,
 * vd_cache_keep writes it to the file (when the client has one); when the
 * registry cannot be read, vd_cache_lookup_file gives the file's entries
 * (of name only, if not NULL) and warns once, saying why and how old. */
void vd_cache_keep(vd_client_t *client, const vd_entry_t *entries,
    size_t count);
vd_code_t vd_cache_lookup_file(vd_client_t *client, const char *name,
    const char *why, vd_entry_t **entries, size_t *count);

/* call.c: the call as its caller builds it. */

struct vd_header {
	char *name;
	char *value;
};

struct vd_call {
	vd_client_t *client;
	char *name;
	vd_range_t *range;
	char *body;                 /* NULL: none */
	size_t body_len;
	struct vd_header *headers;
	size_t n_headers;

	/* What the last perform found. */
	char *reply;
	size_t reply_len;
	int status;
	char version[128];
	char host[VD_HOST_SIZE];
	size_t attempts;
};

/* Forgets what the last perform found. */
void vd_call_clear_results(vd_call_t *call);

/* The caller's header called name (any case), or NULL. */
struct vd_header *vd_call_find_header(const vd_call_t *call,
    const char *name);

/* The headers of every GET (post false) or every POST of one perform:
 * the caller's, then ours where the caller set none (Accept, the client's
 * Authorization, and for a POST Content-Type, Idempotency-Key: key, no
 * Expect). *ok is false when out of memory; caller frees the list with
 * curl_slist_free_all(). */
struct curl_slist *vd_call_headers(const vd_call_t *call, bool post,
    const char *key, bool *ok);

/* client.c: the client handle (it calls cache.c to stop its refresher). */

/* The breaker of one service version at one place (host and entry url),
 * and what the client last told of it. */
struct vd_breaker_entry {
	char *name;
	char *version;
	char *url;                  /* where: "HOST URL" of the entry */
	vd_breaker_t breaker;
	int64_t used_ms;            /* last use (monotonic), for pruning */
	struct vd_breaker_entry *next;
};

#define VD_VERDICTS 16

struct vd_client {
	mongoc_client_t *mongo;
	mongoc_uri_t *uri;          /* for the refresher's own connection */
	char *database;
	char *collection;
	long connect_ms;
	long attempt_ms;
	long deadline_ms;
	long stale_after_s;
	vd_log_fn log_fn;
	void *log_userdata;
	vd_observe_fn observe_fn;
	void *observe_userdata;
	CURL *curl;                /* reused by every call: keep-alive */
	vd_reply_check_t reply_check;
	char *auth_header;         /* "Authorization: Bearer ...", or NULL */
	bool index_ready;          /* unique index made by this client */
	int64_t last_prune_ms;

	/* Resilience: breakers per version and host, the retry budget. */
	vd_breaker_config_t breaker_cfg;
	struct vd_breaker_entry *breakers;
	size_t n_breakers;
	vd_budget_t budget;
	unsigned turn;              /* the host a call starts at (plan.c) */
	bool turn_set;              /* turn was seeded */

	/* The registry copy (cache.c). reg_lock guards what the refresher
	 * thread shares with the calling thread: everything below. */
	pthread_mutex_t reg_lock;
	pthread_cond_t reg_cond;
	pthread_t reg_thread;
	bool reg_thread_started;
	bool reg_stop;             /* the refresher must end */
	bool reg_kick;             /* the refresher must read */
	bool reg_busy;             /* a background read is asked or running */
	bool reg_dirty;            /* read in the calling thread next time */
	long refresh_ms;
	int64_t reg_tried_ms;      /* last read's end (monotonic) */
	struct vd_snapshot *snap;
	bool reg_down;             /* the last read failed */
	bool reg_down_told;        /* ... and the logger was told */
	char reg_error[VD_ERROR_SIZE];
	char *cache_file;
	uint64_t file_hash;        /* of the entries the file holds */
	int64_t file_written_ms;   /* fetched_ms of what the file holds */
	bool file_failed;
	bool file_told;
	char file_error[VD_ERROR_SIZE];

	/* Where calls may go (urls.c): checked before every request, the
	 * verdicts on the last URLs kept (a check costs a few µs of URL
	 * parsing, a call to a local service 150). */
	vd_urls_t *allowed;
	struct vd_url_verdict {
		char *url;
		bool ok;
		char why[VD_ERROR_SIZE];
	} verdicts[VD_VERDICTS];
	size_t next_verdict;
};

/* client.c: whether url is on the client's allow-list; why (size bytes)
 * says why not. */
bool vd_client_url_allowed(vd_client_t *client, const char *url, char *why,
    size_t size);

/* The breaker of name at version and url (whatever names the place:
 * perform.c passes "HOST URL"), made (closed) if there is none; NULL when
 * out of memory. */
struct vd_breaker_entry *vd_client_breaker(vd_client_t *client,
    const char *name, const char *version, const char *url);

/* entries.c: entries as the library holds them (pure). */

/* Sorts by name, then newest version first, then by the URL of the first
 * endpoint (so the entries of a host are together), then most recently
 * seen. */
void vd_entries_sort(vd_entry_t *entries, size_t count);

/* Sets each entry's stale flag: not seen for more than stale_after_ms
 * before now_ms, or never seen. */
void vd_entries_mark_stale(vd_entry_t *entries, size_t count, int64_t now_ms,
    int64_t stale_after_ms);

/* Keeps, in order, the entries whose version is in range (NULL: any) and,
 * if live_only, that are not stale; frees the others. Returns the new
 * count. */
size_t vd_entries_filter(vd_entry_t *entries, size_t count,
    const vd_range_t *range, bool live_only);

/* Copies entries and their strings; NULL when out of memory. */
vd_entry_t *vd_entries_copy(const vd_entry_t *entries, size_t count);

/* Writes the distinct versions in entries ("2.0.0, 1.0.0 (stale)") into
 * buf, newest first as sorted; "" when there are none. */
void vd_entries_describe(const vd_entry_t *entries, size_t count, char *buf,
    size_t size);

/* Frees what e holds and zeroes it. */
void vd_entry_clear(vd_entry_t *e);

/* registry.c: the registry's documents in the database. It uses the
 * client's settings (database, collection, its index made) but calls
 * neither cache.c nor lookup.c. */

/* Inserts or refreshes the entry of service at its host (vd_register
 * without the client's copy). */
vd_code_t vd_registry_put(vd_client_t *client, const vd_service_t *service,
    vd_error_t *error);

/* Deletes the entries of name at exactly version, of host (any URL of
 * it; NULL: every host). */
vd_code_t vd_registry_delete(vd_client_t *client, const char *name,
    const char *version, const char *host, vd_error_t *error);

/* Reads the entries of name (NULL: all), unsorted. *entries: caller
 * frees with vd_entries_free(). */
vd_code_t vd_registry_read(vd_client_t *client, const char *name,
    vd_entry_t **entries, size_t *count, vd_error_t *error);

/* Reads every entry of the collection db.coll through mongo (the
 * refresher's own connection), unsorted. *entries: caller frees with
 * vd_entries_free(). */
vd_code_t vd_registry_read_all(mongoc_client_t *mongo, const char *db,
    const char *coll, vd_entry_t **entries, size_t *count,
    vd_error_t *error);

/* lookup.c: the registry as a client uses it (over registry.c and
 * cache.c), besides the public vd_register, vd_unregister, vd_lookup. */

/* The entries a call of name at range may use: matching and not stale,
 * newest first, from the client's copy of the registry (cache.c). When
 * there are none, *count is 0 and why (if not NULL) says what is
 * registered under name instead, e.g. "none matches; registered: 2.0.0".
 * VD_EREGISTRY when there is no copy and the registry cannot answer.
 * *entries: caller frees with vd_entries_free(). */
vd_code_t vd_registry_candidates(vd_client_t *client, const char *name,
    const vd_range_t *range, vd_entry_t **entries, size_t *count,
    char *why, size_t why_size, vd_error_t *error);

/* http.c */

typedef struct vd_http_request {
	const char *method;                 /* "GET" or "POST" */
	const char *url;
	const char *body;                   /* POST only; may be NULL */
	size_t body_len;
	struct curl_slist *headers;         /* must outlive the transfer */
	long connect_ms;
	long total_ms;
} vd_http_request_t;

typedef struct vd_http_response {
	vd_code_t code;          /* VD_OK (2xx), VD_ECLIENT (4xx), VD_EHTTP
	                            (other status), VD_ETRANSPORT, VD_EREPLY
	                            (body too large), VD_EREFUSED (scheme) */
	int status;              /* 0 when no HTTP answer came */
	bool unsent;             /* nothing was sent: safe to send elsewhere */
	bool timed_out;
	char *body;              /* always terminated once the transfer ran */
	size_t len;
	size_t cap;
	long retry_after_s;      /* Retry-After, -1 if none */
	char content_type[96];   /* "" if none; "?" if too long */
	char reason[128];        /* short cause when code != VD_OK */
	char errbuf[CURL_ERROR_SIZE];
} vd_http_response_t;

/* Sets the options every request of a new handle shares; once, after
 * curl_easy_init(). VD_ENOMEM when curl refuses one. */
vd_code_t vd_http_prepare(CURL *easy);

/* Prepares easy (made ready by vd_http_prepare) for req, writing into
 * resp (which must stay where it is until vd_http_finish). Sets every
 * option a request varies, so that the last request's leave nothing
 * behind; the handle's connections are kept. */
vd_code_t vd_http_setup(CURL *easy, const vd_http_request_t *req,
    vd_http_response_t *resp);

/* Classifies the outcome of a transfer that ended with rc. */
vd_code_t vd_http_finish(CURL *easy, CURLcode rc, vd_http_response_t *resp);

/* One blocking request: setup, perform, finish. */
vd_code_t vd_http_perform(CURL *easy, const vd_http_request_t *req,
    vd_http_response_t *resp);

/* Frees resp's body and zeroes it for reuse. */
void vd_http_response_clear(vd_http_response_t *resp);

/* Seconds to wait from a Retry-After value (delta-seconds or HTTP date),
 * -1 when it is neither. */
long vd_http_retry_after(const char *value);

/* True for a Content-Type value that says JSON: application/json or a
 * +json type (application/problem+json), parameters ignored. */
bool vd_http_json_type(const char *content_type);

/* True for an absolute http:// or https:// URL. */
bool vd_http_url_allowed(const char *url);

/* json.c */

/* Parses exactly len bytes of text (which must be terminated at len) as
 * one JSON value; NULL when it is not JSON. */
cJSON *vd_json_parse(const char *text, size_t len);

/* Merges b into a and returns the result, consuming both: objects are
 * merged key by key, recursively; arrays are concatenated; otherwise b
 * wins. Either may be NULL. */
cJSON *vd_json_merge(cJSON *a, cJSON *b);

/* The "error" and "detail" strings of an error body as one line in buf
 * ("not found: no ticket 5f..."); "" when body has neither. */
void vd_json_error_text(const char *body, size_t len, char *buf, size_t size);

/* ---- webhook.c ---- */

#define VD_MAX_SECRETS 8

/* Decoded signing keys. */
typedef struct vd_secrets {
	size_t n;
	unsigned char key[VD_MAX_SECRETS][256];
	size_t len[VD_MAX_SECRETS];
} vd_secrets_t;

/* Parses "whsec_..., whsec_..." into keys. */
vd_code_t vd_secrets_parse(const char *text, vd_secrets_t *secrets,
    vd_error_t *error);

/* The webhook-signature value for one attempt; caller frees with free(). */
char *vd_secrets_sign(const vd_secrets_t *secrets, const char *id,
    int64_t timestamp, const char *body, size_t len);

#endif /* VD_PRIVATE_H */
