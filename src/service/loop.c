/*
 * loop.c - the FastCGI accept loop: copy the request out, route it, write
 * the response, until SIGTERM (or SIGINT, or SIGUSR1, which multiwatch
 * sends by default to stop its workers).
 *
 * The response is formatted with snprintf and written with FCGX_PutStr:
 * libfcgi's own FCGX_FPrintF does not know %zu and silently breaks the
 * response.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "service.h"

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

bool
svc_stopping(void)
{
	return stopping != 0;
}

int
svc_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: accept() must return so the loop can end. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* multiwatch's default "graceful" stop signal (lighttpd's). */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Reads at most SVC_BODY_MAX + 1 bytes: one more than allowed is enough
 * to know the body is too large. */
static void
read_body(FCGX_Request *fr, struct svc_request *req)
{
	char chunk[8192];
	int n;

	if (req->body_too_large || req->content_length == 0)
		return;
	while (req->body_len <= SVC_BODY_MAX &&
	    (n = FCGX_GetStr(chunk, sizeof chunk, fr->in)) > 0)
		svc_request_add_body(req, chunk, (size_t)n);
	if (req->body_len > SVC_BODY_MAX)
		req->body_too_large = true;
}

static void
put(void *out, const char *data, size_t len)
{
	/* FCGX_PutStr takes an int: a large piece goes in slices. */
	while (len > 0) {
		int n = len > 1 << 20 ? 1 << 20 : (int)len;

		FCGX_PutStr(data, n, out);
		data += n;
		len -= (size_t)n;
	}
}

/* Writes the response; false when a streamed body failed part-way. */
static bool
write_response(FCGX_Request *fr, const struct svc_request *req,
    const struct svc_response *resp)
{
	bool head = strcmp(req->method, "HEAD") == 0;
	char line[256];
	int n;

	n = snprintf(line, sizeof line,
	    "Status: %d %s\r\nContent-Type: %s\r\nX-Request-Id: %s\r\n",
	    resp->status, svc_status_text(resp->status), resp->content_type,
	    req->request_id);
	FCGX_PutStr(line, n, fr->out);
	if (resp->stream == NULL) {
		n = snprintf(line, sizeof line, "Content-Length: %lu\r\n",
		    (unsigned long)resp->body.len);
		FCGX_PutStr(line, n, fr->out);
	}
	if (resp->headers.len > 0)
		put(fr->out, resp->headers.data, resp->headers.len);
	FCGX_PutStr("\r\n", 2, fr->out);
	if (head)
		return true;
	if (resp->stream != NULL)
		return resp->stream(resp->stream_arg, put, fr->out);
	if (resp->body.len > 0)
		put(fr->out, resp->body.data, resp->body.len);
	return true;
}

/* A request that failed on our side (5xx) is an event: one line, with the
 * request id that the response, nginx's access log and the services
 * called carry too (every request is in nginx's access log). The path is
 * the client's: bytes that could forge a line are shown as '?'. */
static void
log_failure(const struct svc_request *req, const struct svc_response *resp,
    double seconds)
{
	char path[256];
	size_t i;

	if (resp->status < 500)
		return;
	snprintf(path, sizeof path, "%s%s", req->script_name, req->path);
	for (i = 0; path[i] != '\0'; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			path[i] = '?';
	svc_log(SVC_WARN, "rid=%s %s %s status=%d ms=%.1f", req->request_id,
	    req->method, path, resp->status, seconds * 1000);
}

int
svc_loop_run(const struct svc_loop *loop)
{
	struct svc_request req;
	struct svc_response resp;
	FCGX_Request fr;
	unsigned long long seq = 0;
	unsigned int prefix;
	char rid[40];

	if (FCGX_Init() != 0 || FCGX_IsCGI()) {
		svc_log(SVC_ERROR, "fd 0 is not a FastCGI socket: run me "
		    "under spawn-fcgi (or another FastCGI process manager)");
		return -1;
	}
	install_signals();
	FCGX_InitRequest(&fr, 0, 0);
	memset(&req, 0, sizeof req);
	svc_response_init(&resp);
	/* Request ids unique across the processes of a host: pid and time. */
	prefix = (unsigned int)getpid() ^ (unsigned int)svc_now_ms();

	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		const struct svc_route *route = NULL;
		double t0 = svc_monotonic(), elapsed;

		snprintf(rid, sizeof rid, "%08x%08llx", prefix, ++seq);
		svc_request_from_env(&req, fr.envp, rid);
		read_body(&fr, &req);
		if (req.body_too_large)
			svc_response_error(&resp, 413, "payload too large",
			    "the body is over %d bytes", SVC_BODY_MAX);
		else if (loop->before == NULL ||
		    loop->before(&req, &resp, loop->app))
			route = svc_route(loop->routes, loop->n_routes, &req,
			    &resp, loop->app, loop->auth);
		/* Counted before the answer leaves: a client that has its
		 * answer finds its request in the metrics. */
		elapsed = svc_monotonic() - t0;
		svc_metrics_request(loop->metrics, &req, &resp, route, elapsed);
		if (!write_response(&fr, &req, &resp)) {
			/* Cut short: no end of request, so that nginx
			 * drops the client's connection too. */
			svc_log(SVC_WARN, "rid=%s response cut short",
			    req.request_id);
			shutdown(fr.ipcFd, SHUT_RDWR);
		}
		FCGX_Finish_r(&fr);
		log_failure(&req, &resp, elapsed);
		if (loop->after != NULL)
			loop->after(&req, &resp, route, elapsed, loop->app);
		svc_request_clear(&req);
		svc_response_clear(&resp);
	}
	FCGX_Free(&fr, 1);
	svc_buf_free(&req.body_buf);
	svc_response_free(&resp);
	return 0;
}
