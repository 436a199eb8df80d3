/*
 * client.c - the client handle: registry connection, limits, logger, and
 * the HTTP handle that calls reuse so that connections are kept alive.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "vd-private.h"

#define DEFAULT_URI "mongodb://127.0.0.1:27017"
/* Calls stay on this machine unless told otherwise. */
#define DEFAULT_ALLOWED "localhost,127.0.0.1,[::1]"

/* Sets a URI option unless the user's URI chose it already. */
static void
uri_default_int32(mongoc_uri_t *uri, const char *option, int32_t value)
{
	if (!mongoc_uri_has_option(uri, option))
		mongoc_uri_set_option_as_int32(uri, option, value);
}

vd_client_t *
vd_client_new(const char *mongodb_uri, vd_error_t *error)
{
	vd_client_t *client;
	mongoc_uri_t *uri;
	bson_error_t berr;
	const char *db;

	vd_global_init();
	if (mongodb_uri == NULL || *mongodb_uri == '\0')
		mongodb_uri = getenv("MONGODB_URI");
	if (mongodb_uri == NULL || *mongodb_uri == '\0')
		mongodb_uri = DEFAULT_URI;
	if ((uri = mongoc_uri_new_with_error(mongodb_uri, &berr)) == NULL) {
		vd_error_set(error, VD_EINVAL, 0, "Bad MongoDB URI: %s",
		    berr.message);
		return NULL;
	}
	/* A registry that is down must fail a look-up at once (and let the
	 * call use its last copy), not hold it for the driver's 30 s. */
	uri_default_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
	uri_default_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
	uri_default_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 5000);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTRYONCE))
		mongoc_uri_set_option_as_bool(uri,
		    MONGOC_URI_SERVERSELECTIONTRYONCE, true);
	if (mongoc_uri_get_appname(uri) == NULL)
		mongoc_uri_set_appname(uri, "vdispatch");

	if ((client = calloc(1, sizeof *client)) == NULL)
		goto nomem;
	pthread_mutex_init(&client->reg_lock, NULL);
	pthread_cond_init(&client->reg_cond, NULL);
	client->mongo = mongoc_client_new_from_uri_with_error(uri, &berr);
	client->uri = uri;
	uri = NULL;
	if (client->mongo == NULL) {
		vd_client_destroy(client);
		vd_error_set(error, VD_EINVAL, 0, "Bad MongoDB URI: %s",
		    berr.message);
		return NULL;
	}
	mongoc_client_set_error_api(client->mongo, MONGOC_ERROR_API_VERSION_2);
	db = getenv("VD_REGISTRY_DB");
	client->database = strdup(db != NULL && *db != '\0' ? db : "registry");
	client->collection = strdup("services");
	client->curl = curl_easy_init();
	if (client->database == NULL || client->collection == NULL ||
	    client->curl == NULL)
		goto nomem;
	if (vd_http_prepare(client->curl) != VD_OK)
		goto nomem;
	client->connect_ms = 1000;
	client->attempt_ms = 5000;
	client->deadline_ms = 15000;
	client->stale_after_s = 30;
	client->refresh_ms = 2000;
	if (vd_client_set_allowed_urls(client, NULL, error) != VD_OK) {
		vd_client_destroy(client);
		return NULL;
	}
	if (getenv("VD_TOKEN") != NULL && *getenv("VD_TOKEN") != '\0' &&
	    vd_client_set_token(client, getenv("VD_TOKEN"), error) != VD_OK) {
		vd_client_destroy(client);
		return NULL;
	}
	vd_breaker_config_default(&client->breaker_cfg);
	vd_budget_init(&client->budget, VD_BUDGET_PERCENT, VD_BUDGET_PER_SECOND,
	    VD_BUDGET_WINDOW_S);
	return client;
nomem:
	mongoc_uri_destroy(uri);
	vd_client_destroy(client);
	vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return NULL;
}

/* The allow-list changed, or the client goes. */
static void
forget_verdicts(vd_client_t *client)
{
	size_t i;

	for (i = 0; i < VD_VERDICTS; i++) {
		free(client->verdicts[i].url);
		client->verdicts[i].url = NULL;
	}
}

void
vd_client_destroy(vd_client_t *client)
{
	struct vd_breaker_entry *b, *next;

	if (client == NULL)
		return;
	vd_cache_clear(client);
	for (b = client->breakers; b != NULL; b = next) {
		next = b->next;
		free(b->name);
		free(b->version);
		free(b->url);
		free(b);
	}
	if (client->curl != NULL)
		curl_easy_cleanup(client->curl);
	if (client->mongo != NULL)
		mongoc_client_destroy(client->mongo);
	mongoc_uri_destroy(client->uri);
	free(client->database);
	free(client->collection);
	free(client->cache_file);
	if (client->auth_header != NULL)
		OPENSSL_cleanse(client->auth_header,
		    strlen(client->auth_header));
	free(client->auth_header);
	vd_urls_destroy(client->allowed);
	forget_verdicts(client);
	pthread_mutex_destroy(&client->reg_lock);
	pthread_cond_destroy(&client->reg_cond);
	free(client);
}

