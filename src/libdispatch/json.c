/*
 * json.c - reading replies and merging the replies of several endpoints.
 *
 * The article merged fan-out replies with _.extend, which copies an array
 * into an object keyed "0", "1", ... and lets a later object replace an
 * earlier one wholesale. Here objects are merged key by key, recursively,
 * and arrays are concatenated, so that two endpoints that each return part
 * of a list or part of a record give the whole of it.
 */
#include <stdio.h>
#include <string.h>

#include "vd-private.h"

cJSON *
vd_json_parse(const char *text, size_t len)
{
	if (text == NULL || text[len] != '\0')
		return NULL;
	/* An embedded NUL would end the parse early and pass for the end. */
	if (memchr(text, '\0', len) != NULL)
		return NULL;
	/* len + 1 takes in the terminator, so that trailing bytes other
	 * than white space make the parse fail. */
	return cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
}

/* Moves every element of array b to the end of array a. */
static void
concatenate(cJSON *a, cJSON *b)
{
	cJSON *item;

	while ((item = b->child) != NULL)
		cJSON_AddItemToArray(a, cJSON_DetachItemViaPointer(b, item));
}

cJSON *
vd_json_merge(cJSON *a, cJSON *b)
{
	cJSON *item;

	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
		concatenate(a, b);
		cJSON_Delete(b);
		return a;
	}
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) {
		cJSON_Delete(a);
		return b;
	}
	while ((item = b->child) != NULL) {
		cJSON *old;

		cJSON_DetachItemViaPointer(b, item);
		old = cJSON_GetObjectItemCaseSensitive(a, item->string);
		if (old == NULL) {
			if (!cJSON_AddItemToObject(a, item->string, item))
				cJSON_Delete(item);     /* no memory for the key */
		} else if ((cJSON_IsObject(old) && cJSON_IsObject(item)) ||
		    (cJSON_IsArray(old) && cJSON_IsArray(item))) {
			/* Merged in place: old keeps its key and position. */
			vd_json_merge(old, item);
		} else {
			cJSON_ReplaceItemViaPointer(a, old, item);
		}
	}
	cJSON_Delete(b);
	return a;
}

void
vd_json_error_text(const char *body, size_t len, char *buf, size_t size)
{
	cJSON *json = body != NULL ? vd_json_parse(body, len) : NULL;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(json, "error");
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(json, "detail");
	const char *e = cJSON_IsString(err) ? err->valuestring : "";
	const char *d = cJSON_IsString(detail) ? detail->valuestring : "";

	if (size > 0)
		snprintf(buf, size, "%s%s%s", e, *e != '\0' && *d != '\0' ?
		    ": " : "", d);
	cJSON_Delete(json);
}
