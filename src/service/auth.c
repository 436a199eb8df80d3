/*
 * auth.c - bearer tokens (JWT, RFC 7519) checked before a route's handler
 * runs: the signature (HS256 with the shared secret, RS256 and ES256 with
 * the public keys of a JWKS file), the times (exp required, nbf), the
 * issuer and audience when configured, and the role the route needs in
 * the token's "roles" claim.
 *
 * Pure: keys come in as bytes, the time as an argument; reading files and
 * the environment is authconfig.c's. Each algorithm is tied to its kind of
 * key, so a token can never pick how it is checked: HS256 is checked with
 * the secret only (never with a public key's bytes), RS256 with RSA keys
 * only, ES256 with P-256 keys only; "none" and every other alg are
 * refused. The cryptography and base64 are OpenSSL's, the JSON cJSON's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include "service.h"

#define KEYS_MAX 16

struct auth_key {
	char kid[128];
	enum { KEY_RSA, KEY_EC } type;
	EVP_PKEY *pkey;
};

struct svc_auth {
	bool insecure;
	bool protect_reads;
	int leeway;
	unsigned char *secret;
	size_t secret_len;
	char *issuer;
	char *audience;
	struct auth_key keys[KEYS_MAX];
	size_t n_keys;
};

/* Decodes base64url without padding (RFC 7515, section 2) into a new
 * NUL-terminated buffer; NULL for any other character, padding, or a
 * length no encoding has. EVP_DecodeBlock knows only the standard
 * alphabet with padding, so the text is translated first and the padding
 * bytes it decodes are taken off. */
unsigned char *
svc_base64url_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *std, *out;
	size_t i, pad, n;
	int got;

	if (len % 4 == 1 || len > 64 * 1024)
		return NULL;
	pad = (4 - len % 4) % 4;
	std = bson_malloc(len + pad + 1);
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))) {
			bson_free(std);
			return NULL;
		}
		std[i] = (unsigned char)c;
	}
	memset(std + len, '=', pad);
	n = len + pad;
	out = bson_malloc(n / 4 * 3 + 1);
	got = n == 0 ? 0 : EVP_DecodeBlock(out, std, (int)n);
	bson_free(std);
	if (got < 0 || (size_t)got < pad) {
		bson_free(out);
		return NULL;
	}
	*out_len = (size_t)got - pad;
	out[*out_len] = '\0';
	return out;
}

/* A JWKS member decoded into a BIGNUM; NULL when missing or bad. */
static BIGNUM *
member_bn(const cJSON *jwk, const char *name, size_t want)
{
	const char *s = svc_json_str(jwk, name);
	unsigned char *raw;
	size_t len;
	BIGNUM *bn;

	if (*s == '\0' || (raw = svc_base64url_decode(s, strlen(s), &len)) ==
	    NULL)
		return NULL;
	bn = (want == 0 || len == want) ? BN_bin2bn(raw, (int)len, NULL) : NULL;
	bson_free(raw);
	return bn;
}

