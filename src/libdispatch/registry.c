/*
 * registry.c - the registry's documents in the database: one per (name,
 * version, url, host) in the article's schema, plus our fields: version (the full
 * text), host (where the entry's endpoints are: "scheme://host[:port]",
 * each host registering its own), lastSeen (the heartbeat) and
 * registeredAt.
 *
 * Only what MongoDB and FerretDB v1.24 both do atomically is relied on:
 * registering is an insert guarded by a unique index, and a heartbeat is a
 * $set of lastSeen, where two racing heartbeats can only lose one lastSeen
 * (harmless). Versions are ordered here, in C, by semver precedence: the
 * database would order "1.10.0" before "1.9.0" by text, or ignore
 * pre-releases by number.
 *
 * This file only reads and writes the database; the client's copy of the
 * registry (cache.c) and the public calls over both (lookup.c) sit above
 * it, and it calls neither.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

#define INDEX_NAME \
	"name_1_versionMajor_1_versionMinor_1_versionPatch_1_url_1_host_1"
/* The unique index before entries had a host: it would refuse a second
 * host of one version, so it is dropped where it is found. */
#define OLD_INDEX_NAME "name_1_versionMajor_1_versionMinor_1_versionPatch_1_url_1"
#define DUPLICATE_KEY 11000
#define PRUNE_AFTER_MS (60 * 60 * 1000)        /* unseen this long: gone */
#define PRUNE_EVERY_MS (5 * 60 * 1000)

/* The registry collection of client; caller frees with
 * mongoc_collection_destroy(). */
static mongoc_collection_t *
collection(vd_client_t *client)
{
	return mongoc_client_get_collection(client->mongo, client->database,
	    client->collection);
}

/* Numbers are stored as int32 when they fit, as the article's services
 * (JavaScript) did, so that its tools can read our entries. */
static void
append_number(bson_t *doc, const char *key, uint64_t n)
{
	if (n <= INT32_MAX)
		bson_append_int32(doc, key, -1, (int32_t)n);
	else
		bson_append_int64(doc, key, -1, (int64_t)n);
}

/* The fields that identify an entry, as the unique index has them; url
 * and host NULL: any. */
static void
append_identity(bson_t *doc, const char *name, const vd_version_t *v,
    const char *url, const char *host)
{
	BSON_APPEND_UTF8(doc, "name", name);
	append_number(doc, "versionMajor", v->major);
	append_number(doc, "versionMinor", v->minor);
	append_number(doc, "versionPatch", v->patch);
	if (url != NULL)
		BSON_APPEND_UTF8(doc, "url", url);
	if (host != NULL)
		BSON_APPEND_UTF8(doc, "host", host);
}

/* The fields a heartbeat refreshes: a restarted service may come back
 * with other endpoints or roles. */
static void
append_details(bson_t *doc, const vd_service_t *service, const char *version,
    int64_t now_ms)
{
	bson_t array, item;
	char key[16];
	const char *k;
	size_t i;

	BSON_APPEND_UTF8(doc, "version", version);
	BSON_APPEND_ARRAY_BEGIN(doc, "endpoints", &array);
	for (i = 0; i < service->n_endpoints; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
		bson_append_document_begin(&array, k, -1, &item);
		BSON_APPEND_UTF8(&item, "type", service->endpoints[i].type);
		BSON_APPEND_UTF8(&item, "url", service->endpoints[i].url);
		bson_append_document_end(&array, &item);
	}
	bson_append_array_end(doc, &array);
	BSON_APPEND_ARRAY_BEGIN(doc, "authorizedRoles", &array);
	for (i = 0; i < service->n_roles; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
		bson_append_utf8(&array, k, -1, service->roles[i], -1);
	}
	bson_append_array_end(doc, &array);
	BSON_APPEND_DATE_TIME(doc, "lastSeen", now_ms);
}

/* Drops the unique index of a registry written before entries had a
 * host, if it is there (IndexNotFound, code 27, when it is not). */
static void
drop_old_index(vd_client_t *client, mongoc_collection_t *coll)
{
	bson_error_t berr;

	if (!mongoc_collection_drop_index(coll, OLD_INDEX_NAME, &berr) &&
	    berr.code != 27)
		vd_log(client, VD_LOG_DEBUG, "registry: the index %s stays: "
		    "%s", OLD_INDEX_NAME, berr.message);
}

