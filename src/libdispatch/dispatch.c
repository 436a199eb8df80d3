/*
 * dispatch.c - the dispatch command: call a service by name and version,
 * with fallback across versions (once, or many times from several threads
 * with a summary for operators); list the registry; add or remove an
 * entry.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "dispatch-conf.h"
#include "dispatch-token.h"
#include "vdispatch.h"

/* Exit statuses: the service said no (4xx), anything else failed, the
 * command line was wrong (sysexits' EX_USAGE). */
#define EXIT_REJECTED 1
#define EXIT_FAILED 2
#define EXIT_USAGE 64

struct options {
	const char *mongodb_uri;
	const char *cache_file;
	const char *allowed_urls;  /* NULL: the library's default */
	const char *token;         /* NULL: $VD_TOKEN (the library's) */
	bool verbose;
	bool quiet_attempts;       /* --count: no line per attempt */
	int64_t started_ms;        /* --count: log times are relative */
};

static const char usage_text[] =
"Usage: dispatch [--mongodb-uri URI] [--cache-file FILE] [--allowed-urls LIST]\n"
"                [--token JWT] [-v] COMMAND [ARGS]\n"
"\n"
"  --token JWT  the bearer token calls carry (default $VD_TOKEN, which other\n"
"               users cannot read in the process list)\n"
"\n"
"Commands:\n"
"  call [OPTIONS] NAME RANGE [JSON]\n"
"      Call the service NAME at a version in RANGE, newest version first,\n"
"      falling back to the next when one fails. RANGE is \"1.0.1\" (same\n"
"      major, at least 1.0.1, then older patches of 1.0), \"=1.0.1\"\n"
"      (exactly), \"^1.0.1\", \"~1.0.1\", \">=1.0.1 <2\", \"A || B\" or\n"
"      \"*\": quote it. JSON (\"-\": standard input) is the body of POST\n"
"      endpoints. Prints the reply; one line per attempt goes to standard\n"
"      error.\n"
"        --timeout MS          bound one attempt (default 5000)\n"
"        --connect-timeout MS  bound connecting to one version (default 1000)\n"
"        --deadline MS         bound the whole call (default 15000)\n"
"        -H 'Name: value'      add a request header\n"
"        --breaker SPEC        circuit breaker settings: \"off\", or some of\n"
"                              consecutive=5,rate=50,min-calls=20,\n"
"                              window=10000,open=5000,max-open=60000 (ms)\n"
"        --budget SPEC         retry budget: \"off\", or some of\n"
"                              percent=20,per-second=10,window=10 (seconds)\n"
"        --count N             make the call N times (at most 1000000) and\n"
"                              print outcomes per version and latencies\n"
"        --concurrency C       ... from C threads, one client each\n"
"                              (default 1, at most 256)\n"
"        --json                ... and print that summary as JSON\n"
"        --registry-refresh MS\n"
"                              refresh the copy of the registry that calls\n"
"                              use when older than MS (default 2000)\n"
"        --parse-replies       fall back from a 2xx reply that is not JSON\n"
"                              even if its Content-Type says it is (by\n"
"                              default that header is trusted)\n"
"  list [NAME]\n"
"      Print the registry (of NAME only, if given): each entry's version,\n"
"      host (scheme://host:port of its endpoints), state and endpoints.\n"
"  register [--get URL]... [--post URL]... [--url PATH] [--role ROLE]...\n"
"           NAME VERSION\n"
"      Register (or refresh) an entry of NAME at VERSION with the given\n"
"      endpoints; it goes stale unless registered again within 30 s. One\n"
"      entry per host: the host is where the first endpoint is.\n"
"  unregister [--host SCHEME://HOST:PORT] NAME VERSION\n"
"      Remove the entries of NAME at exactly VERSION (of that host only).\n"
"  token [--secret-file FILE] [--ttl SECONDS] [--sub NAME] ROLE...\n"
"      Print a bearer token (HS256 JWT) with ROLEs (tickets.read,\n"
"      tickets.write, subscriptions.manage, operator), valid for SECONDS\n"
"      (default 3600), signed with the responders' secret: FILE, else\n"
"      $VD_AUTH_HS256_SECRET, else $VD_AUTH_HS256_SECRET_FILE. iss and aud\n"
"      are $VD_AUTH_ISSUER and $VD_AUTH_AUDIENCE when set.\n"
"\n"
"Options:\n"
"  --mongodb-uri URI  the registry's database (default: $MONGODB_URI,\n"
"                     else mongodb://127.0.0.1:27017)\n"
"  --cache-file FILE  keep a copy of the registry in FILE, and call from it\n"
"                     when the registry database cannot be read (default:\n"
"                     $VD_REGISTRY_CACHE, else\n"
"                     $XDG_CACHE_HOME/vdispatch/registry-cache.json)\n"
"  --allowed-urls LIST\n"
"                     the only URLs calls may reach (registry entries\n"
"                     elsewhere are not called): comma-separated *, host,\n"
"                     host:port or scheme://host[:port][/path] (default:\n"
"                     $VD_ALLOWED_URLS, else localhost,127.0.0.1,[::1])\n"
"  -v, --verbose      log debug lines too (and, with --count, every attempt)\n"
"  -h, --help         print this help\n"
"  -V, --version      print the version\n"
"\n"
"Settings not given by an option or the environment come from\n"
"$XDG_CONFIG_HOME/vdispatch/vdispatch.env (else ~/.config/...), then\n"
"" VD_SYSCONFDIR "/vdispatch/vdispatch.env: MONGODB_URI, VD_ALLOWED_URLS,\n"
"VD_REGISTRY_CACHE, VD_REGISTRY_DB (vdispatch.conf(5)).\n"
"\n"
"Exit status: 0 done; 1 the service rejected the request (4xx, its reply\n"
"is printed); 2 any other failure (with --count: any call failed); 64 a\n"
"usage error.\n";

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dispatch: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'dispatch --help'.\n");
	return EXIT_USAGE;
}

