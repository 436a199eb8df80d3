/*
 * fuzz-validate.c - a request as FastCGI hands it over, then its body and
 * fields checked as the handlers check them (request.c, validate.c,
 * clock.c's dates).
 *
 * Input: FastCGI parameters, "NAME=value" one a line, an empty line, then
 * the body (any bytes). Properties: nothing crashes; a refusal is a JSON
 * {"error","detail"} with a 4xx; what is accepted has what the checks
 * promise (an object, no '$' key, strings within their limits, dates that
 * print and parse back to the same instant).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "service.h"
#include "tickets.h"
#include "fuzz.h"

#define MAX_PARAMS 64

/* No key anywhere starts with '$', and nothing is deeper than 16 levels:
 * what svc_parse_body promises of an accepted body. */
static void
check_accepted(const cJSON *v, int depth)
{
	const cJSON *item;

	FUZZ_ASSERT(depth <= 16);
	cJSON_ArrayForEach(item, v) {
		if (cJSON_IsObject(v))
			FUZZ_ASSERT(item->string[0] != '$');
		check_accepted(item, depth + 1);
	}
}

/* A string field as a handler reads it: either a 400 or a string within
 * max (and not empty unless allowed). */
static const char *
field(const cJSON *body, const char *name, size_t max, bool allow_empty)
{
	struct svc_response resp;
	const char *v;

	svc_response_init(&resp);
	v = svc_field_string(body, name, max, allow_empty, &resp);
	if (v == NULL) {
		FUZZ_ASSERT(resp.status == 400);
		fuzz_check_error(&resp);
	} else {
		FUZZ_ASSERT(strlen(v) <= max);
		FUZZ_ASSERT(allow_empty || *v != '\0');
	}
	svc_response_free(&resp);
	return v;
}

static void
check_fields(const cJSON *body)
{
	const char *s;
	int64_t ms, again;
	char iso[64];
	size_t i;

	if ((s = field(body, "ticketId", 24, false)) != NULL &&
	    svc_is_oid(s)) {
		FUZZ_ASSERT(strlen(s) == 24);
		for (i = 0; i < 24; i++)
			FUZZ_ASSERT(isxdigit((unsigned char)s[i]));
	}
	field(body, "user", TICKETS_USER_MAX, false);
	field(body, "message", TICKETS_MESSAGE_MAX, false);
	field(body, "title", TICKETS_TITLES_MAX, true);
	/* A URL taken has nothing that could split a header or a log line. */
	if ((s = field(body, "url", TICKETS_URL_MAX, false)) != NULL &&
	    svc_is_http_url(s, TICKETS_URL_MAX))
		for (i = 0; s[i] != '\0'; i++)
			FUZZ_ASSERT(!iscntrl((unsigned char)s[i]) &&
			    s[i] != ' ');
	/* A date that parses prints as one that parses to the same time. */
	if ((s = field(body, "since", 40, false)) != NULL &&
	    svc_parse_iso_time(s, &ms)) {
		svc_iso_time(ms, iso, sizeof iso);
		FUZZ_ASSERT(svc_parse_iso_time(iso, &again));
		FUZZ_ASSERT(again == ms);
	}
	(void)svc_json_str(body, "id");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svc_request req;
	struct svc_response resp;
	char *copy, *p, *end, *nl, *env[MAX_PARAMS + 1];
	size_t n = 0;
	cJSON *body;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	/* The parameters, up to the empty line. */
	for (p = copy; p < end && *p != '\n' && n < MAX_PARAMS; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		env[n++] = p;
		if (nl == end)
			break;
	}
	env[n] = NULL;
	if (p < end && *p == '\n')
		p++;

	memset(&req, 0, sizeof req);
	svc_request_from_env(&req, env, "fuzz");
	if (p < end)
		svc_request_add_body(&req, p, (size_t)(end - p));
	FUZZ_ASSERT(req.method != NULL && req.path != NULL &&
	    req.query != NULL && req.content_type != NULL &&
	    req.body != NULL && req.request_id != NULL);
	FUZZ_ASSERT(req.content_length >= -1);
	FUZZ_ASSERT(req.body_too_large == (req.content_length > SVC_BODY_MAX));
	(void)svc_request_param(&req, "HTTP_IDEMPOTENCY_KEY");

	svc_response_init(&resp);
	if ((body = svc_parse_body(&req, &resp)) == NULL) {
		FUZZ_ASSERT(resp.status == 400 || resp.status == 413 ||
		    resp.status == 415);
		fuzz_check_error(&resp);
	} else {
		FUZZ_ASSERT(cJSON_IsObject(body));
		FUZZ_ASSERT(strlen(req.body) == req.body_len);
		check_accepted(body, 1);
		check_fields(body);
		cJSON_Delete(body);
	}
	svc_response_free(&resp);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
	free(copy);
	return 0;
}