/* Creates the unique index once per client: it is what makes a second
 * insert of one entry fail, so that registering stays idempotent. */
static vd_code_t
ensure_index(vd_client_t *client, mongoc_collection_t *coll,
    vd_error_t *error)
{
	bson_t *cmd;
	bson_error_t berr;
	bool ok;

	if (client->index_ready)
		return VD_OK;
	cmd = BCON_NEW("createIndexes", BCON_UTF8(client->collection),
	    "indexes", "[", "{",
	        "key", "{",
	            "name", BCON_INT32(1),
	            "versionMajor", BCON_INT32(1),
	            "versionMinor", BCON_INT32(1),
	            "versionPatch", BCON_INT32(1),
	            "url", BCON_INT32(1),
	            "host", BCON_INT32(1),
	        "}",
	        "name", BCON_UTF8(INDEX_NAME),
	        "unique", BCON_BOOL(true),
	    "}", "]");
	ok = mongoc_collection_write_command_with_opts(coll, cmd, NULL, NULL,
	    &berr);
	bson_destroy(cmd);
	if (!ok && (berr.code == 85 || berr.code == 86)) {
		/* IndexOptionsConflict, IndexKeySpecsConflict: someone made
		 * it already under another name. */
		vd_log(client, VD_LOG_DEBUG, "registry index exists: %s",
		    berr.message);
		ok = true;
	}
	if (!ok)
		return vd_error_set(error, VD_EREGISTRY, 0,
		    "Registry unavailable: %s", berr.message);
	drop_old_index(client, coll);
	client->index_ready = true;
	return VD_OK;
}

/* Deletes entries not seen for an hour, now and then: their responders are
 * gone and nothing else would ever remove them. */
static void
prune(vd_client_t *client, mongoc_collection_t *coll, int64_t now_ms)
{
	bson_t *filter;
	bson_error_t berr;

	if (now_ms - client->last_prune_ms < PRUNE_EVERY_MS)
		return;
	client->last_prune_ms = now_ms;
	filter = BCON_NEW("lastSeen", "{",
	    "$lt", BCON_DATE_TIME(now_ms - PRUNE_AFTER_MS), "}");
	if (!mongoc_collection_delete_many(coll, filter, NULL, NULL, &berr))
		vd_log(client, VD_LOG_DEBUG, "registry prune failed: %s",
		    berr.message);
	bson_destroy(filter);
}

