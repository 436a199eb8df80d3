/*
 * fuzz-webhook.c - Standard Webhooks signatures (webhook.c): the secrets
 * as configured, and the three headers and body of a received event.
 *
 * Input: lines secrets, webhook-id, webhook-timestamp, webhook-signature,
 * then the body (the rest, any bytes). Properties: nothing crashes; the
 * answer is one of the documented codes and accepts only a timestamp
 * within the window; what vd_webhook_sign signs, vd_webhook_verify
 * accepts, and refuses once the body or the id is changed.
 */
#include <stdio.h>
#include <string.h>

#include "vd-private.h"
#include "fuzz.h"

#define NOW 1795000000
#define TOLERANCE 300

/* Signs body as event id with secrets now, and checks that exactly the
 * signed event passes. */
static void
sign_and_verify(const char *secrets, const char *id, const char *body,
    size_t len)
{
	char *sig = NULL, *other, stamp[32];
	vd_code_t rc;

	if (*id == '\0' || vd_webhook_sign(secrets, id, NOW, body, len, &sig,
	    NULL) != VD_OK)
		return;
	FUZZ_ASSERT(sig != NULL);
	snprintf(stamp, sizeof stamp, "%d", NOW);
	rc = vd_webhook_verify(secrets, id, stamp, sig, body, len, NOW,
	    TOLERANCE, NULL);
	FUZZ_ASSERT(rc == VD_OK);
	if (len > 0) {
		if ((other = malloc(len)) == NULL)
			abort();
		memcpy(other, body, len);
		other[len - 1] ^= 1;
		rc = vd_webhook_verify(secrets, id, stamp, sig, other, len,
		    NOW, TOLERANCE, NULL);
		FUZZ_ASSERT(rc == VD_ESIGNATURE);
		free(other);
	}
	if ((other = malloc(strlen(id) + 2)) == NULL)
		abort();
	sprintf(other, "%sx", id);
	rc = vd_webhook_verify(secrets, other, stamp, sig, body, len, NOW,
	    TOLERANCE, NULL);
	FUZZ_ASSERT(rc == VD_ESIGNATURE);
	free(other);
	vd_free(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields ff;
	vd_secrets_t keys;
	vd_error_t err;
	vd_code_t rc;
	long long ts;

	fuzz_split(&ff, data, size, 5);
	rc = vd_secrets_parse(ff.f[0], &keys, NULL);
	FUZZ_ASSERT(rc == VD_OK || rc == VD_EINVAL);
	FUZZ_ASSERT(rc != VD_OK || (keys.n > 0 && keys.n <= VD_MAX_SECRETS));

	memset(&err, 0, sizeof err);
	rc = vd_webhook_verify(ff.f[0], ff.f[1], ff.f[2], ff.f[3], ff.f[4],
	    ff.len[4], NOW, TOLERANCE, &err);
	FUZZ_ASSERT(rc == VD_OK || rc == VD_ESTALE || rc == VD_ESIGNATURE ||
	    rc == VD_EINVAL);
	FUZZ_ASSERT(rc == err.code && (rc == VD_OK) == (*err.message == '\0'));
	if (rc == VD_OK) {
		ts = atoll(ff.f[2]);
		FUZZ_ASSERT(ts >= NOW - TOLERANCE && ts <= NOW + TOLERANCE);
		FUZZ_ASSERT(*ff.f[1] != '\0');
	}
	FUZZ_ASSERT(vd_webhook_verify(ff.f[0], NULL, NULL, NULL, ff.f[4],
	    ff.len[4], NOW, TOLERANCE, NULL) != VD_OK);

	sign_and_verify(ff.f[0], ff.f[1], ff.f[4], ff.len[4]);
	fuzz_free(&ff);
	return 0;
}
