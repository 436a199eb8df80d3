/*
 * call.c - calls with fallback: the article's dispatcher, minus its bugs.
 *
 * The candidates are the live registered versions in range, newest first.
 * Each is tried in turn until one answers 2xx with JSON (or nothing; see
 * vd_client_set_reply_check for what is taken for JSON), or
 * one answers 4xx, which is the caller's fault and would be the same
 * anywhere. A POST carries one Idempotency-Key across all of its attempts,
 * so that a version that applied it but failed to answer cannot have it
 * applied twice by the next.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "vd-private.h"

struct vd_header {
	char *name;
	char *value;
};

struct vd_call {
	vd_client_t *client;
	char *name;
	vd_range_t *range;
	char *body;                 /* NULL: none */
	size_t body_len;
	struct vd_header *headers;
	size_t n_headers;

	/* What the last perform found. */
	char *reply;
	size_t reply_len;
	int status;
	char version[128];
	size_t attempts;
};

/* What one attempt at one version came to. */
struct vd_attempt {
	vd_code_t code;
	int status;                 /* last HTTP status seen, 0 if none */
	size_t made;                /* HTTP requests sent (or tried) */
	bool timed_out;
	char reason[128];           /* for the "tried" list when it failed */
};

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

static void
clear_results(vd_call_t *call)
{
	free(call->reply);
	call->reply = NULL;
	call->reply_len = 0;
	call->status = 0;
	call->version[0] = '\0';
	call->attempts = 0;
}

