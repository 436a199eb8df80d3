/*
 * call.c - `dispatch call`: its options, a client and a call made from
 * them, and one call with its reply on stdout (--count: count.c).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

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
vd_client_t *
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
vd_call_t *
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

int
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

