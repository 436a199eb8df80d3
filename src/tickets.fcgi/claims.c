/*
 * claims.c - the host's count of each ticket's sequence numbers, in
 * shared memory: a ticket's slot is found by a hash of its id and a few
 * probes; numbers are drawn by an atomic add, so the workers of a host
 * never claim the same number in turn. A hint only (claims.h).
 */
#include <string.h>

#include "claims.h"
#include "service.h"

struct tk_claim_slot *
tk_claims_slot(struct tk_claims *c, const bson_oid_t *ticket)
{
	uint64_t h = svc_hash(ticket->bytes, sizeof ticket->bytes);
	size_t i;

	for (i = 0; i < TK_CLAIMS_PROBES; i++) {
		struct tk_claim_slot *s =
		    &c->slots[(h + i) % TK_CLAIMS_SLOTS];
		uint64_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE),
		    free_ = 0;

		if (state == 0 && __atomic_compare_exchange_n(&s->state,
		    &free_, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			memcpy(s->ticket, ticket->bytes, sizeof s->ticket);
			__atomic_store_n(&s->last, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&s->at_ms, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&s->last_ms, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
			return s;
		}
		if (state == 0)
			state = free_;	/* taken meanwhile: look at it */
		/* Being filled: perhaps for this ticket, by another worker;
		 * this claim goes without (a second slot would split the
		 * count). */
		if (state == 1)
			return NULL;
		if (memcmp(s->ticket, ticket->bytes, sizeof s->ticket) == 0)
			return s;
	}
	return NULL;
}

bool
tk_claims_fresh(const struct tk_claim_slot *slot, int64_t now_ms)
{
	int64_t at = __atomic_load_n(&slot->at_ms, __ATOMIC_ACQUIRE);

	return at != 0 && now_ms - at < TK_CLAIMS_MS;
}

void
tk_claims_seed(struct tk_claim_slot *slot, int64_t last, int64_t now_ms)
{
	/* No count in the database: a new ticket, or a database emptied
	 * since (its numbers start again). Else the database lags what is
	 * pending, which the host's count has seen. */
	if (last == 0)
		__atomic_store_n(&slot->last, 0, __ATOMIC_RELAXED);
	else
		tk_claims_taken(slot, last);
	__atomic_store_n(&slot->at_ms, now_ms, __ATOMIC_RELEASE);
}

int64_t
tk_claims_draw(struct tk_claim_slot *slot)
{
	return __atomic_add_fetch(&slot->last, 1, __ATOMIC_ACQ_REL);
}

int64_t
tk_claims_stamp(struct tk_claim_slot *slot, int64_t now_ms)
{
	int64_t last = __atomic_load_n(&slot->last_ms, __ATOMIC_ACQUIRE), t;

	do {
		t = now_ms > last ? now_ms : last + 1;
		if (t - now_ms > TK_CLAIMS_AHEAD_MS)
			return now_ms;
	} while (!__atomic_compare_exchange_n(&slot->last_ms, &last, t, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return t;
}

void
tk_claims_taken(struct tk_claim_slot *slot, int64_t n)
{
	int64_t last = __atomic_load_n(&slot->last, __ATOMIC_ACQUIRE);

	while (last < n && !__atomic_compare_exchange_n(&slot->last, &last, n,
	    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}
