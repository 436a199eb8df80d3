/*
 * inflight.c - the pure parts of replies in flight: the highest sequence
 * number per ticket of a set of replies (a batch the outbox stores, the
 * pending ones a page counts), and the order in which stored and pending
 * replies are shown together.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inflight.h"

/* The set is kept in ticket order: the ticket's place, found by halves
 * (sets of the pending replies reach thousands), and whether it is
 * there. */
static size_t
place(const struct tk_seqs *seqs, const bson_oid_t *ticket, bool *there)
{
	size_t lo = 0, hi = seqs->n, mid;
	int c;

	*there = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = bson_oid_compare(&seqs->v[mid].ticket, ticket);
		if (c == 0) {
			*there = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tk_seq *
find(const struct tk_seqs *seqs, const bson_oid_t *ticket)
{
	bool there;
	size_t i = place(seqs, ticket, &there);

	return there ? &seqs->v[i] : NULL;
}

bool
tk_seqs_last(const struct tk_seqs *seqs, const bson_oid_t *ticket,
    int64_t *last)
{
	const struct tk_seq *s = find(seqs, ticket);

	if (s == NULL)
		return false;
	*last = s->last;
	return true;
}

void
tk_seqs_saw(struct tk_seqs *seqs, const bson_oid_t *ticket, int64_t n)
{
	struct tk_seq *s;
	bool there;
	size_t i = place(seqs, ticket, &there);

	if (there) {
		s = &seqs->v[i];
		if (n > s->last)
			s->last = n;
		return;
	}
	/* Every ticket of the set is kept: a maximum dropped would leave a
	 * ticket's count low. */
	if (seqs->n == seqs->cap) {
		seqs->cap = seqs->cap ? seqs->cap * 2 : 64;
		seqs->v = bson_realloc(seqs->v, seqs->cap * sizeof *seqs->v);
	}
	memmove(&seqs->v[i + 1], &seqs->v[i], (seqs->n - i) *
	    sizeof *seqs->v);
	seqs->n++;
	s = &seqs->v[i];
	bson_oid_copy(ticket, &s->ticket);
	s->last = n;
}

void
tk_seqs_clear(struct tk_seqs *seqs)
{
	bson_free(seqs->v);
	seqs->v = NULL;
	seqs->n = seqs->cap = 0;
}

static void
order_key(const bson_t *doc, int64_t *ms, bson_oid_t *id)
{
	bson_iter_t it;

	*ms = 0;
	memset(id, 0, sizeof *id);
	if (bson_iter_init_find(&it, doc, "createdAt") &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		*ms = bson_iter_date_time(&it);
	if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
		bson_oid_copy(bson_iter_oid(&it), id);
}

int
tk_reply_order(const bson_t *a, const bson_t *b)
{
	int64_t ma, mb;
	bson_oid_t ia, ib;

	order_key(a, &ma, &ia);
	order_key(b, &mb, &ib);
	if (ma != mb)
		return ma < mb ? -1 : 1;
	return bson_oid_compare(&ia, &ib);
}

static int
compare(const void *a, const void *b)
{
	return tk_reply_order(*(bson_t *const *)a, *(bson_t *const *)b);
}

void
tk_replies_sort(bson_t **docs, size_t n)
{
	if (n > 1)
		qsort(docs, n, sizeof *docs, compare);
}

bson_t *
tk_reply_renumbered(const bson_t *doc, int64_t seq)
{
	bson_t *out = bson_new(), ev, old;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	bson_copy_to_excluding_noinit(doc, out, "sequence", "seqKey", "event",
	    NULL);
	BSON_APPEND_INT64(out, "sequence", seq);
	/* Its pending event keeps the _id of the claim: named here, where
	 * the number no longer names it (the first claim, however many
	 * times it is renumbered). */
	if (!bson_has_field(doc, "claim") &&
	    bson_iter_init_find(&it, doc, "ticketId") &&
	    BSON_ITER_HOLDS_OID(&it)) {
		char hex[25], claim[64];
		int64_t was = 0;
		bson_iter_t n;

		bson_oid_to_string(bson_iter_oid(&it), hex);
		if (bson_iter_init_find(&n, doc, "sequence"))
			was = bson_iter_as_int64(&n);
		snprintf(claim, sizeof claim, "%s|%" PRId64, hex, was);
		BSON_APPEND_UTF8(out, "claim", claim);
	}
	if (bson_iter_init_find(&it, doc, "event") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&old, data, len)) {
			BSON_APPEND_DOCUMENT_BEGIN(out, "event", &ev);
			bson_copy_to_excluding_noinit(&old, &ev, "sequence",
			    NULL);
			BSON_APPEND_INT64(&ev, "sequence", seq);
			bson_append_document_end(out, &ev);
		}
	}
	return out;
}