/* Log lines go to stderr as they come, so that stdout holds the reply
 * only. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
log_line(vd_log_level_t level, const char *message, void *userdata)
{
	const struct options *opts = userdata;

	if (level == VD_LOG_DEBUG && !opts->verbose)
		return;
	if (opts->quiet_attempts && !opts->verbose) {
		/* --count: one line per attempt would drown the rest. */
		if (starts_with(message, "calling ") ||
		    starts_with(message, "skipping ") ||
		    starts_with(message, "not falling back "))
			return;
		fprintf(stderr, "[%.3f s] %s\n",
		    (double)(mono_ms() - opts->started_ms) / 1000, message);
		return;
	}
	fprintf(stderr, "%s\n", message);
}

/* The driver logs through a handler of its own, for the whole process;
 * the library leaves it to the application. Its lines (such as FerretDB's
 * "Couldn't send endSessions" at exit) are noise unless debugging: errors
 * that matter come back through vd_error_t. */
static void
mongoc_line(mongoc_log_level_t level, const char *domain, const char *message,
    void *userdata)
{
	const struct options *opts = userdata;

	if (opts->verbose)
		fprintf(stderr, "mongoc %s: %s: %s\n",
		    mongoc_log_level_str(level), domain, message);
}

/* A client of the registry, or NULL with *status set to the exit status
 * (a bad --mongodb-uri is a usage error). */
static vd_client_t *
open_client(struct options *opts, int *status)
{
	vd_client_t *client;
	vd_error_t error;

	mongoc_log_set_handler(mongoc_line, opts);
	if ((client = vd_client_new(opts->mongodb_uri, &error)) == NULL) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		*status = error.code == VD_EINVAL ? EXIT_USAGE : EXIT_FAILED;
		return NULL;
	}
	vd_client_set_logger(client, log_line, opts);
	if ((opts->cache_file != NULL &&
	    vd_client_set_cache_file(client, opts->cache_file, &error) !=
	    VD_OK) || (opts->allowed_urls != NULL &&
	    vd_client_set_allowed_urls(client, opts->allowed_urls, &error) !=
	    VD_OK) || (opts->token != NULL &&
	    vd_client_set_token(client, opts->token, &error) != VD_OK)) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		vd_client_destroy(client);
		*status = EXIT_USAGE;
		return NULL;
	}
	return client;
}

static bool
parse_ms(const char *text, long *ms)
{
	char *end;

	*ms = strtol(text, &end, 10);
	return end != text && *end == '\0' && *ms > 0;
}

