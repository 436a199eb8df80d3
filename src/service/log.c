/*
 * log.c - one line per event on stderr, which spawn/stack sends to the
 * service's log file: time, who, level, message.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "service.h"

/* Process configuration, set once by main before any thread starts. */
static char log_who[64] = "service";
static enum svc_log_level log_min = SVC_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
svc_log_init(const char *name, const char *version, const char *level)
{
	size_t i;

	snprintf(log_who, sizeof log_who, "%s@%s", name, version);
	if (level == NULL)
		level = getenv("VD_LOG_LEVEL");
	for (i = 0; level != NULL && i < 4; i++)
		if (strcasecmp(level, level_names[i]) == 0)
			log_min = (enum svc_log_level)i;
	/* Lines from several threads must not interleave mid-line. */
	setvbuf(stderr, NULL, _IOLBF, 0);
}

bool
svc_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return false;
	if (dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* msg with every control character (newline, carriage return, escape...)
 * and backslash written as a C escape: what a request brought in (a user
 * name, a URL, an error from the database that quotes it) can neither
 * start a line that reads as ours nor drive a terminal. Escaped here, at
 * the one way out, rather than field by field by every caller. */
static void
escape_line(const char *msg, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *msg != '\0' && o + 5 <= size; msg++) {
		unsigned char c = (unsigned char)*msg;

		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

void
svc_log(enum svc_log_level level, const char *fmt, ...)
{
	char when[32], msg[1024], line[sizeof msg * 2];
	va_list ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	escape_line(msg, line, sizeof line);
	svc_iso_time(svc_now_ms(), when, sizeof when);
	/* One fprintf per line: stdio locks the stream for each call. */
	fprintf(stderr, "%s %s[%ld] %s %s\n", when, log_who, (long)getpid(),
	    level_names[level], line);
}

void
svc_log_vd(vd_log_level_t level, const char *message, void *userdata)
{
	(void)userdata;
	svc_log((enum svc_log_level)level, "%s", message);
}
