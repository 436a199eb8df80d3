/*
 * announce.c - a responder's registry entries, registered at start and
 * refreshed from a thread of their own: the heartbeat that keeps them
 * chosen. The registry being down never stops a service; it is retried.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service.h"

struct svc_announce {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	int interval;
	char *uri;
	const vd_service_t *services;
	size_t n;
};

/* *ok is the last outcome: -1 none yet, 0 failed, 1 registered. */
static void
register_all(vd_client_t *client, const struct svc_announce *a, int *ok)
{
	vd_error_t err;
	size_t i;
	bool all = true;

	for (i = 0; i < a->n; i++) {
		if (vd_register(client, &a->services[i], &err) != VD_OK) {
			all = false;
			/* Said once per outage, not every heartbeat. */
			if (*ok != 0)
				svc_log(SVC_WARN, "registry: cannot register "
				    "%s %s: %s", a->services[i].name,
				    a->services[i].version, err.message);
			break;
		}
	}
	if (all && *ok != 1)
		for (i = 0; i < a->n; i++)
			svc_log(SVC_INFO, "registry: registered %s %s",
			    a->services[i].name, a->services[i].version);
	*ok = all;
}

static void *
announce_main(void *arg)
{
	struct svc_announce *a = arg;
	vd_client_t *client;
	vd_error_t err;
	int ok = -1;
	struct timespec until;

	if ((client = vd_client_new(a->uri, &err)) == NULL) {
		svc_log(SVC_ERROR, "registry: %s", err.message);
		return NULL;
	}
	vd_client_set_logger(client, svc_log_vd, NULL);
	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		pthread_mutex_unlock(&a->lock);
		register_all(client, a, &ok);
		pthread_mutex_lock(&a->lock);
		/* Retry sooner while registering fails. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ok == 1 ? a->interval : 2;
		while (!a->stop && pthread_cond_timedwait(&a->cond, &a->lock,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&a->lock);
	vd_client_destroy(client);
	return NULL;
}

struct svc_announce *
svc_announce_start(const char *mongodb_uri, const vd_service_t *services,
    size_t n, int interval, bson_error_t *error)
{
	struct svc_announce *a;
	int rc;

	a = bson_malloc0(sizeof *a);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->interval = interval > 0 ? interval : 10;
	a->uri = bson_strdup(mongodb_uri);	/* NULL stays NULL */
	a->services = services;
	a->n = n;
	if ((rc = svc_thread_start(&a->thread, announce_main, a)) != 0) {
		bson_set_error(error, 0, (uint32_t)rc, "cannot start the "
		    "heartbeat's thread: %s", strerror(rc));
		bson_free(a->uri);
		bson_free(a);
		return NULL;
	}
	return a;
}

void
svc_announce_stop(struct svc_announce *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	bson_free(a->uri);
	bson_free(a);
}
