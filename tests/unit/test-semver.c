/*
 * test-semver.c - versions, ranges, and the choice and order of the
 * versions a call tries.
 */
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"
#include "unit.h"

/* ---- parsing ---- */

static const struct {
	const char *text;
	uint64_t major, minor, patch;
	const char *prerelease;
} valid[] = {
	{ "0.0.0", 0, 0, 0, "" },
	{ "1.2.3", 1, 2, 3, "" },
	{ "v1.2.3", 1, 2, 3, "" },
	{ "10.20.30", 10, 20, 30, "" },
	{ "1.0.0-alpha", 1, 0, 0, "alpha" },
	{ "1.0.0-alpha.1", 1, 0, 0, "alpha.1" },
	{ "1.0.0-0.3.7", 1, 0, 0, "0.3.7" },
	{ "1.0.0-x.7.z.92", 1, 0, 0, "x.7.z.92" },
	{ "1.0.0-x-y-z.--", 1, 0, 0, "x-y-z.--" },
	{ "1.0.0+20130313144700", 1, 0, 0, "" },
	{ "1.0.0-beta+exp.sha.5114f85", 1, 0, 0, "beta" },
	{ "1.0.0+21AF26D3----117B344092BD", 1, 0, 0, "" },
	{ "1.0.0+001", 1, 0, 0, "" },          /* build may lead with 0 */
	{ "18446744073709551615.0.0", UINT64_MAX, 0, 0, "" },
};

START_TEST(parse_valid)
{
	vd_version_t v;
	vd_error_t error;

	ck_assert_int_eq(vd_version_parse(valid[_i].text, &v, &error), VD_OK);
	ck_assert_uint_eq(v.major, valid[_i].major);
	ck_assert_uint_eq(v.minor, valid[_i].minor);
	ck_assert_uint_eq(v.patch, valid[_i].patch);
	ck_assert_str_eq(v.prerelease, valid[_i].prerelease);
}
END_TEST

static const char *const invalid[] = {
	"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
	"1.2.3-01", "1.2.3-a..b", "1.2.3-.a", "1.2.3+", "1.2.3+a..b",
	"1.2.3+a+b", " 1.2.3", "1.2.3 ", "a.b.c", "-1.2.3", "1.2.3-rc$",
	"vv1.2.3", "V1.2.3", "1.2.-3", "18446744073709551616.0.0",
	"1.2.3-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"1.x.0", "*",
};

START_TEST(parse_invalid)
{
	vd_version_t v;
	vd_error_t error;

	memset(&v, 0xff, sizeof v);
	ck_assert_msg(vd_version_parse(invalid[_i], &v, &error) == VD_EVERSION,
	    "\"%s\" parsed", invalid[_i]);
	ck_assert_int_eq(error.code, VD_EVERSION);
	ck_assert_ptr_nonnull(strstr(error.message, "Not a semantic version"));
	/* The out-parameter is initialised even on failure. */
	ck_assert_uint_eq(v.major, 0);
	ck_assert_str_eq(v.prerelease, "");
}
END_TEST

START_TEST(parse_null_error_ok)
{
	vd_version_t v;

	ck_assert_int_eq(vd_version_parse("nope", &v, NULL), VD_EVERSION);
	ck_assert_int_eq(vd_version_parse(NULL, &v, NULL), VD_EINVAL);
}
END_TEST

/* ---- precedence ---- */

static vd_version_t
ver(const char *text)
{
	vd_version_t v;

	ck_assert_msg(vd_version_parse(text, &v, NULL) == VD_OK,
	    "bad test version %s", text);
	return v;
}

