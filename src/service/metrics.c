/*
 * metrics.c - Prometheus metrics of one service version, summed over all
 * of its worker processes.
 *
 * spawn-fcgi forks several workers on one socket and a scrape reaches one
 * of them, so the numbers cannot live in a process: every worker maps one
 * file (STATE/metrics/NAME-VERSION.metrics) and updates it with atomic
 * operations. The file is a fixed table of slots, an open-addressing hash
 * table keyed by metric name and labels: the first process that needs a
 * series claims a free slot with a compare-and-swap, fills in the name and
 * labels and publishes it; everyone else finds it by hash. A process
 * remembers where its request series are, so a request costs a look in
 * that memo and three atomic additions: no formatting, no system call, no
 * lock another process could hold.
 *
 * Gauges that each process holds for itself (a circuit breaker's state)
 * are kept per worker and shown as the largest value among the workers
 * that are alive. Process figures (memory, CPU) are read from /proc for
 * every live worker when scraped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "service.h"

#define MX_MAGIC 0x7664697370617463ULL    /* "vdispatc" */
#define MX_LAYOUT 1                        /* bump when the layout changes */
#define MX_SLOTS 1024
#define MX_WORKERS 64
#define MX_NAME 64
#define MX_LABELS 192
#define MX_BUCKETS 13                      /* 12 bounds and +Inf */
#define MX_VALUES (MX_BUCKETS + 1)         /* histogram: buckets, sum */

enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_READY = 2 };
enum { KIND_COUNTER = 1, KIND_GAUGE = 2, KIND_HISTOGRAM = 3 };

/* One series. name, labels, kind, worker and hash never change once the
 * slot is READY; only v[] does, atomically. */
struct mx_slot {
	uint32_t state;
	uint8_t kind;
	uint8_t unused;
	uint16_t worker;            /* 0: shared; else a worker index + 1 */
	uint64_t hash;
	char name[MX_NAME];
	char labels[MX_LABELS];
	/* counter: v[0]. gauge: v[0] as int64. histogram: v[0..12] the
	 * count of each bucket (not cumulative), v[13] the sum in us. */
	uint64_t v[MX_VALUES];
};

struct mx_worker {
	int32_t pid;                /* 0: free */
	uint32_t unused;
	uint64_t start;             /* its start time in clock ticks since
	                               boot: a reused pid is not it */
};

struct mx_segment {
	uint64_t magic;
	uint32_t layout;
	uint32_t n_slots;
	int64_t created_ms;
	uint64_t overflow;          /* updates dropped (svc_metrics_open) */
	struct mx_worker workers[MX_WORKERS];
	struct mx_slot slots[MX_SLOTS];
};

/* What a request's series are, remembered by the process: the request
 * path needs no formatting and no lookup after the first time. */
#define MEMO_SIZE 64

struct memo {
	const struct svc_route *route;  /* NULL: no route ran */
	int method;                     /* index in methods[] */
	int status;                     /* 0: an empty entry */
	struct mx_slot *count, *hist;
};

struct svc_metrics {
	struct mx_segment *seg;
	int worker;                 /* this process's index, -1 if none */
	pthread_mutex_t memo_lock;  /* guards memo */
	struct memo memo[MEMO_SIZE];
	char service[32];
	char version[64];
	char path[PATH_MAX];
};

/* The histogram's upper bounds, in seconds and as the le label says. */
static const double bounds[MX_BUCKETS - 1] = { .001, .0025, .005, .01,
    .025, .05, .1, .25, .5, 1, 2.5, 5 };