/* Reads all of standard input; caller frees. */
static char *
read_stdin(void)
{
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap), *p;

	while (buf != NULL &&
	    (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			if ((p = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap *= 2;
		}
	}
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/* ---- call ---- */

#define MAX_COUNT 1000000L
#define MAX_CONCURRENCY 256L

/* What `dispatch call` was asked to do. */
struct call_spec {
	const char *name;
	const char *range;
	const char *body;
	char **headers;            /* "Name: value" */
	size_t n_headers;
	long connect_ms, timeout_ms, deadline_ms;
	long refresh_ms;
	bool breaker_set;
	long breaker[6];           /* consecutive, rate, min, window, open,
	                              max-open; -1 leaves one */
	bool budget_set;
	double budget_percent, budget_per_second;
	long budget_window_s;
	long count, concurrency;
	bool json;
	bool parse_replies;
};

static bool
parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (end == text || *end != '\0' || errno != 0 || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_double(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || errno != 0 || !(v >= min) ||
	    !(v <= max))
		return false;
	*out = v;
	return true;
}

/* Calls set(key, value, spec) for each "key=value" of a comma-separated
 * list; false when one is malformed or set refuses it. */
static bool
each_setting(const char *text, struct call_spec *spec,
    bool (*set)(const char *, const char *, struct call_spec *))
{
	char buf[256], *item, *save = NULL;

	if (strlen(text) >= sizeof buf)
		return false;
	strcpy(buf, text);
	for (item = strtok_r(buf, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (eq == NULL)
			return false;
		*eq = '\0';
		if (!set(item, eq + 1, spec))
			return false;
	}
	return true;
}

static bool
set_breaker(const char *key, const char *value, struct call_spec *spec)
{
	static const char *const keys[] = {
		"consecutive", "rate", "min-calls", "window", "open",
		"max-open",
	};
	size_t i;

	for (i = 0; i < 6 && strcmp(key, keys[i]) != 0; i++)
		;
	return i < 6 && parse_long(value, i < 3 ? 0 : 1,
	    i == 1 ? 100 : 86400000L, &spec->breaker[i]);
}

/* --breaker off | key=value,... */
static bool
parse_breaker(const char *text, struct call_spec *spec)
{
	size_t i;

	spec->breaker_set = true;
	for (i = 0; i < 6; i++)
		spec->breaker[i] = -1;
	if (strcmp(text, "off") == 0) {
		spec->breaker[0] = 0;
		spec->breaker[1] = 0;
		return true;
	}
	return each_setting(text, spec, set_breaker);
}

static bool
set_budget(const char *key, const char *value, struct call_spec *spec)
{
	if (strcmp(key, "percent") == 0)
		return parse_double(value, 0, 1000, &spec->budget_percent);
	if (strcmp(key, "per-second") == 0)
		return parse_double(value, 0, 1e9, &spec->budget_per_second);
	if (strcmp(key, "window") == 0)
		return parse_long(value, 1, 60, &spec->budget_window_s);
	return false;
}

/* --budget off | key=value,... */
static bool
parse_budget(const char *text, struct call_spec *spec)
{
	spec->budget_set = true;
	spec->budget_percent = -1;
	spec->budget_per_second = -1;
	spec->budget_window_s = -1;
	if (strcmp(text, "off") == 0) {
		spec->budget_per_second = HUGE_VAL;
		return true;
	}
	return each_setting(text, spec, set_budget);
}

/* A client set up as spec asks; NULL with *status set. */
static vd_client_t *
call_client(struct options *opts, const struct call_spec *spec, int *status)
{
	vd_client_t *client;
	vd_error_t error;

	if ((client = open_client(opts, status)) == NULL)
		return NULL;
	vd_client_set_timeouts(client, spec->connect_ms, spec->timeout_ms,
	    spec->deadline_ms);
	vd_client_set_registry_refresh(client, spec->refresh_ms);
	if ((spec->breaker_set && vd_client_set_breaker(client,
	    spec->breaker[0], spec->breaker[1], spec->breaker[2],
	    spec->breaker[3], spec->breaker[4], spec->breaker[5], &error) !=
	    VD_OK) || (spec->budget_set && vd_client_set_budget(client,
	    spec->budget_percent, spec->budget_per_second,
	    spec->budget_window_s, &error) != VD_OK) ||
	    (spec->parse_replies && vd_client_set_reply_check(client,
	    VD_REPLY_PARSED, &error) != VD_OK)) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		vd_client_destroy(client);
		*status = EXIT_USAGE;
		return NULL;
	}
	return client;
}

/* A call as spec asks; NULL with *status set. */
static vd_call_t *
call_new(vd_client_t *client, const struct call_spec *spec, int *status)
{
	vd_call_t *call;
	vd_error_t error;
	char name[256];
	size_t i;

	if ((call = vd_call_new(client, spec->name, spec->range, &error)) ==
	    NULL) {
		*status = error.code == VD_EVERSION ? EXIT_USAGE : EXIT_FAILED;
		fprintf(stderr, "dispatch: %s\n", error.message);
		return NULL;
	}
	for (i = 0; i < spec->n_headers; i++) {
		const char *colon = strchr(spec->headers[i], ':');
		const char *value = colon + 1;
		size_t len = (size_t)(colon - spec->headers[i]);

		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, spec->headers[i], len);
		name[len] = '\0';
		value += strspn(value, " \t");
		if (vd_call_set_header(call, name, value, &error) != VD_OK) {
			*status = usage_error("bad header: %s",
			    spec->headers[i]);
			vd_call_destroy(call);
			return NULL;
		}
	}
	if (spec->body != NULL &&
	    vd_call_set_body(call, spec->body, -1, &error) != VD_OK) {
		*status = usage_error("%s", error.message);
		vd_call_destroy(call);
		return NULL;
	}
	return call;
}

/* One call, its reply on stdout. */
static int
call_once(struct options *opts, const struct call_spec *spec)
{
	vd_client_t *client;
	vd_call_t *call;
	vd_error_t error;
	vd_code_t code;
	const char *reply;
	size_t len;
	int status = EXIT_FAILED;

	if ((client = call_client(opts, spec, &status)) == NULL)
		return status;
	if ((call = call_new(client, spec, &status)) == NULL) {
		vd_client_destroy(client);
		return status;
	}
	code = vd_call_perform(call, &error);
	reply = vd_call_reply(call, &len);
	if (code == VD_OK || code == VD_ECLIENT) {
		fwrite(reply, 1, len, stdout);
		fputc('\n', stdout);
	}
	if (code != VD_OK)
		fprintf(stderr, "dispatch: %s\n", error.message);
	status = code == VD_OK ? EXIT_SUCCESS :
	    code == VD_ECLIENT ? EXIT_REJECTED : EXIT_FAILED;
	if (fflush(stdout) != 0) {
		perror("dispatch: stdout");
		status = EXIT_FAILED;
	}
	vd_call_destroy(call);
	vd_client_destroy(client);
	return status;
}

/* ---- call --count: counters by key ---- */

#define TALLY_COLUMNS 4

/* Counters under string keys (a version, a reason), in order of first
 * appearance. */
struct tally {
	struct tally_row {
		char key[128];
		long n[TALLY_COLUMNS];
	} *rows;
	size_t len;
};

static void
tally_add(struct tally *t, const char *key, int column, long n)
{
	struct tally_row *r;
	size_t i;

	for (i = 0; i < t->len; i++)
		if (strcmp(t->rows[i].key, key) == 0) {
			t->rows[i].n[column] += n;
			return;
		}
	if ((r = realloc(t->rows, (t->len + 1) * sizeof *r)) == NULL)
		return;         /* a count lost, not the run */
	t->rows = r;
	memset(&r[t->len], 0, sizeof r[t->len]);
	snprintf(r[t->len].key, sizeof r[t->len].key, "%s", key);
	r[t->len].n[column] = n;
	t->len++;
}

static void
tally_merge(struct tally *into, const struct tally *from)
{
	size_t i;
	int c;

	for (i = 0; i < from->len; i++)
		for (c = 0; c < TALLY_COLUMNS; c++)
			tally_add(into, from->rows[i].key, c,
			    from->rows[i].n[c]);
}

/* What one thread of a run saw. */
struct run_stats {
	struct tally outcomes;     /* key "ok VERSION" or the failure */
	struct tally attempts;     /* by version: ok, failed, skipped,
	                              budget refusals */
	struct tally breaker;      /* by version: open, half-open, closed */
	char first_error[VD_ERROR_SIZE];
	long ok, failed;
};

enum { ATT_OK, ATT_FAILED, ATT_SKIPPED, ATT_REFUSED };
enum { BR_OPEN, BR_HALF_OPEN, BR_CLOSED };

struct run {
	struct options *opts;
	const struct call_spec *spec;
	long next;                 /* the next call to make (atomic) */
	double *latency_ms;        /* per call */
	pthread_mutex_t lock;
	struct run_stats total;
	int status;                /* a setup failure's exit status */
};

static void
observe_run(const vd_observation_t *obs, void *userdata)
{
	struct run_stats *st = userdata;

	switch (obs->kind) {
	case VD_OBSERVE_ATTEMPT:
		tally_add(&st->attempts, obs->version,
		    obs->code == VD_OK || obs->code == VD_ECLIENT ? ATT_OK :
		    ATT_FAILED, 1);
		break;
	case VD_OBSERVE_SKIPPED:
		tally_add(&st->attempts, obs->version, ATT_SKIPPED, 1);
		break;
	case VD_OBSERVE_BUDGET:
		tally_add(&st->attempts, obs->version, ATT_REFUSED, 1);
		break;
	case VD_OBSERVE_BREAKER:
		tally_add(&st->breaker, obs->version,
		    strcmp(obs->state, "open") == 0 ? BR_OPEN :
		    strcmp(obs->state, "half-open") == 0 ? BR_HALF_OPEN :
		    BR_CLOSED, 1);
		break;
	}
}

static void *
run_thread(void *arg)
{
	struct run *run = arg;
	struct run_stats st;
	vd_client_t *client;
	vd_call_t *call = NULL;
	vd_error_t error;
	vd_code_t code;
	int status = EXIT_FAILED;
	long i;

	memset(&st, 0, sizeof st);
	if ((client = call_client(run->opts, run->spec, &status)) == NULL ||
	    (call = call_new(client, run->spec, &status)) == NULL) {
		vd_client_destroy(client);
		pthread_mutex_lock(&run->lock);
		run->status = status;
		pthread_mutex_unlock(&run->lock);
		/* The others stop at their next call. */
		__atomic_store_n(&run->next, run->spec->count,
		    __ATOMIC_SEQ_CST);
		return NULL;
	}
	vd_client_set_observer(client, observe_run, &st);
	while ((i = __atomic_fetch_add(&run->next, 1, __ATOMIC_SEQ_CST)) <
	    run->spec->count) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		code = vd_call_perform(call, &error);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		run->latency_ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (code == VD_OK) {
			char key[160];

			snprintf(key, sizeof key, "ok %s",
			    vd_call_version(call));
			tally_add(&st.outcomes, key, 0, 1);
			st.ok++;
		} else {
			tally_add(&st.outcomes, vd_strerror(code), 0, 1);
			if (st.failed++ == 0)
				snprintf(st.first_error, sizeof st.first_error,
				    "%s", error.message);
		}
	}
	vd_call_destroy(call);
	vd_client_destroy(client);
	pthread_mutex_lock(&run->lock);
	tally_merge(&run->total.outcomes, &st.outcomes);
	tally_merge(&run->total.attempts, &st.attempts);
	tally_merge(&run->total.breaker, &st.breaker);
	if (run->total.first_error[0] == '\0')
		memcpy(run->total.first_error, st.first_error,
		    sizeof st.first_error);
	run->total.ok += st.ok;
	run->total.failed += st.failed;
	pthread_mutex_unlock(&run->lock);
	free(st.outcomes.rows);
	free(st.attempts.rows);
	free(st.breaker.rows);
	return NULL;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p of sorted[0..n). */
static double
percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p / 100 * (double)n + 0.999999);

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	return sorted[(rank > n ? n : rank) - 1];
}