START_TEST(precedence_semver_org)
{
	static const char *const order[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
		"1.0.0", "1.0.1", "1.1.0", "1.9.0", "1.10.0", "2.0.0",
	};
	size_t n = sizeof order / sizeof order[0], i, j;

	for (i = 0; i < n; i++) {
		vd_version_t a = ver(order[i]);

		ck_assert_int_eq(vd_version_compare(&a, &a), 0);
		for (j = i + 1; j < n; j++) {
			vd_version_t b = ver(order[j]);

			ck_assert_msg(vd_version_compare(&a, &b) < 0,
			    "%s should be lower than %s", order[i], order[j]);
			ck_assert_msg(vd_version_compare(&b, &a) > 0,
			    "%s should be higher than %s", order[j], order[i]);
		}
	}
}
END_TEST

START_TEST(precedence_details)
{
	vd_version_t a, b;

	/* Build metadata has no precedence. */
	a = ver("1.0.0+a");
	b = ver("1.0.0+b");
	ck_assert_int_eq(vd_version_compare(&a, &b), 0);
	/* Numeric identifiers rank below alphanumeric ones. */
	a = ver("1.0.0-999");
	b = ver("1.0.0-a");
	ck_assert_int_lt(vd_version_compare(&a, &b), 0);
	/* Numerically, not by text. */
	a = ver("1.0.0-rc.9");
	b = ver("1.0.0-rc.10");
	ck_assert_int_lt(vd_version_compare(&a, &b), 0);
	/* Text by ASCII, and a longer one after its prefix. */
	a = ver("1.0.0-Beta");
	b = ver("1.0.0-alpha");
	ck_assert_int_lt(vd_version_compare(&a, &b), 0);
	a = ver("1.0.0-alpha");
	b = ver("1.0.0-alphabet");
	ck_assert_int_lt(vd_version_compare(&a, &b), 0);
	a = ver("18446744073709551615.0.0");
	b = ver("18446744073709551614.9.9");
	ck_assert_int_gt(vd_version_compare(&a, &b), 0);
}
END_TEST

START_TEST(format)
{
	vd_version_t v = ver("v1.2.3-rc.1+build.5");
	char buf[64], small[6];

	ck_assert_int_eq(vd_version_format(&v, buf, sizeof buf), 10);
	ck_assert_str_eq(buf, "1.2.3-rc.1");
	ck_assert_int_eq(vd_version_format(&v, small, sizeof small), 10);
	ck_assert_str_eq(small, "1.2.3");
	v = ver("10.0.7");
	vd_version_format(&v, buf, sizeof buf);
	ck_assert_str_eq(buf, "10.0.7");
}
END_TEST

/* ---- ranges ---- */

