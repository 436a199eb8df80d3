/*
 * test-route.c - the routing table: exact paths, prefixes, 404, 405 with
 * Allow, HEAD as GET; and a handler run without FastCGI.
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "unit.h"

static void
h_list(const struct svc_request *req, struct svc_response *resp, void *app)
{
	(void)req;
	(*(int *)app)++;
	svc_response_raw(resp, 200, "application/json", "[]", 2);
}

static void
h_post(const struct svc_request *req, struct svc_response *resp, void *app)
{
	cJSON *body = svc_parse_body(req, resp);

	(void)app;
	if (body == NULL)
		return;
	svc_response_json(resp, 200, body);
	cJSON_Delete(body);
}

static void
h_one(const struct svc_request *req, struct svc_response *resp, void *app)
{
	(void)app;
	svc_response_raw(resp, 200, "text/plain", req->path, strlen(req->path));
}

static const struct svc_route table[] = {
	{ "GET", "/tickets", h_list, NULL },
	{ "POST", "/tickets/addComment", h_post, NULL },
	{ "GET", "/tickets/*", h_one, NULL },
	{ "POST", "/tickets/*/replay", h_one, NULL },
};

static int
run(const char *method, const char *path, const char *body,
    struct svc_response *resp, int *calls)
{
	struct svc_request req;

	memset(&req, 0, sizeof req);
	svc_request_make(&req, method, path, "application/json", body);
	svc_response_clear(resp);
	svc_route(table, 4, &req, resp, calls, NULL);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
	return resp->status;
}

START_TEST(routes)
{
	struct svc_response resp;
	int calls = 0;

	svc_response_init(&resp);
	ck_assert_int_eq(run("GET", "/tickets", NULL, &resp, &calls), 200);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(run("HEAD", "/tickets", NULL, &resp, &calls), 200);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(run("POST", "/tickets/addComment", "{\"a\":\"b\"}",
	    &resp, &calls), 200);
	ck_assert_str_eq(resp.body.data, "{\"a\":\"b\"}");
	ck_assert_int_eq(run("GET", "/tickets/abc", NULL, &resp, &calls), 200);
	ck_assert_str_eq(resp.body.data, "/tickets/abc");

	/* A known path with the wrong method: 405 and what is allowed. */
	ck_assert_int_eq(run("GET", "/tickets/addComment", NULL, &resp,
	    &calls), 405);
	ck_assert_ptr_nonnull(strstr(resp.headers.data, "Allow: POST"));
	ck_assert_int_eq(run("DELETE", "/tickets", NULL, &resp, &calls), 405);
	ck_assert_ptr_nonnull(strstr(resp.headers.data, "Allow: GET, HEAD"));

	ck_assert_int_eq(run("GET", "/nothing", NULL, &resp, &calls), 404);
	ck_assert_int_eq(run("GET", "/tickets/a/b", NULL, &resp, &calls), 404);
	ck_assert_int_eq(run("POST", "/tickets/a/replay", "{}", &resp, &calls),
	    200);
	ck_assert_str_eq(resp.body.data, "/tickets/a/replay");
	ck_assert_int_eq(run("GET", "/tickets/a/replay", NULL, &resp, &calls),
	    405);
	ck_assert_int_eq(run("POST", "/tickets//replay", "{}", &resp, &calls),
	    404);
	ck_assert_int_eq(run("GET", "/tickets/", NULL, &resp, &calls), 404);
	ck_assert_ptr_nonnull(strstr(resp.body.data, "\"error\""));
	ck_assert_int_eq(calls, 2);
	svc_response_free(&resp);
}
END_TEST

