/*
 * vdispatch.h - find services by name and semantic version in a registry,
 * call them with fallback across compatible versions, send events.
 *
 * Conventions (after libcurl and mongo-c-driver):
 *
 *  - Every function that can fail returns a vd_code_t (VD_OK is 0) or, for
 *    constructors, NULL; and fills the vd_error_t passed last, which may be
 *    NULL. A vd_error_t lives on the caller's stack and needs no freeing.
 *  - Strings passed in are copied: the caller keeps ownership of its own.
 *  - Every returned pointer says who frees it. "Owned by X" means it stays
 *    valid until X is destroyed or changed; "caller frees with F" means so.
 *  - Every *_destroy and *_free accepts NULL and then does nothing.
 *  - Handles are not thread-safe: use one per thread, like mongoc_client_t.
 *    vd_sender_wakeup() is the one call that may come from another thread.
 *    A client may run one thread of its own, which refreshes its copy of
 *    the registry (vd_client_set_registry_refresh); vd_client_destroy()
 *    joins it. Loggers and observers are only ever called in the thread
 *    that called the library.
 *  - The library never prints and never exits: it reports through return
 *    codes, vd_error_t and the optional logger of vd_client_set_logger().
 *
 * The names libdispatch, dispatch.h and dispatch_* belong to Apple's Grand
 * Central Dispatch; this library is libvdispatch, prefix vd_.
 */
#ifndef VDISPATCH_H
#define VDISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VD_EXPORT __attribute__((visibility("default")))
#else
#define VD_EXPORT
#endif

#define VD_VERSION_STRING "1.0.0"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Result codes. New codes are only ever added before VD_ELAST. */
typedef enum vd_code {
	VD_OK = 0,
	VD_EINVAL = 1,       /* a bad argument (NULL, empty, out of range) */
	VD_ENOMEM = 2,       /* out of memory */
	VD_EVERSION = 3,     /* a malformed version or version range */
	VD_EREGISTRY = 4,    /* the registry database failed and no cached
	                        copy could answer */
	VD_ENOSERVICE = 5,   /* "No service available": nothing registered
	                        matches, or every candidate failed */
	VD_ECLIENT = 6,      /* a service answered 4xx: the caller's fault,
	                        returned as is and not retried elsewhere */
	VD_ETRANSPORT = 7,   /* connection refused, reset or timed out */
	VD_EHTTP = 8,        /* an HTTP status that is neither 2xx nor 4xx */
	VD_EREPLY = 9,       /* a reply that is not the JSON expected */
	VD_ETIMEOUT = 10,    /* the call's overall deadline passed */
	VD_EBUDGET = 11,     /* fallback refused: the retry budget is spent */
	VD_ESIGNATURE = 12,  /* an event signature is missing or wrong */
	VD_ESTALE = 13,      /* an event timestamp is outside the tolerance */
	VD_EREFUSED = 14,    /* a URL not allowed (scheme, host, port or
	                        path: see vd_urls_new) */
	VD_ECANCELED = 15,   /* an event POST canceled by vd_sender_cancel */
	VD_ELAST             /* never returned; keep last */
} vd_code_t;

#define VD_ERROR_SIZE 256

/* Filled by a failing call. code repeats the return value; http_status is
 * the last HTTP status seen (0 if none); message says what failed, in one
 * line meant for people and logs. */
typedef struct vd_error {
	vd_code_t code;
	int http_status;
	char message[VD_ERROR_SIZE];
} vd_error_t;

/* A static, constant description of code. Never NULL; never free it. */
VD_EXPORT const char *vd_strerror(vd_code_t code);

