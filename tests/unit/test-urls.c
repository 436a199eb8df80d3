/*
 * test-urls.c - URL allow-lists: entries by scheme, host, port and path
 * prefix, and every way a URL can be written to reach a path the list
 * does not allow (dot segments, percent-encoding, double slashes,
 * userinfo, IPv4 and IPv6 notations, case).
 */
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"
#include "unit.h"

#define FEED "http://127.0.0.1:8080/replyfeed/"
#define OWN "http://127.0.0.1:8080/tickets/,http://127.0.0.1:8080/api/tickets/"

/* The deny-list reading: whether url may reach a place on list. */
static bool
reaches(const char *list, const char *url)
{
	vd_urls_t *urls;
	bool yes;

	ck_assert_ptr_nonnull(urls = vd_urls_new(list, NULL));
	yes = vd_urls_reaches(urls, url);
	vd_urls_destroy(urls);
	return yes;
}

static bool
allowed(const char *list, const char *url)
{
	vd_urls_t *urls;
	vd_error_t err;
	vd_code_t code;

	urls = vd_urls_new(list, &err);
	ck_assert_msg(urls != NULL, "%s: %s", list, err.message);
	code = vd_urls_check(urls, url, &err);
	/* What is allowed may be reached, loopback or not. */
	if (code == VD_OK)
		ck_assert(vd_urls_reaches(urls, url));
	if (code != VD_OK) {
		ck_assert_int_eq(code, VD_EREFUSED);
		ck_assert_int_eq(err.code, VD_EREFUSED);
		ck_assert(strstr(err.message, "URL not allowed") != NULL);
	}
	vd_urls_destroy(urls);
	return code == VD_OK;
}

START_TEST(prefix_by_segment)
{
	ck_assert(allowed(FEED, "http://127.0.0.1:8080/replyfeed/v1.0.0/"
	    "replyEvent"));
	ck_assert(allowed(FEED, "http://127.0.0.1:8080/replyfeed/"));
	ck_assert(!allowed(FEED, "http://127.0.0.1:8080/replyfeed"));
	ck_assert(!allowed(FEED, "http://127.0.0.1:8080/replyfeedx/a"));
	ck_assert(!allowed(FEED, "http://127.0.0.1:8080/tickets/v1.0.0/"
	    "tickets/addComment"));
	/* Without a trailing slash, the prefix ends at a segment. */
	ck_assert(allowed("http://h/hook", "http://h/hook"));
	ck_assert(allowed("http://h/hook", "http://h/hook/a?x=1"));
	ck_assert(!allowed("http://h/hook", "http://h/hooks"));
	/* The query and the fragment are not the path. */
	ck_assert(!allowed(FEED, "http://127.0.0.1:8080/tickets/x?/replyfeed/"));
}
END_TEST

START_TEST(scheme_host_port)
{
	ck_assert(!allowed(FEED, "https://127.0.0.1:8080/replyfeed/a"));
	ck_assert(!allowed(FEED, "http://127.0.0.1:8081/replyfeed/a"));
	ck_assert(!allowed(FEED, "http://127.0.0.1/replyfeed/a"));
	ck_assert(!allowed(FEED, "http://10.0.0.1:8080/replyfeed/a"));
	/* The scheme's default port, written or not. */
	ck_assert(allowed("https://hooks.example", "https://hooks.example:443/"
	    "x"));
	ck_assert(allowed("https://hooks.example:443/", "https://HOOKS.example"
	    "/x"));
	ck_assert(!allowed("https://hooks.example", "http://hooks.example/x"));
	/* Bare hosts: http or https, any port unless one is named. */
	ck_assert(allowed("hooks.example", "https://hooks.example:9000/a"));
	ck_assert(allowed("hooks.example", "http://hooks.example/a"));
	ck_assert(allowed("hooks.example:9000", "http://hooks.example:9000/"));
	ck_assert(!allowed("hooks.example:9000", "http://hooks.example:9001/"));
	ck_assert(allowed("[::1]:8080", "http://[::1]:8080/x"));
	ck_assert(!allowed("[::1]:8080", "http://[::1]:8081/x"));
	/* Never another scheme, whatever the list. */
	ck_assert(!allowed("*", "ftp://127.0.0.1/x"));
	ck_assert(!allowed("*", "file:///etc/passwd"));
	ck_assert(!allowed("*", "gopher://127.0.0.1:8080/_x"));
	ck_assert(allowed("*", "https://anything.example/"));
	/* An empty list allows nothing. */
	ck_assert(!allowed("", "http://127.0.0.1:8080/replyfeed/"));
}
END_TEST

START_TEST(loopback_for_deny_lists)
{
	/* An allow-list names its hosts exactly (as libcurl writes them)... */
	ck_assert(!allowed(FEED, "http://localhost:8080/replyfeed/a"));
	ck_assert(!allowed(FEED, "http://127.0.0.2:8080/replyfeed/a"));
	ck_assert(!allowed("127.0.0.1", "http://127.0.0.2:8080/"));
	ck_assert(allowed(FEED, "http://2130706433:8080/replyfeed/a"));
	ck_assert(allowed("localhost", "http://LocalHost/a"));
	/* ...a deny-list catches every way to name this machine. */
	ck_assert(reaches(OWN, "http://localhost:8080/tickets/v1.0.0/"
	    "tickets/addComment"));
	ck_assert(reaches(OWN, "http://LOCALHOST:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://a.localhost:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://127.1.2.3:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://[::1]:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://2130706433:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://0x7f.1:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://017700000001:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://[::ffff:127.0.0.1]:8080/tickets/a"));
	ck_assert(reaches(OWN, "http://0.0.0.0:8080/api/tickets/tickets/"
	    "addComment"));
	ck_assert(!reaches(OWN, "http://127.0.0.1:8081/tickets/a"));
	ck_assert(!reaches(OWN, "http://10.0.0.1:8080/tickets/a"));
	ck_assert(!reaches(OWN, "http://127.0.0.1:8080/replyfeed/v1.0.0/"
	    "replyEvent"));
	ck_assert(!reaches(OWN, "not a url"));
	ck_assert(vd_url_loopback("127.0.0.1"));
	ck_assert(!vd_url_loopback("127.example"));
	ck_assert(!vd_url_loopback("10.0.0.1"));
}
END_TEST

