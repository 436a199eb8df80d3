/*
 * test-breaker.c - the circuit breaker's states and transitions, driven
 * by a clock of our own (times are plain milliseconds).
 */
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"
#include "unit.h"

#define T0 1000000         /* any start time */

static vd_breaker_config_t cfg;
static vd_breaker_t b;

static void
setup(void)
{
	vd_breaker_config_default(&cfg);
	vd_breaker_init(&b);
}

/* Records n outcomes at now; returns the last state. */
static vd_breaker_state_t
record_n(int n, int64_t now, bool success)
{
	vd_breaker_state_t st = b.state;
	int i;

	for (i = 0; i < n; i++)
		st = vd_breaker_record(&b, &cfg, now, success, NULL, 0);
	return st;
}

/* Opens the breaker at now with consecutive failures. */
static void
trip_at(int64_t now)
{
	ck_assert_int_eq(vd_breaker_begin(&b, now, false), VD_BREAKER_CLOSED);
	record_n((int)cfg.consecutive, now, false);
	ck_assert_int_eq(b.state, VD_BREAKER_OPEN);
}

START_TEST(defaults)
{
	/* Hystrix: 20 calls, 50 %, 10 s, 5 s; Envoy: 5 consecutive. */
	ck_assert_uint_eq(cfg.consecutive, 5);
	ck_assert_uint_eq(cfg.rate_percent, 50);
	ck_assert_uint_eq(cfg.min_calls, 20);
	ck_assert_int_eq(cfg.window_ms, 10000);
	ck_assert_int_eq(cfg.base_open_ms, 5000);
	ck_assert_int_eq(cfg.max_open_ms, 60000);
	ck_assert_int_eq(b.state, VD_BREAKER_CLOSED);
	ck_assert_str_eq(vd_breaker_state_name(VD_BREAKER_CLOSED), "closed");
	ck_assert_str_eq(vd_breaker_state_name(VD_BREAKER_OPEN), "open");
	ck_assert_str_eq(vd_breaker_state_name(VD_BREAKER_HALF_OPEN),
	    "half-open");
}
END_TEST

START_TEST(closed_stays_closed_on_success)
{
	int64_t remaining = 42;

	ck_assert_int_eq(record_n(1000, T0, true), VD_BREAKER_CLOSED);
	ck_assert_int_eq(vd_breaker_peek(&b, T0, &remaining),
	    VD_BREAKER_CLOSED);
	ck_assert_int_eq(remaining, 0);
}
END_TEST

START_TEST(opens_after_consecutive_failures)
{
	char why[96];
	int64_t remaining;

	ck_assert_int_eq(record_n(4, T0, false), VD_BREAKER_CLOSED);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0, false, why,
	    sizeof why), VD_BREAKER_OPEN);
	ck_assert_str_eq(why, "5 consecutive failures");
	ck_assert_int_eq(vd_breaker_peek(&b, T0 + 1000, &remaining),
	    VD_BREAKER_OPEN);
	ck_assert_int_eq(remaining, 4000);
	ck_assert_int_eq(b.openings, 1);
}
END_TEST

START_TEST(success_resets_consecutive)
{
	/* 4 failures, a success, 4 failures: never 5 in a row, and 8 of 10
	 * is under the 20 calls the rate rule needs. */
	record_n(4, T0, false);
	record_n(1, T0, true);
	ck_assert_int_eq(record_n(4, T0, false), VD_BREAKER_CLOSED);
	ck_assert_int_eq(b.consecutive, 4);
}
END_TEST

START_TEST(opens_on_failure_rate)
{
	char why[96];
	int i;

	/* Alternating: never two failures in a row. 9 of 19: not enough
	 * calls yet; the 20th call makes 10 of 20 = 50 %. */
	for (i = 0; i < 19; i++)
		ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + i,
		    i % 2 == 0, why, sizeof why), VD_BREAKER_CLOSED);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 19, false, why,
	    sizeof why), VD_BREAKER_OPEN);
	ck_assert_str_eq(why, "10 of 20 calls failed in 10.0 s");
}
END_TEST

START_TEST(rate_under_threshold_stays_closed)
{
	int i;

	/* 9 failures in 20 calls (45 %), then more successes. */
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + i,
		    !(i % 2 == 0 && i < 18), NULL, 0), VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(rate_needs_min_calls)
{
	unsigned calls, failures;
	int i;

	cfg.consecutive = 0;                    /* rate rule alone */
	for (i = 0; i < 19; i++)
		ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0, false, NULL,
		    0), VD_BREAKER_CLOSED);
	vd_breaker_window(&b, &cfg, T0, &calls, &failures);
	ck_assert_uint_eq(calls, 19);
	ck_assert_uint_eq(failures, 19);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0, false, NULL, 0),
	    VD_BREAKER_OPEN);
}
END_TEST

