/*
 * test-plan.c - the decisions of a call (plan.c) alone: the order of
 * versions and hosts, skips for open circuits and refused URLs, the probe
 * when every circuit is open, the retry budget, the deadline, and what
 * each outcome does to a breaker. Times are plain milliseconds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"
#include "unit.h"

#define T0 1000000
#define FAR (T0 + 3600000)     /* a deadline that never passes */
#define MAXC 8

static vd_breaker_config_t cfg;
static vd_budget_t budget;
static vd_breaker_t br[MAXC];
static struct vd_plan_cand c[MAXC];
static struct vd_plan plan;

static void
setup(void)
{
	size_t i;

	vd_breaker_config_default(&cfg);
	vd_budget_init(&budget, HUGE_VAL, HUGE_VAL, VD_BUDGET_WINDOW_S);
	memset(c, 0, sizeof c);
	for (i = 0; i < MAXC; i++)
		vd_breaker_init(&br[i]);
}

/* cands "v@host" ... into c[], each with its own breaker, allowed. */
static size_t
cands(const char *const *spec, size_t n)
{
	static char hosts[MAXC][64];
	size_t i;

	for (i = 0; i < n; i++) {
		const char *at = strchr(spec[i], '@');
		char version[32];

		snprintf(version, sizeof version, "%.*s", (int)(at - spec[i]),
		    spec[i]);
		ck_assert_int_eq(vd_version_parse(version, &c[i].version, NULL),
		    VD_OK);
		snprintf(hosts[i], sizeof hosts[i], "%s", at + 1);
		c[i].host = hosts[i];
		c[i].breaker = &br[i];
		c[i].allowed = true;
		c[i].entry = i;
	}
	return n;
}

/* The order as "v@host v@host ...". */
static const char *
order(size_t n)
{
	static char buf[512];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char v[32];

		vd_version_format(&c[i].version, v, sizeof v);
		used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s@%s",
		    i > 0 ? " " : "", v, c[i].host);
	}
	return buf;
}

static const char *
end_name(int end)
{
	switch (end) {
	case VD_END_EXHAUSTED: return "exhausted";
	case VD_END_DEADLINE: return "deadline";
	case VD_END_BUDGET: return "budget";
	case VD_END_ANSWERED: return "answered";
	case VD_END_NOMEM: return "nomem";
	}
	return "?";
}

/* Runs the plan to its end, every attempt failing with fail_code (VD_OK:
 * the first attempt answers); the steps as "try:i", "skip-url:i",
 * "skip-open:i", "end:why". */
static const char *
run(size_t n, int64_t now, vd_code_t fail_code)
{
	static char buf[512];
	size_t used = 0;
	vd_step_t s;
	struct vd_plan_change ch;

	buf[0] = '\0';
	vd_plan_init(&plan, c, n, &cfg, &budget, now, FAR);
	for (;;) {
		const char *what;

		s = vd_plan_next(&plan, now);
		if (s.kind == VD_STEP_END)
			break;
		if (s.kind == VD_STEP_SKIP) {
			what = s.why == VD_SKIP_URL ? "skip-url" : "skip-open";
			used += (size_t)snprintf(buf + used, sizeof buf - used,
			    "%s:%s ", what, c[s.index].host);
			continue;
		}
		used += (size_t)snprintf(buf + used, sizeof buf - used,
		    "%s:%s ", s.forced ? "probe" : "try", c[s.index].host);
		if (!vd_plan_record(&plan, &s, fail_code, 1, now, &ch))
			break;
	}
	snprintf(buf + used, sizeof buf - used, "end:%s", end_name(plan.end));
	return buf;
}

/* Opens the breaker of candidate i at now. */
static void
trip(size_t i, int64_t now)
{
	unsigned k;

	for (k = 0; k < cfg.consecutive; k++) {
		vd_breaker_begin(&br[i], now, false);
		vd_breaker_record(&br[i], &cfg, now, false, NULL, 0);
	}
	ck_assert_int_eq(br[i].state, VD_BREAKER_OPEN);
}

/* ---- order ---- */

START_TEST(newest_version_first)
{
	static const char *const s[] = { "1.0.0@a", "1.1.0@a", "1.0.1@a" };
	size_t n = cands(s, 3);

	vd_plan_order(c, n, 0);
	ck_assert_str_eq(order(n), "1.1.0@a 1.0.1@a 1.0.0@a");
	ck_assert(!c[0].shared && !c[1].shared && !c[2].shared);
}
END_TEST

