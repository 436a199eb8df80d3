/*
 * test-auth.c - bearer tokens (auth.c): HS256, RS256 and ES256 tokens made
 * and signed here with OpenSSL, checked by the frame; expired, not yet
 * valid, bad signature, alg none, algorithm confusion, roles, issuer and
 * audience, malformed base64 and JSON; and the route table's 401 and 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "service.h"
#include "unit.h"

#define NOW 1800000000L
#define SECRET "0123456789abcdef0123456789abcdef-test-secret"

static EVP_PKEY *rsa, *rsa2, *ec;
static char jwks[8192];

/* base64url without padding, by OpenSSL's encoder. */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	char *p;

	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
}

static void
b64url_str(const char *s, char *out)
{
	b64url((const unsigned char *)s, strlen(s), out);
}

static void
bn_member(EVP_PKEY *pkey, const char *name, size_t pad, char *out)
{
	BIGNUM *bn = NULL;
	unsigned char buf[512];
	int n;

	ck_assert(EVP_PKEY_get_bn_param(pkey, name, &bn));
	n = pad > 0 ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	b64url(buf, (size_t)n, out);
	BN_free(bn);
}

/* Signs header.payload with alg; key is the secret for HS*. */
static char *
sign(const char *alg, const char *header_json, const char *payload_json,
    EVP_PKEY *pkey, const char *secret)
{
	char h[1024], p[2048], sig[1024], *token;
	unsigned char mac[512];
	size_t len = sizeof mac;
	unsigned int mlen;

	b64url_str(header_json, h);
	b64url_str(payload_json, p);
	token = malloc(strlen(h) + strlen(p) + sizeof sig + 3);
	sprintf(token, "%s.%s", h, p);
	if (strcmp(alg, "HS256") == 0) {
		HMAC(EVP_sha256(), secret, (int)strlen(secret),
		    (unsigned char *)token, strlen(token), mac, &mlen);
		len = mlen;
	} else if (strcmp(alg, "none") == 0) {
		len = 0;
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(),
		    NULL, pkey), 1);
		ck_assert_int_eq(EVP_DigestSign(md, mac, &len,
		    (unsigned char *)token, strlen(token)), 1);
		EVP_MD_CTX_free(md);
		if (strcmp(alg, "ES256") == 0) {
			/* DER to r || s, 32 bytes each (RFC 7518 3.4). */
			const unsigned char *der = mac;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)len);

			ck_assert_ptr_nonnull(es);
			BN_bn2binpad(ECDSA_SIG_get0_r(es), mac, 32);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), mac + 32, 32);
			ECDSA_SIG_free(es);
			len = 64;
		}
	}
	b64url(mac, len, sig);
	strcat(token, ".");
	strcat(token, sig);
	return token;
}

static char *
hs256(const char *payload)
{
	return sign("HS256", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload,
	    NULL, SECRET);
}

static const char *good_claims =
    "{\"sub\":\"ana\",\"exp\":1800000600,\"roles\":[\"tickets.write\"]}";

static struct svc_auth *
make_auth(const char *issuer, const char *audience)
{
	struct svc_auth_config cfg;
	struct svc_auth *a;
	bson_error_t err;

	memset(&cfg, 0, sizeof cfg);
	cfg.secret = (const unsigned char *)SECRET;
	cfg.secret_len = strlen(SECRET);
	cfg.jwks = jwks;
	cfg.issuer = issuer;
	cfg.audience = audience;
	cfg.leeway = 30;
	a = svc_auth_new(&cfg, &err);
	ck_assert_msg(a != NULL, "%s", err.message);
	return a;
}

static int
check(const struct svc_auth *a, const char *token, const char *role)
{
	bson_error_t why;

	if (svc_auth_check(a, token, role, NOW, &why))
		return 200;
	/* A refusal says the status to answer and why. */
	ck_assert(why.code == 401 || why.code == 403);
	ck_assert_str_ne(why.message, "");
	return (int)why.code;
}

/* Checks token (which it frees) for role: status expected. */
static void
expect(const struct svc_auth *a, char *token, const char *role, int status)
{
	int got = check(a, token, role);

	ck_assert_msg(got == status, "%s for %s: %d, not %d", token,
	    role != NULL ? role : "no role", got, status);
	free(token);
}

