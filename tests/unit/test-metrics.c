/*
 * test-metrics.c - the shared metrics file: the text format, label
 * escaping, totals over several processes updating at once, gauges of
 * live processes only, what does not fit, and files others planted.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service.h"
#include "unit.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/test-metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct svc_metrics *
open_metrics(void)
{
	bson_error_t error;
	struct svc_metrics *m = svc_metrics_open(dir, "tickets", "1.0.1",
	    &error);

	ck_assert_msg(m != NULL, "%s", error.message);
	return m;
}

/* The rendered text; caller frees. */
static char *
render(struct svc_metrics *m)
{
	struct svc_buf out = { 0 };

	svc_metrics_render(m, &out);
	ck_assert_ptr_nonnull(out.data);
	return out.data;
}

/* The value of the line that starts with series (name and labels). */
static double
value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	ck_abort_msg("no series %s in:\n%s", series, text);
	return -1;
}

START_TEST(labels_are_escaped)
{
	char buf[64] = "";

	svc_metrics_label(buf, sizeof buf, "service", "Ticket \"Query\"");
	svc_metrics_label(buf, sizeof buf, "v", "a\\b\nc");
	ck_assert_str_eq(buf, "service=\"Ticket \\\"Query\\\"\",v=\"a\\\\b\\nc\"");
	/* What does not fit is left out whole. */
	ck_assert_uint_ge(svc_metrics_label(buf, sizeof buf, "long",
	    "0123456789012345678901234567890123456789"), sizeof buf);
	ck_assert_str_eq(buf, "service=\"Ticket \\\"Query\\\"\",v=\"a\\\\b\\nc\"");
}
END_TEST

