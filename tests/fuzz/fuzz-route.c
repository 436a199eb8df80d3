/*
 * fuzz-route.c - the routing of both services (route.c) over their real
 * tables (src/tickets.fcgi/routes.c, src/replyfeed.fcgi/routes.c), with
 * handlers that only note that they ran; and svc_path_segment, which the
 * handlers use to read ids from the path.
 *
 * Input: the method on the first line, the path on the second. Properties:
 * nothing crashes; a handler runs exactly when the answer is not a 404 or
 * 405, and it is one whose pattern fits the path, an exact path before a
 * pattern with '*'; a 404 fits no pattern; a 405 fits one and says Allow;
 * every refusal is a JSON error; a path segment comes back whole and
 * within its buffer, or not at all.
 */
#include <stdio.h>
#include <string.h>

#include "service.h"
#include "fuzz.h"

/* From tickets.h and replyfeed.h: only the route tables are needed here,
 * and the handlers' names (stubbed below). */
extern const struct svc_route tk_routes[];
extern const size_t tk_n_routes;
extern const struct svc_route rf_routes[];
extern const size_t rf_n_routes;

struct ran {
	int calls;
	const char *name;
};

/* What a handler does with the path: read its segments into buffers of
 * the size the real handlers use (an id of 24 hex digits, or evt_ and
 * 24). */
#define STUB(fn)                                                        \
void fn(const struct svc_request *, struct svc_response *, void *);     \
void                                                                    \
fn(const struct svc_request *req, struct svc_response *resp, void *app) \
{                                                                       \
	struct ran *ran = app;                                          \
	char buf[32];                                                   \
	int i;                                                          \
                                                                        \
	for (i = 0; i < 4; i++)                                         \
		(void)svc_path_segment(req->path, i, buf, sizeof buf);  \
	ran->calls++;                                                   \
	ran->name = #fn;                                                \
	svc_response_raw(resp, 200, "application/json", "{}", 2);       \
}

STUB(tk_query)
STUB(tk_query_one)
STUB(tk_add_comment)
STUB(tk_subscribe)
STUB(tk_unsubscribe)
STUB(tk_subscriptions)
STUB(tk_subscription)
STUB(tk_replay_since)
STUB(tk_event)
STUB(tk_replay_event)
STUB(tk_deadletters)
STUB(tk_health)
STUB(tk_registry)
STUB(tk_metrics)
STUB(rf_event)
STUB(rf_latest)
STUB(rf_health)
STUB(rf_metrics)

/* Segment n of path, written independently of svc_path_segment: the
 * text after the n+1-th '/' up to the next one; false when there is
 * none (or path does not start with '/'). */
static bool
segment(const char *path, int n, const char **start, size_t *len)
{
	const char *p = path;
	int i;

	if (*p != '/')
		return false;
	for (i = 0; i < n; i++) {
		p += 1 + strcspn(p + 1, "/");
		if (*p != '/')
			return false;
	}
	*start = p + 1;
	*len = strcspn(p + 1, "/");
	return true;
}

/* Whether path fits pattern: as many segments, each equal, or any
 * non-empty one for "*". */
static bool
fits(const char *pattern, const char *path)
{
	const char *ps, *ts;
	size_t pl, tl;
	int n;

	if (*pattern != '/' || *path != '/')
		return strcmp(pattern, path) == 0;
	for (n = 0; segment(pattern, n, &ps, &pl); n++) {
		if (!segment(path, n, &ts, &tl))
			return false;
		if (pl == 1 && *ps == '*') {
			if (tl == 0)
				return false;
		} else if (pl != tl || memcmp(ps, ts, pl) != 0)
			return false;
	}
	return !segment(path, n, &ts, &tl);
}

static void
check_segments(const char *path)
{
	static const size_t sizes[] = { 1, 2, 8, 25, 32, 256 };
	char buf[256];
	const char *got, *start;
	size_t i, len;
	int n;

	for (n = 0; n < 5; n++)
		for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
			got = svc_path_segment(path, n, buf, sizes[i]);
			if (!segment(path, n, &start, &len) || len >= sizes[i]) {
				FUZZ_ASSERT(got == NULL);
				continue;
			}
			FUZZ_ASSERT(got == buf);
			FUZZ_ASSERT(strlen(got) == len);
			FUZZ_ASSERT(memcmp(got, start, len) == 0);
		}
}

/* Every route runs without a token: what is fuzzed here is the choice of
 * the route (fuzz-auth fuzzes the tokens). */
static const struct svc_auth *
insecure(void)
{
	static struct svc_auth *auth;
	struct svc_auth_config cfg = { .insecure = true };
	if (auth == NULL && (auth = svc_auth_new(&cfg, NULL)) == NULL)
		abort();
	return auth;
}

static void
route(const struct svc_route *table, size_t n, const char *method,
    const char *path)
{
	struct svc_request req;
	struct svc_response resp;
	const struct svc_route *r;
	struct ran ran = { 0, NULL };
	bool any = false, exact = false;
	size_t i;

	memset(&req, 0, sizeof req);
	svc_request_make(&req, method, path, "application/json", NULL);
	svc_response_init(&resp);
	r = svc_route(table, n, &req, &resp, &ran, insecure());
	for (i = 0; i < n; i++) {
		if (!fits(table[i].path, req.path))
			continue;
		any = true;
		if (strchr(table[i].path, '*') == NULL)
			exact = true;
	}
	if (r != NULL) {
		FUZZ_ASSERT(ran.calls == 1 && resp.status == 200);
		FUZZ_ASSERT(fits(r->path, req.path));
		FUZZ_ASSERT(strcmp(r->method, req.method) == 0 ||
		    (strcmp(req.method, "HEAD") == 0 &&
		    strcmp(r->method, "GET") == 0));
		FUZZ_ASSERT(!exact || strchr(r->path, '*') == NULL);
	} else {
		FUZZ_ASSERT(ran.calls == 0);
		FUZZ_ASSERT(resp.status == (any ? 405 : 404));
		fuzz_check_error(&resp);
		if (resp.status == 405)
			FUZZ_ASSERT(resp.headers.data != NULL &&
			    strncmp(resp.headers.data, "Allow: ", 7) == 0);
	}
	svc_response_free(&resp);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields ff;

	fuzz_split(&ff, data, size, 2);
	route(tk_routes, tk_n_routes, ff.f[0], ff.f[1]);
	route(rf_routes, rf_n_routes, ff.f[0], ff.f[1]);
	check_segments(ff.f[1]);
	fuzz_free(&ff);
	return 0;
}
