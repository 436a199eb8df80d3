/*
 * cache.c - the client's copy of the whole registry, so that the registry
 * database being slow or down never stops a call.
 *
 * Calls choose their versions from an in-memory copy of every entry (one
 * query reads the whole collection: it is small, a few entries per
 * service, version and host). The copy is refreshed in the background:
 * a call that finds it older than the refresh interval wakes the client's
 * refresher thread and goes on with the copy it has, so that no call
 * waits for the registry once there is a copy. Only the first call (or
 * the first after vd_register or vd_unregister through this client) reads
 * the registry itself.
 *
 * The copy is also kept in a file (vd_client_set_cache_file; its format
 * and atomic write are in cachefile.c), so that a process that
 * starts while the registry is down calls from the last copy any process
 * saved. While the registry cannot be read, entries are judged live or
 * stale as of the time the copy was read: responders cannot heartbeat an
 * unreachable registry either.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

/* The file is rewritten when the entries change, and at least this often
 * while they do not, so that its date stays near the last good read. */
#define CACHE_REWRITE_MS (60 * 1000)

/* ---- the copy in memory ---- */

static void
snapshot_unref_locked(struct vd_snapshot *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	vd_entries_free(s->entries, s->count);
	free(s);
}

void
vd_cache_release(vd_client_t *client, struct vd_snapshot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&client->reg_lock);
	snapshot_unref_locked(s);
	pthread_mutex_unlock(&client->reg_lock);
}

/* A new copy holding entries (taken over); NULL when out of memory, and
 * then entries are freed. */
static struct vd_snapshot *
snapshot_new(vd_entry_t *entries, size_t count, int64_t fetched_ms,
    bool from_file)
{
	struct vd_snapshot *s = calloc(1, sizeof *s);

	if (s == NULL) {
		vd_entries_free(entries, count);
		return NULL;
	}
	vd_entries_sort(entries, count);
	s->refs = 1;
	s->entries = entries;
	s->count = count;
	s->fetched_ms = fetched_ms;
	s->from_file = from_file;
	return s;
}

/* Makes s the client's copy, dropping the one before. */
static void
install_locked(vd_client_t *client, struct vd_snapshot *s)
{
	snapshot_unref_locked(client->snap);
	client->snap = s;
}

/* Writes s to the cache file when the entries changed since the file was
 * last written, or when it was written long ago. Called without the
 * lock; a failure is kept to be told once by a calling thread. */
static void
save_file(vd_client_t *client, const struct vd_snapshot *s)
{
	uint64_t hash = vd_cache_hash(s->entries, s->count);
	char *path = NULL;
	vd_error_t err;
	bool due;

	pthread_mutex_lock(&client->reg_lock);
	due = client->cache_file != NULL && (hash != client->file_hash ||
	    s->fetched_ms - client->file_written_ms >= CACHE_REWRITE_MS);
	if (due && (path = strdup(client->cache_file)) != NULL) {
		/* Claimed now, so that the other thread does not write the
		 * same at once. */
		client->file_hash = hash;
		client->file_written_ms = s->fetched_ms;
	}
	pthread_mutex_unlock(&client->reg_lock);
	if (path == NULL)
		return;
	if (vd_cache_save(path, s->entries, s->count, s->fetched_ms, &err) !=
	    VD_OK) {
		pthread_mutex_lock(&client->reg_lock);
		client->file_hash = 0;
		client->file_written_ms = 0;
		if (!client->file_failed) {
			client->file_failed = true;
			client->file_told = false;
			snprintf(client->file_error, sizeof client->file_error,
			    "%s", err.message);
		}
		pthread_mutex_unlock(&client->reg_lock);
	} else {
		pthread_mutex_lock(&client->reg_lock);
		client->file_failed = false;
		pthread_mutex_unlock(&client->reg_lock);
	}
	free(path);
}

