/*
 * perform.c - performing a call: the article's dispatcher, minus its bugs.
 *
 * vd_call_perform reads as the steps of a call: the candidates (the live
 * entries in range, from the client's copy of the registry); their order,
 * breakers and allow-list verdicts; the requests' headers; then each step
 * the plan (plan.c) decides, trying or skipping a candidate, until one
 * answers 2xx with JSON (or nothing; see vd_client_set_reply_check for
 * what is taken for JSON) or 4xx, which is the caller's fault and would be
 * the same anywhere; then the result and its error text. A POST carries
 * one Idempotency-Key across all of its attempts, so that a version that
 * applied it but failed to answer cannot have it applied twice by the
 * next.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "vd-private.h"

/* What one attempt at one version came to. */
struct vd_attempt {
	vd_code_t code;
	int status;                 /* last HTTP status seen, 0 if none */
	size_t made;                /* HTTP requests sent (or tried) */
	bool timed_out;
	char reason[128];           /* for the "tried" list when it failed */
};

/* The candidates of one perform: the registry's entries, and for each its
 * version and host as text, its label in logs ("1.0.1", or "1.0.1 at
 * http://10.0.0.2:8080" when the version has several hosts) and its
 * breaker. plan[] is the order they are tried in. */
struct vd_cand {
	const vd_entry_t *entry;
	struct vd_plan_cand *plan;
	char version[128];
	char host[VD_HOST_SIZE];
	char label[128 + 4 + VD_HOST_SIZE];
};

struct vd_cands {
	vd_entry_t *entries;
	size_t n;
	struct vd_cand *c;          /* as the registry gave them */
	struct vd_plan_cand *plan;  /* in the order they are tried */
};

/* The headers of one perform's GETs and POSTs, and its Idempotency-Key. */
struct vd_requests {
	struct curl_slist *get;
	struct curl_slist *post;
	char key[40];
};

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

/* Tries one candidate (a version at a host): each of its endpoints,
 * merging their replies. On success or 4xx the reply is left in call;
 * otherwise a->reason says why the candidate failed. */
