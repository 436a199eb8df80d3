/*
 * bench-dispatch.c - what a libvdispatch call costs, against the running
 * stack, compared with a plain libcurl GET of the same URL in the same
 * process (the baseline, measured in the same run).
 *
 *   spawn/stack up
 *   eval "$(spawn/stack env)"
 *   ./bench/dispatch/bench-dispatch [--calls N] [--rounds R]
 *
 * Five ways to get the tickets, measured in interleaved rounds (by
 * default 3000 rounds of one of each) so that a slow moment of the
 * machine hits them all alike:
 *
 *   plain      libcurl GET of Ticket Query 1.0.0's URL, one handle reused
 *   call       vd_call_perform of "Ticket Query" at "=1.0.0"
 *   parsed     the same with VD_REPLY_PARSED: each reply parsed by cJSON
 *   open       vd_call_perform of a bench service at "1.0.0" whose 1.0.1
 *              fails every call (HTTP 500, from a server in this process)
 *              and whose circuit is open: 1.0.1 is skipped
 *   no breaker the same with the breaker off: each call tries 1.0.1,
 *              fails, and falls back to 1.0.0
 *
 * and, to show the library's own cost apart from the tickets query's,
 * nginx's answer at "/" (no responder, no database) by a plain GET and by
 * vd_call_perform of a bench entry that points at it ("Bench Static").
 *
 * The bench entries ("Bench Query <pid>" 1.0.1 and 1.0.0, "Bench Static
 * <pid>" 1.0.0) are registered at start, kept live by a heartbeat thread,
 * and removed at the end. The targets of issue 4: call <= 1.10 x
 * plain, open <= 1.20 x plain (a direct call of 1.0.0). Not a test: the
 * figures depend on the machine; it exits 0 whenever it could measure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "vdispatch.h"

/* ---- a version that fails every call ---- */

struct failing {
	int listen_fd;
	int port;
	volatile bool stop;
	pthread_t thread;
	long served;
};

static const char fail_reply[] =
    "HTTP/1.1 500 Internal Server Error\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 51\r\n"
    "\r\n"
    "{\"error\":\"injected failure\",\"detail\":\"bench 1.0.1\"}";

#define MAX_CONN 16

/* A 500 for each request, on up to MAX_CONN kept-alive connections. */
static void *
failing_main(void *arg)
{
	struct failing *f = arg;
	struct pollfd p[MAX_CONN + 1];
	char buf[MAX_CONN + 1][8192];
	size_t used[MAX_CONN + 1], n = 1, i;

	p[0].fd = f->listen_fd;
	p[0].events = POLLIN;
	while (!f->stop) {
		if (poll(p, n, 100) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n < MAX_CONN + 1) {
			int fd = accept(f->listen_fd, NULL, NULL);

			if (fd >= 0) {
				p[n].fd = fd;
				p[n].events = POLLIN;
				p[n].revents = 0;
				used[n] = 0;
				n++;
			}
		}
		for (i = 1; i < n; i++) {
			char *end;
			ssize_t got;
			bool drop = false;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(p[i].fd, buf[i] + used[i],
			    sizeof buf[i] - 1 - used[i]);
			if (got <= 0) {
				drop = true;
			} else {
				used[i] += (size_t)got;
				buf[i][used[i]] = '\0';
				/* GET requests only: no body to skip. */
				while ((end = strstr(buf[i], "\r\n\r\n")) !=
				    NULL) {
					size_t len = (size_t)(end + 4 - buf[i]);

					if (write(p[i].fd, fail_reply,
					    sizeof fail_reply - 1) < 0)
						drop = true;
					f->served++;
					memmove(buf[i], buf[i] + len,
					    used[i] - len + 1);
					used[i] -= len;
				}
				if (used[i] == sizeof buf[i] - 1)
					drop = true;
			}
			if (drop) {
				close(p[i].fd);
				p[i] = p[n - 1];
				memcpy(buf[i], buf[n - 1], sizeof buf[i]);
				used[i] = used[n - 1];
				n--;
				i--;
			}
		}
	}
	for (i = 1; i < n; i++)
		close(p[i].fd);
	return NULL;
}

