/*
 * main.c - replyfeed.fcgi: the reply feed service. spawn-fcgi hands it the
 * FastCGI socket on fd 0; `replyfeed.fcgi --decommission` instead takes
 * this version's subscription and registry entries away for good.
 */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "replyfeed.h"

/* Housekeeping, after a response has gone out: never on a request's time. */
/* A prune reads the buckets it deletes from (rf_store_prune_buckets),
 * or, the first of a process, every reply. A redelivered event older
 * than what is kept is stored again but never shows (it is older than
 * the latest ten), so few kept is enough. */
#define PRUNE_EVERY 1000        /* inserts between prunes */
#define PRUNE_MS 60000          /* or this long, if anything was inserted */
#define PREPARE_MS 10000        /* retry of indexes the database refused */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: replyfeed.fcgi [options]              (under spawn-fcgi)\n"
"       replyfeed.fcgi --decommission [options]\n"
"\n"
"  --api-version X.Y.Z    the version of the service's API this responder\n"
"                         serves, its URL prefix /replyfeed/vX.Y.Z\n"
"                         (default 1.0.0)\n"
"  --mongodb-uri URI      database and registry (default $MONGODB_URI, else\n"
"                         mongodb://127.0.0.1:27017)\n"
"  --db NAME              database name (default $REPLYFEED_DB, else\n"
"                         replyfeed)\n"
"  --public-url URL       nginx as others reach it: the registry entry and\n"
"                         the event URL subscribed (default $VD_PUBLIC_URL,\n"
"                         else http://127.0.0.1:8080)\n"
"  --tickets-range RANGE  versions of Ticket Subscribe to call (default 1.0.1)\n"
"  --renew SECONDS        subscription renewal period (default 60)\n"
"  --keep N               replies kept in the database (default 100, >= %d)\n"
"  --heartbeat SECONDS    registry heartbeat period (default 10)\n"
"  --log-level LEVEL      debug, info, warn or error (default info)\n"
"  --log FILE             append the log to FILE (spawn-fcgi gives stderr\n"
"                         to /dev/null)\n"
"  --latest-file PATH     keep the latest replies in PATH for nginx to serve\n"
"  --state-dir DIR        the stack's state directory (spawn/stack passes it):\n"
"                         the version's metrics file is DIR/metrics/\n"
"                         replyfeed-VERSION.metrics (without it, /dev/shm)\n"
"  --insecure-no-signature\n"
"                         take events without checking their signatures\n"
"                         when EVENTS_SECRET is not set (without it, the\n"
"                         feed refuses to start without a secret): anyone\n"
"                         who reaches the feed can then post replies\n"
"  --insecure-no-auth     check no bearer token on the operator endpoints\n"
"                         (without it, the service refuses to start without\n"
"                         a key: VD_AUTH_HS256_SECRET, VD_AUTH_HS256_SECRET_FILE\n"
"                         or VD_AUTH_JWKS; VD_AUTH_ISSUER, VD_AUTH_AUDIENCE,\n"
"                         VD_AUTH_READS=1 as for tickets.fcgi)\n"
"  (VD_TOKEN_FILE, read again at every renewal, or VD_TOKEN: the token that\n"
"   subscribing needs, with the role subscriptions.manage)\n"
"  --decommission         unsubscribe the event URL through Ticket\n"
"                         Unsubscribe, remove this version's registry\n"
"                         entries of this host (its public URL), and exit\n"
"                         (stop the responders first, or\n"
"                         they subscribe again); stopping or restarting\n"
"                         the service never unsubscribes\n"
"  --help                 this text\n"
"  --version              print the program's version and exit\n",
	    REPLYFEED_LATEST);
}

static const char *
env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

static long
positive(const char *text, const char *what, long min)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < min) {
		fprintf(stderr, "replyfeed.fcgi: %s must be a number of at "
		    "least %ld\n", what, min);
		exit(64);
	}
	return v;
}

/* The one service of the reply feed, at this version. */
struct announced {
	char url[REPLYFEED_URL_MAX + 64];
	char path[160];
	vd_endpoint_t endpoint;
	vd_service_t service;
	const char *role;
};

