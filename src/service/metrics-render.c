/*
 * metrics-render.c - a scrape: every series of the metrics table
 * (metrics.c) in the Prometheus text format, with the process figures of
 * the live workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics-private.h"


/* What each family is, for the HELP and TYPE lines. */
struct family {
	const char *name;
	const char *help;
};

static const struct family families[] = {
	{ SVC_METRIC_REQUESTS,
	  "Requests answered, by endpoint (the route's path, or none when no "
	  "route matched), method and status." },
	{ SVC_METRIC_DURATION,
	  "Time from accepting a request to having sent its response, by "
	  "endpoint and method." },
	{ SVC_METRIC_ATTEMPTS,
	  "Call attempts made through libvdispatch, by target service, "
	  "version, host and result." },
	{ SVC_METRIC_FALLBACKS,
	  "Attempts on a version that was not the first one tried for its "
	  "call, by target service, version and host." },
	{ SVC_METRIC_SKIPPED,
	  "Versions at a host passed over because their circuit breaker was "
	  "open." },
	{ SVC_METRIC_BUDGET,
	  "Fallbacks refused by the retry budget, by target service." },
	{ SVC_METRIC_BREAKER,
	  "Circuit breaker of a target service version at a host: 0 closed, "
	  "1 half-open, 2 open (the most open among this version's "
	  "processes)." },
	{ SVC_METRIC_BREAKER_CHANGES,
	  "Circuit breaker state changes, by target service, version, host "
	  "and new state." },
	{ SVC_METRIC_EVENTS,
	  "Reply event POSTs to subscribers, by outcome (delivered, failed)." },
};

static int
slot_order(const void *a, const void *b)
{
	const struct mx_slot *x = *(const struct mx_slot *const *)a;
	const struct mx_slot *y = *(const struct mx_slot *const *)b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	if ((c = strcmp(x->labels, y->labels)) != 0)
		return c;
	return (int)x->worker - (int)y->worker;
}

static const char *
family_help(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof families / sizeof *families; i++)
		if (strcmp(families[i].name, name) == 0)
			return families[i].help;
	return "A metric of this service.";
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case KIND_COUNTER: return "counter";
	case KIND_GAUGE: return "gauge";
	default: return "histogram";
	}
}

/* "{labels}" or "{labels,extra}" or "". */
static void
put_labels(struct svc_buf *out, const char *labels, const char *extra)
{
	if (*labels == '\0' && (extra == NULL || *extra == '\0'))
		return;
	svc_buf_printf(out, "{%s%s%s}", labels, *labels != '\0' &&
	    extra != NULL && *extra != '\0' ? "," : "",
	    extra != NULL ? extra : "");
}

/* One series: the sum (or for gauges the largest value among live
 * workers) of slots[0..n), which share name and labels. */
static void
render_series(struct svc_buf *out, struct mx_slot **slots, size_t n,
    const bool *live)
{
	const struct mx_slot *s0 = slots[0];
	uint64_t v[MX_VALUES], count = 0;
	char le[32];
	bool any = false;
	int64_t g = 0, x;
	size_t i, b;

	memset(v, 0, sizeof v);
	for (i = 0; i < n; i++) {
		struct mx_slot *s = slots[i];

		if (s->kind == KIND_GAUGE) {
			if (s->worker == 0 || !live[s->worker - 1])
				continue;
			x = (int64_t)__atomic_load_n(&s->v[0],
			    __ATOMIC_RELAXED);
			if (!any || x > g)
				g = x;
			any = true;
			continue;
		}
		for (b = 0; b < MX_VALUES; b++)
			v[b] += __atomic_load_n(&s->v[b], __ATOMIC_RELAXED);
	}
	switch (s0->kind) {
	case KIND_COUNTER:
		svc_buf_printf(out, "%s", s0->name);
		put_labels(out, s0->labels, NULL);
		svc_buf_printf(out, " %llu\n", (unsigned long long)v[0]);
		break;
	case KIND_GAUGE:
		if (!any)
			break;
		svc_buf_printf(out, "%s", s0->name);
		put_labels(out, s0->labels, NULL);
		svc_buf_printf(out, " %lld\n", (long long)g);
		break;
	case KIND_HISTOGRAM:
		/* Cumulative buckets; _count is the +Inf bucket, so the two
		 * always agree even while requests are being counted. */
		for (b = 0; b < MX_BUCKETS; b++) {
			count += v[b];
			snprintf(le, sizeof le, "le=\"%s\"", mx_bound_text[b]);
			svc_buf_printf(out, "%s_bucket", s0->name);
			put_labels(out, s0->labels, le);
			svc_buf_printf(out, " %llu\n",
			    (unsigned long long)count);
		}
		svc_buf_printf(out, "%s_sum", s0->name);
		put_labels(out, s0->labels, NULL);
		svc_buf_printf(out, " %.6f\n", (double)v[MX_BUCKETS] / 1e6);
		svc_buf_printf(out, "%s_count", s0->name);
		put_labels(out, s0->labels, NULL);
		svc_buf_printf(out, " %llu\n", (unsigned long long)count);
		break;
	}
}