/* Writes s as a JSON string. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_json(const struct run *run, double seconds, const double *lat,
    size_t n)
{
	const struct run_stats *t = &run->total;
	size_t i;

	printf("{\"name\":");
	json_string(run->spec->name);
	printf(",\"range\":");
	json_string(run->spec->range);
	printf(",\"calls\":%zu,\"concurrency\":%ld,\"seconds\":%.3f,"
	    "\"ok\":%ld,\"failed\":%ld,\"outcomes\":{", n,
	    run->spec->concurrency, seconds, t->ok, t->failed);
	for (i = 0; i < t->outcomes.len; i++) {
		printf("%s", i > 0 ? "," : "");
		json_string(t->outcomes.rows[i].key);
		printf(":%ld", t->outcomes.rows[i].n[0]);
	}
	printf("},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
	    "\"max\":%.3f},\"versions\":{", percentile(lat, n, 50),
	    percentile(lat, n, 90), percentile(lat, n, 99),
	    n > 0 ? lat[n - 1] : 0.0);
	for (i = 0; i < t->attempts.len; i++) {
		const long *c = t->attempts.rows[i].n;

		printf("%s", i > 0 ? "," : "");
		json_string(t->attempts.rows[i].key);
		printf(":{\"ok\":%ld,\"failed\":%ld,\"skipped\":%ld,"
		    "\"budget_refused\":%ld}", c[ATT_OK], c[ATT_FAILED],
		    c[ATT_SKIPPED], c[ATT_REFUSED]);
	}
	printf("},\"breaker\":{");
	for (i = 0; i < t->breaker.len; i++) {
		const long *c = t->breaker.rows[i].n;

		printf("%s", i > 0 ? "," : "");
		json_string(t->breaker.rows[i].key);
		printf(":{\"open\":%ld,\"half-open\":%ld,\"closed\":%ld}",
		    c[BR_OPEN], c[BR_HALF_OPEN], c[BR_CLOSED]);
	}
	printf("},\"first_error\":");
	json_string(t->first_error);
	printf("}\n");
}

static void
print_table(const struct run *run, double seconds, const double *lat,
    size_t n)
{
	const struct run_stats *t = &run->total;
	size_t i;

	printf("%s %s: %zu calls, %ld at a time, in %.2f s (%.1f calls/s)\n",
	    run->spec->name, run->spec->range, n, run->spec->concurrency,
	    seconds, seconds > 0 ? (double)n / seconds : 0.0);
	printf("  %-32s %8s\n", "outcome", "calls");
	for (i = 0; i < t->outcomes.len; i++)
		printf("  %-32s %8ld\n", t->outcomes.rows[i].key,
		    t->outcomes.rows[i].n[0]);
	printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	    percentile(lat, n, 50), percentile(lat, n, 90),
	    percentile(lat, n, 99), n > 0 ? lat[n - 1] : 0.0);
	printf("  %-12s %9s %9s %9s %9s\n", "version", "ok", "failed",
	    "skipped", "refused");
	for (i = 0; i < t->attempts.len; i++) {
		const long *c = t->attempts.rows[i].n;

		printf("  %-12s %9ld %9ld %9ld %9ld\n",
		    t->attempts.rows[i].key, c[ATT_OK], c[ATT_FAILED],
		    c[ATT_SKIPPED], c[ATT_REFUSED]);
	}
	printf("  (attempts by version; skipped: circuit open; refused: "
	    "retry budget)\n");
	for (i = 0; i < t->breaker.len; i++) {
		const long *c = t->breaker.rows[i].n;

		printf("  circuit of %s: opened %ld, half-open %ld, closed "
		    "%ld\n", t->breaker.rows[i].key, c[BR_OPEN],
		    c[BR_HALF_OPEN], c[BR_CLOSED]);
	}
	if (t->first_error[0] != '\0')
		printf("  first error: %s\n", t->first_error);
}

/* The call made spec->count times from spec->concurrency threads, one
 * client each; a summary on stdout. */
