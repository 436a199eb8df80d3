/*
 * subscription.c - this service's subscription to the tickets service's
 * reply events, made through the registry ("Ticket Subscribe") so that a
 * tickets version that fails or is down is passed over for another.
 *
 * Each worker process runs one thread that subscribes until it succeeds
 * (retrying with backoff however long no tickets service answers) and
 * then renews now and then; subscribing again is a no-op on the tickets
 * side, so two workers doing it is fine. Stopping never unsubscribes:
 * the tickets service keeps the events for us while we are down. Only
 * --decommission does.
 *
 * Subscribing needs a bearer token with the role subscriptions.manage:
 * the file $VD_TOKEN_FILE is read again before every call, so that a
 * token renewed there (spawn/stack mints one at every start) is used
 * without a restart; else $VD_TOKEN, which the library reads.
 *
 * Each call carries an X-Request-Id of its own ("sub-..."), which the
 * tickets service logs and our log lines name, and is counted in the
 * version's metrics through the client's observer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replyfeed.h"

#define SUBSCRIBE "Ticket Subscribe"
#define UNSUBSCRIBE "Ticket Unsubscribe"
#define UNSUBSCRIBE_RANGE "1.0.0"
#define LATEST "Ticket Latest Replies"
#define BACKOFF_MIN 2           /* seconds before the first retry */
#define BACKOFF_MAX 30

struct rf_subscription {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;                  /* guarded by lock */
	bool subscribed;            /* guarded by lock */
	char version[32];           /* guarded by lock: who took it */
	bool quiet;                 /* the thread's: library lines at debug */
	char *uri;
	char *url;
	char *range;
	char *allowed;              /* where calls may go: nginx */
	long renew;
	struct svc_metrics *metrics;
	unsigned long long calls;   /* the thread's: calls made so far */
};

/* A request id for a call this process starts on its own: prefix, pid
 * and time (which tell processes apart), and the call's number. */
static void
make_rid(char *buf, size_t size, const char *prefix, unsigned long long n)
{
	unsigned int who = (unsigned int)getpid() ^ (unsigned int)svc_now_ms();

	snprintf(buf, size, "%s-%08x%04llx", prefix, who, n & 0xffff);
}

/* The body both calls send: {"url": ...}. Caller frees with cJSON_free. */
static char *
url_body(const char *url)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(obj, "url", url);
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return text;
}

/* One call of name in range with body, carrying request id rid. On
 * success *version is the version that answered and, if reply is not NULL,
 * *reply its body (caller frees with bson_free()). */
static bool
call_once(vd_client_t *client, const char *name, const char *range,
    const char *body, const char *rid, char *version, size_t size,
    char **reply, vd_error_t *err)
{
	vd_call_t *call;
	vd_code_t code;
	const char *text;

	*version = '\0';
	if (reply != NULL)
		*reply = NULL;
	if ((call = vd_call_new(client, name, range, err)) == NULL)
		return false;
	code = vd_call_set_body(call, body, -1, err);
	if (code == VD_OK)
		code = vd_call_set_header(call, "X-Request-Id", rid, err);
	if (code == VD_OK)
		code = vd_call_perform(call, err);
	if (code == VD_OK) {
		snprintf(version, size, "%s", vd_call_version(call));
		if (reply != NULL && (text = vd_call_reply(call, NULL)) != NULL)
			*reply = bson_strdup(text);
	}
	vd_call_destroy(call);
	return code == VD_OK;
}

/* The library says each attempt; after the first subscription only
 * our own lines are worth the log: one per outage, one per recovery. */
static void
quiet_log(vd_log_level_t level, const char *message, void *arg)
{
	const struct rf_subscription *s = arg;

	svc_log_vd(s->quiet ? VD_LOG_DEBUG : level, message, NULL);
}

