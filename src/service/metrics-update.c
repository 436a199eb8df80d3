/*
 * metrics-update.c - adding to the series of the metrics table (metrics.c):
 * counters, gauges, histograms, a request's two series (remembered by the
 * process), and libvdispatch's observations. Atomic additions only.
 */
#include <stdio.h>
#include <string.h>

#include "metrics-private.h"


void
svc_metrics_count(struct svc_metrics *m, const char *name,
    const char *labels, uint64_t n)
{
	struct mx_slot *s;

	if (m == NULL)
		return;
	if ((s = mx_slot_get(m, name, labels != NULL ? labels : "",
	    KIND_COUNTER, -1)) != NULL)
		__atomic_fetch_add(&s->v[0], n, __ATOMIC_RELAXED);
}

void
svc_metrics_gauge(struct svc_metrics *m, const char *name,
    const char *labels, int64_t value)
{
	struct mx_slot *s;

	if (m == NULL || m->worker < 0)
		return;
	if ((s = mx_slot_get(m, name, labels != NULL ? labels : "", KIND_GAUGE,
	    m->worker)) != NULL)
		__atomic_store_n(&s->v[0], (uint64_t)value, __ATOMIC_RELAXED);
}

/* Counts seconds into histogram slot s. */
void
mx_hist_add(struct mx_slot *s, double seconds)
{
	size_t b;

	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < MX_BUCKETS - 1 && seconds > mx_bounds[b]; b++)
		;
	__atomic_fetch_add(&s->v[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->v[MX_BUCKETS], (uint64_t)(seconds * 1e6 + 0.5),
	    __ATOMIC_RELAXED);
}

void
svc_metrics_observe(struct svc_metrics *m, const char *name,
    const char *labels, double seconds)
{
	struct mx_slot *s;

	if (m == NULL)
		return;
	if ((s = mx_slot_get(m, name, labels != NULL ? labels : "",
	    KIND_HISTOGRAM, -1)) != NULL)
		mx_hist_add(s, seconds);
}

size_t
svc_metrics_label(char *buf, size_t size, const char *key, const char *value)
{
	size_t len = strnlen(buf, size), start = len;
	const char *p;

#define PUT(c) do { if (len + 1 < size) buf[len] = (c); len++; } while (0)
	if (len >= size)
		return len;
	if (len > 0)
		PUT(',');
	for (p = key; *p != '\0'; p++)
		PUT(*p);
	PUT('=');
	PUT('"');
	for (p = value != NULL ? value : ""; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"') {
			PUT('\\');
			PUT(*p);
		} else if (*p == '\n') {
			PUT('\\');
			PUT('n');
		} else
			PUT(*p);
	}
	PUT('"');
#undef PUT
	if (len + 1 > size) {
		/* Too long: leave buf as it was rather than cut a label. */
		buf[start] = '\0';
		return len;
	}
	buf[len] = '\0';
	return len;
}

/* Methods as labels: the usual ones, else "other" (a client must not be
 * able to make series of its own). */
static const char *const methods[] = { "other", "GET", "HEAD", "POST",
    "PUT", "DELETE", "PATCH", "OPTIONS" };

static int
method_index(const char *method)
{
	int i;

	for (i = 1; i < (int)(sizeof methods / sizeof *methods); i++)
		if (strcmp(method, methods[i]) == 0)
			return i;
	return 0;
}

/* The slots of a request's two series: from the memo, else looked up (and
 * remembered). A series that does not fit in the table is NULL. */
static void
request_slots(struct svc_metrics *m, const struct svc_route *route,
    int method, int status, struct mx_slot **count, struct mx_slot **hist)
{
	char labels[MX_LABELS];
	const char *endpoint = route != NULL ? route->path : "none";
	uintptr_t key = (uintptr_t)route / sizeof(void *) * 31 +
	    (uintptr_t)method * 1009 + (uintptr_t)status;
	struct memo *e = &m->memo[key % MEMO_SIZE];
	bool locked = pthread_mutex_trylock(&m->memo_lock) == 0;

	/* Another thread in here is rare: it just takes the long way. */
	if (locked && e->status == status && e->route == route &&
	    e->method == method) {
		*count = e->count;
		*hist = e->hist;
		pthread_mutex_unlock(&m->memo_lock);
		return;
	}
	/* Route paths are the service's own constants: nothing to escape. */
	snprintf(labels, sizeof labels,
	    "endpoint=\"%s\",method=\"%s\",status=\"%d\"", endpoint,
	    methods[method], status);
	*count = mx_slot_get(m, SVC_METRIC_REQUESTS, labels, KIND_COUNTER, -1);
	snprintf(labels, sizeof labels, "endpoint=\"%s\",method=\"%s\"",
	    endpoint, methods[method]);
	*hist = mx_slot_get(m, SVC_METRIC_DURATION, labels, KIND_HISTOGRAM, -1);
	if (locked && *count != NULL && *hist != NULL) {
		e->route = route;
		e->method = method;
		e->status = status;
		e->count = *count;
		e->hist = *hist;
	}
	if (locked)
		pthread_mutex_unlock(&m->memo_lock);
}

