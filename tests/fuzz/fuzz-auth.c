/*
 * fuzz-auth.c - bearer token checks (auth.c), with an HS256 secret.
 *
 * Input: a role line, then either a token ("T" and the token's text) or
 * claims ("C" and a JSON document) that the harness signs with the secret
 * under a header of its own. Properties: nothing crashes; the answer is
 * 200, 401 or 403; a token passes only when its claims are good at the
 * check's time (exp after it, nbf not after it, within the leeway) and,
 * for a role, its roles claim holds the role; a token signed with another
 * secret never passes.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "service.h"
#include "fuzz.h"

#define NOW 1795000000
#define LEEWAY 60

static const unsigned char secret[32] = "fuzz-auth secret of 32 bytes!!!";
static const unsigned char other[32] = "another secret, also 32 bytes!!";

/* base64url without padding of len bytes, into out (4 * len / 3 + 4). */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len), i;

	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
}

/* header.payload.signature of claims, HS256 with key; free(). */
static char *
sign(const char *claims, size_t len, const unsigned char *key)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t cap = (sizeof header + len) * 2 + 128, n;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	b64url((const unsigned char *)header, sizeof header - 1, out);
	n = strlen(out);
	out[n++] = '.';
	b64url((const unsigned char *)claims, len, out + n);
	n = strlen(out);
	HMAC(EVP_sha256(), key, 32, (unsigned char *)out, n, mac, &maclen);
	out[n++] = '.';
	b64url(mac, maclen, out + n);
	return out;
}

static bool
has_role(const cJSON *claims, const char *role)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(claims,
	    "roles"))
		if (cJSON_IsString(r) && strcmp(r->valuestring, role) == 0)
			return true;
	return false;
}

/* What a passing token's claims must hold. */
static void
check_passed(const char *claims_text, const char *role)
{
	cJSON *claims = cJSON_Parse(claims_text);
	const cJSON *exp, *nbf;

	FUZZ_ASSERT(cJSON_IsObject(claims));
	exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	FUZZ_ASSERT(cJSON_IsNumber(exp) && exp->valuedouble > NOW - LEEWAY);
	FUZZ_ASSERT(nbf == NULL ||
	    (cJSON_IsNumber(nbf) && nbf->valuedouble <= NOW + LEEWAY));
	FUZZ_ASSERT(*role == '\0' || has_role(claims, role));
	cJSON_Delete(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The status svc_auth_check's answer means: 200, or its error's code. */
static int
status(const struct svc_auth *auth, const char *token, const char *role,
    bson_error_t *why)
{
	memset(why, 0, sizeof *why);
	if (svc_auth_check(auth, token, role, NOW, why))
		return 200;
	FUZZ_ASSERT(why->message[0] != '\0');
	return (int)why->code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct svc_auth *auth;
	struct fuzz_fields ff;
	const char *role, *body;
	bson_error_t why;
	char *token;
	int code;

	if (auth == NULL) {
		struct svc_auth_config cfg = { .secret = secret,
		    .secret_len = sizeof secret, .leeway = LEEWAY };

		if ((auth = svc_auth_new(&cfg, &why)) == NULL)
			abort();
	}
	fuzz_split(&ff, data, size, 2);
	role = ff.f[0];
	body = ff.f[1];
	if (*body == 'C') {
		/* Claims, signed here: the check goes past the signature. */
		token = sign(body + 1, strlen(body + 1), secret);
		code = status(auth, token, *role ? role : NULL, &why);
		FUZZ_ASSERT(code == 200 || code == 401 || code == 403);
		if (code == 200)
			check_passed(body + 1, role);
		free(token);
		token = sign(body + 1, strlen(body + 1), other);
		code = status(auth, token, *role ? role : NULL, &why);
		FUZZ_ASSERT(code == 401);
		free(token);
	} else {
		code = status(auth, body, *role ? role : NULL, &why);
		FUZZ_ASSERT(code == 200 || code == 401 || code == 403);
	}
	FUZZ_ASSERT(strlen(why.message) < sizeof why.message);
	fuzz_free(&ff);
	return 0;
}
