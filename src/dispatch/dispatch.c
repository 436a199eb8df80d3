/*
 * dispatch.c - the dispatch command: call a service by name and version,
 * with fallback across versions (once, or many times from several threads
 * with a summary for operators); list the registry; add or remove an
 * entry.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "conf.h"
#include "dispatch.h"
#include "token.h"

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
"                              print outcomes per version and host, and\n"
"                              latencies\n"
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

int
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
int64_t
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
vd_client_t *
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
