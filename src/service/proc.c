/*
 * proc.c - what Linux's /proc says of a process, read in one place: the
 * metrics' process figures and the outbox's owner names (host:pid:start,
 * the start time telling a reused pid apart) both use it.
 */
#include <stdio.h>
#include <string.h>

#include "service.h"

bool
svc_proc_read(long pid, struct svc_proc *p)
{
	/* Fields 3 to 24 of proc(5), from the state on. */
	static const char fmt[] = " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
	    "%*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %lld";
	unsigned long long utime, stime;
	char path[64], buf[1024], *s;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: the fields
	 * start after the last ')'. */
	if ((s = strrchr(buf, ')')) == NULL ||
	    sscanf(s + 1, fmt, &p->state, &utime, &stime, &p->start,
	    &p->rss) != 5)
		return false;
	p->cpu = utime + stime;
	return true;
}

double
svc_proc_boot_time(void)
{
	unsigned long long btime = 0;
	char line[256];
	FILE *f;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	return (double)btime;
}
