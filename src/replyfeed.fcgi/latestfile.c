/*
 * latestfile.c - the latest replies kept in a file that nginx serves
 * itself (with ETag and 304), so that reading them costs no responder and
 * no database query.
 *
 * Every worker that stores a new event merges it into the file before the
 * event's sender hears 200, under an exclusive flock: the file is the
 * database's latest replies for every worker on this host, and a reader
 * after an acknowledged event sees it. The file is replaced whole
 * (svc_write_atomic), so a reader never sees half of one. At start the
 * file is made again from the database, which stays the reference (a
 * worker killed between its insert and its merge leaves a gap until then).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replyfeed.h"

/* Holds the lock file's flock while the file is read and replaced. */
static int
lock(const char *path)
{
	char lockpath[REPLYFEED_URL_MAX + 16];
	int fd;

	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	if ((fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

static void
unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing drops the flock */
}

static cJSON *
read_list(const char *path)
{
	char *text = NULL;
	long size;
	FILE *f;
	cJSON *list = NULL;

	if ((f = fopen(path, "r")) == NULL)
		return cJSON_CreateArray();
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    size < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = bson_malloc((size_t)size + 1)) != NULL &&
	    fread(text, 1, (size_t)size, f) == (size_t)size) {
		text[size] = '\0';
		list = cJSON_Parse(text);
	}
	bson_free(text);
	fclose(f);
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		list = cJSON_CreateArray();
	}
	return list;
}

/* Replaces the file at path with list (svc_write_atomic). nginx's workers
 * read it: whatever the umask, a file to serve.
 *
 * nginx's ETag is the file's mtime in whole seconds and its size: two
 * writes in one second with the same size would keep one ETag, and a
 * reader that polls with If-None-Match would be told 304 and miss the
 * second until the next reply. So each file's mtime is a second past the
 * one it replaces, whenever the clock has not moved that far by itself:
 * under bursts of more than one event a second it runs ahead of the
 * clock, and comes back when the events slow down. */
static bool
write_list(const char *path, const cJSON *list, bson_error_t *error)
{
	char *text = cJSON_PrintUnformatted(list);
	struct stat before, after;
	bool had = stat(path, &before) == 0, ok;

	ok = svc_write_atomic(path, text, strlen(text), 0644, error);
	cJSON_free(text);
	if (ok && had && stat(path, &after) == 0 &&
	    after.st_mtim.tv_sec <= before.st_mtim.tv_sec) {
		struct timespec t[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_sec = before.st_mtim.tv_sec + 1 },
		};

		if (utimensat(AT_FDCWD, path, t, 0) != 0) {
			bson_set_error(error, 0, (uint32_t)errno,
			    "cannot date %s: %s", path, strerror(errno));
			ok = false;
		}
	}
	return ok;
}

/* The order of the latest replies: by createdAt (ISO-8601 UTC strings in
 * one format compare as times do), then by id, as the database sorts. */
static int
older(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa;
	const cJSON *b = *(const cJSON *const *)pb;
	int c = strcmp(svc_json_str(a, "createdAt"),
	    svc_json_str(b, "createdAt"));

	return c != 0 ? c :
	    strcmp(svc_json_str(a, "id"), svc_json_str(b, "id"));
}

/* Holds path's lock (lock()); false with error when it cannot. */
static bool
lock_or_say(const char *path, int *fd, bson_error_t *error)
{
	if ((*fd = lock(path)) >= 0)
		return true;
	bson_set_error(error, 0, (uint32_t)errno, "cannot lock %s: %s", path,
	    strerror(errno));
	return false;
}

bool
rf_latest_file_add(const char *path, const struct svc_event *ev,
    bson_error_t *error)
{
	cJSON *items[REPLYFEED_LATEST + 1], *list, *out, *it;
	size_t n = 0, i;
	int fd;
	bool ok;

	if (path == NULL)
		return true;
	if (!lock_or_say(path, &fd, error))
		return false;
	list = read_list(path);
	/* A repeat (delivered at least once) changes nothing. */
	cJSON_ArrayForEach(it, list)
		if (strcmp(svc_json_str(it, "id"), ev->id) == 0) {
			cJSON_Delete(list);
			unlock(fd);
			return true;
		}
	while (n < REPLYFEED_LATEST && (it = cJSON_DetachItemFromArray(list,
	    0)) != NULL)
		items[n++] = it;
	items[n++] = svc_event_json(ev);
	/* Oldest first, then only the newest REPLYFEED_LATEST. (Debian's
	 * cJSON 1.7.15 refuses to insert in the middle of an array.) */
	qsort(items, n, sizeof *items, older);
	out = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		if (i + REPLYFEED_LATEST >= n)
			cJSON_AddItemToArray(out, items[i]);
		else
			cJSON_Delete(items[i]);
	ok = write_list(path, out, error);
	cJSON_Delete(out);
	cJSON_Delete(list);
	unlock(fd);
	return ok;
}

bool
rf_latest_file_rebuild(const char *path, struct rf_store *store,
    bson_error_t *error)
{
	cJSON *list;
	int fd;
	bool ok;

	if (path == NULL)
		return true;
	if (!lock_or_say(path, &fd, error))
		return false;
	/* Read under the lock: a merge waits, and lands on what is read. */
	if ((list = rf_store_latest(store, REPLYFEED_LATEST, error)) == NULL) {
		unlock(fd);
		return false;
	}
	ok = write_list(path, list, error);
	cJSON_Delete(list);
	unlock(fd);
	return ok;
}