/* The process figures, summed over the live workers. */
static void
render_process(struct svc_buf *out, const struct svc_proc *pi,
    const bool *live)
{
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long cpu = 0, start = 0;
	long long rss = 0;
	int i, n = 0;

	for (i = 0; i < MX_WORKERS; i++) {
		if (!live[i])
			continue;
		cpu += pi[i].cpu;
		rss += pi[i].rss;
		if (n == 0 || pi[i].start < start)
			start = pi[i].start;
		n++;
	}
	svc_buf_printf(out, "# HELP vdispatch_workers Worker processes of "
	    "this service version that are alive.\n"
	    "# TYPE vdispatch_workers gauge\nvdispatch_workers %d\n", n);
	if (n == 0)
		return;
	if (tick <= 0)
		tick = 100;
	svc_buf_printf(out,
	    "# HELP process_cpu_seconds_total User and system CPU time of the "
	    "live worker processes, summed.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.2f\n"
	    "# HELP process_resident_memory_bytes Resident memory of the live "
	    "worker processes, summed.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %lld\n"
	    "# HELP process_start_time_seconds Start time of the oldest live "
	    "worker process, in seconds since the epoch.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.2f\n",
	    (double)cpu / (double)tick, rss * (long long)page,
	    svc_proc_boot_time() + (double)start / (double)tick);
}

void
svc_metrics_render(struct svc_metrics *m, struct svc_buf *out)
{
	struct svc_proc pi[MX_WORKERS];
	struct mx_slot **slots;
	bool live[MX_WORKERS];
	const char *last = "";
	size_t n = 0, i, j;
	char info[MX_LABELS];

	if (m == NULL)
		return;
	for (i = 0; i < MX_WORKERS; i++)
		live[i] = mx_worker_alive(&m->seg->workers[i], &pi[i]);
	slots = bson_malloc0(MX_SLOTS * sizeof *slots);
	for (i = 0; i < MX_SLOTS; i++)
		if (__atomic_load_n(&m->seg->slots[i].state,
		    __ATOMIC_ACQUIRE) == SLOT_READY)
			slots[n++] = &m->seg->slots[i];
	qsort(slots, n, sizeof *slots, slot_order);

	info[0] = '\0';
	svc_metrics_label(info, sizeof info, "service", m->service);
	svc_metrics_label(info, sizeof info, "version", m->version);
	svc_buf_printf(out, "# HELP vdispatch_service_info The service and "
	    "version that answer here.\n"
	    "# TYPE vdispatch_service_info gauge\n"
	    "vdispatch_service_info{%s} 1\n", info);
	for (i = 0; i < n; i = j) {
		/* A family's lines come together, under one HELP and TYPE. */
		if (strcmp(slots[i]->name, last) != 0) {
			last = slots[i]->name;
			svc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", last,
			    family_help(last), last,
			    kind_name(slots[i]->kind));
		}
		for (j = i + 1; j < n && strcmp(slots[j]->name,
		    slots[i]->name) == 0 && strcmp(slots[j]->labels,
		    slots[i]->labels) == 0 && slots[j]->kind ==
		    slots[i]->kind; j++)
			;
		render_series(out, slots + i, j - i, live);
	}
	render_process(out, pi, live);
	svc_buf_printf(out, "# HELP vdispatch_metrics_overflow_total Updates "
	    "dropped: a name or labels too long, or the table of %d series "
	    "full.\n# TYPE vdispatch_metrics_overflow_total counter\n"
	    "vdispatch_metrics_overflow_total %llu\n", MX_SLOTS,
	    (unsigned long long)__atomic_load_n(&m->seg->overflow,
	    __ATOMIC_RELAXED));
	bson_free(slots);
}

void
svc_metrics_serve(struct svc_metrics *m, const struct svc_request *req,
    struct svc_response *resp)
{
	struct svc_buf text = { 0 };

	(void)req;
	if (m == NULL) {
		svc_response_error(resp, 503, "metrics unavailable",
		    "this process could not map its metrics file (see its "
		    "log)");
		return;
	}
	svc_metrics_render(m, &text);
	svc_response_raw(resp, 200, SVC_METRICS_CONTENT_TYPE,
	    text.data != NULL ? text.data : "", text.len);
	svc_buf_free(&text);
}
