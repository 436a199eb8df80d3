/*
 * test-validate.c - request bodies and fields are checked before anything
 * is stored: each refusal with its status.
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "unit.h"

/* Parses body as a request with content type ct; returns the status the
 * response got (200 when parsing accepted it). */
static int
parse_status(const char *ct, const char *body)
{
	struct svc_request req;
	struct svc_response resp;
	cJSON *json;
	int status;

	memset(&req, 0, sizeof req);
	svc_request_make(&req, "POST", "/x", ct, body);
	svc_response_init(&resp);
	json = svc_parse_body(&req, &resp);
	status = json != NULL ? 200 : resp.status;
	if (json == NULL) {
		/* Every refusal is the JSON error body of docs/design.md. */
		cJSON *err = cJSON_Parse(resp.body.data);
		ck_assert_ptr_nonnull(err);
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(err, "error")));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(err, "detail")));
		cJSON_Delete(err);
	}
	cJSON_Delete(json);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
	svc_response_free(&resp);
	return status;
}

START_TEST(accepts_object)
{
	ck_assert_int_eq(parse_status("application/json", "{\"a\":1}"), 200);
	ck_assert_int_eq(parse_status("application/json; charset=utf-8",
	    " {\"a\": [1, {\"b\": \"c\"}]} \n"), 200);
}
END_TEST

START_TEST(refuses_media_type)
{
	ck_assert_int_eq(parse_status("text/plain", "{}"), 415);
	ck_assert_int_eq(parse_status("", "{}"), 415);
	ck_assert_int_eq(parse_status("application/jsonp", "{}"), 415);
}
END_TEST

START_TEST(refuses_bad_json)
{
	ck_assert_int_eq(parse_status("application/json", ""), 400);
	ck_assert_int_eq(parse_status("application/json", "{"), 400);
	ck_assert_int_eq(parse_status("application/json", "{} {}"), 400);
	ck_assert_int_eq(parse_status("application/json", "[1,2]"), 400);
	ck_assert_int_eq(parse_status("application/json", "\"s\""), 400);
	ck_assert_int_eq(parse_status("application/json", "{'a':1}"), 400);
}
END_TEST

START_TEST(refuses_dollar_keys_anywhere)
{
	ck_assert_int_eq(parse_status("application/json",
	    "{\"$where\":\"1\"}"), 400);
	ck_assert_int_eq(parse_status("application/json",
	    "{\"a\":{\"$gt\":\"\"}}"), 400);
	ck_assert_int_eq(parse_status("application/json",
	    "{\"a\":[{\"$set\":1}]}"), 400);
	/* A '$' inside a key or a value is harmless. */
	ck_assert_int_eq(parse_status("application/json",
	    "{\"a$\":\"$1\"}"), 200);
}
END_TEST

START_TEST(refuses_deep_nesting_and_bad_utf8)
{
	char deep[400] = "";
	int i;

	for (i = 0; i < 40; i++)
		strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for (i = 0; i < 40; i++)
		strcat(deep, "}");
	ck_assert_int_eq(parse_status("application/json", deep), 400);
	ck_assert_int_eq(parse_status("application/json",
	    "{\"a\":\"\xff\xfe\"}"), 400);
}
END_TEST

/* cJSON ends a string at an escaped NUL: "id\u0000junk" would pass for
 * "id". Refused in values and keys, at any depth; an escaped backslash
 * followed by the text u0000 is no NUL. */
START_TEST(refuses_nul_in_strings)
{
	static const char *const refused[] = {
		"{\"ticketId\":\"5f1d7a9e2c3b4a5d6e7f8a01\\u0000x\"}",
		"{\"m\":\"\\u0000\"}",
		"{\"a\\u0000b\":1}",
		"{\"a\":[1,{\"b\":[\"ok\",\"x\\u0000\"]}]}",
		"{\"m\":\"\\\\\\u0000\"}",	/* \\ then \u0000 */
	};
	size_t i;

	for (i = 0; i < sizeof refused / sizeof *refused; i++)
		ck_assert_msg(parse_status("application/json", refused[i]) ==
		    400, "accepted %s", refused[i]);
	ck_assert_int_eq(parse_status("application/json",
	    "{\"m\":\"\\\\u0000\"}"), 200);	/* \\ then u0000 */
	ck_assert_int_eq(parse_status("application/json",
	    "{\"m\":\"\\u0001 \\u00e9 \\\"u0000\"}"), 200);
}
END_TEST

START_TEST(fields_checked)
{
	struct svc_response resp;
	cJSON *obj = cJSON_Parse("{\"s\":\"x\",\"n\":1,\"e\":\"\"}");

	svc_response_init(&resp);
	ck_assert_str_eq(svc_field_string(obj, "s", 10, false, &resp), "x");
	ck_assert_ptr_null(svc_field_string(obj, "missing", 10, false, &resp));
	ck_assert_int_eq(resp.status, 400);
	ck_assert_ptr_nonnull(strstr(resp.body.data, "missing"));
	ck_assert_ptr_null(svc_field_string(obj, "n", 10, false, &resp));
	ck_assert_ptr_nonnull(strstr(resp.body.data, "must be a string"));
	ck_assert_ptr_null(svc_field_string(obj, "e", 10, false, &resp));
	ck_assert_str_eq(svc_field_string(obj, "e", 10, true, &resp), "");
	ck_assert_ptr_null(svc_field_string(obj, "s", 0, false, &resp));
	cJSON_Delete(obj);
	svc_response_free(&resp);
}
END_TEST

START_TEST(object_ids)
{
	ck_assert(svc_is_oid("5f1d7a9e2c3b4a5d6e7f8a01"));
	ck_assert(svc_is_oid("ABCDEF0123456789abcdef01"));
	ck_assert(!svc_is_oid("5f1d7a9e2c3b4a5d6e7f8a0"));
	ck_assert(!svc_is_oid("5f1d7a9e2c3b4a5d6e7f8a012"));
	ck_assert(!svc_is_oid("5f1d7a9e2c3b4a5d6e7f8a0g"));
	ck_assert(!svc_is_oid(""));
}
END_TEST

START_TEST(urls)
{
	ck_assert(svc_is_http_url("http://127.0.0.1:8080/x/replyEvent", 100));
	ck_assert(svc_is_http_url("https://example.invalid/hook", 100));
	ck_assert(!svc_is_http_url("ftp://127.0.0.1/x", 100));
	ck_assert(!svc_is_http_url("file:///etc/passwd", 100));
	ck_assert(!svc_is_http_url("http://", 100));
	ck_assert(!svc_is_http_url("not a url", 100));
	ck_assert(!svc_is_http_url("http://127.0.0.1/a\r\nX: y", 100));
	ck_assert(!svc_is_http_url("http://127.0.0.1/long", 10));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, accepts_object);
	tcase_add_test(tc, refuses_media_type);
	tcase_add_test(tc, refuses_bad_json);
	tcase_add_test(tc, refuses_dollar_keys_anywhere);
	tcase_add_test(tc, refuses_deep_nesting_and_bad_utf8);
	tcase_add_test(tc, refuses_nul_in_strings);
	tcase_add_test(tc, fields_checked);
	tcase_add_test(tc, object_ids);
	tcase_add_test(tc, urls);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
