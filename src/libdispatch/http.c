/*
 * http.c - one HTTP request through libcurl, and what its outcome means
 * for a caller that may try elsewhere: whether anything was sent, and
 * whether the status is success (2xx), the caller's fault (4xx) or the
 * service's (anything else).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vd-private.h"

bool
vd_http_json_type(const char *content_type)
{
	size_t len = strcspn(content_type, ";");

	while (len > 0 && isspace((unsigned char)content_type[len - 1]))
		len--;
	if (len == 16 && strncasecmp(content_type, "application/json", 16) == 0)
		return true;
	/* A structured syntax suffix (RFC 6839): application/problem+json. */
	return len > 5 && memchr(content_type, '/', len) != NULL &&
	    strncasecmp(content_type + len - 5, "+json", 5) == 0;
}

bool
vd_http_url_allowed(const char *url)
{
	if (url == NULL)
		return false;
	if (strncasecmp(url, "http://", 7) == 0)
		return url[7] != '\0';
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	return false;
}

long
vd_http_retry_after(const char *value)
{
	size_t digits;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	digits = strspn(value, "0123456789");
	if (digits > 0 && digits <= 9 && value[digits] == '\0')
		return strtol(value, NULL, 10);
	if (digits > 0 || (when = curl_getdate(value, NULL)) == -1)
		return -1;
	return when > time(NULL) ? (long)(when - time(NULL)) : 0;
}

void
vd_http_response_clear(vd_http_response_t *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof *resp);
	resp->retry_after_s = -1;
}

static size_t
on_body(char *data, size_t size, size_t n, void *userdata)
{
	vd_http_response_t *resp = userdata;
	size_t len = size * n;

	if (resp->len + len > (size_t)VD_HTTP_MAX_BODY) {
		resp->code = VD_EREPLY;
		return 0;       /* aborts the transfer */
	}
	if (resp->len + len + 1 > resp->cap) {
		size_t cap = resp->cap != 0 ? resp->cap : 1024;
		char *p;

		while (cap < resp->len + len + 1)
			cap *= 2;
		if ((p = realloc(resp->body, cap)) == NULL) {
			resp->code = VD_ENOMEM;
			return 0;
		}
		resp->body = p;
		resp->cap = cap;
	}
	memcpy(resp->body + resp->len, data, len);
	resp->len += len;
	resp->body[resp->len] = '\0';
	return len;
}

/* Copies the value of a header line ("Name: value\r\n") after its name
 * of skip bytes into buf, trimmed; false when it does not fit. */
static bool
header_value(const char *data, size_t len, size_t skip, char *buf,
    size_t size)
{
	while (skip < len && (data[skip] == ' ' || data[skip] == '\t'))
		skip++;
	while (len > skip && isspace((unsigned char)data[len - 1]))
		len--;
	if (len - skip >= size)
		return false;
	memcpy(buf, data + skip, len - skip);
	buf[len - skip] = '\0';
	return true;
}

static size_t
on_header(char *data, size_t size, size_t n, void *userdata)
{
	vd_http_response_t *resp = userdata;
	size_t len = size * n;
	char value[64];

	/* Every response (a 100 Continue too) starts a new set of headers. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		resp->retry_after_s = -1;
		resp->content_type[0] = '\0';
	}
	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0 &&
	    header_value(data, len, 12, value, sizeof value))
		resp->retry_after_s = vd_http_retry_after(value);
	/* One too long for the buffer is no JSON type, and reads as none
	 * of ours: "?" keeps it from passing for a missing header. */
	if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0 &&
	    !header_value(data, len, 13, resp->content_type,
	    sizeof resp->content_type))
		strcpy(resp->content_type, "?");
	return len;
}

vd_code_t
vd_http_prepare(CURL *easy)
{
	bool ok = true;

	/* No SIGALRM for timeouts: we may live in a threaded service. */
	ok = ok && curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	ok = ok && curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR,
	    "http,https") == CURLE_OK;
#else
	ok = ok && curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	/* A redirect is an answer like any other: not followed, and not a
	 * success, so that a POST is never re-sent somewhere unexpected. */
	ok = ok && curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) ==
	    CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) ==
	    CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header) ==
	    CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_USERAGENT,
	    "vdispatch/" VD_VERSION_STRING) == CURLE_OK;
	return ok ? VD_OK : VD_ENOMEM;
}