START_TEST(window_slides)
{
	unsigned calls, failures;
	int i;

	cfg.consecutive = 0;
	/* 15 failures, then 11 s later 10 calls of which 5 fail: the old
	 * failures are out of the window, so 5 of 10 is under min_calls. */
	record_n(15, T0, false);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 11000 + i,
		    i % 2 == 0, NULL, 0), VD_BREAKER_CLOSED);
	vd_breaker_window(&b, &cfg, T0 + 11009, &calls, &failures);
	ck_assert_uint_eq(calls, 10);
	ck_assert_uint_eq(failures, 5);
	/* Within the window, buckets add up. */
	vd_breaker_init(&b);
	record_n(3, T0, false);
	record_n(2, T0 + 5000, true);
	vd_breaker_window(&b, &cfg, T0 + 9000, &calls, &failures);
	ck_assert_uint_eq(calls, 5);
	ck_assert_uint_eq(failures, 3);
	vd_breaker_window(&b, &cfg, T0 + 10999, &calls, &failures);
	ck_assert_uint_eq(calls, 2);
}
END_TEST

START_TEST(open_refuses_until_base_time)
{
	int64_t remaining;

	trip_at(T0);
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 4999, false),
	    VD_BREAKER_OPEN);
	ck_assert_int_eq(vd_breaker_peek(&b, T0 + 4999, &remaining),
	    VD_BREAKER_OPEN);
	ck_assert_int_eq(remaining, 1);
	/* Outcomes of calls begun before it opened change nothing. */
	ck_assert_int_eq(record_n(3, T0 + 100, true), VD_BREAKER_OPEN);
	ck_assert_int_eq(vd_breaker_peek(&b, T0 + 5000, &remaining),
	    VD_BREAKER_HALF_OPEN);
	ck_assert_int_eq(remaining, 0);
	/* Peeking changes nothing. */
	ck_assert_int_eq(b.state, VD_BREAKER_OPEN);
}
END_TEST

START_TEST(half_open_one_trial_success_closes)
{
	char why[96];
	int64_t remaining;

	trip_at(T0);
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 5000, false),
	    VD_BREAKER_HALF_OPEN);
	ck_assert_int_eq(b.state, VD_BREAKER_HALF_OPEN);
	/* One trial only: the next call waits for its outcome. */
	ck_assert_int_eq(vd_breaker_peek(&b, T0 + 5001, &remaining),
	    VD_BREAKER_OPEN);
	ck_assert_int_eq(remaining, 0);
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 5001, false),
	    VD_BREAKER_OPEN);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 5010, true, why,
	    sizeof why), VD_BREAKER_CLOSED);
	ck_assert_str_eq(why, "trial call succeeded");
	/* Closed afresh: it takes 5 new failures to open again. */
	ck_assert_uint_eq(b.consecutive, 0);
	ck_assert_int_eq(record_n(4, T0 + 5020, false), VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(half_open_failure_reopens_longer)
{
	char why[96];
	int64_t remaining;
	int64_t now = T0;
	static const int64_t want[] = { 10000, 20000, 40000, 60000, 60000 };
	size_t i;

	trip_at(now);
	ck_assert_int_eq(b.open_ms, 5000);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		now += b.open_ms;
		ck_assert_int_eq(vd_breaker_begin(&b, now, false),
		    VD_BREAKER_HALF_OPEN);
		ck_assert_int_eq(vd_breaker_record(&b, &cfg, now + 1, false,
		    why, sizeof why), VD_BREAKER_OPEN);
		ck_assert_str_eq(why, "trial call failed");
		ck_assert_int_eq(b.open_ms, want[i]);
		ck_assert_int_eq(vd_breaker_peek(&b, now + 1, &remaining),
		    VD_BREAKER_OPEN);
		ck_assert_int_eq(remaining, want[i]);
		now += 1;
	}
	ck_assert_uint_eq(b.openings, 6);
}
END_TEST

START_TEST(reopening_soon_after_closing_grows)
{
	trip_at(T0);
	vd_breaker_begin(&b, T0 + 5000, false);
	vd_breaker_record(&b, &cfg, T0 + 5000, true, NULL, 0);
	ck_assert_int_eq(b.state, VD_BREAKER_CLOSED);
	/* Fails again 10 s later: it has not stayed closed for a minute. */
	trip_at(T0 + 15000);
	ck_assert_int_eq(b.open_ms, 10000);
}
END_TEST

