/*
 * inflight.h - the pure parts of replies in flight (inflight.c): the
 * highest sequence number per ticket of a set of replies, the order in
 * which a ticket's replies are shown, stored and pending ones merged, and
 * a reply given another number.
 */
#ifndef INFLIGHT_H
#define INFLIGHT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

struct tk_seq {
	bson_oid_t ticket;
	int64_t last;
};

/* The highest sequence number seen per ticket (of a batch of replies, of
 * the pending ones), in ticket order. */
struct tk_seqs {
	struct tk_seq *v;
	size_t n, cap;
};

/* The highest number seen for ticket; false when none was. */
bool tk_seqs_last(const struct tk_seqs *seqs, const bson_oid_t *ticket,
    int64_t *last);

/* Number n of ticket was seen. */
void tk_seqs_saw(struct tk_seqs *seqs, const bson_oid_t *ticket, int64_t n);

void tk_seqs_clear(struct tk_seqs *seqs);

/* The order of a ticket's replies, as the API shows them: by creation
 * time, then by id (the database's sort on {createdAt: 1, _id: 1}). Reads
 * the "createdAt" and "_id" of two reply documents; <0, 0 or >0. */
int tk_reply_order(const bson_t *a, const bson_t *b);

/* Sorts n reply documents in that order. */
void tk_replies_sort(bson_t **docs, size_t n);

/* A copy of reply document doc numbered seq: its "sequence" and its
 * event's (which stays the event's last field, where the reply's event is
 * built with it); a "claim", the _id of its pending event
 * ("<ticket>|<number claimed>"), unless it has one; the rest as it was,
 * but a "seqKey" (what older replies carry), dropped. Caller frees with
 * bson_destroy(). */
bson_t *tk_reply_renumbered(const bson_t *doc, int64_t seq);

#endif /* INFLIGHT_H */