static void
try_version(vd_call_t *call, const struct vd_cand *c,
    const struct vd_requests *rq, int64_t deadline_at, bool fallback,
    struct vd_attempt *a)
{
	vd_client_t *client = call->client;
	const vd_entry_t *entry = c->entry;
	const char *version = c->label;
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
			.headers = post ? rq->post : rq->get,
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
				.version = c->version,
				.code = a->code,
				.http_status = resp.status,
				.elapsed_ms = (long)(vd_mono_ms() - started),
				.fallback = fallback,
				.state = "",
				.host = c->host,
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
		snprintf(call->version, sizeof call->version, "%s",
		    c->version);
		snprintf(call->host, sizeof call->host, "%s", c->host);
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
 * (its label) went from one state to another. */
static void
breaker_changed(vd_client_t *client, const char *name,
    const struct vd_cand *c, vd_breaker_state_t from, vd_breaker_state_t to,
    const char *why)
{
	const vd_breaker_t *b = c->plan->breaker;
	vd_observation_t obs = {
		.kind = VD_OBSERVE_BREAKER,
		.service = name,
		.version = c->version,
		.state = vd_breaker_state_name(to),
		.host = c->host,
	};

	if (b == NULL || to == from)
		return;
	switch (to) {
	case VD_BREAKER_OPEN:
		vd_log(client, VD_LOG_WARN, "circuit of %s %s open for %.1f s: "
		    "%s", name, c->label, (double)b->open_ms / 1000, why);
		break;
	case VD_BREAKER_HALF_OPEN:
		vd_log(client, VD_LOG_INFO, "circuit of %s %s half-open: one "
		    "trial call", name, c->label);
		break;
	case VD_BREAKER_CLOSED:
		vd_log(client, VD_LOG_INFO, "circuit of %s %s closed: %s",
		    name, c->label, why);
		break;
	}
	vd_observe(client, &obs);
}

static void
cands_free(struct vd_cands *cs)
{
	vd_entries_free(cs->entries, cs->n);
	free(cs->c);
	free(cs->plan);
	memset(cs, 0, sizeof *cs);
}

/* Step 2 of a call: what the plan needs of each candidate (its breaker,
 * whether its URLs are allowed), in the order they are tried. */
static vd_code_t
cands_prepare(vd_call_t *call, struct vd_cands *cs, vd_error_t *error)
{
	vd_client_t *client = call->client;
	char why[VD_ERROR_SIZE], where[VD_HOST_SIZE + 256];
	size_t i;

	if ((cs->c = calloc(cs->n, sizeof *cs->c)) == NULL ||
	    (cs->plan = calloc(cs->n, sizeof *cs->plan)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	for (i = 0; i < cs->n; i++) {
		struct vd_cand *c = &cs->c[i];
		struct vd_plan_cand *p = &cs->plan[i];
		struct vd_breaker_entry *br;

		c->entry = &cs->entries[i];
		vd_version_format(&c->entry->version, c->version,
		    sizeof c->version);
		vd_entry_host(c->entry, c->host, sizeof c->host);
		/* One breaker per version, host and entry. */
		snprintf(where, sizeof where, "%s %s", c->host, c->entry->url);
		br = vd_client_breaker(client, call->name, c->version, where);
		p->version = c->entry->version;
		p->host = c->host;
		p->breaker = br != NULL ? &br->breaker : NULL;
		p->allowed = endpoints_allowed(client, c->entry, why,
		    sizeof why);
		p->entry = i;
	}
	if (!client->turn_set) {
		/* Processes that make one call each must not all start on
		 * the same host. */
		if (RAND_bytes((unsigned char *)&client->turn,
		    sizeof client->turn) != 1)
			client->turn = (unsigned)vd_mono_ms();
		client->turn_set = true;
	}
	vd_plan_order(cs->plan, cs->n, client->turn++);
	for (i = 0; i < cs->n; i++) {
		struct vd_cand *c = &cs->c[cs->plan[i].entry];

		c->plan = &cs->plan[i];
		if (c->plan->shared)
			snprintf(c->label, sizeof c->label, "%s at %s",
			    c->version, c->host[0] != '\0' ? c->host : "?");
		else
			snprintf(c->label, sizeof c->label, "%s", c->version);
	}
	return VD_OK;
}

/* Step 3: the headers of the requests the candidates may send, no
 * others; one key per perform, the same for every candidate tried. */
static vd_code_t
requests_prepare(const vd_call_t *call, const struct vd_cands *cs,
    struct vd_requests *rq, vd_error_t *error)
{
	bool ok_get = true, ok_post = true;

	if (any_endpoint(cs->entries, cs->n, "http-post")) {
		if (vd_call_find_header(call, "Idempotency-Key") == NULL &&
		    !make_key(rq->key, sizeof rq->key))
			return vd_error_set(error, VD_ENOMEM, 0,
			    "Cannot make an Idempotency-Key: no random bytes");
		rq->post = vd_call_headers(call, true, rq->key, &ok_post);
	}
	if (any_endpoint(cs->entries, cs->n, "http-get"))
		rq->get = vd_call_headers(call, false, rq->key, &ok_get);
	if (!ok_get || !ok_post)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return VD_OK;
}

static void
requests_free(struct vd_requests *rq)
{
	curl_slist_free_all(rq->get);
	curl_slist_free_all(rq->post);
	rq->get = rq->post = NULL;
}

/* Tells why a candidate is not called, and adds it to the tried list. */
static void
tell_skip(vd_call_t *call, const struct vd_cand *c, const vd_step_t *s,
    char *tried, size_t size)
{
	vd_client_t *client = call->client;
	char why[VD_ERROR_SIZE];

	if (s->why == VD_SKIP_URL) {
		endpoints_allowed(client, c->entry, why, sizeof why);
		vd_log(client, VD_LOG_WARN, "not calling %s %s: %s",
		    call->name, c->label, why);
		add_tried(tried, size, c->label, "URL not allowed");
		return;
	}
	if (s->remaining_ms > 0)
		vd_log(client, VD_LOG_INFO, "skipping %s %s: circuit open for "
		    "%.1f s more", call->name, c->label,
		    (double)s->remaining_ms / 1000);
	else
		vd_log(client, VD_LOG_INFO, "skipping %s %s: circuit "
		    "half-open, its trial call is out", call->name, c->label);
	vd_observe(client, &(vd_observation_t){
		.kind = VD_OBSERVE_SKIPPED,
		.service = call->name,
		.version = c->version,
		.state = "open",
		.host = c->host,
	});
	add_tried(tried, size, c->label, "skipped: circuit open");
}

/* What a perform found, for its error text. */
struct vd_outcome {
	struct vd_attempt a;        /* the last attempt */
	int last_status;            /* the last HTTP status seen */
	char tried[VD_ERROR_SIZE];  /* "1.0.1 (HTTP 500), 1.0.0 (...)" */
	char last_failed[160];      /* the last failure, for the budget */
};

/* Step 5: the call's result, and its error text when it failed. */
static vd_code_t
finish(vd_call_t *call, const struct vd_plan *plan,
    const struct vd_cands *cs, const struct vd_outcome *o,
    int64_t deadline_at, vd_error_t *error)
{
	vd_client_t *client = call->client;
	const char *spec = *vd_range_spec(call->range) != '\0' ?
	    vd_range_spec(call->range) : "*";

	switch (plan->end) {
	case VD_END_ANSWERED:
		if (o->a.code == VD_ECLIENT) {
			char detail[160];

			vd_json_error_text(call->reply, call->reply_len,
			    detail, sizeof detail);
			return vd_error_set(error, VD_ECLIENT, o->a.status,
			    "%s %s answered HTTP %d%s%s", call->name,
			    call->version, o->a.status,
			    detail[0] != '\0' ? ": " : "", detail);
		}
		return o->a.code;
	case VD_END_NOMEM:
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	case VD_END_BUDGET:
		return vd_error_set(error, VD_EBUDGET, o->last_status,
		    "retry budget exhausted: %s %s failed at %s; fallback to "
		    "%s refused (budget: %g%% of calls plus %g a second, over "
		    "%d s)", call->name, spec, o->last_failed,
		    cs->c[plan->cands[plan->next - 1].entry].label,
		    client->budget.percent, client->budget.per_second,
		    client->budget.window_s);
	}
	/* Out of time if the deadline left candidates untried or cut the
	 * last one short. */
	if (plan->end == VD_END_DEADLINE || (o->a.timed_out &&
	    deadline_at - vd_mono_ms() <= 0))
		return vd_error_set(error, VD_ETIMEOUT, o->last_status,
		    "Deadline of %ld ms passed calling %s %s: tried %s",
		    client->deadline_ms, call->name, spec,
		    o->tried[0] != '\0' ? o->tried : "nothing");
	return vd_error_set(error, VD_ENOSERVICE, o->last_status,
	    "No service available for %s %s: tried %s", call->name, spec,
	    o->tried);
}

/* When every candidate's circuit is open the plan tries one anyway; said
 * once until that circuit closes, not on every call. */
static void
tell_forced(vd_call_t *call, const struct vd_plan *plan,
    const struct vd_cands *cs)
{
	const struct vd_plan_cand *p;
	const char *spec = *vd_range_spec(call->range) != '\0' ?
	    vd_range_spec(call->range) : "*";

	if (plan->forced == SIZE_MAX)
		return;
	p = &plan->cands[plan->forced];
	vd_log(call->client, p->breaker->panic_told ? VD_LOG_DEBUG :
	    VD_LOG_WARN, "every version of %s in %s has its circuit open: "
	    "trying %s anyway (open for %.1f s more)", call->name, spec,
	    cs->c[p->entry].label, (double)plan->forced_ms / 1000);
	p->breaker->panic_told = true;
}

/* A TRY step: the attempt, its outcome told to the plan (and so to the
 * breaker) and to the logger; returns whether the call goes on. */
static bool
attempt(vd_call_t *call, struct vd_plan *plan, const vd_step_t *s,
    const struct vd_cand *c, const struct vd_requests *rq,
    struct vd_outcome *o)
{
	struct vd_plan_change change;
	bool going;

	breaker_changed(call->client, call->name, c, s->from, s->to, "");
	memset(&o->a, 0, sizeof o->a);
	try_version(call, c, rq, plan->deadline_at, plan->tried_one, &o->a);
	if (o->a.status != 0)
		o->last_status = o->a.status;
	going = vd_plan_record(plan, s, o->a.code, o->a.made, vd_mono_ms(),
	    &change);
	breaker_changed(call->client, call->name, c, change.from, change.to,
	    change.why);
	if (going) {
		snprintf(o->last_failed, sizeof o->last_failed,
		    "%.30s (%.120s)", c->label, o->a.reason);
		add_tried(o->tried, sizeof o->tried, c->label, o->a.reason);
	}
	return going;
}

/* The budget refused to fall back to c. */
static void
tell_refused(vd_call_t *call, const struct vd_cand *c)
{
	vd_observe(call->client, &(vd_observation_t){
		.kind = VD_OBSERVE_BUDGET,
		.service = call->name,
		.version = c->version,
		.host = c->host,
	});
	vd_log(call->client, VD_LOG_WARN, "not falling back to %s %s: retry "
	    "budget exhausted", call->name, c->label);
}

vd_code_t
vd_call_perform(vd_call_t *call, vd_error_t *error)
{
	struct vd_cands cs = { 0 };
	struct vd_requests rq = { .get = NULL };
	struct vd_outcome o = { .a.code = VD_ENOSERVICE };
	struct vd_plan plan;
	vd_client_t *client;
	vd_step_t s;
	char why[200];
	int64_t deadline_at;
	vd_code_t code;

	if (call == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_call_perform: NULL call");
	client = call->client;
	vd_call_clear_results(call);
	deadline_at = vd_mono_ms() + client->deadline_ms;

	/* 1. The live entries in range, from the client's registry copy. */
	code = vd_registry_candidates(client, call->name, call->range,
	    &cs.entries, &cs.n, why, sizeof why, error);
	if (code != VD_OK)
		return code;
	if (cs.n == 0)
		return vd_error_set(error, VD_ENOSERVICE, 0,
		    "No service available for %s %s: %s", call->name,
		    *vd_range_spec(call->range) != '\0' ?
		    vd_range_spec(call->range) : "*", why);
	/* 2, 3. Their order, breakers and allow-list; the requests. */
	if ((code = cands_prepare(call, &cs, error)) != VD_OK ||
	    (code = requests_prepare(call, &cs, &rq, error)) != VD_OK)
		goto out;
	/* 4. Each step the plan decides, until one answers or none is
	 * left. */
	vd_plan_init(&plan, cs.plan, cs.n, &client->breaker_cfg,
	    &client->budget, vd_mono_ms(), deadline_at);
	tell_forced(call, &plan, &cs);
	while ((s = vd_plan_next(&plan, vd_mono_ms())).kind != VD_STEP_END) {
		struct vd_cand *c = &cs.c[cs.plan[s.index].entry];

		if (s.kind == VD_STEP_SKIP)
			tell_skip(call, c, &s, o.tried, sizeof o.tried);
		else if (!attempt(call, &plan, &s, c, &rq, &o))
			break;
	}
	if (s.kind == VD_STEP_END && s.why == VD_END_BUDGET)
		tell_refused(call, &cs.c[cs.plan[s.index].entry]);
	/* 5. The result. */
	code = finish(call, &plan, &cs, &o, deadline_at, error);
out:
	requests_free(&rq);
	cands_free(&cs);
	return code;
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
