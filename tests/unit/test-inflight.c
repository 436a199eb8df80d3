/*
 * test-inflight.c - the host's count of each ticket's sequence numbers
 * (drawn in turn, stepping over what is taken, trusted for a while only),
 * the highest number per ticket of a set of replies, and the order of a
 * ticket's replies (creation time, then id), which merges stored and
 * pending ones.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "inflight.h"
#include "unit.h"

#define T0 1700000000000LL

static bson_oid_t a, b;

static void
setup(void)
{
	bson_oid_init_from_string(&a, "5f1d7a9e2c3b4a5d6e7f8a01");
	bson_oid_init_from_string(&b, "5f1d7a9e2c3b4a5d6e7f8a02");
}

START_TEST(highest_per_ticket)
{
	struct tk_seqs s = { NULL, 0, 0 };
	int64_t last = -1;

	ck_assert(!tk_seqs_last(&s, &a, &last));
	tk_seqs_saw(&s, &a, 7);
	tk_seqs_saw(&s, &a, 9);
	tk_seqs_saw(&s, &a, 8);
	tk_seqs_saw(&s, &b, 3);
	ck_assert(tk_seqs_last(&s, &a, &last));
	ck_assert_int_eq(last, 9);
	ck_assert(tk_seqs_last(&s, &b, &last));
	ck_assert_int_eq(last, 3);
	tk_seqs_clear(&s);
}
END_TEST

/* A flush of replies to many tickets raises every one's count: a table
 * that started again past 1,024 tickets lost the first ones' maxima. */
START_TEST(many_tickets_all_kept)
{
	struct tk_seqs s = { NULL, 0, 0 };
	bson_oid_t t;
	int64_t last;
	int i;

	tk_seqs_saw(&s, &a, 2);
	for (i = 0; i < 3000; i++) {
		bson_oid_init(&t, NULL);
		tk_seqs_saw(&s, &t, i + 1);
	}
	tk_seqs_saw(&s, &a, 1);
	ck_assert_uint_eq(s.n, 3001);
	ck_assert(tk_seqs_last(&s, &a, &last));
	ck_assert_int_eq(last, 2);
	ck_assert(tk_seqs_last(&s, &t, &last));
	ck_assert_int_eq(last, 3000);
	tk_seqs_clear(&s);
}
END_TEST

/* The set is searched by halves: tickets coming in any order, each seen
 * more than once, are each found with their highest number. */
START_TEST(tickets_in_any_order)
{
	struct tk_seqs s = { NULL, 0, 0 };
	uint8_t raw[12] = { 0 };
	bson_oid_t t;
	int64_t last;
	int i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < 500; i++) {
			/* 0, 499, 1, 498, ...: in front, behind, between. */
			int n = i % 2 ? 499 - i / 2 : i / 2;

			raw[10] = (uint8_t)(n >> 8);
			raw[11] = (uint8_t)n;
			bson_oid_init_from_data(&t, raw);
			tk_seqs_saw(&s, &t, n * 10 + k);
		}
	ck_assert_uint_eq(s.n, 500);
	for (i = 0; i < 500; i++) {
		raw[10] = (uint8_t)(i >> 8);
		raw[11] = (uint8_t)i;
		bson_oid_init_from_data(&t, raw);
		ck_assert(tk_seqs_last(&s, &t, &last));
		ck_assert_int_eq(last, i * 10 + 2);
	}
	raw[10] = 0x7f;
	bson_oid_init_from_data(&t, raw);
	ck_assert(!tk_seqs_last(&s, &t, &last));
	tk_seqs_clear(&s);
}
END_TEST

static struct tk_claims
claims(void)
{
	struct tk_claims c = { calloc(1, TK_CLAIMS_SIZE) };

	ck_assert_ptr_nonnull(c.slots);
	return c;
}

