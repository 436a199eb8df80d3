/*
 * budget.c - the retry budget, as Finagle's RetryBudget and Linkerd's
 * retry budgets: fallback attempts may be at most `percent` of the calls
 * made in the last `window_s` seconds, plus a reserve of `per_second`
 * fallbacks per second (per_second * window_s in the window), so that a
 * failing version cannot multiply the load on the others, while a client
 * that makes few calls can still fall back.
 *
 * Calls and fallbacks are counted in one slot per second over the window,
 * which slides: what happened more than window_s seconds ago is forgotten.
 *
 *   allowed when  per_second * window_s + percent / 100 * calls
 *                 - fallbacks  >=  1
 *
 * Pure logic: every function takes the time (ms) from its caller.
 */
#include <string.h>

#include "vd-private.h"

void
vd_budget_init(vd_budget_t *b, double percent, double per_second,
    int window_s)
{
	memset(b, 0, sizeof *b);
	b->percent = percent;
	b->per_second = per_second;
	if (window_s < 1)
		window_s = 1;
	if (window_s > VD_BUDGET_SLOTS)
		window_s = VD_BUDGET_SLOTS;
	b->window_s = window_s;
}

void
vd_budget_configure(vd_budget_t *b, double percent, double per_second,
    int window_s)
{
	if (percent >= 0)
		b->percent = percent;
	if (per_second >= 0)
		b->per_second = per_second;
	if (window_s > 0) {
		if (window_s > VD_BUDGET_SLOTS)
			window_s = VD_BUDGET_SLOTS;
		b->window_s = window_s;
	}
}

/* The slot of the second that holds now_ms, emptied if it held an older
 * second. */
static struct vd_budget_slot *
slot(vd_budget_t *b, int64_t now_ms)
{
	int64_t second = now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000;
	struct vd_budget_slot *s;
	int64_t i = second % VD_BUDGET_SLOTS;

	if (i < 0)
		i += VD_BUDGET_SLOTS;
	s = &b->slot[i];
	if (!s->used || s->second != second) {
		s->used = true;
		s->second = second;
		s->calls = 0;
		s->fallbacks = 0;
	}
	return s;
}

/* Calls and fallbacks in the window that ends at now_ms. */
static void
window(const vd_budget_t *b, int64_t now_ms, uint64_t *calls,
    uint64_t *fallbacks)
{
	int64_t second = now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000;
	size_t i;

	*calls = *fallbacks = 0;
	for (i = 0; i < VD_BUDGET_SLOTS; i++) {
		const struct vd_budget_slot *s = &b->slot[i];

		if (!s->used || s->second > second ||
		    s->second <= second - b->window_s)
			continue;
		*calls += s->calls;
		*fallbacks += s->fallbacks;
	}
}

void
vd_budget_deposit(vd_budget_t *b, int64_t now_ms)
{
	slot(b, now_ms)->calls++;
}

double
vd_budget_balance(const vd_budget_t *b, int64_t now_ms)
{
	uint64_t calls, fallbacks;

	window(b, now_ms, &calls, &fallbacks);
	return b->per_second * b->window_s + b->percent / 100.0 *
	    (double)calls - (double)fallbacks;
}

bool
vd_budget_withdraw(vd_budget_t *b, int64_t now_ms)
{
	double balance = vd_budget_balance(b, now_ms);

	/* The epsilon forgives rounding: 20% of 5 calls is one fallback.
	 * per_second = HUGE_VAL makes the balance infinite: no limit. */
	if (!(balance >= 1.0 - 1e-9))
		return false;
	slot(b, now_ms)->fallbacks++;
	return true;
}