void
svc_metrics_request(struct svc_metrics *m, const struct svc_request *req,
    const struct svc_response *resp, const struct svc_route *route,
    double seconds)
{
	struct mx_slot *count, *hist;
	int status = resp->status >= 100 && resp->status <= 999 ?
	    resp->status : 0;

	if (m == NULL)
		return;
	request_slots(m, route, method_index(req->method), status, &count,
	    &hist);
	if (count != NULL)
		__atomic_fetch_add(&count->v[0], 1, __ATOMIC_RELAXED);
	if (hist != NULL)
		mx_hist_add(hist, seconds);
}

/* An attempt's result as a label. */
static const char *
result_label(vd_code_t code)
{
	switch (code) {
	case VD_OK: return "ok";
	case VD_ECLIENT: return "client_error";
	case VD_ETRANSPORT: return "transport_error";
	case VD_EHTTP: return "http_error";
	case VD_EREPLY: return "bad_reply";
	case VD_ETIMEOUT: return "timeout";
	default: return "error";
	}
}

static int64_t
breaker_value(const char *state)
{
	if (state == NULL)
		return 0;
	if (strcmp(state, "open") == 0)
		return 2;
	if (strcmp(state, "half-open") == 0)
		return 1;
	return 0;
}

/* Appends key="value" to the labels in buf; false when it does not fit. */
static bool
label_fits(char *buf, size_t size, const char *key, const char *value)
{
	return svc_metrics_label(buf, size, key, value) < size;
}

/* The labels of what an observation is about: the service, and but for a
 * budget refusal (the service's budget) the version at its host, so that
 * each host's breaker is a series of its own. false when they do not fit
 * in size. */
static bool
target_labels(const vd_observation_t *obs, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!label_fits(buf, size, "service", obs->service))
		return false;
	if (obs->kind == VD_OBSERVE_BUDGET)
		return true;
	return label_fits(buf, size, "version", obs->version) &&
	    (obs->host == NULL || *obs->host == '\0' ||
	    label_fits(buf, size, "host", obs->host));
}

/* Counts one in the counter name{target,key="value"}. */
static void
count_one(struct svc_metrics *m, const char *name, const char *target,
    const char *key, const char *value)
{
	char labels[MX_LABELS];

	snprintf(labels, sizeof labels, "%s", target);
	if (label_fits(labels, sizeof labels, key, value))
		svc_metrics_count(m, name, labels, 1);
	else
		__atomic_fetch_add(&m->seg->overflow, 1, __ATOMIC_RELAXED);
}

void
svc_metrics_vd_observe(const vd_observation_t *obs, void *userdata)
{
	struct svc_metrics *m = userdata;
	char target[MX_LABELS];

	if (m == NULL || obs == NULL)
		return;
	/* Labels that do not fit drop the update, as a full table does,
	 * rather than count two hosts in one series. */
	if (!target_labels(obs, target, sizeof target)) {
		__atomic_fetch_add(&m->seg->overflow, 1, __ATOMIC_RELAXED);
		return;
	}
	switch (obs->kind) {
	case VD_OBSERVE_ATTEMPT:
		count_one(m, SVC_METRIC_ATTEMPTS, target, "result",
		    result_label(obs->code));
		if (obs->fallback)
			svc_metrics_count(m, SVC_METRIC_FALLBACKS, target, 1);
		/* The version has a breaker from now on: its series shows
		 * (0, closed) before any change is reported. */
		if (m->worker >= 0)
			(void)mx_slot_get(m, SVC_METRIC_BREAKER, target,
			    KIND_GAUGE, m->worker);
		break;
	case VD_OBSERVE_SKIPPED:
		svc_metrics_count(m, SVC_METRIC_SKIPPED, target, 1);
		break;
	case VD_OBSERVE_BREAKER:
		svc_metrics_gauge(m, SVC_METRIC_BREAKER, target,
		    breaker_value(obs->state));
		count_one(m, SVC_METRIC_BREAKER_CHANGES, target, "state",
		    obs->state != NULL ? obs->state : "");
		break;
	case VD_OBSERVE_BUDGET:
		svc_metrics_count(m, SVC_METRIC_BUDGET, target, 1);
		break;
	}
}
