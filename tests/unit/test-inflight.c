/*
 * test-inflight.c - what a worker remembers of each ticket's sequence
 * numbers (the next one it claims never goes below one it saw taken, and
 * it trusts them for a while only), and the order of a ticket's replies
 * (creation time, then id), which merges stored and pending ones.
 */
#include <check.h>
#include <stdlib.h>

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

START_TEST(unknown_until_seeded)
{
	struct tk_seqs s = { NULL, 0 };
	int64_t last = -1;

	ck_assert(!tk_seqs_last(&s, &a, T0, &last));
	tk_seqs_seed(&s, &a, 7, T0);
	ck_assert(tk_seqs_last(&s, &a, T0 + 1, &last));
	ck_assert_int_eq(last, 7);
	ck_assert(!tk_seqs_last(&s, &b, T0, &last));
	tk_seqs_clear(&s);
}
END_TEST

START_TEST(saw_only_raises)
{
	struct tk_seqs s = { NULL, 0 };
	int64_t last;

	tk_seqs_seed(&s, &a, 7, T0);
	tk_seqs_saw(&s, &a, 9, T0);
	tk_seqs_saw(&s, &a, 8, T0);     /* another's claim, older */
	ck_assert(tk_seqs_last(&s, &a, T0, &last));
	ck_assert_int_eq(last, 9);
	/* The database lags what is pending: a lower seed changes nothing. */
	tk_seqs_seed(&s, &a, 5, T0 + 10);
	ck_assert(tk_seqs_last(&s, &a, T0 + 10, &last));
	ck_assert_int_eq(last, 9);
	tk_seqs_clear(&s);
}
END_TEST

START_TEST(trusted_for_a_while)
{
	struct tk_seqs s = { NULL, 0 };
	int64_t last;

	tk_seqs_seed(&s, &a, 40, T0);
	tk_seqs_saw(&s, &a, 41, T0 + TK_SEQS_MS - 1);
	ck_assert(tk_seqs_last(&s, &a, T0 + TK_SEQS_MS - 1, &last));
	/* Seeing claims does not make it fresh: it is read again. */
	ck_assert(!tk_seqs_last(&s, &a, T0 + TK_SEQS_MS, &last));
	/* The database was emptied meanwhile: its word counts, lower. */
	tk_seqs_seed(&s, &a, 0, T0 + TK_SEQS_MS);
	ck_assert(tk_seqs_last(&s, &a, T0 + TK_SEQS_MS, &last));
	ck_assert_int_eq(last, 0);
	tk_seqs_clear(&s);
}
END_TEST

START_TEST(saw_keeps_a_new_ticket)
{
	struct tk_seqs s = { NULL, 0 };
	int64_t last;

	tk_seqs_saw(&s, &b, 3, T0);
	ck_assert(tk_seqs_last(&s, &b, T0, &last));
	ck_assert_int_eq(last, 3);
	tk_seqs_clear(&s);
}
END_TEST

START_TEST(full_table_starts_again)
{
	struct tk_seqs s = { NULL, 0 };
	bson_oid_t t;
	int64_t last;
	int i;

	for (i = 0; i < TK_SEQS_MAX; i++) {
		bson_oid_init(&t, NULL);
		tk_seqs_seed(&s, &t, i, T0);
	}
	ck_assert_uint_eq(s.n, TK_SEQS_MAX);
	tk_seqs_seed(&s, &a, 2, T0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert(tk_seqs_last(&s, &a, T0, &last));
	ck_assert_int_eq(last, 2);
	tk_seqs_clear(&s);
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

static Suite *
suite(void)
{
	Suite *s = suite_create("inflight");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, unknown_until_seeded);
	tcase_add_test(tc, saw_only_raises);
	tcase_add_test(tc, trusted_for_a_while);
	tcase_add_test(tc, saw_keeps_a_new_ticket);
	tcase_add_test(tc, full_table_starts_again);
	tcase_add_test(tc, replies_by_time_then_id);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
