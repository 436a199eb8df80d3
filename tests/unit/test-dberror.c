/*
 * test-dberror.c - which database errors are "unavailable" (503) and which
 * are the database's answer (500, 409...), and which are duplicates:
 * FerretDB reports its backend's network failures, and some of its
 * refusals, as InternalError (1), told apart by their text.
 */
#include <stdbool.h>
#include <stdio.h>

#include <mongoc/mongoc.h>

#include "service.h"
#include "unit.h"

/* What a predicate of db.c says of an error made of these. */
static bool
is(bool (*what)(const bson_error_t *), uint32_t domain, uint32_t code,
    const char *message)
{
	bson_error_t e;

	bson_set_error(&e, domain, code, "%s", message);
	return what(&e);
}

#define unavailable(d, c, m) is(svc_db_unavailable, (d), (c), (m))
#define duplicate(d, c, m) is(svc_db_duplicate, (d), (c), (m))

/* PostgreSQL out of reach while a query was under way: the kernel gave up
 * on the connection (a cut link, TCP_USER_TIMEOUT), or the server was
 * killed under it. Measured on spawn/cluster (test b). */
START_TEST(test_backend_link_lost)
{
	ck_assert(unavailable(MONGOC_ERROR_QUERY, 1,
	    "[msg_find.go:344 handler.handleMaxTimeMSError] [collection.go:109 "
	    "postgresql.(*collection).Query] timeout: read tcp "
	    "10.231.77.21:32788->10.231.77.12:5432: read: connection timed out"));
	ck_assert(unavailable(MONGOC_ERROR_QUERY, 1,
	    "read tcp 10.231.77.21:1->10.231.77.11:5432: read: connection reset by peer"));
	ck_assert(unavailable(MONGOC_ERROR_SERVER, 1,
	    "failed to connect to `user=ferretdb database=ferretdb`: dial error: "
	    "connect: no route to host"));
	ck_assert(unavailable(MONGOC_ERROR_STREAM, 0, "socket error or timeout"));
}
END_TEST

/* The database's own answers stay what they are. */
START_TEST(test_answers_are_not_outages)
{
	ck_assert(!unavailable(MONGOC_ERROR_SERVER, 11000,
	    "E11000 duplicate key error collection"));
	ck_assert(!unavailable(MONGOC_ERROR_QUERY, 1,
	    "ERROR: relation \"sequences_f9f16781\" already exists (SQLSTATE 42P07)"));
	ck_assert(!unavailable(MONGOC_ERROR_QUERY, 2, "connection timed out"));
}
END_TEST

/* A unique index over two documents with one key: MongoDB's E11000, and
 * FerretDB's InternalError with PostgreSQL's code (measured on 1.24). */
START_TEST(test_unique_index_refused)
{
	ck_assert(duplicate(MONGOC_ERROR_SERVER, 11000,
	    "E11000 duplicate key error collection: tickets.replies"));
	ck_assert(duplicate(MONGOC_ERROR_COMMAND, 1,
	    "[msg_createindexes.go:155 handler.(*Handler).MsgCreateIndexes] "
	    "[collection.go:573 postgresql.(*collection).CreateIndexes] "
	    "ERROR: could not create unique index \"t_f10c3da3_a_u_2ca48334_idx\" "
	    "(SQLSTATE 23505)"));
	ck_assert(!duplicate(MONGOC_ERROR_QUERY, 1,
	    "ERROR: relation \"sequences_f9f16781\" already exists (SQLSTATE 42P07)"));
	ck_assert(!duplicate(MONGOC_ERROR_QUERY, 2, "SQLSTATE 23505"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dberror");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_backend_link_lost);
	tcase_add_test(tc, test_answers_are_not_outages);
	tcase_add_test(tc, test_unique_index_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
