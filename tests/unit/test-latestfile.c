/*
 * test-latestfile.c - the reply feed's file of latest replies: events
 * merged in order whatever order they arrive in, each once, the newest 10
 * kept, the file replaced whole, and every version of it dated after the
 * one before (nginx's ETag is the mtime in seconds and the size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replyfeed.h"
#include "unit.h"

static char dir[] = "/tmp/test-latestfile-XXXXXX";
static char path[256];

static void
add(const char *id, int64_t created_ms)
{
	struct svc_event ev = { id, SVC_EVENT_TYPE,
	    "5f1d7a9e2c3b4a5d6e7f8a01", "title", "user", id, created_ms };
	bson_error_t error;

	ck_assert_msg(rf_latest_file_add(path, &ev, &error), "%s",
	    error.message);
}

/* The ids in the file, in order, joined by spaces. */
static char *
ids(void)
{
	static char out[512];
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
	cJSON *list, *it;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	list = cJSON_Parse(buf);
	ck_assert(cJSON_IsArray(list));
	out[0] = '\0';
	cJSON_ArrayForEach(it, list) {
		if (*out)
			strcat(out, " ");
		strcat(out, cJSON_GetStringValue(cJSON_GetObjectItem(it, "id")));
	}
	cJSON_Delete(list);
	return out;
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/latest.json", dir);
}

static void
teardown(void)
{
	char lock[300];

	snprintf(lock, sizeof lock, "%s.lock", path);
	unlink(path);
	unlink(lock);
	rmdir(dir);
	strcpy(dir, "/tmp/test-latestfile-XXXXXX");
}

START_TEST(in_order_whatever_the_arrival)
{
	add("b", 2000);
	add("d", 4000);
	add("a", 1000);
	add("c", 3000);
	ck_assert_str_eq(ids(), "a b c d");
	/* A repeat (at-least-once delivery) is there once. */
	add("c", 3000);
	ck_assert_str_eq(ids(), "a b c d");
	/* Same time: ordered by id, as the database sorts. */
	add("c2", 3000);
	ck_assert_str_eq(ids(), "a b c c2 d");
}
END_TEST

START_TEST(newest_ten_kept)
{
	char id[8];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(id, sizeof id, "e%02d", i);
		add(id, 1000 * (i + 1));
	}
	ck_assert_str_eq(ids(), "e02 e03 e04 e05 e06 e07 e08 e09 e10 e11");
	/* One late but in the middle lands in its place... */
	add("m", 9500);
	ck_assert_str_eq(ids(), "e03 e04 e05 e06 e07 e08 m e09 e10 e11");
	/* ...and one older than all ten changes nothing. */
	add("old", 500);
	ck_assert_str_eq(ids(), "e03 e04 e05 e06 e07 e08 m e09 e10 e11");
}
END_TEST

/* Two files of one size written within a second: nginx would give both
 * one ETag unless the second one's mtime moved on. */
START_TEST(every_version_dated_later)
{
	struct stat a, b;
	int i;

	add("evt_a", 1000);
	for (i = 0; i < 5; i++) {
		char id[8];

		ck_assert_int_eq(stat(path, &a), 0);
		/* Same length of id, same length of file. */
		snprintf(id, sizeof id, "evt_%d", i);
		add(id, 2000 + i);
		ck_assert_int_eq(stat(path, &b), 0);
		ck_assert_msg(b.st_mtim.tv_sec > a.st_mtim.tv_sec,
		    "version %d dated %lld, the one before %lld", i,
		    (long long)b.st_mtim.tv_sec, (long long)a.st_mtim.tv_sec);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("latestfile");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, in_order_whatever_the_arrival);
	tcase_add_test(tc, newest_ten_kept);
	tcase_add_test(tc, every_version_dated_later);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