START_TEST(growth_forgotten_after_staying_closed)
{
	trip_at(T0);
	vd_breaker_begin(&b, T0 + 5000, false);
	vd_breaker_record(&b, &cfg, T0 + 5000, false, NULL, 0);
	ck_assert_int_eq(b.open_ms, 10000);
	vd_breaker_begin(&b, T0 + 15000, false);
	vd_breaker_record(&b, &cfg, T0 + 15000, true, NULL, 0);
	ck_assert_int_eq(b.state, VD_BREAKER_CLOSED);
	/* Closed for max_open_ms (60 s): back to the base time. */
	trip_at(T0 + 15000 + 60000);
	ck_assert_int_eq(b.open_ms, 5000);
}
END_TEST

START_TEST(cancelled_trial_is_given_back)
{
	trip_at(T0);
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 5000, false),
	    VD_BREAKER_HALF_OPEN);
	vd_breaker_cancel(&b);
	ck_assert_int_eq(vd_breaker_peek(&b, T0 + 5001, NULL),
	    VD_BREAKER_HALF_OPEN);
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 5001, false),
	    VD_BREAKER_HALF_OPEN);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 5002, true, NULL,
	    0), VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(forced_probe)
{
	char why[96];
	int64_t until;

	trip_at(T0);
	until = b.open_until;
	/* Every version open: a forced probe goes while open ... */
	ck_assert_int_eq(vd_breaker_begin(&b, T0 + 100, true),
	    VD_BREAKER_OPEN);
	ck_assert(b.probe);
	/* ... and its failure neither re-opens nor lengthens it. */
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 101, false, why,
	    sizeof why), VD_BREAKER_OPEN);
	ck_assert_str_eq(why, "");
	ck_assert_int_eq(b.open_until, until);
	ck_assert_int_eq(b.open_ms, 5000);
	ck_assert(!b.probe);
	/* Its success closes. */
	vd_breaker_begin(&b, T0 + 200, true);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 201, true, why,
	    sizeof why), VD_BREAKER_CLOSED);
	ck_assert_str_eq(why, "call succeeded while every version was open");
	/* A success without a probe out changes nothing while open. */
	trip_at(T0 + 300);
	ck_assert_int_eq(vd_breaker_record(&b, &cfg, T0 + 301, true, NULL, 0),
	    VD_BREAKER_OPEN);
	/* Forcing a breaker whose time is up gives the normal trial. */
	ck_assert_int_eq(vd_breaker_begin(&b, b.open_until, true),
	    VD_BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(rules_off)
{
	cfg.consecutive = 0;
	cfg.rate_percent = 0;
	ck_assert_int_eq(record_n(1000, T0, false), VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(small_settings)
{
	/* What the end-to-end tests use: short times, 1 failure opens. */
	cfg.consecutive = 1;
	cfg.base_open_ms = 300;
	cfg.max_open_ms = 300;
	cfg.window_ms = 5;            /* buckets of at least 1 ms */
	ck_assert_int_eq(record_n(1, T0, false), VD_BREAKER_OPEN);
	ck_assert_int_eq(b.open_until, T0 + 300);
	vd_breaker_begin(&b, T0 + 300, false);
	vd_breaker_record(&b, &cfg, T0 + 300, false, NULL, 0);
	ck_assert_int_eq(b.open_ms, 300);              /* capped */
}
END_TEST

static Suite *
breaker_suite(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("transitions");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, closed_stays_closed_on_success);
	tcase_add_test(tc, opens_after_consecutive_failures);
	tcase_add_test(tc, success_resets_consecutive);
	tcase_add_test(tc, opens_on_failure_rate);
	tcase_add_test(tc, rate_under_threshold_stays_closed);
	tcase_add_test(tc, rate_needs_min_calls);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, open_refuses_until_base_time);
	tcase_add_test(tc, half_open_one_trial_success_closes);
	tcase_add_test(tc, half_open_failure_reopens_longer);
	tcase_add_test(tc, reopening_soon_after_closing_grows);
	tcase_add_test(tc, growth_forgotten_after_staying_closed);
	tcase_add_test(tc, cancelled_trial_is_given_back);
	tcase_add_test(tc, forced_probe);
	tcase_add_test(tc, rules_off);
	tcase_add_test(tc, small_settings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(breaker_suite());
}
