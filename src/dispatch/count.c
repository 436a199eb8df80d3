/*
 * count.c - `dispatch call --count N [--concurrency C]`: the call made N
 * times from C threads, one client each, and a summary of what happened:
 * outcomes, attempts by version, circuit changes, latencies.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dispatch.h"

#define TALLY_COLUMNS 4

/* Counters under string keys (a version, a reason), in order of first
 * appearance. */
struct tally {
	struct tally_row {
		char key[128];
		long n[TALLY_COLUMNS];
	} *rows;
	size_t len;
};

static void
tally_add(struct tally *t, const char *key, int column, long n)
{
	struct tally_row *r;
	size_t i;

	for (i = 0; i < t->len; i++)
		if (strcmp(t->rows[i].key, key) == 0) {
			t->rows[i].n[column] += n;
			return;
		}
	if ((r = realloc(t->rows, (t->len + 1) * sizeof *r)) == NULL)
		return;         /* a count lost, not the run */
	t->rows = r;
	memset(&r[t->len], 0, sizeof r[t->len]);
	snprintf(r[t->len].key, sizeof r[t->len].key, "%s", key);
	r[t->len].n[column] = n;
	t->len++;
}

static void
tally_merge(struct tally *into, const struct tally *from)
{
	size_t i;
	int c;

	for (i = 0; i < from->len; i++)
		for (c = 0; c < TALLY_COLUMNS; c++)
			tally_add(into, from->rows[i].key, c,
			    from->rows[i].n[c]);
}

/* What one thread of a run saw. */
struct run_stats {
	struct tally outcomes;     /* key "ok VERSION" or the failure */
	struct tally attempts;     /* by version: ok, failed, skipped,
	                              budget refusals */
	struct tally breaker;      /* by version: open, half-open, closed */
	struct tally hosts;        /* calls answered, by host */
	char first_error[VD_ERROR_SIZE];
	long ok, failed;
};

enum { ATT_OK, ATT_FAILED, ATT_SKIPPED, ATT_REFUSED };
enum { BR_OPEN, BR_HALF_OPEN, BR_CLOSED };

struct run {
	struct options *opts;
	const struct call_spec *spec;
	long next;                 /* the next call to make (atomic) */
	double *latency_ms;        /* per call */
	pthread_mutex_t lock;
	struct run_stats total;
	int status;                /* a setup failure's exit status */
};

static void
observe_run(const vd_observation_t *obs, void *userdata)
{
	struct run_stats *st = userdata;

	switch (obs->kind) {
	case VD_OBSERVE_ATTEMPT:
		tally_add(&st->attempts, obs->version,
		    obs->code == VD_OK || obs->code == VD_ECLIENT ? ATT_OK :
		    ATT_FAILED, 1);
		break;
	case VD_OBSERVE_SKIPPED:
		tally_add(&st->attempts, obs->version, ATT_SKIPPED, 1);
		break;
	case VD_OBSERVE_BUDGET:
		tally_add(&st->attempts, obs->version, ATT_REFUSED, 1);
		break;
	case VD_OBSERVE_BREAKER:
		tally_add(&st->breaker, obs->version,
		    strcmp(obs->state, "open") == 0 ? BR_OPEN :
		    strcmp(obs->state, "half-open") == 0 ? BR_HALF_OPEN :
		    BR_CLOSED, 1);
		break;
	}
}

