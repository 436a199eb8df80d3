/*
 * test-cache.c - the registry copy's file: what is written is what is read
 * back, the file is replaced atomically, and bad files are refused.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vd-private.h"
#include "unit.h"

/* Two entries: a pre-release with two endpoints and roles, and one with
 * nothing but a GET. */
static vd_entry_t *
sample(size_t *n)
{
	vd_entry_t *e = calloc(2, sizeof *e);

	ck_assert_ptr_nonnull(e);
	e[0].name = strdup("Ticket Query");
	vd_version_parse("1.1.0-rc.1", &e[0].version, NULL);
	e[0].url = strdup("/tickets");
	e[0].n_endpoints = 2;
	e[0].endpoints = calloc(2, sizeof *e[0].endpoints);
	e[0].endpoints[0].type = strdup("http-get");
	e[0].endpoints[0].url = strdup("http://127.0.0.1:8080/a?x=\"1\"");
	e[0].endpoints[1].type = strdup("http-post");
	e[0].endpoints[1].url = strdup("http://127.0.0.1:8080/b");
	e[0].n_roles = 2;
	e[0].roles = calloc(2, sizeof *e[0].roles);
	e[0].roles[0] = strdup("user");
	e[0].roles[1] = strdup("admin");
	e[0].last_seen_ms = 1795000000123LL;
	e[1].name = strdup("Ticket Add Comment");
	vd_version_parse("1.0.0", &e[1].version, NULL);
	e[1].url = strdup("");
	e[1].n_endpoints = 1;
	e[1].endpoints = calloc(1, sizeof *e[1].endpoints);
	e[1].endpoints[0].type = strdup("http-post");
	e[1].endpoints[0].url = strdup("http://127.0.0.1:8080/c");
	*n = 2;
	return e;
}

/* Parsed entries come back sorted: Add Comment first. */
static void
assert_sample(const vd_entry_t *e, size_t n)
{
	char v[64];

	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[0].name, "Ticket Add Comment");
	ck_assert_str_eq(e[0].url, "");
	ck_assert_uint_eq(e[0].n_endpoints, 1);
	ck_assert_uint_eq(e[0].n_roles, 0);
	ck_assert_int_eq(e[0].last_seen_ms, 0);
	ck_assert_str_eq(e[1].name, "Ticket Query");
	vd_version_format(&e[1].version, v, sizeof v);
	ck_assert_str_eq(v, "1.1.0-rc.1");
	ck_assert_str_eq(e[1].url, "/tickets");
	ck_assert_uint_eq(e[1].n_endpoints, 2);
	ck_assert_str_eq(e[1].endpoints[0].type, "http-get");
	ck_assert_str_eq(e[1].endpoints[0].url,
	    "http://127.0.0.1:8080/a?x=\"1\"");
	ck_assert_str_eq(e[1].endpoints[1].type, "http-post");
	ck_assert_uint_eq(e[1].n_roles, 2);
	ck_assert_str_eq(e[1].roles[1], "admin");
	ck_assert_int_eq(e[1].last_seen_ms, 1795000000123LL);
}

START_TEST(round_trip)
{
	size_t n, m;
	vd_entry_t *e = sample(&n), *back;
	int64_t fetched;
	vd_error_t err;
	char *text = vd_cache_serialize(e, n, 1795000001000LL);

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &back, &m,
	    &fetched, &err), VD_OK);
	ck_assert_int_eq(fetched, 1795000001000LL);
	assert_sample(back, m);
	vd_entries_free(back, m);
	vd_entries_free(e, n);
	free(text);
}
END_TEST

START_TEST(empty_registry)
{
	vd_entry_t *back;
	size_t m;
	int64_t fetched;
	char *text = vd_cache_serialize(NULL, 0, 5);

	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &back, &m,
	    &fetched, NULL), VD_OK);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(fetched, 5);
	vd_entries_free(back, m);
	free(text);
}
END_TEST