static int
call_many(struct options *opts, const struct call_spec *spec)
{
	struct run run;
	pthread_t *threads;
	struct timespec t0, t1;
	long i, started = 0;
	double seconds;
	int status;

	memset(&run, 0, sizeof run);
	run.opts = opts;
	run.spec = spec;
	pthread_mutex_init(&run.lock, NULL);
	run.latency_ms = calloc((size_t)spec->count, sizeof *run.latency_ms);
	threads = calloc((size_t)spec->concurrency, sizeof *threads);
	if (run.latency_ms == NULL || threads == NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		free(run.latency_ms);
		free(threads);
		return EXIT_FAILED;
	}
	opts->quiet_attempts = true;
	opts->started_ms = mono_ms();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < spec->concurrency; i++) {
		if (pthread_create(&threads[i], NULL, run_thread, &run) != 0)
			break;
		started++;
	}
	if (started == 0)
		run_thread(&run);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	status = run.status;
	if (status == 0) {
		size_t n = (size_t)(run.total.ok + run.total.failed);

		qsort(run.latency_ms, (size_t)spec->count, sizeof (double),
		    compare_double);
		/* Calls not made (none, unless a thread failed to start)
		 * were zeroed: sorted first; leave them out. */
		if (spec->json)
			print_json(&run, seconds, run.latency_ms +
			    (size_t)spec->count - n, n);
		else
			print_table(&run, seconds, run.latency_ms +
			    (size_t)spec->count - n, n);
		status = run.total.failed > 0 ? EXIT_FAILED : EXIT_SUCCESS;
		if (fflush(stdout) != 0) {
			perror("dispatch: stdout");
			status = EXIT_FAILED;
		}
	}
	free(run.total.outcomes.rows);
	free(run.total.attempts.rows);
	free(run.total.breaker.rows);
	free(run.latency_ms);
	free(threads);
	pthread_mutex_destroy(&run.lock);
	return status;
}