/* Records the outcome of a registry read for the calling thread to tell:
 * a warning once per outage, a note when it ends. */
static void
note_read_locked(vd_client_t *client, bool ok, const char *message)
{
	if (ok) {
		client->reg_down = false;
		return;
	}
	if (!client->reg_down) {
		client->reg_down = true;
		client->reg_down_told = false;
	}
	snprintf(client->reg_error, sizeof client->reg_error, "%s", message);
}

/* A new connection to the client's registry, for the refresher thread;
 * caller frees with mongoc_client_destroy(). */
static mongoc_client_t *
mongo_new(const vd_client_t *client, vd_error_t *error)
{
	mongoc_client_t *mongo;
	bson_error_t berr;

	mongo = mongoc_client_new_from_uri_with_error(client->uri, &berr);
	if (mongo == NULL) {
		vd_error_set(error, VD_EREGISTRY, 0, "Registry unavailable: %s",
		    berr.message);
		return NULL;
	}
	mongoc_client_set_error_api(mongo, MONGOC_ERROR_API_VERSION_2);
	return mongo;
}

/* Reads every entry with mongo into a new copy. */
static vd_code_t
read_copy(mongoc_client_t *mongo, const char *db,
    const char *coll, struct vd_snapshot **out, vd_error_t *error)
{
	vd_entry_t *entries;
	size_t count;
	int64_t now = vd_now_ms();
	vd_code_t code;

	*out = NULL;
	code = vd_registry_read_all(mongo, db, coll, &entries, &count, error);
	if (code != VD_OK)
		return code;
	if ((*out = snapshot_new(entries, count, now, false)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return VD_OK;
}

static void *
refresher_main(void *arg)
{
	vd_client_t *client = arg;
	mongoc_client_t *mongo = NULL;
	char *db = NULL, *coll = NULL;
	struct vd_snapshot *s;
	vd_error_t err = { .code = VD_OK };
	vd_code_t code;

	pthread_mutex_lock(&client->reg_lock);
	db = strdup(client->database);
	coll = strdup(client->collection);
	for (;;) {
		while (!client->reg_stop && !client->reg_kick)
			pthread_cond_wait(&client->reg_cond,
			    &client->reg_lock);
		if (client->reg_stop)
			break;
		client->reg_kick = false;
		pthread_mutex_unlock(&client->reg_lock);

		s = NULL;
		if (mongo == NULL)
			mongo = mongo_new(client, &err);
		if (db == NULL || coll == NULL)
			code = vd_error_set(&err, VD_ENOMEM, 0,
			    "out of memory");
		else if (mongo == NULL)
			code = VD_EREGISTRY;
		else
			code = read_copy(mongo, db, coll, &s, &err);

		pthread_mutex_lock(&client->reg_lock);
		client->reg_tried_ms = vd_mono_ms();
		client->reg_busy = false;
		note_read_locked(client, code == VD_OK, err.message);
		if (code == VD_OK) {
			install_locked(client, s);
			s->refs++;     /* ours, while saving it */
			pthread_mutex_unlock(&client->reg_lock);
			save_file(client, s);
			pthread_mutex_lock(&client->reg_lock);
			snapshot_unref_locked(s);
		}
	}
	pthread_mutex_unlock(&client->reg_lock);
	if (mongo != NULL)
		mongoc_client_destroy(mongo);
	free(db);
	free(coll);
	return NULL;
}

void
vd_cache_stop(vd_client_t *client)
{
	pthread_mutex_lock(&client->reg_lock);
	if (!client->reg_thread_started) {
		pthread_mutex_unlock(&client->reg_lock);
		return;
	}
	client->reg_stop = true;
	pthread_cond_signal(&client->reg_cond);
	pthread_mutex_unlock(&client->reg_lock);
	pthread_join(client->reg_thread, NULL);
	pthread_mutex_lock(&client->reg_lock);
	client->reg_thread_started = false;
	client->reg_stop = false;
	client->reg_kick = false;
	client->reg_busy = false;
	pthread_mutex_unlock(&client->reg_lock);
}

void
vd_cache_clear(vd_client_t *client)
{
	vd_cache_stop(client);
	pthread_mutex_lock(&client->reg_lock);
	install_locked(client, NULL);
	client->reg_down = false;
	client->reg_down_told = false;
	client->file_hash = 0;
	client->file_written_ms = 0;
	pthread_mutex_unlock(&client->reg_lock);
}

void
vd_cache_invalidate(vd_client_t *client)
{
	pthread_mutex_lock(&client->reg_lock);
	client->reg_dirty = true;
	pthread_mutex_unlock(&client->reg_lock);
}

/* Age of a copy read at fetched_ms, for people: "12 s", "4 min", "3 h". */
static void
format_age(int64_t fetched_ms, char *buf, size_t size)
{
	int64_t s = (vd_now_ms() - fetched_ms) / 1000;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%" PRId64 " s", s);
	else if (s < 2 * 3600)
		snprintf(buf, size, "%" PRId64 " min", s / 60);
	else
		snprintf(buf, size, "%" PRId64 " h", s / 3600);
}

/* The first copy, or a fresh one after register/unregister: read in the
 * calling thread; from the file when the registry cannot answer and there
 * is no copy in memory. */
static vd_code_t
read_now(vd_client_t *client, vd_error_t *error)
{
	struct vd_snapshot *s = NULL, *had;
	vd_error_t err;
	vd_entry_t *entries;
	size_t count;
	int64_t fetched;
	char age[32], *path = NULL;
	vd_code_t code;

	code = read_copy(client->mongo, client->database, client->collection,
	    &s, &err);
	pthread_mutex_lock(&client->reg_lock);
	client->reg_dirty = false;
	client->reg_tried_ms = vd_mono_ms();
	if (code == VD_OK) {
		note_read_locked(client, true, NULL);
		install_locked(client, s);
		s->refs++;
		pthread_mutex_unlock(&client->reg_lock);
		save_file(client, s);
		vd_cache_release(client, s);
		return VD_OK;
	}
	if (code == VD_ENOMEM) {
		pthread_mutex_unlock(&client->reg_lock);
		return vd_error_set(error, code, 0, "%s", err.message);
	}
	note_read_locked(client, false, err.message);
	had = client->snap;
	if (had == NULL && client->cache_file != NULL)
		path = strdup(client->cache_file);
	pthread_mutex_unlock(&client->reg_lock);
	if (had != NULL)
		return VD_OK;          /* the copy in memory will do */
	if (path == NULL) {
		if (error != NULL)
			*error = err;
		return code;
	}
	if (vd_cache_load(path, &entries, &count, &fetched, NULL) != VD_OK ||
	    (s = snapshot_new(entries, count, fetched, true)) == NULL) {
		/* Nothing better to say than why the registry failed. */
		free(path);
		if (error != NULL)
			*error = err;
		return code;
	}
	format_age(fetched, age, sizeof age);
	vd_log(client, VD_LOG_WARN, "%s; calling from the copy saved in %s "
	    "%s ago", err.message, path, age);
	free(path);
	pthread_mutex_lock(&client->reg_lock);
	if (client->snap == NULL)
		install_locked(client, s);
	else
		snapshot_unref_locked(s);
	client->reg_down_told = true;
	pthread_mutex_unlock(&client->reg_lock);
	return VD_OK;
}

vd_code_t
vd_cache_acquire(vd_client_t *client, struct vd_snapshot **out,
    vd_error_t *error)
{
	struct vd_snapshot *s;
	char told[VD_ERROR_SIZE + 96] = "", file[VD_ERROR_SIZE] = "";
	char age[32];
	vd_log_level_t level = VD_LOG_WARN;
	int64_t now = vd_mono_ms();
	bool sync, start = false;
	vd_code_t code;

	*out = NULL;
	pthread_mutex_lock(&client->reg_lock);
	sync = client->snap == NULL || client->reg_dirty;
	pthread_mutex_unlock(&client->reg_lock);
	if (sync && (code = read_now(client, error)) != VD_OK)
		return code;

	pthread_mutex_lock(&client->reg_lock);
	if (!sync && !client->reg_busy &&
	    now - client->reg_tried_ms >= client->refresh_ms) {
		/* Old enough: read a new one in the background and go on
		 * with this one. */
		client->reg_busy = true;
		client->reg_kick = true;
		if (client->reg_thread_started)
			pthread_cond_signal(&client->reg_cond);
		else
			start = true;
	}
	if ((s = client->snap) != NULL)
		s->refs++;
	if (client->reg_down && !client->reg_down_told && s != NULL) {
		client->reg_down_told = true;
		format_age(s->fetched_ms, age, sizeof age);
		snprintf(told, sizeof told, "%.200s; calling from the copy of "
		    "%.20s ago until it answers", client->reg_error, age);
	} else if (!client->reg_down && client->reg_down_told) {
		client->reg_down_told = false;
		level = VD_LOG_INFO;
		snprintf(told, sizeof told, "registry available again");
	}
	if (client->file_failed && !client->file_told) {
		client->file_told = true;
		snprintf(file, sizeof file, "%s", client->file_error);
	}
	if (start) {
		client->reg_stop = false;
		if (pthread_create(&client->reg_thread, NULL, refresher_main,
		    client) == 0) {
			client->reg_thread_started = true;
		} else {
			/* No thread: try again on a later call. */
			client->reg_busy = false;
			client->reg_kick = false;
			client->reg_tried_ms = now;
		}
	}
	pthread_mutex_unlock(&client->reg_lock);
	if (told[0] != '\0')
		vd_log(client, level, "%s", told);
	if (file[0] != '\0')
		vd_log(client, VD_LOG_WARN, "registry copy not saved: %s",
		    file);
	if (s == NULL)
		return vd_error_set(error, VD_EREGISTRY, 0,
		    "Registry unavailable and no copy of it");
	*out = s;
	return VD_OK;
}

/* ---- vd_lookup's copy ---- */

static char *
cache_path(vd_client_t *client)
{
	char *path = NULL;

	pthread_mutex_lock(&client->reg_lock);
	if (client->cache_file != NULL)
		path = strdup(client->cache_file);
	pthread_mutex_unlock(&client->reg_lock);
	return path;
}

void
vd_cache_keep(vd_client_t *client, const vd_entry_t *entries, size_t count)
{
	char *path = cache_path(client);
	vd_error_t err;

	if (path == NULL)
		return;
	if (vd_cache_save(path, entries, count, vd_now_ms(), &err) != VD_OK)
		vd_log(client, VD_LOG_WARN, "registry copy not saved: %s",
		    err.message);
	free(path);
}

vd_code_t
vd_cache_lookup_file(vd_client_t *client, const char *name, const char *why,
    vd_entry_t **entries, size_t *count)
{
	char *path = cache_path(client), age[32];
	vd_entry_t *list;
	size_t n, i, kept = 0;
	int64_t fetched;

	if (path == NULL ||
	    vd_cache_load(path, &list, &n, &fetched, NULL) != VD_OK) {
		free(path);
		return VD_EREGISTRY;
	}
	for (i = 0; i < n; i++) {
		if (name != NULL && strcmp(list[i].name, name) != 0)
			vd_entry_clear(&list[i]);
		else if (kept++ != i)
			list[kept - 1] = list[i];
	}
	format_age(fetched, age, sizeof age);
	vd_log(client, VD_LOG_WARN, "%s; listing the copy saved in %s %s ago",
	    why, path, age);
	free(path);
	*entries = list;
	*count = kept;
	return VD_OK;
}
