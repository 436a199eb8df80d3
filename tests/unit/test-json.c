/*
 * test-json.c - reading replies and merging the replies of several
 * endpoints; the small helpers that read an HTTP answer.
 */
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"
#include "unit.h"

static cJSON *
parse(const char *text)
{
	cJSON *json = vd_json_parse(text, strlen(text));

	ck_assert_msg(json != NULL, "bad test JSON: %s", text);
	return json;
}

/* Merges a and b and checks the result against want, printed exactly as
 * cJSON prints it unformatted (so key order counts too). */
static void
assert_merge(const char *a, const char *b, const char *want)
{
	cJSON *merged = vd_json_merge(parse(a), parse(b));
	char *text = cJSON_PrintUnformatted(merged);

	ck_assert_msg(strcmp(text, want) == 0, "%s + %s gave %s, not %s", a, b,
	    text, want);
	free(text);
	cJSON_Delete(merged);
}

/* ---- parse ---- */

static const char *const json_ok[] = {
	"{}", "[1,2]", " 42 ", "\"s\"", "null", "true",
	"{\"a\":[1,{\"b\":null}]}\n", "\t[ ]\r\n",
};

START_TEST(parse_ok)
{
	cJSON *json = vd_json_parse(json_ok[_i], strlen(json_ok[_i]));

	ck_assert_msg(json != NULL, "%s did not parse", json_ok[_i]);
	cJSON_Delete(json);
}
END_TEST

static const char *const json_bad[] = {
	"", " ", "{", "{} x", "{}{}", "[1,]", "{'a':1}", "<html></html>",
	"Internal Server Error", "nul",
};

START_TEST(parse_bad)
{
	ck_assert_msg(vd_json_parse(json_bad[_i], strlen(json_bad[_i])) ==
	    NULL, "%s parsed", json_bad[_i]);
}
END_TEST

START_TEST(parse_length)
{
	/* The length counts, not the terminator: a NUL inside the reply
	 * does not end it, and an unterminated buffer is refused. */
	static const char nul[] = "{}\0garbage";
	char unterminated[2] = { '{', '}' };

	ck_assert_ptr_null(vd_json_parse(nul, sizeof nul - 1));
	ck_assert_ptr_null(vd_json_parse(unterminated, 1));
	ck_assert_ptr_null(vd_json_parse(NULL, 0));
}
END_TEST

/* ---- merge ---- */

START_TEST(merge_objects_key_by_key)
{
	assert_merge("{\"a\":1,\"b\":{\"x\":1}}", "{\"b\":{\"y\":2},\"c\":3}",
	    "{\"a\":1,\"b\":{\"x\":1,\"y\":2},\"c\":3}");
	/* Recursively, at any depth. */
	assert_merge("{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":{\"b\":{\"d\":2}}}",
	    "{\"a\":{\"b\":{\"c\":1,\"d\":2}}}");
	/* A key that is in both keeps its place; the later value wins. */
	assert_merge("{\"a\":1,\"b\":2}", "{\"a\":3}", "{\"a\":3,\"b\":2}");
	assert_merge("{}", "{\"a\":1}", "{\"a\":1}");
	assert_merge("{\"a\":1}", "{}", "{\"a\":1}");
}
END_TEST

START_TEST(merge_arrays_concatenated)
{
	assert_merge("[1,2]", "[3]", "[1,2,3]");
	assert_merge("[]", "[{\"id\":1}]", "[{\"id\":1}]");
	assert_merge("{\"tickets\":[1]}", "{\"tickets\":[2,3]}",
	    "{\"tickets\":[1,2,3]}");
}
END_TEST

START_TEST(merge_not_extend)
{
	/* The article merged with _.extend, which turns the array of
	 * tickets into an object keyed "0", "1" and overwrites the first
	 * endpoint's tickets with the second's. */
	cJSON *merged = vd_json_merge(parse("[{\"id\":1},{\"id\":2}]"),
	    parse("[{\"id\":3}]"));

	ck_assert(cJSON_IsArray(merged));
	ck_assert(!cJSON_IsObject(merged));
	ck_assert_int_eq(cJSON_GetArraySize(merged), 3);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(merged, "0"));
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(merged, 0), "id")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(merged, 2), "id")->valueint, 3);
	cJSON_Delete(merged);
}
END_TEST

