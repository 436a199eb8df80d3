/*
 * dbtool.c - the few database operations bench/run needs: count, find,
 * delete, drop, and load a JSON array of documents. Built by bench/run
 * with cc against libmongoc; not installed.
 *
 *   dbtool URI DB COLL count  [FILTER]
 *   dbtool URI DB COLL find   [FILTER]    one relaxed extended JSON a line
 *   dbtool URI DB COLL delete FILTER      prints the number deleted
 *   dbtool URI DB COLL drop
 *   dbtool URI DB COLL load   FILE        a JSON array; an "_id" of 24 hex
 *                                         digits is stored as an ObjectId
 *   dbtool URI DB COLL fill   TICKET FROM COUNT [TITLE]
 *                                         COUNT replies to TICKET (24 hex),
 *                                         as the tickets service stores
 *                                         them, with sequence numbers from
 *                                         FROM + 1, in batches; then the
 *                                         ticket's sequence set to the last
 *
 * FILTER is MongoDB extended JSON, for example '{"user": "bench"}'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

/* The driver's warnings (FerretDB has no endSessions) are noise here. */
static void
quiet(mongoc_log_level_t level, const char *domain, const char *message,
    void *arg)
{
	(void)arg;
	if (level <= MONGOC_LOG_LEVEL_ERROR)
		fprintf(stderr, "dbtool: %s: %s\n", domain, message);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dbtool URI DB COLL count|find [FILTER]\n"
	    "       dbtool URI DB COLL delete FILTER\n"
	    "       dbtool URI DB COLL drop\n"
	    "       dbtool URI DB COLL load FILE\n"
	    "       dbtool URI DB COLL fill TICKET FROM COUNT [TITLE]\n");
	exit(64);
}

static bson_t *
parse(const char *json)
{
	bson_error_t error;
	bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &error);

	if (b == NULL) {
		fprintf(stderr, "dbtool: %s: %s\n", json, error.message);
		exit(65);
	}
	return b;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, n;
	char chunk[65536];

	if (f == NULL) {
		perror(path);
		exit(66);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		text = realloc(text, len + n + 1);
		if (text == NULL)
			abort();
		memcpy(text + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (text == NULL)
		text = calloc(1, 1);
	text[len] = '\0';
	return text;
}

/* Copies doc into out, with an "_id" of 24 hex digits as an ObjectId. */
static void
with_oid(const bson_t *doc, bson_t *out)
{
	bson_iter_t it;

	bson_init(out);
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		uint32_t len;
		const char *s;

		if (strcmp(key, "_id") == 0 && BSON_ITER_HOLDS_UTF8(&it) &&
		    (s = bson_iter_utf8(&it, &len)) != NULL && len == 24 &&
		    bson_oid_is_valid(s, len)) {
			bson_oid_t oid;

			bson_oid_init_from_string(&oid, s);
			BSON_APPEND_OID(out, "_id", &oid);
		} else
			bson_append_iter(out, key, -1, &it);
	}
}

static int
load(mongoc_collection_t *coll, const char *path)
{
	char *text = slurp(path), *wrapped;
	bson_error_t error;
	bson_iter_t it, arr;
	bson_t *all;
	long n = 0;

	/* A JSON array is not a document: wrap it in one. */
	wrapped = malloc(strlen(text) + 16);
	sprintf(wrapped, "{\"a\": %s}", text);
	all = parse(wrapped);
	if (!bson_iter_init_find(&it, all, "a") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) {
		fprintf(stderr, "dbtool: %s: not a JSON array\n", path);
		return 65;
	}
	while (bson_iter_next(&arr)) {
		const uint8_t *data;
		uint32_t len;
		bson_t doc, out;

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
			continue;
		bson_iter_document(&arr, &len, &data);
		bson_init_static(&doc, data, len);
		with_oid(&doc, &out);
		if (!mongoc_collection_insert_one(coll, &out, NULL, NULL,
		    &error)) {
			fprintf(stderr, "dbtool: insert: %s\n", error.message);
			return 1;
		}
		bson_destroy(&out);
		n++;
	}
	printf("%ld\n", n);
	bson_destroy(all);
	free(wrapped);
	free(text);
	return 0;
}

