/*
 * test-sender.c - vd_sender_cancel: the POSTs of one userdata are dropped
 * and reported at once, the others are left alone. The POSTs stay queued
 * (the sender is never polled), so nothing goes on the network.
 */
#include <stdlib.h>
#include <string.h>

#include "vdispatch.h"
#include "unit.h"

struct seen {
	int calls;
	vd_code_t code;
	char url[128];
};

static void
done(const vd_delivery_t *d, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->code = d->code;
	strncpy(s->url, d->url, sizeof s->url - 1);
}

static void
post(vd_sender_t *sender, const char *url, struct seen *s)
{
	ck_assert_int_eq(vd_sender_post(sender, url, "evt_1", "{}", 2, done,
	    s, NULL), VD_OK);
}

START_TEST(cancel_one_userdata)
{
	vd_sender_t *sender = vd_sender_new(NULL);
	struct seen a = { 0 }, b = { 0 };

	ck_assert_ptr_nonnull(sender);
	post(sender, "http://127.0.0.1:9/a1", &a);
	post(sender, "http://127.0.0.1:9/b", &b);
	post(sender, "http://127.0.0.1:9/a2", &a);
	ck_assert_uint_eq(vd_sender_pending(sender), 3);
	ck_assert_uint_eq(vd_sender_cancel(sender, &a), 2);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_eq(a.code, VD_ECANCELED);
	ck_assert_str_eq(a.url, "http://127.0.0.1:9/a2");
	ck_assert_int_eq(b.calls, 0);
	ck_assert_uint_eq(vd_sender_pending(sender), 1);
	/* Nothing left of it: a second cancel finds nothing. */
	ck_assert_uint_eq(vd_sender_cancel(sender, &a), 0);
	ck_assert_uint_eq(vd_sender_cancel(NULL, &a), 0);
	ck_assert_str_eq(vd_strerror(VD_ECANCELED), "canceled");
	vd_sender_destroy(sender);
	/* Dropped unreported by destroy, as before. */
	ck_assert_int_eq(b.calls, 0);
}
END_TEST

static Suite *
sender_suite(void)
{
	Suite *s = suite_create("sender");
	TCase *tc = tcase_create("cancel");

	tcase_add_test(tc, cancel_one_userdata);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(sender_suite());
}