static int
cmd_call(struct options *opts, int argc, char **argv)
{
	enum { O_TIMEOUT = 256, O_CONNECT, O_DEADLINE, O_BREAKER, O_BUDGET,
	    O_COUNT, O_CONCURRENCY, O_JSON, O_REFRESH, O_PARSE };
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "connect-timeout", required_argument, NULL, O_CONNECT },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "header", required_argument, NULL, 'H' },
		{ "breaker", required_argument, NULL, O_BREAKER },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "count", required_argument, NULL, O_COUNT },
		{ "concurrency", required_argument, NULL, O_CONCURRENCY },
		{ "json", no_argument, NULL, O_JSON },
		{ "registry-refresh", required_argument, NULL, O_REFRESH },
		{ "parse-replies", no_argument, NULL, O_PARSE },
		{ NULL, 0, NULL, 0 },
	};
	struct call_spec spec;
	char *body = NULL;
	bool many = false;
	int c, status = EXIT_FAILED;

	memset(&spec, 0, sizeof spec);
	spec.count = 1;
	spec.concurrency = 1;
	if ((spec.headers = calloc((size_t)argc, sizeof *spec.headers)) ==
	    NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		return EXIT_FAILED;
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "+H:", longopts, NULL)) != -1) {
		switch (c) {
		case O_TIMEOUT:
			if (!parse_ms(optarg, &spec.timeout_ms))
				status = usage_error("bad --timeout: %s", optarg);
			break;
		case O_CONNECT:
			if (!parse_ms(optarg, &spec.connect_ms))
				status = usage_error(
				    "bad --connect-timeout: %s", optarg);
			break;
		case O_DEADLINE:
			if (!parse_ms(optarg, &spec.deadline_ms))
				status = usage_error("bad --deadline: %s", optarg);
			break;
		case 'H':
			if (strchr(optarg, ':') == NULL)
				status = usage_error("bad header (not "
				    "'Name: value'): %s", optarg);
			spec.headers[spec.n_headers++] = optarg;
			break;
		case O_BREAKER:
			if (!parse_breaker(optarg, &spec))
				status = usage_error("bad --breaker: %s (off, "
				    "or consecutive=N,rate=PERCENT,min-calls=N,"
				    "window=MS,open=MS,max-open=MS)", optarg);
			break;
		case O_BUDGET:
			if (!parse_budget(optarg, &spec))
				status = usage_error("bad --budget: %s (off, "
				    "or percent=P,per-second=N,window=SECONDS)",
				    optarg);
			break;
		case O_COUNT:
			if (!parse_long(optarg, 1, MAX_COUNT, &spec.count))
				status = usage_error("bad --count: %s (1 to "
				    "%ld)", optarg, MAX_COUNT);
			many = true;
			break;
		case O_CONCURRENCY:
			if (!parse_long(optarg, 1, MAX_CONCURRENCY,
			    &spec.concurrency))
				status = usage_error("bad --concurrency: %s (1 "
				    "to %ld)", optarg, MAX_CONCURRENCY);
			many = true;
			break;
		case O_JSON:
			spec.json = true;
			many = true;
			break;
		case O_REFRESH:
			if (!parse_ms(optarg, &spec.refresh_ms))
				status = usage_error(
				    "bad --registry-refresh: %s", optarg);
			break;
		case O_PARSE:
			spec.parse_replies = true;
			break;
		default:
			status = EXIT_USAGE;
			break;
		}
		if (status == EXIT_USAGE)
			goto out;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc > 3) {
		status = usage_error("%s", "usage: dispatch call [OPTIONS] "
		    "NAME RANGE [JSON]");
		goto out;
	}
	spec.name = argv[0];
	spec.range = argv[1];
	if (argc == 3) {
		if (strcmp(argv[2], "-") == 0 && (body = read_stdin()) == NULL) {
			fprintf(stderr, "dispatch: cannot read stdin\n");
			goto out;
		}
		spec.body = body != NULL ? body : argv[2];
	}
	if (spec.concurrency > spec.count)
		spec.concurrency = spec.count;
	status = many ? call_many(opts, &spec) : call_once(opts, &spec);
