/*
 * memory.c - the services' out-of-memory policy: an allocation that fails
 * ends the process (abort). A worker out of memory has nothing sensible
 * left to answer; multiwatch starts another at once, and nothing a request
 * wrote is lost (every write is in the database before its answer).
 *
 * libbson's allocators (bson_malloc0, bson_realloc, bson_strdup) abort
 * already, and the services allocate with them; this makes cJSON's do the
 * same, so that no cJSON_Create* or cJSON_Print* returns NULL for want of
 * memory and no caller has a NULL to handle. (libbson's allocator is never
 * replaced: bson_free is free.)
 */
#include "service.h"

static void *
json_alloc(size_t size)
{
	/* bson_malloc(0) is NULL, which cJSON would take for a failure. */
	return bson_malloc(size > 0 ? size : 1);
}

void
svc_memory_init(void)
{
	cJSON_Hooks hooks = { json_alloc, bson_free };

	cJSON_InitHooks(&hooks);
}