START_TEST(text_format)
{
	struct svc_metrics *m = open_metrics();
	char *text;

	svc_metrics_count(m, "vdispatch_event_deliveries_total",
	    "outcome=\"delivered\"", 3);
	svc_metrics_count(m, "vdispatch_event_deliveries_total",
	    "outcome=\"failed\"", 1);
	svc_metrics_count(m, "vdispatch_event_deliveries_total",
	    "outcome=\"delivered\"", 2);
	svc_metrics_count(m, "plain_total", "", 7);
	svc_metrics_observe(m, "lat_seconds", "endpoint=\"/x\"", 0.0005);
	svc_metrics_observe(m, "lat_seconds", "endpoint=\"/x\"", 0.003);
	svc_metrics_observe(m, "lat_seconds", "endpoint=\"/x\"", 7);
	text = render(m);

	ck_assert_ptr_nonnull(strstr(text, "# HELP vdispatch_service_info "));
	ck_assert_ptr_nonnull(strstr(text, "vdispatch_service_info{service="
	    "\"tickets\",version=\"1.0.1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "# TYPE vdispatch_event_deliveries_total counter\n"
	    "vdispatch_event_deliveries_total{outcome=\"delivered\"} 5\n"
	    "vdispatch_event_deliveries_total{outcome=\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "# HELP "
	    "vdispatch_event_deliveries_total Reply event"));
	ck_assert_ptr_nonnull(strstr(text, "\nplain_total 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE lat_seconds histogram\n"
	    "lat_seconds_bucket{endpoint=\"/x\",le=\"0.001\"} 1\n"
	    "lat_seconds_bucket{endpoint=\"/x\",le=\"0.0025\"} 1\n"
	    "lat_seconds_bucket{endpoint=\"/x\",le=\"0.005\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "lat_seconds_bucket{endpoint=\"/x\",le=\"5\"} 2\n"
	    "lat_seconds_bucket{endpoint=\"/x\",le=\"+Inf\"} 3\n"
	    "lat_seconds_sum{endpoint=\"/x\"} 7.003500\n"
	    "lat_seconds_count{endpoint=\"/x\"} 3\n"));
	ck_assert_double_eq(value_of(text, "vdispatch_workers"), 1);
	ck_assert_double_gt(value_of(text, "process_resident_memory_bytes"), 0);
	ck_assert_double_eq(value_of(text, "vdispatch_metrics_overflow_total"),
	    0);
	/* Every family once, every line ends. */
	ck_assert_ptr_null(strstr(strstr(text,
	    "# TYPE vdispatch_event_deliveries_total") + 1,
	    "# TYPE vdispatch_event_deliveries_total"));
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(text);
	svc_metrics_close(m);
}
END_TEST

START_TEST(requests_and_dispatch)
{
	struct svc_metrics *m = open_metrics();
	struct svc_route route = { .method = "GET", .path = "/tickets" };
	struct svc_request req;
	struct svc_response resp;
	vd_observation_t obs;
	char *text;

	memset(&req, 0, sizeof req);
	svc_request_make(&req, "GET", "/tickets", NULL, NULL);
	svc_response_init(&resp);
	resp.status = 500;
	svc_metrics_request(m, &req, &resp, &route, 0.002);
	svc_metrics_request(m, &req, &resp, &route, 0.002);
	resp.status = 404;
	svc_metrics_request(m, &req, &resp, NULL, 0.0001);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
	svc_response_free(&resp);

	memset(&obs, 0, sizeof obs);
	obs.kind = VD_OBSERVE_ATTEMPT;
	obs.service = "Ticket Query";
	obs.version = "1.0.1";
	obs.host = "http://a:8080";
	obs.code = VD_EHTTP;
	obs.http_status = 500;
	svc_metrics_vd_observe(&obs, m);
	/* The same version at another host: a series of its own. */
	obs.host = "http://b:8080";
	obs.code = VD_OK;
	svc_metrics_vd_observe(&obs, m);
	obs.version = "1.0.0";
	obs.host = "http://a:8080";
	obs.fallback = true;
	svc_metrics_vd_observe(&obs, m);
	obs.kind = VD_OBSERVE_BREAKER;
	obs.version = "1.0.1";
	obs.state = "open";
	svc_metrics_vd_observe(&obs, m);
	obs.kind = VD_OBSERVE_SKIPPED;
	svc_metrics_vd_observe(&obs, m);
	obs.kind = VD_OBSERVE_BUDGET;
	svc_metrics_vd_observe(&obs, m);
	text = render(m);

	ck_assert_double_eq(value_of(text, "vdispatch_requests_total{endpoint="
	    "\"/tickets\",method=\"GET\",status=\"500\"}"), 2);
	ck_assert_double_eq(value_of(text, "vdispatch_requests_total{endpoint="
	    "\"none\",method=\"GET\",status=\"404\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_request_duration_seconds_"
	    "count{endpoint=\"/tickets\",method=\"GET\"}"), 2);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_attempts_total{"
	    "service=\"Ticket Query\",version=\"1.0.1\",host=\"http://a:8080\","
	    "result=\"http_error\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_attempts_total{"
	    "service=\"Ticket Query\",version=\"1.0.1\",host=\"http://b:8080\","
	    "result=\"ok\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_attempts_total{"
	    "service=\"Ticket Query\",version=\"1.0.0\",host=\"http://a:8080\","
	    "result=\"ok\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_fallbacks_total{"
	    "service=\"Ticket Query\",version=\"1.0.0\",host=\"http://a:8080\""
	    "}"), 1);
	/* 1.0.1's breaker at a opened; at b it is still closed. */
	ck_assert_double_eq(value_of(text, "vdispatch_breaker_state{service="
	    "\"Ticket Query\",version=\"1.0.1\",host=\"http://a:8080\"}"), 2);
	ck_assert_double_eq(value_of(text, "vdispatch_breaker_state{service="
	    "\"Ticket Query\",version=\"1.0.1\",host=\"http://b:8080\"}"), 0);
	ck_assert_double_eq(value_of(text, "vdispatch_breaker_state{service="
	    "\"Ticket Query\",version=\"1.0.0\",host=\"http://a:8080\"}"), 0);
	ck_assert_double_eq(value_of(text, "vdispatch_breaker_changes_total{"
	    "service=\"Ticket Query\",version=\"1.0.1\",host=\"http://a:8080\","
	    "state=\"open\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_skipped_total{"
	    "service=\"Ticket Query\",version=\"1.0.1\",host=\"http://a:8080\""
	    "}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_dispatch_budget_refusals_"
	    "total{service=\"Ticket Query\"}"), 1);
	free(text);
	svc_metrics_close(m);
}
END_TEST

