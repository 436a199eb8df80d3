/*
 * test-replyevent.c - the reply event's wire format, written by the
 * tickets service and read by the reply feed through the same code: what
 * one writes, the other reads back unchanged.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "unit.h"

#define TICKET "5f1d7a9e2c3b4a5d6e7f8a01"

/* Reads json text as an event; the status a refusal answers, else 200. */
static int
read_status(const char *text, struct svc_event *ev, bool *has_created,
    cJSON **keep)
{
	struct svc_response resp;
	int status;

	svc_response_init(&resp);
	*keep = cJSON_Parse(text);
	ck_assert_ptr_nonnull(*keep);
	memset(ev, 0, sizeof *ev);
	status = svc_event_read(*keep, ev, has_created, &resp) ? 200 :
	    resp.status;
	svc_response_free(&resp);
	return status;
}

START_TEST(written_then_read_unchanged)
{
	bson_oid_t reply, back;
	char id[32], *text;
	struct svc_event out = { id, SVC_EVENT_TYPE, TICKET, "VPN drops",
	    "ana", "Rebooted, \"works\" now", 1764151200123LL }, in;
	bson_t doc = BSON_INITIALIZER;
	bool has_created;
	cJSON *json, *body;

	bson_oid_init_from_string(&reply, "5f1d7a9e2c3b4a5d6e7f8b02");
	svc_event_id(&reply, id, sizeof id);
	ck_assert_str_eq(id, "evt_5f1d7a9e2c3b4a5d6e7f8b02");
	ck_assert(svc_event_reply_oid(id, &back));
	ck_assert(bson_oid_equal(&reply, &back));

	/* As the tickets service stores it and sends it. */
	svc_event_append(&doc, &out);
	json = svc_bson_to_json(&doc);
	text = cJSON_PrintUnformatted(json);
	ck_assert_str_eq(svc_json_str(json, "createdAt"),
	    "2025-11-26T10:00:00.123Z");

	/* As the reply feed reads it. */
	ck_assert_int_eq(read_status(text, &in, &has_created, &body), 200);
	ck_assert(has_created);
	ck_assert_str_eq(in.id, out.id);
	ck_assert_str_eq(in.type, out.type);
	ck_assert_str_eq(in.ticket_id, out.ticket_id);
	ck_assert_str_eq(in.title, out.title);
	ck_assert_str_eq(in.user, out.user);
	ck_assert_str_eq(in.message, out.message);
	ck_assert_int_eq(in.created_ms, out.created_ms);
	cJSON_Delete(json);

	/* And as it shows it again (in borrows from body): the same
	 * fields. */
	json = svc_event_json(&in);
	ck_assert_str_eq(svc_json_str(json, "id"), id);
	ck_assert_str_eq(svc_json_str(json, "createdAt"),
	    "2025-11-26T10:00:00.123Z");
	ck_assert_int_eq(cJSON_GetArraySize(json), 7);
	cJSON_Delete(json);
	cJSON_Delete(body);
	cJSON_free(text);
	bson_destroy(&doc);
}
END_TEST

START_TEST(the_articles_event_is_taken)
{
	struct svc_event ev;
	bool has_created;
	cJSON *body, *json;

	ck_assert_int_eq(read_status("{\"ticketId\":\"" TICKET "\",\"title\":"
	    "\"t\",\"user\":\"u\",\"message\":\"m\"}", &ev, &has_created,
	    &body), 200);
	ck_assert_ptr_null(ev.id);
	ck_assert_str_eq(ev.type, SVC_EVENT_TYPE);
	ck_assert(!has_created);
	/* What is missing is left out, not made up. */
	json = svc_event_json(&ev);
	ck_assert_ptr_null(cJSON_GetObjectItem(json, "id"));
	cJSON_Delete(json);
	cJSON_Delete(body);
}
END_TEST

START_TEST(bad_fields_are_400)
{
	static const char *const bad[] = {
		"{\"title\":\"t\",\"user\":\"u\",\"message\":\"m\"}",
		"{\"ticketId\":\"xyz\",\"title\":\"t\",\"user\":\"u\","
		    "\"message\":\"m\"}",
		"{\"ticketId\":\"" TICKET "\",\"title\":\"t\",\"user\":\"\","
		    "\"message\":\"m\"}",
		"{\"ticketId\":\"" TICKET "\",\"title\":\"t\",\"user\":\"u\","
		    "\"message\":\"m\",\"id\":\"a\\nb\"}",
		"{\"ticketId\":\"" TICKET "\",\"title\":\"t\",\"user\":\"u\","
		    "\"message\":\"m\",\"createdAt\":\"2026-11-26T10:00:00\"}",
		"{\"ticketId\":\"" TICKET "\",\"title\":\"t\",\"user\":\"u\","
		    "\"message\":\"m\",\"type\":7}",
	};
	struct svc_event ev;
	bson_oid_t oid;
	bool has_created;
	cJSON *body;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(read_status(bad[i], &ev, &has_created, &body) ==
		    400, "%s", bad[i]);
		cJSON_Delete(body);
	}
	ck_assert(!svc_event_reply_oid("evt_xyz", &oid));
	ck_assert(!svc_event_reply_oid("5f1d7a9e2c3b4a5d6e7f8b02", &oid));
	ck_assert(!svc_event_id_usable(""));
	ck_assert(svc_event_id_usable("evt_1"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("replyevent");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, written_then_read_unchanged);
	tcase_add_test(tc, the_articles_event_is_taken);
	tcase_add_test(tc, bad_fields_are_400);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