static const struct {
	const char *spec;
	const char *version;
	bool match;
} matches[] = {
	/* Bare: the article's rule, same major and at least this. Its bug
	 * compared minor and patch separately: 1.1.0 must satisfy 1.0.1. */
	{ "1.0.1", "1.0.1", true },
	{ "1.0.1", "1.0.2", true },
	{ "1.0.1", "1.1.0", true },
	{ "1.0.1", "1.99.99", true },
	/* Older patches of the same minor are the last resort (issue 2:
	 * a call at 1.0.1 falls back to 1.0.0); older minors are not. */
	{ "1.0.1", "1.0.0", true },
	{ "1.2.3", "1.2.0", true },
	{ "1.2.3", "1.1.9", false },
	{ "1.0.1", "0.9.9", false },
	{ "1.0.1", "2.0.0", false },
	{ "v1.0.1", "1.0.1", true },
	{ "0.2.3", "0.9.0", true },        /* also for major 0 */
	{ "0.2.3", "0.2.2", true },
	{ "0.2.3", "0.1.9", false },
	{ "0.2.3", "1.0.0", false },
	{ "1", "1.0.0", true },
	{ "1.2", "1.1.9", false },
	{ "1.2", "1.2.0", true },
	{ "1.x", "1.5.0", true },
	{ "1.x", "2.0.0", false },
	/* Exact. */
	{ "=1.0.1", "1.0.1", true },
	{ "=1.0.1", "1.0.2", false },
	{ "=1.0.1", "1.0.0", false },
	{ "=v1.0.1", "1.0.1", true },
	{ "=1.2", "1.2.0", true },         /* partial: zeros */
	{ "=1.2", "1.2.1", false },
	/* Caret. */
	{ "^1.0.1", "1.0.1", true },
	{ "^1.0.1", "1.9.9", true },
	{ "^1.0.1", "1.0.0", false },
	{ "^1.0.1", "2.0.0", false },
	{ "^0.2.3", "0.2.9", true },
	{ "^0.2.3", "0.3.0", false },
	{ "^0.0.3", "0.0.3", true },
	{ "^0.0.3", "0.0.4", false },
	{ "^0.0", "0.0.9", true },
	{ "^0.0", "0.1.0", false },
	{ "^0", "0.9.9", true },
	{ "^0", "1.0.0", false },
	{ "^1.2", "1.9.0", true },
	{ "^1.2", "1.1.9", false },
	/* Tilde. */
	{ "~1.0.1", "1.0.9", true },
	{ "~1.0.1", "1.0.0", false },
	{ "~1.0.1", "1.1.0", false },
	{ "~1.2", "1.2.5", true },
	{ "~1.2", "1.3.0", false },
	{ "~1", "1.9.0", true },
	{ "~1", "2.0.0", false },
	/* Comparators, all of which must hold; partials fill with zeros. */
	{ ">=1.0.1 <2", "1.0.1", true },
	{ ">=1.0.1 <2", "1.5.0", true },
	{ ">=1.0.1 <2", "1.0.0", false },
	{ ">=1.0.1 <2", "2.0.0", false },
	{ ">= 1.0.1   < 2", "1.5.0", true },
	{ "  >=1.0.1\t<2  ", "1.5.0", true },
	{ ">1.0.0", "1.0.0", false },
	{ ">1.0.0", "1.0.1", true },
	{ "<=1.2", "1.2.0", true },
	{ "<=1.2", "1.2.1", false },
	{ "<1", "0.9.9", true },
	{ "<1", "1.0.0", false },
	{ ">=1.0.0 <=1.0.0", "1.0.0", true },
	{ "^1.0.0 <1.5", "1.5.0", false },
	{ "^1.0.0 <1.5", "1.4.9", true },
	/* Either set. */
	{ "1.0.0 || 2.1.0", "1.5.0", true },
	{ "1.0.0 || 2.1.0", "2.0.5", false },
	{ "1.0.0 || 2.1.0", "2.1.0", true },
	{ "1.0.0 || 2.1.0", "3.0.0", false },
	{ "^1.0.0||^3.0.0", "2.0.0", false },
	{ "^1.0.0||^3.0.0", "3.1.0", true },
	{ "=1.0.0 || >=2 <3 || ~4.1", "4.1.7", true },
	{ "=1.0.0 || >=2 <3 || ~4.1", "4.2.0", false },
	/* Any. */
	{ "*", "0.0.1", true },
	{ "*", "99.0.0", true },
	{ "", "1.2.3", true },
	{ "x", "1.2.3", true },
	{ ">=*", "1.2.3", true },
	/* Pre-releases: only when the set names one of the same release. */
	{ "^1.0.0", "2.0.0-rc.1", false },
	{ "^1.0.0", "1.5.0-beta", false },
	{ "1.0.0", "1.0.1-rc.1", false },
	{ "*", "1.0.0-rc.1", false },
	{ ">=1.0.0-rc.1", "1.0.0-rc.2", true },
	{ ">=1.0.0-rc.1", "1.0.0", true },
	{ ">=1.0.0-rc.1", "1.0.1-rc.1", false },
	{ ">=1.0.0-rc.1", "1.0.1", true },
	{ "1.0.0-rc.1", "1.0.0-rc.1", true },
	{ "1.0.0-rc.1", "1.0.0-rc.0", false },
	{ "1.0.0-rc.1", "1.0.0-beta", false },
	{ "1.0.0-rc.1", "1.9.0", true },
	{ "1.0.0-rc.1", "2.0.0-0", false },
	{ "=1.0.0-rc.1", "1.0.0-rc.1", true },
	{ "=1.0.0-rc.1", "1.0.0-rc.2", false },
	{ "^2.0.0-rc.1", "2.0.0-rc.2", true },
	{ "^2.0.0-rc.1", "2.0.0", true },
	{ "^2.0.0-rc.1", "2.1.0-beta", false },
	{ "^2.0.0-rc.1", "3.0.0-0", false },
	{ "^1.0.0 || 2.0.0-rc.1", "2.0.0-rc.2", true },
	{ "^1.0.0 || 2.0.0-rc.1", "1.2.0-rc.2", false },
	/* The largest versions have no "next" bound to overflow into. */
	{ "18446744073709551615.0.0", "18446744073709551615.3.0", true },
	{ "^18446744073709551615.0.0", "18446744073709551614.0.0", false },
};

