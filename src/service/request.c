/*
 * request.c - the per-request state, copied out of the FastCGI parameters.
 *
 * libfcgi frees its parameters at the next accept, so nothing may keep a
 * pointer into them: every string a handler sees lives in req->store.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

static const char *
env_get(char **params, const char *name)
{
	size_t n = strlen(name);

	for (; params != NULL && *params != NULL; params++)
		if (strncmp(*params, name, n) == 0 && (*params)[n] == '=')
			return *params + n + 1;
	return NULL;
}

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* A client's request id is passed on to the services a call reaches, so it
 * is kept only when it cannot smuggle anything into a header or a log:
 * 1 to SVC_RID_MAX visible ASCII characters, no space (nginx's map in
 * vdispatch.conf.in says the same). */
static bool
usable_rid(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++, n++)
		if (n >= SVC_RID_MAX || !isgraph((unsigned char)*s))
			return false;
	return true;
}

static void
fill_fields(struct svc_request *req, const char *rid)
{
	const char *cl;
	char *end;

	req->method = or_empty(env_get(req->params, "REQUEST_METHOD"));
	req->path = or_empty(env_get(req->params, "PATH_INFO"));
	req->script_name = or_empty(env_get(req->params, "SCRIPT_NAME"));
	req->query = or_empty(env_get(req->params, "QUERY_STRING"));
	req->content_type = or_empty(env_get(req->params, "CONTENT_TYPE"));

	req->content_length = -1;
	cl = env_get(req->params, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		long v = strtol(cl, &end, 10);
		if (*end == '\0' && v >= 0)
			req->content_length = v;
	}
	req->body_too_large = req->content_length > SVC_BODY_MAX;

	if (usable_rid(env_get(req->params, "HTTP_X_REQUEST_ID")))
		rid = env_get(req->params, "HTTP_X_REQUEST_ID");
	snprintf(req->rid, sizeof req->rid, "%s", or_empty(rid));
	req->request_id = req->rid;
	req->body = req->body_buf.data != NULL ? req->body_buf.data : "";
}

void
svc_request_from_env(struct svc_request *req, char **envp, const char *rid)
{
	size_t n = 0, size = 0, i;
	char *p;

	for (; envp != NULL && envp[n] != NULL; n++)
		size += strlen(envp[n]) + 1;

	req->params = bson_malloc0((n + 1) * sizeof *req->params);
	req->store = bson_malloc(size + 1);
	p = req->store;
	for (i = 0; i < n; i++) {
		size_t len = strlen(envp[i]) + 1;
		memcpy(p, envp[i], len);
		req->params[i] = p;
		p += len;
	}
	req->n_params = n;
	fill_fields(req, rid);
}

void
svc_request_make(struct svc_request *req, const char *method,
    const char *path, const char *content_type, const char *body)
{
	char cl[32], *env[6];
	struct svc_buf b[4] = { { 0 } };
	size_t i;

	svc_buf_printf(&b[0], "REQUEST_METHOD=%s", method);
	svc_buf_printf(&b[1], "PATH_INFO=%s", path);
	svc_buf_printf(&b[2], "CONTENT_TYPE=%s", or_empty(content_type));
	snprintf(cl, sizeof cl, "%zu", body != NULL ? strlen(body) : 0);
	svc_buf_printf(&b[3], "CONTENT_LENGTH=%s", cl);
	for (i = 0; i < 4; i++)
		env[i] = b[i].data;
	env[4] = NULL;
	svc_request_from_env(req, env, "test");
	for (i = 0; i < 4; i++)
		svc_buf_free(&b[i]);
	if (body != NULL)
		svc_request_add_body(req, body, strlen(body));
}

void
svc_request_add_body(struct svc_request *req, const char *data, size_t len)
{
	svc_buf_append(&req->body_buf, data, len);
	req->body = req->body_buf.data;
	req->body_len = req->body_buf.len;
}

const char *
svc_request_param(const struct svc_request *req, const char *name)
{
	return env_get(req->params, name);
}

void
svc_request_clear(struct svc_request *req)
{
	struct svc_buf body = req->body_buf;

	bson_free(req->params);
	bson_free(req->store);
	svc_buf_reset(&body);
	memset(req, 0, sizeof *req);
	/* The body buffer is kept: most requests need about the same size. */
	req->body_buf = body;
}

static bool
take_param(const char *value, size_t len, char *buf, size_t size)
{
	if (*buf != '\0' || len == 0 || len >= size ||
	    memchr(value, '%', len) != NULL)
		return false;
	memcpy(buf, value, len);
	buf[len] = '\0';
	return true;
}

bool
svc_query_params(const char *query, const char *name1, char *buf1,
    size_t size1, const char *name2, char *buf2, size_t size2)
{
	const char *p = query;

	*buf1 = *buf2 = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, "&"), n1 = strlen(name1),
		    n2 = strlen(name2);

		if (len > n1 && strncmp(p, name1, n1) == 0 && p[n1] == '=') {
			if (!take_param(p + n1 + 1, len - n1 - 1, buf1, size1))
				return false;
		} else if (len > n2 && strncmp(p, name2, n2) == 0 &&
		    p[n2] == '=') {
			if (!take_param(p + n2 + 1, len - n2 - 1, buf2, size2))
				return false;
		} else if (len > 0)
			return false;
		p += len;
		if (*p == '&')
			p++;
	}
	return true;
}