static const char *const bad_files[] = {
	"",
	"not json",
	"[]",
	"{\"format\":\"something else/1\",\"fetchedAt\":1,\"entries\":[]}",
	"{\"format\":\"vdispatch-registry-cache/1\",\"entries\":[]}",
	"{\"format\":\"vdispatch-registry-cache/1\",\"fetchedAt\":1}",
	"{\"format\":\"vdispatch-registry-cache/1\",\"fetchedAt\":1,"
	    "\"entries\":{}}",
	/* No 64-bit integer holds these: converting one is undefined. */
	"{\"format\":\"vdispatch-registry-cache/1\",\"fetchedAt\":1e300,"
	    "\"entries\":[]}",
	"{\"format\":\"vdispatch-registry-cache/1\",\"fetchedAt\":-1e19,"
	    "\"entries\":[]}",
	/* Past the year 33658: cJSON would not write it back exactly. */
	"{\"format\":\"vdispatch-registry-cache/1\",\"fetchedAt\":1e15,"
	    "\"entries\":[]}",
};

START_TEST(bad_file_refused)
{
	vd_entry_t *back = (vd_entry_t *)1;
	size_t m = 7;
	int64_t fetched = 7;
	vd_error_t err;
	const char *text = bad_files[_i];

	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &back, &m,
	    &fetched, &err), VD_EINVAL);
	ck_assert_ptr_null(back);
	ck_assert_uint_eq(m, 0);
	ck_assert(strstr(err.message, "not a registry copy") != NULL);
}
END_TEST

START_TEST(bad_entries_skipped)
{
	static const char text[] = "{\"format\":\"vdispatch-registry-cache/1\","
	    "\"fetchedAt\":1,\"entries\":[{\"name\":\"A\",\"version\":\"x\"},"
	    "{\"version\":\"1.0.0\"},7,{\"name\":\"B\",\"version\":\"1.0.0\","
	    "\"endpoints\":[{\"type\":\"http-get\"},{\"type\":\"http-get\","
	    "\"url\":\"http://h/\"}],\"authorizedRoles\":[1,\"r\"]}]}";
	vd_entry_t *back;
	size_t m;
	int64_t fetched;

	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &back, &m,
	    &fetched, NULL), VD_OK);
	ck_assert_uint_eq(m, 1);
	ck_assert_str_eq(back[0].name, "B");
	ck_assert_str_eq(back[0].url, "");
	ck_assert_uint_eq(back[0].n_endpoints, 1);
	ck_assert_uint_eq(back[0].n_roles, 1);
	vd_entries_free(back, m);
}
END_TEST

/* A lastSeen no 64-bit integer holds is no time at all: never seen (it
 * used to be converted regardless, which is undefined; fuzz-cache found
 * it). */
START_TEST(last_seen_out_of_range)
{
	static const char text[] = "{\"format\":\"vdispatch-registry-cache/1\","
	    "\"fetchedAt\":1,\"entries\":[{\"name\":\"A\",\"version\":"
	    "\"1.0.0\",\"lastSeen\":1e300},{\"name\":\"B\",\"version\":"
	    "\"1.0.0\",\"lastSeen\":9.3e18},{\"name\":\"C\",\"version\":"
	    "\"1.0.0\",\"lastSeen\":1795000000123}]}";
	vd_entry_t *back;
	size_t m;
	int64_t fetched;

	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &back, &m,
	    &fetched, NULL), VD_OK);
	ck_assert_uint_eq(m, 3);
	ck_assert_int_eq(back[0].last_seen_ms, 0);
	ck_assert_int_eq(back[1].last_seen_ms, 0);
	ck_assert_int_eq(back[2].last_seen_ms, 1795000000123LL);
	vd_entries_free(back, m);
}
END_TEST

/* Two entries that differ only in their URL and a lastSeen past 1e15 ms
 * used to be sorted by lastSeen, written back as one same number, and
 * read back in the other order: the hash changed on a file rewritten
 * unchanged (fuzz-cache found it). */
