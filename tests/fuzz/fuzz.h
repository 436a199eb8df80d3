/*
 * fuzz.h - what the libFuzzer harnesses of tests/fuzz share: the input
 * cut into NUL-terminated fields, one a line, so that the seed corpora
 * stay text that people can read and write; and a check that an error
 * response is the JSON every failure must be.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FIELDS 8

struct fuzz_fields {
	char *buf;                      /* the copy the fields point into */
	const char *f[FUZZ_MAX_FIELDS]; /* "" for a field the input lacks */
	size_t len[FUZZ_MAX_FIELDS];    /* the last may hold NULs */
};

/* Cuts data into n fields: the first n - 1 end at a newline, the last is
 * the rest of the input, newlines and all. Free with fuzz_free(). */
static inline void
fuzz_split(struct fuzz_fields *ff, const uint8_t *data, size_t size, int n)
{
	char *p, *end, *nl;
	int i;

	if ((ff->buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(ff->buf, data, size);
	ff->buf[size] = '\0';
	p = ff->buf;
	end = ff->buf + size;
	for (i = 0; i < n && i < FUZZ_MAX_FIELDS; i++) {
		ff->f[i] = p;
		if (i < n - 1 && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			*nl = '\0';
			ff->len[i] = (size_t)(nl - p);
			p = nl + 1;
		} else if (i < n - 1) {
			ff->len[i] = (size_t)(end - p);
			p = end;
		} else
			ff->len[i] = (size_t)(end - p);
	}
}

static inline void
fuzz_free(struct fuzz_fields *ff)
{
	free(ff->buf);
}

/* Aborts (a crash to libFuzzer, with the input saved) when cond fails:
 * the property the harness checks does not hold. */
#define FUZZ_ASSERT(cond) do {                                          \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: property failed: %s\n",         \
		    __FILE__, __LINE__, #cond);                         \
		abort();                                                \
	}                                                               \
} while (0)

#ifdef SERVICE_H
/* Every failure answers a 4xx or 5xx with {"error": ..., "detail": ...}. */
static inline void
fuzz_check_error(const struct svc_response *resp)
{
	cJSON *json;

	FUZZ_ASSERT(resp->status >= 400 && resp->status <= 599);
	FUZZ_ASSERT(resp->body.data != NULL);
	json = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	FUZZ_ASSERT(cJSON_IsObject(json));
	FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItem(json, "error")));
	FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItem(json, "detail")));
	cJSON_Delete(json);
}
#endif

#endif /* FUZZ_H */
