/*
 * test-atomicfile.c - svc_write_atomic: the file replaced whole with the
 * mode asked for whatever the umask, nothing left beside it, and a failure
 * said with the file's name.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"
#include "unit.h"

static char dir[] = "/tmp/test-atomicfile-XXXXXX";
static char path[256];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/latest.json", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/test-atomicfile-XXXXXX");
}

/* The file's text (at most 255 bytes). */
static const char *
text(void)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* How many entries the directory holds, . and .. aside. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

START_TEST(replaces_whole_with_its_mode)
{
	bson_error_t error;
	struct stat st;
	mode_t old = umask(077);

	ck_assert_msg(svc_write_atomic(path, "[1]", 3, 0644, &error), "%s",
	    error.message);
	ck_assert_str_eq(text(), "[1]");
	ck_assert_msg(svc_write_atomic(path, "[1,2]", 5, 0644, &error), "%s",
	    error.message);
	umask(old);
	ck_assert_str_eq(text(), "[1,2]");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(failure_says_the_file)
{
	bson_error_t error;
	char missing[300];

	snprintf(missing, sizeof missing, "%s/no/such.json", dir);
	ck_assert(!svc_write_atomic(missing, "x", 1, 0644, &error));
	ck_assert_ptr_nonnull(strstr(error.message, missing));
	ck_assert_int_eq(entries(), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("atomicfile");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, replaces_whole_with_its_mode);
	tcase_add_test(tc, failure_says_the_file);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