static void *
run_thread(void *arg)
{
	struct run *run = arg;
	struct run_stats st;
	vd_client_t *client;
	vd_call_t *call = NULL;
	vd_error_t error;
	vd_code_t code;
	int status = EXIT_FAILED;
	long i;

	memset(&st, 0, sizeof st);
	if ((client = call_client(run->opts, run->spec, &status)) == NULL ||
	    (call = call_new(client, run->spec, &status)) == NULL) {
		vd_client_destroy(client);
		pthread_mutex_lock(&run->lock);
		run->status = status;
		pthread_mutex_unlock(&run->lock);
		/* The others stop at their next call. */
		__atomic_store_n(&run->next, run->spec->count,
		    __ATOMIC_SEQ_CST);
		return NULL;
	}
	vd_client_set_observer(client, observe_run, &st);
	while ((i = __atomic_fetch_add(&run->next, 1, __ATOMIC_SEQ_CST)) <
	    run->spec->count) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		code = vd_call_perform(call, &error);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		run->latency_ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (code == VD_OK) {
			char key[160];

			snprintf(key, sizeof key, "ok %s",
			    vd_call_version(call));
			tally_add(&st.outcomes, key, 0, 1);
			tally_add(&st.hosts, vd_call_host(call), 0, 1);
			st.ok++;
		} else {
			tally_add(&st.outcomes, vd_strerror(code), 0, 1);
			if (st.failed++ == 0)
				snprintf(st.first_error, sizeof st.first_error,
				    "%s", error.message);
		}
	}
	vd_call_destroy(call);
	vd_client_destroy(client);
	pthread_mutex_lock(&run->lock);
	tally_merge(&run->total.outcomes, &st.outcomes);
	tally_merge(&run->total.attempts, &st.attempts);
	tally_merge(&run->total.breaker, &st.breaker);
	tally_merge(&run->total.hosts, &st.hosts);
	if (run->total.first_error[0] == '\0')
		memcpy(run->total.first_error, st.first_error,
		    sizeof st.first_error);
	run->total.ok += st.ok;
	run->total.failed += st.failed;
	pthread_mutex_unlock(&run->lock);
	free(st.outcomes.rows);
	free(st.attempts.rows);
	free(st.breaker.rows);
	free(st.hosts.rows);
	return NULL;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p of sorted[0..n). */
static double
percentile(const double *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p / 100 * (double)n + 0.999999);

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	return sorted[(rank > n ? n : rank) - 1];
}

/* x (not negative) to the thousandth: the summary's seconds and
 * milliseconds. */
static double
milli(double x)
{
	return (double)(long long)(x * 1000 + 0.5) / 1000;
}

/* The counters of a tally as an object: {key: n} when names is NULL,
 * else {key: {names[c]: n[c], ...}}. */
static cJSON *
tally_json(const struct tally *t, const char *const *names, int columns)
{
	cJSON *obj = cJSON_CreateObject(), *row;
	size_t i;
	int c;

	for (i = 0; i < t->len; i++) {
		if (names == NULL) {
			cJSON_AddNumberToObject(obj, t->rows[i].key,
			    (double)t->rows[i].n[0]);
			continue;
		}
		row = cJSON_AddObjectToObject(obj, t->rows[i].key);
		for (c = 0; c < columns; c++)
			cJSON_AddNumberToObject(row, names[c],
			    (double)t->rows[i].n[c]);
	}
	return obj;
}

/* The run's figures, the one walk over them: what --json prints, and what
 * the table is printed from. lat is the n latencies, sorted. */
static cJSON *
summary(const struct run *run, double seconds, const double *lat, size_t n)
{
	static const char *const attempts[] = { "ok", "failed", "skipped",
	    "budget_refused" };
	static const char *const breaker[] = { "open", "half-open", "closed" };
	const struct run_stats *t = &run->total;
	cJSON *out = cJSON_CreateObject(), *latency;

	cJSON_AddStringToObject(out, "name", run->spec->name);
	cJSON_AddStringToObject(out, "range", run->spec->range);
	cJSON_AddNumberToObject(out, "calls", (double)n);
	cJSON_AddNumberToObject(out, "concurrency",
	    (double)run->spec->concurrency);
	cJSON_AddNumberToObject(out, "seconds", milli(seconds));
	cJSON_AddNumberToObject(out, "ok", (double)t->ok);
	cJSON_AddNumberToObject(out, "failed", (double)t->failed);
	cJSON_AddItemToObject(out, "outcomes", tally_json(&t->outcomes, NULL,
	    1));
	latency = cJSON_AddObjectToObject(out, "latency_ms");
	cJSON_AddNumberToObject(latency, "p50", milli(percentile(lat, n, 50)));
	cJSON_AddNumberToObject(latency, "p90", milli(percentile(lat, n, 90)));
	cJSON_AddNumberToObject(latency, "p99", milli(percentile(lat, n, 99)));
	cJSON_AddNumberToObject(latency, "max", milli(n > 0 ? lat[n - 1] :
	    0.0));
	cJSON_AddItemToObject(out, "versions", tally_json(&t->attempts,
	    attempts, 4));
	cJSON_AddItemToObject(out, "breaker", tally_json(&t->breaker, breaker,
	    3));
	cJSON_AddItemToObject(out, "hosts", tally_json(&t->hosts, NULL, 1));
	cJSON_AddStringToObject(out, "first_error", t->first_error);
	return out;
}

