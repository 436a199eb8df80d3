/*
 * lookup.c - the registry as a client uses it: vd_register and
 * vd_unregister (the database through registry.c, then the client's copy
 * read again, so that its next call sees the change), vd_lookup (the
 * database, else the client's cache file), and the candidates of a call,
 * from the client's copy (cache.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

vd_code_t
vd_register(vd_client_t *client, const vd_service_t *service,
    vd_error_t *error)
{
	vd_code_t code = vd_registry_put(client, service, error);

	/* A call through this client must see the change at once. */
	if (code == VD_OK)
		vd_cache_invalidate(client);
	return code;
}

vd_code_t
vd_unregister(vd_client_t *client, const char *name, const char *version,
    vd_error_t *error)
{
	return vd_unregister_host(client, name, version, NULL, error);
}

vd_code_t
vd_unregister_host(vd_client_t *client, const char *name,
    const char *version, const char *host, vd_error_t *error)
{
	vd_code_t code = vd_registry_delete(client, name, version, host,
	    error);

	/* Even when the database failed: it may have deleted them. */
	if (code == VD_OK || code == VD_EREGISTRY)
		vd_cache_invalidate(client);
	return code;
}

vd_code_t
vd_lookup(vd_client_t *client, const char *name, const char *range,
    vd_entry_t **entries, size_t *count, vd_error_t *error)
{
	vd_range_t *r = NULL;
	vd_entry_t *list;
	vd_error_t err;
	size_t n;
	vd_code_t code;

	if (entries != NULL)
		*entries = NULL;
	if (count != NULL)
		*count = 0;
	if (client == NULL || entries == NULL || count == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_lookup: NULL argument");
	if (range != NULL && (r = vd_range_new(range, error)) == NULL)
		return error != NULL ? error->code : VD_EVERSION;
	code = vd_registry_read(client, name, &list, &n, &err);
	if (code == VD_OK && name == NULL)
		vd_cache_keep(client, list, n);
	else if (code == VD_EREGISTRY && vd_cache_lookup_file(client, name,
	    err.message, &list, &n) == VD_OK)
		code = VD_OK;        /* the registry is down: the saved copy */
	if (code != VD_OK && error != NULL)
		*error = err;
	if (code == VD_OK) {
		vd_entries_mark_stale(list, n, vd_now_ms(),
		    (int64_t)client->stale_after_s * 1000);
		n = vd_entries_filter(list, n, r, false);
		vd_entries_sort(list, n);
		*entries = list;
		*count = n;
	}
	vd_range_destroy(r);
	return code;
}

vd_code_t
vd_registry_candidates(vd_client_t *client, const char *name,
    const vd_range_t *range, vd_entry_t **entries, size_t *count,
    char *why, size_t why_size, vd_error_t *error)
{
	struct vd_snapshot *snap;
	vd_entry_t *list;
	size_t first, n, i, matching, live;
	vd_code_t code;
	char registered[192];

	*entries = NULL;
	*count = 0;
	if (why != NULL && why_size > 0)
		why[0] = '\0';
	if ((code = vd_cache_acquire(client, &snap, error)) != VD_OK)
		return code;
	/* Sorted by name: the entries of name are together. */
	for (first = 0; first < snap->count &&
	    strcmp(snap->entries[first].name, name) != 0; first++)
		;
	for (n = 0; first + n < snap->count &&
	    strcmp(snap->entries[first + n].name, name) == 0; n++)
		;
	list = vd_entries_copy(snap->entries + first, n);
	/* Live or stale as of the read: while the registry cannot be read,
	 * responders cannot heartbeat either. */
	if (list != NULL)
		vd_entries_mark_stale(list, n, snap->fetched_ms,
		    (int64_t)client->stale_after_s * 1000);
	vd_cache_release(client, snap);
	if (list == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	for (i = 0, matching = 0, live = 0; i < n; i++) {
		if (!vd_range_match(range, &list[i].version))
			continue;
		matching++;
		live += !list[i].stale;
	}
	if (live == 0) {
		/* Said only when it is needed: it formats every version. */
		vd_entries_describe(list, n, registered, sizeof registered);
		if (why != NULL && registered[0] == '\0')
			snprintf(why, why_size, "none registered");
		else if (why != NULL)
			snprintf(why, why_size, "%s; registered: %s",
			    matching > 0 ? "none live" : "none matches",
			    registered);
		vd_entries_free(list, n);
		return VD_OK;
	}
	*entries = list;
	*count = vd_entries_filter(list, n, range, true);
	return VD_OK;
}
