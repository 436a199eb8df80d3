/*
 * runtime.c - what every part of the library leans on: the one-time
 * initialisation of its libraries, the clocks, and a client's logger and
 * observer. It calls nothing else of the library.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "vd-private.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init_once(void)
{
	mongoc_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Both libraries want one initialisation per process, before any thread
 * uses them; neither is ever cleaned up, since the library cannot know
 * that its host is done with them. */
void
vd_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

int64_t
vd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
vd_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vd_log(const vd_client_t *client, vd_log_level_t level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (client == NULL || client->log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	client->log_fn(level, line, client->log_userdata);
}

void
vd_observe(const vd_client_t *client, const vd_observation_t *obs)
{
	if (client != NULL && client->observe_fn != NULL)
		client->observe_fn(obs, client->observe_userdata);
}