/* The member name of obj as a number (0 when missing). */
static double
num(const cJSON *obj, const char *name)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj,
	    name));
}

static const cJSON *
member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* The summary for a reader. */
static void
print_table(const cJSON *sum)
{
	const cJSON *lat = member(sum, "latency_ms"), *row;
	double seconds = num(sum, "seconds"), calls = num(sum, "calls");

	printf("%s %s: %.0f calls, %.0f at a time, in %.2f s (%.1f calls/s)\n",
	    cJSON_GetStringValue(member(sum, "name")),
	    cJSON_GetStringValue(member(sum, "range")), calls,
	    num(sum, "concurrency"), seconds,
	    seconds > 0 ? calls / seconds : 0.0);
	printf("  %-32s %8s\n", "outcome", "calls");
	cJSON_ArrayForEach(row, member(sum, "outcomes"))
		printf("  %-32s %8.0f\n", row->string, row->valuedouble);
	printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	    num(lat, "p50"), num(lat, "p90"), num(lat, "p99"),
	    num(lat, "max"));
	printf("  %-12s %9s %9s %9s %9s\n", "version", "ok", "failed",
	    "skipped", "refused");
	cJSON_ArrayForEach(row, member(sum, "versions"))
		printf("  %-12s %9.0f %9.0f %9.0f %9.0f\n", row->string,
		    num(row, "ok"), num(row, "failed"), num(row, "skipped"),
		    num(row, "budget_refused"));
	printf("  (attempts by version; skipped: circuit open; refused: "
	    "retry budget)\n");
	cJSON_ArrayForEach(row, member(sum, "breaker"))
		printf("  circuit of %s: opened %.0f, half-open %.0f, closed "
		    "%.0f\n", row->string, num(row, "open"),
		    num(row, "half-open"), num(row, "closed"));
	cJSON_ArrayForEach(row, member(sum, "hosts"))
		printf("  answered by %s: %.0f\n", row->string,
		    row->valuedouble);
	if (*cJSON_GetStringValue(member(sum, "first_error")) != '\0')
		printf("  first error: %s\n",
		    cJSON_GetStringValue(member(sum, "first_error")));
}

int
call_many(struct options *opts, const struct call_spec *spec)
{
	struct run run;
	pthread_t *threads;
	struct timespec t0, t1;
	long i, started = 0;
	double seconds;
	int status;

	memset(&run, 0, sizeof run);
	run.opts = opts;
	run.spec = spec;
	pthread_mutex_init(&run.lock, NULL);
	run.latency_ms = calloc((size_t)spec->count, sizeof *run.latency_ms);
	threads = calloc((size_t)spec->concurrency, sizeof *threads);
	if (run.latency_ms == NULL || threads == NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		free(run.latency_ms);
		free(threads);
		return EXIT_FAILED;
	}
	opts->quiet_attempts = true;
	opts->started_ms = mono_ms();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < spec->concurrency; i++) {
		if (pthread_create(&threads[i], NULL, run_thread, &run) != 0)
			break;
		started++;
	}
	if (started == 0)
		run_thread(&run);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	status = run.status;
	if (status == 0) {
		size_t n = (size_t)(run.total.ok + run.total.failed);
		char *text = NULL;
		cJSON *sum;

		qsort(run.latency_ms, (size_t)spec->count, sizeof (double),
		    compare_double);
		/* Calls not made (none, unless a thread failed to start)
		 * were zeroed: sorted first; leave them out. */
		sum = summary(&run, seconds, run.latency_ms +
		    (size_t)spec->count - n, n);
		status = run.total.failed > 0 ? EXIT_FAILED : EXIT_SUCCESS;
		if (!spec->json)
			print_table(sum);
		else if ((text = cJSON_PrintUnformatted(sum)) != NULL)
			printf("%s\n", text);
		else {
			fprintf(stderr, "dispatch: out of memory\n");
			status = EXIT_FAILED;
		}
		cJSON_free(text);
		cJSON_Delete(sum);
		if (fflush(stdout) != 0) {
			perror("dispatch: stdout");
			status = EXIT_FAILED;
		}
	}
	free(run.total.outcomes.rows);
	free(run.total.attempts.rows);
	free(run.total.breaker.rows);
	free(run.total.hosts.rows);
	free(run.latency_ms);
	free(threads);
	pthread_mutex_destroy(&run.lock);
	return status;
}

