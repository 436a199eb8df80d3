/*
 * breaker.c - a circuit breaker, as Hystrix and Envoy's outlier detection
 * have them; the client keeps one per service version and host.
 *
 *   closed     every call goes; outcomes are counted. It opens after
 *              `consecutive` failures in a row, or when at least
 *              `rate_percent` of at least `min_calls` calls failed in the
 *              last `window_ms` (ten buckets, as Hystrix's rolling window).
 *   open       calls skip the version (at that host) until the open
 *              period ends. The
 *              first period is `base_open_ms`; each re-opening doubles it,
 *              up to `max_open_ms` (Envoy's growing ejection time). The
 *              growth is forgotten once the version has stayed closed for
 *              `max_open_ms`.
 *   half-open  one trial call goes: success closes, failure re-opens.
 *
 * When every candidate of a call is open, the caller forces a probe of the
 * one that closes soonest (vd_breaker_begin with force): its success
 * closes the circuit, its failure changes nothing.
 *
 * Pure logic: every function takes the time (a monotonic clock, in ms)
 * from its caller, so that the unit tests can drive it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vd-private.h"

void
vd_breaker_config_default(vd_breaker_config_t *cfg)
{
	cfg->consecutive = VD_BREAKER_CONSECUTIVE;
	cfg->rate_percent = VD_BREAKER_RATE_PERCENT;
	cfg->min_calls = VD_BREAKER_MIN_CALLS;
	cfg->window_ms = VD_BREAKER_WINDOW_MS;
	cfg->base_open_ms = VD_BREAKER_BASE_OPEN_MS;
	cfg->max_open_ms = VD_BREAKER_MAX_OPEN_MS;
}

void
vd_breaker_init(vd_breaker_t *b)
{
	memset(b, 0, sizeof *b);
	b->state = VD_BREAKER_CLOSED;
}

const char *
vd_breaker_state_name(vd_breaker_state_t state)
{
	switch (state) {
	case VD_BREAKER_CLOSED:
		return "closed";
	case VD_BREAKER_OPEN:
		return "open";
	case VD_BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "unknown";
}

static int64_t
bucket_ms(const vd_breaker_config_t *cfg)
{
	int64_t ms = cfg->window_ms / VD_BREAKER_BUCKETS;

	return ms > 0 ? ms : 1;
}

/* Forgets the rolling window and the failures in a row. */
static void
reset_counts(vd_breaker_t *b)
{
	memset(b->bucket, 0, sizeof b->bucket);
	b->consecutive = 0;
}

void
vd_breaker_window(const vd_breaker_t *b, const vd_breaker_config_t *cfg,
    int64_t now, unsigned *calls, unsigned *failures)
{
	int64_t width = bucket_ms(cfg);
	int64_t oldest = (now / width - (VD_BREAKER_BUCKETS - 1)) * width;
	size_t i;

	*calls = *failures = 0;
	for (i = 0; i < VD_BREAKER_BUCKETS; i++) {
		if (!b->bucket[i].used || b->bucket[i].start < oldest ||
		    b->bucket[i].start > now)
			continue;
		*calls += b->bucket[i].calls;
		*failures += b->bucket[i].failures;
	}
}

static void
count(vd_breaker_t *b, const vd_breaker_config_t *cfg, int64_t now,
    bool success)
{
	int64_t width = bucket_ms(cfg);
	int64_t start = now / width * width;
	size_t i = (size_t)((now / width) % VD_BREAKER_BUCKETS);

	if (!b->bucket[i].used || b->bucket[i].start != start) {
		b->bucket[i].used = true;
		b->bucket[i].start = start;
		b->bucket[i].calls = 0;
		b->bucket[i].failures = 0;
	}
	b->bucket[i].calls++;
	if (!success)
		b->bucket[i].failures++;
}

/* Opens b from now on: base time, or the last time doubled when it opens
 * again before it has stayed closed for max_open_ms. */
static void
trip(vd_breaker_t *b, const vd_breaker_config_t *cfg, int64_t now,
    bool from_trial)
{
	int64_t open_ms;

	if (b->open_ms <= 0 || (!from_trial &&
	    now - b->closed_at >= cfg->max_open_ms))
		open_ms = cfg->base_open_ms;
	else
		open_ms = b->open_ms > cfg->max_open_ms / 2 ?
		    cfg->max_open_ms : b->open_ms * 2;
	if (open_ms > cfg->max_open_ms)
		open_ms = cfg->max_open_ms;
	if (open_ms < 1)
		open_ms = 1;
	b->state = VD_BREAKER_OPEN;
	b->open_ms = open_ms;
	b->open_until = now + open_ms;
	b->trial = false;
	b->openings++;
	reset_counts(b);
}

