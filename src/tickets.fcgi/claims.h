/*
 * claims.h - the next sequence number of each ticket, shared by every
 * tickets process of the host (claims.c): a hint, never the guard. The
 * guard is the database: a number is a reply's when its pending event's
 * unique _id "<ticket>|<sequence>" was inserted and no stored reply holds
 * it (store-replies.c). The hint only keeps the host's workers from
 * claiming the same numbers in turn.
 */
#ifndef CLAIMS_H
#define CLAIMS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* How long the host trusts its count of a ticket's numbers before one of
 * its workers reads "sequences" again (the database may have been
 * emptied, another host may have drawn many). */
#define TK_CLAIMS_MS 60000
#define TK_CLAIMS_SLOTS 4096
#define TK_CLAIMS_PROBES 16     /* slots looked at for a ticket */
/* How far ahead of the clock a reply's time may be put to keep its
 * ticket's replies in order (more than 1,000 a second to one ticket). */
#define TK_CLAIMS_AHEAD_MS 1000

struct tk_claim_slot {
	uint64_t state;             /* 0 free, 1 being filled, 2 in use */
	uint8_t ticket[12];
	uint32_t pad;
	int64_t last;               /* the highest number handed out */
	int64_t at_ms;              /* when it was read from the database */
	int64_t last_ms;            /* the latest time given a reply */
};

/* TK_CLAIMS_SLOTS slots, in memory shared by the host's processes (or a
 * process's own, zeroed, when it cannot be shared). */
struct tk_claims {
	struct tk_claim_slot *slots;
};

#define TK_CLAIMS_SIZE (TK_CLAIMS_SLOTS * sizeof(struct tk_claim_slot))

/* The slot of ticket, made when there is none; NULL when the slots it
 * may take are all used by other tickets (then there is no hint). */
struct tk_claim_slot *tk_claims_slot(struct tk_claims *c,
    const bson_oid_t *ticket);

/* Whether the slot's count was read from the database within
 * TK_CLAIMS_MS of now_ms; when not, the caller reads it and seeds it. */
bool tk_claims_fresh(const struct tk_claim_slot *slot, int64_t now_ms);

/* The database's word, read at now_ms: the last number taken is at
 * least last (it lags the numbers still pending, which the host's count
 * keeps), or, when last is 0 (no count: a new ticket, or a database
 * emptied since), the numbers start again. */
void tk_claims_seed(struct tk_claim_slot *slot, int64_t last,
    int64_t now_ms);

/* The next number, never handed out to another process of the host
 * (unless a seed took the count back). */
int64_t tk_claims_draw(struct tk_claim_slot *slot);

/* The time of a reply to the ticket made at now_ms: now_ms, or one
 * millisecond after the latest time given a reply of the ticket on this
 * host when that is not earlier. Replies and the feed are shown in time
 * order, a millisecond apart: without it, two replies in one millisecond
 * from two workers (one answered before the other was sent) could be
 * shown the wrong way round. Not past TK_CLAIMS_AHEAD_MS ahead of the
 * clock: beyond it (or with a clock set back) the time is now_ms. */
int64_t tk_claims_stamp(struct tk_claim_slot *slot, int64_t now_ms);

/* Number n is taken (a claim of it failed): nothing at or below it is
 * drawn again. */
void tk_claims_taken(struct tk_claim_slot *slot, int64_t n);

#endif /* CLAIMS_H */
