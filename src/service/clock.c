/*
 * clock.c - time: now, a monotonic clock, and ISO-8601 dates in and out
 * (what JSON bodies and logs carry).
 */
#include <ctype.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "service.h"

int64_t
svc_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

double
svc_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
svc_iso_time(int64_t ms, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	int frac = (int)(ms % 1000);

	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}

/* n decimal digits at *p, advancing it; false if there are fewer. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm(), no time zone database. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

bool
svc_parse_iso_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
	int sign = 0;

	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
	    !expect(&s, '-') || !digits(&s, 2, &d))
		return false;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return false;
	s++;
	if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
	    !expect(&s, ':') || !digits(&s, 2, &sec))
		return false;
	if (*s == '.' || *s == ',') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		/* Milliseconds are kept; finer digits are read and dropped. */
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	/* A time without a zone is local to somebody unknown: refused. */
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!digits(&s, 2, &oh))
			return false;
		if (*s == ':')
			s++;
		if (!digits(&s, 2, &om))
			return false;
	} else
		return false;
	if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return false;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - sign * (oh * 3600 + om * 60)) * 1000) + frac;
	return true;
}
