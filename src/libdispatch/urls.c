/*
 * urls.c - URL allow-lists: which scheme, host, port and path a URL may
 * reach. Pure code over libcurl's URL API: a URL is judged as the server
 * behind it will see it, not as it is written.
 *
 * What a server sees: libcurl sends the path it parsed (literal "." and
 * ".." segments removed, percent-encodings kept), and nginx then decodes
 * the percent-encodings, merges "//" and resolves the dot segments this
 * decoding made ("/replyfeed/%2e%2e/tickets/" reaches "/tickets/"). The
 * path compared here is that one. A path that would need a second
 * decoding to be known ("%252e"), or that decodes into "?", "#" or "\",
 * is refused rather than guessed at. Hosts are compared as libcurl
 * normalises them (IPv4 in any notation as a dotted quad, IPv6 in
 * brackets), without case and never resolved; a deny-list (what a URL
 * must never reach) also takes every loopback name and address for one
 * host: "localhost", 127.0.0.0/8, [::1], 0.0.0.0.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vd-private.h"

struct vd_url_rule {
	char *scheme;               /* NULL: http or https */
	char *host;                 /* NULL: any ("*") */
	char *port;                 /* NULL: any */
	char *path;                 /* normalised prefix; "/" for any */
};

struct vd_urls {
	struct vd_url_rule *rules;
	size_t n;
	char *spec;
};

void
vd_url_parts_clear(struct vd_url_parts *p)
{
	free(p->scheme);
	free(p->host);
	free(p->port);
	free(p->path);
	memset(p, 0, sizeof *p);
}

static char *
dup_lower(const char *s)
{
	char *d = strdup(s), *c;

	for (c = d; c != NULL && *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return d;
}

/* "//" as one "/", as nginx's merge_slashes does, in place. */
static void
merge_slashes(char *path)
{
	char *r, *w;

	for (r = w = path; *r != '\0'; r++)
		if (!(*r == '/' && w > path && w[-1] == '/'))
			*w++ = *r;
	*w = '\0';
}

/* The path nginx routes by for raw, the path libcurl sends: decoded,
 * slashes merged, dot segments resolved (by libcurl's parser). A new
 * string, or NULL when the path cannot be known for sure. */
static char *
effective_path(const char *raw, const char **why)
{
	CURLU *u = NULL;
	char *dec = NULL, *url = NULL, *path = NULL, *out = NULL;
	size_t len;

	*why = "the url's path does not decode to a plain path";
	if ((u = curl_url()) == NULL)
		return NULL;
	/* Decoded through libcurl: a %00 or another control byte fails. */
	if (curl_url_set(u, CURLUPART_URL, "http://h/", 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PATH, raw, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &dec, CURLU_URLDECODE) !=
	    CURLUE_OK)
		goto out;
	if (strpbrk(dec, "%?#\\") != NULL || dec[0] != '/')
		goto out;
	merge_slashes(dec);
	len = strlen(dec) + 16;
	if ((url = malloc(len)) == NULL)
		goto out;
	snprintf(url, len, "http://h%s", dec);
	/* Parsed again as a whole URL: that resolves the dot segments the
	 * decoding made, as the server will. */
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	merge_slashes(path);
	out = strdup(path);
out:
	curl_free(dec);
	curl_free(path);
	free(url);
	curl_url_cleanup(u);
	return out;
}

vd_code_t
vd_url_parse(const char *url, struct vd_url_parts *p, vd_error_t *error)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	const char *why = "not an http or https URL with a host";
	vd_code_t code = VD_EREFUSED;

	memset(p, 0, sizeof *p);
	if (url == NULL || (u = curl_url()) == NULL)
		return vd_error_set(error, VD_EREFUSED, 0, "URL not allowed: "
		    "%s", why);
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0' || strchr(host, '%') != NULL ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	p->scheme = strdup(scheme);
	p->host = dup_lower(host);
	p->port = strdup(port);
	if ((p->path = effective_path(path, &why)) == NULL ||
	    p->scheme == NULL || p->host == NULL || p->port == NULL)
		goto out;
	code = VD_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	if (code != VD_OK) {
		vd_url_parts_clear(p);
		vd_error_set(error, code, 0, "URL not allowed: %s", why);
	}
	return code;
}

bool
vd_url_loopback(const char *host)
{
	size_t n = strlen(host);

	if (strcmp(host, "localhost") == 0 ||
	    (n > 10 && strcmp(host + n - 10, ".localhost") == 0) ||
	    strcmp(host, "[::1]") == 0 || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "[::]") == 0)
		return true;
	/* libcurl wrote every IPv4 notation as a dotted quad. */
	if (strncmp(host, "[::ffff:", 8) == 0)
		host += 8;
	return strncmp(host, "127.", 4) == 0 &&
	    strspn(host, "0123456789.]") == strlen(host);
}

static bool
same_host(const char *a, const char *b, bool loopback_as_one)
{
	return strcmp(a, b) == 0 || (loopback_as_one && vd_url_loopback(a) &&
	    vd_url_loopback(b));
}

/* Whether path is prefix or below it, at a segment boundary. */
static bool
under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0)
		return false;
	return n > 0 && (prefix[n - 1] == '/' || path[n] == '\0' ||
	    path[n] == '/');
}