void
vd_call_destroy(vd_call_t *call)
{
	size_t i;

	if (call == NULL)
		return;
	clear_results(call);
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

static struct vd_header *
find_header(const vd_call_t *call, const char *name)
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
	if ((h = find_header(call, name)) != NULL) {
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

/* The headers of every GET or every POST of one perform: the caller's,
 * then ours where the caller set none. */
static struct curl_slist *
build_headers(const vd_call_t *call, bool post, const char *key, bool *ok)
{
	struct curl_slist *list = NULL;
	size_t i;

	*ok = true;
	for (i = 0; i < call->n_headers && *ok; i++)
		*ok = append_header(&list, call->headers[i].name,
		    call->headers[i].value);
	if (*ok && find_header(call, "Accept") == NULL)
		*ok = append_header(&list, "Accept", "application/json");
	if (*ok && call->client->auth_header != NULL &&
	    find_header(call, "Authorization") == NULL) {
		struct curl_slist *l = curl_slist_append(list,
		    call->client->auth_header);

		if (l != NULL)
			list = l;
		else
			*ok = false;
	}
	if (post) {
		if (*ok && find_header(call, "Content-Type") == NULL)
			*ok = append_header(&list, "Content-Type",
			    "application/json");
		if (*ok && find_header(call, "Idempotency-Key") == NULL)
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

/* 128 random bits in hex: the key that makes a POST safe to send to the
 * next version. */
static bool
make_key(char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[16];
	size_t i;

	if (size < 2 * sizeof bytes + 1 || RAND_bytes(bytes, sizeof bytes) != 1)
		return false;
	for (i = 0; i < sizeof bytes; i++) {
		buf[2 * i] = hex[bytes[i] >> 4];
		buf[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	buf[2 * sizeof bytes] = '\0';
	return true;
}

/* Whether any candidate has an endpoint of type: a perform builds the
 * headers (and the key) of the requests it may send, no others. */
static bool
any_endpoint(const vd_entry_t *cands, size_t n, const char *type)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < cands[i].n_endpoints; j++)
			if (strcmp(cands[i].endpoints[j].type, type) == 0)
				return true;
	return false;
}

/* Whether a 2xx body is readable (see vd_client_set_reply_check), with
 * the parsed reply in *json when it had to be parsed (or must be: merge).
 * VD_EREPLY, and resp->reason, when it is not. */
static vd_code_t
check_reply(const vd_client_t *client, vd_http_response_t *resp,
    bool merge, cJSON **json)
{
	bool typed = client->reply_check == VD_REPLY_TYPED &&
	    resp->content_type[0] != '\0';

	if (typed && !vd_http_json_type(resp->content_type)) {
		snprintf(resp->reason, sizeof resp->reason,
		    "unreadable reply (HTTP %d, %.60s, not JSON)",
		    resp->status, resp->content_type);
		return VD_EREPLY;
	}
	if ((!typed || merge) &&
	    (*json = vd_json_parse(resp->body, resp->len)) == NULL) {
		snprintf(resp->reason, sizeof resp->reason,
		    "unreadable reply (HTTP %d, not JSON)", resp->status);
		return VD_EREPLY;
	}
	return VD_OK;
}

/* Whether every endpoint of entry is on the client's allow-list: an
 * entry anyone with access to the registry database may have written is
 * never contacted off it. why says which URL was refused. */
static bool
endpoints_allowed(vd_client_t *client, const vd_entry_t *entry, char *why,
    size_t size)
{
	size_t i;

	for (i = 0; i < entry->n_endpoints; i++)
		if (!vd_client_url_allowed(client, entry->endpoints[i].url, why,
		    size))
			return false;
	return true;
}

/* Tries one version: each of its endpoints, merging their replies. On
 * success or 4xx the reply is left in call; otherwise a->reason says why
 * the version failed. */
static void
try_version(vd_call_t *call, const vd_entry_t *entry, const char *version,
    struct curl_slist *get_headers, struct curl_slist *post_headers,
    int64_t deadline_at, bool fallback, struct vd_attempt *a)
{
	vd_client_t *client = call->client;
	vd_http_response_t resp = { .retry_after_s = -1 };
	cJSON *merged = NULL;
	char step[64] = "";
	int64_t started;
	size_t i;

	a->code = VD_OK;
	if (entry->n_endpoints == 0) {
		a->code = VD_EREPLY;
		snprintf(a->reason, sizeof a->reason, "no endpoints");
		vd_log(client, VD_LOG_WARN, "calling %s %s ... failed: %s",
		    call->name, version, a->reason);
	}
	for (i = 0; i < entry->n_endpoints && a->code == VD_OK; i++) {
		const vd_endpoint_t *ep = &entry->endpoints[i];
		bool post = strcmp(ep->type, "http-post") == 0;
		int64_t remaining = deadline_at - vd_mono_ms();
		vd_http_request_t req = {
			.method = post ? "POST" : "GET",
			.url = ep->url,
			.body = post ? call->body : NULL,
			.body_len = post ? call->body_len : 0,
			.headers = post ? post_headers : get_headers,
		};
		cJSON *json = NULL;

		if (entry->n_endpoints > 1)
			snprintf(step, sizeof step, " (endpoint %zu of %zu)",
			    i + 1, entry->n_endpoints);
		if (!post && strcmp(ep->type, "http-get") != 0) {
			a->code = VD_EREPLY;
			snprintf(a->reason, sizeof a->reason,
			    "unknown endpoint type \"%.40s\"", ep->type);
			vd_log(client, VD_LOG_WARN,
			    "calling %s %s%s ... failed: %s", call->name,
			    version, step, a->reason);
			break;
		}
		if (remaining <= 0) {
			a->code = VD_ETIMEOUT;
			a->timed_out = true;
			snprintf(a->reason, sizeof a->reason,
			    "deadline passed");
			break;
		}
		/* One version costs one attempt at most, and no attempt
		 * outlives the call's deadline. */
		req.total_ms = client->attempt_ms < remaining ?
		    client->attempt_ms : (long)remaining;
		req.connect_ms = client->connect_ms < req.total_ms ?
		    client->connect_ms : req.total_ms;
		call->attempts++;
		a->made++;
		started = vd_mono_ms();
		a->code = vd_http_perform(client->curl, &req, &resp);
		a->status = resp.status;
		a->timed_out = resp.timed_out;
		if (a->code == VD_OK && resp.len > 0)
			a->code = check_reply(client, &resp,
			    entry->n_endpoints > 1, &json);
		if (client->observe_fn != NULL) {
			vd_observation_t obs = {
				.kind = VD_OBSERVE_ATTEMPT,
				.service = call->name,
				.version = version,
				.code = a->code,
				.http_status = resp.status,
				.elapsed_ms = (long)(vd_mono_ms() - started),
				.fallback = fallback,
				.state = "",
			};

			vd_observe(client, &obs);
		}
		if (a->code == VD_OK) {
			vd_log(client, VD_LOG_INFO, "calling %s %s%s ... ok",
			    call->name, version, step);
		} else {
			vd_log(client, VD_LOG_WARN,
			    "calling %s %s%s ... failed: %s", call->name,
			    version, step, resp.reason);
			snprintf(a->reason, sizeof a->reason, "%s",
			    resp.reason);
		}
		if (a->code == VD_ECLIENT ||
		    (a->code == VD_OK && entry->n_endpoints == 1)) {
			/* The service's own bytes: cJSON would round large
			 * numbers through a double. */
			call->reply = resp.body;
			call->reply_len = resp.len;
			resp.body = NULL;
		}
		if (a->code == VD_OK && entry->n_endpoints > 1)
			merged = vd_json_merge(merged, json);
		else
			cJSON_Delete(json);
	}
	if (a->code == VD_OK && entry->n_endpoints > 1) {
		call->reply = merged != NULL ? cJSON_PrintUnformatted(merged) :
		    strdup("");
		if (call->reply == NULL) {
			a->code = VD_ENOMEM;
			snprintf(a->reason, sizeof a->reason, "out of memory");
		} else {
			call->reply_len = strlen(call->reply);
		}
	}
	cJSON_Delete(merged);
	vd_http_response_clear(&resp);
	if (a->code == VD_OK || a->code == VD_ECLIENT) {
		snprintf(call->version, sizeof call->version, "%s", version);
		call->status = a->status;
	}
}

/* Appends "1.0.1 (HTTP 500)" to the list of versions tried. */
static void
add_tried(char *buf, size_t size, const char *version, const char *reason)
{
	size_t used = strlen(buf);
	int n;

	if (used + 4 >= size)
		return;
	n = snprintf(buf + used, size - used, "%s%s (%s)",
	    used > 0 ? ", " : "", version, reason);
	if (n < 0 || (size_t)n >= size - used)
		strcpy(buf + size - 4, "...");
}

/* Tells the logger and the observer that the breaker of name at version
 * went from one state to another. */
static void
breaker_changed(vd_client_t *client, const char *name, const char *version,
    const vd_breaker_t *b, vd_breaker_state_t from, const char *why)
{
	vd_observation_t obs = {
		.kind = VD_OBSERVE_BREAKER,
		.service = name,
		.version = version,
		.state = vd_breaker_state_name(b->state),
	};

	if (b->state == from)
		return;
	switch (b->state) {
	case VD_BREAKER_OPEN:
		vd_log(client, VD_LOG_WARN, "circuit of %s %s open for %.1f s: "
		    "%s", name, version, (double)b->open_ms / 1000, why);
		break;
	case VD_BREAKER_HALF_OPEN:
		vd_log(client, VD_LOG_INFO, "circuit of %s %s half-open: one "
		    "trial call", name, version);
		break;
	case VD_BREAKER_CLOSED:
		vd_log(client, VD_LOG_INFO, "circuit of %s %s closed: %s",
		    name, version, why);
		break;
	}
	vd_observe(client, &obs);
}

/* Whether an attempt that ended with code counts for the breaker: a
 * failure is what makes a call fall back (connection error, timeout, 5xx,
 * unreadable reply); 2xx and 4xx are successes (the version answered);
 * running out of the call's deadline or of memory says nothing of it. */
static bool
counts_for_breaker(const struct vd_attempt *a)
{
	return a->code != VD_ENOMEM && !(a->code == VD_ETIMEOUT &&
	    a->made == 0);
}

/* The version whose breaker is open and closes soonest, when every
 * candidate's breaker is open; SIZE_MAX when one at least may be called. */
static size_t
all_open(struct vd_breaker_entry **br, size_t n, int64_t now)
{
	int64_t soonest = INT64_MAX, remaining;
	size_t i, pick = SIZE_MAX;

	for (i = 0; i < n; i++) {
		if (br[i] == NULL || vd_breaker_peek(&br[i]->breaker, now,
		    &remaining) != VD_BREAKER_OPEN)
			return SIZE_MAX;
		if (remaining < soonest) {
			soonest = remaining;
			pick = i;
		}
	}
	return pick;
}

vd_code_t
vd_call_perform(vd_call_t *call, vd_error_t *error)
{
	vd_client_t *client;
	vd_entry_t *cands = NULL;
	struct vd_breaker_entry **br = NULL;
	char (*versions)[128] = NULL;       /* each candidate's, formatted */
	size_t n = 0, i, forced = SIZE_MAX;
	struct curl_slist *get_headers = NULL, *post_headers = NULL;
	struct vd_attempt a = { .code = VD_ENOSERVICE };
	const char *spec;
	char why[200], key[40] = "", tried[VD_ERROR_SIZE] = "";
	char last_failed[160] = "";
	const char *version = "";
	int64_t deadline_at, now;
	int last_status = 0;
	bool ok_get = true, ok_post = true, out_of_time = false;
	bool tried_one = false;
	bool refused = false;
	vd_code_t code;

	if (call == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_perform: NULL call");
	client = call->client;
	spec = *vd_range_spec(call->range) != '\0' ?
	    vd_range_spec(call->range) : "*";
	clear_results(call);
	now = vd_mono_ms();
	deadline_at = now + client->deadline_ms;
	code = vd_registry_candidates(client, call->name, call->range, &cands,
	    &n, why, sizeof why, error);
	if (code != VD_OK)
		return code;
	if (n == 0)
		return vd_error_set(error, VD_ENOSERVICE, 0,
		    "No service available for %s %s: %s", call->name, spec,
		    why);
	if (any_endpoint(cands, n, "http-post")) {
		/* One key per perform, the same for every version tried. */
		if (find_header(call, "Idempotency-Key") == NULL &&
		    !make_key(key, sizeof key)) {
			vd_entries_free(cands, n);
			return vd_error_set(error, VD_ENOMEM, 0,
			    "Cannot make an Idempotency-Key: no random bytes");
		}
		post_headers = build_headers(call, true, key, &ok_post);
	}
	if (any_endpoint(cands, n, "http-get"))
		get_headers = build_headers(call, false, key, &ok_get);
	if (!ok_get || !ok_post || (br = calloc(n, sizeof *br)) == NULL ||
	    (versions = malloc(n * sizeof *versions)) == NULL) {
		code = vd_error_set(error, VD_ENOMEM, 0, "out of memory");
		goto out;
	}
	/* Each call is one deposit in the retry budget; each fallback (a
	 * version tried after another was) one withdrawal. */
	vd_budget_deposit(&client->budget, now);
	for (i = 0; i < n; i++) {
		vd_version_format(&cands[i].version, versions[i],
		    sizeof versions[i]);
		br[i] = vd_client_breaker(client, call->name, versions[i],
		    cands[i].url);
	}
	/* A breaker must not turn a degraded service into an outage: when
	 * every candidate's circuit is open, the one that closes soonest is
	 * tried anyway, as its trial (Envoy's panic threshold). */
	if ((forced = all_open(br, n, now)) != SIZE_MAX) {
		vd_breaker_t *b = &br[forced]->breaker;
		int64_t remaining;

		vd_breaker_peek(b, now, &remaining);
		/* Told once until the circuit closes, not on every call. */
		vd_log(client, b->panic_told ? VD_LOG_DEBUG : VD_LOG_WARN,
		    "every version of %s in %s has its circuit open: trying "
		    "%s anyway (open for %.1f s more)", call->name, spec,
		    versions[forced], (double)remaining / 1000);
		b->panic_told = true;
	}
	for (i = 0; i < n; i++) {
		vd_breaker_t *b = br[i] != NULL ? &br[i]->breaker : NULL;
		vd_breaker_state_t from, to;
		int64_t remaining;
		char change[96];

		now = vd_mono_ms();
		if (deadline_at - now <= 0) {
			out_of_time = true;
			break;
		}
		version = versions[i];
		if (!endpoints_allowed(client, &cands[i], why, sizeof why)) {
			vd_log(client, VD_LOG_WARN, "not calling %s %s: %s",
			    call->name, version, why);
			add_tried(tried, sizeof tried, version,
			    "URL not allowed");
			continue;
		}
		if (b != NULL && i != forced && vd_breaker_peek(b, now,
		    &remaining) == VD_BREAKER_OPEN) {
			vd_observation_t obs = {
				.kind = VD_OBSERVE_SKIPPED,
				.service = call->name,
				.version = version,
				.state = "open",
			};

			if (remaining > 0)
				vd_log(client, VD_LOG_INFO, "skipping %s %s: "
				    "circuit open for %.1f s more",
				    call->name, version,
				    (double)remaining / 1000);
			else
				vd_log(client, VD_LOG_INFO, "skipping %s %s: "
				    "circuit half-open, its trial call is out",
				    call->name, version);
			vd_observe(client, &obs);
			add_tried(tried, sizeof tried, version,
			    "skipped: circuit open");
			continue;
		}
		if (tried_one && !vd_budget_withdraw(&client->budget, now)) {
			vd_observation_t obs = {
				.kind = VD_OBSERVE_BUDGET,
				.service = call->name,
				.version = version,
			};

			vd_observe(client, &obs);
			vd_log(client, VD_LOG_WARN, "not falling back to %s "
			    "%s: retry budget exhausted", call->name, version);
			refused = true;
			break;
		}
		from = b != NULL ? b->state : VD_BREAKER_CLOSED;
		if (b != NULL) {
			vd_breaker_begin(b, now, i == forced);
			breaker_changed(client, call->name, version, b, from,
			    "");
			from = b->state;
		}
		memset(&a, 0, sizeof a);
		try_version(call, &cands[i], version, get_headers,
		    post_headers, deadline_at, tried_one, &a);
		if (a.made > 0)
			tried_one = true;
		if (b != NULL && counts_for_breaker(&a)) {
			to = vd_breaker_record(b, &client->breaker_cfg,
			    vd_mono_ms(), a.code == VD_OK ||
			    a.code == VD_ECLIENT, change, sizeof change);
			if (to != from)
				breaker_changed(client, call->name, version,
				    b, from, change);
		} else if (b != NULL) {
			vd_breaker_cancel(b);
		}
		if (a.status != 0)
			last_status = a.status;
		if (a.code == VD_OK || a.code == VD_ENOMEM)
			break;
		if (a.code == VD_ECLIENT) {
			char detail[160];

			vd_json_error_text(call->reply, call->reply_len,
			    detail, sizeof detail);
			vd_error_set(error, VD_ECLIENT, a.status,
			    "%s %s answered HTTP %d%s%s", call->name,
			    call->version, a.status,
			    detail[0] != '\0' ? ": " : "", detail);
			break;
		}
		snprintf(last_failed, sizeof last_failed, "%.30s (%.120s)",
		    version, a.reason);
		add_tried(tried, sizeof tried, version, a.reason);
	}
	code = a.code;
	if (refused) {
		code = vd_error_set(error, VD_EBUDGET, last_status,
		    "retry budget exhausted: %s %s failed at %s; fallback to "
		    "%s refused (budget: %g%% of calls plus %g a second, over "
		    "%d s)", call->name, spec, last_failed, version,
		    client->budget.percent, client->budget.per_second,
		    client->budget.window_s);
	} else if (code == VD_ENOMEM) {
		vd_error_set(error, code, 0, "out of memory");
	} else if (code != VD_OK && code != VD_ECLIENT) {
		/* Out of time if the deadline left versions untried or cut
		 * the last one short. */
		if (out_of_time || (a.timed_out &&
		    deadline_at - vd_mono_ms() <= 0)) {
			code = vd_error_set(error, VD_ETIMEOUT, last_status,
			    "Deadline of %ld ms passed calling %s %s: tried %s",
			    client->deadline_ms, call->name, spec,
			    tried[0] != '\0' ? tried : "nothing");
		} else {
			code = vd_error_set(error, VD_ENOSERVICE, last_status,
			    "No service available for %s %s: tried %s",
			    call->name, spec, tried);
		}
	}
out:
	free(versions);
	free(br);
	curl_slist_free_all(get_headers);
	curl_slist_free_all(post_headers);
	vd_entries_free(cands, n);
	return code;
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

size_t
vd_call_attempts(const vd_call_t *call)
{
	return call != NULL ? call->attempts : 0;
}

vd_code_t
vd_call_json(vd_client_t *client, const char *name, const char *range,
    const char *body, char **reply, vd_error_t *error)
{
	vd_call_t *call;
	vd_code_t code;

	if (reply != NULL)
		*reply = NULL;
	if (reply == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_json: NULL reply");
	if ((call = vd_call_new(client, name, range, error)) == NULL)
		return error != NULL ? error->code : VD_EINVAL;
	code = body != NULL ? vd_call_set_body(call, body, -1, error) : VD_OK;
	if (code == VD_OK)
		code = vd_call_perform(call, error);
	if ((code == VD_OK || code == VD_ECLIENT) && call->reply != NULL &&
	    (*reply = strdup(call->reply)) == NULL)
		code = vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	vd_call_destroy(call);
	return code;
}
