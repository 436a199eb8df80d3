/*
 * log.c - one line per event on stderr: time, who, level, message. stderr
 * is the service's log file (--log, reopened on SIGHUP or SIGUSR2, after
 * a rotation), or the journal under systemd, which gets each line with
 * its priority instead of a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

/* Process configuration, set once by main before any thread starts. */
static char log_who[64] = "service";
static enum svc_log_level log_min = SVC_INFO;
static bool log_journal;
static char log_path[PATH_MAX];

static const char *const level_names[] = { "debug", "info", "warn", "error" };
/* sd-daemon(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const int level_priorities[] = { 7, 6, 4, 3 };

/* True when stderr is the stream systemd named in $JOURNAL_STREAM
 * ("DEVICE:INODE"): then the journal reads "<N>" prefixes as priorities. */
static bool
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%ju:%ju", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

static bool
level_parse(const char *text, enum svc_log_level *level)
{
	size_t i;

	for (i = 0; text != NULL && i < 4; i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = (enum svc_log_level)i;
			return true;
		}
	}
	return false;
}

/* Opens log_path on stderr: open, dup2 and close only, which are
 * async-signal-safe, so that the signal handler can call it. */
static bool
reopen(void)
{
	int fd;

	if (log_path[0] == '\0')
		return true;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	if (dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* After logrotate renamed the file, the next line goes to a new one. A
 * failure leaves stderr on the old file: nowhere better to say so. */
static void
on_reopen_signal(int sig)
{
	int saved = errno;

	(void)sig;
	(void)reopen();
	errno = saved;
}

bool
svc_log_init(const char *name, const char *version, const char *level,
    bson_error_t *error)
{
	struct sigaction sa;

	snprintf(log_who, sizeof log_who, "%s@%s", name, version);
	if (level == NULL)
		level = getenv("VD_LOG_LEVEL");
	if (level != NULL && !level_parse(level, &log_min)) {
		bson_set_error(error, 0, 0, "unknown log level '%.32s' (debug, "
		    "info, warn or error)", level);
		return false;
	}
	log_journal = stderr_is_journal();
	/* Lines from several threads must not interleave mid-line. */
	setvbuf(stderr, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_reopen_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* SIGHUP to a worker; SIGUSR2 is the one signal multiwatch passes on
	 * to its workers (SIGHUP, SIGUSR1 and SIGTERM make it stop them). */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	return true;
}

bool
svc_log_open(const char *path)
{
	if (strlen(path) >= sizeof log_path)
		return false;
	strcpy(log_path, path);
	if (!reopen()) {
		log_path[0] = '\0';
		return false;
	}
	log_journal = false;
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
	/* One fprintf per line: stdio locks the stream for each call. */
	if (log_journal) {
		fprintf(stderr, "<%d>%s[%ld] %s %s\n", level_priorities[level],
		    log_who, (long)getpid(), level_names[level], line);
		return;
	}
	svc_iso_time(svc_now_ms(), when, sizeof when);
	fprintf(stderr, "%s %s[%ld] %s %s\n", when, log_who, (long)getpid(),
	    level_names[level], line);
}

void
svc_log_vd(vd_log_level_t level, const char *message, void *userdata)
{
	(void)userdata;
	svc_log((enum svc_log_level)level, "%s", message);
}