static void
setup(void)
{
	char n[600], e[16], n2[600], x[64], y[64];

	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert(rsa != NULL && rsa2 != NULL && ec != NULL);
	bn_member(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
	bn_member(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
	bn_member(rsa2, OSSL_PKEY_PARAM_RSA_N, 0, n2);
	bn_member(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
	bn_member(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
	snprintf(jwks, sizeof jwks, "{\"keys\":["
	    "{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"%s\","
	    "\"e\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"r2\",\"alg\":\"RS256\",\"n\":\"%s\","
	    "\"e\":\"%s\"},"
	    "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\","
	    "\"y\":\"%s\"}]}", n, e, n2, e, x, y);
}

static void
teardown(void)
{
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec);
}

START_TEST(valid_tokens)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	char *t;

	t = hs256(good_claims);
	ck_assert_int_eq(check(a, t, "tickets.write"), 200);
	ck_assert_int_eq(check(a, t, NULL), 200);
	free(t);
	expect(a, sign("RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", good_claims,
	    rsa, NULL), "tickets.write", 200);
	/* Without a kid, every RSA key is tried. */
	expect(a, sign("RS256", "{\"alg\":\"RS256\"}", good_claims, rsa2, NULL), "tickets.write", 200);
	/* A kid naming another key: not that one's signature. */
	expect(a, sign("RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", good_claims,
	    rsa2, NULL), "tickets.write", 401);
	expect(a, sign("ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", good_claims,
	    ec, NULL), "tickets.write", 200);
	svc_auth_free(a);
}
END_TEST

START_TEST(times)
{
	struct svc_auth *a = make_auth(NULL, NULL);

	/* Expired 10 s ago: within the 30 s leeway; 31 s: not. */
	expect(a, hs256("{\"exp\":1799999990,\"roles\":[\"operator\"]}"), "operator", 200);
	expect(a, hs256("{\"exp\":1799999969,\"roles\":[\"operator\"]}"), "operator", 401);
	expect(a, hs256("{\"exp\":1800000600,\"nbf\":1800000031,"
	    "\"roles\":[\"operator\"]}"), "operator", 401);
	expect(a, hs256("{\"exp\":1800000600,\"nbf\":1800000020,"
	    "\"roles\":[\"operator\"]}"), "operator", 200);
	/* No exp: a token that never ends is not taken. */
	expect(a, hs256("{\"roles\":[\"operator\"]}"), "operator", 401);
	expect(a, hs256("{\"exp\":\"1800000600\",\"roles\":[\"operator\"]}"), "operator", 401);
	svc_auth_free(a);
}
END_TEST

START_TEST(bad_signatures)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	char *t, *other;

	expect(a, sign("HS256", "{\"alg\":\"HS256\"}", good_claims, NULL,
	    "another secret of 32 bytes or more, wrong one"), "tickets.write", 401);
	/* A payload changed after signing. */
	t = hs256(good_claims);
	other = hs256("{\"exp\":1800000600,\"roles\":[\"operator\"]}");
	memcpy(strchr(t, '.') + 1, strchr(other, '.') + 1,
	    (size_t)(strrchr(other, '.') - strchr(other, '.')));
	ck_assert_int_eq(check(a, t, "operator"), 401);
	free(t);
	free(other);
	/* A signature cut short, and one missing. */
	t = hs256(good_claims);
	t[strlen(t) - 4] = '\0';
	ck_assert_int_eq(check(a, t, "tickets.write"), 401);
	*(strrchr(t, '.') + 1) = '\0';
	ck_assert_int_eq(check(a, t, "tickets.write"), 401);
	free(t);
	/* An ES256 signature cut to a few bytes (never read past). */
	t = sign("ES256", "{\"alg\":\"ES256\"}", good_claims, ec, NULL);
	strcpy(strrchr(t, '.') + 1, "AAAAAAAA");
	ck_assert_int_eq(check(a, t, "tickets.write"), 401);
	free(t);
	/* A DER signature (as OpenSSL makes it) where ES256's r || s
	 * belongs. */
	expect(a, sign("RS256", "{\"alg\":\"ES256\"}", good_claims, rsa, NULL), "tickets.write", 401);
	svc_auth_free(a);
}
END_TEST

START_TEST(alg_none_and_confusion)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	char n[600], key[1024];

	expect(a, sign("none", "{\"alg\":\"none\"}", good_claims, NULL, NULL), "tickets.write", 401);
	expect(a, sign("none", "{\"alg\":\"None\"}", good_claims, NULL, NULL), "tickets.write", 401);
	expect(a, sign("HS256", "{}", good_claims, NULL, SECRET), "tickets.write", 401);
	/* HS256 keyed with the public key's bytes (the classic confusion):
	 * HS256 is checked with the secret only. */
	bn_member(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
	snprintf(key, sizeof key, "%s", n);
	expect(a, sign("HS256", "{\"alg\":\"HS256\",\"kid\":\"r1\"}", good_claims,
	    NULL, key), "tickets.write", 401);
	/* An RSA signature sent as ES256, an EC one as RS256. */
	expect(a, sign("RS256", "{\"alg\":\"RS256\",\"kid\":\"e1\"}", good_claims,
	    rsa, NULL), "tickets.write", 401);
	expect(a, sign("ES256", "{\"alg\":\"RS256\"}", good_claims, ec, NULL), "tickets.write", 401);
	/* Algorithms not configured: HS512, RS384, PS256. */
	expect(a, sign("HS256", "{\"alg\":\"HS512\"}", good_claims, NULL, SECRET), "tickets.write", 401);
	expect(a, sign("RS256", "{\"alg\":\"PS256\"}", good_claims, rsa, NULL), "tickets.write", 401);
	/* A critical extension we do not know. */
	expect(a, sign("HS256", "{\"alg\":\"HS256\",\"crit\":[\"b64\"],"
	    "\"b64\":false}", good_claims, NULL, SECRET), "tickets.write", 401);
	svc_auth_free(a);
}
END_TEST

START_TEST(hs256_only_with_a_secret)
{
	struct svc_auth_config cfg;
	struct svc_auth *a;
	bson_error_t err;

	/* JWKS only: HS256 is refused, even signed with "" or the key. */
	memset(&cfg, 0, sizeof cfg);
	cfg.jwks = jwks;
	a = svc_auth_new(&cfg, &err);
	ck_assert_ptr_nonnull(a);
	expect(a, sign("HS256", "{\"alg\":\"HS256\"}", good_claims, NULL, ""), "tickets.write", 401);
	svc_auth_free(a);
}
END_TEST

START_TEST(roles)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	char *t;

	expect(a, hs256(good_claims), "operator", 403);
	t = hs256("{\"exp\":1800000600}");
	ck_assert_int_eq(check(a, t, "operator"), 403);
	ck_assert_int_eq(check(a, t, NULL), 200);
	free(t);
	expect(a, hs256("{\"exp\":1800000600,\"roles\":\"operator\"}"), "operator", 403);
	expect(a, hs256("{\"exp\":1800000600,\"roles\":[1,\"operatorx\","
	    "\"tickets.write\",\"operator\"]}"), "operator", 200);
	svc_auth_free(a);
}
END_TEST