bool
vd_urls_match_parts(const vd_urls_t *urls, const struct vd_url_parts *p,
    bool loopback_as_one)
{
	size_t i;

	for (i = 0; urls != NULL && i < urls->n; i++) {
		const struct vd_url_rule *r = &urls->rules[i];

		if (r->scheme != NULL && strcmp(r->scheme, p->scheme) != 0)
			continue;
		if (r->host != NULL && !same_host(r->host, p->host,
		    loopback_as_one))
			continue;
		if (r->port != NULL && strcmp(r->port, p->port) != 0)
			continue;
		if (under(p->path, r->path))
			return true;
	}
	return false;
}

/* One entry of a list: "*", "host[:port]" or "scheme://host[:port][/path]". */
static vd_code_t
rule_parse(const char *text, struct vd_url_rule *r, vd_error_t *error)
{
	struct vd_url_parts p;
	char *url;
	size_t len;
	bool bare;

	memset(r, 0, sizeof *r);
	if (strcmp(text, "*") == 0) {
		r->path = strdup("/");
		return r->path != NULL ? VD_OK : vd_error_set(error, VD_ENOMEM,
		    0, "out of memory");
	}
	bare = strstr(text, "://") == NULL;
	if (bare && strpbrk(text, "/?#@") != NULL)
		goto bad;
	len = strlen(text) + 16;
	if ((url = malloc(len)) == NULL)
		return vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	snprintf(url, len, "%s%s", bare ? "http://" : "", text);
	if (vd_url_parse(url, &p, NULL) != VD_OK) {
		free(url);
		goto bad;
	}
	if (bare) {
		/* http or https, and any port unless one is named. */
		free(p.scheme);
		p.scheme = NULL;
		if (strchr(strrchr(url, ']') != NULL ? strrchr(url, ']') :
		    url + 7, ':') == NULL) {
			free(p.port);
			p.port = NULL;
		}
	}
	free(url);
	r->scheme = p.scheme;
	r->host = p.host;
	r->port = p.port;
	r->path = p.path;
	return VD_OK;
bad:
	return vd_error_set(error, VD_EINVAL, 0, "Bad allow-list entry \"%.80s\" "
	    "(expected *, host, host:port or scheme://host[:port][/path])",
	    text);
}

vd_urls_t *
vd_urls_new(const char *list, vd_error_t *error)
{
	vd_urls_t *urls;
	const char *s = list != NULL ? list : "";
	char *item;
	size_t len;

	if ((urls = calloc(1, sizeof *urls)) == NULL ||
	    (urls->spec = strdup(s)) == NULL)
		goto nomem;
	while (*s != '\0') {
		s += strspn(s, ", \t");
		len = strcspn(s, ", \t");
		if (len == 0)
			break;
		if ((item = strndup(s, len)) == NULL ||
		    (urls->rules = realloc(urls->rules, (urls->n + 1) *
		    sizeof *urls->rules)) == NULL) {
			free(item);
			goto nomem;
		}
		if (rule_parse(item, &urls->rules[urls->n], error) != VD_OK) {
			free(item);
			vd_urls_destroy(urls);
			return NULL;
		}
		urls->n++;
		free(item);
		s += len;
	}
	return urls;
nomem:
	vd_urls_destroy(urls);
	vd_error_set(error, VD_ENOMEM, 0, "out of memory");
	return NULL;
}

void
vd_urls_destroy(vd_urls_t *urls)
{
	size_t i;

	if (urls == NULL)
		return;
	for (i = 0; i < urls->n; i++) {
		free(urls->rules[i].scheme);
		free(urls->rules[i].host);
		free(urls->rules[i].port);
		free(urls->rules[i].path);
	}
	free(urls->rules);
	free(urls->spec);
	free(urls);
}

const char *
vd_urls_spec(const vd_urls_t *urls)
{
	return urls != NULL ? urls->spec : "";
}

vd_code_t
vd_urls_check(const vd_urls_t *urls, const char *url, vd_error_t *error)
{
	struct vd_url_parts p;
	bool ok;

	if (vd_url_parse(url, &p, error) != VD_OK)
		return VD_EREFUSED;
	ok = vd_urls_match_parts(urls, &p, false);
	vd_url_parts_clear(&p);
	if (!ok)
		return vd_error_set(error, VD_EREFUSED, 0, "URL not allowed: "
		    "%.120s is not on the allow-list (%.80s)", url,
		    vd_urls_spec(urls));
	return VD_OK;
}

bool
vd_urls_reaches(const vd_urls_t *urls, const char *url)
{
	struct vd_url_parts p;
	bool ok;

	if (vd_url_parse(url, &p, NULL) != VD_OK)
		return false;
	ok = vd_urls_match_parts(urls, &p, true);
	vd_url_parts_clear(&p);
	return ok;
}

size_t
vd_url_origin(const char *url, char *buf, size_t size)
{
	const char *sep = url != NULL ? strstr(url, "://") : NULL;
	size_t len, i;

	if (sep == NULL) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	len = (size_t)(sep - url) + 3 + strcspn(sep + 3, "/?#");
	if (len >= size) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	for (i = 0; i < len; i++)
		buf[i] = (char)tolower((unsigned char)url[i]);
	buf[len] = '\0';
	return len;
}