vd_breaker_state_t
vd_breaker_peek(const vd_breaker_t *b, int64_t now, int64_t *remaining_ms)
{
	if (remaining_ms != NULL)
		*remaining_ms = 0;
	switch (b->state) {
	case VD_BREAKER_CLOSED:
		return VD_BREAKER_CLOSED;
	case VD_BREAKER_OPEN:
		if (now < b->open_until) {
			if (remaining_ms != NULL)
				*remaining_ms = b->open_until - now;
			return VD_BREAKER_OPEN;
		}
		return VD_BREAKER_HALF_OPEN;
	case VD_BREAKER_HALF_OPEN:
		/* The one trial is out: the others wait for its outcome. */
		return b->trial ? VD_BREAKER_OPEN : VD_BREAKER_HALF_OPEN;
	}
	return VD_BREAKER_CLOSED;
}

vd_breaker_state_t
vd_breaker_begin(vd_breaker_t *b, int64_t now, bool force)
{
	vd_breaker_state_t seen = vd_breaker_peek(b, now, NULL);

	if (seen == VD_BREAKER_CLOSED)
		return VD_BREAKER_CLOSED;
	if (seen == VD_BREAKER_OPEN) {
		/* Forced (every version is open): a probe that may close
		 * the circuit but neither re-opens nor lengthens it. */
		b->probe = force;
		return VD_BREAKER_OPEN;
	}
	b->state = VD_BREAKER_HALF_OPEN;
	b->trial = true;
	return VD_BREAKER_HALF_OPEN;
}

void
vd_breaker_cancel(vd_breaker_t *b)
{
	b->probe = false;
	if (b->state == VD_BREAKER_HALF_OPEN)
		b->trial = false;
}

/* Closes b: the version answered. */
static void
close_breaker(vd_breaker_t *b, int64_t now)
{
	b->state = VD_BREAKER_CLOSED;
	b->trial = false;
	b->probe = false;
	b->panic_told = false;
	b->closed_at = now;
	reset_counts(b);
}

vd_breaker_state_t
vd_breaker_record(vd_breaker_t *b, const vd_breaker_config_t *cfg,
    int64_t now, bool success, char *why, size_t why_size)
{
	unsigned calls, failures;

	if (why != NULL && why_size > 0)
		why[0] = '\0';
	switch (b->state) {
	case VD_BREAKER_OPEN:
		/* A forced probe's outcome closes on success only; anything
		 * else comes from a call that began before it opened. */
		if (b->probe && success) {
			close_breaker(b, now);
			if (why != NULL)
				snprintf(why, why_size, "call succeeded while "
				    "every version was open");
		}
		b->probe = false;
		return b->state;
	case VD_BREAKER_HALF_OPEN:
		if (!b->trial)
			return VD_BREAKER_HALF_OPEN;
		if (success) {
			close_breaker(b, now);
			if (why != NULL)
				snprintf(why, why_size, "trial call succeeded");
		} else {
			trip(b, cfg, now, true);
			if (why != NULL)
				snprintf(why, why_size, "trial call failed");
		}
		return b->state;
	case VD_BREAKER_CLOSED:
		break;
	}
	count(b, cfg, now, success);
	if (success) {
		b->consecutive = 0;
		return VD_BREAKER_CLOSED;
	}
	b->consecutive++;
	if (cfg->consecutive > 0 && b->consecutive >= cfg->consecutive) {
		if (why != NULL)
			snprintf(why, why_size, "%u consecutive failures",
			    b->consecutive);
		trip(b, cfg, now, false);
		return VD_BREAKER_OPEN;
	}
	vd_breaker_window(b, cfg, now, &calls, &failures);
	if (cfg->rate_percent > 0 && calls >= cfg->min_calls &&
	    calls > 0 && (uint64_t)failures * 100 >=
	    (uint64_t)cfg->rate_percent * calls) {
		if (why != NULL)
			snprintf(why, why_size, "%u of %u calls failed in "
			    "%.1f s", failures, calls,
			    (double)cfg->window_ms / 1000);
		trip(b, cfg, now, false);
		return VD_BREAKER_OPEN;
	}
	return VD_BREAKER_CLOSED;
}