START_TEST(hosts_of_a_version_before_older_versions)
{
	static const char *const s[] = { "1.0.0@a", "1.0.1@b", "1.0.0@b",
	    "1.0.1@a" };
	size_t n = cands(s, 4);

	vd_plan_order(c, n, 0);
	ck_assert_str_eq(order(n), "1.0.1@a 1.0.1@b 1.0.0@a 1.0.0@b");
	ck_assert(c[0].shared && c[1].shared && c[2].shared && c[3].shared);
}
END_TEST

START_TEST(turn_rotates_the_hosts_of_each_version)
{
	static const char *const s[] = { "2.0.0@a", "2.0.0@b", "2.0.0@c",
	    "1.0.0@a", "1.0.0@b" };
	size_t n = cands(s, 5);

	vd_plan_order(c, n, 1);
	ck_assert_str_eq(order(n), "2.0.0@b 2.0.0@c 2.0.0@a 1.0.0@b 1.0.0@a");
	n = cands(s, 5);
	vd_plan_order(c, n, 2);
	ck_assert_str_eq(order(n), "2.0.0@c 2.0.0@a 2.0.0@b 1.0.0@a 1.0.0@b");
	n = cands(s, 5);
	vd_plan_order(c, n, 3);
	ck_assert_str_eq(order(n), "2.0.0@a 2.0.0@b 2.0.0@c 1.0.0@b 1.0.0@a");
}
END_TEST

START_TEST(every_turn_starts_each_host_as_often)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.1@c" };
	int first[3] = { 0, 0, 0 };
	unsigned t;
	size_t n;

	for (t = 0; t < 300; t++) {
		n = cands(s, 3);
		vd_plan_order(c, n, t);
		first[c[0].host[0] - 'a']++;
	}
	ck_assert_int_eq(first[0], 100);
	ck_assert_int_eq(first[1], 100);
	ck_assert_int_eq(first[2], 100);
}
END_TEST

START_TEST(one_host_is_not_rotated)
{
	static const char *const s[] = { "1.0.1@a", "1.0.0@a" };
	size_t n = cands(s, 2);

	vd_plan_order(c, n, 7);
	ck_assert_str_eq(order(n), "1.0.1@a 1.0.0@a");
	ck_assert(!c[0].shared);
}
END_TEST

START_TEST(entries_of_one_host_stay_together)
{
	/* Host a has two entries of 1.0.1 (two urls): the order is not
	 * rotated then, and a's two stay side by side. */
	static const char *const s[] = { "1.0.1@b", "1.0.1@a", "1.0.1@a" };
	size_t n = cands(s, 3);

	vd_plan_order(c, n, 1);
	ck_assert_str_eq(order(n), "1.0.1@a 1.0.1@a 1.0.1@b");
	ck_assert_uint_eq(c[0].entry, 1);
	ck_assert_uint_eq(c[1].entry, 2);
}
END_TEST

START_TEST(prerelease_after_its_release)
{
	static const char *const s[] = { "1.0.1-rc.1@a", "1.0.1@b",
	    "1.0.0@a" };
	size_t n = cands(s, 3);

	vd_plan_order(c, n, 0);
	ck_assert_str_eq(order(n), "1.0.1@b 1.0.1-rc.1@a 1.0.0@a");
}
END_TEST

/* ---- steps ---- */

START_TEST(first_answer_ends_the_call)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	ck_assert_str_eq(run(n, T0, VD_OK), "try:a end:answered");
	ck_assert_int_eq(plan.end, VD_END_ANSWERED);
}
END_TEST

START_TEST(failures_go_through_every_host_then_older_versions)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a",
	    "1.0.0@b" };
	size_t n = cands(s, 4);

	vd_plan_order(c, n, 0);
	ck_assert_str_eq(run(n, T0, VD_EHTTP),
	    "try:a try:b try:a try:b end:exhausted");
	ck_assert_int_eq(plan.end, VD_END_EXHAUSTED);
	ck_assert_int_eq(vd_version_compare(&c[1].version, &c[0].version), 0);
}
END_TEST