START_TEST(issuer_audience)
{
	struct svc_auth *a = make_auth("https://id.example", "vdispatch");

	expect(a, hs256("{\"exp\":1800000600,\"iss\":\"https://id.example\","
	    "\"aud\":\"vdispatch\",\"roles\":[\"operator\"]}"), "operator", 200);
	expect(a, hs256("{\"exp\":1800000600,\"iss\":\"https://id.example\","
	    "\"aud\":[\"x\",\"vdispatch\"],\"roles\":[\"operator\"]}"), "operator", 200);
	expect(a, hs256("{\"exp\":1800000600,\"iss\":\"https://other\","
	    "\"aud\":\"vdispatch\",\"roles\":[\"operator\"]}"), "operator", 401);
	expect(a, hs256("{\"exp\":1800000600,\"iss\":\"https://id.example\","
	    "\"roles\":[\"operator\"]}"), "operator", 401);
	svc_auth_free(a);
}
END_TEST

START_TEST(malformed)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	static const char *const bad[] = { "", "abc", "a.b", "a.b.c.d",
	    "!!!.e30.", "eyJhbGciOiJIUzI1NiJ9.e30=.", "e.e30.",
	    "eyJhbGciOiJIUzI1NiJ9..", "eyJhbGciOiJIUzI1NiJ9.W10.",
	    "eyJhbGciOiJIUzI1NiJ9.e30.a+b/" };
	char *t, h[64], p[64];
	size_t i, len;
	unsigned char *raw;

	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(check(a, bad[i], NULL) == 401, "%s", bad[i]);
	/* Not JSON, JSON not an object, a NUL inside: each signed. */
	expect(a, hs256("{\"exp\":1800000600,"), NULL, 401);
	expect(a, hs256("[1]"), NULL, 401);
	b64url_str("{\"alg\":\"HS256\"}", h);
	b64url((const unsigned char *)"{\"exp\":1800000600}\0x", 20, p);
	t = malloc(strlen(h) + strlen(p) + 2);
	sprintf(t, "%s.%s", h, p);
	ck_assert_int_eq(check(a, t, NULL), 401);
	free(t);
	/* base64url itself: both alphabets' differences, lengths. */
	raw = svc_base64url_decode("-_8", 3, &len);
	ck_assert_ptr_nonnull(raw);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(raw[0], 0xfb);
	ck_assert_int_eq(raw[1], 0xff);
	free(raw);
	ck_assert_ptr_null(svc_base64url_decode("+/8", 3, &len));
	ck_assert_ptr_null(svc_base64url_decode("abcde", 5, &len));
	ck_assert_ptr_null(svc_base64url_decode("ab==", 4, &len));
	svc_auth_free(a);
}
END_TEST