/* The paths a server routes by, however the URL writes them. */
START_TEST(normalised_paths)
{
	static const char *const own[] = {
		"http://127.0.0.1:8080/replyfeed/../tickets/v1.0.0/tickets/"
		    "addComment",
		"http://127.0.0.1:8080/replyfeed/%2e%2e/tickets/v1.0.0/"
		    "tickets/addComment",
		"http://127.0.0.1:8080/replyfeed/%2E%2E/tickets/a",
		"http://127.0.0.1:8080/replyfeed/.%2e/tickets/a",
		"http://127.0.0.1:8080/replyfeed%2f..%2ftickets/a",
		"http://127.0.0.1:8080/%74ickets/v1.0.0/tickets/addComment",
		"http://127.0.0.1:8080//tickets/v1.0.0/tickets/addComment",
		"http://127.0.0.1:8080/replyfeed//%2e%2e/tickets/a",
		"http://127.0.0.1:8080/./tickets/a",
		"http://127.0.0.1:8080/api//tickets/tickets/addComment",
		"http://user:pw@127.0.0.1:8080/tickets/a",
		"HTTP://127.0.0.1:8080/tickets/a",
		/* libcurl resolves the literal dots before it sends. */
		"http://127.0.0.1:8080/replyfeed/%3f/../../tickets/a",
	};
	size_t i;

	for (i = 0; i < sizeof own / sizeof *own; i++) {
		ck_assert_msg(!allowed(FEED, own[i]), "allowed: %s", own[i]);
		ck_assert_msg(reaches(OWN, own[i]), "not caught: %s", own[i]);
	}
	/* What stays under the prefix is fine. */
	ck_assert(allowed(FEED, "http://127.0.0.1:8080/replyfeed/a/../"
	    "v1.0.0/replyEvent"));
	ck_assert(allowed(FEED, "http://127.0.0.1:8080/replyfeed/%76"
	    "1.0.0/replyEvent"));
	ck_assert(allowed(FEED, "http://127.0.0.1:8080//replyfeed/x"));
}
END_TEST

START_TEST(unknowable_paths_refused)
{
	/* A second decoding would be needed, or the decoded path holds a
	 * query, fragment, backslash or control byte: refused, even by *. */
	static const char *const bad[] = {
		"http://127.0.0.1:8080/replyfeed/%252e%252e/tickets/a",
		"http://127.0.0.1:8080/replyfeed/%3f/x",
		"http://127.0.0.1:8080/replyfeed/%23/x",
		"http://127.0.0.1:8080/replyfeed/%5c..%5ctickets",
		"http://127.0.0.1:8080/replyfeed/%00",
		"http://127.0.0.1:8080/replyfeed/%0a",
		"http://127.0.0.1:8080/replyfeed/a b",
		"http://127.0.0.1:8080@evil.example:8080/replyfeed/",
		"http://127.0.0.1:8080%40evil.example/replyfeed/",
		"//127.0.0.1:8080/replyfeed/",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(!allowed(FEED, bad[i]), "allowed: %s", bad[i]);
		ck_assert_msg(!allowed("*", bad[i]) ||
		    strstr(bad[i], "evil") != NULL, "* allowed: %s", bad[i]);
	}
	/* Userinfo does not name the host: evil.example is. */
	ck_assert(!allowed(FEED, "http://127.0.0.1:8080@evil.example:8080/"
	    "replyfeed/"));
	ck_assert(allowed("evil.example", "http://127.0.0.1:8080@evil.example:"
	    "8080/replyfeed/"));
	ck_assert(!vd_urls_reaches(NULL, "http://127.0.0.1/"));
	/* Judged as libcurl will send it: here to a host "replyfeed". */
	ck_assert(!allowed(FEED, "http:///replyfeed/"));
	ck_assert(allowed("replyfeed", "http:///replyfeed/"));
}
END_TEST

START_TEST(bad_entries)
{
	static const char *const bad[] = {
		"ftp://127.0.0.1/", "127.0.0.1/path", "user@host", "http://",
		"http://h/%00", "**",
	};
	vd_error_t err;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(vd_urls_new(bad[i], &err) == NULL, "took %s",
		    bad[i]);
		ck_assert_int_eq(err.code, VD_EINVAL);
		ck_assert(strstr(err.message, "allow-list entry") != NULL);
	}
	/* Commas, spaces, empty items. */
	ck_assert(allowed(" a.example , ,b.example:81 ", "http://b.example:81/"));
	ck_assert(allowed(NULL, "http://a/") == false);
}
END_TEST

static Suite *
urls_suite(void)
{
	Suite *s = suite_create("urls");
	TCase *tc = tcase_create("allow-list");

	tcase_add_test(tc, prefix_by_segment);
	tcase_add_test(tc, scheme_host_port);
	tcase_add_test(tc, loopback_for_deny_lists);
	tcase_add_test(tc, normalised_paths);
	tcase_add_test(tc, unknowable_paths_refused);
	tcase_add_test(tc, bad_entries);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(urls_suite());
}
