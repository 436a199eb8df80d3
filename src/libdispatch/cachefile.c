/*
 * cachefile.c - the registry copy's file: its JSON text (written and
 * parsed, pure), a hash of its entries, and the file written atomically
 * (temporary file in the same directory, fsync, rename) and read back.
 * Several processes may share one file; a reader sees a whole one. The
 * services' svc_write_atomic takes the same steps (docs/code.md says why
 * they are two).
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

/* Whether v is a time in ms that the file can carry: converting a double
 * no int64_t holds (1e300, as a damaged file may have) is undefined, and
 * cJSON writes a number with 15 significant digits when it reads back
 * within its epsilon, so that a time past 1e15 ms (the year 33658) would
 * come back a few ms off, reorder entries and change the hash that says
 * when to rewrite the file. Real times have 13 digits. */
static bool
is_ms(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble > -1e15 &&
	    v->valuedouble < 1e15;
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

/* FNV-1a, 64 bits (offset basis 14695981039346656037, prime
 * 1099511628211), of what makes the entries differ, lastSeen aside, each
 * string ended by 0xff: the file is rewritten when this changes. The
 * value never leaves the process. */
uint64_t
vd_cache_hash(const vd_entry_t *entries, size_t count)
{
	uint64_t h = 14695981039346656037ULL;
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