static bool
failing_start(struct failing *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;

	memset(f, 0, sizeof *f);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((f->listen_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(f->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(f->listen_fd, 16) != 0 ||
	    getsockname(f->listen_fd, (struct sockaddr *)&a, &len) != 0)
		return false;
	f->port = ntohs(a.sin_port);
	return pthread_create(&f->thread, NULL, failing_main, f) == 0;
}

static void
failing_stop(struct failing *f)
{
	f->stop = true;
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
}

/* ---- measuring ---- */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct samples {
	const char *label;
	double *us;
	size_t n;
	size_t failed;
};

static size_t
on_body(char *data, size_t size, size_t n, void *userdata)
{
	size_t *total = userdata;

	(void)data;
	*total += size * n;
	return size * n;
}

/* One plain GET; false unless it got a 200. */
static bool
plain_get(CURL *curl, const char *url, struct curl_slist *headers)
{
	size_t total = 0;
	long status = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &total);
	if (curl_easy_perform(curl) != CURLE_OK)
		return false;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status == 200 && total > 0;
}

static void
measure_plain(struct samples *s, size_t calls, CURL *curl, const char *url,
    struct curl_slist *headers)
{
	size_t i;

	for (i = 0; i < calls; i++) {
		double t0 = now_us();

		if (!plain_get(curl, url, headers)) {
			s->failed++;
			continue;
		}
		s->us[s->n++] = now_us() - t0;
	}
}

static void
measure_call(struct samples *s, size_t calls, vd_call_t *call,
    const char *want_version)
{
	vd_error_t err;
	size_t i;

	for (i = 0; i < calls; i++) {
		double t0 = now_us();

		if (vd_call_perform(call, &err) != VD_OK ||
		    strcmp(vd_call_version(call), want_version) != 0) {
			if (s->failed++ == 0)
				fprintf(stderr, "bench: %s: %s\n", s->label,
				    err.message);
			continue;
		}
		s->us[s->n++] = now_us() - t0;
	}
}

static int
compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
quantile(struct samples *s, double q)
{
	size_t i;

	if (s->n == 0)
		return NAN;
	qsort(s->us, s->n, sizeof *s->us, compare);
	i = (size_t)(q * (double)(s->n - 1) + 0.5);
	return s->us[i];
}

/* ---- set-up ---- */

static void
quiet(vd_log_level_t level, const char *message, void *userdata)
{
	(void)userdata;
	if (level >= VD_LOG_WARN && strncmp(message, "calling ", 8) != 0 &&
	    strncmp(message, "circuit ", 8) != 0)
		fprintf(stderr, "bench: %s\n", message);
}

/* The driver's own lines (FerretDB's "Couldn't send endSessions" at
 * exit) are noise here. */
static void
mongoc_quiet(mongoc_log_level_t level, const char *domain,
    const char *message, void *userdata)
{
	(void)level;
	(void)domain;
	(void)message;
	(void)userdata;
}

static vd_client_t *
client_new(void)
{
	vd_error_t err;
	vd_client_t *c = vd_client_new(NULL, &err);

	if (c == NULL) {
		fprintf(stderr, "bench: %s\n", err.message);
		exit(1);
	}
	vd_client_set_logger(c, quiet, NULL);
	return c;
}

/* The GET URL of name at exactly version, copied into url. */
static bool
find_url(vd_client_t *c, const char *name, const char *version, char *url,
    size_t size)
{
	vd_entry_t *e;
	vd_error_t err;
	size_t n, i, j;
	bool found = false;

	if (vd_lookup(c, name, version, &e, &n, &err) != VD_OK) {
		fprintf(stderr, "bench: %s\n", err.message);
		return false;
	}
	for (i = 0; i < n && !found; i++)
		for (j = 0; j < e[i].n_endpoints && !found; j++)
			if (!e[i].stale &&
			    strcmp(e[i].endpoints[j].type, "http-get") == 0) {
				snprintf(url, size, "%s",
				    e[i].endpoints[j].url);
				found = true;
			}
	vd_entries_free(e, n);
	return found;
}

static bool
register_get(vd_client_t *c, const char *name, const char *version,
    const char *url)
{
	vd_endpoint_t ep = { "http-get", url };
	vd_service_t s = { name, version, "/bench", &ep, 1, NULL, 0 };
	vd_error_t err;

	if (vd_register(c, &s, &err) != VD_OK) {
		fprintf(stderr, "bench: %s\n", err.message);
		return false;
	}
	return true;
}

/* The bench service's heartbeat, as a responder's: its entries are
 * registered again every 5 s from a client of their own, so that they
 * stay live however long the bench runs. */
struct heartbeat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const char *name;
	const char *urls[2];       /* 1.0.1, 1.0.0 */
	const char *static_name;
	const char *static_url;
};

