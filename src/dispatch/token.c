/*
 * token.c - `dispatch token [--secret-file FILE] [--ttl SECONDS]
 * [--sub NAME] ROLE...`: an HS256 JWT (RFC 7519) with sub, iat, exp, roles
 * (and iss, aud from VD_AUTH_ISSUER, VD_AUTH_AUDIENCE), signed with the
 * responders' secret, as they check it (src/service/authconfig.c). It is
 * here, in C with OpenSSL, so that a host without python3 or openssl(1)
 * (the units' vdispatch-setup) can mint the reply feed's token.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"

#define EXIT_FAILED 2
#define EXIT_USAGE 64
#define SECRET_MAX 4096
#define SECRET_MIN 32          /* what the responders accept (auth.c) */
#define TTL_MAX (10L * 366 * 86400)

/* The roles the responders know (auth.c). */
static const char *const known_roles[] = {
	"tickets.read", "tickets.write", "subscriptions.manage", "operator",
};

static const char usage_line[] =
"usage: dispatch token [--secret-file FILE] [--ttl SECONDS] [--sub NAME] ROLE...\n"
"roles: tickets.read tickets.write subscriptions.manage operator\n";

/* LEN bytes as base64url without padding into OUT (4 * LEN / 3 + 4). */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	int i;

	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
}

/* The secret from FILE (its last newline dropped, as the responders do),
 * else $VD_AUTH_HS256_SECRET, else $VD_AUTH_HS256_SECRET_FILE; its length,
 * or -1 with a line on stderr. */
static long
read_secret(const char *file, unsigned char *buf, size_t size)
{
	const char *value = getenv("VD_AUTH_HS256_SECRET");
	size_t n;
	FILE *f;

	if (file == NULL && value != NULL && *value != '\0') {
		n = strlen(value);
		if (n > size) {
			fprintf(stderr, "dispatch: VD_AUTH_HS256_SECRET is too long\n");
			return -1;
		}
		memcpy(buf, value, n);
		return (long)n;
	}
	if (file == NULL)
		file = getenv("VD_AUTH_HS256_SECRET_FILE");
	if (file == NULL || *file == '\0') {
		fprintf(stderr, "dispatch: no secret: give --secret-file, or set "
		    "VD_AUTH_HS256_SECRET or VD_AUTH_HS256_SECRET_FILE\n");
		return -1;
	}
	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "dispatch: %s: %s\n", file, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, size, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "dispatch: %s: %s\n", file,
		    ferror(f) ? "cannot be read" : "too large");
		fclose(f);
		return -1;
	}
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	return (long)n;
}

static bool
known_role(const char *role)
{
	size_t i;

	for (i = 0; i < sizeof known_roles / sizeof known_roles[0]; i++)
		if (strcmp(role, known_roles[i]) == 0)
			return true;
	return false;
}

/* HEAD.BODY.SIG of CLAIMS, signed with SECRET; NULL when out of memory. */
static char *
sign(const cJSON *claims, const unsigned char *secret, size_t secret_len)
{
	static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *body = cJSON_PrintUnformatted(claims), *jwt;
	size_t body_len, n;

	if (body == NULL)
		return NULL;
	body_len = strlen(body);
	jwt = malloc((sizeof head + body_len) * 4 / 3 + 64 + 8);
	if (jwt == NULL) {
		cJSON_free(body);
		return NULL;
	}
	b64url((const unsigned char *)head, sizeof head - 1, jwt);
	n = strlen(jwt);
	jwt[n++] = '.';
	b64url((const unsigned char *)body, body_len, jwt + n);
	cJSON_free(body);
	n += strlen(jwt + n);
	if (HMAC(EVP_sha256(), secret, (int)secret_len,
	    (const unsigned char *)jwt, n, mac, &mac_len) == NULL) {
		free(jwt);
		return NULL;
	}
	jwt[n++] = '.';
	b64url(mac, mac_len, jwt + n);
	return jwt;
}

int
dispatch_token(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "secret-file", required_argument, NULL, 'f' },
		{ "ttl", required_argument, NULL, 't' },
		{ "sub", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned char secret[SECRET_MAX + 1];
	const char *file = NULL, *sub = "dispatch", *v;
	cJSON *claims, *roles;
	long ttl = 3600, secret_len;
	char *end, *jwt;
	time_t now;
	int c, i;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 't':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    ttl <= 0 || ttl > TTL_MAX) {
				fprintf(stderr, "dispatch: --ttl is seconds, 1 "
				    "to %ld\n", TTL_MAX);
				return EXIT_USAGE;
			}
			break;
		case 's':
			sub = optarg;
			break;
		default:
			fputs(usage_line, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fputs(usage_line, stderr);
		return EXIT_USAGE;
	}
	for (i = optind; i < argc; i++)
		if (!known_role(argv[i])) {
			fprintf(stderr, "dispatch: unknown role '%s'\n%s",
			    argv[i], usage_line);
			return EXIT_USAGE;
		}
	if ((secret_len = read_secret(file, secret, sizeof secret)) < 0)
		return EXIT_FAILED;
	if (secret_len < SECRET_MIN) {
		OPENSSL_cleanse(secret, sizeof secret);
		fprintf(stderr, "dispatch: the secret has %ld bytes; the "
		    "responders need %d at least\n", secret_len, SECRET_MIN);
		return EXIT_FAILED;
	}
	now = time(NULL);
	claims = cJSON_CreateObject();
	cJSON_AddStringToObject(claims, "sub", sub);
	cJSON_AddNumberToObject(claims, "iat", (double)now);
	cJSON_AddNumberToObject(claims, "exp", (double)(now + ttl));
	roles = cJSON_AddArrayToObject(claims, "roles");
	for (i = optind; roles != NULL && i < argc; i++)
		cJSON_AddItemToArray(roles, cJSON_CreateString(argv[i]));
	if ((v = getenv("VD_AUTH_ISSUER")) != NULL && *v != '\0')
		cJSON_AddStringToObject(claims, "iss", v);
	if ((v = getenv("VD_AUTH_AUDIENCE")) != NULL && *v != '\0')
		cJSON_AddStringToObject(claims, "aud", v);
	jwt = sign(claims, secret, (size_t)secret_len);
	OPENSSL_cleanse(secret, sizeof secret);
	cJSON_Delete(claims);
	if (jwt == NULL) {
		fprintf(stderr, "dispatch: out of memory\n");
		return EXIT_FAILED;
	}
	printf("%s\n", jwt);
	free(jwt);
	if (fflush(stdout) != 0) {
		perror("dispatch: stdout");
		return EXIT_FAILED;
	}
	return EXIT_SUCCESS;
}