START_TEST(far_last_seen_keeps_order)
{
	static const char text[] = "{\"format\":\"vdispatch-registry-cache/1\","
	    "\"fetchedAt\":1,\"entries\":[{\"name\":\"A\",\"version\":"
	    "\"1.0.0\",\"url\":\"b\",\"lastSeen\":10000000000000002},"
	    "{\"name\":\"A\",\"version\":\"1.0.0\",\"url\":\"a\","
	    "\"lastSeen\":9999999999999998}]}";
	vd_entry_t *e, *back;
	size_t n, m;
	int64_t fetched;
	char *again;

	ck_assert_int_eq(vd_cache_parse(text, strlen(text), &e, &n,
	    &fetched, NULL), VD_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(e[0].last_seen_ms, 0);
	ck_assert_str_eq(e[0].url, "a");
	again = vd_cache_serialize(e, n, fetched);
	ck_assert_int_eq(vd_cache_parse(again, strlen(again), &back, &m,
	    &fetched, NULL), VD_OK);
	ck_assert_uint_eq(m, 2);
	ck_assert(vd_cache_hash(e, n) == vd_cache_hash(back, m));
	free(again);
	vd_entries_free(back, m);
	vd_entries_free(e, n);
}
END_TEST

START_TEST(hash_ignores_last_seen)
{
	size_t n;
	vd_entry_t *e = sample(&n);
	uint64_t h = vd_cache_hash(e, n);

	e[0].last_seen_ms += 10000;
	ck_assert(vd_cache_hash(e, n) == h);
	free((char *)e[0].endpoints[1].url);
	e[0].endpoints[1].url = strdup("http://127.0.0.1:8080/moved");
	ck_assert(vd_cache_hash(e, n) != h);
	vd_entries_free(e, n);
}
END_TEST

/* Files in dir other than "." and "..". */
static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

START_TEST(save_and_load)
{
	char dir[] = "/tmp/vd-test-cache-XXXXXX", path[128];
	size_t n, m;
	vd_entry_t *e = sample(&n), *back;
	int64_t fetched;
	vd_error_t err;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/registry-cache.json", dir);
	ck_assert_int_eq(vd_cache_load(path, &back, &m, &fetched, &err),
	    VD_EINVAL);
	ck_assert(strstr(err.message, path) != NULL);
	ck_assert_int_eq(vd_cache_save(path, e, n, 42, &err), VD_OK);
	/* Replaced, not appended to; no temporary file left behind. */
	ck_assert_int_eq(vd_cache_save(path, e, n, 43, &err), VD_OK);
	ck_assert_int_eq(count_files(dir), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(vd_cache_load(path, &back, &m, &fetched, &err),
	    VD_OK);
	ck_assert_int_eq(fetched, 43);
	assert_sample(back, m);
	vd_entries_free(back, m);
	/* A corrupt file is refused with its name. */
	{
		FILE *f = fopen(path, "w");

		fputs("{\"format\":", f);
		fclose(f);
	}
	ck_assert_int_eq(vd_cache_load(path, &back, &m, &fetched, &err),
	    VD_EINVAL);
	ck_assert(strstr(err.message, "registry-cache.json") != NULL);
	unlink(path);
	/* A directory that does not exist: an error, nothing left. */
	snprintf(path, sizeof path, "%s/missing/registry-cache.json", dir);
	ck_assert_int_eq(vd_cache_save(path, e, n, 44, &err), VD_EINVAL);
	ck_assert(strstr(err.message, "cannot write") != NULL);
	ck_assert_int_eq(count_files(dir), 0);
	rmdir(dir);
	vd_entries_free(e, n);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_registry);
	tcase_add_loop_test(tc, bad_file_refused, 0,
	    sizeof bad_files / sizeof bad_files[0]);
	tcase_add_test(tc, bad_entries_skipped);
	tcase_add_test(tc, last_seen_out_of_range);
	tcase_add_test(tc, far_last_seen_keeps_order);
	tcase_add_test(tc, hash_ignores_last_seen);
	tcase_add_test(tc, save_and_load);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(cache_suite());
}
