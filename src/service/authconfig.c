/*
 * authconfig.c - how a responder checks tokens, from its environment and
 * the files it names (auth.c does the checking). Fail closed: no key and
 * no option saying "insecure" means the responder does not start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

#define AUTH_FILE_MAX (256 * 1024)

/* The whole file at path, NUL-terminated, in a new buffer (bson_free());
 * NULL with error when it cannot be read. */
static char *
read_file(const char *path, size_t *len, bson_error_t *error)
{
	FILE *f = fopen(path, "rb");
	char *data;
	size_t n;

	if (f == NULL) {
		bson_set_error(error, 0, (uint32_t)errno, "%s: %s", path,
		    strerror(errno));
		return NULL;
	}
	data = bson_malloc(AUTH_FILE_MAX + 1);
	n = fread(data, 1, AUTH_FILE_MAX + 1, f);
	fclose(f);
	if (n > AUTH_FILE_MAX) {
		bson_set_error(error, 0, 0, "%s: too large", path);
		bson_free(data);
		return NULL;
	}
	data[n] = '\0';
	*len = n;
	return data;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

struct svc_auth *
svc_auth_from_env(bool insecure, bson_error_t *error)
{
	struct svc_auth_config cfg;
	struct svc_auth *auth;
	const char *secret_file = env("VD_AUTH_HS256_SECRET_FILE");
	const char *jwks_file = env("VD_AUTH_JWKS");
	char *secret = NULL, *jwks = NULL, *end;
	bson_error_t why;
	size_t len = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.insecure = insecure;
	cfg.issuer = env("VD_AUTH_ISSUER");
	cfg.audience = env("VD_AUTH_AUDIENCE");
	cfg.protect_reads = env("VD_AUTH_READS") != NULL &&
	    strcmp(env("VD_AUTH_READS"), "0") != 0;
	cfg.leeway = 60;
	if (env("VD_AUTH_LEEWAY") != NULL) {
		cfg.leeway = (int)strtol(env("VD_AUTH_LEEWAY"), &end, 10);
		if (*end != '\0' || cfg.leeway < 0 || cfg.leeway > 3600) {
			bson_set_error(error, 0, 0, "VD_AUTH_LEEWAY is seconds, "
			    "0 to 3600");
			return NULL;
		}
	}
	if (env("VD_AUTH_HS256_SECRET") != NULL) {
		cfg.secret = (const unsigned char *)env("VD_AUTH_HS256_SECRET");
		cfg.secret_len = strlen(env("VD_AUTH_HS256_SECRET"));
	} else if (secret_file != NULL) {
		if ((secret = read_file(secret_file, &len, error)) == NULL)
			return NULL;
		/* As `echo` or an editor leaves it. */
		if (len > 0 && secret[len - 1] == '\n')
			secret[--len] = '\0';
		cfg.secret = (const unsigned char *)secret;
		cfg.secret_len = len;
	}
	if (jwks_file != NULL &&
	    (jwks = read_file(jwks_file, &len, error)) == NULL) {
		bson_free(secret);
		return NULL;
	}
	cfg.jwks = jwks;
	auth = svc_auth_new(&cfg, &why);
	if (secret != NULL)
		memset(secret, 0, strlen(secret));
	bson_free(secret);
	bson_free(jwks);
	if (auth == NULL) {
		bson_set_error(error, 0, 0, "authentication: %s (set "
		    "VD_AUTH_HS256_SECRET, VD_AUTH_HS256_SECRET_FILE or "
		    "VD_AUTH_JWKS, or pass --insecure-no-auth)", why.message);
		return NULL;
	}
	if (insecure)
		svc_log(SVC_WARN, "insecure: --insecure-no-auth is given: no "
		    "token is checked, anyone may write and read the "
		    "operator endpoints");
	else
		svc_log(SVC_INFO, "tokens checked with%s%s%s%s; reads %s",
		    cfg.secret != NULL ? " the HS256 secret" : "",
		    cfg.secret != NULL && jwks_file != NULL ? " and" : "",
		    jwks_file != NULL ? " the keys of " : "",
		    jwks_file != NULL ? jwks_file : "",
		    cfg.protect_reads ? "need tickets.read" : "are public");
	return auth;
}