START_TEST(range_match)
{
	vd_error_t error;
	vd_range_t *r = vd_range_new(matches[_i].spec, &error);
	vd_version_t v = ver(matches[_i].version);

	ck_assert_msg(r != NULL, "\"%s\" did not parse: %s", matches[_i].spec,
	    error.message);
	ck_assert_msg(vd_range_match(r, &v) == matches[_i].match,
	    "\"%s\" %s %s", matches[_i].spec,
	    matches[_i].match ? "should match" : "should not match",
	    matches[_i].version);
	ck_assert_str_eq(vd_range_spec(r), matches[_i].spec);
	vd_range_destroy(r);
}
END_TEST

static const char *const bad_ranges[] = {
	"abc", ">=", "^", "~", "1.2.3.4", "<*", ">*", "~>1", ">=1.0.0<2",
	"1.x.3", "1.0.0 - 2.0.0", "1.2.3-01", "=>1.0.0", "1.0.0 ||| 2.0.0",
};

START_TEST(range_invalid)
{
	vd_error_t error;

	memset(&error, 0, sizeof error);
	ck_assert_msg(vd_range_new(bad_ranges[_i], &error) == NULL,
	    "\"%s\" parsed", bad_ranges[_i]);
	ck_assert_int_eq(error.code, VD_EVERSION);
	ck_assert_ptr_nonnull(strstr(error.message, bad_ranges[_i]));
}
END_TEST

START_TEST(range_null)
{
	vd_range_t *r = vd_range_new(NULL, NULL);
	vd_version_t v = ver("3.2.1");

	ck_assert_ptr_nonnull(r);
	ck_assert(vd_range_match(r, &v));
	ck_assert_str_eq(vd_range_spec(r), "");
	ck_assert(!vd_range_match(NULL, &v));
	vd_range_destroy(r);
	vd_range_destroy(NULL);
}
END_TEST

/* ---- candidates: which registered versions a call tries, in order ---- */

static void
entry(vd_entry_t *e, const char *name, const char *version, const char *url,
    int64_t last_seen_ms)
{
	memset(e, 0, sizeof *e);
	e->name = strdup(name);
	e->url = strdup(url);
	e->version = ver(version);
	e->last_seen_ms = last_seen_ms;
}

#define NOW 1000000000
#define STALE_MS 30000

/* A registry as a look-up returns it, unsorted. */
static vd_entry_t *
registry(size_t *count)
{
	vd_entry_t *e = calloc(9, sizeof *e);

	entry(&e[0], "Ticket Query", "1.0.0", "/tickets", NOW - 1000);
	entry(&e[1], "Ticket Query", "1.1.0", "/tickets", NOW - 60000);
	entry(&e[2], "Ticket Query", "1.0.1", "/tickets", NOW - 2000);
	entry(&e[3], "Ticket Add Comment", "1.0.0", "/tickets", NOW);
	entry(&e[4], "Ticket Query", "2.0.0", "/tickets", NOW);
	entry(&e[5], "Ticket Query", "1.0.2-rc.1", "/tickets", NOW);
	entry(&e[6], "Ticket Query", "1.10.0", "/tickets", 0);
	entry(&e[7], "Ticket Query", "1.2.0", "/b", NOW - 5000);
	entry(&e[8], "Ticket Query", "1.2.0", "/a", NOW - 100);
	*count = 9;
	return e;
}

