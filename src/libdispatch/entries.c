/*
 * entries.c - registry entries as the library holds them: freed, copied,
 * sorted, marked stale, filtered by version, described in one line, and
 * their host. Pure code, over vd_entry_t only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

size_t
vd_entry_host(const vd_entry_t *entry, char *buf, size_t size)
{
	return vd_url_origin(entry != NULL && entry->n_endpoints > 0 ?
	    entry->endpoints[0].url : NULL, buf, size);
}

void
vd_entry_clear(vd_entry_t *e)
{
	size_t i;

	free(e->name);
	free(e->url);
	for (i = 0; i < e->n_endpoints; i++) {
		free((char *)e->endpoints[i].type);
		free((char *)e->endpoints[i].url);
	}
	free(e->endpoints);
	for (i = 0; i < e->n_roles; i++)
		free(e->roles[i]);
	free(e->roles);
	memset(e, 0, sizeof *e);
}

void
vd_entries_free(vd_entry_t *entries, size_t count)
{
	size_t i;

	if (entries == NULL)
		return;
	for (i = 0; i < count; i++)
		vd_entry_clear(&entries[i]);
	free(entries);
}

/* The first endpoint's URL, whose origin is the entry's host: sorting by
 * it puts the entries of one host together. */
static const char *
entry_host(const vd_entry_t *e)
{
	return e->n_endpoints > 0 ? e->endpoints[0].url : "";
}

static int
entry_order(const void *pa, const void *pb)
{
	const vd_entry_t *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	if ((c = vd_version_compare(&b->version, &a->version)) != 0)
		return c;
	if ((c = strcmp(entry_host(a), entry_host(b))) != 0)
		return c;
	if (a->last_seen_ms != b->last_seen_ms)
		return a->last_seen_ms < b->last_seen_ms ? 1 : -1;
	return strcmp(a->url, b->url);
}

void
vd_entries_sort(vd_entry_t *entries, size_t count)
{
	if (count > 1)
		qsort(entries, count, sizeof *entries, entry_order);
}

void
vd_entries_mark_stale(vd_entry_t *entries, size_t count, int64_t now_ms,
    int64_t stale_after_ms)
{
	size_t i;

	for (i = 0; i < count; i++)
		entries[i].stale = entries[i].last_seen_ms == 0 ||
		    now_ms - entries[i].last_seen_ms > stale_after_ms;
}

size_t
vd_entries_filter(vd_entry_t *entries, size_t count, const vd_range_t *range,
    bool live_only)
{
	size_t i, kept = 0;

	for (i = 0; i < count; i++) {
		if ((range == NULL ||
		    vd_range_match(range, &entries[i].version)) &&
		    !(live_only && entries[i].stale))
			entries[kept++] = entries[i];
		else
			vd_entry_clear(&entries[i]);
	}
	return kept;
}

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

vd_entry_t *
vd_entries_copy(const vd_entry_t *entries, size_t count)
{
	vd_entry_t *copy = calloc(count > 0 ? count : 1, sizeof *copy);
	size_t i, j;

	if (copy == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		const vd_entry_t *e = &entries[i];
		vd_entry_t *c = &copy[i];

		*c = *e;
		c->name = strdup_or_null(e->name);
		c->url = strdup_or_null(e->url);
		c->endpoints = NULL;
		c->roles = NULL;
		c->n_endpoints = c->n_roles = 0;
		if (c->name == NULL || c->url == NULL)
			goto nomem;
		if (e->n_endpoints > 0 && (c->endpoints =
		    calloc(e->n_endpoints, sizeof *c->endpoints)) == NULL)
			goto nomem;
		for (j = 0; j < e->n_endpoints; j++) {
			c->endpoints[j].type = strdup(e->endpoints[j].type);
			c->endpoints[j].url = strdup(e->endpoints[j].url);
			c->n_endpoints++;
			if (c->endpoints[j].type == NULL ||
			    c->endpoints[j].url == NULL)
				goto nomem;
		}
		if (e->n_roles > 0 && (c->roles =
		    calloc(e->n_roles, sizeof *c->roles)) == NULL)
			goto nomem;
		for (j = 0; j < e->n_roles; j++)
			if ((c->roles[c->n_roles++] = strdup(e->roles[j])) ==
			    NULL)
				goto nomem;
	}
	return copy;
nomem:
	vd_entries_free(copy, i + 1);
	return NULL;
}

void
vd_entries_describe(const vd_entry_t *entries, size_t count, char *buf,
    size_t size)
{
	size_t i, used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < count; ) {
		char version[128];
		bool stale = true;
		size_t j;
		int n;

		/* Sorted, so entries of one version (several URLs) are
		 * together; the version is live if any of them is. */
		for (j = i; j < count && strcmp(entries[j].name,
		    entries[i].name) == 0 && vd_version_compare(
		    &entries[j].version, &entries[i].version) == 0; j++)
			stale = stale && entries[j].stale;
		vd_version_format(&entries[i].version, version, sizeof version);
		n = snprintf(buf + used, size - used, "%s%s%s",
		    used > 0 ? ", " : "", version, stale ? " (stale)" : "");
		if (n < 0 || (size_t)n >= size - used) {
			/* Out of room: say so, as well as it fits. */
			if (used > 0 && used + 6 <= size)
				strcpy(buf + used, ", ...");
			else if (size >= 4)
				strcpy(buf + (used + 4 <= size ? used :
				    size - 4), "...");
			else
				buf[used < size ? used : size - 1] = '\0';
			return;
		}
		used += (size_t)n;
		i = j;
	}
}

