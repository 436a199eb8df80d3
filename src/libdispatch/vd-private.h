/*
 * vd-private.h - what the files of libvdispatch share with each other and
 * with the unit tests. Nothing here is exported: the library is built with
 * -fvisibility=hidden and only VD_EXPORT functions are visible outside it.
 */
#ifndef VD_PRIVATE_H
#define VD_PRIVATE_H

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

/* client.c */

/* One registry look-up kept for when the registry cannot answer. */
struct vd_cache {
	char *name;
	vd_entry_t *entries;
	size_t count;
	int64_t fetched_ms;
	struct vd_cache *next;
};

struct vd_client {
	mongoc_client_t *mongo;
	char *database;
	char *collection;
	long connect_ms;
	long attempt_ms;
	long deadline_ms;
	long stale_after_s;
	vd_log_fn log_fn;
	void *log_userdata;
	CURL *curl;                /* reused by every call: keep-alive */
	bool index_ready;          /* unique index made by this client */
	int64_t last_prune_ms;
	struct vd_cache *cache;
};

/* mongoc_init() and curl_global_init(), once per process. */
void vd_global_init(void);

/* Wall-clock time (for lastSeen) and a monotonic clock (for deadlines), in
 * milliseconds. */
int64_t vd_now_ms(void);
int64_t vd_mono_ms(void);

/* Sends one formatted line to the client's logger, if it has one. */
void vd_log(const vd_client_t *client, vd_log_level_t level,
    const char *fmt, ...) VD_PRINTF(3, 4);

/* The registry collection; caller frees with mongoc_collection_destroy(). */
mongoc_collection_t *vd_client_collection(vd_client_t *client);

/* registry.c */

/* Sorts by name, then newest version first, then most recently seen. */
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

/* The entries a call of name at range may use: matching and not stale,
 * newest first. When there are none, *count is 0 and why (if not NULL)
 * says what is registered under name instead, e.g. "none matches;
 * registered: 2.0.0". When the registry cannot answer, the client's last
 * copy for name is used if there is one, else VD_EREGISTRY. *entries:
 * caller frees with vd_entries_free(). */
vd_code_t vd_registry_candidates(vd_client_t *client, const char *name,
    const vd_range_t *range, vd_entry_t **entries, size_t *count,
    char *why, size_t why_size, vd_error_t *error);

/* Frees the client's copies of earlier look-ups. */
void vd_registry_cache_free(vd_client_t *client);

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
	char reason[128];        /* short cause when code != VD_OK */
	char errbuf[CURL_ERROR_SIZE];
} vd_http_response_t;

/* Prepares easy for req, writing into resp (which must stay where it is
 * until vd_http_finish). Resets easy first; its connections are kept. */
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