out:
	free(spec.headers);
	free(body);
	return status;
}

/* ---- register ---- */

static int
cmd_register(struct options *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "get", required_argument, NULL, 'g' },
		{ "post", required_argument, NULL, 'p' },
		{ "url", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	vd_endpoint_t *endpoints = calloc((size_t)argc, sizeof *endpoints);
	const char **roles = calloc((size_t)argc, sizeof *roles);
	vd_service_t service;
	vd_client_t *client = NULL;
	vd_error_t error;
	vd_code_t code;
	int c, status = EXIT_FAILED;

	memset(&service, 0, sizeof service);
	if (endpoints == NULL || roles == NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		goto out;
	}
	service.endpoints = endpoints;
	service.roles = roles;
	service.url = "";
	optind = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
		case 'p':
			endpoints[service.n_endpoints].type = c == 'g' ?
			    "http-get" : "http-post";
			endpoints[service.n_endpoints++].url = optarg;
			break;
		case 'u':
			service.url = optarg;
			break;
		case 'r':
			roles[service.n_roles++] = optarg;
			break;
		default:
			status = EXIT_USAGE;
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || service.n_endpoints == 0) {
		status = usage_error("%s", "usage: dispatch register [--get "
		    "URL]... [--post URL]... [--url PATH] [--role ROLE]... "
		    "NAME VERSION (one endpoint at least)");
		goto out;
	}
	service.name = argv[0];
	service.version = argv[1];
	if ((client = open_client(opts, &status)) == NULL)
		goto out;
	code = vd_register(client, &service, &error);
	if (code != VD_OK) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		status = code == VD_EVERSION || code == VD_EINVAL ||
		    code == VD_EREFUSED ? EXIT_USAGE : EXIT_FAILED;
		goto out;
	}
	status = EXIT_SUCCESS;
out:
	vd_client_destroy(client);
	free(endpoints);
	free(roles);
	return status;
}

/* "12s ago", "3m ago", "2h ago", "4d ago" or "never". */
static void
format_age(int64_t last_seen_ms, char *buf, size_t size)
{
	struct timespec now;
	int64_t s;

	if (last_seen_ms == 0) {
		snprintf(buf, size, "never");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s = ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
	    last_seen_ms) / 1000;
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%" PRId64 "s ago", s);
	else if (s < 2 * 3600)
		snprintf(buf, size, "%" PRId64 "m ago", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, size, "%" PRId64 "h ago", s / 3600);
	else
		snprintf(buf, size, "%" PRId64 "d ago", s / 86400);
}

