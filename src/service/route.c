/*
 * route.c - a table of (method, path, handler) rows, as cgit's cmd table.
 */
#include <string.h>

#include "service.h"

/* Whether path fits pattern, segment by segment; a "*" segment stands
 * for any one non-empty segment. */
static bool
path_matches(const char *pattern, const char *path)
{
	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '*') {
			if (*path == '/')
				return false;
			while (*path != '\0' && *path != '/')
				path++;
			pattern++;
		} else if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

const char *
svc_path_segment(const char *path, int n, char *buf, size_t size)
{
	size_t len;

	/* Empty when there is no segment: a caller that goes on with buf
	 * (to name it in a 404) never reads what was there before. */
	if (size > 0)
		*buf = '\0';
	/* Checked first: path + 1 of an empty path is past its end. */
	if (path == NULL || *path != '/')
		return NULL;
	for (; n > 0; n--)
		if ((path = strchr(path + 1, '/')) == NULL)
			return NULL;
	len = strcspn(path + 1, "/");
	if (len >= size)
		return NULL;
	memcpy(buf, path + 1, len);
	buf[len] = '\0';
	return buf;
}

const char *
svc_route_role(const struct svc_route *table, size_t n, const char *method,
    const char *path, const struct svc_auth *auth)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].method, method) == 0 &&
		    strcmp(table[i].path, path) == 0)
			return svc_auth_required(auth, table[i].role) ?
			    table[i].role : "";
	return NULL;
}

const struct svc_route *
svc_route(const struct svc_route *table, size_t n,
    const struct svc_request *req, struct svc_response *resp, void *app,
    const struct svc_auth *auth)
{
	const char *method = req->method;
	char allow[64] = "";
	size_t i;
	int pass;

	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	/* Exact paths first: "/tickets/addComment" must not fall to a
	 * pattern ending in a "*" segment just because its method is GET. */
	for (pass = 0; pass < 2 && *allow == '\0'; pass++) {
		for (i = 0; i < n; i++) {
			if ((strchr(table[i].path, '*') != NULL) != pass ||
			    !path_matches(table[i].path, req->path))
				continue;
			if (strcmp(table[i].method, method) == 0) {
				/* The role is the route's, checked here
				 * once rather than in every handler. */
				if (svc_auth_request(auth, req, table[i].role,
				    resp))
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