START_TEST(a_4xx_ends_the_call)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);

	br[0].consecutive = 4;          /* one failure from opening */
	ck_assert_str_eq(run(n, T0, VD_ECLIENT), "try:a end:answered");
	/* A 4xx is a success for the breaker: the run is broken. */
	ck_assert_uint_eq(br[0].consecutive, 0);
	ck_assert_int_eq(br[0].state, VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(out_of_memory_ends_the_call_and_counts_nothing)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);

	br[0].consecutive = 4;
	ck_assert_str_eq(run(n, T0, VD_ENOMEM), "try:a end:nomem");
	/* Neither a success nor a failure of the version. */
	ck_assert_uint_eq(br[0].consecutive, 4);
	ck_assert(!plan.tried_one || plan.end == VD_END_NOMEM);
}
END_TEST

START_TEST(url_not_allowed_is_skipped)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	c[0].allowed = false;
	ck_assert_str_eq(run(n, T0, VD_OK), "skip-url:a try:b end:answered");
}
END_TEST

START_TEST(open_host_is_skipped_other_host_of_the_version_called)
{
	/* Breakers are per host: a's open circuit skips a, not 1.0.1. */
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);
	vd_step_t st;

	trip(0, T0);
	ck_assert_str_eq(run(n, T0 + 10, VD_OK), "skip-open:a try:b end:answered");
	vd_plan_init(&plan, c, n, &cfg, &budget, T0 + 10, FAR);
	st = vd_plan_next(&plan, T0 + 10);
	ck_assert_int_eq(st.kind, VD_STEP_SKIP);
	ck_assert_int_eq(st.why, VD_SKIP_OPEN);
	ck_assert_int_eq(st.remaining_ms, cfg.base_open_ms - 10);
}
END_TEST

START_TEST(every_host_of_newest_open_falls_back_to_older)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	trip(0, T0);
	trip(1, T0);
	ck_assert_str_eq(run(n, T0 + 10, VD_OK),
	    "skip-open:a skip-open:b try:a end:answered");
	ck_assert_int_eq(vd_version_compare(&c[2].version, &c[0].version), -1);
}
END_TEST

START_TEST(open_time_up_the_host_gets_a_trial)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);
	vd_step_t st;

	trip(0, T0);
	vd_plan_init(&plan, c, n, &cfg, &budget, T0 + cfg.base_open_ms, FAR);
	st = vd_plan_next(&plan, T0 + cfg.base_open_ms);
	ck_assert_int_eq(st.kind, VD_STEP_TRY);
	ck_assert(!st.forced);
	ck_assert_int_eq(st.from, VD_BREAKER_OPEN);
	ck_assert_int_eq(st.to, VD_BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(trial_success_closes_failure_reopens)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);
	struct vd_plan_change ch;
	int64_t t = T0 + cfg.base_open_ms;
	vd_step_t st;

	trip(0, T0);
	vd_plan_init(&plan, c, n, &cfg, &budget, t, FAR);
	st = vd_plan_next(&plan, t);
	ck_assert(vd_plan_record(&plan, &st, VD_ETRANSPORT, 1, t, &ch));
	ck_assert_int_eq(ch.from, VD_BREAKER_HALF_OPEN);
	ck_assert_int_eq(ch.to, VD_BREAKER_OPEN);
	ck_assert_str_eq(ch.why, "trial call failed");

	t += 2 * cfg.base_open_ms;      /* the open period doubled */
	vd_plan_init(&plan, c, n, &cfg, &budget, t, FAR);
	st = vd_plan_next(&plan, t);
	ck_assert_int_eq(st.to, VD_BREAKER_HALF_OPEN);
	ck_assert(!vd_plan_record(&plan, &st, VD_OK, 1, t, &ch));
	ck_assert_int_eq(ch.to, VD_BREAKER_CLOSED);
	ck_assert_str_eq(ch.why, "trial call succeeded");
}
END_TEST

START_TEST(half_open_with_trial_out_is_skipped)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);
	int64_t t = T0 + cfg.base_open_ms;
	vd_step_t st;

	trip(0, T0);
	vd_breaker_begin(&br[0], t, false);      /* another call's trial */
	vd_plan_init(&plan, c, n, &cfg, &budget, t, FAR);
	st = vd_plan_next(&plan, t);
	ck_assert_int_eq(st.kind, VD_STEP_SKIP);
	ck_assert_int_eq(st.why, VD_SKIP_OPEN);
	ck_assert_int_eq(st.remaining_ms, 0);
}
END_TEST

