/*
 * sender.c - event POSTs, many at once, through one libcurl multi handle.
 *
 * POSTs wait in our own queue until they may start: libcurl would queue
 * them too (CURLMOPT_MAX_HOST_CONNECTIONS), but its per-transfer timeout
 * runs while they wait there, so a slow subscriber would make the POSTs
 * behind it time out unsent. Here a POST's time limit starts when it does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "vd-private.h"

#define MAX_IN_FLIGHT 64       /* POSTs running at once, all hosts */
#define MAX_PER_HOST 8         /* ... and to one scheme://host:port */
#define MAX_EVENT_ID 200

struct vd_transfer {
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *origin;          /* scheme://host:port */
	char *event_id;
	char **extra;          /* "Name: value" lines, NULL-terminated */
	char *body;
	size_t len;
	vd_delivered_fn done;
	void *userdata;
	vd_http_response_t resp;
	int64_t started_ms;
	struct vd_transfer *next;
};

struct vd_sender {
	CURLM *multi;
	long connect_ms;
	long total_ms;
	size_t max_in_flight;
	size_t max_per_host;
	vd_secrets_t *secrets;          /* NULL: unsigned */
	struct vd_transfer *queue;      /* not started, oldest first */
	struct vd_transfer *active;     /* in the multi handle */
	size_t n_queued;
	size_t n_active;
};

vd_sender_t *
vd_sender_new(vd_error_t *error)
{
	vd_sender_t *sender;

	vd_global_init();
	if ((sender = calloc(1, sizeof *sender)) == NULL ||
	    (sender->multi = curl_multi_init()) == NULL) {
		free(sender);
		vd_error_set(error, VD_ENOMEM, 0, "out of memory");
		return NULL;
	}
	curl_multi_setopt(sender->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)MAX_PER_HOST);
	/* Enough idle connections kept for keep-alive to every host. */
	curl_multi_setopt(sender->multi, CURLMOPT_MAXCONNECTS,
	    (long)MAX_IN_FLIGHT);
	sender->connect_ms = 2000;
	sender->total_ms = 15000;
	sender->max_in_flight = MAX_IN_FLIGHT;
	sender->max_per_host = MAX_PER_HOST;
	return sender;
}

static void
transfer_free(vd_sender_t *sender, struct vd_transfer *t)
{
	char **h;

	if (t->easy != NULL) {
		curl_multi_remove_handle(sender->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->headers);
	vd_http_response_clear(&t->resp);
	free(t->url);
	free(t->origin);
	free(t->event_id);
	for (h = t->extra; h != NULL && *h != NULL; h++)
		free(*h);
	free(t->extra);
	free(t->body);
	free(t);
}

void
vd_sender_destroy(vd_sender_t *sender)
{
	struct vd_transfer *t, *next;

	if (sender == NULL)
		return;
	for (t = sender->active; t != NULL; t = next) {
		next = t->next;
		transfer_free(sender, t);
	}
	for (t = sender->queue; t != NULL; t = next) {
		next = t->next;
		transfer_free(sender, t);
	}
	curl_multi_cleanup(sender->multi);
	if (sender->secrets != NULL)
		OPENSSL_cleanse(sender->secrets, sizeof *sender->secrets);
	free(sender->secrets);
	free(sender);
}

void
vd_sender_set_timeouts(vd_sender_t *sender, long connect_ms, long total_ms)
{
	if (sender == NULL)
		return;
	if (connect_ms > 0)
		sender->connect_ms = connect_ms;
	if (total_ms > 0)
		sender->total_ms = total_ms;
}

void
vd_sender_set_limits(vd_sender_t *sender, long per_host, long total)
{
	if (sender == NULL)
		return;
	if (per_host > 0)
		sender->max_per_host = (size_t)per_host;
	if (total > 0)
		sender->max_in_flight = (size_t)total;
	curl_multi_setopt(sender->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)sender->max_per_host);
	curl_multi_setopt(sender->multi, CURLMOPT_MAXCONNECTS,
	    (long)sender->max_in_flight);
}

