/*
 * webhook.c - event signatures as Standard Webhooks define them:
 * HMAC-SHA256 over "id.timestamp.body" with each configured secret,
 * sent as "v1,<base64>" values in webhook-signature.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "vd-private.h"

#define MAX_KEY 256
#define SIG_LEN 32      /* SHA-256 */

/* Decodes base64 text of len bytes into out (at least len bytes); returns
 * the decoded length or -1. EVP_DecodeBlock counts padding as zero bytes,
 * so the '=' are taken off here. */
static int
b64_decode(const char *text, size_t len, unsigned char *out)
{
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len > INT32_MAX)
		return -1;
	if (text[len - 1] == '=')
		pad++;
	if (len > 1 && text[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)text,
	    (int)len)) < 0)
		return -1;
	return n - pad;
}

vd_code_t
vd_secrets_parse(const char *text, vd_secrets_t *secrets, vd_error_t *error)
{
	const char *p = text;

	memset(secrets, 0, sizeof *secrets);
	while (text != NULL && *p != '\0') {
		unsigned char buf[MAX_KEY * 2];
		size_t len;
		int n;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t\r\n");
		/* The prefix says what it is; a bare key is taken as well. */
		if (len > 6 && strncmp(p, "whsec_", 6) == 0) {
			p += 6;
			len -= 6;
		}
		if (secrets->n == VD_MAX_SECRETS)
			return vd_error_set(error, VD_EINVAL, 0,
			    "more than %d secrets", VD_MAX_SECRETS);
		if (len > sizeof buf || (n = b64_decode(p, len, buf)) <= 0 ||
		    n > MAX_KEY)
			return vd_error_set(error, VD_EINVAL, 0,
			    "secret %zu is not \"whsec_\" and base64",
			    secrets->n + 1);
		memcpy(secrets->key[secrets->n], buf, (size_t)n);
		secrets->len[secrets->n++] = (size_t)n;
		p += len;
	}
	if (secrets->n == 0)
		return vd_error_set(error, VD_EINVAL, 0, "no secret given");
	return VD_OK;
}

/* HMAC-SHA256 of "id.timestamp.body" with key i. */
static bool
mac(const vd_secrets_t *secrets, size_t i, const char *id, const char *ts,
    const char *body, size_t len, unsigned char out[SIG_LEN])
{
	size_t head = strlen(id) + strlen(ts) + 2;
	unsigned int outlen = 0;
	unsigned char *msg;
	bool ok;

	if ((msg = malloc(head + len + 1)) == NULL)
		return false;
	snprintf((char *)msg, head + 1, "%s.%s.", id, ts);
	if (len > 0)
		memcpy(msg + head, body, len);
	ok = HMAC(EVP_sha256(), secrets->key[i], (int)secrets->len[i], msg,
	    head + len, out, &outlen) != NULL && outlen == SIG_LEN;
	free(msg);
	return ok;
}

char *
vd_secrets_sign(const vd_secrets_t *secrets, const char *id, int64_t ts,
    const char *body, size_t len)
{
	char stamp[32], *out, *p;
	unsigned char sig[SIG_LEN];
	size_t i;

	snprintf(stamp, sizeof stamp, "%" PRId64, ts);
	/* "v1," + 44 base64 characters + a space, per secret. */
	if ((out = malloc(secrets->n * 48 + 1)) == NULL)
		return NULL;
	p = out;
	for (i = 0; i < secrets->n; i++) {
		if (!mac(secrets, i, id, stamp, body, len, sig)) {
			free(out);
			return NULL;
		}
		p += sprintf(p, "%sv1,", i > 0 ? " " : "");
		p += EVP_EncodeBlock((unsigned char *)p, sig, SIG_LEN);
	}
	*p = '\0';
	return out;
}

vd_code_t
vd_webhook_sign(const char *secrets, const char *id, int64_t timestamp,
    const char *body, size_t len, char **signature, vd_error_t *error)
{
	vd_secrets_t keys;
	vd_code_t rc;

	if (signature != NULL)
		*signature = NULL;
	if (signature == NULL || id == NULL || (body == NULL && len > 0))
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_webhook_sign: bad argument");
	if ((rc = vd_secrets_parse(secrets, &keys, error)) != VD_OK)
		return rc;
	*signature = vd_secrets_sign(&keys, id, timestamp, body, len);
	OPENSSL_cleanse(&keys, sizeof keys);
	if (*signature == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return VD_OK;
}

static bool
parse_ts(const char *text, int64_t *ts)
{
	char *end;
	long long v;

	if (text == NULL || !isdigit((unsigned char)*text))
		return false;
	v = strtoll(text, &end, 10);
	if (*end != '\0' || end - text > 12)
		return false;
	*ts = v;
	return true;
}

/* Whether any "v1,<base64>" of header equals want, in constant time for
 * each comparison. */
static bool
matches(const char *header, const unsigned char want[SIG_LEN])
{
	const char *p = header;
	bool found = false;

	while (*p != '\0') {
		unsigned char got[64];
		size_t len;

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len == 47 && strncmp(p, "v1,", 3) == 0 &&
		    b64_decode(p + 3, 44, got) == SIG_LEN &&
		    CRYPTO_memcmp(got, want, SIG_LEN) == 0)
			found = true;
		p += len;
	}
	return found;
}

vd_code_t
vd_webhook_verify(const char *secrets, const char *id, const char *timestamp,
    const char *signature, const char *body, size_t len, int64_t now,
    long tolerance_s, vd_error_t *error)
{
	unsigned char want[SIG_LEN];
	vd_secrets_t keys;
	int64_t ts;
	vd_code_t rc;
	size_t i;
	bool ok = false;

	if ((rc = vd_secrets_parse(secrets, &keys, error)) != VD_OK)
		return rc;
	if (id == NULL || *id == '\0')
		rc = vd_error_set(error, VD_ESIGNATURE, 0,
		    "missing webhook-id header");
	else if (timestamp == NULL || *timestamp == '\0')
		rc = vd_error_set(error, VD_ESIGNATURE, 0,
		    "missing webhook-timestamp header");
	else if (signature == NULL || *signature == '\0')
		rc = vd_error_set(error, VD_ESIGNATURE, 0,
		    "missing webhook-signature header");
	else if (!parse_ts(timestamp, &ts))
		rc = vd_error_set(error, VD_ESIGNATURE, 0,
		    "webhook-timestamp is not a number of seconds");
	else if (ts < now - tolerance_s || ts > now + tolerance_s)
		rc = vd_error_set(error, VD_ESTALE, 0,
		    "webhook-timestamp is %" PRId64 " s from now, over the "
		    "%ld s allowed", ts > now ? ts - now : now - ts,
		    tolerance_s);
	if (rc != VD_OK)
		goto out;
	for (i = 0; i < keys.n && !ok; i++)
		ok = mac(&keys, i, id, timestamp, body, len, want) &&
		    matches(signature, want);
	if (!ok)
		rc = vd_error_set(error, VD_ESIGNATURE, 0,
		    "no signature matches a secret of this receiver");
out:
	OPENSSL_cleanse(&keys, sizeof keys);
	OPENSSL_cleanse(want, sizeof want);
	return rc;
}
