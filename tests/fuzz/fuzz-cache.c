/*
 * fuzz-cache.c - the registry copy's file (cache.c), which any process
 * may have written, or a full disk cut short, and which a process reads
 * when it starts while the registry is down.
 *
 * Input: the file's bytes. Properties: nothing crashes; a file refused is
 * VD_EINVAL with no entries; what is taken is written back out as a file
 * that reads back the same (entries, their order, lastSeen, fetchedAt).
 */
#include <stdio.h>
#include <string.h>

#include "vd-private.h"
#include "fuzz.h"

static void
same(const vd_entry_t *a, size_t na, const vd_entry_t *b, size_t nb)
{
	size_t i;

	FUZZ_ASSERT(na == nb);
	FUZZ_ASSERT(vd_cache_hash(a, na) == vd_cache_hash(b, nb));
	for (i = 0; i < na; i++) {
		FUZZ_ASSERT(strcmp(a[i].name, b[i].name) == 0);
		FUZZ_ASSERT(vd_version_compare(&a[i].version,
		    &b[i].version) == 0);
		FUZZ_ASSERT(a[i].last_seen_ms == b[i].last_seen_ms);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vd_entry_t *entries, *again;
	size_t count, count2;
	int64_t fetched, fetched2;
	vd_error_t err;
	vd_code_t rc;
	char *text;

	/* The file as vd_cache_load hands it over: NUL-terminated. */
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	rc = vd_cache_parse(text, size, &entries, &count, &fetched, &err);
	free(text);
	if (rc != VD_OK) {
		FUZZ_ASSERT(rc == VD_EINVAL && err.code == VD_EINVAL);
		FUZZ_ASSERT(entries == NULL && count == 0);
		return 0;
	}
	FUZZ_ASSERT(count == 0 || entries != NULL);

	text = vd_cache_serialize(entries, count, fetched);
	FUZZ_ASSERT(text != NULL);
	rc = vd_cache_parse(text, strlen(text), &again, &count2, &fetched2,
	    &err);
	FUZZ_ASSERT(rc == VD_OK);
	FUZZ_ASSERT(fetched == fetched2);
	same(entries, count, again, count2);
	free(text);
	vd_entries_free(again, count2);
	vd_entries_free(entries, count);
	return 0;
}