/* Frees memory that the library says "caller frees with vd_free". */
VD_EXPORT void vd_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Semantic versions (https://semver.org, 2.0.0)                       */
/* ------------------------------------------------------------------ */

typedef struct vd_version {
	uint64_t major;
	uint64_t minor;
	uint64_t patch;
	char prerelease[64];  /* "" when none, else e.g. "rc.1" */
} vd_version_t;

/* Parses "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" into *version. A leading
 * "v" is accepted. Build metadata is checked and dropped, as it has no
 * precedence. VD_EVERSION when text is not a version. */
VD_EXPORT vd_code_t vd_version_parse(const char *text, vd_version_t *version,
    vd_error_t *error);

/* Semver precedence: <0, 0 or >0 as a is lower than, equal to or higher
 * than b. Pre-releases are lower than their release and ordered by their
 * dot-separated identifiers (numeric ones numerically, below alphanumeric). */
VD_EXPORT int vd_version_compare(const vd_version_t *a, const vd_version_t *b);

/* Writes "MAJOR.MINOR.PATCH[-PRERELEASE]" into buf (always terminated when
 * size > 0). Returns the length the full text needs, as snprintf does. */
VD_EXPORT int vd_version_format(const vd_version_t *version, char *buf,
    size_t size);

/* A set of acceptable versions, parsed from one of:
 *   "1.0.1"         compatible: same major and at least 1.0.1 first,
 *                   then older patches of 1.0 as a last resort (a patch
 *                   keeps the API: the article's 1.0.1 falls back to
 *                   1.0.0); never an older minor. Also for major 0.
 *   "=1.0.1"        exactly 1.0.1
 *   "^1.0.1"        caret, as npm: changes that do not modify the left-most
 *                   non-zero number (^0.2.3 is >=0.2.3 <0.3.0)
 *   "~1.0.1"        tilde: same major and minor, at least 1.0.1
 *   ">=1.0.1 <2"    comparators (<, <=, >, >=, =) joined by spaces, all of
 *                   which must hold; a partial version fills with zeros
 *   "A || B"        either set
 *   "*" or ""       any version ("x" and "1.x" are partial versions too)
 * A pre-release version matches only a set that names a pre-release of the
 * same MAJOR.MINOR.PATCH, as npm does, so "^1.0.0" does not pick 2.0.0-rc.1.
 * Returns a new range, caller frees with vd_range_destroy(); NULL and
 * VD_EVERSION when spec does not parse. */
typedef struct vd_range vd_range_t;
VD_EXPORT vd_range_t *vd_range_new(const char *spec, vd_error_t *error);
VD_EXPORT bool vd_range_match(const vd_range_t *range,
    const vd_version_t *version);
/* The text the range was made from. Owned by range. */
VD_EXPORT const char *vd_range_spec(const vd_range_t *range);
VD_EXPORT void vd_range_destroy(vd_range_t *range);

/* ------------------------------------------------------------------ */
/* URL allow-lists                                                     */
/* ------------------------------------------------------------------ */

/* Which URLs may be contacted, by scheme, host, port and path prefix.
 * list holds entries separated by commas (or spaces):
 *   "*"                             any http or https URL
 *   "host" or "host:port"           http or https to that host (and port),
 *                                   any path
 *   "scheme://host[:port][/path]"   that scheme, host and port (the
 *                                   scheme's default when none is written),
 *                                   and paths at or below path, compared
 *                                   by whole segments ("/replyfeed/" or
 *                                   "/hook"); no path: any path.
 * A URL is judged as the server behind it sees it: parsed by libcurl's URL
 * API (userinfo apart, IPv4 in any notation, IPv6 literals, host case),
 * its path percent-decoded, "//" merged and "." and ".." resolved, so
 * "/replyfeed/%2e%2e/tickets/" is "/tickets/". A path that decodes to
 * "%", "?", "#", "\" or a control byte is refused. Hosts are compared
 * as libcurl writes them, without case, and never resolved.
 * Returns a new list, caller frees with vd_urls_destroy(); an empty or
 * NULL list allows nothing. NULL and VD_EINVAL when an entry does not
 * parse (the message names it). */
typedef struct vd_urls vd_urls_t;
VD_EXPORT vd_urls_t *vd_urls_new(const char *list, vd_error_t *error);
VD_EXPORT void vd_urls_destroy(vd_urls_t *urls);

/* VD_OK when url is on the list; VD_EREFUSED, saying why, when it is not,
 * or is not an http or https URL whose path can be known for sure. */
VD_EXPORT vd_code_t vd_urls_check(const vd_urls_t *urls, const char *url,
    vd_error_t *error);

/* For deny-lists (the places a URL must never reach): whether url parses
 * and may reach a place on the list. As vd_urls_check, except that every
 * loopback host ("localhost", 127.0.0.0/8, [::1], 0.0.0.0) stands for any
 * other, since they all reach this machine. */
VD_EXPORT bool vd_urls_reaches(const vd_urls_t *urls, const char *url);

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

typedef struct vd_client vd_client_t;

typedef enum vd_log_level {
	VD_LOG_DEBUG = 0,
	VD_LOG_INFO = 1,
	VD_LOG_WARN = 2,
	VD_LOG_ERROR = 3
} vd_log_level_t;

/* Receives one line per event worth telling (each call attempt, each
 * fallback, registry trouble). message has no trailing newline and is
 * only valid during the call. */
typedef void (*vd_log_fn)(vd_log_level_t level, const char *message,
    void *userdata);

/* A client of the registry at mongodb_uri (NULL: $MONGODB_URI, else
 * "mongodb://127.0.0.1:27017"). Connecting is lazy: a registry that is down
 * makes calls fail later, not this. Returns a new client, caller frees with
 * vd_client_destroy(); NULL on a malformed URI (VD_EINVAL) or no memory. */
VD_EXPORT vd_client_t *vd_client_new(const char *mongodb_uri,
    vd_error_t *error);
VD_EXPORT void vd_client_destroy(vd_client_t *client);

/* Where registry entries live. Defaults: database "registry" (or
 * $VD_REGISTRY_DB), collection "services", the article's; NULL restores a
 * default. */
VD_EXPORT vd_code_t vd_client_set_registry(vd_client_t *client,
    const char *database, const char *collection, vd_error_t *error);

/* Time limits in milliseconds; 0 leaves a limit as it is. connect_ms bounds
 * connecting to one version (default 1000), attempt_ms one whole attempt
 * (default 5000), deadline_ms the whole call across all its fallbacks
 * (default 15000). A version that hangs (a stopped responder whose socket
 * still accepts) so costs one attempt at most, and no attempt outlives the
 * deadline. Calls read the registry from the client's copy (see
 * vd_client_set_registry_refresh), so only a call that must read it first
 * (the client's first, or the first after vd_register or vd_unregister
 * through it) can wait for the registry, bounded by the registry's own
 * timeouts (2 s to connect or select a server, 5 s per read, unless the
 * URI says otherwise), and that wait counts against the deadline. */
VD_EXPORT void vd_client_set_timeouts(vd_client_t *client, long connect_ms,
    long attempt_ms, long deadline_ms);

/* An entry whose lastSeen is older than seconds is not chosen by calls
 * (default 30; 0 leaves it), judged as of when the client's copy of the
 * registry was read (see vd_client_set_registry_refresh). Responders
 * refresh theirs with vd_register(). */
VD_EXPORT void vd_client_set_stale_after(vd_client_t *client, long seconds);

/* When a 2xx reply counts as unreadable, which makes a call fall back
 * like a 5xx does. A reply that came cut short (fewer bytes than its
 * Content-Length, an unfinished chunked body) is a transport error either
 * way; an empty body is always readable.
 *   VD_REPLY_TYPED   (the default) a body whose Content-Type is not JSON
 *                    (application/json or a +json type): an HTML page
 *                    from a proxy or a misrouted path. A body without a
 *                    Content-Type is parsed, as below. One that says JSON
 *                    is returned unparsed: the caller parses it anyway,
 *                    and a parse here too (a quarter of a call to a
 *                    local service with a 5 KB reply) would be wasted.
 *   VD_REPLY_PARSED  any body that cJSON cannot parse, whatever its
 *                    Content-Type says (a service that sends broken JSON
 *                    is then failed over too).
 * A service with several endpoints has its replies parsed to merge them,
 * whichever is set. VD_EINVAL on another value; nothing changes then. */
typedef enum vd_reply_check {
	VD_REPLY_TYPED = 0,
	VD_REPLY_PARSED = 1
} vd_reply_check_t;

VD_EXPORT vd_code_t vd_client_set_reply_check(vd_client_t *client,
    vd_reply_check_t check, vd_error_t *error);

/* Installs the logger (NULL: none, the default). */
VD_EXPORT void vd_client_set_logger(vd_client_t *client, vd_log_fn fn,
    void *userdata);

/* What a client observed, for metrics: one report per call attempt, per
 * version (at a host) skipped because its circuit breaker is open, per
 * breaker state change, and per fallback refused by the retry budget. */
typedef enum vd_observation_kind {
	VD_OBSERVE_ATTEMPT = 0,      /* an attempt ended: code, status, ms */
	VD_OBSERVE_SKIPPED = 1,      /* skipped: its breaker is open */
	VD_OBSERVE_BREAKER = 2,      /* its breaker changed to state */
	VD_OBSERVE_BUDGET = 3        /* a fallback refused by the budget */
} vd_observation_kind_t;

typedef struct vd_observation {
	vd_observation_kind_t kind;
	const char *service;         /* the service name called */
	const char *version;         /* the version concerned */
	vd_code_t code;              /* ATTEMPT: VD_OK or why it failed */
	int http_status;             /* ATTEMPT: 0 when no HTTP answer */
	long elapsed_ms;             /* ATTEMPT */
	bool fallback;               /* ATTEMPT: not the first version tried */
	const char *state;           /* BREAKER: "closed", "open", "half-open" */
	const char *host;            /* the host concerned ("scheme://host:port",
	                                see vd_entry_host); "" for none */
} vd_observation_t;

/* Receives observations during vd_call_perform(); obs and its strings are
 * valid during the call only. */
typedef void (*vd_observe_fn)(const vd_observation_t *obs, void *userdata);

/* Installs the observer (NULL: none, the default). It is called in the
 * thread that performs the call, never from a library thread: per HTTP
 * request (ATTEMPT; fallback is true from the second candidate tried on),
 * per version at a host skipped (SKIPPED, state "open"), per breaker
 * change (BREAKER), per fallback refused (BUDGET, version and host = the
 * one not tried). */
VD_EXPORT void vd_client_set_observer(vd_client_t *client, vd_observe_fn fn,
    void *userdata);

/* Circuit breakers. The client keeps one per service version and host
 * (name, version, host and url of the entry); calls skip a version at a
 * host whose circuit is open ("skipping Ticket Query 1.0.1: circuit open
 * for 4.2 s more"; "... 1.0.1 at http://10.0.0.2:8080: ..." when the
 * version has several hosts), and go on to its other hosts.
 * A failure is what makes a call fall back (connection error, timeout,
 * 5xx, unreadable reply); a 2xx or a 4xx is a success.
 *   closed     calls go. It opens after `consecutive` failures in a row
 *              (default 5), or when at least `rate_percent` percent
 *              (default 50) of at least `min_calls` calls (default 20)
 *              failed in the last `window_ms` (default 10000).
 *   open       the version is skipped for `base_open_ms` (default 5000);
 *              each re-opening doubles the time, up to `max_open_ms`
 *              (default 60000); the growth is forgotten once the version
 *              has stayed closed for max_open_ms.
 *   half-open  one trial call goes: success closes, failure re-opens.
 * When every candidate of a call is open, the call still tries the one
 * that closes soonest, as its trial: a breaker never turns a degraded
 * service into an outage. State is kept in the client, per process; it is
 * not shared with other clients.
 * A negative value (or 0 for the three times) leaves a setting as it is;
 * consecutive 0 and rate_percent 0 turn those rules off (both: the breaker
 * never opens). VD_EINVAL when rate_percent > 100 or max_open_ms <
 * base_open_ms; nothing changes then. */
VD_EXPORT vd_code_t vd_client_set_breaker(vd_client_t *client,
    long consecutive, long rate_percent, long min_calls, long window_ms,
    long base_open_ms, long max_open_ms, vd_error_t *error);

/* Retry budget, as Finagle's and Linkerd's: fallbacks (versions tried after
 * another failed) may be at most `percent` percent of the calls made in the
 * last `window_s` seconds (default 20), plus `per_second` a second (default
 * 10, so 100 in the default window of 10 s). When it is spent, a call that
 * would fall back fails at once with VD_EBUDGET ("retry budget exhausted:
 * ...") instead of trying the next version, so that a failing version
 * cannot multiply the load on the others. Kept per client. A negative
 * value (window_s <= 0) leaves a setting as it is; percent 0 and per_second
 * 0 allow no fallback at all; per_second HUGE_VAL sets no limit. VD_EINVAL
 * when percent > 1000 or window_s > 60 (or NaN); nothing changes then. */
VD_EXPORT vd_code_t vd_client_set_budget(vd_client_t *client, double percent,
    double per_second, long window_s, vd_error_t *error);

/* The client's copy of the registry. Calls choose versions from an
 * in-memory copy of every entry, read in one query. The first call reads
 * it (and so does the first after vd_register or vd_unregister through
 * this client); afterwards a call that finds it older than refresh_ms
 * (default 2000) asks the client's refresher thread for a new one and goes
 * on with the copy it has, so that calls do not wait for the registry.
 * The refresher is a thread of the client, started by the first call that
 * needs a refresh, with a connection of its own to the registry; it
 * never calls the logger or the observer, and vd_client_destroy() stops
 * and joins it (waiting, at most, for a registry read in progress: the
 * registry's connect and socket timeouts). While the registry cannot be
 * read, calls go on from the copy, entries judged live or stale as of
 * when it was read, and the logger is told once ("Registry unavailable:
 * ...; calling from the copy of 12 s ago until it answers"), and again
 * when it answers. 0 or less leaves the interval as it is. */
VD_EXPORT void vd_client_set_registry_refresh(vd_client_t *client,
    long refresh_ms);

/* Where calls may go: the URL of every registry entry endpoint a call is
 * about to use is checked against list (see vd_urls_new; copied) first,
 * and one that is not on it is never contacted: that version fails with
 * "URL not allowed" and the call falls back to the next. Anyone who can
 * write to the registry database can register an entry, so this is what
 * keeps it from turning calls into requests anywhere. NULL restores the
 * default: $VD_ALLOWED_URLS when set, else loopback hosts only
 * ("localhost,127.0.0.1,[::1]": any port and path of this machine, which
 * keeps a single-machine stack working). A deployment over several hosts
 * lists its hosts' URLs; the services pass their own public URL. VD_EINVAL
 * on an entry that does not parse; the previous list then stays. */
VD_EXPORT vd_code_t vd_client_set_allowed_urls(vd_client_t *client,
    const char *list, vd_error_t *error);

/* The bearer token every call of the client sends, as "Authorization:
 * Bearer TOKEN" on each attempt (a call's own Authorization header, set
 * with vd_call_set_header, wins). token is copied; NULL removes it (the
 * default: no token, unless $VD_TOKEN is set when the client is made;
 * vd_client_new() fails with VD_EINVAL on a $VD_TOKEN this refuses).
 * The services check it (a JWT whose roles claim must hold the
 * authorizedRoles of the endpoint's registry entry). VD_EINVAL on an
 * empty token or one with a byte that cannot go in a header (a control
 * character, a space); the previous token then stays. Not to be called
 * while a call of the client runs. */
VD_EXPORT vd_code_t vd_client_set_token(vd_client_t *client,
    const char *token, vd_error_t *error);

/* Keeps the registry copy in the file at path too (NULL: no file, the
 * default; the path is copied): rewritten whenever a read finds other
 * entries, and at least every minute, atomically (a temporary file beside
 * it, then rename), mode 0644. Several processes may share one file. When
 * the client has no copy and the registry cannot be read, calls use the
 * file's, whatever its age, with a warning that says its age. A file that
 * cannot be written is told once to the logger. VD_EINVAL on an empty
 * path. */
VD_EXPORT vd_code_t vd_client_set_cache_file(vd_client_t *client,
    const char *path, vd_error_t *error);

/* ------------------------------------------------------------------ */
/* Registry                                                            */
/* ------------------------------------------------------------------ */

/* One way to reach a service: type "http-get" or "http-post", absolute URL. */
typedef struct vd_endpoint {
	const char *type;
	const char *url;
} vd_endpoint_t;

/* A service as it registers itself, in the article's schema. */
typedef struct vd_service {
	const char *name;              /* e.g. "Ticket Query" */
	const char *version;           /* e.g. "1.0.1" */
	const char *url;               /* the service's path, e.g. "/tickets" */
	const vd_endpoint_t *endpoints;
	size_t n_endpoints;
	const char *const *roles;      /* authorizedRoles */
	size_t n_roles;
} vd_service_t;

/* Registers service, or refreshes its lastSeen when it is registered
 * already: call it again periodically as the heartbeat. Idempotent, and
 * never fails because an entry exists (a restart after a crash works). An
 * entry is identified by name, MAJOR.MINOR.PATCH, url (the article's
 * unique key) and host: the origin, "scheme://host[:port]", of its first
 * endpoint, stored as the entry's "host". Each host of a deployment
 * registers its own endpoints (the services take theirs from their public
 * URL), so one version has one entry per host. A refresh also rewrites
 * its endpoints, roles and full version text. Entries not seen for an
 * hour are deleted now and then. */
VD_EXPORT vd_code_t vd_register(vd_client_t *client,
    const vd_service_t *service, vd_error_t *error);

/* Removes the entries of name at exactly version (every URL and host).
 * Removing what is not there is not an error. */
VD_EXPORT vd_code_t vd_unregister(vd_client_t *client, const char *name,
    const char *version, vd_error_t *error);

/* As vd_unregister, for the entries of one host only (NULL: every host):
 * a host leaving a deployment takes its own entries away, not the
 * others'. host is any absolute URL of it, of which the origin
 * ("scheme://host[:port]", as vd_entry_host writes it) is taken: its
 * public URL will do. VD_EINVAL when it has no "scheme://". */
VD_EXPORT vd_code_t vd_unregister_host(vd_client_t *client,
    const char *name, const char *version, const char *host,
    vd_error_t *error);

/* A registry entry as looked up. */
typedef struct vd_entry {
	char *name;
	vd_version_t version;
	char *url;
	vd_endpoint_t *endpoints;      /* strings owned by the entry */
	size_t n_endpoints;
	char **roles;
	size_t n_roles;
	int64_t last_seen_ms;          /* Unix time in ms; 0 if never seen */
	bool stale;                    /* not seen within the stale limit */
} vd_entry_t;

/* The size of a buffer that holds any host vd_entry_host writes. */
#define VD_HOST_SIZE 256

/* The host an entry is served from: the origin ("scheme://host[:port]",
 * lowercase) of its first endpoint's URL, written into buf. Returns its
 * length; 0, and "", when the entry has no endpoint with an absolute URL
 * or the host does not fit in size. */
VD_EXPORT size_t vd_entry_host(const vd_entry_t *entry, char *buf,
    size_t size);

/* The entries whose name is name (NULL: all) and whose version is in range
 * (NULL: any), sorted by name, then newest version first, then by host;
 * stale entries included and marked. *entries is a new array, caller frees with
 * vd_entries_free(*entries, *count); both are set (NULL, 0) on failure. */
VD_EXPORT vd_code_t vd_lookup(vd_client_t *client, const char *name,
    const char *range, vd_entry_t **entries, size_t *count,
    vd_error_t *error);
VD_EXPORT void vd_entries_free(vd_entry_t *entries, size_t count);

/* ------------------------------------------------------------------ */
/* Calls with fallback                                                 */
/* ------------------------------------------------------------------ */

/* A call of the service name at a version in range (see vd_range_new; a
 * bare "1.0.1" prefers 1.0.1 and newer of major 1, then older patches of
 * 1.0). Performing it tries the
 * matching registered versions newest first, and each version at each of
 * its hosts (see vd_register) before an older version, and falls back to
 * the next when one fails by connection error, timeout, 5xx or an
 * unreadable reply. The hosts of a version are tried starting at one that
 * turns from call to call, so that a client's calls spread over them.
 * A 4xx ends the call (VD_ECLIENT) with that reply. A POST moves on only
 * where it cannot apply twice: every POST carries an Idempotency-Key (one
 * is made per call unless set), which the services honour. A service with
 * several endpoints is called on each; the JSON replies are merged
 * (objects key by key, recursively; arrays concatenated; otherwise the
 * later reply wins), while a single reply is returned byte for byte. When
 * every candidate failed: VD_ENOSERVICE, "No service available", naming
 * what was tried; VD_ETIMEOUT when the deadline cut the fallbacks short.
 * A version whose circuit breaker is open is skipped (see
 * vd_client_set_breaker); a fallback that the retry budget refuses ends
 * the call with VD_EBUDGET (see vd_client_set_budget). The observer, if
 * any, hears of every attempt, skip, breaker change and refusal. */
typedef struct vd_call vd_call_t;

/* Returns a new call, caller frees with vd_call_destroy(); NULL and
 * VD_EVERSION on a malformed range, VD_EINVAL on an empty name. */
VD_EXPORT vd_call_t *vd_call_new(vd_client_t *client, const char *name,
    const char *range, vd_error_t *error);

/* The JSON body sent to http-post endpoints (copied; len may be -1 for a
 * terminated string; NULL removes the body). VD_EINVAL when it is not
 * JSON. */
VD_EXPORT vd_code_t vd_call_set_body(vd_call_t *call, const char *json,
    long len, vd_error_t *error);

/* Adds a request header to every attempt (copied), for example
 * X-Request-Id or Idempotency-Key. Setting a name again replaces it. */
VD_EXPORT vd_code_t vd_call_set_header(vd_call_t *call, const char *name,
    const char *value, vd_error_t *error);

/* Performs the call; it can be performed again. */
VD_EXPORT vd_code_t vd_call_perform(vd_call_t *call, vd_error_t *error);

/* After perform: the reply body (the merged JSON on success, the service's
 * body on VD_ECLIENT, else NULL) and its length. Owned by call. */
VD_EXPORT const char *vd_call_reply(const vd_call_t *call, size_t *len);

/* After perform: the HTTP status of the answer returned (0 if none). */
VD_EXPORT int vd_call_status(const vd_call_t *call);

/* After perform: the version that answered ("" if none). Owned by call. */
VD_EXPORT const char *vd_call_version(const vd_call_t *call);

/* After perform: the host of the version that answered (see
 * vd_entry_host; "" if none). Owned by call. */
VD_EXPORT const char *vd_call_host(const vd_call_t *call);

/* After perform: how many attempts were made (each endpoint counts). */
VD_EXPORT size_t vd_call_attempts(const vd_call_t *call);

VD_EXPORT void vd_call_destroy(vd_call_t *call);

/* One call in one function: body may be NULL. *reply is set to a new
 * string on VD_OK and on VD_ECLIENT (caller frees with vd_free), else to
 * NULL. */
VD_EXPORT vd_code_t vd_call_json(vd_client_t *client, const char *name,
    const char *range, const char *body, char **reply, vd_error_t *error);

/* ------------------------------------------------------------------ */
/* Events: concurrent POSTs of event bodies                            */
/* ------------------------------------------------------------------ */

/* The outcome of one event POST. */
typedef struct vd_delivery {
	const char *url;
	const char *event_id;
	int http_status;         /* 0 when no HTTP answer came */
	vd_code_t code;          /* VD_OK for 2xx only */
	const char *error;       /* one line when code != VD_OK, else "" */
	long retry_after_s;      /* from Retry-After on 429/503, else -1 */
	long elapsed_ms;
} vd_delivery_t;

/* Called from vd_sender_poll() once per finished POST; delivery and its
 * strings are valid during the call only. It may queue new POSTs with
 * vd_sender_post(), but must not poll or destroy the sender. */
typedef void (*vd_delivered_fn)(const vd_delivery_t *delivery,
    void *userdata);

/* Sends event POSTs concurrently through one libcurl multi handle: only
 * http and https, no redirects followed (a 3xx is a failure), only 2xx is
 * success, keep-alive connections reused. Returns a new sender, caller
 * frees with vd_sender_destroy() (pending POSTs are dropped unreported). */
typedef struct vd_sender vd_sender_t;
VD_EXPORT vd_sender_t *vd_sender_new(vd_error_t *error);
VD_EXPORT void vd_sender_destroy(vd_sender_t *sender);

/* Per-POST time limit in milliseconds (default 15000) and connect limit
 * (default 2000); 0 leaves one as it is. */
VD_EXPORT void vd_sender_set_timeouts(vd_sender_t *sender, long connect_ms,
    long total_ms);

/* At most per_host POSTs at once to one scheme://host:port (default 8)
 * and total in all (default 64); 0 leaves one as it is. Callers that
 * bound each subscriber themselves raise per_host: subscribers behind one
 * nginx share a host. */
VD_EXPORT void vd_sender_set_limits(vd_sender_t *sender, long per_host,
    long total);

/* Queues a POST of body (copied) to url with Content-Type
 * application/json and the event's id in the webhook-id header. done is
 * called when it finishes. VD_EINVAL on a URL that is not http or https. */
VD_EXPORT vd_code_t vd_sender_post(vd_sender_t *sender, const char *url,
    const char *event_id, const char *body, size_t len, vd_delivered_fn done,
    void *userdata, vd_error_t *error);

/* As vd_sender_post(), with extra request headers: headers is a
 * NULL-terminated array of "Name: value" lines (copied; NULL for none),
 * for example "X-Request-Id: ...". VD_EINVAL when a line has no name, a
 * line break, or 1024 bytes or more. */
VD_EXPORT vd_code_t vd_sender_post_headers(vd_sender_t *sender,
    const char *url, const char *event_id, const char *body, size_t len,
    const char *const *headers, vd_delivered_fn done, void *userdata,
    vd_error_t *error);

/* Cancels the POSTs queued or in flight whose userdata is userdata (as
 * given to vd_sender_post): nothing more of them is sent, and each is
 * reported to its callback at once, before this returns, with
 * VD_ECANCELED (one already under way may have reached its receiver).
 * For a caller that must stop sending to a subscriber now. Not from a
 * vd_delivered_fn. Returns how many were canceled. */
VD_EXPORT size_t vd_sender_cancel(vd_sender_t *sender, void *userdata);

/* How many POSTs are queued or in flight. */
VD_EXPORT size_t vd_sender_pending(const vd_sender_t *sender);

/* Moves transfers on, waiting at most timeout_ms for activity or a
 * vd_sender_wakeup(), and reports finished POSTs through their callbacks. */
VD_EXPORT vd_code_t vd_sender_poll(vd_sender_t *sender, int timeout_ms,
    vd_error_t *error);

/* Makes a vd_sender_poll() that waits return at once; safe from any thread. */
VD_EXPORT void vd_sender_wakeup(vd_sender_t *sender);

/* ------------------------------------------------------------------ */
/* Signed events (Standard Webhooks, https://www.standardwebhooks.com) */
/* ------------------------------------------------------------------ */

/* secrets is one or more secrets separated by commas (or spaces), each
 * "whsec_" followed by the base64 of its key. Every secret signs, so a
 * receiver that knows any one of them accepts: rotate by adding the new
 * secret, moving receivers to it, then dropping the old one. */

/* The webhook-signature value for an event: "v1,<base64 of HMAC-SHA256 of
 * id.timestamp.body>" for each secret, joined by spaces. *signature is a
 * new string, caller frees with vd_free(); NULL on failure. VD_EINVAL on a
 * malformed secret. */
VD_EXPORT vd_code_t vd_webhook_sign(const char *secrets, const char *id,
    int64_t timestamp, const char *body, size_t len, char **signature,
    vd_error_t *error);

/* Checks a received event's headers (webhook-id, webhook-timestamp,
 * webhook-signature; any may be NULL) against the receiver's secrets:
 * VD_OK when a v1 signature matches one of them (compared in constant
 * time); VD_ESTALE when the timestamp is more than tolerance_s seconds
 * from now (Unix seconds); VD_ESIGNATURE when a header is missing or
 * malformed or no signature matches; VD_EINVAL on a malformed secret. The
 * error message says which. */
VD_EXPORT vd_code_t vd_webhook_verify(const char *secrets, const char *id,
    const char *timestamp, const char *signature, const char *body,
    size_t len, int64_t now, long tolerance_s, vd_error_t *error);

/* Signs every later POST of sender with secrets (NULL or "" stops
 * signing): each attempt carries webhook-timestamp (its own time) and
 * webhook-signature. VD_EINVAL on a malformed secret; the previous
 * secrets then stay. */
VD_EXPORT vd_code_t vd_sender_set_secrets(vd_sender_t *sender,
    const char *secrets, vd_error_t *error);

#ifdef __cplusplus
}
#endif

#endif /* VDISPATCH_H */