vd_code_t
vd_http_setup(CURL *easy, const vd_http_request_t *req,
    vd_http_response_t *resp)
{
	bool post = strcmp(req->method, "POST") == 0;
	bool ok = true;

	vd_http_response_clear(resp);
	if (!vd_http_url_allowed(req->url)) {
		resp->code = VD_EREFUSED;
		resp->unsent = true;
		snprintf(resp->reason, sizeof resp->reason,
		    "URL not allowed (only http and https)");
		return VD_EREFUSED;
	}
	/* Every option a request may set is set here, each time: the handle
	 * keeps what vd_http_prepare() set, and its connections, and a
	 * curl_easy_reset() would cost as much as the rest of the call. */
	ok = ok && curl_easy_setopt(easy, CURLOPT_URL, req->url) == CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_ms > 0 ? req->connect_ms : 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
	    req->total_ms > 0 ? req->total_ms : 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_WRITEDATA, resp) == CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_HEADERDATA, resp) ==
	    CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, resp->errbuf) ==
	    CURLE_OK;
	ok = ok && curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers) ==
	    CURLE_OK;
	if (post) {
		ok = ok && curl_easy_setopt(easy, CURLOPT_POST, 1L) == CURLE_OK;
		ok = ok && curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
		    req->body != NULL ? req->body : "") == CURLE_OK;
		ok = ok && curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(req->body != NULL ? req->body_len : 0)) ==
		    CURLE_OK;
	} else {
		/* No pointer left to the last POST's body (setting it makes a
		 * POST: the GET comes after). */
		ok = ok && curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL) ==
		    CURLE_OK;
		ok = ok && curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L) ==
		    CURLE_OK;
	}
	if (!ok) {
		resp->code = VD_ENOMEM;
		resp->unsent = true;
		snprintf(resp->reason, sizeof resp->reason,
		    "cannot set up the request");
		return VD_ENOMEM;
	}
	return VD_OK;
}

/* A short cause for a transfer that got no complete answer. */
static void
transport_reason(CURL *easy, CURLcode rc, vd_http_response_t *resp)
{
	long os_errno = 0;
	curl_off_t us = 0;

	curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED || os_errno == 0)
			snprintf(resp->reason, sizeof resp->reason,
			    "connection refused");
		else
			snprintf(resp->reason, sizeof resp->reason,
			    "cannot connect: %s", strerror((int)os_errno));
		return;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(resp->reason, sizeof resp->reason,
		    "timed out after %ld ms", (long)(us / 1000));
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(resp->reason, sizeof resp->reason,
		    "cannot resolve host");
		return;
	case CURLE_GOT_NOTHING:
		snprintf(resp->reason, sizeof resp->reason,
		    "connection closed without a reply");
		return;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		if (os_errno == ECONNRESET || os_errno == EPIPE) {
			snprintf(resp->reason, sizeof resp->reason,
			    "connection reset");
			return;
		}
		break;
	default:
		break;
	}
	/* curl's message, cut to fit: reason is a one-line summary. */
	snprintf(resp->reason, sizeof resp->reason, "%.*s",
	    (int)sizeof resp->reason - 1,
	    resp->errbuf[0] != '\0' ? resp->errbuf : curl_easy_strerror(rc));
}

vd_code_t
vd_http_finish(CURL *easy, CURLcode rc, vd_http_response_t *resp)
{
	long status = 0, sent = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
	/* resp may go before the handle does. */
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
	resp->status = (int)status;
	resp->unsent = sent == 0;
	if (resp->body == NULL && (resp->body = calloc(1, 1)) == NULL)
		resp->code = VD_ENOMEM;
	if (resp->code == VD_ENOMEM) {
		snprintf(resp->reason, sizeof resp->reason, "out of memory");
		return VD_ENOMEM;
	}
	if (rc == CURLE_WRITE_ERROR && resp->code == VD_EREPLY) {
		snprintf(resp->reason, sizeof resp->reason,
		    "reply over %ld bytes", VD_HTTP_MAX_BODY);
		return VD_EREPLY;
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
		resp->code = VD_EREFUSED;
		snprintf(resp->reason, sizeof resp->reason,
		    "URL not allowed (only http and https)");
		return VD_EREFUSED;
	}
	if (rc != CURLE_OK) {
		resp->code = VD_ETRANSPORT;
		resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		transport_reason(easy, rc, resp);
		return VD_ETRANSPORT;
	}
	if (status >= 200 && status <= 299)
		resp->code = VD_OK;
	else
		resp->code = status >= 400 && status <= 499 ? VD_ECLIENT :
		    VD_EHTTP;
	if (resp->code != VD_OK)
		snprintf(resp->reason, sizeof resp->reason, "HTTP %ld", status);
	return resp->code;
}

vd_code_t
vd_http_perform(CURL *easy, const vd_http_request_t *req,
    vd_http_response_t *resp)
{
	vd_code_t code = vd_http_setup(easy, req, resp);

	if (code != VD_OK)
		return code;
	return vd_http_finish(easy, curl_easy_perform(easy), resp);
}