START_TEST(every_circuit_open_probes_the_one_closing_soonest)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	trip(0, T0);
	trip(1, T0 - 1000);      /* closes first */
	trip(2, T0);
	ck_assert_str_eq(run(n, T0 + 10, VD_OK),
	    "skip-open:a probe:b end:answered");
	ck_assert_uint_eq(plan.forced, 1);
	ck_assert_int_eq(plan.forced_ms, cfg.base_open_ms - 1010);
	/* The probe's success closed b's circuit. */
	ck_assert_int_eq(br[1].state, VD_BREAKER_CLOSED);
}
END_TEST

START_TEST(failed_probe_changes_nothing)
{
	static const char *const s[] = { "1.0.1@a" };
	size_t n = cands(s, 1);
	int64_t until;

	trip(0, T0);
	until = br[0].open_until;
	ck_assert_str_eq(run(n, T0 + 10, VD_EHTTP), "probe:a end:exhausted");
	ck_assert_int_eq(br[0].state, VD_BREAKER_OPEN);
	ck_assert_int_eq(br[0].open_until, until);
}
END_TEST

START_TEST(a_candidate_without_breaker_is_never_skipped)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);

	trip(1, T0);
	c[0].breaker = NULL;     /* no memory for it */
	ck_assert_str_eq(run(n, T0 + 10, VD_EHTTP),
	    "try:a skip-open:b end:exhausted");
	ck_assert_uint_eq(plan.forced, SIZE_MAX);
}
END_TEST

START_TEST(budget_refuses_the_fallback_to_the_next_host)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	/* No fallback allowed at all: the first attempt only. */
	vd_budget_init(&budget, 0, 0, VD_BUDGET_WINDOW_S);
	ck_assert_str_eq(run(n, T0, VD_EHTTP), "try:a end:budget");
	ck_assert_int_eq(plan.end, VD_END_BUDGET);
}
END_TEST

START_TEST(budget_counts_calls_and_fallbacks)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n, i;
	int refused = 0;

	/* 20 % of calls, nothing a second: of 10 failing calls the first
	 * fallbacks go while the deposits allow, then the budget refuses. */
	vd_budget_init(&budget, 20, 0, VD_BUDGET_WINDOW_S);
	for (i = 0; i < 10; i++) {
		n = cands(s, 2);
		vd_breaker_init(&br[0]);
		vd_breaker_init(&br[1]);
		run(n, T0 + (int64_t)i, VD_EHTTP);
		refused += plan.end == VD_END_BUDGET;
	}
	ck_assert_int_gt(refused, 0);
	ck_assert_int_lt(refused, 10);
	ck_assert(vd_budget_balance(&budget, T0 + 10) < 1);
}
END_TEST

START_TEST(skips_cost_no_budget)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b", "1.0.0@a" };
	size_t n = cands(s, 3);

	vd_budget_init(&budget, 0, 0, VD_BUDGET_WINDOW_S);
	trip(0, T0);
	c[1].allowed = false;
	/* Nothing was sent before 1.0.0@a: it is no fallback. */
	ck_assert_str_eq(run(n, T0 + 10, VD_OK),
	    "skip-open:a skip-url:b try:a end:answered");
}
END_TEST

START_TEST(deadline_ends_before_the_next_candidate)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n = cands(s, 2);
	struct vd_plan_change ch;
	vd_step_t st;

	vd_plan_init(&plan, c, n, &cfg, &budget, T0, T0 + 100);
	st = vd_plan_next(&plan, T0);
	ck_assert_int_eq(st.kind, VD_STEP_TRY);
	ck_assert(vd_plan_record(&plan, &st, VD_ETIMEOUT, 1, T0 + 100, &ch));
	st = vd_plan_next(&plan, T0 + 100);
	ck_assert_int_eq(st.kind, VD_STEP_END);
	ck_assert_int_eq(st.why, VD_END_DEADLINE);
	/* And it stays ended. */
	st = vd_plan_next(&plan, T0 + 100);
	ck_assert_int_eq(st.why, VD_END_DEADLINE);
}
END_TEST

