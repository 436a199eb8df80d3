/*
 * latest.c - GET /latestReplies: the latest replies, oldest first, when
 * nginx cannot answer from the file latestfile.c keeps (it is not made
 * yet: nginx's 404 there comes here).
 *
 * Read from this service's own database on every such request, so that
 * every worker process answers the same and a restart loses nothing (the
 * article kept them in one process's memory).
 */
#include "replyfeed.h"

void
rf_latest(const struct svc_request *req, struct svc_response *resp,
    void *arg)
{
	struct rf_app *app = arg;
	bson_error_t error;
	cJSON *list;

	(void)req;
	if ((list = rf_store_latest(app->store, REPLYFEED_LATEST, &error)) ==
	    NULL) {
		svc_db_fail(resp, "latestReplies", &error);
		return;
	}
	svc_response_json(resp, 200, list);
	cJSON_Delete(list);
}