static void
describe(struct announced *a, const struct rf_config *cfg,
    const struct svc_auth *auth)
{

	snprintf(a->path, sizeof a->path, "%s/latestReplies", cfg->prefix);
	snprintf(a->url, sizeof a->url, "%s%s", cfg->public_url, a->path);
	a->endpoint.type = "http-get";
	a->endpoint.url = a->url;
	a->service.name = "Ticket Latest Replies";
	a->service.version = cfg->version;
	a->service.url = a->path;
	a->service.endpoints = &a->endpoint;
	a->service.n_endpoints = 1;
	/* The role its route needs: one source for both. */
	a->role = svc_route_role(rf_routes, rf_n_routes, "GET",
	    "/latestReplies", auth);
	a->service.roles = &a->role;
	a->service.n_roles = a->role != NULL && *a->role != '\0';
}

/* GET <prefix>/metrics: this version's metrics, over all its workers. */
void
rf_metrics(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct rf_app *app = arg;

	svc_metrics_serve(app->metrics, req, resp);
}

/* Counts the request in the metrics; then indexes the database refused
 * at start, and pruning: "now and then",
 * after the client has its answer. Two workers may both prune: deleting
 * what is deleted already changes nothing. */
static void
after_request(const struct svc_request *req, const struct svc_response *resp,
    const struct svc_route *route, double seconds, void *arg)
{
	struct rf_app *app = arg;
	int64_t now = svc_now_ms();
	bson_error_t error;
	int64_t before;
	long n;

	if ((!rf_store_prepared(app->store) || app->rebuild) &&
	    now - app->prepare_ms >= PREPARE_MS) {
		app->prepare_ms = now;
		if (app->rebuild && rf_latest_file_rebuild(app->cfg->latest_file,
		    app->store, &error)) {
			app->rebuild = false;
			svc_log(SVC_INFO, "%s made from the database",
			    app->cfg->latest_file);
		}
		if (!rf_store_prepared(app->store) &&
		    rf_store_prepare(app->store, &error))
			svc_log(SVC_INFO, "index on (createdAt, _id) ready");
	}
	if (app->inserted == 0 || (app->inserted < PRUNE_EVERY &&
	    now - app->pruned_ms < PRUNE_MS))
		return;
	app->pruned_ms = now;
	before = now - REPLYFEED_REMEMBER_MS;
	if (app->prune_from > 0 &&
	    before / RF_BUCKET_MS - app->prune_from <= RF_PRUNE_SPAN)
		n = rf_store_prune_buckets(app->store, app->cfg->keep, now,
		    before, &app->prune_from, &error);
	else if ((n = rf_store_prune(app->store, app->cfg->keep, before,
	    &error)) >= 0)
		app->prune_from = before / RF_BUCKET_MS;
	if (n < 0) {
		svc_log(SVC_WARN, "cannot prune old replies: %s (trying again "
		    "later)", error.message);
		app->inserted = 1;
		return;
	}
	app->inserted = 0;
	if (n > 0)
		svc_log(SVC_INFO, "pruned %ld replies older than the newest %ld",
		    n, app->cfg->keep);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-version", required_argument, NULL, 'V' },
		{ "version", no_argument, NULL, 'v' },
		{ "mongodb-uri", required_argument, NULL, 'm' },
		{ "db", required_argument, NULL, 'd' },
		{ "public-url", required_argument, NULL, 'u' },
		{ "tickets-range", required_argument, NULL, 'r' },
		{ "renew", required_argument, NULL, 'R' },
		{ "keep", required_argument, NULL, 'k' },
		{ "heartbeat", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'o' },
		{ "latest-file", required_argument, NULL, 'F' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "decommission", no_argument, NULL, 'D' },
		{ "insecure-no-signature", no_argument, NULL, 'I' },
		{ "insecure-no-auth", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct rf_config cfg;
	struct rf_app app;
	struct announced ann;
	struct svc_announce *announce;
	struct svc_loop loop;
	char version[96], public_url[REPLYFEED_URL_MAX + 1];
	const char *version_arg = "1.0.0", *url_arg, *log_file = NULL;
	mongoc_uri_t *uri;
	vd_range_t *range;
	bson_error_t error;
	vd_version_t v;
	size_t len;
	bool insecure = false, insecure_auth = false;
	struct svc_auth *auth = NULL;
	int c, rc;

	svc_memory_init();
	memset(&cfg, 0, sizeof cfg);
	cfg.db_name = env_or("REPLYFEED_DB", "replyfeed");
	url_arg = env_or("VD_PUBLIC_URL", "http://127.0.0.1:8080");
	cfg.events_secret = env_or("EVENTS_SECRET", NULL);
	cfg.tickets_range = "1.0.1";
	cfg.renew = 60;
	cfg.keep = 100;
	cfg.heartbeat = 10;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'V': version_arg = optarg; break;
		case 'm': cfg.mongodb_uri = optarg; break;
		case 'd': cfg.db_name = optarg; break;
		case 'u': url_arg = optarg; break;
		case 'r': cfg.tickets_range = optarg; break;
		case 'R': cfg.renew = positive(optarg, "--renew", 1); break;
		case 'k': cfg.keep = positive(optarg, "--keep",
		    REPLYFEED_LATEST); break;
		case 'b': cfg.heartbeat = (int)positive(optarg, "--heartbeat",
		    1); break;
		case 'l': cfg.log_level = optarg; break;
		case 'o': log_file = optarg; break;
		case 'F': cfg.latest_file = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'D': cfg.decommission = true; break;
		case 'I': insecure = true; break;
		case 'N': insecure_auth = true; break;
		case 'h': usage(stdout); return 0;
		case 'v':
			printf("replyfeed.fcgi (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "replyfeed.fcgi: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 64;
	}

	/* The version as semver writes it: "v1.0.0" and "1.0.0" are one. */
	if (vd_version_parse(version_arg, &v, NULL) != VD_OK) {
		fprintf(stderr, "replyfeed.fcgi: '%s' is not a version\n",
		    version_arg);
		return 64;
	}
	if (vd_version_format(&v, version, sizeof version) >=
	    (int)sizeof version) {
		fprintf(stderr, "replyfeed.fcgi: the version '%s' is too long\n",
		    version_arg);
		return 64;
	}
	cfg.version = version;
	snprintf(cfg.prefix, sizeof cfg.prefix, "/replyfeed/v%s", cfg.version);
	if ((range = vd_range_new(cfg.tickets_range, NULL)) == NULL) {
		fprintf(stderr, "replyfeed.fcgi: '%s' is not a version range\n",
		    cfg.tickets_range);
		return 64;
	}
	vd_range_destroy(range);
	if (*cfg.db_name == '\0') {
		fprintf(stderr, "replyfeed.fcgi: --db must not be empty\n");
		return 64;
	}
	if ((uri = svc_db_uri(cfg.mongodb_uri, &error)) == NULL) {
		fprintf(stderr, "replyfeed.fcgi: bad MongoDB URI: %s\n",
		    error.message);
		return 64;
	}
	mongoc_uri_destroy(uri);
	/* The public URL without a trailing '/': paths are appended to it. */
	snprintf(public_url, sizeof public_url, "%s", url_arg);
	len = strlen(public_url);
	while (len > 0 && public_url[len - 1] == '/')
		public_url[--len] = '\0';
	if (!svc_is_http_url(public_url, REPLYFEED_URL_MAX - 128)) {
		fprintf(stderr, "replyfeed.fcgi: the public URL '%s' is not an "
		    "http or https URL\n", url_arg);
		return 64;
	}
	cfg.public_url = public_url;
	snprintf(cfg.event_url, sizeof cfg.event_url, "%s%s/replyEvent",
	    cfg.public_url, cfg.prefix);

	if (!svc_log_init("replyfeed", cfg.version, cfg.log_level, &error)) {
		fprintf(stderr, "replyfeed.fcgi: %s\n", error.message);
		return 64;
	}
	if (log_file != NULL && !svc_log_open(log_file)) {
		perror(log_file);
		return 1;
	}
	/* Fail closed: unsigned events are taken only when asked for by
	 * name, and then said at every start. Decommissioning takes none. */
	if (cfg.events_secret == NULL && !cfg.decommission) {
		if (!insecure) {
			fprintf(stderr, "replyfeed.fcgi: EVENTS_SECRET is not "
			    "set: refusing to take unsigned events (set it, or "
			    "pass --insecure-no-signature to take them "
			    "anyway)\n");
			return 64;
		}
		svc_log(SVC_WARN, "insecure: EVENTS_SECRET is not set and "
		    "--insecure-no-signature is given: events are taken "
		    "without checking their signatures");
	}
	/* Fail closed: no key and no --insecure-no-auth, no service. */
	if (!cfg.decommission &&
	    (auth = svc_auth_from_env(insecure_auth, &error)) == NULL) {
		fprintf(stderr, "replyfeed.fcgi: %s\n", error.message);
		return 64;
	}
	svc_db_init();
	if (cfg.decommission) {
		rc = rf_subscription_decommission(&cfg, &error) ? 0 : 1;
		if (rc != 0)
			fprintf(stderr, "replyfeed.fcgi: %s\n", error.message);
		mongoc_cleanup();
		return rc;
	}
	/* Before anything announces this responder: it must be one. */
	if (FCGX_Init() != 0 || FCGX_IsCGI()) {
		fprintf(stderr, "replyfeed.fcgi: fd 0 is not a FastCGI socket: "
		    "run me under spawn-fcgi (see --help)\n");
		svc_auth_free(auth);
		mongoc_cleanup();
		return 1;
	}

	memset(&app, 0, sizeof app);
	app.cfg = &cfg;
	/* Metrics are worth having, not worth refusing to serve for. */
	if ((app.metrics = svc_metrics_open(cfg.state_dir, "replyfeed",
	    cfg.version, &error)) == NULL)
		svc_log(SVC_WARN, "no metrics: %s", error.message);
	if ((app.store = rf_store_open(&cfg, "replyfeed", &error)) == NULL) {
		fprintf(stderr, "replyfeed.fcgi: %s\n", error.message);
		svc_metrics_close(app.metrics);
		svc_auth_free(auth);
		mongoc_cleanup();
		return 1;
	}
	/* A database that is down now is tried again after requests. */
	app.prepare_ms = svc_now_ms();
	if (!rf_store_prepare(app.store, &error))
		svc_log(SVC_WARN, "index not ready yet: %s", error.message);
	app.rebuild = cfg.latest_file != NULL &&
	    !rf_latest_file_rebuild(cfg.latest_file, app.store, &error);
	if (app.rebuild)
		svc_log(SVC_WARN, "%s not made yet: %s", cfg.latest_file,
		    error.message);

	describe(&ann, &cfg, auth);
	if ((announce = svc_announce_start(cfg.mongodb_uri, &ann.service, 1,
	    cfg.heartbeat, &error)) == NULL)
		svc_log(SVC_ERROR, "not in the registry: %s", error.message);
	if ((app.subscription = rf_subscription_start(&cfg, app.metrics,
	    &error)) == NULL)
		svc_log(SVC_ERROR, "%s; no events will come", error.message);
	svc_log(SVC_INFO, "serving %s; events at %s; keeping %ld replies",
	    cfg.prefix, cfg.event_url, cfg.keep);

	memset(&loop, 0, sizeof loop);
	loop.routes = rf_routes;
	loop.n_routes = rf_n_routes;
	loop.app = &app;
	loop.auth = auth;
	loop.metrics = app.metrics;
	loop.after = after_request;
	rc = svc_loop_run(&loop);

	/* The subscription stays: events wait for us at the tickets service. */
	svc_log(SVC_INFO, "stopping");
	rf_subscription_stop(app.subscription);
	svc_announce_stop(announce);
	rf_store_close(app.store);
	svc_metrics_close(app.metrics);
	svc_auth_free(auth);
	mongoc_cleanup();
	return rc == 0 ? 0 : 1;
}
