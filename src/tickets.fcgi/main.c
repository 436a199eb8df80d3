/*
 * main.c - tickets.fcgi: one binary for every version of the tickets
 * service. spawn-fcgi hands it the FastCGI socket on fd 0.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickets.h"

#define MAX_RETRIES 32

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tickets.fcgi --api-version X.Y.Z [options]   (under spawn-fcgi)\n"
"       tickets.fcgi --load FILE [--mongodb-uri URI] [--db NAME]\n"
"\n"
"  --api-version X.Y.Z    the version of the service's API this responder\n"
"                         serves, its URL prefix /tickets/vX.Y.Z (required)\n"
"  --fail-rate P          share of ticket queries that answer 500 (0..1)\n"
"  --mongodb-uri URI      database (default $MONGODB_URI, else\n"
"                         mongodb://127.0.0.1:27017)\n"
"  --db NAME              database name (default $TICKETS_DB, else tickets)\n"
"  --public-url URL       nginx as clients reach it, for the registry\n"
"                         (default $VD_PUBLIC_URL, else http://127.0.0.1:8080)\n"
"  --heartbeat SECONDS    registry heartbeat period (default 10)\n"
"  --retry-schedule LIST  seconds between event delivery attempts\n"
"                         (default $EVENTS_RETRY_SCHEDULE, else\n"
"                         0,5,300,1800,7200,18000,36000,36000)\n"
"  --probe SECONDS        probe period of a failing subscriber (default 10)\n"
"  --event-timeout SECONDS  time limit of one event POST (default 15)\n"
"  --allowed-urls LIST    where events may go: comma-separated entries, each\n"
"                         scheme://host[:port][/path-prefix], host[:port]\n"
"                         (any path) or * (default $EVENTS_ALLOWED_URLS,\n"
"                         else PUBLIC-URL/replyfeed/); this service's own\n"
"                         paths (PUBLIC-URL/tickets/, /api/tickets/) never\n"
"  --allowed-hosts LIST   more entries for that list (default\n"
"                         $EVENTS_ALLOWED_HOSTS; the older name)\n"
"  --max-subscriptions N  subscriptions at most (default\n"
"                         $EVENTS_MAX_SUBSCRIPTIONS, else 100)\n"
"  (EVENTS_SECRET: whsec_ secrets that sign events; EVENTS_PROBE_INTERVAL)\n"
"  --log-level LEVEL      debug, info, warn or error (default info)\n"
"  --log FILE             append the log to FILE (spawn-fcgi gives stderr\n"
"                         to /dev/null)\n"
"  --state-dir DIR        the stack's state directory (spawn/stack passes it):\n"
"                         the version's metrics file is DIR/metrics/\n"
"                         tickets-VERSION.metrics (without it, /dev/shm)\n"
"  --insecure-no-auth     check no bearer token: anyone may write and read\n"
"                         the operator endpoints (without it, the service\n"
"                         refuses to start without a key: VD_AUTH_HS256_SECRET,\n"
"                         VD_AUTH_HS256_SECRET_FILE or VD_AUTH_JWKS)\n"
"  (VD_AUTH_ISSUER, VD_AUTH_AUDIENCE, VD_AUTH_LEEWAY, VD_AUTH_READS=1)\n"
"  --load FILE            load sample tickets if there are none, and exit\n"
"  --help                 this text\n"
"  --version              print the program's version and exit\n");
}

static const char *
env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

static bool
parse_schedule(const char *text, long *out, size_t *n)
{
	char *copy = bson_strdup(text), *tok, *save = NULL, *end;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, &end, 10);

		if (*end != '\0' || v < 0 || *n == MAX_RETRIES) {
			bson_free(copy);
			return false;
		}
		out[(*n)++] = v;
	}
	bson_free(copy);
	return *n > 0;
}

/* The public URL without its trailing slashes, followed by path. */
static char *
public_path(const char *public_url, const char *path)
{
	size_t len = strlen(public_url);
	char *out;

	while (len > 0 && public_url[len - 1] == '/')
		len--;
	out = bson_malloc(len + strlen(path) + 1);
	memcpy(out, public_url, len);
	strcpy(out + len, path);
	return out;
}

/* Where events may go: the lists given (a, then b; either may be NULL),
 * else the reply feed's event path on nginx. */
