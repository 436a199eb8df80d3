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

/* Writes s as a JSON string. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_json(const struct run *run, double seconds, const double *lat,
    size_t n)
{
	const struct run_stats *t = &run->total;
	size_t i;

	printf("{\"name\":");
	json_string(run->spec->name);
	printf(",\"range\":");
	json_string(run->spec->range);
	printf(",\"calls\":%zu,\"concurrency\":%ld,\"seconds\":%.3f,"
	    "\"ok\":%ld,\"failed\":%ld,\"outcomes\":{", n,
	    run->spec->concurrency, seconds, t->ok, t->failed);
	for (i = 0; i < t->outcomes.len; i++) {
		printf("%s", i > 0 ? "," : "");
		json_string(t->outcomes.rows[i].key);
		printf(":%ld", t->outcomes.rows[i].n[0]);
	}
	printf("},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
	    "\"max\":%.3f},\"versions\":{", percentile(lat, n, 50),
	    percentile(lat, n, 90), percentile(lat, n, 99),
	    n > 0 ? lat[n - 1] : 0.0);
	for (i = 0; i < t->attempts.len; i++) {
		const long *c = t->attempts.rows[i].n;

		printf("%s", i > 0 ? "," : "");
		json_string(t->attempts.rows[i].key);
		printf(":{\"ok\":%ld,\"failed\":%ld,\"skipped\":%ld,"
		    "\"budget_refused\":%ld}", c[ATT_OK], c[ATT_FAILED],
		    c[ATT_SKIPPED], c[ATT_REFUSED]);
	}
	printf("},\"breaker\":{");
	for (i = 0; i < t->breaker.len; i++) {
		const long *c = t->breaker.rows[i].n;

		printf("%s", i > 0 ? "," : "");
		json_string(t->breaker.rows[i].key);
		printf(":{\"open\":%ld,\"half-open\":%ld,\"closed\":%ld}",
		    c[BR_OPEN], c[BR_HALF_OPEN], c[BR_CLOSED]);
	}
	printf("},\"hosts\":{");
	for (i = 0; i < t->hosts.len; i++) {
		printf("%s", i > 0 ? "," : "");
		json_string(t->hosts.rows[i].key);
		printf(":%ld", t->hosts.rows[i].n[0]);
	}
	printf("},\"first_error\":");
	json_string(t->first_error);
	printf("}\n");
}

static void
print_table(const struct run *run, double seconds, const double *lat,
    size_t n)
{
	const struct run_stats *t = &run->total;
	size_t i;

	printf("%s %s: %zu calls, %ld at a time, in %.2f s (%.1f calls/s)\n",
	    run->spec->name, run->spec->range, n, run->spec->concurrency,
	    seconds, seconds > 0 ? (double)n / seconds : 0.0);
	printf("  %-32s %8s\n", "outcome", "calls");
	for (i = 0; i < t->outcomes.len; i++)
		printf("  %-32s %8ld\n", t->outcomes.rows[i].key,
		    t->outcomes.rows[i].n[0]);
	printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	    percentile(lat, n, 50), percentile(lat, n, 90),
	    percentile(lat, n, 99), n > 0 ? lat[n - 1] : 0.0);
	printf("  %-12s %9s %9s %9s %9s\n", "version", "ok", "failed",
	    "skipped", "refused");
	for (i = 0; i < t->attempts.len; i++) {
		const long *c = t->attempts.rows[i].n;

		printf("  %-12s %9ld %9ld %9ld %9ld\n",
		    t->attempts.rows[i].key, c[ATT_OK], c[ATT_FAILED],
		    c[ATT_SKIPPED], c[ATT_REFUSED]);
	}
	printf("  (attempts by version; skipped: circuit open; refused: "
	    "retry budget)\n");
	for (i = 0; i < t->breaker.len; i++) {
		const long *c = t->breaker.rows[i].n;

		printf("  circuit of %s: opened %ld, half-open %ld, closed "
		    "%ld\n", t->breaker.rows[i].key, c[BR_OPEN],
		    c[BR_HALF_OPEN], c[BR_CLOSED]);
	}
	for (i = 0; i < t->hosts.len; i++)
		printf("  answered by %s: %ld\n", t->hosts.rows[i].key,
		    t->hosts.rows[i].n[0]);
	if (t->first_error[0] != '\0')
		printf("  first error: %s\n", t->first_error);
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

		qsort(run.latency_ms, (size_t)spec->count, sizeof (double),
		    compare_double);
		/* Calls not made (none, unless a thread failed to start)
		 * were zeroed: sorted first; leave them out. */
		if (spec->json)
			print_json(&run, seconds, run.latency_ms +
			    (size_t)spec->count - n, n);
		else
			print_table(&run, seconds, run.latency_ms +
			    (size_t)spec->count - n, n);
		status = run.total.failed > 0 ? EXIT_FAILED : EXIT_SUCCESS;
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

