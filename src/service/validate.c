/*
 * validate.c - request bodies checked before anything is stored: JSON
 * object, sane depth, valid UTF-8 without NUL, no '$' keys (which MongoDB would read as
 * operators), fields of the right type and size.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "service.h"

#define MAX_DEPTH 16

static bool
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Why a parsed body is refused, or NULL when it is acceptable. */
static const char *
check_value(const cJSON *v, int depth)
{
	const cJSON *item;
	const char *why;

	if (depth > MAX_DEPTH)
		return "the JSON is nested too deeply";
	if (cJSON_IsString(v) && !bson_utf8_validate(v->valuestring,
	    strlen(v->valuestring), false))
		return "a string is not valid UTF-8";
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return NULL;
	cJSON_ArrayForEach(item, v) {
		if (cJSON_IsObject(v)) {
			if (item->string[0] == '$')
				return "keys must not start with '$'";
			if (!bson_utf8_validate(item->string,
			    strlen(item->string), false))
				return "a key is not valid UTF-8";
		}
		if ((why = check_value(item, depth + 1)) != NULL)
			return why;
	}
	return NULL;
}

/* Whether the JSON text (which cJSON accepted, so valid) writes a NUL as
 * \u0000 in a string. cJSON keeps strings NUL-terminated and cuts them
 * there: "id\u0000junk" would pass for "id" and a message be stored cut.
 * In valid JSON a backslash occurs only inside a string and always starts
 * an escape, so reading escape by escape cannot be fooled by "\\u0000"
 * (an escaped backslash, then the text u0000). */
static bool
escapes_nul(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL &&
	    end - p >= 2) {
		if (p[1] == 'u' && end - p >= 6 && memcmp(p + 2, "0000", 4) == 0)
			return true;
		p += 2;		/* the escape's letter is not a backslash */
	}
	return false;
}

cJSON *
svc_parse_body(const struct svc_request *req, struct svc_response *resp)
{
	const char *end = NULL, *why;
	cJSON *json;

	if (req->body_too_large) {
		svc_response_error(resp, 413, "payload too large",
		    "the body is over %d bytes", SVC_BODY_MAX);
		return NULL;
	}
	if (!is_json_type(req->content_type)) {
		svc_response_error(resp, 415, "unsupported media type",
		    "send the body as application/json, not '%.64s'",
		    *req->content_type ? req->content_type : "(none)");
		return NULL;
	}
	if (req->body_len == 0) {
		svc_response_error(resp, 400, "invalid request",
		    "the body is empty; a JSON object is expected");
		return NULL;
	}
	if (strlen(req->body) != req->body_len) {
		svc_response_error(resp, 400, "invalid JSON",
		    "the body holds a NUL byte");
		return NULL;
	}
	json = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
	if (json == NULL) {
		svc_response_error(resp, 400, "invalid JSON",
		    "the body is not JSON (error near byte %ld)",
		    (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - req->body
		    : 0));
		return NULL;
	}
	if (escapes_nul(req->body, req->body_len)) {
		cJSON_Delete(json);
		svc_response_error(resp, 400, "invalid request",
		    "a string holds a NUL character (\\u0000)");
		return NULL;
	}
	while (end != NULL && isspace((unsigned char)*end))
		end++;
	if (end != NULL && *end != '\0') {
		cJSON_Delete(json);
		svc_response_error(resp, 400, "invalid JSON",
		    "the body has data after the JSON value");
		return NULL;
	}
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		svc_response_error(resp, 400, "invalid request",
		    "the body must be a JSON object");
		return NULL;
	}
	if ((why = check_value(json, 1)) != NULL) {
		cJSON_Delete(json);
		svc_response_error(resp, 400, "invalid request", "%s", why);
		return NULL;
	}
	return json;
}

const char *
svc_json_str(const cJSON *obj, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(obj, name));

	return v != NULL ? v : "";
}

const char *
svc_field_string(const cJSON *obj, const char *name, size_t max,
    bool allow_empty, struct svc_response *resp)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	size_t len;

	if (v == NULL) {
		svc_response_error(resp, 400, "invalid request",
		    "field '%s' is missing", name);
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		svc_response_error(resp, 400, "invalid request",
		    "field '%s' must be a string", name);
		return NULL;
	}
	len = strlen(v->valuestring);
	if (len == 0 && !allow_empty) {
		svc_response_error(resp, 400, "invalid request",
		    "field '%s' must not be empty", name);
		return NULL;
	}
	if (len > max) {
		svc_response_error(resp, 400, "invalid request",
		    "field '%s' is longer than %zu bytes", name, max);
		return NULL;
	}
	return v->valuestring;
}

bool
svc_is_oid(const char *s)
{
	size_t i;

	for (i = 0; i < 24; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[24] == '\0';
}

bool
svc_is_printable(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!isprint((unsigned char)s[i]))
			return false;
	return true;
}

bool
svc_is_http_url(const char *s, size_t max)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	bool ok = false;
	const char *p;

	if (strlen(s) > max)
		return false;
	for (p = s; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p) || *p == ' ')
			return false;
	if ((u = curl_url()) == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = (strcmp(scheme, "http") == 0 ||
		    strcmp(scheme, "https") == 0) && *host != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}