static vd_code_t
check_service(const vd_service_t *service, vd_version_t *v,
    vd_error_t *error)
{
	size_t i;

	if (service == NULL || service->name == NULL ||
	    *service->name == '\0' || service->version == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_register: a service needs a name and a version");
	if (vd_version_parse(service->version, v, error) != VD_OK)
		return VD_EVERSION;
	if (v->major > INT64_MAX || v->minor > INT64_MAX ||
	    v->patch > INT64_MAX)
		return vd_error_set(error, VD_EVERSION, 0,
		    "Version number too large to store: %s", service->version);
	if (service->n_endpoints == 0 || service->endpoints == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_register: %s has no endpoints", service->name);
	if (service->n_roles > 0 && service->roles == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_register: NULL roles");
	for (i = 0; i < service->n_endpoints; i++) {
		const vd_endpoint_t *e = &service->endpoints[i];

		if (e->type == NULL || (strcmp(e->type, "http-get") != 0 &&
		    strcmp(e->type, "http-post") != 0))
			return vd_error_set(error, VD_EINVAL, 0,
			    "vd_register: endpoint type must be http-get or "
			    "http-post");
		if (!vd_http_url_allowed(e->url))
			return vd_error_set(error, VD_EREFUSED, 0,
			    "vd_register: not an http or https URL: %s",
			    e->url != NULL ? e->url : "(null)");
	}
	for (i = 0; i < service->n_roles; i++)
		if (service->roles[i] == NULL)
			return vd_error_set(error, VD_EINVAL, 0,
			    "vd_register: NULL role");
	return VD_OK;
}

/* Refreshes an existing entry; *matched says whether there was one. */
static bool
heartbeat(mongoc_collection_t *coll, const vd_service_t *service,
    const vd_version_t *v, const char *version, const char *url,
    const char *host, int64_t now_ms, bool *matched, bson_error_t *berr)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_t reply;
	bson_iter_t it;
	bool ok;

	append_identity(&filter, service->name, v, url, host);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	append_details(&set, service, version, now_ms);
	bson_append_document_end(&update, &set);
	ok = mongoc_collection_update_one(coll, &filter, &update, NULL, &reply,
	    berr);
	*matched = ok && bson_iter_init_find(&it, &reply, "matchedCount") &&
	    bson_iter_as_int64(&it) > 0;
	bson_destroy(&reply);
	bson_destroy(&filter);
	bson_destroy(&update);
	return ok;
}

static bool
insert(mongoc_collection_t *coll, const vd_service_t *service,
    const vd_version_t *v, const char *version, const char *url,
    const char *host, int64_t now_ms, bson_error_t *berr)
{
	bson_t doc = BSON_INITIALIZER;
	bool ok;

	append_identity(&doc, service->name, v, url, host);
	append_details(&doc, service, version, now_ms);
	BSON_APPEND_DATE_TIME(&doc, "registeredAt", now_ms);
	ok = mongoc_collection_insert_one(coll, &doc, NULL, NULL, berr);
	bson_destroy(&doc);
	return ok;
}

/* Deletes the entry that this one replaces when the registry was written
 * before entries had a host (the same identity, no host field): it names
 * the same endpoints, and would be tried twice until it went stale. */
static void
forget_hostless(vd_client_t *client, mongoc_collection_t *coll,
    const char *name, const vd_version_t *v, const char *url)
{
	bson_t filter = BSON_INITIALIZER, exists;
	bson_error_t berr;

	append_identity(&filter, name, v, url, NULL);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "host", &exists);
	BSON_APPEND_BOOL(&exists, "$exists", false);
	bson_append_document_end(&filter, &exists);
	if (!mongoc_collection_delete_many(coll, &filter, NULL, NULL, &berr))
		vd_log(client, VD_LOG_DEBUG, "registry: an entry without a "
		    "host stays: %s", berr.message);
	bson_destroy(&filter);
}

vd_code_t
vd_registry_put(vd_client_t *client, const vd_service_t *service,
    vd_error_t *error)
{
	mongoc_collection_t *coll;
	vd_version_t v;
	char version[128], host[VD_HOST_SIZE];
	const char *url;
	bson_error_t berr;
	int64_t now_ms = vd_now_ms();
	vd_code_t code;
	bool matched = false, inserted = false;
	int tries;

	if (client == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_register: NULL client");
	if ((code = check_service(service, &v, error)) != VD_OK)
		return code;
	url = service->url != NULL ? service->url : "";
	vd_version_format(&v, version, sizeof version);
	/* The host is where the endpoints are: one entry per host. */
	vd_url_origin(service->endpoints[0].url, host, sizeof host);
	coll = collection(client);
	if ((code = ensure_index(client, coll, error)) != VD_OK)
		goto out;
	/* Insert; if the entry exists, refresh it; if it went away in
	 * between (pruned, unregistered), insert again, once. */
	for (tries = 0; tries < 2 && !matched && !inserted; tries++) {
		if ((inserted = insert(coll, service, &v, version, url, host,
		    now_ms, &berr))) {
			forget_hostless(client, coll, service->name, &v, url);
			break;
		}
		if (berr.code != DUPLICATE_KEY ||
		    !heartbeat(coll, service, &v, version, url, host, now_ms,
		    &matched, &berr)) {
			code = vd_error_set(error, VD_EREGISTRY, 0,
			    "Registry unavailable: %s", berr.message);
			goto out;
		}
	}
	/* A duplicate each time, yet nothing to refresh: another unique
	 * index (one that leaves the host out) refuses this entry. */
	if (!inserted && !matched) {
		code = vd_error_set(error, VD_EREGISTRY, 0, "Registry refused "
		    "%s %s at %s: a unique index of %s.%s other than %s "
		    "holds another host's entry", service->name, version,
		    host, client->database, client->collection, INDEX_NAME);
		goto out;
	}
	prune(client, coll, now_ms);
out:
	mongoc_collection_destroy(coll);
	return code;
}

vd_code_t
vd_registry_delete(vd_client_t *client, const char *name,
    const char *version, const char *host, vd_error_t *error)
{
	mongoc_collection_t *coll;
	vd_version_t v;
	char text[128], origin[VD_HOST_SIZE];
	bson_t filter = BSON_INITIALIZER, or, alt;
	bson_error_t berr;
	vd_code_t code = VD_OK;

	if (client == NULL || name == NULL || *name == '\0')
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_unregister: a name is needed");
	if (host != NULL && vd_url_origin(host, origin, sizeof origin) == 0)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_unregister_host: not a URL: %.100s", host);
	if (vd_version_parse(version, &v, error) != VD_OK)
		return VD_EVERSION;
	vd_version_format(&v, text, sizeof text);
	append_identity(&filter, name, &v, NULL, host != NULL ? origin : NULL);
	/* Our entries say their whole version (1.0.0-rc.1 is not 1.0.0);
	 * entries written by the article's tools have no "version". */
	BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
	BSON_APPEND_UTF8(&alt, "version", text);
	bson_append_document_end(&or, &alt);
	if (v.prerelease[0] == '\0') {
		bson_t exists;

		BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
		BSON_APPEND_DOCUMENT_BEGIN(&alt, "version", &exists);
		BSON_APPEND_BOOL(&exists, "$exists", false);
		bson_append_document_end(&alt, &exists);
		bson_append_document_end(&or, &alt);
	}
	bson_append_array_end(&filter, &or);
	coll = collection(client);
	if (!mongoc_collection_delete_many(coll, &filter, NULL, NULL, &berr))
		code = vd_error_set(error, VD_EREGISTRY, 0,
		    "Registry unavailable: %s", berr.message);
	mongoc_collection_destroy(coll);
	bson_destroy(&filter);
	return code;
}

static bool
read_number(const bson_t *doc, const char *key, uint64_t *out)
{
	bson_iter_t it;
	int64_t n;

	if (!bson_iter_init_find(&it, doc, key) ||
	    !(BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it) ||
	    BSON_ITER_HOLDS_DOUBLE(&it)))
		return false;
	if ((n = bson_iter_as_int64(&it)) < 0)
		return false;
	*out = (uint64_t)n;
	return true;
}

/* The version of a document: its "version" text when it has one, else its
 * three numbers, as the article's tools wrote them. */
static bool
read_version(const bson_t *doc, vd_version_t *v)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, "version") &&
	    BSON_ITER_HOLDS_UTF8(&it) &&
	    vd_version_parse(bson_iter_utf8(&it, NULL), v, NULL) == VD_OK)
		return true;
	memset(v, 0, sizeof *v);
	return read_number(doc, "versionMajor", &v->major) &&
	    read_number(doc, "versionMinor", &v->minor) &&
	    read_number(doc, "versionPatch", &v->patch);
}

