/*
 * route.c - a table of (method, path, handler) rows, as cgit's cmd table.
 */
#include <string.h>

#include "service.h"

static bool
path_matches(const struct svc_route *r, const char *path)
{
	size_t n;

	if (!(r->flags & SVC_ROUTE_PREFIX))
		return strcmp(r->path, path) == 0;
	/* "/tickets/" matches "/tickets/abc" but not "/tickets/" alone. */
	n = strlen(r->path);
	return strncmp(r->path, path, n) == 0 && path[n] != '\0' &&
	    strchr(path + n, '/') == NULL;
}

const struct svc_route *
svc_route(const struct svc_route *table, size_t n,
    const struct svc_request *req, struct svc_response *resp, void *app)
{
	const char *method = req->method;
	char allow[64] = "";
	size_t i;
	int pass;

	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	/* Exact paths first: "/tickets/addComment" must not fall to the
	 * prefix row "/tickets/" just because its method is GET. */
	for (pass = 0; pass < 2 && *allow == '\0'; pass++) {
		for (i = 0; i < n; i++) {
			if ((table[i].flags & SVC_ROUTE_PREFIX) != (pass ?
			    SVC_ROUTE_PREFIX : 0) ||
			    !path_matches(&table[i], req->path))
				continue;
			if (strcmp(table[i].method, method) == 0) {
				table[i].handler(req, resp, app);
				return &table[i];
			}
			if (strstr(allow, table[i].method) == NULL &&
			    strlen(allow) + strlen(table[i].method) + 8 <
			    sizeof allow) {
				if (*allow != '\0')
					strcat(allow, ", ");
				strcat(allow, table[i].method);
				if (strcmp(table[i].method, "GET") == 0)
					strcat(allow, ", HEAD");
			}
		}
	}
	if (*allow != '\0') {
		svc_response_error(resp, 405, "method not allowed",
		    "%s is not allowed on %s; allowed: %s", req->method,
		    req->path, allow);
		svc_response_header(resp, "Allow", "%s", allow);
	} else
		svc_response_error(resp, 404, "not found",
		    "no resource at %s", req->path);
	return NULL;
}