static EVP_PKEY *
rsa_key(const cJSON *jwk, bson_error_t *error)
{
	BIGNUM *n = member_bn(jwk, "n", 0), *e = member_bn(jwk, "e", 0);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (n == NULL || e == NULL)
		bson_set_error(error, 0, 0, "an RSA key needs n and e");
	else if (BN_num_bits(n) < 2048)
		bson_set_error(error, 0, 0, "an RSA key of %d bits (2048 at least)",
		    BN_num_bits(n));
	else if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		bson_set_error(error, 0, 0, "an RSA key OpenSSL does not take");
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static EVP_PKEY *
ec_key(const cJSON *jwk, bson_error_t *error)
{
	const char *x = svc_json_str(jwk, "x"), *y = svc_json_str(jwk, "y");
	unsigned char point[65], *rx = NULL, *ry = NULL;
	size_t lx = 0, ly = 0;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (strcmp(svc_json_str(jwk, "crv"), "P-256") != 0) {
		bson_set_error(error, 0, 0, "an EC key on a curve other than P-256");
		return NULL;
	}
	rx = svc_base64url_decode(x, strlen(x), &lx);
	ry = svc_base64url_decode(y, strlen(y), &ly);
	if (rx == NULL || ry == NULL || lx != 32 || ly != 32) {
		bson_set_error(error, 0, 0, "an EC key needs x and y of 32 bytes");
		goto out;
	}
	/* The uncompressed point, which OpenSSL checks is on the curve. */
	point[0] = 0x04;
	memcpy(point + 1, rx, 32);
	memcpy(point + 33, ry, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		bson_set_error(error, 0, 0, "an EC key that is not a P-256 point");
out:
	EVP_PKEY_CTX_free(ctx);
	bson_free(rx);
	bson_free(ry);
	return pkey;
}

/* Takes the signing keys of a JWKS document; false with error on a key that
 * is meant for signing and cannot be used (better to refuse to start than
 * to drop a key the operator counts on). */
static bool
load_jwks(struct svc_auth *a, const char *jwks, bson_error_t *error)
{
	cJSON *doc = cJSON_Parse(jwks), *jwk;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
	bool ok = true;

	if (!cJSON_IsArray(keys)) {
		bson_set_error(error, 0, 0, "the JWKS is not {\"keys\": [...]}");
		cJSON_Delete(doc);
		return false;
	}
	cJSON_ArrayForEach(jwk, keys) {
		const char *kty = svc_json_str(jwk, "kty");
		const char *alg = svc_json_str(jwk, "alg");
		const char *use = svc_json_str(jwk, "use");
		struct auth_key *k = &a->keys[a->n_keys];
		bson_error_t why = { 0 };

		if (*use != '\0' && strcmp(use, "sig") != 0)
			continue;
		if (a->n_keys == KEYS_MAX) {
			bson_set_error(error, 0, 0, "more than %d keys in the JWKS",
			    KEYS_MAX);
			ok = false;
			break;
		}
		if (strcmp(kty, "RSA") == 0 && (*alg == '\0' ||
		    strcmp(alg, "RS256") == 0)) {
			k->type = KEY_RSA;
			k->pkey = rsa_key(jwk, &why);
		} else if (strcmp(kty, "EC") == 0 && (*alg == '\0' ||
		    strcmp(alg, "ES256") == 0)) {
			k->type = KEY_EC;
			k->pkey = ec_key(jwk, &why);
		} else
			bson_set_error(&why, 0, 0, "a key of kty \"%.20s\" alg "
			    "\"%.20s\" (RSA for RS256 and EC P-256 for ES256 "
			    "only; HS256 takes the shared secret)", kty, alg);
		if (k->pkey == NULL) {
			bson_set_error(error, 0, 0, "JWKS key %zu: %s",
			    a->n_keys + 1, why.message);
			ok = false;
			break;
		}
		snprintf(k->kid, sizeof k->kid, "%s", svc_json_str(jwk, "kid"));
		a->n_keys++;
	}
	if (ok && a->n_keys == 0) {
		bson_set_error(error, 0, 0, "the JWKS has no signing key");
		ok = false;
	}
	cJSON_Delete(doc);
	return ok;
}

struct svc_auth *
svc_auth_new(const struct svc_auth_config *cfg, bson_error_t *error)
{
	struct svc_auth *a = bson_malloc0(sizeof *a);

	a->insecure = cfg->insecure;
	a->protect_reads = cfg->protect_reads;
	a->leeway = cfg->leeway;
	if (cfg->issuer != NULL && *cfg->issuer != '\0')
		a->issuer = bson_strdup(cfg->issuer);
	if (cfg->audience != NULL && *cfg->audience != '\0')
		a->audience = bson_strdup(cfg->audience);
	if (cfg->secret != NULL) {
		/* RFC 7518, 3.2: a key of at least the hash's size. */
		if (cfg->secret_len < 32) {
			bson_set_error(error, 0, 0, "the HS256 secret has %zu bytes "
			    "(32 at least)", cfg->secret_len);
			svc_auth_free(a);
			return NULL;
		}
		a->secret = bson_malloc(cfg->secret_len);
		memcpy(a->secret, cfg->secret, cfg->secret_len);
		a->secret_len = cfg->secret_len;
	}
	if (cfg->jwks != NULL && !load_jwks(a, cfg->jwks, error)) {
		svc_auth_free(a);
		return NULL;
	}
	if (!a->insecure && a->secret == NULL && a->n_keys == 0) {
		bson_set_error(error, 0, 0, "no key to check tokens with");
		svc_auth_free(a);
		return NULL;
	}
	return a;
}

void
svc_auth_free(struct svc_auth *a)
{
	size_t i;

	if (a == NULL)
		return;
	if (a->secret != NULL)
		OPENSSL_cleanse(a->secret, a->secret_len);
	bson_free(a->secret);
	bson_free(a->issuer);
	bson_free(a->audience);
	for (i = 0; i < a->n_keys; i++)
		EVP_PKEY_free(a->keys[i].pkey);
	bson_free(a);
}

bool
svc_auth_insecure(const struct svc_auth *a)
{
	return a != NULL && a->insecure;
}

static bool
hs256_ok(const struct svc_auth *a, const char *input, size_t len,
    const unsigned char *sig, size_t sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (a->secret == NULL || HMAC(EVP_sha256(), a->secret,
	    (int)a->secret_len, (const unsigned char *)input, len, mac,
	    &mac_len) == NULL)
		return false;
	return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

/* sig as DER, for EVP_DigestVerify (ES256 sends r and s as 32 bytes each,
 * RFC 7518 3.4). */
static bool
pkey_ok(EVP_PKEY *pkey, bool ec, const char *input, size_t len,
    const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int der_len = 0, rc = 0;

	if (ec) {
		ECDSA_SIG *es;
		BIGNUM *r, *s;

		if (sig_len != 64) {
			EVP_MD_CTX_free(md);
			return false;
		}
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		s = BN_bin2bn(sig + 32, 32, NULL);
		if (es == NULL || r == NULL || s == NULL ||
		    !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
		} else
			der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (der_len <= 0) {
			EVP_MD_CTX_free(md);
			return false;
		}
		sig = der;
		sig_len = (size_t)der_len;
	}
	if (md != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
		rc = EVP_DigestVerify(md, sig, sig_len,
		    (const unsigned char *)input, len);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return rc == 1;
}

/* Whether the signature is one of a key the alg may use. */
static bool
signature_ok(const struct svc_auth *a, const char *alg, const char *kid,
    const char *input, size_t len, const unsigned char *sig, size_t sig_len,
    bson_error_t *error)
{
	bool ec;
	size_t i;

	if (strcmp(alg, "HS256") == 0) {
		if (a->secret == NULL) {
			bson_set_error(error, 0, 401, "HS256 is not accepted here");
			return false;
		}
		if (hs256_ok(a, input, len, sig, sig_len))
			return true;
		bson_set_error(error, 0, 401, "invalid signature");
		return false;
	}
	if (strcmp(alg, "RS256") == 0)
		ec = false;
	else if (strcmp(alg, "ES256") == 0)
		ec = true;
	else {
		bson_set_error(error, 0, 401, "alg %.20s is not accepted", alg);
		return false;
	}
	for (i = 0; i < a->n_keys; i++) {
		if ((a->keys[i].type == KEY_EC) != ec ||
		    (*kid != '\0' && strcmp(kid, a->keys[i].kid) != 0))
			continue;
		if (pkey_ok(a->keys[i].pkey, ec, input, len, sig, sig_len))
			return true;
	}
	bson_set_error(error, 0, 401, "invalid signature");
	return false;
}

/* The claims: times, issuer, audience (a string or an array). */
static bool
claims_ok(const struct svc_auth *a, const cJSON *claims, int64_t now,
    bson_error_t *error)
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
	const cJSON *item;
	bool found = false;

	if (!cJSON_IsNumber(exp)) {
		bson_set_error(error, 0, 401, "the token has no exp");
		return false;
	}
	if ((double)now > exp->valuedouble + a->leeway) {
		bson_set_error(error, 0, 401, "token expired");
		return false;
	}
	if (nbf != NULL && (!cJSON_IsNumber(nbf) ||
	    (double)now + a->leeway < nbf->valuedouble)) {
		bson_set_error(error, 0, 401, "token not yet valid");
		return false;
	}
	if (a->issuer != NULL &&
	    strcmp(svc_json_str(claims, "iss"), a->issuer) != 0) {
		bson_set_error(error, 0, 401, "wrong issuer");
		return false;
	}
	if (a->audience == NULL)
		return true;
	if (cJSON_IsString(aud))
		found = strcmp(aud->valuestring, a->audience) == 0;
	else if (cJSON_IsArray(aud))
		cJSON_ArrayForEach(item, aud)
			if (cJSON_IsString(item) &&
			    strcmp(item->valuestring, a->audience) == 0)
				found = true;
	if (!found)
		bson_set_error(error, 0, 401, "wrong audience");
	return found;
}

static bool
has_role(const cJSON *claims, const char *role)
{
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(claims, "roles");
	const cJSON *item;

	if (!cJSON_IsArray(roles))
		return false;
	cJSON_ArrayForEach(item, roles)
		if (cJSON_IsString(item) && strcmp(item->valuestring, role) == 0)
			return true;
	return false;
}

/* A JSON object decoded from one base64url part of the token. */
static cJSON *
part_json(const char *s, size_t len)
{
	unsigned char *raw;
	size_t n;
	cJSON *json;

	if ((raw = svc_base64url_decode(s, len, &n)) == NULL)
		return NULL;
	/* Whole and NUL-free: cJSON would stop at an inner NUL. */
	json = memchr(raw, '\0', n) == NULL ?
	    cJSON_ParseWithOpts((const char *)raw, NULL, true) : NULL;
	bson_free(raw);
	if (json != NULL && !cJSON_IsObject(json)) {
		cJSON_Delete(json);
		json = NULL;
	}
	return json;
}

bool
svc_auth_check(const struct svc_auth *a, const char *token,
    const char *role, int64_t now, bson_error_t *error)
{
	const char *dot1, *dot2;
	cJSON *header = NULL, *claims = NULL;
	const cJSON *crit;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	bool ok = false;

	if (token == NULL || *token == '\0') {
		bson_set_error(error, 0, 401, "a bearer token is needed");
		return false;
	}
	if (strlen(token) > 8192 || (dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL) {
		bson_set_error(error, 0, 401, "malformed token");
		return false;
	}
	if ((header = part_json(token, (size_t)(dot1 - token))) == NULL ||
	    (claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) ==
	    NULL ||
	    (sig = svc_base64url_decode(dot2 + 1, strlen(dot2 + 1),
	    &sig_len)) == NULL) {
		bson_set_error(error, 0, 401, "malformed token");
		goto out;
	}
	/* RFC 7515 4.1.11: extensions we do not know must not be ignored. */
	crit = cJSON_GetObjectItemCaseSensitive(header, "crit");
	if (crit != NULL) {
		bson_set_error(error, 0, 401, "unsupported crit header");
		goto out;
	}
	if (!signature_ok(a, svc_json_str(header, "alg"),
	    svc_json_str(header, "kid"), token, (size_t)(dot2 - token), sig,
	    sig_len, error) ||
	    !claims_ok(a, claims, now, error))
		goto out;
	if (role != NULL && !has_role(claims, role)) {
		bson_set_error(error, 0, 403,
		    "the token does not hold the role %s", role);
		goto out;
	}
	ok = true;
out:
	cJSON_Delete(header);
	cJSON_Delete(claims);
	bson_free(sig);
	return ok;
}

bool
svc_auth_required(const struct svc_auth *a, const char *role)
{
	if (role == NULL)
		return false;
	if (strcmp(role, SVC_ROLE_READ) == 0)
		return a == NULL || a->protect_reads;
	return true;
}

bool
svc_auth_request(const struct svc_auth *a, const struct svc_request *req,
    const char *role, struct svc_response *resp)
{
	const char *h, *token = "";
	bson_error_t why;

	if (!svc_auth_required(a, role) || svc_auth_insecure(a))
		return true;
	if (a == NULL) {
		svc_response_error(resp, 401, "unauthorized",
		    "authentication is not configured");
		svc_response_header(resp, "WWW-Authenticate", "Bearer");
		return false;
	}
	h = svc_request_param(req, "HTTP_AUTHORIZATION");
	/* The scheme is case-insensitive (RFC 9110 11.1); one space. */
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0)
		token = h + 7;
	else if (h != NULL) {
		svc_response_error(resp, 401, "unauthorized",
		    "the Authorization header is not a bearer token");
		svc_response_header(resp, "WWW-Authenticate",
		    "Bearer error=\"invalid_request\"");
		return false;
	}
	if (svc_auth_check(a, token, role, svc_now_ms() / 1000, &why))
		return true;
	if (why.code == 403) {
		svc_response_error(resp, 403, "forbidden", "%s", why.message);
		svc_response_header(resp, "WWW-Authenticate",
		    "Bearer error=\"insufficient_scope\", scope=\"%s\"", role);
		return false;
	}
	svc_response_error(resp, 401, "unauthorized", "%s", why.message);
	if (*token == '\0')
		svc_response_header(resp, "WWW-Authenticate", "Bearer");
	else
		svc_response_header(resp, "WWW-Authenticate",
		    "Bearer error=\"invalid_token\"");
	return false;
}
