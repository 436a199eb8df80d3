/*
 * load.c - tickets.fcgi --load FILE: the sample tickets, a JSON array in
 * the article's schema, inserted when the database has none. Run by
 * spawn/stack on `up`; loading twice changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tickets.h"

static char *
read_file(const char *path, size_t *len)
{
	FILE *f;
	char *buf = NULL;
	long size;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

long
tk_load(struct tk_store *store, const char *path)
{
	bson_error_t error;
	const cJSON *item;
	cJSON *list;
	char *text;
	size_t len = 0;
	int64_t have;
	long n = 0;

	if ((text = read_file(path, &len)) == NULL) {
		perror(path);
		return -1;
	}
	list = cJSON_ParseWithLength(text, len);
	free(text);
	if (!cJSON_IsArray(list)) {
		fprintf(stderr, "%s: not a JSON array of tickets\n", path);
		cJSON_Delete(list);
		return -1;
	}
	if ((have = tk_store_count_tickets(store, &error)) < 0) {
		fprintf(stderr, "tickets: %s\n", error.message);
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
			fprintf(stderr, "%s: ticket %ld is not a valid object\n",
			    path, n + 1);
			bson_destroy(&doc);
			cJSON_Delete(list);
			return -1;
		}
		if (!tk_store_insert_ticket(store, &doc, &error)) {
			fprintf(stderr, "tickets: %s\n", error.message);
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