START_TEST(deadline_before_any_request_says_nothing_to_the_breaker)
{
	static const char *const s[] = { "1.0.1@a" };
	size_t n = cands(s, 1);
	struct vd_plan_change ch;
	vd_step_t st;
	int64_t t = T0 + cfg.base_open_ms;

	trip(0, T0);
	vd_plan_init(&plan, c, n, &cfg, &budget, t, FAR);
	st = vd_plan_next(&plan, t);
	ck_assert_int_eq(st.to, VD_BREAKER_HALF_OPEN);
	/* No request made: the trial is given back, not failed. */
	vd_plan_record(&plan, &st, VD_ETIMEOUT, 0, t, &ch);
	ck_assert_int_eq(br[0].state, VD_BREAKER_HALF_OPEN);
	ck_assert(!br[0].trial);
	ck_assert(!plan.tried_one);
}
END_TEST

START_TEST(five_failures_of_one_host_open_only_its_circuit)
{
	static const char *const s[] = { "1.0.1@a", "1.0.1@b" };
	size_t n, i;

	/* a fails every time it is tried; b answers. */
	for (i = 0; i < 5; i++) {
		struct vd_plan_change ch;
		vd_step_t st;

		n = cands(s, 2);
		vd_plan_init(&plan, c, n, &cfg, &budget, T0, FAR);
		st = vd_plan_next(&plan, T0);
		if (st.kind == VD_STEP_TRY && c[st.index].host[0] == 'a')
			ck_assert(vd_plan_record(&plan, &st, VD_ETRANSPORT, 1,
			    T0, &ch));
		else
			ck_assert_int_eq(st.kind, VD_STEP_SKIP);
		st = vd_plan_next(&plan, T0);
		ck_assert_int_eq(st.kind, VD_STEP_TRY);
		ck_assert_str_eq(c[st.index].host, "b");
		ck_assert(!vd_plan_record(&plan, &st, VD_OK, 1, T0, &ch));
	}
	ck_assert_int_eq(br[0].state, VD_BREAKER_OPEN);
	ck_assert_int_eq(br[1].state, VD_BREAKER_CLOSED);
}
END_TEST

static Suite *
plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *o = tcase_create("order"), *t = tcase_create("steps");

	tcase_add_checked_fixture(o, setup, NULL);
	tcase_add_test(o, newest_version_first);
	tcase_add_test(o, hosts_of_a_version_before_older_versions);
	tcase_add_test(o, turn_rotates_the_hosts_of_each_version);
	tcase_add_test(o, every_turn_starts_each_host_as_often);
	tcase_add_test(o, one_host_is_not_rotated);
	tcase_add_test(o, entries_of_one_host_stay_together);
	tcase_add_test(o, prerelease_after_its_release);
	suite_add_tcase(s, o);

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, first_answer_ends_the_call);
	tcase_add_test(t, failures_go_through_every_host_then_older_versions);
	tcase_add_test(t, a_4xx_ends_the_call);
	tcase_add_test(t, out_of_memory_ends_the_call_and_counts_nothing);
	tcase_add_test(t, url_not_allowed_is_skipped);
	tcase_add_test(t, open_host_is_skipped_other_host_of_the_version_called);
	tcase_add_test(t, every_host_of_newest_open_falls_back_to_older);
	tcase_add_test(t, open_time_up_the_host_gets_a_trial);
	tcase_add_test(t, trial_success_closes_failure_reopens);
	tcase_add_test(t, half_open_with_trial_out_is_skipped);
	tcase_add_test(t, every_circuit_open_probes_the_one_closing_soonest);
	tcase_add_test(t, failed_probe_changes_nothing);
	tcase_add_test(t, a_candidate_without_breaker_is_never_skipped);
	tcase_add_test(t, budget_refuses_the_fallback_to_the_next_host);
	tcase_add_test(t, budget_counts_calls_and_fallbacks);
	tcase_add_test(t, skips_cost_no_budget);
	tcase_add_test(t, deadline_ends_before_the_next_candidate);
	tcase_add_test(t, deadline_before_any_request_says_nothing_to_the_breaker);
	tcase_add_test(t, five_failures_of_one_host_open_only_its_circuit);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return unit_run(plan_suite());
}
