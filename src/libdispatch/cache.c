/*
 * cache.c - the client's copy of the whole registry, so that the registry
 * database being slow or down never stops a call.
 *
 * Calls choose their versions from an in-memory copy of every entry (one
 * query reads the whole collection: it is small, and FerretDB scans it
 * whole for any query anyway). The copy is refreshed in the background:
 * a call that finds it older than the refresh interval wakes the client's
 * refresher thread and goes on with the copy it has, so that no call
 * waits for the registry once there is a copy. Only the first call (or
 * the first after vd_register or vd_unregister through this client) reads
 * the registry itself.
 *
 * The copy is also kept in a file (vd_client_set_cache_file), replaced
 * atomically (temporary file, fsync, rename), so that a process that
 * starts while the registry is down calls from the last copy any process
 * saved. While the registry cannot be read, entries are judged live or
 * stale as of the time the copy was read: responders cannot heartbeat an
 * unreachable registry either.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vd-private.h"

#define CACHE_FORMAT "vdispatch-registry-cache/1"
#define CACHE_MAX_BYTES (16L * 1024 * 1024)
/* The file is rewritten when the entries change, and at least this often
 * while they do not, so that its date stays near the last good read. */
#define CACHE_REWRITE_MS (60 * 1000)

/* ---- the file format (pure) ---- */

static bool
add_string(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value != NULL ? value : "")
	    != NULL;
}

char *
vd_cache_serialize(const vd_entry_t *entries, size_t count,
    int64_t fetched_ms)
{
	cJSON *root = cJSON_CreateObject(), *list, *e, *arr, *item;
	char version[128], *text = NULL;
	size_t i, j;

	if (root == NULL || !add_string(root, "format", CACHE_FORMAT) ||
	    cJSON_AddNumberToObject(root, "fetchedAt", (double)fetched_ms) ==
	    NULL || (list = cJSON_AddArrayToObject(root, "entries")) == NULL)
		goto out;
	for (i = 0; i < count; i++) {
		const vd_entry_t *en = &entries[i];

		if ((e = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(list, e);
		vd_version_format(&en->version, version, sizeof version);
		if (!add_string(e, "name", en->name) ||
		    !add_string(e, "version", version) ||
		    !add_string(e, "url", en->url) ||
		    cJSON_AddNumberToObject(e, "lastSeen",
		    (double)en->last_seen_ms) == NULL ||
		    (arr = cJSON_AddArrayToObject(e, "endpoints")) == NULL)
			goto out;
		for (j = 0; j < en->n_endpoints; j++) {
			if ((item = cJSON_CreateObject()) == NULL)
				goto out;
			cJSON_AddItemToArray(arr, item);
			if (!add_string(item, "type", en->endpoints[j].type) ||
			    !add_string(item, "url", en->endpoints[j].url))
				goto out;
		}
		if ((arr = cJSON_AddArrayToObject(e, "authorizedRoles")) ==
		    NULL)
			goto out;
		for (j = 0; j < en->n_roles; j++) {
			if ((item = cJSON_CreateString(en->roles[j])) == NULL)
				goto out;
			cJSON_AddItemToArray(arr, item);
		}
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

/* Whether v is a number of ms that an int64_t holds: converting any
 * other double (1e300, as a damaged file may have) is undefined. */
static bool
is_ms(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble > -9223372036854775808.0 &&
	    v->valuedouble < 9223372036854775808.0;
}

static char *
dup_string(const cJSON *obj, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(s) ? strdup(s->valuestring) : NULL;
}

/* Fills e from one entry of the file; false when it is not one. */
static bool
parse_entry(const cJSON *obj, vd_entry_t *e, bool *nomem)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "version");
	const cJSON *seen = cJSON_GetObjectItemCaseSensitive(obj, "lastSeen");
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(obj, "endpoints");
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(obj,
	    "authorizedRoles");
	const cJSON *item, *none = NULL;
	int n;

	memset(e, 0, sizeof *e);
	if (!cJSON_IsArray(eps))
		eps = none;
	if (!cJSON_IsArray(roles))
		roles = none;
	if (!cJSON_IsObject(obj) || !cJSON_IsString(v) ||
	    vd_version_parse(v->valuestring, &e->version, NULL) != VD_OK ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "name")))
		return false;
	e->name = dup_string(obj, "name");
	e->url = dup_string(obj, "url");
	if (e->url == NULL && e->name != NULL)
		e->url = strdup("");
	if (e->name == NULL || e->url == NULL)
		goto nomem;
	if (is_ms(seen) && seen->valuedouble > 0)
		e->last_seen_ms = (int64_t)seen->valuedouble;
	n = eps != NULL ? cJSON_GetArraySize(eps) : 0;
	if (n > 0 && (e->endpoints = calloc((size_t)n, sizeof *e->endpoints))
	    == NULL)
		goto nomem;
	cJSON_ArrayForEach(item, eps) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "type");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(item, "url");
		vd_endpoint_t *ep = &e->endpoints[e->n_endpoints];

		if (!cJSON_IsString(t) || !cJSON_IsString(u))
			continue;
		ep->type = strdup(t->valuestring);
		ep->url = strdup(u->valuestring);
		e->n_endpoints++;
		if (ep->type == NULL || ep->url == NULL)
			goto nomem;
	}
	n = roles != NULL ? cJSON_GetArraySize(roles) : 0;
	if (n > 0 && (e->roles = calloc((size_t)n, sizeof *e->roles)) == NULL)
		goto nomem;
	cJSON_ArrayForEach(item, roles) {
		if (!cJSON_IsString(item))
			continue;
		if ((e->roles[e->n_roles++] = strdup(item->valuestring)) ==
		    NULL)
			goto nomem;
	}
	return true;