/* The "sequence" of the first document of FILTER in ORDER (1 or -1). */
static bool
sequence_end(mongoc_collection_t *coll, const bson_t *filter, int order,
    int64_t *seq, bson_error_t *error)
{
	bson_t *opts = BCON_NEW("sort", "{", "sequence", BCON_INT32(order), "}",
	    "limit", BCON_INT64(1));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter,
	    opts, NULL);
	const bson_t *doc;
	bson_iter_t it;
	bool found = false;

	if (mongoc_cursor_next(cur, &doc) &&
	    bson_iter_init_find(&it, doc, "sequence") &&
	    BSON_ITER_HOLDS_NUMBER(&it)) {
		*seq = bson_iter_as_int64(&it);
		found = true;
	}
	if (mongoc_cursor_error(cur, error))
		found = false;
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	return found;
}

static long long
delete_some(mongoc_collection_t *coll, const bson_t *filter,
    bson_error_t *error)
{
	bson_t reply;
	bson_iter_t it;
	long long n = -1;

	if (mongoc_collection_delete_many(coll, filter, NULL, &reply, error))
		n = bson_iter_init_find(&it, &reply, "deletedCount") ?
		    (long long)bson_iter_as_int64(&it) : 0;
	bson_destroy(&reply);
	return n;
}

/* Deletes what FILTER matches; returns how many, -1 on error. FerretDB
 * deletes with one SQL statement per call, and SQLite refuses one with
 * more than 32,766 variables: many documents go in slices of their
 * "sequence" (replies have one), about 10,000 a slice. */
static long long
delete_sliced(mongoc_collection_t *coll, const bson_t *filter,
    bson_error_t *error)
{
	int64_t total, lo, hi, step, at;
	long long n, sum = 0;

	total = mongoc_collection_count_documents(coll, filter, NULL, NULL,
	    NULL, error);
	if (total < 0)
		return -1;
	if (total > 20000 && sequence_end(coll, filter, 1, &lo, error) &&
	    sequence_end(coll, filter, -1, &hi, error)) {
		step = (hi - lo + 1) * 10000 / total;
		if (step < 1)
			step = 1;
		for (at = lo; at <= hi; at += step) {
			bson_t *slice = BCON_NEW("$and", "[",
			    BCON_DOCUMENT(filter), "{", "sequence", "{",
			    "$gte", BCON_INT64(at), "$lt", BCON_INT64(at + step),
			    "}", "}", "]");

			n = delete_some(coll, slice, error);
			bson_destroy(slice);
			if (n < 0)
				return -1;
			sum += n;
		}
	}
	if ((n = delete_some(coll, filter, error)) < 0)
		return -1;
	return sum + n;
}