static int
cmd_list(struct options *opts, int argc, char **argv)
{
	static const char *const head[] = {
		"NAME", "VERSION", "HOST", "STATE", "LAST SEEN", "ENDPOINTS",
	};
	vd_client_t *client;
	vd_entry_t *entries;
	vd_error_t error;
	size_t count, i, j, col, width[5];
	char version[128], age[32], host[VD_HOST_SIZE];
	int status;

	if (argc > 2)
		return usage_error("%s", "usage: dispatch list [NAME]");
	if ((client = open_client(opts, &status)) == NULL)
		return status;
	if (vd_lookup(client, argc == 2 ? argv[1] : NULL, NULL, &entries,
	    &count, &error) != VD_OK) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		vd_client_destroy(client);
		return EXIT_FAILED;
	}
	for (col = 0; col < 5; col++)
		width[col] = strlen(head[col]);
	for (i = 0; i < count; i++) {
		const char *cell[5] = { entries[i].name, version, host, "stale",
		    age };

		vd_version_format(&entries[i].version, version, sizeof version);
		if (vd_entry_host(&entries[i], host, sizeof host) == 0)
			strcpy(host, "-");
		format_age(entries[i].last_seen_ms, age, sizeof age);
		for (col = 0; col < 5; col++)
			if (strlen(cell[col]) > width[col])
				width[col] = strlen(cell[col]);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)width[0], head[0],
	    (int)width[1], head[1], (int)width[2], head[2], (int)width[3],
	    head[3], (int)width[4], head[4], head[5]);
	for (i = 0; i < count; i++) {
		const vd_entry_t *e = &entries[i];

		vd_version_format(&e->version, version, sizeof version);
		if (vd_entry_host(e, host, sizeof host) == 0)
			strcpy(host, "-");
		format_age(e->last_seen_ms, age, sizeof age);
		printf("%-*s  %-*s  %-*s  %-*s  %-*s ", (int)width[0], e->name,
		    (int)width[1], version, (int)width[2], host,
		    (int)width[3], e->stale ? "stale" : "live",
		    (int)width[4], age);
		for (j = 0; j < e->n_endpoints; j++) {
			const char *type = e->endpoints[j].type;

			if (strcmp(type, "http-get") == 0)
				type = "GET";
			else if (strcmp(type, "http-post") == 0)
				type = "POST";
			printf("%s %s %s", j > 0 ? "," : "", type,
			    e->endpoints[j].url);
		}
		printf("%s\n", e->n_endpoints == 0 ? " -" : "");
	}
	vd_entries_free(entries, count);
	vd_client_destroy(client);
	if (fflush(stdout) != 0) {
		perror("dispatch: stdout");
		return EXIT_FAILED;
	}
	return EXIT_SUCCESS;
}

static int
cmd_unregister(struct options *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL;
	vd_client_t *client;
	vd_error_t error;
	vd_code_t code;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (c != 'H')
			return EXIT_USAGE;
		host = optarg;
	}
	if (argc - optind != 2)
		return usage_error("%s", "usage: dispatch unregister [--host "
		    "SCHEME://HOST:PORT] NAME VERSION");
	if ((client = open_client(opts, &status)) == NULL)
		return status;
	code = vd_unregister_host(client, argv[optind], argv[optind + 1], host,
	    &error);
	vd_client_destroy(client);
	if (code != VD_OK) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		return code == VD_EVERSION || code == VD_EINVAL ? EXIT_USAGE :
		    EXIT_FAILED;
	}
	return EXIT_SUCCESS;
}

static int
cmd_token(struct options *opts, int argc, char **argv)
{
	(void)opts;
	return dispatch_token(argc, argv);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mongodb-uri", required_argument, NULL, 'm' },
		{ "cache-file", required_argument, NULL, 'c' },
		{ "allowed-urls", required_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int (*run)(struct options *, int, char **);
	} commands[] = {
		{ "call", cmd_call },
		{ "list", cmd_list },
		{ "register", cmd_register },
		{ "token", cmd_token },
		{ "unregister", cmd_unregister },
	};
	struct options opts = { NULL, NULL, NULL, NULL, false, false, 0 };
	static char default_cache[4096];
	const char *cache;
	size_t i;
	int c;

	/* The environment, else ~/.config/vdispatch, else /etc/vdispatch. */
	dispatch_conf_load();
	if ((cache = getenv("VD_REGISTRY_CACHE")) != NULL && *cache != '\0')
		opts.cache_file = cache;
	else if (dispatch_conf_cache_file(default_cache, sizeof default_cache))
		opts.cache_file = default_cache;

	/* "+": options after the command are the command's own. */
	while ((c = getopt_long(argc, argv, "+vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opts.mongodb_uri = optarg;
			break;
		case 'c':
			opts.cache_file = optarg;
			break;
		case 'a':
			opts.allowed_urls = optarg;
			break;
		case 't':
			opts.token = optarg;
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("dispatch (vdispatch) %s\n", VD_VERSION_STRING);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "Try 'dispatch --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(&opts, argc - optind,
			    argv + optind);
	return usage_error("unknown command: %s", argv[optind]);
}
