/*
 * dispatch.h - what the files of the dispatch command share: exit
 * statuses, the options every command takes, a client made from them, and
 * the call a `dispatch call` was asked for.
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

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

/* dispatch.c */

/* Prints "dispatch: " and the message, then a hint; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A monotonic clock in milliseconds. */
int64_t mono_ms(void);

/* A client of the registry, or NULL with *status set to the exit status
 * (a bad --mongodb-uri is a usage error). */
vd_client_t *open_client(struct options *opts, int *status);

/* call.c: `dispatch call`. A client and a call set up as spec asks, NULL
 * with *status set. */
int cmd_call(struct options *opts, int argc, char **argv);
vd_client_t *call_client(struct options *opts, const struct call_spec *spec,
    int *status);
vd_call_t *call_new(vd_client_t *client, const struct call_spec *spec,
    int *status);

/* count.c: the call made spec->count times from spec->concurrency
 * threads, one client each; a summary on stdout. Returns the exit status. */
int call_many(struct options *opts, const struct call_spec *spec);

/* registry.c: `dispatch register`, `list` and `unregister`. */
int cmd_register(struct options *opts, int argc, char **argv);
int cmd_list(struct options *opts, int argc, char **argv);
int cmd_unregister(struct options *opts, int argc, char **argv);

#endif /* DISPATCH_H */
