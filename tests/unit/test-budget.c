/*
 * test-budget.c - the retry budget's arithmetic, driven by a clock of our
 * own: fallbacks <= percent of calls + per_second * window, over a window
 * that slides by the second.
 */
#include <math.h>
#include <stdlib.h>

#include "vd-private.h"
#include "unit.h"

#define T0 1000000000LL   /* any start time, in ms */

static vd_budget_t b;

/* Withdraws until refused (at most limit); returns how many went. */
static int
drain(int64_t now, int limit)
{
	int n = 0;

	while (n < limit && vd_budget_withdraw(&b, now))
		n++;
	return n;
}

static void
deposit_n(int n, int64_t now)
{
	while (n-- > 0)
		vd_budget_deposit(&b, now);
}

START_TEST(defaults_reserve)
{
	/* Finagle's defaults: 20 % of calls plus 10 a second over 10 s. */
	vd_budget_init(&b, VD_BUDGET_PERCENT, VD_BUDGET_PER_SECOND,
	    VD_BUDGET_WINDOW_S);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 100.0, 1e-9);
	ck_assert_int_eq(drain(T0, 1000), 100);
	ck_assert(!vd_budget_withdraw(&b, T0));
	/* 50 calls earn 10 more fallbacks. */
	deposit_n(50, T0);
	ck_assert_int_eq(drain(T0, 1000), 10);
}
END_TEST

START_TEST(percent_of_calls)
{
	vd_budget_init(&b, 20, 0, 10);
	ck_assert(!vd_budget_withdraw(&b, T0));          /* no calls yet */
	deposit_n(4, T0);
	ck_assert(!vd_budget_withdraw(&b, T0));          /* 0.8 */
	deposit_n(1, T0);
	ck_assert(vd_budget_withdraw(&b, T0));           /* 20 % of 5 */
	ck_assert(!vd_budget_withdraw(&b, T0));
	deposit_n(95, T0 + 500);
	ck_assert_int_eq(drain(T0 + 500, 1000), 19);     /* 20 of 100 */
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 500), 0.0, 1e-9);
}
END_TEST

START_TEST(refusal_counts_nothing)
{
	vd_budget_init(&b, 50, 0, 10);
	deposit_n(2, T0);
	ck_assert(vd_budget_withdraw(&b, T0));
	ck_assert(!vd_budget_withdraw(&b, T0));
	ck_assert(!vd_budget_withdraw(&b, T0));
	/* Two more calls: one more fallback, refusals were not counted. */
	deposit_n(2, T0);
	ck_assert(vd_budget_withdraw(&b, T0));
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 0.0, 1e-9);
}
END_TEST

START_TEST(window_slides)
{
	vd_budget_init(&b, 20, 1, 10);          /* reserve: 10 */
	deposit_n(100, T0);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 30.0, 1e-9);
	ck_assert_int_eq(drain(T0, 1000), 30);
	/* 9.999 s later the window still holds all of it. */
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 9999), 0.0, 1e-9);
	/* 10 s later the calls and fallbacks of T0's second are gone:
	 * only the reserve is left. */
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 10000), 10.0,
	    1e-9);
	/* Calls in several seconds add up within the window. */
	deposit_n(10, T0 + 10000);
	deposit_n(10, T0 + 12000);
	deposit_n(10, T0 + 19999);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 19999), 16.0,
	    1e-9);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 20000), 14.0,
	    1e-9);
}
END_TEST

START_TEST(slots_are_reused)
{
	vd_budget_init(&b, 100, 0, 10);
	deposit_n(5, T0);
	/* 60 s later the same slot holds another second: reset first. */
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 60000), 0.0, 1e-9);
	deposit_n(1, T0 + 60000);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0 + 60000), 1.0, 1e-9);
}
END_TEST

START_TEST(no_fallback_at_all)
{
	vd_budget_init(&b, 0, 0, 10);
	deposit_n(1000, T0);
	ck_assert(!vd_budget_withdraw(&b, T0));
}
END_TEST

START_TEST(unlimited)
{
	vd_budget_init(&b, 0, HUGE_VAL, 10);
	ck_assert_int_eq(drain(T0, 100000), 100000);
}
END_TEST

START_TEST(configure)
{
	vd_budget_init(&b, 20, 10, 10);
	deposit_n(10, T0);
	vd_budget_configure(&b, -1, 0, -1);     /* only per_second */
	ck_assert_double_eq_tol(b.percent, 20, 1e-9);
	ck_assert_int_eq(b.window_s, 10);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 2.0, 1e-9);
	vd_budget_configure(&b, 50, -1, 1000);  /* window capped at 60 */
	ck_assert_int_eq(b.window_s, VD_BUDGET_SLOTS);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 5.0, 1e-9);
	vd_budget_init(&b, 20, 10, 0);          /* at least 1 s */
	ck_assert_int_eq(b.window_s, 1);
	ck_assert_double_eq_tol(vd_budget_balance(&b, T0), 10.0, 1e-9);
}
END_TEST

START_TEST(steady_failure_is_bounded)
{
	int64_t now;
	long calls = 0, fallbacks = 0;

	/* 100 calls a second for a minute, each wanting a fallback: no
	 * more than 20 % plus 10 a second get one. */
	vd_budget_init(&b, 20, 10, 10);
	for (now = T0; now < T0 + 60000; now += 10) {
		vd_budget_deposit(&b, now);
		calls++;
		if (vd_budget_withdraw(&b, now))
			fallbacks++;
	}
	ck_assert_int_eq(calls, 6000);
	ck_assert_int_le(fallbacks, 6000 * 20 / 100 + 10 * 60 + 100);
	ck_assert_int_ge(fallbacks, 6000 * 20 / 100 + 10 * 60 - 100);
}
END_TEST

static Suite *
budget_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("arithmetic");

	tcase_add_test(tc, defaults_reserve);
	tcase_add_test(tc, percent_of_calls);
	tcase_add_test(tc, refusal_counts_nothing);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, slots_are_reused);
	tcase_add_test(tc, no_fallback_at_all);
	tcase_add_test(tc, unlimited);
	tcase_add_test(tc, configure);
	tcase_add_test(tc, steady_failure_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(budget_suite());
}
