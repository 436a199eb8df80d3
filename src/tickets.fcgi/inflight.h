/*
 * inflight.h - the pure parts of a reply in flight (inflight.c): the
 * sequence numbers a worker has seen per ticket, and the order in which a
 * ticket's replies are shown, stored and pending ones merged.
 */
#ifndef INFLIGHT_H
#define INFLIGHT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* How long a worker trusts what it saw of a ticket's numbers before it
 * reads them again (the database may have been emptied meanwhile). */
#define TK_SEQS_MS 60000
#define TK_SEQS_MAX 1024        /* tickets remembered; a full table starts
                                   again */

struct tk_seq {
	bson_oid_t ticket;
	int64_t last;               /* the highest number seen taken */
	int64_t at_ms;              /* when it was read from the database */
};

/* The highest sequence number seen per ticket. */
struct tk_seqs {
	struct tk_seq *v;
	size_t n;
};

/* The last number seen for ticket, false when there is none worth
 * trusting at now_ms (never seen, or read longer than TK_SEQS_MS ago):
 * then the caller reads it from the database and calls tk_seqs_seed. */
bool tk_seqs_last(const struct tk_seqs *seqs, const bson_oid_t *ticket,
    int64_t now_ms, int64_t *last);

/* What the database says the ticket's last number is, at now_ms: it
 * replaces what was seen only when higher (the database lags the numbers
 * still pending). */
void tk_seqs_seed(struct tk_seqs *seqs, const bson_oid_t *ticket,
    int64_t last, int64_t now_ms);

/* Number n of ticket is taken: nothing at or below it is drawn again. A
 * ticket never seen is kept as seen at now_ms. */
void tk_seqs_saw(struct tk_seqs *seqs, const bson_oid_t *ticket, int64_t n,
    int64_t now_ms);

void tk_seqs_clear(struct tk_seqs *seqs);

/* The order of a ticket's replies, as the API shows them: by creation
 * time, then by id (the database's sort on {createdAt: 1, _id: 1}). Reads
 * the "createdAt" and "_id" of two reply documents; <0, 0 or >0. */
int tk_reply_order(const bson_t *a, const bson_t *b);

/* Sorts n reply documents in that order. */
void tk_replies_sort(bson_t **docs, size_t n);

#endif /* INFLIGHT_H */
