/*
 * plan.c - the decisions of a call, without its I/O: in which order the
 * candidates are tried, which are skipped (URL not allowed, circuit
 * open), when the retry budget ends the call, and what each outcome does
 * to a breaker. Pure code over the breakers and the budget it is given,
 * with the time passed in, so that the unit tests drive it alone.
 *
 * The order: versions newest first; the hosts of one version all before
 * the next older version, starting at a host that turns from call to call
 * (the caller's `turn`), so that calls spread over the hosts of a version
 * and a lost host costs the calls that start on it one attempt, not a
 * fallback to an older version.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

/* Newest version first, then host, then the caller's order. */
static int
cand_order(const void *pa, const void *pb)
{
	const struct vd_plan_cand *a = pa, *b = pb;
	int c;

	if ((c = vd_version_compare(&b->version, &a->version)) != 0)
		return c;
	if ((c = strcmp(a->host, b->host)) != 0)
		return c;
	return a->entry < b->entry ? -1 : a->entry > b->entry;
}

/* Rotates c[0..n) left by k. */
static void
rotate(struct vd_plan_cand *c, size_t n, size_t k)
{
	struct vd_plan_cand tmp;
	size_t i;

	for (; k > 0; k--) {
		tmp = c[0];
		for (i = 0; i + 1 < n; i++)
			c[i] = c[i + 1];
		c[n - 1] = tmp;
	}
}

void
vd_plan_order(struct vd_plan_cand *cands, size_t n, unsigned turn)
{
	size_t i, j, k, hosts;

	if (n > 1)
		qsort(cands, n, sizeof *cands, cand_order);
	for (i = 0; i < n; i = j) {
		/* The entries of one version; its distinct hosts. */
		for (j = i + 1, hosts = 1; j < n && vd_version_compare(
		    &cands[j].version, &cands[i].version) == 0; j++)
			hosts += strcmp(cands[j].host, cands[j - 1].host) != 0;
		for (k = i; k < j; k++)
			cands[k].shared = hosts > 1;
		/* Entries of one host stay together: rotate by whole hosts
		 * only when each host has one entry (the usual case). */
		if (hosts > 1 && hosts == j - i)
			rotate(cands + i, j - i, turn % hosts);
	}
}

void
vd_plan_init(struct vd_plan *p, struct vd_plan_cand *cands, size_t n,
    const vd_breaker_config_t *cfg, vd_budget_t *budget, int64_t now,
    int64_t deadline_at)
{
	int64_t soonest = INT64_MAX, remaining;
	size_t i;

	memset(p, 0, sizeof *p);
	p->cands = cands;
	p->n = n;
	p->cfg = cfg;
	p->budget = budget;
	p->deadline_at = deadline_at;
	p->forced = SIZE_MAX;
	/* Each call is one deposit in the retry budget; each fallback (an
	 * attempt after another was made) one withdrawal. */
	vd_budget_deposit(budget, now);
	/* A breaker must not turn a degraded service into an outage: when
	 * every candidate's circuit is open, the one that closes soonest is
	 * tried anyway, as its probe (Envoy's panic threshold). */
	for (i = 0; i < n; i++) {
		if (cands[i].breaker == NULL || vd_breaker_peek(
		    cands[i].breaker, now, &remaining) != VD_BREAKER_OPEN) {
			p->forced = SIZE_MAX;
			return;
		}
		if (remaining < soonest) {
			soonest = remaining;
			p->forced = i;
		}
	}
	p->forced_ms = soonest;
}

vd_step_t
vd_plan_next(struct vd_plan *p, int64_t now)
{
	vd_step_t s = { .kind = VD_STEP_END, .index = p->next };
	struct vd_plan_cand *c;

	if (p->ended || p->next >= p->n) {
		s.why = p->ended ? p->end : VD_END_EXHAUSTED;
		p->ended = true;
		p->end = s.why;
		return s;
	}
	if (p->deadline_at - now <= 0) {
		s.why = p->end = VD_END_DEADLINE;
		p->ended = true;
		return s;
	}
	c = &p->cands[p->next++];
	if (!c->allowed) {
		s.kind = VD_STEP_SKIP;
		s.why = VD_SKIP_URL;
		return s;
	}
	if (c->breaker != NULL && s.index != p->forced &&
	    vd_breaker_peek(c->breaker, now, &s.remaining_ms) ==
	    VD_BREAKER_OPEN) {
		s.kind = VD_STEP_SKIP;
		s.why = VD_SKIP_OPEN;
		return s;
	}
	if (p->tried_one && !vd_budget_withdraw(p->budget, now)) {
		s.why = p->end = VD_END_BUDGET;
		p->ended = true;
		return s;
	}
	s.kind = VD_STEP_TRY;
	s.forced = s.index == p->forced;
	s.from = s.to = VD_BREAKER_CLOSED;
	if (c->breaker != NULL) {
		s.from = c->breaker->state;
		vd_breaker_begin(c->breaker, now, s.forced);
		s.to = c->breaker->state;
	}
	return s;
}

/* Whether an attempt counts for its breaker: a failure is what makes a
 * call fall back (connection error, timeout, 5xx, unreadable reply); 2xx
 * and 4xx are successes (the version answered); running out of the
 * call's deadline before a request, or out of memory, says nothing of
 * it. */
static bool
counts(vd_code_t code, size_t made)
{
	return code != VD_ENOMEM && !(code == VD_ETIMEOUT && made == 0);
}

bool
vd_plan_record(struct vd_plan *p, const vd_step_t *s, vd_code_t code,
    size_t made, int64_t now, struct vd_plan_change *change)
{
	vd_breaker_t *b = p->cands[s->index].breaker;

	memset(change, 0, sizeof *change);
	if (made > 0)
		p->tried_one = true;
	if (b != NULL) {
		change->from = b->state;
		if (counts(code, made))
			vd_breaker_record(b, p->cfg, now, code == VD_OK ||
			    code == VD_ECLIENT, change->why,
			    sizeof change->why);
		else
			vd_breaker_cancel(b);
		change->to = b->state;
	}
	if (code == VD_OK || code == VD_ECLIENT || code == VD_ENOMEM) {
		p->ended = true;
		p->end = code == VD_ENOMEM ? VD_END_NOMEM : VD_END_ANSWERED;
		return false;
	}
	return true;
}
