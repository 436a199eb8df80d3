/*
 * response.c - responses built in memory, written out by the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

static void
buf_reserve(struct svc_buf *buf, size_t more)
{
	size_t cap;

	if (buf->len + more + 1 <= buf->cap)
		return;
	cap = buf->cap ? buf->cap : 256;
	while (cap < buf->len + more + 1)
		cap *= 2;
	buf->data = bson_realloc(buf->data, cap);
	buf->cap = cap;
}

void
svc_buf_append(struct svc_buf *buf, const char *data, size_t len)
{
	buf_reserve(buf, len);
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
svc_buf_printf(struct svc_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(buf, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
}

void
svc_buf_reset(struct svc_buf *buf)
{
	buf->len = 0;
	if (buf->data != NULL)
		buf->data[0] = '\0';
}

void
svc_buf_free(struct svc_buf *buf)
{
	bson_free(buf->data);
	memset(buf, 0, sizeof *buf);
}

void
svc_response_init(struct svc_response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->content_type = "application/json";
}

/* Keeps the buffers for the next request: the loop reuses one response. */
void
svc_response_clear(struct svc_response *resp)
{
	resp->status = 200;
	resp->content_type = "application/json";
	svc_buf_reset(&resp->headers);
	svc_buf_reset(&resp->body);
	resp->stream = NULL;
	resp->stream_arg = NULL;
}

void
svc_response_stream(struct svc_response *resp, int status,
    const char *content_type, svc_stream_fn *stream, void *arg)
{
	resp->status = status;
	resp->content_type = content_type;
	svc_buf_reset(&resp->body);
	resp->stream = stream;
	resp->stream_arg = arg;
}

void
svc_response_free(struct svc_response *resp)
{
	svc_buf_free(&resp->headers);
	svc_buf_free(&resp->body);
}

void
svc_response_json(struct svc_response *resp, int status, const cJSON *json)
{
	/* Never NULL: out of memory aborts (svc_memory_init). */
	char *text = cJSON_PrintUnformatted(json);

	svc_response_raw(resp, status, "application/json", text, strlen(text));
	cJSON_free(text);
}

void
svc_response_raw(struct svc_response *resp, int status,
    const char *content_type, const char *body, size_t len)
{
	resp->status = status;
	resp->content_type = content_type;
	svc_buf_reset(&resp->body);
	svc_buf_append(&resp->body, body, len);
}

void
svc_response_error(struct svc_response *resp, int status, const char *error,
    const char *fmt, ...)
{
	char detail[512];
	cJSON *obj;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);

	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "error", error);
	cJSON_AddStringToObject(obj, "detail", detail);
	svc_response_json(resp, status, obj);
	cJSON_Delete(obj);
}

void
svc_response_header(struct svc_response *resp, const char *name,
    const char *fmt, ...)
{
	char value[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	/* A header value must not end the header block early. */
	value[strcspn(value, "\r\n")] = '\0';
	svc_buf_printf(&resp->headers, "%s: %s\r\n", name, value);
}

const char *
svc_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