static const char *const bound_text[MX_BUCKETS] = { "0.001", "0.0025",
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "+Inf" };

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
	  "version and result." },
	{ SVC_METRIC_FALLBACKS,
	  "Attempts on a version that was not the first one tried for its "
	  "call, by target service and version." },
	{ SVC_METRIC_SKIPPED,
	  "Versions passed over because their circuit breaker was open." },
	{ SVC_METRIC_BUDGET,
	  "Fallbacks refused by the retry budget, by target service." },
	{ SVC_METRIC_BREAKER,
	  "Circuit breaker of a target service version: 0 closed, 1 "
	  "half-open, 2 open (the most open among this version's "
	  "processes)." },
	{ SVC_METRIC_BREAKER_CHANGES,
	  "Circuit breaker state changes, by target service, version and new "
	  "state." },
	{ SVC_METRIC_EVENTS,
	  "Reply event POSTs to subscribers, by outcome (delivered, failed)." },
};

/* ---- the file ---- */

/* FNV-1a over name, labels and worker. */
static uint64_t
series_hash(const char *name, const char *labels, int worker)
{
	uint64_t h = 14695981039346656037ULL;
	const char *p;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (p = labels; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ (uint64_t)(worker + 1)) * 1099511628211ULL;
	return h;
}

/* The file's path when no state directory is given: /dev/shm, named after
 * the socket on fd 0, which is what tells deployments apart. */
static void
default_path(char *buf, size_t size, const char *service,
    const char *version)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	uint64_t h;

	memset(&sa, 0, sizeof sa);
	if (getsockname(0, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.sun_family != AF_UNIX)
		snprintf(sa.sun_path, sizeof sa.sun_path, "pid %ld",
		    (long)getpid());
	h = series_hash(sa.sun_path, "", 0);
	snprintf(buf, size, "/dev/shm/vdispatch-%s-%s-%016llx.metrics",
	    service, version, (unsigned long long)h);
}

/* Whether worker entry w is a process that is alive: its pid runs and
 * started when the entry says (a pid can be reused). */
static bool
worker_alive(const struct mx_worker *w, struct svc_proc *pi)
{
	int32_t pid = __atomic_load_n(&w->pid, __ATOMIC_ACQUIRE);

	return pid != 0 && svc_proc_read(pid, pi) &&
	    pi->start == __atomic_load_n(&w->start, __ATOMIC_RELAXED);
}

/* Takes a worker entry: a free one, or one whose process is gone. Called
 * under the file's lock, so no two processes claim at once. The entry's
 * per-worker gauges start again from 0 (a new process's breakers are
 * closed). */
static int
claim_worker(struct mx_segment *seg)
{
	struct svc_proc me, pi;
	int i, j;

	if (!svc_proc_read(getpid(), &me))
		return -1;
	for (i = 0; i < MX_WORKERS; i++) {
		if (worker_alive(&seg->workers[i], &pi))
			continue;
		__atomic_store_n(&seg->workers[i].pid, 0, __ATOMIC_RELEASE);
		for (j = 0; j < MX_SLOTS; j++) {
			struct mx_slot *s = &seg->slots[j];

			if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) ==
			    SLOT_READY && s->worker == i + 1)
				__atomic_store_n(&s->v[0], 0, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&seg->workers[i].start, me.start,
		    __ATOMIC_RELAXED);
		__atomic_store_n(&seg->workers[i].pid, (int32_t)getpid(),
		    __ATOMIC_RELEASE);
		return i;
	}
	return -1;
}