static bool register_get(vd_client_t *c, const char *name,
    const char *version, const char *url);

static void *
heartbeat_main(void *arg)
{
	struct heartbeat *h = arg;
	vd_client_t *c = client_new();
	struct timespec until;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		pthread_mutex_unlock(&h->lock);
		register_get(c, h->name, "1.0.1", h->urls[0]);
		register_get(c, h->name, "1.0.0", h->urls[1]);
		register_get(c, h->static_name, "1.0.0", h->static_url);
		pthread_mutex_lock(&h->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		while (!h->stop && pthread_cond_timedwait(&h->cond, &h->lock,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&h->lock);
	vd_client_destroy(c);
	return NULL;
}

static vd_call_t *
call_new(vd_client_t *c, const char *name, const char *range)
{
	vd_error_t err;
	vd_call_t *call = vd_call_new(c, name, range, &err);

	if (call == NULL) {
		fprintf(stderr, "bench: %s\n", err.message);
		exit(1);
	}
	return call;
}

static void
row(struct samples *s, double base, const char *target)
{
	double med = quantile(s, 0.5), p90 = quantile(s, 0.9);

	printf("  %-46s %8.3f %8.3f %7.3f%s%s\n", s->label, med / 1e3,
	    p90 / 1e3, med / base, target[0] != '\0' ? "  " : "", target);
	if (s->failed > 0)
		printf("  %-46s (%zu calls failed, left out)\n", "",
		    s->failed);
}

int
main(int argc, char **argv)
{
	size_t calls = 1, rounds = 3000, r, i;
	vd_client_t *c_call, *c_parsed, *c_open, *c_nobreak;
	vd_call_t *k_call = NULL, *k_parsed = NULL, *k_open = NULL;
	vd_call_t *k_nobreak = NULL;
	struct samples plain = { "plain libcurl GET of 1.0.0's URL", 0, 0, 0 };
	struct samples call = { "vd_call_perform \"Ticket Query\" =1.0.0",
	    0, 0, 0 };
	struct samples parsed = { "... replies parsed (VD_REPLY_PARSED)",
	    0, 0, 0 };
	struct samples opened = { "... 1.0.0, 1.0.1 failing, breaker open",
	    0, 0, 0 };
	struct samples nobreak = { "... 1.0.0, 1.0.1 failing, breaker off",
	    0, 0, 0 };
	struct samples plain_static = { "plain libcurl GET of nginx's /",
	    0, 0, 0 };
	struct samples call_static = {
		"vd_call_perform of it (\"Bench Static\")", 0, 0, 0 };
	vd_call_t *k_static = NULL;
	char static_url[1100], static_name[64], *slash;
	struct failing fail;
	struct heartbeat hb = { .stop = false };
	bool hb_started = false;
	struct curl_slist *headers = NULL;
	char url[1024], fail_url[128], name[64];
	vd_error_t err;
	double base;
	CURL *curl = NULL;
	int status = 1;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--calls") == 0 && i + 1 < (size_t)argc)
			calls = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0 &&
		    i + 1 < (size_t)argc)
			rounds = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench-dispatch [--calls N] "
			    "[--rounds R]\n");
			return 64;
		}
	}
	if (calls == 0 || rounds == 0 || calls * rounds > 10000000) {
		fprintf(stderr, "bench: bad --calls or --rounds\n");
		return 64;
	}
	mongoc_log_set_handler(mongoc_quiet, NULL);
	c_call = client_new();
	c_parsed = client_new();
	if (vd_client_set_reply_check(c_parsed, VD_REPLY_PARSED, &err) !=
	    VD_OK) {
		fprintf(stderr, "bench: %s\n", err.message);
		return 1;
	}
	c_open = client_new();
	c_nobreak = client_new();
	if (!find_url(c_call, "Ticket Query", "=1.0.0", url, sizeof url)) {
		fprintf(stderr, "bench: no live Ticket Query 1.0.0 in the "
		    "registry: is the stack up (spawn/stack up; eval "
		    "\"$(spawn/stack env)\")?\n");
		return 1;
	}
	if (!failing_start(&fail)) {
		fprintf(stderr, "bench: cannot start the failing server: %s\n",
		    strerror(errno));
		return 1;
	}
	snprintf(fail_url, sizeof fail_url, "http://127.0.0.1:%d/fail",
	    fail.port);
	snprintf(name, sizeof name, "Bench Query %ld", (long)getpid());
	snprintf(static_name, sizeof static_name, "Bench Static %ld",
	    (long)getpid());
	/* nginx's own answer at "/": the same path minus any responder, so
	 * that the library's own cost shows. */
	snprintf(static_url, sizeof static_url, "%s", url);
	if ((slash = strstr(static_url, "://")) != NULL &&
	    (slash = strchr(slash + 3, '/')) != NULL)
		slash[1] = '\0';
	if (!register_get(c_call, name, "1.0.1", fail_url) ||
	    !register_get(c_call, name, "1.0.0", url))
		goto out;
	hb.name = name;
	hb.urls[0] = fail_url;
	hb.urls[1] = url;
	hb.static_name = static_name;
	hb.static_url = static_url;
	if (!register_get(c_call, static_name, "1.0.0", static_url))
		goto out;
	pthread_mutex_init(&hb.lock, NULL);
	pthread_cond_init(&hb.cond, NULL);
	if (pthread_create(&hb.thread, NULL, heartbeat_main, &hb) != 0) {
		fprintf(stderr, "bench: cannot start the heartbeat\n");
		goto out;
	}
	hb_started = true;
	vd_client_set_budget(c_nobreak, 0, HUGE_VAL, 0, NULL);
	vd_client_set_breaker(c_nobreak, 0, 0, -1, 0, 0, 0, NULL);
	k_call = call_new(c_call, "Ticket Query", "=1.0.0");
	k_parsed = call_new(c_parsed, "Ticket Query", "=1.0.0");
	k_open = call_new(c_open, name, "1.0.0");
	k_nobreak = call_new(c_nobreak, name, "1.0.0");
	k_static = call_new(c_call, static_name, "=1.0.0");

	curl = curl_easy_init();
	headers = curl_slist_append(NULL, "Accept: application/json");
	plain.us = calloc(calls * rounds, sizeof (double));
	call.us = calloc(calls * rounds, sizeof (double));
	parsed.us = calloc(calls * rounds, sizeof (double));
	opened.us = calloc(calls * rounds, sizeof (double));
	nobreak.us = calloc(calls * rounds, sizeof (double));
	if (curl == NULL || headers == NULL || plain.us == NULL ||
	    call.us == NULL || parsed.us == NULL || opened.us == NULL || nobreak.us == NULL ||
	    (plain_static.us = calloc(calls * rounds, sizeof (double))) ==
	    NULL || (call_static.us = calloc(calls * rounds,
	    sizeof (double))) == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		goto out;
	}
	/* Warm-up: connections made, registry copies read, and 1.0.1's
	 * circuit opened (5 failures in a row) in c_open. */
	{
		struct samples w = { "", calloc(50, sizeof (double)), 0, 0 };
		struct samples w2 = { "", calloc(50, sizeof (double)), 0, 0 };

		measure_plain(&w, 20, curl, url, headers);
		w.n = 0;
		measure_call(&w, 20, k_call, "1.0.0");
		w.n = 0;
		measure_call(&w, 20, k_parsed, "1.0.0");
		w.n = 0;
		measure_call(&w, 20, k_open, "1.0.0");
		measure_call(&w2, 20, k_nobreak, "1.0.0");
		w2.n = 0;
		measure_plain(&w2, 20, curl, static_url, headers);
		w2.n = 0;
		measure_call(&w2, 20, k_static, "1.0.0");
		free(w.us);
		free(w2.us);
	}
	printf("libvdispatch call cost, %zu rounds of %zu call%s of each kind, "
	    "interleaved\n"
	    "  Ticket Query 1.0.0 at %s\n  1.0.1 of \"%s\": HTTP 500 from %s\n"
	    "\n  %-46s %8s %8s %7s\n", rounds, calls, calls == 1 ? "" : "s",
	    url, name, fail_url,
	    "", "median", "p90", "ratio");
	printf("  %-46s %8s %8s %7s\n", "", "ms", "ms", "");
	for (r = 0; r < rounds; r++) {
		measure_plain(&plain, calls, curl, url, headers);
		measure_call(&call, calls, k_call, "1.0.0");
		measure_call(&parsed, calls, k_parsed, "1.0.0");
		measure_call(&opened, calls, k_open, "1.0.0");
		measure_call(&nobreak, calls, k_nobreak, "1.0.0");
		measure_plain(&plain_static, calls, curl, static_url, headers);
		measure_call(&call_static, calls, k_static, "1.0.0");
	}
	base = quantile(&plain, 0.5);
	row(&plain, base, "");
	row(&call, base, "(target <= 1.10)");
	row(&parsed, base, "");
	row(&opened, base, "(target <= 1.20)");
	row(&nobreak, base, "");
	base = quantile(&plain_static, 0.5);
	printf("\n");
	row(&plain_static, base, "");
	row(&call_static, base, "");
	printf("  %-46s %8.3f\n", "library cost per call (difference)",
	    (quantile(&call_static, 0.5) - base) / 1e3);
	printf("\n  ratio: median over the plain GET's median. The failing "
	    "1.0.1 answered %ld requests:\n  every call with the breaker off;"
	    " with it open, 5 failures then a trial every 5 s\n  or more.\n",
	    fail.served);
	status = 0;
out:
	if (hb_started) {
		pthread_mutex_lock(&hb.lock);
		hb.stop = true;
		pthread_cond_signal(&hb.cond);
		pthread_mutex_unlock(&hb.lock);
		pthread_join(hb.thread, NULL);
	}
	vd_unregister(c_call, name, "1.0.1", &err);
	vd_unregister(c_call, name, "1.0.0", &err);
	vd_unregister(c_call, static_name, "1.0.0", &err);
	failing_stop(&fail);
	vd_call_destroy(k_call);
	vd_call_destroy(k_parsed);
	vd_call_destroy(k_open);
	vd_call_destroy(k_nobreak);
	vd_call_destroy(k_static);
	curl_slist_free_all(headers);
	if (curl != NULL)
		curl_easy_cleanup(curl);
	free(plain.us);
	free(call.us);
	free(parsed.us);
	free(opened.us);
	free(nobreak.us);
	free(plain_static.us);
	free(call_static.us);
	vd_client_destroy(c_call);
	vd_client_destroy(c_parsed);
	vd_client_destroy(c_open);
	vd_client_destroy(c_nobreak);
	return status;
}
