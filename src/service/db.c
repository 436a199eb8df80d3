/*
 * db.c - MongoDB connections that fail fast.
 *
 * A request must answer 503 at once when the database is down, not after
 * the driver's 30-second default server selection. A single-threaded
 * mongoc client tries once and then cools down for 5 s, during which it
 * fails immediately; after that it reconnects by itself.
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"

#define DEFAULT_URI "mongodb://127.0.0.1:27017"

static void
set_default_ms(mongoc_uri_t *uri, const char *option, int32_t ms)
{
	/* An explicit option in the URI is the operator's choice: keep it. */
	if (mongoc_uri_get_option_as_int32(uri, option, -1) == -1)
		mongoc_uri_set_option_as_int32(uri, option, ms);
}

static void
driver_log(mongoc_log_level_t level, const char *domain, const char *message,
    void *data)
{
	(void)data;
	if (level > MONGOC_LOG_LEVEL_INFO)
		return;
	/* FerretDB has no sessions; the driver says so at every shutdown. */
	if (strstr(message, "endSessions") != NULL)
		return;
	svc_log(level <= MONGOC_LOG_LEVEL_CRITICAL ? SVC_ERROR :
	    level == MONGOC_LOG_LEVEL_WARNING ? SVC_WARN : SVC_DEBUG,
	    "mongoc %s: %s", domain, message);
}

void
svc_db_init(void)
{
	mongoc_log_set_handler(driver_log, NULL);
	mongoc_init();
}

mongoc_uri_t *
svc_db_uri(const char *opt, bson_error_t *error)
{
	const char *text = opt;
	mongoc_uri_t *uri;

	if (text == NULL || *text == '\0')
		text = getenv("MONGODB_URI");
	if (text == NULL || *text == '\0')
		text = DEFAULT_URI;
	if ((uri = mongoc_uri_new_with_error(text, error)) == NULL)
		return NULL;
	set_default_ms(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
	set_default_ms(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
	set_default_ms(uri, MONGOC_URI_SOCKETTIMEOUTMS, 10000);
	return uri;
}

mongoc_client_t *
svc_db_open(const char *uri_opt, const char *appname, bson_error_t *error)
{
	mongoc_client_t *client = NULL;
	mongoc_uri_t *uri;

	if ((uri = svc_db_uri(uri_opt, error)) == NULL)
		return NULL;
	if ((client = mongoc_client_new_from_uri(uri)) == NULL)
		bson_set_error(error, MONGOC_ERROR_CLIENT,
		    MONGOC_ERROR_CLIENT_NOT_READY, "cannot create a client");
	else {
		mongoc_client_set_appname(client, appname);
		mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	}
	mongoc_uri_destroy(uri);
	return client;
}

/* What a server says when it cannot serve now, rather than that the
 * operation is wrong: MongoDB's codes for a node shutting down, stepping
 * down or unreachable; FerretDB's InternalError (1) that carries its
 * backend's connection failure (PostgreSQL stopped, restarting, or out of
 * reach), which it has no code of its own for. */
static bool
server_unavailable(const bson_error_t *error)
{
	static const uint32_t codes[] = {
		6,      /* HostUnreachable */
		7,      /* HostNotFound */
		89,     /* NetworkTimeout */
		91,     /* ShutdownInProgress */
		189,    /* PrimarySteppedDown */
		9001,   /* SocketException */
		10107,  /* NotWritablePrimary */
		11600,  /* InterruptedAtShutdown */
		11602,  /* InterruptedDueToReplStateChange */
		13435,  /* NotPrimaryNoSecondaryOk */
		13436,  /* NotPrimaryOrSecondary */
	};
	static const char *const backend[] = {
		"failed to connect to",
		"SQLSTATE 57P01",       /* admin_shutdown */
		"SQLSTATE 57P02",       /* crash_shutdown */
		"SQLSTATE 57P03",       /* cannot_connect_now */
		"SQLSTATE 08",          /* connection exceptions */
		"SQLSTATE 25006",       /* read-only: a standby, not the primary */
		"conn closed",          /* a pooled connection of before */
		"write failed",         /* a restart: broken pipe, reset */
		"unexpected EOF",
		"connection timed out", /* the kernel gave up: a cut link */
		"connection reset by peer",
	};
	size_t i;

	for (i = 0; i < sizeof codes / sizeof *codes; i++)
		if (error->code == codes[i])
			return true;
	if (error->code != 1)
		return false;
	for (i = 0; i < sizeof backend / sizeof *backend; i++)
		if (strstr(error->message, backend[i]) != NULL)
			return true;
	return false;
}

bool
svc_db_unavailable(const bson_error_t *error)
{
	switch (error->domain) {
	case MONGOC_ERROR_SERVER_SELECTION:
	case MONGOC_ERROR_STREAM:
		return true;
	case MONGOC_ERROR_CLIENT:
		return error->code == MONGOC_ERROR_CLIENT_NOT_READY ||
		    error->code == MONGOC_ERROR_CLIENT_AUTHENTICATE;
	case MONGOC_ERROR_SERVER:
	case MONGOC_ERROR_QUERY:
	case MONGOC_ERROR_COMMAND:
	case MONGOC_ERROR_WRITE_CONCERN:
		return server_unavailable(error);
	default:
		return false;
	}
}

bool
svc_db_duplicate(const bson_error_t *error)
{
	/* FerretDB answers E11000 for a write, but passes PostgreSQL's
	 * unique_violation on as InternalError (1) when a unique index
	 * cannot be made over what a collection holds. */
	return error->code == 11000 || error->code == 11001 ||
	    (error->code == 1 && strstr(error->message, "SQLSTATE 23505") !=
	    NULL);
}

void
svc_db_fail(struct svc_response *resp, const char *what,
    const bson_error_t *error)
{
	if (svc_db_unavailable(error)) {
		svc_log(SVC_WARN, "%s: database unavailable: %s", what,
		    error->message);
		svc_response_error(resp, 503, "database unavailable",
		    "the database cannot be reached; try again shortly");
		svc_response_header(resp, "Retry-After", "2");
	} else {
		svc_log(SVC_ERROR, "%s: database error %u.%u: %s", what,
		    error->domain, error->code, error->message);
		svc_response_error(resp, 500, "database error",
		    "the operation failed; see the service log");
	}
}

bool
svc_db_index(mongoc_collection_t *coll, const bson_t *keys, const char *name,
    bool unique, bson_error_t *error)
{
	bson_t cmd = BSON_INITIALIZER, indexes, index, reply;
	bool ok;

	/* The createIndexes command, since mongoc 1.23 has no index model. */
	BSON_APPEND_UTF8(&cmd, "createIndexes", mongoc_collection_get_name(coll));
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
	BSON_APPEND_DOCUMENT(&index, "key", keys);
	BSON_APPEND_UTF8(&index, "name", name);
	if (unique)
		BSON_APPEND_BOOL(&index, "unique", true);
	bson_append_document_end(&indexes, &index);
	bson_append_array_end(&cmd, &indexes);
	ok = mongoc_collection_write_command_with_opts(coll, &cmd, NULL, &reply,
	    error);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return ok;
}