/* svc_auth_new refuses cfg, saying what contains want. */
static void
refused(const struct svc_auth_config *cfg, const char *want)
{
	bson_error_t err;

	ck_assert_ptr_null(svc_auth_new(cfg, &err));
	ck_assert_msg(strstr(err.message, want) != NULL, "%s", err.message);
}

START_TEST(config)
{
	struct svc_auth_config cfg;
	struct svc_auth *a;
	bson_error_t err;

	/* Fail closed: no key, not insecure. */
	memset(&cfg, 0, sizeof cfg);
	refused(&cfg, "no key to check tokens with");
	cfg.insecure = true;
	a = svc_auth_new(&cfg, &err);
	ck_assert_ptr_nonnull(a);
	ck_assert(svc_auth_insecure(a));
	svc_auth_free(a);
	/* A short secret; JWKS without keys, with a bad or an HS key. */
	memset(&cfg, 0, sizeof cfg);
	cfg.secret = (const unsigned char *)"short";
	cfg.secret_len = 5;
	refused(&cfg, "the HS256 secret has 5 bytes (32 at least)");
	cfg.secret = NULL;
	cfg.jwks = "{\"keys\":[]}";
	refused(&cfg, "the JWKS has no signing key");
	cfg.jwks = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}";
	refused(&cfg, "JWKS key 1: a key of kty \"oct\"");
	cfg.jwks = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":"
	    "\"AQAB\"}]}";
	refused(&cfg, "JWKS key 1: an RSA key of 17 bits (2048 at least)");
	cfg.jwks = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";
	refused(&cfg, "JWKS key 1: an EC key that is not a P-256 point");
	cfg.jwks = "not json";
	refused(&cfg, "the JWKS is not {\"keys\": [...]}");
}
END_TEST

static void
h_ok(const struct svc_request *req, struct svc_response *resp, void *app)
{
	(void)req;
	(*(int *)app)++;
	svc_response_raw(resp, 200, "application/json", "{}", 2);
}

static const struct svc_route table[] = {
	{ "GET", "/tickets", h_ok, SVC_ROLE_READ },
	{ "POST", "/tickets/addComment", h_ok, SVC_ROLE_WRITE },
	{ "GET", "/health", h_ok, NULL },
};

static int
route(const struct svc_auth *a, const char *method, const char *path,
    const char *authorization, struct svc_response *resp, int *calls)
{
	struct svc_request req;
	char *env[4];
	char line[2048];
	int n = 0;

	env[n++] = (char *)(strcmp(method, "GET") == 0 ?
	    "REQUEST_METHOD=GET" : "REQUEST_METHOD=POST");
	snprintf(line, sizeof line, "HTTP_AUTHORIZATION=%s",
	    authorization != NULL ? authorization : "");
	if (authorization != NULL)
		env[n++] = line;
	env[n++] = (char *)(strcmp(path, "/tickets") == 0 ?
	    "PATH_INFO=/tickets" : strcmp(path, "/health") == 0 ?
	    "PATH_INFO=/health" : "PATH_INFO=/tickets/addComment");
	env[n] = NULL;
	memset(&req, 0, sizeof req);
	svc_request_from_env(&req, env, "rid");
	svc_response_clear(resp);
	svc_route(table, 3, &req, resp, calls, a);
	svc_request_clear(&req);
	svc_buf_free(&req.body_buf);
	return resp->status;
}