/* Waits seconds, or less if told to stop; true when told to stop. */
static bool
wait_stop(struct rf_subscription *s, long seconds)
{
	struct timespec until;
	bool stop;

	pthread_mutex_lock(&s->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock,
	    &until) != ETIMEDOUT)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* A client of the registry that keeps calling from its last good copy
 * (in $VD_REGISTRY_CACHE, which spawn/stack sets) while the registry
 * database is down, and only ever calls nginx at public_url (or what
 * $VD_ALLOWED_URLS allows): an entry someone wrote into the registry
 * cannot make it post elsewhere. */
static vd_client_t *
new_client(const char *uri, const char *public_url, vd_error_t *err)
{
	const char *cache = getenv("VD_REGISTRY_CACHE");
	const char *env = getenv("VD_ALLOWED_URLS");
	vd_client_t *client;
	vd_error_t ignored;

	if ((client = vd_client_new(uri, err)) == NULL)
		return NULL;
	if (vd_client_set_allowed_urls(client, env != NULL && *env != '\0' ?
	    NULL : public_url, err) != VD_OK) {
		vd_client_destroy(client);
		return NULL;
	}
	if (cache != NULL && *cache != '\0' &&
	    vd_client_set_cache_file(client, cache, &ignored) != VD_OK)
		svc_log(SVC_WARN, "subscription: registry copy %s: %s", cache,
		    ignored.message);
	return client;
}

