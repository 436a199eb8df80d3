/*
 * registry.c - GET /registry: the service registry as libvdispatch reads
 * it (vd_lookup, the same listing as `dispatch list`), for the web page's
 * versions panel and for people. Read-only: entries are written by the
 * responders' heartbeats and by `dispatch`, never through HTTP.
 */
#include <string.h>

#include "tickets.h"

/* The stale limit the library's clients use by default (see
 * vd_client_set_stale_after): the page says what calls would skip. */
#define REGISTRY_STALE_S 30

static cJSON *
entry_json(const vd_entry_t *e, int64_t now_ms)
{
	cJSON *out = cJSON_CreateObject(), *eps;
	char version[128], host[VD_HOST_SIZE], when[40];
	size_t i;

	vd_version_format(&e->version, version, sizeof version);
	vd_entry_host(e, host, sizeof host);
	cJSON_AddStringToObject(out, "name", e->name);
	cJSON_AddStringToObject(out, "version", version);
	/* "" when it has no absolute endpoint URL, as `dispatch list`'s "-". */
	cJSON_AddStringToObject(out, "host", host);
	cJSON_AddStringToObject(out, "url", e->url != NULL ? e->url : "");
	eps = cJSON_AddArrayToObject(out, "endpoints");
	for (i = 0; i < e->n_endpoints; i++) {
		cJSON *ep = cJSON_CreateObject();

		cJSON_AddStringToObject(ep, "type", e->endpoints[i].type);
		cJSON_AddStringToObject(ep, "url", e->endpoints[i].url);
		cJSON_AddItemToArray(eps, ep);
	}
	if (e->last_seen_ms > 0) {
		svc_iso_time(e->last_seen_ms, when, sizeof when);
		cJSON_AddStringToObject(out, "lastSeen", when);
		/* Ages from the responder's clock, so that a browser's clock
		 * being off does not make entries look stale. */
		cJSON_AddNumberToObject(out, "lastSeenAgo", now_ms >
		    e->last_seen_ms ? (double)((now_ms - e->last_seen_ms) /
		    1000) : 0);
	} else {
		cJSON_AddNullToObject(out, "lastSeen");
		cJSON_AddNullToObject(out, "lastSeenAgo");
	}
	cJSON_AddBoolToObject(out, "stale", e->stale);
	return out;
}

void
tk_registry(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct tk_app *app = arg;
	vd_entry_t *entries;
	vd_error_t err;
	size_t n, i;
	int64_t now;
	cJSON *out, *list;

	(void)req;
	/* Made at the first request: a responder nobody asks keeps none. */
	if (app->registry == NULL) {
		if ((app->registry = vd_client_new(app->cfg->mongodb_uri,
		    &err)) == NULL) {
			svc_response_error(resp, 503, "registry unavailable",
			    "%s", err.message);
			return;
		}
		vd_client_set_stale_after(app->registry, REGISTRY_STALE_S);
	}
	if (vd_lookup(app->registry, NULL, NULL, &entries, &n, &err) !=
	    VD_OK) {
		svc_log(SVC_WARN, "registry: %s", err.message);
		svc_response_error(resp, 503, "registry unavailable",
		    "the registry cannot be read: %s", err.message);
		return;
	}
	now = svc_now_ms();
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "staleAfter", REGISTRY_STALE_S);
	list = cJSON_AddArrayToObject(out, "entries");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(list, entry_json(&entries[i], now));
	vd_entries_free(entries, n);
	svc_response_json(resp, 200, out);
	cJSON_Delete(out);
}
