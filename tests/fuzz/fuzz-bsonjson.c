/*
 * fuzz-bsonjson.c - JSON to BSON and back (bsonjson.c): the way sample
 * data is loaded and every stored document is shown.
 *
 * Input: JSON text. Properties: nothing crashes; a refusal happens only
 * for what svc_json_to_bson refuses (not an object, a '$' key, text that
 * is not UTF-8, too deep); what it accepts is valid BSON (UTF-8 checked
 * too), and going to JSON and back gives the same
 * BSON again (the first pass settles numbers and ObjectIds, the second
 * must change nothing). The same bytes are also read as a BSON document,
 * as one from the database, to be shown as JSON.
 */
#include <stdio.h>
#include <string.h>

#include "service.h"
#include "fuzz.h"

/* JSON as the services print it, and freed: printing must not fail. */
static void
print(const cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);

	FUZZ_ASSERT(text != NULL);
	cJSON_free(text);
}

static bool
not_utf8(const char *s)
{
	return !bson_utf8_validate(s, strlen(s), false);
}

/* Whether json holds a key starting with '$', text that is not UTF-8, or
 * is nested deeper than limit: the only reasons to refuse an object. */
static bool
refusable(const cJSON *json, int limit)
{
	const cJSON *item;

	if (limit < 0 || (cJSON_IsString(json) && not_utf8(json->valuestring)))
		return true;
	cJSON_ArrayForEach(item, json) {
		if (cJSON_IsObject(json) && (item->string[0] == '$' ||
		    not_utf8(item->string)))
			return true;
		if (refusable(item, limit - 1))
			return true;
	}
	return false;
}

static void
round_trip(const cJSON *json)
{
	bson_t first, second;
	cJSON *shown;
	size_t offset;

	bson_init(&first);
	if (!svc_json_to_bson(json, &first)) {
		FUZZ_ASSERT(!cJSON_IsObject(json) || refusable(json, 32));
		bson_destroy(&first);
		return;
	}
	FUZZ_ASSERT(cJSON_IsObject(json));
	FUZZ_ASSERT(bson_validate(&first, BSON_VALIDATE_UTF8, &offset));
	shown = svc_bson_to_json(&first);
	FUZZ_ASSERT(shown != NULL);
	print(shown);
	bson_init(&second);
	FUZZ_ASSERT(svc_json_to_bson(shown, &second));
	FUZZ_ASSERT(first.len == second.len);
	FUZZ_ASSERT(memcmp(bson_get_data(&first), bson_get_data(&second),
	    first.len) == 0);
	bson_destroy(&second);
	cJSON_Delete(shown);
	bson_destroy(&first);
}

/* The bytes as a document read from the database (checked by the driver
 * before anything reads it, as mongoc does for every reply). */
static void
from_bson(const uint8_t *data, size_t size)
{
	bson_t doc;
	cJSON *shown;

	if (!bson_init_static(&doc, data, size) ||
	    !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
		return;
	shown = svc_bson_to_json(&doc);
	FUZZ_ASSERT(shown != NULL);
	print(shown);
	cJSON_Delete(shown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *json;

	json = cJSON_ParseWithLength((const char *)data, size);
	if (json != NULL) {
		round_trip(json);
		cJSON_Delete(json);
	}
	from_bson(data, size);
	return 0;
}