static void
assert_order(const vd_entry_t *e, size_t count, const char *const *want,
    size_t n_want)
{
	size_t i;
	char buf[128];

	ck_assert_uint_eq(count, n_want);
	for (i = 0; i < count; i++) {
		snprintf(buf, sizeof buf, "%s ", e[i].name);
		vd_version_format(&e[i].version, buf + strlen(buf),
		    sizeof buf - strlen(buf));
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " %s",
		    e[i].url);
		ck_assert_str_eq(buf, want[i]);
	}
}

START_TEST(candidates_sorted)
{
	static const char *const want[] = {
		"Ticket Add Comment 1.0.0 /tickets",
		"Ticket Query 2.0.0 /tickets",
		"Ticket Query 1.10.0 /tickets",      /* numeric, not text */
		"Ticket Query 1.2.0 /a",             /* seen most recently */
		"Ticket Query 1.2.0 /b",
		"Ticket Query 1.1.0 /tickets",
		"Ticket Query 1.0.2-rc.1 /tickets",
		"Ticket Query 1.0.1 /tickets",
		"Ticket Query 1.0.0 /tickets",
	};
	size_t n;
	vd_entry_t *e = registry(&n);

	vd_entries_sort(e, n);
	assert_order(e, n, want, sizeof want / sizeof want[0]);
	vd_entries_free(e, n);
}
END_TEST

START_TEST(candidates_stale)
{
	size_t n, i;
	vd_entry_t *e = registry(&n);

	vd_entries_mark_stale(e, n, NOW, STALE_MS);
	for (i = 0; i < n; i++) {
		char v[32];
		bool want;

		vd_version_format(&e[i].version, v, sizeof v);
		/* 1.1.0 was seen 60 s ago; 1.10.0 never. */
		want = strcmp(v, "1.1.0") == 0 || strcmp(v, "1.10.0") == 0;
		ck_assert_msg(e[i].stale == want, "%s stale: %d", v,
		    e[i].stale);
	}
	vd_entries_free(e, n);
}
END_TEST

START_TEST(candidates_for_call)
{
	/* What a call of Ticket Query 1.0.1 tries: live, same major, at
	 * least 1.0.1, no pre-release, newest first; then 1.0.0, an older
	 * patch of the same minor, as the last resort. */
	static const char *const want[] = {
		"Ticket Query 1.2.0 /a",
		"Ticket Query 1.2.0 /b",
		"Ticket Query 1.0.1 /tickets",
		"Ticket Query 1.0.0 /tickets",
	};
	size_t n, kept;
	vd_entry_t *e = registry(&n);
	vd_range_t *r = vd_range_new("1.0.1", NULL);

	vd_entries_mark_stale(e, n, NOW, STALE_MS);
	vd_entries_sort(e, n);
	/* A call looks up one name: leave out e[0], Ticket Add Comment. */
	kept = vd_entries_filter(e + 1, n - 1, r, true);
	assert_order(e + 1, kept, want, sizeof want / sizeof want[0]);
	ck_assert_uint_eq(vd_entries_filter(e + 1, kept, NULL, true), kept);
	vd_entries_free(e, kept + 1);
	vd_range_destroy(r);
}
END_TEST