vd_code_t
vd_sender_set_secrets(vd_sender_t *sender, const char *secrets,
    vd_error_t *error)
{
	vd_secrets_t *keys;
	vd_code_t rc;

	if (sender == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_sender_set_secrets: NULL sender");
	if (secrets == NULL || *secrets == '\0') {
		keys = NULL;
	} else {
		if ((keys = malloc(sizeof *keys)) == NULL)
			return vd_error_set(error, VD_ENOMEM, 0,
			    "out of memory");
		if ((rc = vd_secrets_parse(secrets, keys, error)) != VD_OK) {
			free(keys);
			return rc;
		}
	}
	if (sender->secrets != NULL)
		OPENSSL_cleanse(sender->secrets, sizeof *sender->secrets);
	free(sender->secrets);
	sender->secrets = keys;
	return VD_OK;
}

/* "scheme://host:port" of url, the unit of the per-host limit; NULL when
 * url does not parse (or no memory). */
static char *
url_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *origin = NULL;
	size_t len;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK) {
		len = strlen(scheme) + strlen(host) + strlen(port) + 5;
		if ((origin = malloc(len)) != NULL)
			snprintf(origin, len, "%s://%s:%s", scheme, host, port);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return origin;
}

vd_code_t
vd_sender_post(vd_sender_t *sender, const char *url, const char *event_id,
    const char *body, size_t len, vd_delivered_fn done, void *userdata,
    vd_error_t *error)
{
	return vd_sender_post_headers(sender, url, event_id, body, len, NULL,
	    done, userdata, error);
}

/* One header line, no line break in it: nothing smuggled into the
 * request. */
static bool
header_line(const char *h)
{
	const char *colon = strchr(h, ':');

	return colon != NULL && colon != h && strpbrk(h, "\r\n") == NULL &&
	    strlen(h) < 1024;
}

