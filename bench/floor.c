/*
 * floor.c - the database's floor for adding a reply: how many inserts a
 * second the database takes when each one is its own acknowledged
 * write, from C through the driver the services use (libmongoc), with
 * CONNS connections at once, each a thread with its own client, as each
 * responder worker holds one. Built and run by bench/floor; not installed.
 *
 *   floor URI DB COLL CONNS SECONDS WRITES [SHAPE]
 *
 * One operation is WRITES acknowledged writes in a row on one connection
 * (1: the least a durable reply needs; 4 or 5: what a reply costs when
 * each of its records is a write of its own). SHAPE is "insert" (a new
 * document each write, like a reply) or "push" (the article's Node.js
 * service: an update $push of the reply onto one of 10 ticket documents).
 * Prints one line: conns writes ops ops/s p50_ms p99_ms errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#define MAX_CONNS 256
#define MAX_SAMPLES 400000
#define TICKETS 10

struct run {
	const char *uri, *db, *coll;
	int writes, push;
	double until;            /* CLOCK_MONOTONIC seconds */
	bson_oid_t tickets[TICKETS];
};

struct worker {
	pthread_t thread;
	const struct run *run;
	double *lat;             /* ms of each operation */
	long n, errors;
};

static void
quiet(mongoc_log_level_t level, const char *domain, const char *message,
    void *arg)
{
	(void)arg;
	if (level <= MONGOC_LOG_LEVEL_ERROR)
		fprintf(stderr, "floor: %s: %s\n", domain, message);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One acknowledged write; 0 on success. */
static int
write_one(mongoc_collection_t *c, const struct run *r, long i)
{
	bson_error_t error;
	bson_t *doc;
	int ok;

	if (r->push) {
		bson_t *sel = BCON_NEW("_id", BCON_OID(&r->tickets[i % TICKETS]));
		doc = BCON_NEW("$push", "{", "replies", "{",
		    "user", BCON_UTF8("floor"),
		    "message", BCON_UTF8("a reply of a typical length, said once"),
		    "}", "}");
		ok = mongoc_collection_update_one(c, sel, doc, NULL, NULL, &error);
		bson_destroy(sel);
	} else {
		bson_oid_t id, ticket;

		bson_oid_init(&id, NULL);
		bson_oid_init(&ticket, NULL);
		doc = BCON_NEW("_id", BCON_OID(&id), "ticketId", BCON_OID(&ticket),
		    "sequence", BCON_INT64(i), "user", BCON_UTF8("floor"),
		    "message", BCON_UTF8("a reply of a typical length, said once"),
		    "createdAt", BCON_DATE_TIME((int64_t)time(NULL) * 1000));
		ok = mongoc_collection_insert_one(c, doc, NULL, NULL, &error);
	}
	bson_destroy(doc);
	if (!ok)
		fprintf(stderr, "floor: %s\n", error.message);
	return ok ? 0 : -1;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	const struct run *r = w->run;
	mongoc_client_t *client = mongoc_client_new(r->uri);
	mongoc_collection_t *c;
	long i = 0;

	if (client == NULL) {
		w->errors++;
		return NULL;
	}
	c = mongoc_client_get_collection(client, r->db, r->coll);
	for (;;) {
		double t0 = now();
		int k, bad = 0;

		if (t0 >= r->until)
			break;
		for (k = 0; k < r->writes; k++)
			bad |= write_one(c, r, i++);
		if (bad)
			w->errors++;
		else if (w->n < MAX_SAMPLES)
			w->lat[w->n++] = (now() - t0) * 1000;
	}
	mongoc_collection_destroy(c);
	mongoc_client_destroy(client);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The push shape's tickets: 10 documents, made afresh. */
static void
make_tickets(struct run *r)
{
	mongoc_client_t *client = mongoc_client_new(r->uri);
	mongoc_collection_t *c;
	bson_error_t error;
	int i;

	if (client == NULL) {
		fprintf(stderr, "floor: bad URI\n");
		exit(65);
	}
	c = mongoc_client_get_collection(client, r->db, r->coll);
	for (i = 0; i < TICKETS; i++) {
		bson_t *doc;

		bson_oid_init(&r->tickets[i], NULL);
		doc = BCON_NEW("_id", BCON_OID(&r->tickets[i]),
		    "title", BCON_UTF8("a ticket"), "replies", "[", "]");
		if (!mongoc_collection_insert_one(c, doc, NULL, NULL, &error)) {
			fprintf(stderr, "floor: %s\n", error.message);
			exit(69);
		}
		bson_destroy(doc);
	}
	mongoc_collection_destroy(c);
	mongoc_client_destroy(client);
}

int
main(int argc, char **argv)
{
	static struct worker w[MAX_CONNS];
	struct run r;
	double *all;
	long n = 0, errors = 0;
	int conns, i;
	double seconds, t0, elapsed;

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: floor URI DB COLL CONNS SECONDS WRITES [insert|push]\n");
		return 64;
	}
	memset(&r, 0, sizeof r);
	r.uri = argv[1];
	r.db = argv[2];
	r.coll = argv[3];
	conns = atoi(argv[4]);
	seconds = atof(argv[5]);
	r.writes = atoi(argv[6]);
	r.push = argc == 8 && strcmp(argv[7], "push") == 0;
	if (conns < 1 || conns > MAX_CONNS || seconds <= 0 || r.writes < 1) {
		fprintf(stderr, "floor: CONNS 1..%d, SECONDS > 0, WRITES >= 1\n",
		    MAX_CONNS);
		return 64;
	}
	mongoc_init();
	mongoc_log_set_handler(quiet, NULL);
	if (r.push)
		make_tickets(&r);
	t0 = now();
	r.until = t0 + seconds;
	for (i = 0; i < conns; i++) {
		w[i].run = &r;
		w[i].lat = malloc(MAX_SAMPLES * sizeof(double));
		if (w[i].lat == NULL ||
		    pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "floor: out of memory or threads\n");
			return 71;
		}
	}
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].thread, NULL);
		n += w[i].n;
		errors += w[i].errors;
	}
	elapsed = now() - t0;
	all = malloc((n + 1) * sizeof(double));
	if (all == NULL)
		return 71;
	n = 0;
	for (i = 0; i < conns; i++) {
		memcpy(all + n, w[i].lat, w[i].n * sizeof(double));
		n += w[i].n;
		free(w[i].lat);
	}
	qsort(all, n, sizeof(double), cmp);
	printf("%d %d %ld %.1f %.2f %.2f %ld\n", conns, r.writes, n, n / elapsed,
	    n ? all[n / 2] : 0.0, n ? all[(long)(n * 0.99)] : 0.0, errors);
	free(all);
	mongoc_cleanup();
	return errors ? 1 : 0;
}