START_TEST(merge_later_wins)
{
	assert_merge("{\"a\":1}", "{\"a\":\"x\"}", "{\"a\":\"x\"}");
	assert_merge("{\"a\":[1]}", "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":1}}");
	assert_merge("{\"a\":{\"b\":1}}", "{\"a\":null}", "{\"a\":null}");
	assert_merge("[1]", "{\"a\":1}", "{\"a\":1}");
	assert_merge("{\"a\":1}", "[1]", "[1]");
	assert_merge("1", "2", "2");
	assert_merge("\"x\"", "[]", "[]");
}
END_TEST

START_TEST(merge_null)
{
	cJSON *a = parse("[1]");

	ck_assert_ptr_eq(vd_json_merge(a, NULL), a);
	ck_assert_ptr_eq(vd_json_merge(NULL, a), a);
	ck_assert_ptr_null(vd_json_merge(NULL, NULL));
	cJSON_Delete(a);
}
END_TEST

/* ---- helpers ---- */

START_TEST(error_text)
{
	static const char both[] = "{\"error\":\"not found\","
	    "\"detail\":\"no ticket 5f0c\"}";
	static const char one[] = "{\"error\":\"bad request\"}";
	static const char html[] = "<h1>404</h1>";
	char buf[64], tiny[8];

	vd_json_error_text(both, strlen(both), buf, sizeof buf);
	ck_assert_str_eq(buf, "not found: no ticket 5f0c");
	vd_json_error_text(one, strlen(one), buf, sizeof buf);
	ck_assert_str_eq(buf, "bad request");
	vd_json_error_text(html, strlen(html), buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	vd_json_error_text("[1]", 3, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	vd_json_error_text(NULL, 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	vd_json_error_text(both, strlen(both), tiny, sizeof tiny);
	ck_assert_str_eq(tiny, "not fou");
}
END_TEST

START_TEST(retry_after)
{
	ck_assert_int_eq(vd_http_retry_after("120"), 120);
	ck_assert_int_eq(vd_http_retry_after(" 0"), 0);
	ck_assert_int_eq(vd_http_retry_after("-5"), -1);
	ck_assert_int_eq(vd_http_retry_after("12s"), -1);
	ck_assert_int_eq(vd_http_retry_after("soon"), -1);
	ck_assert_int_eq(vd_http_retry_after(""), -1);
	/* An HTTP date: in the past means now. */
	ck_assert_int_eq(vd_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
	    0);
	ck_assert_int_gt(vd_http_retry_after("Thu, 31 Dec 2099 23:59:59 GMT"),
	    1000000);
}
END_TEST

START_TEST(url_allowed)
{
	ck_assert(vd_http_url_allowed("http://127.0.0.1:8080/x"));
	ck_assert(vd_http_url_allowed("HTTPS://example.org/"));
	ck_assert(!vd_http_url_allowed("http://"));
	ck_assert(!vd_http_url_allowed("file:///etc/passwd"));
	ck_assert(!vd_http_url_allowed("gopher://127.0.0.1/"));
	ck_assert(!vd_http_url_allowed("/tickets"));
	ck_assert(!vd_http_url_allowed(NULL));
}
END_TEST

START_TEST(json_type)
{
	ck_assert(vd_http_json_type("application/json"));
	ck_assert(vd_http_json_type("Application/JSON; charset=utf-8"));
	ck_assert(vd_http_json_type("application/json ;charset=utf-8"));
	ck_assert(vd_http_json_type("application/problem+json"));
	ck_assert(vd_http_json_type("application/vnd.api+json; ext=x"));
	ck_assert(!vd_http_json_type("text/html"));
	ck_assert(!vd_http_json_type("text/html; charset=utf-8"));
	ck_assert(!vd_http_json_type("text/plain"));
	ck_assert(!vd_http_json_type("application/jsonp"));
	ck_assert(!vd_http_json_type("application/json-seq"));
	ck_assert(!vd_http_json_type("+json"));
	ck_assert(!vd_http_json_type("application/x; a=b+json"));
	/* What the header callback stores for one too long to keep. */
	ck_assert(!vd_http_json_type("?"));
	ck_assert(!vd_http_json_type(""));
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, parse_ok, 0, sizeof json_ok / sizeof json_ok[0]);
	tcase_add_loop_test(tc, parse_bad, 0,
	    sizeof json_bad / sizeof json_bad[0]);
	tcase_add_test(tc, parse_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("merge");
	tcase_add_test(tc, merge_objects_key_by_key);
	tcase_add_test(tc, merge_arrays_concatenated);
	tcase_add_test(tc, merge_not_extend);
	tcase_add_test(tc, merge_later_wins);
	tcase_add_test(tc, merge_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, error_text);
	tcase_add_test(tc, retry_after);
	tcase_add_test(tc, url_allowed);
	tcase_add_test(tc, json_type);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(json_suite());
}
