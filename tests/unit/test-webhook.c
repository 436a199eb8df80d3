/*
 * test-webhook.c - event signatures: the Standard Webhooks test vector,
 * rotation with two secrets, and every way a verification must fail.
 */
#include <stdlib.h>
#include <string.h>

#include "vdispatch.h"
#include "unit.h"

/* The example of the Standard Webhooks specification. */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define OTHER "whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXJvdGF0aW9u"
#define ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS 1614265330
#define BODY "{\"test\": 2432232314}"
#define EXPECTED "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static vd_code_t
verify(const char *secrets, const char *id, const char *ts, const char *sig,
    const char *body, int64_t now)
{
	vd_error_t err;

	return vd_webhook_verify(secrets, id, ts, sig, body, strlen(body), now,
	    300, &err);
}

START_TEST(spec_vector)
{
	char *sig = NULL;

	ck_assert_int_eq(vd_webhook_sign(SECRET, ID, TS, BODY, strlen(BODY),
	    &sig, NULL), VD_OK);
	ck_assert_str_eq(sig, EXPECTED);
	vd_free(sig);
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", EXPECTED, BODY, TS),
	    VD_OK);
}
END_TEST

START_TEST(rotation)
{
	char *both = NULL;
	vd_error_t err;

	/* The sender signs with the old and the new secret... */
	ck_assert_int_eq(vd_webhook_sign(SECRET ", " OTHER, ID, TS, BODY,
	    strlen(BODY), &both, &err), VD_OK);
	ck_assert_ptr_nonnull(strchr(both, ' '));
	ck_assert(strncmp(both, EXPECTED " v1,", strlen(EXPECTED) + 4) == 0);
	/* ...so receivers on either secret, or on both, accept. */
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", both, BODY, TS),
	    VD_OK);
	ck_assert_int_eq(verify(OTHER, ID, "1614265330", both, BODY, TS),
	    VD_OK);
	ck_assert_int_eq(verify(OTHER "," SECRET, ID, "1614265330", EXPECTED,
	    BODY, TS), VD_OK);
	/* A receiver with only the new secret refuses the old signature. */
	ck_assert_int_eq(verify(OTHER, ID, "1614265330", EXPECTED, BODY, TS),
	    VD_ESIGNATURE);
	vd_free(both);
}
END_TEST

START_TEST(tampering_refused)
{
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", EXPECTED,
	    "{\"test\": 2432232315}", TS), VD_ESIGNATURE);
	ck_assert_int_eq(verify(SECRET, "msg_other", "1614265330", EXPECTED,
	    BODY, TS), VD_ESIGNATURE);
	ck_assert_int_eq(verify(SECRET, ID, "1614265331", EXPECTED, BODY, TS),
	    VD_ESIGNATURE);
	ck_assert_int_eq(verify(SECRET, ID, "1614265330",
	    "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, TS),
	    VD_ESIGNATURE);
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", "v1,short", BODY,
	    TS), VD_ESIGNATURE);
}
END_TEST

START_TEST(stale_and_missing)
{
	vd_error_t err;

	ck_assert_int_eq(verify(SECRET, ID, "1614265330", EXPECTED, BODY,
	    TS + 301), VD_ESTALE);
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", EXPECTED, BODY,
	    TS - 301), VD_ESTALE);
	ck_assert_int_eq(verify(SECRET, ID, "1614265330", EXPECTED, BODY,
	    TS + 300), VD_OK);
	ck_assert_int_eq(vd_webhook_verify(SECRET, NULL, "1", EXPECTED, BODY,
	    strlen(BODY), TS, 300, &err), VD_ESIGNATURE);
	ck_assert_ptr_nonnull(strstr(err.message, "webhook-id"));
	ck_assert_int_eq(vd_webhook_verify(SECRET, ID, NULL, EXPECTED, BODY,
	    strlen(BODY), TS, 300, &err), VD_ESIGNATURE);
	ck_assert_ptr_nonnull(strstr(err.message, "webhook-timestamp"));
	ck_assert_int_eq(vd_webhook_verify(SECRET, ID, "1614265330", "", BODY,
	    strlen(BODY), TS, 300, &err), VD_ESIGNATURE);
	ck_assert_ptr_nonnull(strstr(err.message, "webhook-signature"));
	ck_assert_int_eq(verify(SECRET, ID, "16142x5330", EXPECTED, BODY, TS),
	    VD_ESIGNATURE);
}
END_TEST

START_TEST(malformed_secrets)
{
	char *sig = (char *)"x";

	ck_assert_int_eq(vd_webhook_sign("whsec_!!!", ID, TS, BODY,
	    strlen(BODY), &sig, NULL), VD_EINVAL);
	ck_assert_ptr_null(sig);
	ck_assert_int_eq(vd_webhook_sign("", ID, TS, BODY, strlen(BODY), &sig,
	    NULL), VD_EINVAL);
	ck_assert_int_eq(verify("whsec_abc", ID, "1614265330", EXPECTED, BODY,
	    TS), VD_EINVAL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, spec_vector);
	tcase_add_test(tc, rotation);
	tcase_add_test(tc, tampering_refused);
	tcase_add_test(tc, stale_and_missing);
	tcase_add_test(tc, malformed_secrets);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
