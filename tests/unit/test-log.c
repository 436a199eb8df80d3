/*
 * test-log.c - the responders' log lines: an unknown level refused, the
 * journal's priorities when stderr is the journal, the file opened again
 * on SIGHUP and SIGUSR2 after a rotation. Each test runs in a process of
 * its own (Check forks), so changing its stderr is harmless.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"
#include "unit.h"

static char dir[] = "/tmp/test-log-XXXXXX";
static char path[256], rotated[256];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/svc.log", dir);
	snprintf(rotated, sizeof rotated, "%s/svc.log.1", dir);
}

static void
teardown(void)
{
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

/* The whole file at p ("" when there is none). */
static char *
slurp(const char *p)
{
	static char buf[4096];
	FILE *f = fopen(p, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

START_TEST(unknown_level_refused)
{
	bson_error_t error;

	unsetenv("VD_LOG_LEVEL");
	ck_assert(svc_log_init("t", "1.0.0", "warn", &error));
	ck_assert(svc_log_init("t", "1.0.0", "ERROR", &error));
	ck_assert(svc_log_init("t", "1.0.0", NULL, &error));
	/* The caller is told why, to say it where it logs. */
	ck_assert(!svc_log_init("t", "1.0.0", "loud", &error));
	ck_assert_str_eq(error.message, "unknown log level 'loud' (debug, "
	    "info, warn or error)");
	ck_assert(!svc_log_init("t", "1.0.0", "", &error));
	setenv("VD_LOG_LEVEL", "verbose", 1);
	ck_assert(!svc_log_init("t", "1.0.0", NULL, &error));
	ck_assert_str_eq(error.message, "unknown log level 'verbose' "
	    "(debug, info, warn or error)");
	setenv("VD_LOG_LEVEL", "debug", 1);
	ck_assert(svc_log_init("t", "1.0.0", NULL, &error));
}
END_TEST

START_TEST(journal_gets_priorities)
{
	struct stat st;
	char env[64];
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	ck_assert(svc_log_init("t", "1.0.0", "debug", NULL));
	svc_log(SVC_DEBUG, "d");
	svc_log(SVC_INFO, "i");
	svc_log(SVC_WARN, "w");
	svc_log(SVC_ERROR, "e");
	ck_assert_ptr_nonnull(strstr(slurp(path), "<7>t@1.0.0"));
	ck_assert_ptr_nonnull(strstr(slurp(path), " debug d\n<6>t@1.0.0"));
	ck_assert_ptr_nonnull(strstr(slurp(path), " info i\n<4>t@1.0.0"));
	ck_assert_ptr_nonnull(strstr(slurp(path), " warn w\n<3>t@1.0.0"));
	ck_assert_ptr_nonnull(strstr(slurp(path), " error e\n"));
}
END_TEST

START_TEST(another_stream_gets_times)
{
	setenv("JOURNAL_STREAM", "1:1", 1);
	ck_assert(svc_log_open(path));
	ck_assert(svc_log_init("t", "1.0.0", NULL, NULL));
	svc_log(SVC_INFO, "hello");
	ck_assert_ptr_null(strstr(slurp(path), "<6>"));
	ck_assert_ptr_nonnull(strstr(slurp(path), "Z t@1.0.0["));
}
END_TEST

static void
reopened_on(int sig)
{
	ck_assert(svc_log_init("t", "1.0.0", NULL, NULL));
	ck_assert(svc_log_open(path));
	svc_log(SVC_INFO, "before");
	ck_assert_int_eq(rename(path, rotated), 0);
	svc_log(SVC_INFO, "still the old file");
	ck_assert_int_eq(raise(sig), 0);
	svc_log(SVC_INFO, "after");
	ck_assert_ptr_nonnull(strstr(slurp(rotated), "before"));
	ck_assert_ptr_nonnull(strstr(slurp(rotated), "still the old file"));
	ck_assert_ptr_null(strstr(slurp(rotated), "after"));
	ck_assert_ptr_nonnull(strstr(slurp(path), " info after\n"));
	ck_assert_ptr_null(strstr(slurp(path), "before"));
}

START_TEST(reopened_on_sigusr2)
{
	reopened_on(SIGUSR2);
}
END_TEST

START_TEST(reopened_on_sighup)
{
	reopened_on(SIGHUP);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_level_refused);
	tcase_add_test(tc, journal_gets_priorities);
	tcase_add_test(tc, another_stream_gets_times);
	tcase_add_test(tc, reopened_on_sigusr2);
	tcase_add_test(tc, reopened_on_sighup);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
