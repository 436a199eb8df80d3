/*
 * client.c - the client handle: registry connection, limits, logger, and
 * the HTTP handle that calls reuse so that connections are kept alive.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vd-private.h"

#define DEFAULT_URI "mongodb://127.0.0.1:27017"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init_once(void)
{
	mongoc_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Both libraries want one initialisation per process, before any thread
 * uses them; neither is ever cleaned up, since the library cannot know
 * that its host is done with them. */
void
vd_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

int64_t
vd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
vd_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vd_log(const vd_client_t *client, vd_log_level_t level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (client == NULL || client->log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	client->log_fn(level, line, client->log_userdata);
}

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
	client->mongo = mongoc_client_new_from_uri_with_error(uri, &berr);
	mongoc_uri_destroy(uri);
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
	client->connect_ms = 1000;
	client->attempt_ms = 5000;
	client->deadline_ms = 15000;
	client->stale_after_s = 30;
	return client;
nomem:
	mongoc_uri_destroy(uri);
	vd_client_destroy(client);
	vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return NULL;
}

void
vd_client_destroy(vd_client_t *client)
{
	if (client == NULL)
		return;
	vd_registry_cache_free(client);
	if (client->curl != NULL)
		curl_easy_cleanup(client->curl);
	if (client->mongo != NULL)
		mongoc_client_destroy(client->mongo);
	free(client->database);
	free(client->collection);
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
	free(client->database);
	free(client->collection);
	client->database = db;
	client->collection = coll;
	client->index_ready = false;
	vd_registry_cache_free(client);
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

void
vd_client_set_logger(vd_client_t *client, vd_log_fn fn, void *userdata)
{
	if (client == NULL)
		return;
	client->log_fn = fn;
	client->log_userdata = userdata;
}

mongoc_collection_t *
vd_client_collection(vd_client_t *client)
{
	return mongoc_client_get_collection(client->mongo, client->database,
	    client->collection);
}
