/*
 * dispatch.c - the dispatch command: call a service by name and version,
 * with fallback across versions; list the registry; remove an entry.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "vdispatch.h"

/* Exit statuses: the service said no (4xx), anything else failed, the
 * command line was wrong (sysexits' EX_USAGE). */
#define EXIT_REJECTED 1
#define EXIT_FAILED 2
#define EXIT_USAGE 64

struct options {
	const char *mongodb_uri;
	bool verbose;
};

static const char usage_text[] =
"Usage: dispatch [--mongodb-uri URI] [-v] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  call [--timeout MS] [--deadline MS] [-H 'Name: value']... NAME RANGE [JSON]\n"
"      Call the service NAME at a version in RANGE (\"1.0.1\": same major,\n"
"      at least 1.0.1; also =, ^, ~, <, >=, ||, *), newest version first,\n"
"      falling back to the next when one fails. JSON (\"-\": standard input)\n"
"      is the body of POST endpoints. Prints the reply; one line per\n"
"      attempt goes to standard error. --timeout bounds one attempt,\n"
"      --deadline the whole call.\n"
"  list [NAME]\n"
"      Print the registry (of NAME only, if given).\n"
"  unregister NAME VERSION\n"
"      Remove the entries of NAME at exactly VERSION.\n"
"\n"
"Options:\n"
"  --mongodb-uri URI  the registry's database (default: $MONGODB_URI,\n"
"                     else mongodb://127.0.0.1:27017)\n"
"  -v, --verbose      log debug lines too\n"
"  -h, --help         print this help\n"
"  -V, --version      print the version\n"
"\n"
"Exit status: 0 done; 1 the service rejected the request (4xx, its reply\n"
"is printed); 2 any other failure; 64 a usage error.\n";

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
static void
log_line(vd_log_level_t level, const char *message, void *userdata)
{
	const struct options *opts = userdata;

	if (level == VD_LOG_DEBUG && !opts->verbose)
		return;
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

static int
cmd_call(struct options *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "header", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	long timeout_ms = 0, deadline_ms = 0;
	vd_client_t *client = NULL;
	vd_call_t *call = NULL;
	vd_error_t error;
	vd_code_t code;
	char **headers = calloc((size_t)argc, sizeof *headers);
	char *body = NULL;
	const char *reply;
	size_t n_headers = 0, i, len;
	int c, status = EXIT_FAILED;

	if (headers == NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		return EXIT_FAILED;
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "+H:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_ms(optarg, &timeout_ms))
				status = usage_error("bad --timeout: %s", optarg);
			break;
		case 'd':
			if (!parse_ms(optarg, &deadline_ms))
				status = usage_error("bad --deadline: %s", optarg);
			break;
		case 'H':
			if (strchr(optarg, ':') == NULL)
				status = usage_error("bad header (not "
				    "'Name: value'): %s", optarg);
			headers[n_headers++] = optarg;
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
		status = usage_error("%s", "usage: dispatch call [--timeout MS] "
		    "[--deadline MS] [-H 'Name: value'] NAME RANGE [JSON]");
		goto out;
	}
	if ((client = open_client(opts, &status)) == NULL)
		goto out;
	vd_client_set_timeouts(client, 0, timeout_ms, deadline_ms);
	if ((call = vd_call_new(client, argv[0], argv[1], &error)) == NULL) {
		status = error.code == VD_EVERSION ? EXIT_USAGE : EXIT_FAILED;
		fprintf(stderr, "dispatch: %s\n", error.message);
		goto out;
	}
	for (i = 0; i < n_headers; i++) {
		char *colon = strchr(headers[i], ':');
		const char *value = colon + 1;

		*colon = '\0';
		value += strspn(value, " \t");
		if (vd_call_set_header(call, headers[i], value, &error) !=
		    VD_OK) {
			status = usage_error("bad header: %s", headers[i]);
			goto out;
		}
	}
	if (argc == 3) {
		if (strcmp(argv[2], "-") == 0 && (body = read_stdin()) == NULL) {
			fprintf(stderr, "dispatch: cannot read stdin\n");
			goto out;
		}
		if (vd_call_set_body(call, body != NULL ? body : argv[2], -1,
		    &error) != VD_OK) {
			status = usage_error("%s", error.message);
			goto out;
		}
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
out:
	vd_call_destroy(call);
	vd_client_destroy(client);
	free(headers);
	free(body);
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
		"NAME", "VERSION", "STATE", "LAST SEEN", "ENDPOINTS",
	};
	vd_client_t *client;
	vd_entry_t *entries;
	vd_error_t error;
	size_t count, i, j, col, width[4];
	char version[128], age[32];
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
	for (col = 0; col < 4; col++)
		width[col] = strlen(head[col]);
	for (i = 0; i < count; i++) {
		vd_version_format(&entries[i].version, version, sizeof version);
		format_age(entries[i].last_seen_ms, age, sizeof age);
		if (strlen(entries[i].name) > width[0])
			width[0] = strlen(entries[i].name);
		if (strlen(version) > width[1])
			width[1] = strlen(version);
		if (strlen(age) > width[3])
			width[3] = strlen(age);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)width[0], head[0],
	    (int)width[1], head[1], (int)width[2], head[2], (int)width[3],
	    head[3], head[4]);
	for (i = 0; i < count; i++) {
		const vd_entry_t *e = &entries[i];

		vd_version_format(&e->version, version, sizeof version);
		format_age(e->last_seen_ms, age, sizeof age);
		printf("%-*s  %-*s  %-*s  %-*s ", (int)width[0], e->name,
		    (int)width[1], version, (int)width[2],
		    e->stale ? "stale" : "live", (int)width[3], age);
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
	vd_client_t *client;
	vd_error_t error;
	vd_code_t code;
	int status;

	if (argc != 3)
		return usage_error("%s", "usage: dispatch unregister NAME "
		    "VERSION");
	if ((client = open_client(opts, &status)) == NULL)
		return status;
	code = vd_unregister(client, argv[1], argv[2], &error);
	vd_client_destroy(client);
	if (code != VD_OK) {
		fprintf(stderr, "dispatch: %s\n", error.message);
		return code == VD_EVERSION ? EXIT_USAGE : EXIT_FAILED;
	}
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mongodb-uri", required_argument, NULL, 'm' },
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
		{ "unregister", cmd_unregister },
	};
	struct options opts = { NULL, false };
	size_t i;
	int c;

	/* "+": options after the command are the command's own. */
	while ((c = getopt_long(argc, argv, "+vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opts.mongodb_uri = optarg;
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