/* A host too long for the labels: the observation is dropped and counted
 * as an overflow, never counted in a series without its host. */
START_TEST(host_that_does_not_fit)
{
	struct svc_metrics *m = open_metrics();
	vd_observation_t obs;
	char host[256], *text;

	memset(host, 'h', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	memset(&obs, 0, sizeof obs);
	obs.kind = VD_OBSERVE_BREAKER;
	obs.service = "Ticket Query";
	obs.version = "1.0.1";
	obs.host = host;
	obs.state = "open";
	svc_metrics_vd_observe(&obs, m);
	text = render(m);
	ck_assert_ptr_null(strstr(text, "vdispatch_breaker_state{"));
	ck_assert_ptr_null(strstr(text, "vdispatch_breaker_changes_total{"));
	ck_assert_double_eq(value_of(text, "vdispatch_metrics_overflow_total"),
	    1);
	free(text);
	svc_metrics_close(m);
}
END_TEST

/* Workers of one version, at once: the totals are exact. */
START_TEST(workers_add_up)
{
	struct svc_metrics *m;
	enum { WORKERS = 4, EACH = 20000 };
	pid_t pids[WORKERS];
	char *text;
	int i, j, st;

	for (i = 0; i < WORKERS; i++) {
		if ((pids[i] = fork()) == 0) {
			struct svc_metrics *w = open_metrics();

			for (j = 0; j < EACH; j++) {
				svc_metrics_count(w, "hits_total",
				    "endpoint=\"/tickets\"", 1);
				/* Series claimed by many at once. */
				svc_metrics_count(w, "hits_total", j % 2 ?
				    "k=\"odd\"" : "k=\"even\"", 1);
				svc_metrics_observe(w, "lat_seconds", "", 0.01);
			}
			svc_metrics_close(w);
			_exit(0);
		}
		ck_assert_int_gt(pids[i], 0);
	}
	for (i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	m = open_metrics();
	text = render(m);
	ck_assert_double_eq(value_of(text,
	    "hits_total{endpoint=\"/tickets\"}"), WORKERS * EACH);
	ck_assert_double_eq(value_of(text, "hits_total{k=\"odd\"}"),
	    WORKERS * EACH / 2);
	ck_assert_double_eq(value_of(text, "hits_total{k=\"even\"}"),
	    WORKERS * EACH / 2);
	ck_assert_double_eq(value_of(text, "lat_seconds_count"),
	    WORKERS * EACH);
	ck_assert_double_eq(value_of(text, "lat_seconds_bucket{le=\"0.01\"}"),
	    WORKERS * EACH);
	ck_assert_double_eq(value_of(text, "lat_seconds_sum"),
	    WORKERS * EACH * 0.01);
	/* The workers are gone: only this process is left. */
	ck_assert_double_eq(value_of(text, "vdispatch_workers"), 1);
	free(text);
	svc_metrics_close(m);
}
END_TEST

/* A gauge shows the largest value among live processes only. */
START_TEST(gauges_of_live_workers)
{
	struct svc_metrics *a = open_metrics(), *b = open_metrics();
	const char *labels = "service=\"Ticket Query\",version=\"1.0.1\"";
	pid_t pid;
	char *text;
	int st;

	svc_metrics_gauge(a, "breaker", labels, 0);
	svc_metrics_gauge(b, "breaker", labels, 1);
	text = render(a);
	ck_assert_double_eq(value_of(text, "breaker{service=\"Ticket Query\","
	    "version=\"1.0.1\"}"), 1);
	ck_assert_double_eq(value_of(text, "vdispatch_workers"), 2);
	free(text);

	/* A process that said "open" and died no longer counts. */
	if ((pid = fork()) == 0) {
		struct svc_metrics *c = open_metrics();

		svc_metrics_gauge(c, "breaker", labels, 2);
		_exit(0);	/* without closing, as a crash */
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	text = render(a);
	ck_assert_double_eq(value_of(text, "breaker{service=\"Ticket Query\","
	    "version=\"1.0.1\"}"), 1);
	free(text);
	svc_metrics_close(b);
	text = render(a);
	ck_assert_double_eq(value_of(text, "breaker{service=\"Ticket Query\","
	    "version=\"1.0.1\"}"), 0);
	free(text);
	svc_metrics_close(a);
}
END_TEST

START_TEST(what_does_not_fit)
{
	struct svc_metrics *m = open_metrics();
	char name[128], labels[300];
	char *text;
	int i;

	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	memset(labels, 'l', sizeof labels - 1);
	labels[sizeof labels - 1] = '\0';
	svc_metrics_count(m, name, "", 1);
	svc_metrics_count(m, "ok_total", labels, 1);
	/* A kind the series does not have. */
	svc_metrics_count(m, "mixed", "", 1);
	svc_metrics_observe(m, "mixed", "", 1);
	/* More series than the table holds. */
	for (i = 0; i < 1100; i++) {
		snprintf(labels, sizeof labels, "i=\"%d\"", i);
		svc_metrics_count(m, "many_total", labels, 1);
	}
	text = render(m);
	ck_assert_double_eq(value_of(text, "vdispatch_metrics_overflow_total"),
	    3 + (1100 - (1024 - 1)));
	ck_assert_double_eq(value_of(text, "mixed"), 1);
	ck_assert_double_eq(value_of(text, "many_total{i=\"0\"}"), 1);
	free(text);
	svc_metrics_close(m);
	/* NULL does nothing. */
	svc_metrics_count(NULL, "x", "", 1);
	svc_metrics_close(NULL);
}
END_TEST

/* A file left by another layout is laid out again. */
START_TEST(foreign_file)
{
	struct svc_metrics *m;
	char path[128];
	FILE *f;
	char *text;

	snprintf(path, sizeof path, "%s/metrics", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/metrics/tickets-1.0.1.metrics", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("not a metrics file", f);
	fclose(f);
	m = open_metrics();
	ck_assert_str_eq(svc_metrics_path(m), path);
	svc_metrics_count(m, "x_total", "", 1);
	text = render(m);
	ck_assert_double_eq(value_of(text, "x_total"), 1);
	free(text);
	svc_metrics_close(m);
}
END_TEST

/* In /dev/shm (no state directory), writable by every user: a symbolic
 * link or another's file planted at our path is never written through. */
START_TEST(shm_file_planted_by_another)
{
	char name[64], path[128], target[128];
	struct svc_gen *g;
	bson_error_t error;
	struct stat st;
	int fd;

	snprintf(name, sizeof name, "unit-%ld", (long)getpid());
	snprintf(path, sizeof path, "/dev/shm/vdispatch-%s.gen", name);
	snprintf(target, sizeof target, "%s/target", dir);
	unlink(path);
	ck_assert_int_eq(symlink(target, path), 0);
	g = svc_gen_open(NULL, name, &error);
	unlink(path);
	ck_assert_ptr_null(g);
	/* Refused, and said with the file's name. */
	ck_assert_ptr_nonnull(strstr(error.message, path));
	ck_assert_int_ne(lstat(target, &st), 0);	/* never created */

	/* A file anyone may write is not ours to trust. */
	ck_assert_int_ge(fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600),
	    0);
	ck_assert_int_eq(fchmod(fd, 0666), 0);
	close(fd);
	ck_assert_ptr_null(svc_gen_open(NULL, name, &error));
	unlink(path);

	/* Made fresh, then found again by the next worker. */
	ck_assert_ptr_nonnull(g = svc_gen_open(NULL, name, &error));
	svc_gen_bump(g);
	svc_gen_close(g);
	ck_assert_ptr_nonnull(g = svc_gen_open(NULL, name, &error));
	ck_assert_uint_eq(svc_gen_read(g), 1);
	svc_gen_close(g);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 022, 0);
	unlink(path);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, labels_are_escaped);
	tcase_add_test(tc, text_format);
	tcase_add_test(tc, requests_and_dispatch);
	tcase_add_test(tc, host_that_does_not_fit);
	tcase_add_test(tc, workers_add_up);
	tcase_add_test(tc, gauges_of_live_workers);
	tcase_add_test(tc, what_does_not_fit);
	tcase_add_test(tc, foreign_file);
	tcase_add_test(tc, shm_file_planted_by_another);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