nomem:
	*nomem = true;
	vd_entry_clear(e);
	return false;
}

vd_code_t
vd_cache_parse(const char *text, size_t len, vd_entry_t **entries,
    size_t *count, int64_t *fetched_ms, vd_error_t *error)
{
	cJSON *root = vd_json_parse(text, len);
	const cJSON *format, *fetched, *list, *item;
	vd_entry_t *out = NULL;
	size_t n = 0;
	int64_t fetched_at;
	int size;
	bool nomem = false;

	*entries = NULL;
	*count = 0;
	*fetched_ms = 0;
	format = cJSON_GetObjectItemCaseSensitive(root, "format");
	fetched = cJSON_GetObjectItemCaseSensitive(root, "fetchedAt");
	list = cJSON_GetObjectItemCaseSensitive(root, "entries");
	if (!cJSON_IsString(format) ||
	    strcmp(format->valuestring, CACHE_FORMAT) != 0 ||
	    !is_ms(fetched) || !cJSON_IsArray(list)) {
		vd_error_set(error, VD_EINVAL, 0, "not a registry copy (%s)",
		    root == NULL ? "not JSON" : "wrong format");
		cJSON_Delete(root);
		return VD_EINVAL;
	}
	/* Read now: nothing of root may be touched once it is freed. */
	fetched_at = (int64_t)fetched->valuedouble;
	size = cJSON_GetArraySize(list);
	if (size > 0 && (out = calloc((size_t)size, sizeof *out)) == NULL)
		nomem = true;
	if (out == NULL)
		list = NULL;
	cJSON_ArrayForEach(item, list) {
		if (parse_entry(item, &out[n], &nomem))
			n++;
		if (nomem)
			break;
	}
	cJSON_Delete(root);
	if (nomem) {
		vd_entries_free(out, n);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	vd_entries_sort(out, n);
	*entries = out;
	*count = n;
	*fetched_ms = fetched_at;
	return VD_OK;
}

/* FNV-1a of what makes the entries differ, lastSeen aside: the file is
 * rewritten when this changes. */
uint64_t
vd_cache_hash(const vd_entry_t *entries, size_t count)
{
	uint64_t h = 1469598103934665603ULL;
	char version[128];
	size_t i, j;

#define MIX(s) do {                                                     \
	const unsigned char *p_ = (const unsigned char *)(s);           \
	for (; *p_ != '\0'; p_++)                                       \
		h = (h ^ *p_) * 1099511628211ULL;                       \
	h = (h ^ 0xff) * 1099511628211ULL;                              \
} while (0)
	for (i = 0; i < count; i++) {
		vd_version_format(&entries[i].version, version,
		    sizeof version);
		MIX(entries[i].name);
		MIX(version);
		MIX(entries[i].url);
		for (j = 0; j < entries[i].n_endpoints; j++) {
			MIX(entries[i].endpoints[j].type);
			MIX(entries[i].endpoints[j].url);
		}
		for (j = 0; j < entries[i].n_roles; j++)
			MIX(entries[i].roles[j]);
	}
#undef MIX
	return h;
}

vd_code_t
vd_cache_save(const char *path, const vd_entry_t *entries, size_t count,
    int64_t fetched_ms, vd_error_t *error)
{
	char *text = vd_cache_serialize(entries, count, fetched_ms);
	char *tmp = NULL;
	size_t len, done = 0;
	int fd = -1, saved;

	if (text == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	len = strlen(text);
	if ((tmp = malloc(strlen(path) + 16)) == NULL) {
		free(text);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	/* In the same directory, so that rename() replaces atomically; a
	 * name of its own, so that processes sharing the file do not meet. */
	snprintf(tmp, strlen(path) + 16, "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		goto fail;
	/* Entries are not secret, and other users' tools may read them. */
	if (fchmod(fd, 0644) != 0)
		goto fail;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		done += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	free(text);
	return VD_OK;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (tmp[strlen(tmp) - 1] != 'X')
		unlink(tmp);
	vd_error_set(error, VD_EINVAL, 0, "cannot write %s: %s", path,
	    strerror(saved));
	free(tmp);
	free(text);
	return VD_EINVAL;
}

vd_code_t
vd_cache_load(const char *path, vd_entry_t **entries, size_t *count,
    int64_t *fetched_ms, vd_error_t *error)
{
	FILE *f;
	char *text;
	long size;
	size_t got;
	vd_code_t code;

	*entries = NULL;
	*count = 0;
	*fetched_ms = 0;
	if ((f = fopen(path, "re")) == NULL)
		return vd_error_set(error, VD_EINVAL, 0, "cannot read %s: %s",
		    path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > CACHE_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return vd_error_set(error, VD_EINVAL, 0,
		    "cannot read %s: not a regular file of at most %ld bytes",
		    path, CACHE_MAX_BYTES);
	}
	if ((text = malloc((size_t)size + 1)) == NULL) {
		fclose(f);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	got = fread(text, 1, (size_t)size, f);
	fclose(f);
	text[got] = '\0';
	code = vd_cache_parse(text, got, entries, count, fetched_ms, error);
	free(text);
	if (code == VD_EINVAL && error != NULL) {
		char why[VD_ERROR_SIZE];

		snprintf(why, sizeof why, "%s", error->message);
		vd_error_set(error, VD_EINVAL, 0, "%.100s: %.140s", path, why);
	}
	return code;
}

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
			mongo = vd_client_mongo_new(client, &err);
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