static vd_urls_t *
allowed_list(const char *a, const char *b, const char *public_url,
    char **spec)
{
	vd_error_t err;
	vd_urls_t *urls;
	size_t len;

	if (a == NULL && b == NULL)
		*spec = public_path(public_url, "/replyfeed/");
	else {
		len = (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 2;
		*spec = bson_malloc(len);
		snprintf(*spec, len, "%s%s%s", a ? a : "", a && b ? "," : "",
		    b ? b : "");
	}
	if ((urls = vd_urls_new(*spec, &err)) == NULL)
		fprintf(stderr, "tickets.fcgi: the events allow-list: %s\n",
		    err.message);
	return urls;
}

/* This service's own paths on nginx, in every version and at the edge:
 * never a subscriber. */
static vd_urls_t *
own_list(const char *public_url)
{
	char *tickets = public_path(public_url, "/tickets/");
	char *edge = public_path(public_url, "/api/tickets/");
	char *spec = bson_malloc(strlen(tickets) + strlen(edge) + 2);
	vd_error_t err;
	vd_urls_t *urls;

	sprintf(spec, "%s,%s", tickets, edge);
	if ((urls = vd_urls_new(spec, &err)) == NULL)
		fprintf(stderr, "tickets.fcgi: the public URL '%s': %s\n",
		    public_url, err.message);
	bson_free(tickets);
	bson_free(edge);
	bson_free(spec);
	return urls;
}

/* Lets go of what main made before it refused to start (the lists of
 * URLs and their text): a sanitized build's leak check reads a returning
 * main's leftovers as leaks, and frames of inlined helpers may be all it
 * has to tell them from a serving worker's. */
static int
refuse(struct tk_config *cfg, char *allowed, int rc)
{
	vd_urls_destroy(cfg->allowed_urls);
	vd_urls_destroy(cfg->own_paths);
	bson_free(allowed);
	return rc;
}

static long
positive(const char *text, const char *what)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*end != '\0' || v <= 0) {
		fprintf(stderr, "tickets.fcgi: %s must be a positive number\n",
		    what);
		exit(64);
	}
	return v;
}

/* GET <prefix>/metrics: this version's metrics, over all its workers. */
void
tk_metrics(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;

	svc_metrics_serve(app->metrics, req, resp);
}

/* Counts every request in the version's metrics (svc_loop's after hook). */
/* The four services of the article, at this version. */
struct announced {
	char urls[4][512];
	char paths[4][96];
	vd_endpoint_t endpoints[4];
	vd_service_t services[4];
	const char *roles[4];
};