/* The token of $VD_TOKEN_FILE, if set, as the client's (see above). */
static void
use_token_file(vd_client_t *client)
{
	const char *path = getenv("VD_TOKEN_FILE");
	char buf[8192];
	vd_error_t err;
	size_t n;
	FILE *f;

	if (path == NULL || *path == '\0')
		return;
	if ((f = fopen(path, "r")) == NULL) {
		svc_log(SVC_WARN, "subscription: token file %s: %s", path,
		    strerror(errno));
		return;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (vd_client_set_token(client, buf, &err) != VD_OK)
		svc_log(SVC_WARN, "subscription: token file %s: %s", path,
		    err.message);
}

static void *
rf_subscription_main(void *arg)
{
	struct rf_subscription *s = arg;
	vd_client_t *client;
	vd_error_t err;
	char version[32], rid[48], *body;
	long delay = 0, backoff = BACKOFF_MIN;
	bool ever = false, outage = false;

	if ((client = new_client(s->uri, s->allowed, &err)) == NULL) {
		svc_log(SVC_ERROR, "subscription: %s", err.message);
		return NULL;
	}
	vd_client_set_logger(client, quiet_log, s);
	vd_client_set_observer(client, svc_metrics_vd_observe, s->metrics);
	/* A call never holds the thread (and so a shutdown) long. */
	vd_client_set_timeouts(client, 1000, 5000, 10000);
	body = url_body(s->url);
	while (!wait_stop(s, delay)) {
		make_rid(rid, sizeof rid, "sub", ++s->calls);
		use_token_file(client);
		if (call_once(client, SUBSCRIBE, s->range, body, rid, version,
		    sizeof version, NULL, &err)) {
			if (!ever || outage)
				svc_log(SVC_INFO, "rid=%s subscribed %s through "
				    "%s %s", rid, s->url, SUBSCRIBE, version);
			else
				svc_log(SVC_DEBUG, "rid=%s renewed the "
				    "subscription of %s through %s %s", rid,
				    s->url, SUBSCRIBE, version);
			pthread_mutex_lock(&s->lock);
			s->subscribed = true;
			snprintf(s->version, sizeof s->version, "%s", version);
			pthread_mutex_unlock(&s->lock);
			ever = true;
			outage = false;
			backoff = BACKOFF_MIN;
			delay = s->renew;
		} else {
			if (!outage)
				svc_log(SVC_WARN, "rid=%s cannot %s %s through "
				    "%s %s: %s (retrying every %d to %d s until "
				    "it works)", rid, ever ?
				    "renew the subscription of" : "subscribe",
				    s->url, SUBSCRIBE, s->range, err.message,
				    BACKOFF_MIN, BACKOFF_MAX);
			else
				svc_log(SVC_DEBUG, "rid=%s subscription: still "
				    "failing: %s", rid, err.message);
			outage = true;
			delay = backoff;
			backoff = backoff * 2 < BACKOFF_MAX ? backoff * 2 :
			    BACKOFF_MAX;
		}
		s->quiet = true;
	}
	cJSON_free(body);
	vd_client_destroy(client);
	return NULL;
}

static void
rf_subscription_free(struct rf_subscription *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	bson_free(s->uri);
	bson_free(s->allowed);
	bson_free(s->url);
	bson_free(s->range);
	bson_free(s);
}

struct rf_subscription *
rf_subscription_start(const struct rf_config *cfg,
    struct svc_metrics *metrics, bson_error_t *error)
{
	struct rf_subscription *s;
	int rc;

	s = bson_malloc0(sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->uri = bson_strdup(cfg->mongodb_uri);	/* NULL stays NULL */
	s->url = bson_strdup(cfg->event_url);
	s->range = bson_strdup(cfg->tickets_range);
	s->allowed = bson_strdup(cfg->public_url);
	s->renew = cfg->renew;
	s->metrics = metrics;
	if ((rc = svc_thread_start(&s->thread, rf_subscription_main, s)) !=
	    0) {
		rf_subscription_free(s);
		bson_set_error(error, 0, (uint32_t)rc, "subscription: cannot "
		    "start its thread: %s", strerror(rc));
		return NULL;
	}
	return s;
}

void
rf_subscription_stop(struct rf_subscription *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	rf_subscription_free(s);
}

bool
rf_subscription_state(struct rf_subscription *s, char *version, size_t size)
{
	bool subscribed = false;

	if (size > 0)
		*version = '\0';
	if (s == NULL)
		return false;
	pthread_mutex_lock(&s->lock);
	subscribed = s->subscribed;
	snprintf(version, size, "%s", s->version);
	pthread_mutex_unlock(&s->lock);
	return subscribed;
}

bool
rf_subscription_decommission(const struct rf_config *cfg, bson_error_t *error)
{
	vd_client_t *client;
	vd_error_t err;
	char version[32], rid[48], *body, *reply = NULL;
	char failed[sizeof error->message] = "";
	cJSON *json;

	if ((client = new_client(cfg->mongodb_uri, cfg->public_url, &err)) ==
	    NULL) {
		bson_set_error(error, 0, 0, "%s", err.message);
		return false;
	}
	vd_client_set_logger(client, svc_log_vd, NULL);
	body = url_body(cfg->event_url);
	make_rid(rid, sizeof rid, "decommission", 1);
	use_token_file(client);
	/* Both steps are tried; what failed is said together. */
	if (call_once(client, UNSUBSCRIBE, UNSUBSCRIBE_RANGE, body, rid,
	    version, sizeof version, &reply, &err)) {
		json = reply != NULL ? cJSON_Parse(reply) : NULL;
		printf("unsubscribed %s through %s %s%s\n", cfg->event_url,
		    UNSUBSCRIBE, version,
		    cJSON_IsFalse(cJSON_GetObjectItem(json, "removed")) ?
		    " (it was not subscribed)" : "");
		cJSON_Delete(json);
	} else
		snprintf(failed, sizeof failed, "cannot unsubscribe %.160s: %s",
		    cfg->event_url, err.message);
	/* This host's entries only: the other hosts' stay. */
	if (vd_unregister_host(client, LATEST, cfg->version, cfg->public_url,
	    &err) == VD_OK)
		printf("unregistered %s %s\n", LATEST, cfg->version);
	else
		snprintf(failed + strlen(failed), sizeof failed -
		    strlen(failed), "%scannot unregister %s %s: %s",
		    *failed != '\0' ? "; " : "", LATEST, cfg->version,
		    err.message);
	bson_free(reply);
	cJSON_free(body);
	vd_client_destroy(client);
	if (*failed != '\0') {
		bson_set_error(error, 0, 0, "%s", failed);
		return false;
	}
	return true;
}