struct svc_metrics *
svc_metrics_open(const char *state_dir, const char *service,
    const char *version, char *err, size_t errsize)
{
	struct svc_metrics *m;
	struct stat st;
	void *map;
	int fd = -1;
	bool fresh;

	if ((m = calloc(1, sizeof *m)) == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	snprintf(m->service, sizeof m->service, "%s", service);
	snprintf(m->version, sizeof m->version, "%s", version);
	if (state_dir != NULL && *state_dir != '\0') {
		snprintf(m->path, sizeof m->path, "%s/metrics", state_dir);
		if (mkdir(m->path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errsize, "%s: %s", m->path,
			    strerror(errno));
			goto fail;
		}
		snprintf(m->path, sizeof m->path, "%s/metrics/%s-%s.metrics",
		    state_dir, service, version);
	} else
		default_path(m->path, sizeof m->path, service, version);

	if ((fd = svc_open_shared(m->path, 0644, state_dir == NULL ||
	    *state_dir == '\0')) < 0 ||
	    flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		snprintf(err, errsize, "%s: %s", m->path, strerror(errno));
		goto fail;
	}
	/* Under the lock, the first worker lays the table out; the others
	 * find it ready. A file of another layout is laid out again. */
	fresh = st.st_size != (off_t)sizeof *m->seg;
	if (fresh && ftruncate(fd, (off_t)sizeof *m->seg) != 0) {
		snprintf(err, errsize, "%s: %s", m->path, strerror(errno));
		goto fail;
	}
	map = mmap(NULL, sizeof *m->seg, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errsize, "%s: mmap: %s", m->path,
		    strerror(errno));
		goto fail;
	}
	m->seg = map;
	if (fresh || m->seg->magic != MX_MAGIC ||
	    m->seg->layout != MX_LAYOUT || m->seg->n_slots != MX_SLOTS) {
		memset(m->seg, 0, sizeof *m->seg);
		m->seg->layout = MX_LAYOUT;
		m->seg->n_slots = MX_SLOTS;
		m->seg->created_ms = svc_now_ms();
		__atomic_store_n(&m->seg->magic, MX_MAGIC, __ATOMIC_RELEASE);
	}
	m->worker = claim_worker(m->seg);
	pthread_mutex_init(&m->memo_lock, NULL);
	flock(fd, LOCK_UN);
	close(fd);
	return m;
fail:
	if (fd >= 0)
		close(fd);
	free(m);
	return NULL;
}