vd_code_t
vd_client_set_registry(vd_client_t *client, const char *database,
    const char *collection, vd_error_t *error)
{
	const char *env = getenv("VD_REGISTRY_DB");
	char *db, *coll;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_registry: NULL client");
	if (database == NULL)
		database = env != NULL && *env != '\0' ? env : "registry";
	if (collection == NULL)
		collection = "services";
	if (*database == '\0' || *collection == '\0')
		return vd_error_set(error, VD_EINVAL, 0,
		    "Empty registry database or collection name");
	db = strdup(database);
	coll = strdup(collection);
	if (db == NULL || coll == NULL) {
		free(db);
		free(coll);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	/* The refresher reads the old names: stop it before they change. */
	vd_cache_clear(client);
	free(client->database);
	free(client->collection);
	client->database = db;
	client->collection = coll;
	client->index_ready = false;
	return VD_OK;
}

void
vd_client_set_timeouts(vd_client_t *client, long connect_ms, long attempt_ms,
    long deadline_ms)
{
	if (client == NULL)
		return;
	if (connect_ms > 0)
		client->connect_ms = connect_ms;
	if (attempt_ms > 0)
		client->attempt_ms = attempt_ms;
	if (deadline_ms > 0)
		client->deadline_ms = deadline_ms;
}

void
vd_client_set_stale_after(vd_client_t *client, long seconds)
{
	if (client != NULL && seconds > 0)
		client->stale_after_s = seconds;
}

vd_code_t
vd_client_set_reply_check(vd_client_t *client, vd_reply_check_t check,
    vd_error_t *error)
{
	if (client == NULL || (check != VD_REPLY_TYPED &&
	    check != VD_REPLY_PARSED))
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_reply_check: bad argument");
	client->reply_check = check;
	return VD_OK;
}

void
vd_client_set_logger(vd_client_t *client, vd_log_fn fn, void *userdata)
{
	if (client == NULL)
		return;
	client->log_fn = fn;
	client->log_userdata = userdata;
}

void
vd_client_set_observer(vd_client_t *client, vd_observe_fn fn, void *userdata)
{
	if (client == NULL)
		return;
	client->observe_fn = fn;
	client->observe_userdata = userdata;
}

vd_code_t
vd_client_set_breaker(vd_client_t *client, long consecutive,
    long rate_percent, long min_calls, long window_ms, long base_open_ms,
    long max_open_ms, vd_error_t *error)
{
	vd_breaker_config_t cfg;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_breaker: NULL client");
	cfg = client->breaker_cfg;
	if (consecutive >= 0)
		cfg.consecutive = (unsigned)(consecutive > 1000000 ? 1000000 :
		    consecutive);
	if (rate_percent >= 0)
		cfg.rate_percent = (unsigned)rate_percent;
	if (min_calls >= 0)
		cfg.min_calls = (unsigned)(min_calls > 1000000 ? 1000000 :
		    min_calls);
	if (window_ms > 0)
		cfg.window_ms = window_ms;
	if (base_open_ms > 0)
		cfg.base_open_ms = base_open_ms;
	if (max_open_ms > 0)
		cfg.max_open_ms = max_open_ms;
	if (cfg.rate_percent > 100)
		return vd_error_set(error, VD_EINVAL, 0,
		    "Breaker failure rate over 100%%: %u", cfg.rate_percent);
	if (cfg.max_open_ms < cfg.base_open_ms)
		return vd_error_set(error, VD_EINVAL, 0,
		    "Breaker maximum open time (%" PRId64 " ms) under its base "
		    "open time (%" PRId64 " ms)", cfg.max_open_ms,
		    cfg.base_open_ms);
	client->breaker_cfg = cfg;
	return VD_OK;
}

vd_code_t
vd_client_set_budget(vd_client_t *client, double percent, double per_second,
    long window_s, vd_error_t *error)
{
	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_budget: NULL client");
	/* NaN fails every comparison: refuse it explicitly. */
	if (percent != percent || per_second != per_second ||
	    percent > 1000 || window_s > VD_BUDGET_SLOTS)
		return vd_error_set(error, VD_EINVAL, 0,
		    "Bad retry budget: percent at most 1000, window at most "
		    "%d s", VD_BUDGET_SLOTS);
	vd_budget_configure(&client->budget, percent, per_second,
	    (int)window_s);
	return VD_OK;
}

vd_code_t
vd_client_set_token(vd_client_t *client, const char *token,
    vd_error_t *error)
{
	static const char prefix[] = "Authorization: Bearer ";
	char *line = NULL;
	const char *p;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_token: NULL client");
	if (token != NULL) {
		/* RFC 6750's b64token: visible ASCII, no space. */
		for (p = token; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 ||
			    (unsigned char)*p >= 0x7f)
				break;
		if (*token == '\0' || *p != '\0')
			return vd_error_set(error, VD_EINVAL, 0,
			    "vd_client_set_token: the token is empty or has "
			    "a byte a header cannot carry");
		if ((line = malloc(sizeof prefix + strlen(token))) == NULL)
			return vd_error_set(error, VD_ENOMEM, 0,
			    "out of memory");
		memcpy(line, prefix, sizeof prefix - 1);
		strcpy(line + sizeof prefix - 1, token);
	}
	if (client->auth_header != NULL)
		OPENSSL_cleanse(client->auth_header,
		    strlen(client->auth_header));
	free(client->auth_header);
	client->auth_header = line;
	return VD_OK;
}

vd_code_t
vd_client_set_cache_file(vd_client_t *client, const char *path,
    vd_error_t *error)
{
	char *copy = NULL;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_cache_file: NULL client");
	if (path != NULL && *path == '\0')
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_cache_file: empty path");
	if (path != NULL && (copy = strdup(path)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	pthread_mutex_lock(&client->reg_lock);
	free(client->cache_file);
	client->cache_file = copy;
	client->file_hash = 0;
	client->file_written_ms = 0;
	client->file_failed = false;
	pthread_mutex_unlock(&client->reg_lock);
	return VD_OK;
}

void
vd_client_set_registry_refresh(vd_client_t *client, long refresh_ms)
{
	if (client == NULL || refresh_ms <= 0)
		return;
	pthread_mutex_lock(&client->reg_lock);
	client->refresh_ms = refresh_ms;
	pthread_mutex_unlock(&client->reg_lock);
}

/* Breakers of versions (at a host) not called for an hour are forgotten
 * when new ones are made, so that a long-lived client does not keep every
 * version and host it ever saw. */
#define BREAKER_FORGET_MS (60 * 60 * 1000)

struct vd_breaker_entry *
vd_client_breaker(vd_client_t *client, const char *name, const char *version,
    const char *url)
{
	struct vd_breaker_entry *b, **p;
	int64_t now = vd_mono_ms();

	for (b = client->breakers; b != NULL; b = b->next) {
		if (strcmp(b->name, name) == 0 &&
		    strcmp(b->version, version) == 0 &&
		    strcmp(b->url, url) == 0) {
			b->used_ms = now;
			return b;
		}
	}
	for (p = &client->breakers; *p != NULL; ) {
		b = *p;
		if (now - b->used_ms > BREAKER_FORGET_MS &&
		    b->breaker.state == VD_BREAKER_CLOSED) {
			*p = b->next;
			free(b->name);
			free(b->version);
			free(b->url);
			free(b);
			client->n_breakers--;
		} else {
			p = &b->next;
		}
	}
	if ((b = calloc(1, sizeof *b)) == NULL)
		return NULL;
	b->name = strdup(name);
	b->version = strdup(version);
	b->url = strdup(url);
	if (b->name == NULL || b->version == NULL || b->url == NULL) {
		free(b->name);
		free(b->version);
		free(b->url);
		free(b);
		return NULL;
	}
	vd_breaker_init(&b->breaker);
	b->used_ms = now;
	b->next = client->breakers;
	client->breakers = b;
	client->n_breakers++;
	return b;
}

vd_code_t
vd_client_set_allowed_urls(vd_client_t *client, const char *list,
    vd_error_t *error)
{
	const char *env = getenv("VD_ALLOWED_URLS");
	vd_error_t err;
	vd_urls_t *urls;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_client_set_allowed_urls: NULL client");
	if (list == NULL)
		list = env != NULL && *env != '\0' ? env : DEFAULT_ALLOWED;
	if ((urls = vd_urls_new(list, &err)) == NULL) {
		if (error != NULL)
			*error = err;
		return err.code;
	}
	vd_urls_destroy(client->allowed);
	client->allowed = urls;
	forget_verdicts(client);
	return VD_OK;
}

bool
vd_client_url_allowed(vd_client_t *client, const char *url, char *why,
    size_t size)
{
	struct vd_url_verdict *v;
	vd_error_t err;
	size_t i;

	for (i = 0; i < VD_VERDICTS; i++) {
		v = &client->verdicts[i];
		if (v->url != NULL && strcmp(v->url, url) == 0)
			goto out;
	}
	/* Out of memory, the verdict is still right, only not kept. */
	v = &client->verdicts[client->next_verdict++ % VD_VERDICTS];
	free(v->url);
	v->url = strdup(url);
	v->ok = vd_urls_check(client->allowed, url, &err) == VD_OK;
	snprintf(v->why, sizeof v->why, "%s", v->ok ? "" : err.message);
out:
	if (!v->ok)
		snprintf(why, size, "%s", v->why);
	return v->ok;
}
