/*
 * call.c - a call as its caller builds it: the service's name, the
 * version range, the body, the headers, and, after vd_call_perform
 * (perform.c), what it found. Also the request headers every attempt of a
 * perform carries: the caller's, then ours where the caller set none.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vd-private.h"

vd_call_t *
vd_call_new(vd_client_t *client, const char *name, const char *range,
    vd_error_t *error)
{
	vd_call_t *call;

	if (client == NULL || name == NULL || *name == '\0') {
		vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_new: a client and a service name are needed");
		return NULL;
	}
	if ((call = calloc(1, sizeof *call)) == NULL ||
	    (call->name = strdup(name)) == NULL) {
		vd_call_destroy(call);
		vd_error_set(error, VD_ENOMEM, 0, "out of memory");
		return NULL;
	}
	if ((call->range = vd_range_new(range, error)) == NULL) {
		vd_call_destroy(call);
		return NULL;
	}
	call->client = client;
	return call;
}

void
vd_call_clear_results(vd_call_t *call)
{
	free(call->reply);
	call->reply = NULL;
	call->reply_len = 0;
	call->status = 0;
	call->version[0] = '\0';
	call->host[0] = '\0';
	call->attempts = 0;
}

void
vd_call_destroy(vd_call_t *call)
{
	size_t i;

	if (call == NULL)
		return;
	vd_call_clear_results(call);
	for (i = 0; i < call->n_headers; i++) {
		free(call->headers[i].name);
		free(call->headers[i].value);
	}
	free(call->headers);
	free(call->body);
	vd_range_destroy(call->range);
	free(call->name);
	free(call);
}

vd_code_t
vd_call_set_body(vd_call_t *call, const char *json, long len,
    vd_error_t *error)
{
	cJSON *parsed;
	char *copy;
	size_t n;

	if (call == NULL || len < -1)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_set_body: bad argument");
	if (json == NULL) {
		free(call->body);
		call->body = NULL;
		call->body_len = 0;
		return VD_OK;
	}
	n = len == -1 ? strlen(json) : (size_t)len;
	if ((copy = malloc(n + 1)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	memcpy(copy, json, n);
	copy[n] = '\0';
	if ((parsed = vd_json_parse(copy, n)) == NULL) {
		free(copy);
		return vd_error_set(error, VD_EINVAL, 0,
		    "The call's body is not JSON");
	}
	cJSON_Delete(parsed);
	free(call->body);
	call->body = copy;
	call->body_len = n;
	return VD_OK;
}

/* A header name is an RFC 9110 token. */
static bool
valid_header_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

struct vd_header *
vd_call_find_header(const vd_call_t *call, const char *name)
{
	size_t i;

	for (i = 0; i < call->n_headers; i++)
		if (strcasecmp(call->headers[i].name, name) == 0)
			return &call->headers[i];
	return NULL;
}

vd_code_t
vd_call_set_header(vd_call_t *call, const char *name, const char *value,
    vd_error_t *error)
{
	struct vd_header *h;
	char *n, *v;

	if (call == NULL || name == NULL || value == NULL ||
	    !valid_header_name(name) || strpbrk(value, "\r\n") != NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_set_header: bad header name or value");
	if ((v = strdup(value)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	if ((h = vd_call_find_header(call, name)) != NULL) {
		free(h->value);
		h->value = v;
		return VD_OK;
	}
	h = realloc(call->headers, (call->n_headers + 1) * sizeof *h);
	if (h == NULL || (n = strdup(name)) == NULL) {
		if (h != NULL)
			call->headers = h;
		free(v);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	call->headers = h;
	call->headers[call->n_headers].name = n;
	call->headers[call->n_headers].value = v;
	call->n_headers++;
	return VD_OK;
}

/* Appends "name: value" to *list; false when out of memory. */
static bool
append_header(struct curl_slist **list, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	struct curl_slist *l;
	char *line;

	if ((line = malloc(nlen + vlen + 3)) == NULL)
		return false;
	memcpy(line, name, nlen);
	memcpy(line + nlen, ": ", 2);
	memcpy(line + nlen + 2, value, vlen + 1);
	l = curl_slist_append(*list, line);
	free(line);
	if (l == NULL)
		return false;
	*list = l;
	return true;
}

struct curl_slist *
vd_call_headers(const vd_call_t *call, bool post, const char *key, bool *ok)
{
	struct curl_slist *list = NULL;
	size_t i;

	*ok = true;
	for (i = 0; i < call->n_headers && *ok; i++)
		*ok = append_header(&list, call->headers[i].name,
		    call->headers[i].value);
	if (*ok && vd_call_find_header(call, "Accept") == NULL)
		*ok = append_header(&list, "Accept", "application/json");
	if (*ok && call->client->auth_header != NULL &&
	    vd_call_find_header(call, "Authorization") == NULL) {
		struct curl_slist *l = curl_slist_append(list,
		    call->client->auth_header);

		if (l != NULL)
			list = l;
		else
			*ok = false;
	}
	if (post) {
		if (*ok && vd_call_find_header(call, "Content-Type") == NULL)
			*ok = append_header(&list, "Content-Type",
			    "application/json");
		if (*ok && vd_call_find_header(call, "Idempotency-Key") == NULL)
			*ok = append_header(&list, "Idempotency-Key", key);
		/* No "Expect: 100-continue" round trip, whatever the size. */
		if (*ok) {
			struct curl_slist *l = curl_slist_append(list,
			    "Expect:");

			if (l != NULL)
				list = l;
			else
				*ok = false;
		}
	}
	return list;
}

const char *
vd_call_reply(const vd_call_t *call, size_t *len)
{
	if (len != NULL)
		*len = call != NULL && call->reply != NULL ? call->reply_len : 0;
	return call != NULL ? call->reply : NULL;
}

int
vd_call_status(const vd_call_t *call)
{
	return call != NULL ? call->status : 0;
}

const char *
vd_call_version(const vd_call_t *call)
{
	return call != NULL ? call->version : "";
}

const char *
vd_call_host(const vd_call_t *call)
{
	return call != NULL ? call->host : "";
}

size_t
vd_call_attempts(const vd_call_t *call)
{
	return call != NULL ? call->attempts : 0;
}