/* svc_auth_from_env refuses the environment, saying what contains want. */
static void
env_refused(const char *want)
{
	bson_error_t err;

	ck_assert_ptr_null(svc_auth_from_env(false, &err));
	ck_assert_msg(strstr(err.message, want) != NULL, "%s", err.message);
}

START_TEST(from_env)
{
	struct svc_auth *a;
	bson_error_t err;

	unsetenv("VD_AUTH_HS256_SECRET");
	unsetenv("VD_AUTH_HS256_SECRET_FILE");
	unsetenv("VD_AUTH_JWKS");
	env_refused("authentication: no key to check tokens with (set ");
	setenv("VD_AUTH_LEEWAY", "soon", 1);
	env_refused("VD_AUTH_LEEWAY is seconds, 0 to 3600");
	unsetenv("VD_AUTH_LEEWAY");
	setenv("VD_AUTH_HS256_SECRET_FILE", "/nonexistent/secret", 1);
	env_refused("/nonexistent/secret: No such file or directory");
	unsetenv("VD_AUTH_HS256_SECRET_FILE");
	setenv("VD_AUTH_HS256_SECRET", SECRET, 1);
	a = svc_auth_from_env(false, &err);
	ck_assert_msg(a != NULL, "%s", err.message);
	expect(a, hs256(good_claims), "tickets.write", 200);
	svc_auth_free(a);
	unsetenv("VD_AUTH_HS256_SECRET");
}
END_TEST

START_TEST(route_table)
{
	struct svc_auth *a = make_auth(NULL, NULL);
	struct svc_response resp;
	char *t, header[1200];
	int calls = 0;
	cJSON *body;

	svc_response_init(&resp);
	/* Reads and health are public; a write needs its role. */
	ck_assert_int_eq(route(a, "GET", "/tickets", NULL, &resp, &calls), 200);
	ck_assert_int_eq(route(a, "GET", "/health", NULL, &resp, &calls), 200);
	ck_assert_int_eq(route(a, "POST", "/tickets/addComment", NULL, &resp,
	    &calls), 401);
	ck_assert_ptr_nonnull(strstr(resp.headers.data,
	    "WWW-Authenticate: Bearer"));
	ck_assert_ptr_nonnull(strstr(resp.body.data, "\"error\""));
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(route(a, "POST", "/tickets/addComment", "Basic eDp5",
	    &resp, &calls), 401);
	t = hs256("{\"exp\":1900000000,\"roles\":[\"operator\"]}");
	snprintf(header, sizeof header, "Bearer %s", t);
	free(t);
	ck_assert_int_eq(route(a, "POST", "/tickets/addComment", header, &resp,
	    &calls), 403);
	body = cJSON_Parse(resp.body.data);
	ck_assert_str_eq(svc_json_str(body, "error"), "forbidden");
	cJSON_Delete(body);
	ck_assert_int_eq(calls, 2);
	t = hs256("{\"exp\":1900000000,\"roles\":[\"tickets.write\"]}");
	snprintf(header, sizeof header, "bearer %s", t);
	free(t);
	ck_assert_int_eq(route(a, "POST", "/tickets/addComment", header, &resp,
	    &calls), 200);
	ck_assert_int_eq(calls, 3);
	/* No auth at all: fail closed. */
	ck_assert_int_eq(route(NULL, "POST", "/tickets/addComment", header,
	    &resp, &calls), 401);
	ck_assert_int_eq(calls, 3);
	/* The registry's roles come from the same table. */
	ck_assert_str_eq(svc_route_role(table, 3, "POST",
	    "/tickets/addComment", a), "tickets.write");
	ck_assert_str_eq(svc_route_role(table, 3, "GET", "/tickets", a), "");
	svc_response_free(&resp);
	svc_auth_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, valid_tokens);
	tcase_add_test(tc, times);
	tcase_add_test(tc, bad_signatures);
	tcase_add_test(tc, alg_none_and_confusion);
	tcase_add_test(tc, hs256_only_with_a_secret);
	tcase_add_test(tc, roles);
	tcase_add_test(tc, issuer_audience);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, config);
	tcase_add_test(tc, from_env);
	tcase_add_test(tc, route_table);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
