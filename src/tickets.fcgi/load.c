/*
 * load.c - tickets.fcgi --load FILE: the sample tickets, a JSON array in
 * the article's schema, inserted when the database has none. Run by
 * spawn/stack on `up`; loading twice changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tickets.h"

/* The whole file at path, NUL-terminated, in a new buffer (bson_free());
 * NULL with error when it cannot be read. */
static char *
read_file(const char *path, size_t *len, bson_error_t *error)
{
	FILE *f;
	char *buf = NULL;
	long size;

	if ((f = fopen(path, "rb")) == NULL) {
		bson_set_error(error, 0, (uint32_t)errno, "%s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = bson_malloc((size_t)size + 1);
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	} else
		bson_set_error(error, 0, (uint32_t)errno, "%s: %s", path,
		    strerror(errno));
	fclose(f);
	return buf;
}

long
tk_load(struct tk_store *store, const char *path, bson_error_t *error)
{
	const cJSON *item;
	cJSON *list;
	char *text;
	size_t len = 0;
	int64_t have;
	long n = 0;

	if ((text = read_file(path, &len, error)) == NULL)
		return -1;
	list = cJSON_ParseWithLength(text, len);
	bson_free(text);
	if (!cJSON_IsArray(list)) {
		bson_set_error(error, 0, 0, "%s: not a JSON array of tickets",
		    path);
		cJSON_Delete(list);
		return -1;
	}
	if ((have = tk_store_count_tickets(store, error)) < 0) {
		cJSON_Delete(list);
		return -1;
	}
	if (have > 0) {
		cJSON_Delete(list);
		return 0;
	}
	cJSON_ArrayForEach(item, list) {
		bson_t doc = BSON_INITIALIZER;

		if (!svc_json_to_bson(item, &doc)) {
			bson_set_error(error, 0, 0, "%s: ticket %ld is not a "
			    "valid object", path, n + 1);
			bson_destroy(&doc);
			cJSON_Delete(list);
			return -1;
		}
		if (!tk_store_insert_ticket(store, &doc, error)) {
			bson_destroy(&doc);
			cJSON_Delete(list);
			return -1;
		}
		bson_destroy(&doc);
		n++;
	}
	cJSON_Delete(list);
	return n;
}
