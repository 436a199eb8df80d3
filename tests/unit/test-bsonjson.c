/*
 * test-bsonjson.c - documents come out as the article's service showed
 * them: ObjectIds as 24-hex strings, dates as ISO-8601, the rest as stored.
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "unit.h"

START_TEST(ids_dates_and_nesting)
{
	bson_t doc = BSON_INITIALIZER, arr, sub;
	bson_oid_t oid, other;
	cJSON *j, *r;

	bson_oid_init_from_string(&oid, "5f1d7a9e2c3b4a5d6e7f8a01");
	bson_oid_init_from_string(&other, "5f1d7a9e2c3b4a5d6e7f8a02");
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_UTF8(&doc, "title", "Printer on fire");
	BSON_APPEND_INT32(&doc, "id", 7);
	BSON_APPEND_INT64(&doc, "big", 5000000000LL);
	BSON_APPEND_DOUBLE(&doc, "ratio", 0.5);
	BSON_APPEND_BOOL(&doc, "open", true);
	BSON_APPEND_NULL(&doc, "none");
	BSON_APPEND_DATE_TIME(&doc, "at", 1764151200123LL);
	BSON_APPEND_ARRAY_BEGIN(&doc, "replies", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &sub);
	BSON_APPEND_UTF8(&sub, "user", "ana");
	BSON_APPEND_OID(&sub, "ref", &other);
	bson_append_document_end(&arr, &sub);
	bson_append_array_end(&doc, &arr);

	j = svc_bson_to_json(&doc);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "_id")->valuestring,
	    "5f1d7a9e2c3b4a5d6e7f8a01");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "title")->valuestring,
	    "Printer on fire");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "id")->valueint, 7);
	ck_assert(cJSON_GetObjectItem(j, "big")->valuedouble == 5e9);
	ck_assert(cJSON_GetObjectItem(j, "ratio")->valuedouble == 0.5);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "open")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "at")->valuestring,
	    "2025-11-26T10:00:00.123Z");
	r = cJSON_GetObjectItem(j, "replies");
	ck_assert(cJSON_IsArray(r));
	ck_assert_int_eq(cJSON_GetArraySize(r), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0),
	    "ref")->valuestring, "5f1d7a9e2c3b4a5d6e7f8a02");
	cJSON_Delete(j);
	bson_destroy(&doc);
}
END_TEST

START_TEST(order_kept)
{
	bson_t doc = BSON_INITIALIZER;
	cJSON *j;
	char *text;

	BSON_APPEND_UTF8(&doc, "b", "1");
	BSON_APPEND_UTF8(&doc, "a", "2");
	j = svc_bson_to_json(&doc);
	text = cJSON_PrintUnformatted(j);
	ck_assert_str_eq(text, "{\"b\":\"1\",\"a\":\"2\"}");
	cJSON_free(text);
	cJSON_Delete(j);
	bson_destroy(&doc);
}
END_TEST

START_TEST(json_to_bson_for_loading)
{
	cJSON *j = cJSON_Parse("{\"_id\":\"5f1d7a9e2c3b4a5d6e7f8a01\","
	    "\"id\":3,\"big\":5000000000,\"x\":1.5,\"replies\":[{\"user\":"
	    "\"u\",\"message\":\"m\"}],\"ok\":false,\"n\":null}");
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char hex[25];

	ck_assert(svc_json_to_bson(j, &doc));
	ck_assert(bson_iter_init_find(&it, &doc, "_id"));
	ck_assert(BSON_ITER_HOLDS_OID(&it));
	bson_oid_to_string(bson_iter_oid(&it), hex);
	ck_assert_str_eq(hex, "5f1d7a9e2c3b4a5d6e7f8a01");
	ck_assert(bson_iter_init_find(&it, &doc, "id"));
	ck_assert(BSON_ITER_HOLDS_INT32(&it));
	ck_assert(bson_iter_init_find(&it, &doc, "big"));
	ck_assert(BSON_ITER_HOLDS_INT64(&it));
	ck_assert(bson_iter_init_find(&it, &doc, "x"));
	ck_assert(BSON_ITER_HOLDS_DOUBLE(&it));
	ck_assert(bson_iter_init_find(&it, &doc, "replies"));
	ck_assert(BSON_ITER_HOLDS_ARRAY(&it));
	bson_destroy(&doc);
	cJSON_Delete(j);

	/* Operators are never loaded as data. */
	j = cJSON_Parse("{\"a\":{\"$ne\":1}}");
	bson_init(&doc);
	ck_assert(!svc_json_to_bson(j, &doc));
	bson_destroy(&doc);
	cJSON_Delete(j);
	j = cJSON_Parse("[1]");
	bson_init(&doc);
	ck_assert(!svc_json_to_bson(j, &doc));
	bson_destroy(&doc);
	cJSON_Delete(j);
}
END_TEST

/* Text that is not UTF-8, in a key or a string at any depth, is refused
 * rather than made into a document the driver will not store (libbson
 * calls such a key invalid: fuzz-bsonjson found it). */
START_TEST(json_to_bson_not_utf8)
{
	static const char *bad[] = {
		"{\"priorit\xd2\":2}",
		"{\"a\":{\"k\xc3\x28\":1}}",
		"{\"title\":\"VPN \xed\xa0\x80\"}",
		"{\"replies\":[{\"user\":\"\xff\"}]}",
	};
	bson_t doc;
	cJSON *j;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		j = cJSON_Parse(bad[i]);
		ck_assert_ptr_nonnull(j);
		bson_init(&doc);
		ck_assert_msg(!svc_json_to_bson(j, &doc), "taken: %zu", i);
		bson_destroy(&doc);
		cJSON_Delete(j);
	}
	j = cJSON_Parse("{\"d\xc3\xa9j\xc3\xa0\":\"vu \xf0\x9f\x98\x80\"}");
	bson_init(&doc);
	ck_assert(svc_json_to_bson(j, &doc));
	ck_assert(bson_validate(&doc, BSON_VALIDATE_UTF8, NULL));
	bson_destroy(&doc);
	cJSON_Delete(j);
}
END_TEST

START_TEST(iso_time)
{
	char buf[32];

	svc_iso_time(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	svc_iso_time(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(iso_time_parse)
{
	int64_t ms;
	char buf[32];

	ck_assert(svc_parse_iso_time("2025-11-26T10:00:00.123Z", &ms));
	ck_assert(ms == 1764151200123LL);
	svc_iso_time(ms, buf, sizeof buf);
	ck_assert_str_eq(buf, "2025-11-26T10:00:00.123Z");
	ck_assert(svc_parse_iso_time("2025-11-26T11:30:00+01:30", &ms));
	ck_assert(ms == 1764151200000LL);
	ck_assert(svc_parse_iso_time("2024-02-29T00:00:00Z", &ms));
	ck_assert(!svc_parse_iso_time("2023-02-29T00:00:00Z", &ms));
	ck_assert(!svc_parse_iso_time("2025-11-26T10:00:00", &ms));
	ck_assert(!svc_parse_iso_time("2025-11-26", &ms));
	ck_assert(!svc_parse_iso_time("2025-13-01T00:00:00Z", &ms));
	ck_assert(!svc_parse_iso_time("2025-11-26T10:00:00Zjunk", &ms));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bsonjson");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ids_dates_and_nesting);
	tcase_add_test(tc, order_kept);
	tcase_add_test(tc, json_to_bson_for_loading);
	tcase_add_test(tc, json_to_bson_not_utf8);
	tcase_add_test(tc, iso_time);
	tcase_add_test(tc, iso_time_parse);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