/* Fills e from doc. Returns 1, 0 for a document that is not an entry
 * (skipped), -1 when out of memory. */
static int
read_entry(const bson_t *doc, vd_entry_t *e)
{
	bson_iter_t it, sub, field;
	size_t n;

	memset(e, 0, sizeof *e);
	if (!bson_iter_init_find(&it, doc, "name") ||
	    !BSON_ITER_HOLDS_UTF8(&it) || !read_version(doc, &e->version))
		return 0;
	if ((e->name = strdup(bson_iter_utf8(&it, NULL))) == NULL)
		goto nomem;
	e->url = strdup(bson_iter_init_find(&it, doc, "url") &&
	    BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "");
	if (e->url == NULL)
		goto nomem;
	if (bson_iter_init_find(&it, doc, "lastSeen") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		e->last_seen_ms = bson_iter_date_time(&it);

	if (bson_iter_init_find(&it, doc, "endpoints") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &sub)) {
		for (n = 0; bson_iter_next(&sub); n++)
			;
		if (n > 0 && (e->endpoints = calloc(n, sizeof *e->endpoints))
		    == NULL)
			goto nomem;
		bson_iter_recurse(&it, &sub);
		while (bson_iter_next(&sub)) {
			const char *type = NULL, *url = NULL;
			vd_endpoint_t *ep = &e->endpoints[e->n_endpoints];

			if (!BSON_ITER_HOLDS_DOCUMENT(&sub) ||
			    !bson_iter_recurse(&sub, &field))
				continue;
			while (bson_iter_next(&field)) {
				if (!BSON_ITER_HOLDS_UTF8(&field))
					continue;
				if (strcmp(bson_iter_key(&field), "type") == 0)
					type = bson_iter_utf8(&field, NULL);
				else if (strcmp(bson_iter_key(&field), "url")
				    == 0)
					url = bson_iter_utf8(&field, NULL);
			}
			if (type == NULL || url == NULL)
				continue;
			ep->type = strdup(type);
			ep->url = strdup(url);
			e->n_endpoints++;
			if (ep->type == NULL || ep->url == NULL)
				goto nomem;
		}
	}

	if (bson_iter_init_find(&it, doc, "authorizedRoles") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &sub)) {
		for (n = 0; bson_iter_next(&sub); n++)
			;
		if (n > 0 && (e->roles = calloc(n, sizeof *e->roles)) == NULL)
			goto nomem;
		bson_iter_recurse(&it, &sub);
		while (bson_iter_next(&sub)) {
			if (!BSON_ITER_HOLDS_UTF8(&sub))
				continue;
			e->roles[e->n_roles] = strdup(bson_iter_utf8(&sub, NULL));
			if (e->roles[e->n_roles++] == NULL)
				goto nomem;
		}
	}
	return 1;