vd_code_t
vd_sender_post_headers(vd_sender_t *sender, const char *url,
    const char *event_id, const char *body, size_t len,
    const char *const *headers, vd_delivered_fn done, void *userdata,
    vd_error_t *error)
{
	struct vd_transfer *t, **tail;
	size_t n = 0, i;

	if (sender == NULL || event_id == NULL || *event_id == '\0' ||
	    strlen(event_id) > MAX_EVENT_ID ||
	    strpbrk(event_id, "\r\n") != NULL || (body == NULL && len > 0))
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_sender_post: bad argument");
	if (!vd_http_url_allowed(url))
		return vd_error_set(error, VD_EINVAL, 0,
		    "Not an http or https URL: %s", url != NULL ? url : "(null)");
	for (; headers != NULL && headers[n] != NULL; n++)
		if (!header_line(headers[n]))
			return vd_error_set(error, VD_EINVAL, 0,
			    "vd_sender_post_headers: not a header line");
	if ((t = calloc(1, sizeof *t)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	vd_http_response_clear(&t->resp);
	if (n > 0) {
		if ((t->extra = calloc(n + 1, sizeof *t->extra)) == NULL) {
			transfer_free(sender, t);
			return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
		}
		for (i = 0; i < n; i++)
			if ((t->extra[i] = strdup(headers[i])) == NULL) {
				transfer_free(sender, t);
				return vd_error_set(error, VD_ENOMEM, 0,
				    "out of memory");
			}
	}
	t->url = strdup(url);
	t->event_id = strdup(event_id);
	t->body = malloc(len + 1);
	t->origin = url_origin(url);
	if (t->url == NULL || t->event_id == NULL || t->body == NULL) {
		transfer_free(sender, t);
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	}
	if (t->origin == NULL) {
		transfer_free(sender, t);
		return vd_error_set(error, VD_EINVAL, 0, "Not a URL: %s", url);
	}
	if (len > 0)
		memcpy(t->body, body, len);
	t->body[len] = '\0';
	t->len = len;
	t->done = done;
	t->userdata = userdata;
	for (tail = &sender->queue; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = t;
	sender->n_queued++;
	return VD_OK;
}

size_t
vd_sender_pending(const vd_sender_t *sender)
{
	return sender != NULL ? sender->n_queued + sender->n_active : 0;
}

/* Reports a finished POST to its callback, then forgets it. */
static void
report(vd_sender_t *sender, struct vd_transfer *t)
{
	int status = t->resp.status;
	vd_delivery_t d = {
		.url = t->url,
		.event_id = t->event_id,
		.http_status = status,
		.code = t->resp.code,
		.error = t->resp.code == VD_OK ? "" : t->resp.reason,
		.retry_after_s = status == 429 || status == 503 ?
		    t->resp.retry_after_s : -1,
		.elapsed_ms = (long)(vd_mono_ms() - t->started_ms),
	};

	if (t->done != NULL)
		t->done(&d, t->userdata);
	transfer_free(sender, t);
}

/* Hands t to libcurl; false (and t->resp says why) when it cannot. */
static bool
start(vd_sender_t *sender, struct vd_transfer *t)
{
	vd_http_request_t req = {
		.method = "POST",
		.url = t->url,
		.body = t->body,
		.body_len = t->len,
		.connect_ms = sender->connect_ms < sender->total_ms ?
		    sender->connect_ms : sender->total_ms,
		.total_ms = sender->total_ms,
	};
	char id[MAX_EVENT_ID + 16], stamp[64], *sig = NULL, *line = NULL, **h;
	int64_t now = (int64_t)time(NULL);
	bool ok;

	t->started_ms = vd_mono_ms();
	snprintf(id, sizeof id, "webhook-id: %s", t->event_id);
	/* curl_slist_append returns the list's head, or NULL when out of
	 * memory; the head is the first node appended. */
	t->headers = curl_slist_append(NULL, "Content-Type: application/json");
	ok = t->headers != NULL && curl_slist_append(t->headers, id) != NULL &&
	    curl_slist_append(t->headers, "Expect:") != NULL;
	for (h = t->extra; ok && h != NULL && *h != NULL; h++)
		ok = curl_slist_append(t->headers, *h) != NULL;
	if (ok && sender->secrets != NULL) {
		/* Each attempt is signed at its own time: a receiver's
		 * five-minute window must not close on a late retry. */
		snprintf(stamp, sizeof stamp, "webhook-timestamp: %" PRId64,
		    now);
		sig = vd_secrets_sign(sender->secrets, t->event_id, now,
		    t->body, t->len);
		if (sig != NULL && (line = malloc(strlen(sig) + 32)) != NULL)
			sprintf(line, "webhook-signature: %s", sig);
		ok = line != NULL &&
		    curl_slist_append(t->headers, stamp) != NULL &&
		    curl_slist_append(t->headers, line) != NULL;
		free(sig);
		free(line);
	}
	req.headers = t->headers;
	if (!ok || (t->easy = curl_easy_init()) == NULL ||
	    vd_http_prepare(t->easy) != VD_OK) {
		t->resp.code = VD_ENOMEM;
		snprintf(t->resp.reason, sizeof t->resp.reason,
		    "out of memory");
		return false;
	}
	if (vd_http_setup(t->easy, &req, &t->resp) != VD_OK)
		return false;
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	if (curl_multi_add_handle(sender->multi, t->easy) != CURLM_OK) {
		t->resp.code = VD_ENOMEM;
		snprintf(t->resp.reason, sizeof t->resp.reason,
		    "cannot start the transfer");
		return false;
	}
	return true;
}

static size_t
active_to(const vd_sender_t *sender, const char *origin)
{
	const struct vd_transfer *t;
	size_t n = 0;

	for (t = sender->active; t != NULL; t = t->next)
		n += strcmp(t->origin, origin) == 0;
	return n;
}

/* Starts queued POSTs in order, as far as the limits allow; one whose
 * host is busy lets the ones behind it to other hosts go first. Returns
 * how many changed state (started or failed at once). */
static size_t
start_queued(vd_sender_t *sender)
{
	struct vd_transfer **pp = &sender->queue, *t;
	size_t moved = 0;

	while ((t = *pp) != NULL && sender->n_active < sender->max_in_flight) {
		if (active_to(sender, t->origin) >= sender->max_per_host) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		sender->n_queued--;
		moved++;
		if (!start(sender, t)) {
			report(sender, t);
			continue;
		}
		t->next = sender->active;
		sender->active = t;
		sender->n_active++;
	}
	return moved;
}

size_t
vd_sender_cancel(vd_sender_t *sender, void *userdata)
{
	struct vd_transfer **lists[2], **pp, *t;
	size_t n = 0, i;

	if (sender == NULL)
		return 0;
	lists[0] = &sender->queue;
	lists[1] = &sender->active;
	for (i = 0; i < 2; i++)
		for (pp = lists[i]; (t = *pp) != NULL;) {
			if (t->userdata != userdata) {
				pp = &t->next;
				continue;
			}
			*pp = t->next;
			if (i == 0)
				sender->n_queued--;
			else
				sender->n_active--;
			if (t->easy != NULL)
				curl_multi_remove_handle(sender->multi,
				    t->easy);
			vd_http_response_clear(&t->resp);
			t->resp.code = VD_ECANCELED;
			snprintf(t->resp.reason, sizeof t->resp.reason,
			    "canceled");
			/* Out of the multi handle before the callback, which
			 * may queue more (a second removal is harmless). */
			report(sender, t);
			n++;
		}
	return n;
}

/* Reports every transfer libcurl has finished; returns how many. */
static size_t
reap(vd_sender_t *sender)
{
	CURLMsg *msg;
	int left;
	size_t n = 0;

	while ((msg = curl_multi_info_read(sender->multi, &left)) != NULL) {
		struct vd_transfer *t, **pp;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		t = (struct vd_transfer *)priv;
		for (pp = &sender->active; *pp != NULL && *pp != t;
		    pp = &(*pp)->next)
			;
		if (t == NULL || *pp == NULL)
			continue;
		*pp = t->next;
		sender->n_active--;
		vd_http_finish(t->easy, msg->data.result, &t->resp);
		report(sender, t);
		n++;
	}
	return n;
}

vd_code_t
vd_sender_poll(vd_sender_t *sender, int timeout_ms, vd_error_t *error)
{
	CURLMcode mc;
	int running;
	size_t done;

	if (sender == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_sender_poll: NULL sender");
	done = start_queued(sender);
	if ((mc = curl_multi_perform(sender->multi, &running)) != CURLM_OK)
		goto fail;
	done += reap(sender);
	if (done == 0) {
		/* Nothing to report yet: wait for activity, a libcurl
		 * timer, a wakeup or the caller's timeout. */
		mc = curl_multi_poll(sender->multi, NULL, 0,
		    timeout_ms > 0 ? timeout_ms : 0, NULL);
		if (mc != CURLM_OK ||
		    (mc = curl_multi_perform(sender->multi, &running)) !=
		    CURLM_OK)
			goto fail;
		reap(sender);
	}
	/* Slots freed by finished POSTs go to the next ones now. */
	if (start_queued(sender) > 0 &&
	    (mc = curl_multi_perform(sender->multi, &running)) != CURLM_OK)
		goto fail;
	return VD_OK;
fail:
	return vd_error_set(error, VD_ENOMEM, 0, "libcurl: %s",
	    curl_multi_strerror(mc));
}

void
vd_sender_wakeup(vd_sender_t *sender)
{
	if (sender != NULL)
		curl_multi_wakeup(sender->multi);
}