void
svc_metrics_close(struct svc_metrics *m)
{
	int32_t me;

	if (m == NULL)
		return;
	/* The entry is free again (unless a fork of ours holds it). */
	if (m->worker >= 0) {
		me = (int32_t)getpid();
		__atomic_compare_exchange_n(&m->seg->workers[m->worker].pid,
		    &me, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	munmap(m->seg, sizeof *m->seg);
	pthread_mutex_destroy(&m->memo_lock);
	free(m);
}

const char *
svc_metrics_path(const struct svc_metrics *m)
{
	return m != NULL ? m->path : "";
}

/* Waits for a slot another thread or process is filling in. Filling in
 * takes a moment; one whose filler died stays BUSY, and is passed over
 * after a while. */
static uint32_t
wait_ready(struct mx_slot *s)
{
	uint32_t st;
	int i;

	for (i = 0; i < 20000; i++) {
		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st != SLOT_BUSY)
			return st;
		if (i >= 100)
			sched_yield();
	}
	return SLOT_BUSY;
}

/* The slot of a series, claimed on first use; NULL (and counted as an
 * overflow) when the name or the labels are too long, the kind differs
 * from the series', or the table is full. worker is -1 for a shared
 * series. */
static struct mx_slot *
slot_get(struct svc_metrics *m, const char *name, const char *labels,
    int kind, int worker)
{
	size_t nlen = strlen(name), llen = strlen(labels), i, start;
	uint64_t h;

	if (nlen >= MX_NAME || llen >= MX_LABELS)
		goto overflow;
	h = series_hash(name, labels, worker);
	start = (size_t)(h % MX_SLOTS);
	for (i = 0; i < MX_SLOTS; i++) {
		struct mx_slot *s = &m->seg->slots[(start + i) % MX_SLOTS];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT_FREE) {
			if (__atomic_compare_exchange_n(&s->state, &st,
			    SLOT_BUSY, false, __ATOMIC_ACQ_REL,
			    __ATOMIC_ACQUIRE)) {
				s->kind = (uint8_t)kind;
				s->worker = (uint16_t)(worker + 1);
				s->hash = h;
				memcpy(s->name, name, nlen + 1);
				memcpy(s->labels, labels, llen + 1);
				__atomic_store_n(&s->state, SLOT_READY,
				    __ATOMIC_RELEASE);
				return s;
			}
			/* Someone else claimed it: st says how far it is. */
		}
		if (st == SLOT_BUSY)
			st = wait_ready(s);
		if (st != SLOT_READY || s->hash != h ||
		    s->worker != (uint16_t)(worker + 1) ||
		    strcmp(s->name, name) != 0 ||
		    strcmp(s->labels, labels) != 0)
			continue;
		if (s->kind != kind)
			break;
		return s;
	}
overflow:
	__atomic_fetch_add(&m->seg->overflow, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* ---- updates ---- */

void
svc_metrics_count(struct svc_metrics *m, const char *name,
    const char *labels, uint64_t n)
{
	struct mx_slot *s;

	if (m == NULL)
		return;
	if ((s = slot_get(m, name, labels != NULL ? labels : "",
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
	if ((s = slot_get(m, name, labels != NULL ? labels : "", KIND_GAUGE,
	    m->worker)) != NULL)
		__atomic_store_n(&s->v[0], (uint64_t)value, __ATOMIC_RELAXED);
}

/* Counts seconds into histogram slot s. */
static void
hist_add(struct mx_slot *s, double seconds)
{
	size_t b;

	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < MX_BUCKETS - 1 && seconds > bounds[b]; b++)
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
	if ((s = slot_get(m, name, labels != NULL ? labels : "",
	    KIND_HISTOGRAM, -1)) != NULL)
		hist_add(s, seconds);
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
	*count = slot_get(m, SVC_METRIC_REQUESTS, labels, KIND_COUNTER, -1);
	snprintf(labels, sizeof labels, "endpoint=\"%s\",method=\"%s\"",
	    endpoint, methods[method]);
	*hist = slot_get(m, SVC_METRIC_DURATION, labels, KIND_HISTOGRAM, -1);
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
		hist_add(hist, seconds);
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

void
svc_metrics_vd_observe(const vd_observation_t *obs, void *userdata)
{
	struct svc_metrics *m = userdata;
	char target[MX_LABELS], labels[MX_LABELS];

	if (m == NULL || obs == NULL)
		return;
	target[0] = '\0';
	svc_metrics_label(target, sizeof target, "service", obs->service);
	if (obs->kind != VD_OBSERVE_BUDGET)
		svc_metrics_label(target, sizeof target, "version",
		    obs->version);
	switch (obs->kind) {
	case VD_OBSERVE_ATTEMPT:
		snprintf(labels, sizeof labels, "%s", target);
		svc_metrics_label(labels, sizeof labels, "result",
		    result_label(obs->code));
		svc_metrics_count(m, SVC_METRIC_ATTEMPTS, labels, 1);
		if (obs->fallback)
			svc_metrics_count(m, SVC_METRIC_FALLBACKS, target, 1);
		/* The version has a breaker from now on: its series shows
		 * (0, closed) before any change is reported. */
		if (m->worker >= 0)
			(void)slot_get(m, SVC_METRIC_BREAKER, target,
			    KIND_GAUGE, m->worker);
		break;
	case VD_OBSERVE_SKIPPED:
		svc_metrics_count(m, SVC_METRIC_SKIPPED, target, 1);
		break;
	case VD_OBSERVE_BREAKER:
		svc_metrics_gauge(m, SVC_METRIC_BREAKER, target,
		    breaker_value(obs->state));
		snprintf(labels, sizeof labels, "%s", target);
		svc_metrics_label(labels, sizeof labels, "state",
		    obs->state != NULL ? obs->state : "");
		svc_metrics_count(m, SVC_METRIC_BREAKER_CHANGES, labels, 1);
		break;
	case VD_OBSERVE_BUDGET:
		svc_metrics_count(m, SVC_METRIC_BUDGET, target, 1);
		break;
	}
}

/* ---- the scrape ---- */

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
			snprintf(le, sizeof le, "le=\"%s\"", bound_text[b]);
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
		live[i] = worker_alive(&m->seg->workers[i], &pi[i]);
	if ((slots = calloc(MX_SLOTS, sizeof *slots)) == NULL)
		abort();
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
	free(slots);
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
