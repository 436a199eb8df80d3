/*
 * registry.c - `dispatch register`, `dispatch list` and `dispatch
 * unregister`: the registry's entries, one per service, version and host.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"

int
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

int
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

int
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