START_TEST(candidates_stale_included_by_lookup)
{
	/* vd_lookup keeps stale entries (marked) and every name. */
	static const char *const want[] = {
		"Ticket Add Comment 1.0.0 /tickets",
		"Ticket Query 1.10.0 /tickets",
		"Ticket Query 1.2.0 /a",
		"Ticket Query 1.2.0 /b",
		"Ticket Query 1.1.0 /tickets",
		"Ticket Query 1.0.1 /tickets",
		"Ticket Query 1.0.0 /tickets",
	};
	size_t n;
	vd_entry_t *e = registry(&n);
	vd_range_t *r = vd_range_new("^1.0.0", NULL);

	vd_entries_mark_stale(e, n, NOW, STALE_MS);
	vd_entries_sort(e, n);
	n = vd_entries_filter(e, n, r, false);
	assert_order(e, n, want, sizeof want / sizeof want[0]);
	vd_entries_free(e, n);
	vd_range_destroy(r);
}
END_TEST

START_TEST(candidates_describe)
{
	size_t n;
	vd_entry_t *e = registry(&n);
	char buf[256], tiny[12];

	vd_entries_mark_stale(e, n, NOW, STALE_MS);
	vd_entries_sort(e, n);
	/* Ticket Query only (e[0] is Ticket Add Comment); 1.2.0 is live at
	 * both its URLs, and would be at one. */
	e[3].stale = true;
	vd_entries_describe(e + 1, n - 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "2.0.0, 1.10.0 (stale), 1.2.0, 1.1.0 (stale), "
	    "1.0.2-rc.1, 1.0.1, 1.0.0");
	e[4].stale = true;
	vd_entries_describe(e + 1, n - 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "2.0.0, 1.10.0 (stale), 1.2.0 (stale), "
	    "1.1.0 (stale), 1.0.2-rc.1, 1.0.1, 1.0.0");
	vd_entries_describe(e + 1, n - 1, tiny, sizeof tiny);
	ck_assert_str_eq(tiny, "2.0.0, ...");
	vd_entries_describe(e, 0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	vd_entries_free(e, n);
}
END_TEST

START_TEST(candidates_copy)
{
	size_t n, i;
	vd_entry_t *e = registry(&n), *c;
	vd_endpoint_t *ep = calloc(1, sizeof *ep);

	ep->type = strdup("http-get");
	ep->url = strdup("http://127.0.0.1:8080/tickets/v1.0.0/tickets");
	e[0].endpoints = ep;
	e[0].n_endpoints = 1;
	c = vd_entries_copy(e, n);
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(c[i].name, e[i].name);
		ck_assert_ptr_ne(c[i].name, e[i].name);
		ck_assert_int_eq(vd_version_compare(&c[i].version,
		    &e[i].version), 0);
	}
	ck_assert_uint_eq(c[0].n_endpoints, 1);
	ck_assert_str_eq(c[0].endpoints[0].url, ep->url);
	vd_entries_free(e, n);
	vd_entries_free(c, n);
	vd_entries_free(NULL, 3);
}
END_TEST

static Suite *
semver_suite(void)
{
	Suite *s = suite_create("semver");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, parse_valid, 0, sizeof valid / sizeof valid[0]);
	tcase_add_loop_test(tc, parse_invalid, 0,
	    sizeof invalid / sizeof invalid[0]);
	tcase_add_test(tc, parse_null_error_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("precedence");
	tcase_add_test(tc, precedence_semver_org);
	tcase_add_test(tc, precedence_details);
	tcase_add_test(tc, format);
	suite_add_tcase(s, tc);

	tc = tcase_create("range");
	tcase_add_loop_test(tc, range_match, 0,
	    sizeof matches / sizeof matches[0]);
	tcase_add_loop_test(tc, range_invalid, 0,
	    sizeof bad_ranges / sizeof bad_ranges[0]);
	tcase_add_test(tc, range_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("candidates");
	tcase_add_test(tc, candidates_sorted);
	tcase_add_test(tc, candidates_stale);
	tcase_add_test(tc, candidates_for_call);
	tcase_add_test(tc, candidates_stale_included_by_lookup);
	tcase_add_test(tc, candidates_describe);
	tcase_add_test(tc, candidates_copy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(semver_suite());
}