/* One reply document as store_add_reply writes it, event included. */
static void
reply_doc(bson_t *doc, const bson_oid_t *ticket, const char *hex,
    const char *title, int64_t seq, int64_t when)
{
	char msg[64], id[32], rhex[25], iso[32];
	bson_oid_t oid;
	bson_t ev;
	time_t t = (time_t)(when / 1000);
	struct tm tm;

	bson_oid_init(&oid, NULL);
	bson_oid_to_string(&oid, rhex);
	snprintf(id, sizeof id, "evt_%s", rhex);
	snprintf(msg, sizeof msg, "scale reply %lld", (long long)seq);
	gmtime_r(&t, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	bson_init(doc);
	BSON_APPEND_OID(doc, "_id", &oid);
	BSON_APPEND_OID(doc, "ticketId", ticket);
	BSON_APPEND_INT64(doc, "sequence", seq);
	BSON_APPEND_UTF8(doc, "user", "scale");
	BSON_APPEND_UTF8(doc, "message", msg);
	BSON_APPEND_DATE_TIME(doc, "createdAt", when);
	BSON_APPEND_UTF8(doc, "owner", "bench-scale");
	BSON_APPEND_UTF8(doc, "requestId", "");
	BSON_APPEND_DOCUMENT_BEGIN(doc, "event", &ev);
	BSON_APPEND_UTF8(&ev, "id", id);
	BSON_APPEND_UTF8(&ev, "type", "reply.created");
	BSON_APPEND_UTF8(&ev, "createdAt", iso);
	BSON_APPEND_UTF8(&ev, "ticketId", hex);
	BSON_APPEND_UTF8(&ev, "title", title);
	BSON_APPEND_UTF8(&ev, "user", "scale");
	BSON_APPEND_UTF8(&ev, "message", msg);
	BSON_APPEND_INT64(&ev, "sequence", seq);
	bson_append_document_end(doc, &ev);
}

static int
fill(mongoc_client_t *client, const char *db, mongoc_collection_t *coll,
    char **argv, int argc)
{
	enum { BATCH = 1000 };
	bson_t docs[BATCH], *ptrs[BATCH];
	int64_t from, count, seq, now = (int64_t)time(NULL) * 1000;
	const char *hex = argv[0], *title = argc > 3 ? argv[3] : "scale";
	mongoc_collection_t *seqs;
	bson_error_t error;
	bson_oid_t ticket;
	bson_t *q, *u, *opts;
	int n = 0, i;

	if (!bson_oid_is_valid(hex, strlen(hex)) || strlen(hex) != 24)
		usage();
	bson_oid_init_from_string(&ticket, hex);
	from = strtoll(argv[1], NULL, 10);
	count = strtoll(argv[2], NULL, 10);
	for (seq = from + 1; seq <= from + count; seq++) {
		/* A millisecond apart, the last one now. */
		reply_doc(&docs[n], &ticket, hex, title, seq,
		    now - (from + count - seq));
		ptrs[n] = &docs[n];
		if (++n == BATCH || seq == from + count) {
			bool ok = mongoc_collection_insert_many(coll,
			    (const bson_t **)ptrs, (size_t)n, NULL, NULL,
			    &error);

			for (i = 0; i < n; i++)
				bson_destroy(&docs[i]);
			n = 0;
			if (!ok) {
				fprintf(stderr, "dbtool: fill: %s\n",
				    error.message);
				return 1;
			}
		}
	}
	seqs = mongoc_client_get_collection(client, db, "sequences");
	q = BCON_NEW("_id", BCON_OID(&ticket));
	u = BCON_NEW("$set", "{", "seq", BCON_INT64(from + count), "}");
	opts = BCON_NEW("upsert", BCON_BOOL(true));
	if (!mongoc_collection_update_one(seqs, q, u, opts, NULL, &error)) {
		fprintf(stderr, "dbtool: fill: sequence: %s\n", error.message);
		n = 1;
	}
	bson_destroy(q);
	bson_destroy(u);
	bson_destroy(opts);
	mongoc_collection_destroy(seqs);
	printf("%lld\n", (long long)count);
	return n;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	bson_error_t error;
	bson_t *filter;
	const char *cmd;
	int rc = 0;

	if (argc < 5)
		usage();
	cmd = argv[4];
	mongoc_init();
	mongoc_log_set_handler(quiet, NULL);
	if ((client = mongoc_client_new(argv[1])) == NULL) {
		fprintf(stderr, "dbtool: bad URI %s\n", argv[1]);
		return 64;
	}
	coll = mongoc_client_get_collection(client, argv[2], argv[3]);
	filter = parse(argc > 5 && strcmp(cmd, "load") != 0 &&
	    strcmp(cmd, "fill") != 0 ? argv[5] : "{}");

	if (strcmp(cmd, "count") == 0) {
		int64_t n = mongoc_collection_count_documents(coll, filter,
		    NULL, NULL, NULL, &error);

		if (n < 0)
			rc = 1;
		else
			printf("%lld\n", (long long)n);
	} else if (strcmp(cmd, "find") == 0) {
		mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll,
		    filter, NULL, NULL);
		const bson_t *doc;

		while (mongoc_cursor_next(cur, &doc)) {
			char *s = bson_as_relaxed_extended_json(doc, NULL);

			printf("%s\n", s);
			bson_free(s);
		}
		if (mongoc_cursor_error(cur, &error))
			rc = 1;
		mongoc_cursor_destroy(cur);
	} else if (strcmp(cmd, "delete") == 0 && argc > 5) {
		long long n = delete_sliced(coll, filter, &error);

		if (n >= 0)
			printf("%lld\n", n);
		else
			rc = 1;
	} else if (strcmp(cmd, "drop") == 0) {
		/* Dropping what is not there is not an error here. */
		if (!mongoc_collection_drop_with_opts(coll, NULL, &error) &&
		    strstr(error.message, "not found") == NULL &&
		    strstr(error.message, "doesn't exist") == NULL)
			rc = 1;
	} else if (strcmp(cmd, "fill") == 0 && argc > 7) {
		rc = fill(client, argv[2], coll, argv + 5, argc - 5);
		memset(&error, 0, sizeof error);
	} else if (strcmp(cmd, "load") == 0 && argc > 5) {
		rc = load(coll, argv[5]);
		memset(&error, 0, sizeof error);
	} else
		usage();

	if (rc == 1)
		fprintf(stderr, "dbtool: %s: %s\n", cmd, error.message);
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