START_TEST(claims_seeded_then_drawn_in_turn)
{
	struct tk_claims c = claims();
	struct tk_claim_slot *s = tk_claims_slot(&c, &a), *s2;

	ck_assert_ptr_nonnull(s);
	ck_assert(!tk_claims_fresh(s, T0));
	tk_claims_seed(s, 40, T0);
	ck_assert(tk_claims_fresh(s, T0 + TK_CLAIMS_MS - 1));
	ck_assert(!tk_claims_fresh(s, T0 + TK_CLAIMS_MS));
	/* Another process of the host finds the same slot. */
	ck_assert_ptr_eq(tk_claims_slot(&c, &a), s);
	ck_assert_int_eq(tk_claims_draw(s), 41);
	ck_assert_int_eq(tk_claims_draw(s), 42);
	/* Another ticket has a count of its own. */
	s2 = tk_claims_slot(&c, &b);
	ck_assert_ptr_ne(s2, s);
	ck_assert_int_eq(tk_claims_draw(s2), 1);
	free(c.slots);
}
END_TEST

START_TEST(claims_step_over_what_is_taken)
{
	struct tk_claims c = claims();
	struct tk_claim_slot *s = tk_claims_slot(&c, &a);

	tk_claims_seed(s, 5, T0);
	tk_claims_taken(s, 9);          /* another host holds 6 to 9 */
	ck_assert_int_eq(tk_claims_draw(s), 10);
	tk_claims_taken(s, 3);          /* below: nothing changes */
	ck_assert_int_eq(tk_claims_draw(s), 11);
	/* Read again from the database, which lags what is pending. */
	tk_claims_seed(s, 8, T0 + TK_CLAIMS_MS);
	ck_assert(tk_claims_fresh(s, T0 + TK_CLAIMS_MS));
	ck_assert_int_eq(tk_claims_draw(s), 12);
	/* No count there (the database emptied): the numbers start again. */
	tk_claims_seed(s, 0, T0 + 2 * TK_CLAIMS_MS);
	ck_assert_int_eq(tk_claims_draw(s), 1);
	free(c.slots);
}
END_TEST

START_TEST(claims_stamp_a_millisecond_apart)
{
	struct tk_claims c = claims();
	struct tk_claim_slot *s = tk_claims_slot(&c, &a), *s2;
	int i;

	ck_assert_int_eq(tk_claims_stamp(s, T0), T0);
	/* Two more in the same millisecond, one after the other. */
	ck_assert_int_eq(tk_claims_stamp(s, T0), T0 + 1);
	ck_assert_int_eq(tk_claims_stamp(s, T0), T0 + 2);
	/* The clock has passed them: its time again. */
	ck_assert_int_eq(tk_claims_stamp(s, T0 + 50), T0 + 50);
	/* Another ticket's times are its own. */
	s2 = tk_claims_slot(&c, &b);
	ck_assert_int_eq(tk_claims_stamp(s2, T0), T0);
	/* No further ahead of the clock than TK_CLAIMS_AHEAD_MS. */
	for (i = 0; i < TK_CLAIMS_AHEAD_MS; i++)
		ck_assert_int_eq(tk_claims_stamp(s, T0 + 50),
		    T0 + 50 + i + 1);
	ck_assert_int_eq(tk_claims_stamp(s, T0 + 50), T0 + 50);
	/* A millisecond later the order goes on. */
	ck_assert_int_eq(tk_claims_stamp(s, T0 + 51),
	    T0 + 51 + TK_CLAIMS_AHEAD_MS);
	/* A clock set back a long way: its time, out of order. */
	ck_assert_int_eq(tk_claims_stamp(s, T0 - 60000), T0 - 60000);
	free(c.slots);
}
END_TEST

START_TEST(claims_full_means_no_hint)
{
	struct tk_claims c = claims();
	bson_oid_t t;
	int i, none = 0;

	for (i = 0; i < 2 * TK_CLAIMS_SLOTS; i++) {
		bson_oid_init(&t, NULL);
		none += tk_claims_slot(&c, &t) == NULL;
	}
	ck_assert_int_gt(none, 0);
	free(c.slots);
}
END_TEST

static bson_t *
reply(int64_t ms, const bson_oid_t *id)
{
	bson_t *d = bson_new();

	BSON_APPEND_OID(d, "_id", id);
	BSON_APPEND_DATE_TIME(d, "createdAt", ms);
	return d;
}