nomem:
	vd_entry_clear(e);
	return -1;
}

/* Reads every entry of name (NULL: all) from coll, unsorted. */
static vd_code_t
read_collection(mongoc_collection_t *coll, const char *name,
    vd_entry_t **entries, size_t *count, vd_error_t *error)
{
	mongoc_cursor_t *cursor;
	bson_t filter = BSON_INITIALIZER;
	const bson_t *doc;
	bson_error_t berr;
	vd_entry_t *list = NULL;
	size_t n = 0, cap = 0;
	vd_code_t code = VD_OK;

	*entries = NULL;
	*count = 0;
	if (name != NULL)
		BSON_APPEND_UTF8(&filter, "name", name);
	cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cursor, &doc)) {
		int r;

		if (n == cap) {
			size_t ncap = cap != 0 ? cap * 2 : 16;
			vd_entry_t *p = realloc(list, ncap * sizeof *p);

			if (p == NULL) {
				code = VD_ENOMEM;
				break;
			}
			list = p;
			cap = ncap;
		}
		if ((r = read_entry(doc, &list[n])) < 0) {
			code = VD_ENOMEM;
			break;
		}
		n += (size_t)r;
	}
	if (code == VD_ENOMEM)
		vd_error_set(error, code, 0, "out of memory");
	else if (mongoc_cursor_error(cursor, &berr))
		code = vd_error_set(error, VD_EREGISTRY, 0,
		    "Registry unavailable: %s", berr.message);
	mongoc_cursor_destroy(cursor);
	bson_destroy(&filter);
	if (code != VD_OK) {
		vd_entries_free(list, n);
		return code;
	}
	*entries = list;
	*count = n;
	return VD_OK;
}

vd_code_t
vd_registry_read(vd_client_t *client, const char *name,
    vd_entry_t **entries, size_t *count, vd_error_t *error)
{
	mongoc_collection_t *coll = collection(client);
	vd_code_t code = read_collection(coll, name, entries, count, error);

	mongoc_collection_destroy(coll);
	return code;
}

vd_code_t
vd_registry_read_all(mongoc_client_t *mongo, const char *db,
    const char *coll, vd_entry_t **entries, size_t *count,
    vd_error_t *error)
{
	mongoc_collection_t *c = mongoc_client_get_collection(mongo, db,
	    coll);
	vd_code_t code = read_collection(c, NULL, entries, count, error);

	mongoc_collection_destroy(c);
	return code;
}