static void
describe(struct announced *a, const struct tk_config *cfg,
    const struct svc_auth *auth)
{
	static const char *const names[] = { "Ticket Query",
	    "Ticket Add Comment", "Ticket Subscribe", "Ticket Unsubscribe" };
	static const char *const paths[] = { "/tickets", "/tickets/addComment",
	    "/tickets/subscribeToComments", "/tickets/unsubscribeToComments" };
	static const char *const methods[] = { "GET", "POST", "POST", "POST" };
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(a->paths[i], sizeof a->paths[i], "%s%s", cfg->prefix,
		    paths[i]);
		snprintf(a->urls[i], sizeof a->urls[i], "%s%s",
		    cfg->public_url, a->paths[i]);
		a->endpoints[i].type = i == 0 ? "http-get" : "http-post";
		a->endpoints[i].url = a->urls[i];
		a->services[i].name = names[i];
		a->services[i].version = cfg->version;
		a->services[i].url = a->paths[i];
		a->services[i].endpoints = &a->endpoints[i];
		a->services[i].n_endpoints = 1;
		/* The role its route needs: one source for both. */
		a->roles[i] = svc_route_role(tk_routes, tk_n_routes,
		    methods[i], paths[i], auth);
		a->services[i].roles = &a->roles[i];
		a->services[i].n_roles = a->roles[i] != NULL &&
		    *a->roles[i] != '\0';
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-version", required_argument, NULL, 'V' },
		{ "version", no_argument, NULL, 'v' },
		{ "fail-rate", required_argument, NULL, 'f' },
		{ "mongodb-uri", required_argument, NULL, 'm' },
		{ "db", required_argument, NULL, 'd' },
		{ "public-url", required_argument, NULL, 'u' },
		{ "heartbeat", required_argument, NULL, 'b' },
		{ "retry-schedule", required_argument, NULL, 'r' },
		{ "probe", required_argument, NULL, 'p' },
		{ "event-timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'o' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "load", required_argument, NULL, 'L' },
		{ "allowed-hosts", required_argument, NULL, 'A' },
		{ "allowed-urls", required_argument, NULL, 'U' },
		{ "max-subscriptions", required_argument, NULL, 'M' },
		{ "insecure-no-auth", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tk_config cfg;
	struct tk_app app;
	struct announced ann;
	struct svc_announce *announce;
	struct svc_loop loop;
	struct svc_auth *app_auth = NULL;
	long schedule[MAX_RETRIES];
	const char *schedule_text, *log_file = NULL, *hosts, *urls;
	char *allowed = NULL, gen_name[128];
	size_t i;
	bson_error_t error;
	vd_version_t v;
	char *end;
	bool insecure_auth = false, ready;
	int c, rc;

	svc_memory_init();
	memset(&cfg, 0, sizeof cfg);
	cfg.db_name = env_or("TICKETS_DB", "tickets");
	cfg.public_url = env_or("VD_PUBLIC_URL", "http://127.0.0.1:8080");
	cfg.heartbeat = 10;
	cfg.probe = 10;
	cfg.list_cache_max = TICKETS_CACHE_MAX;
	if (getenv("TICKETS_LIST_CACHE_MAX") != NULL)
		cfg.list_cache_max = (size_t)positive(
		    getenv("TICKETS_LIST_CACHE_MAX"), "TICKETS_LIST_CACHE_MAX");
	cfg.event_timeout = 15;
	schedule_text = env_or("EVENTS_RETRY_SCHEDULE",
	    "0,5,300,1800,7200,18000,36000,36000");
	hosts = env_or("EVENTS_ALLOWED_HOSTS", NULL);
	urls = env_or("EVENTS_ALLOWED_URLS", NULL);
	cfg.max_subs = 100;
	if (getenv("EVENTS_MAX_SUBSCRIPTIONS") != NULL)
		cfg.max_subs = positive(getenv("EVENTS_MAX_SUBSCRIPTIONS"),
		    "EVENTS_MAX_SUBSCRIPTIONS");
	cfg.events_secret = env_or("EVENTS_SECRET", NULL);
	if (getenv("EVENTS_PROBE_INTERVAL") != NULL)
		cfg.probe = positive(getenv("EVENTS_PROBE_INTERVAL"),
		    "EVENTS_PROBE_INTERVAL");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'V': cfg.version = optarg; break;
		case 'f':
			cfg.fail_rate = strtod(optarg, &end);
			if (*end != '\0' || cfg.fail_rate < 0 ||
			    cfg.fail_rate > 1) {
				fprintf(stderr, "tickets.fcgi: --fail-rate is "
				    "a number from 0 to 1\n");
				return 64;
			}
			break;
		case 'm': cfg.mongodb_uri = optarg; break;
		case 'd': cfg.db_name = optarg; break;
		case 'u': cfg.public_url = optarg; break;
		case 'b': cfg.heartbeat = (int)positive(optarg, "--heartbeat");
			break;
		case 'r': schedule_text = optarg; break;
		case 'p': cfg.probe = positive(optarg, "--probe"); break;
		case 't': cfg.event_timeout = positive(optarg,
		    "--event-timeout"); break;
		case 'l': cfg.log_level = optarg; break;
		case 'o': log_file = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'L': cfg.load_file = optarg; break;
		case 'A': hosts = optarg; break;
		case 'U': urls = optarg; break;
		case 'M': cfg.max_subs = positive(optarg,
		    "--max-subscriptions"); break;
		case 'N': insecure_auth = true; break;
		case 'h': usage(stdout); return 0;
		case 'v':
			printf("tickets.fcgi (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!parse_schedule(schedule_text, schedule, &cfg.n_retry)) {
		fprintf(stderr, "tickets.fcgi: the retry schedule is a comma-"
		    "separated list of seconds (at most %d)\n", MAX_RETRIES);
		return 64;
	}
	cfg.retry_schedule = schedule;
	for (i = 0; i < cfg.n_retry; i++)
		cfg.retry_window += schedule[i];
	cfg.allowed_urls = allowed_list(urls, hosts, cfg.public_url, &allowed);
	if (cfg.allowed_urls == NULL ||
	    (cfg.own_paths = own_list(cfg.public_url)) == NULL)
		return refuse(&cfg, allowed, 64);
	if (cfg.version == NULL && cfg.load_file == NULL) {
		usage(stderr);
		return refuse(&cfg, allowed, 64);
	}
	if (cfg.version == NULL)
		cfg.version = "0.0.0";
	if (vd_version_parse(cfg.version, &v, NULL) != VD_OK) {
		fprintf(stderr, "tickets.fcgi: '%s' is not a version\n",
		    cfg.version);
		return refuse(&cfg, allowed, 64);
	}
	snprintf(cfg.prefix, sizeof cfg.prefix, "/tickets/v%s", cfg.version);
	if (!svc_log_init("tickets", cfg.version, cfg.log_level, &error)) {
		fprintf(stderr, "tickets.fcgi: %s\n", error.message);
		return refuse(&cfg, allowed, 64);
	}
	if (log_file != NULL && !svc_log_open(log_file)) {
		perror(log_file);
		return refuse(&cfg, allowed, 1);
	}
	/* Fail closed: no key and no --insecure-no-auth, no service. */
	if (cfg.load_file == NULL &&
	    (app_auth = svc_auth_from_env(insecure_auth, &error)) == NULL) {
		fprintf(stderr, "tickets.fcgi: %s\n", error.message);
		return refuse(&cfg, allowed, 64);
	}
	svc_db_init();

	memset(&app, 0, sizeof app);
	app.cfg = &cfg;
	if ((app.store = tk_store_open(&cfg, "tickets", &error)) == NULL) {
		fprintf(stderr, "tickets.fcgi: %s\n", error.message);
		svc_auth_free(app_auth);
		return refuse(&cfg, allowed, 1);
	}
	/* Shared by every version on this host: they serve one database. */
	snprintf(gen_name, sizeof gen_name, "tickets-%s", cfg.db_name);
	if ((app.gen = svc_gen_open(cfg.state_dir, gen_name, &error)) == NULL)
		svc_log(SVC_WARN, "no generation counter (%s): GET /tickets is "
		    "read from the database every time", error.message);
	if (cfg.load_file != NULL) {
		long n = tk_load(app.store, cfg.load_file, &error);

		if (n < 0)
			fprintf(stderr, "tickets.fcgi: %s\n", error.message);
		if (n > 0)
			svc_gen_bump(app.gen);
		if (n >= 0)
			printf("loaded %ld tickets\n", n);
		tk_store_close(app.store);
		svc_gen_close(app.gen);
		mongoc_cleanup();
		return n >= 0 ? 0 : 1;
	}
	if (!(ready = tk_store_prepare(app.store, &error)))
		svc_log(SVC_WARN, "indexes not made yet: %s (the outbox tries "
		    "again)", error.message);
	/* Shared by every version on this host, as the counter is. Named
	 * .claims since its slots hold the latest time too (2026-12): a
	 * process of before, in .seq, cannot read them with another size. */
	snprintf(gen_name, sizeof gen_name, "tickets-%s.claims", cfg.db_name);
	app.claims.slots = svc_shared_map(cfg.state_dir, gen_name,
	    TK_CLAIMS_SIZE, &error);
	app.claims_shared = app.claims.slots != NULL;
	if (!app.claims_shared) {
		svc_log(SVC_WARN, "sequence numbers counted per process (%s): "
		    "the host's workers claim numbers in turn", error.message);
		app.claims.slots = bson_malloc0(TK_CLAIMS_SIZE);
	}

	/* Metrics are worth having, not worth refusing to serve for. */
	if ((app.metrics = svc_metrics_open(cfg.state_dir, "tickets",
	    cfg.version, &error)) == NULL)
		svc_log(SVC_WARN, "no metrics: %s", error.message);
	cfg.metrics = app.metrics;

	describe(&ann, &cfg, app_auth);
	if ((announce = svc_announce_start(cfg.mongodb_uri, ann.services, 4,
	    cfg.heartbeat, &error)) == NULL)
		svc_log(SVC_ERROR, "not in the registry: %s", error.message);
	tk_owner_name(app.owner, sizeof app.owner);
	snprintf(gen_name, sizeof gen_name, "tickets-subs-%s", cfg.db_name);
	/* Without it, the outbox reads the subscriptions on its clock. */
	app.subs_gen = svc_gen_open(cfg.state_dir, gen_name, &error);
	app.outbox = tk_outbox_start(&cfg, app.owner, app.subs_gen,
	    &app.claims, ready);
	app.seed = (unsigned int)getpid() ^ (unsigned int)svc_now_ms();
	svc_log(SVC_INFO, "serving %s (fail rate %.2f) as %s; events may go "
	    "to %s (at most %ld subscriptions)", cfg.prefix, cfg.fail_rate,
	    app.owner, allowed, cfg.max_subs);
	if (cfg.events_secret == NULL)
		svc_log(SVC_WARN, "EVENTS_SECRET is not set: events go out "
		    "unsigned");

	memset(&loop, 0, sizeof loop);
	loop.routes = tk_routes;
	loop.n_routes = tk_n_routes;
	loop.app = &app;
	loop.auth = app_auth;
	loop.before = tk_guard;
	loop.metrics = app.metrics;
	rc = svc_loop_run(&loop);

	svc_log(SVC_INFO, "stopping");
	svc_announce_stop(announce);
	tk_outbox_stop(app.outbox);
	tk_store_close(app.store);
	svc_metrics_close(app.metrics);
	svc_gen_close(app.gen);
	svc_gen_close(app.subs_gen);
	if (app.claims_shared)
		munmap(app.claims.slots, TK_CLAIMS_SIZE);
	else
		bson_free(app.claims.slots);
	svc_buf_free(&app.cache.body);
	cJSON_Delete(app.brief.list);
	for (i = 0; i < app.n_titles; i++)
		bson_free(app.titles[i].title);
	bson_free(app.titles);
	vd_client_destroy(app.registry);
	mongoc_cleanup();
	vd_urls_destroy(cfg.allowed_urls);
	vd_urls_destroy(cfg.own_paths);
	svc_auth_free(app_auth);
	bson_free(allowed);
	return rc == 0 ? 0 : 1;
}