START_TEST(replies_by_time_then_id)
{
	bson_t *d[4];

	d[0] = reply(T0 + 5, &a);
	d[1] = reply(T0 + 1, &b);
	d[2] = reply(T0 + 5, &b);       /* same time: by id, after a */
	d[3] = reply(T0 + 1, &b);       /* the same reply: equal */
	ck_assert_int_lt(tk_reply_order(d[1], d[0]), 0);
	ck_assert_int_gt(tk_reply_order(d[2], d[0]), 0);
	ck_assert_int_eq(tk_reply_order(d[1], d[3]), 0);
	tk_replies_sort(d, 3);
	ck_assert_int_eq(tk_reply_order(d[0], d[3]), 0);
	ck_assert_int_lt(tk_reply_order(d[1], d[2]), 0);
	bson_destroy(d[0]);
	bson_destroy(d[1]);
	bson_destroy(d[2]);
	bson_destroy(d[3]);
}
END_TEST

/* The outbox stores a reply whose number was taken under another: the
 * document and its event carry the new one, nothing else changes, and
 * the event's fields keep their order (its JSON is sent as stored). */
START_TEST(renumbered_reply)
{
	bson_t *d = bson_new(), ev, *r;
	bson_iter_t it, e;
	char *json;
	const char *keys[8];
	int n = 0;

	BSON_APPEND_OID(d, "_id", &a);
	BSON_APPEND_OID(d, "ticketId", &b);
	BSON_APPEND_INT64(d, "sequence", 7);
	BSON_APPEND_UTF8(d, "seqKey", "5f1d7a9e2c3b4a5d6e7f8a02|7");
	BSON_APPEND_UTF8(d, "message", "hi");
	BSON_APPEND_DOCUMENT_BEGIN(d, "event", &ev);
	BSON_APPEND_UTF8(&ev, "id", "evt_1");
	BSON_APPEND_UTF8(&ev, "message", "hi");
	BSON_APPEND_INT64(&ev, "sequence", 7);
	bson_append_document_end(d, &ev);

	r = tk_reply_renumbered(d, 12);
	ck_assert(bson_iter_init_find(&it, r, "sequence"));
	ck_assert_int_eq(bson_iter_int64(&it), 12);
	ck_assert(!bson_iter_init_find(&it, r, "seqKey"));
	/* Its pending event is still the claim's, once and for all. */
	ck_assert(bson_iter_init_find(&it, r, "claim"));
	ck_assert_str_eq(bson_iter_utf8(&it, NULL),
	    "5f1d7a9e2c3b4a5d6e7f8a02|7");
	{
		bson_t *twice = tk_reply_renumbered(r, 13);

		ck_assert(bson_iter_init_find(&it, twice, "claim"));
		ck_assert_str_eq(bson_iter_utf8(&it, NULL),
		    "5f1d7a9e2c3b4a5d6e7f8a02|7");
		bson_destroy(twice);
	}
	ck_assert(bson_iter_init_find(&it, r, "message"));
	ck_assert_str_eq(bson_iter_utf8(&it, NULL), "hi");
	ck_assert(bson_iter_init_find(&it, r, "_id"));
	ck_assert(bson_oid_equal(bson_iter_oid(&it), &a));
	ck_assert(bson_iter_init_find(&it, r, "event") &&
	    bson_iter_recurse(&it, &e));
	while (bson_iter_next(&e) && n < 8)
		keys[n++] = bson_iter_key(&e);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(keys[0], "id");
	ck_assert_str_eq(keys[1], "message");
	ck_assert_str_eq(keys[2], "sequence");
	ck_assert(bson_iter_init_find(&it, r, "event") &&
	    bson_iter_recurse(&it, &e) && bson_iter_find(&e, "sequence"));
	ck_assert_int_eq(bson_iter_int64(&e), 12);
	/* The document handed in is left as it was. */
	json = bson_as_relaxed_extended_json(d, NULL);
	ck_assert_ptr_nonnull(strstr(json, "\"sequence\" : 7"));
	bson_free(json);
	bson_destroy(r);
	bson_destroy(d);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("inflight");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, highest_per_ticket);
	tcase_add_test(tc, many_tickets_all_kept);
	tcase_add_test(tc, tickets_in_any_order);
	tcase_add_test(tc, claims_seeded_then_drawn_in_turn);
	tcase_add_test(tc, claims_step_over_what_is_taken);
	tcase_add_test(tc, claims_stamp_a_millisecond_apart);
	tcase_add_test(tc, claims_full_means_no_hint);
	tcase_add_test(tc, replies_by_time_then_id);
	tcase_add_test(tc, renumbered_reply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