START_TEST(path_segments)
{
	char buf[8];

	ck_assert_str_eq(svc_path_segment("/tickets/abc/replay", 0, buf,
	    sizeof buf), "tickets");
	ck_assert_str_eq(svc_path_segment("/tickets/abc/replay", 1, buf,
	    sizeof buf), "abc");
	ck_assert_ptr_null(svc_path_segment("/tickets/abc", 2, buf,
	    sizeof buf));
	ck_assert_ptr_null(svc_path_segment("/tickets/toolongsegment", 1, buf,
	    sizeof buf));
	/* A segment that does not fit leaves no stale bytes behind: the
	 * caller may still name it (tk_subscription read an
	 * uninitialised id there). */
	memset(buf, 'x', sizeof buf);
	ck_assert_ptr_null(svc_path_segment("/tickets/toolongsegment", 1, buf,
	    sizeof buf));
	ck_assert_str_eq(buf, "");
	memset(buf, 'x', sizeof buf);
	ck_assert_ptr_null(svc_path_segment("/tickets", 3, buf, sizeof buf));
	ck_assert_str_eq(buf, "");
}
END_TEST

/* An empty path (no PATH_INFO) has no segment, and nothing after its
 * terminator is read as one (fuzz-route found the read past the end). */
START_TEST(path_segments_empty)
{
	static const char after_end[] = "\0/tickets/abc";
	char buf[8];

	ck_assert_ptr_null(svc_path_segment("", 0, buf, sizeof buf));
	ck_assert_ptr_null(svc_path_segment(after_end, 1, buf, sizeof buf));
	ck_assert_ptr_null(svc_path_segment(after_end, 2, buf, sizeof buf));
	/* Segments are counted from a leading '/' only. */
	ck_assert_ptr_null(svc_path_segment("tickets/abc", 1, buf,
	    sizeof buf));
}
END_TEST

START_TEST(request_copies_params)
{
	char a[] = "REQUEST_METHOD=POST", b[] = "PATH_INFO=/x",
	    c[] = "HTTP_X_REQUEST_ID=abc-123", d[] = "CONTENT_LENGTH=70000",
	    e[] = "HTTP_IDEMPOTENCY_KEY=k1";
	char *env[] = { a, b, c, d, e, NULL };
	struct svc_request req;

	memset(&req, 0, sizeof req);
	svc_request_from_env(&req, env, "made");
	/* The copies outlive the parameters libfcgi frees. */
	memset(a, 'x', sizeof a - 1);
	memset(c, 'x', sizeof c - 1);
	ck_assert_str_eq(req.method, "POST");
	ck_assert_str_eq(req.request_id, "abc-123");
	ck_assert(req.body_too_large);
	ck_assert_str_eq(svc_request_param(&req, "HTTP_IDEMPOTENCY_KEY"), "k1");
	ck_assert_ptr_null(svc_request_param(&req, "HTTP_NOPE"));
	svc_request_clear(&req);

	/* A request id that could forge a header is replaced. */
	{
		char r[] = "HTTP_X_REQUEST_ID=a\r\nX-Evil: 1";
		char *env2[] = { r, NULL };

		svc_request_from_env(&req, env2, "made");
		ck_assert_str_eq(req.request_id, "made");
		ck_assert_str_eq(req.method, "");
		svc_request_clear(&req);
	}
	/* Up to 128 visible characters are kept whole (a trace header's
	 * "Root=1-5f1d;Parent=..." too); longer or with a space, replaced. */
	{
		char r[160] = "HTTP_X_REQUEST_ID=";
		char *env3[] = { r, NULL };
		size_t at = strlen(r);

		memset(r + at, 'a', 128);
		memcpy(r + at, "Root=1-5f1d;Parent=x:y/z+\"", 26);
		r[at + 128] = '\0';
		svc_request_from_env(&req, env3, "made");
		ck_assert_str_eq(req.request_id, r + at);
		svc_request_clear(&req);
		r[at + 128] = 'a';
		r[at + 129] = '\0';
		svc_request_from_env(&req, env3, "made");
		ck_assert_str_eq(req.request_id, "made");
		svc_request_clear(&req);
		snprintf(r + at, sizeof r - at, "two words");
		svc_request_from_env(&req, env3, "made");
		ck_assert_str_eq(req.request_id, "made");
		svc_request_clear(&req);
	}
	svc_buf_free(&req.body_buf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, routes);
	tcase_add_test(tc, request_copies_params);
	tcase_add_test(tc, path_segments);
	tcase_add_test(tc, path_segments_empty);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
