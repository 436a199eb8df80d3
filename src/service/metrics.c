/*
 * metrics.c - Prometheus metrics of one service version, summed over all
 * of its worker processes.
 *
 * spawn-fcgi forks several workers on one socket and a scrape reaches one
 * of them, so the numbers cannot live in a process: every worker maps one
 * file (STATE/metrics/NAME-VERSION.metrics) and updates it with atomic
 * operations. The file is a fixed table of slots, an open-addressing hash
 * table keyed by metric name and labels: the first process that needs a
 * series claims a free slot with a compare-and-swap, fills in the name and
 * labels and publishes it; everyone else finds it by hash. A process
 * remembers where its request series are, so a request costs a look in
 * that memo and three atomic additions: no formatting, no system call, no
 * lock another process could hold.
 *
 * Gauges that each process holds for itself (a circuit breaker's state)
 * are kept per worker and shown as the largest value among the workers
 * that are alive. Process figures (memory, CPU) are read from /proc for
 * every live worker when scraped.
 *
 * This file holds the table: its layout (metrics-private.h), the workers,
 * and finding or claiming a series' slot. metrics-update.c adds to the
 * series, metrics-render.c writes them in the text format.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics-private.h"

/* The histogram's upper bounds, in seconds and as the le label says. */
const double mx_bounds[MX_BUCKETS - 1] = { .001, .0025, .005, .01, .025,
    .05, .1, .25, .5, 1, 2.5, 5 };
const char *const mx_bound_text[MX_BUCKETS] = { "0.001", "0.0025", "0.005",
    "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf" };

/* The hash of a series: name, a 0xff byte (in no name), labels, and the
 * worker (-1 for none) plus one as a byte (MX_WORKERS is under 255). */
static uint64_t
series_hash(const char *name, const char *labels, int worker)
{
	unsigned char sep = 0xff, w = (unsigned char)(worker + 1);
	uint64_t h = svc_hash_add(SVC_HASH_INIT, name, strlen(name));

	h = svc_hash_add(h, &sep, 1);
	h = svc_hash_add(h, labels, strlen(labels));
	return svc_hash_add(h, &w, 1);
}

/* The file's path when no state directory is given: /dev/shm, named after
 * the socket on fd 0, which is what tells deployments apart. */
static void
default_path(char *buf, size_t size, const char *service,
    const char *version)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	uint64_t h;

	memset(&sa, 0, sizeof sa);
	if (getsockname(0, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.sun_family != AF_UNIX)
		snprintf(sa.sun_path, sizeof sa.sun_path, "pid %ld",
		    (long)getpid());
	h = series_hash(sa.sun_path, "", 0);
	snprintf(buf, size, "/dev/shm/vdispatch-%s-%s-%016llx.metrics",
	    service, version, (unsigned long long)h);
}

/* Whether worker entry w is a process that is alive: its pid runs and
 * started when the entry says (a pid can be reused). */
bool
mx_worker_alive(const struct mx_worker *w, struct svc_proc *pi)
{
	int32_t pid = __atomic_load_n(&w->pid, __ATOMIC_ACQUIRE);

	return pid != 0 && svc_proc_read(pid, pi) &&
	    pi->start == __atomic_load_n(&w->start, __ATOMIC_RELAXED);
}

/* Takes a worker entry: a free one, or one whose process is gone. Called
 * under the file's lock, so no two processes claim at once. The entry's
 * per-worker gauges start again from 0 (a new process's breakers are
 * closed). */
static int
claim_worker(struct mx_segment *seg)
{
	struct svc_proc me, pi;
	int i, j;

	if (!svc_proc_read(getpid(), &me))
		return -1;
	for (i = 0; i < MX_WORKERS; i++) {
		if (mx_worker_alive(&seg->workers[i], &pi))
			continue;
		__atomic_store_n(&seg->workers[i].pid, 0, __ATOMIC_RELEASE);
		for (j = 0; j < MX_SLOTS; j++) {
			struct mx_slot *s = &seg->slots[j];

			if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) ==
			    SLOT_READY && s->worker == i + 1)
				__atomic_store_n(&s->v[0], 0, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&seg->workers[i].start, me.start,
		    __ATOMIC_RELAXED);
		__atomic_store_n(&seg->workers[i].pid, (int32_t)getpid(),
		    __ATOMIC_RELEASE);
		return i;
	}
	return -1;
}

struct svc_metrics *
svc_metrics_open(const char *state_dir, const char *service,
    const char *version, bson_error_t *error)
{
	struct svc_metrics *m;
	struct stat st;
	void *map;
	int fd = -1;
	bool fresh;

	m = bson_malloc0(sizeof *m);
	snprintf(m->service, sizeof m->service, "%s", service);
	snprintf(m->version, sizeof m->version, "%s", version);
	if (state_dir != NULL && *state_dir != '\0') {
		snprintf(m->path, sizeof m->path, "%s/metrics", state_dir);
		if (mkdir(m->path, 0755) != 0 && errno != EEXIST) {
			bson_set_error(error, 0, (uint32_t)errno, "%s: %s",
			    m->path, strerror(errno));
			goto fail;
		}
		snprintf(m->path, sizeof m->path, "%s/metrics/%s-%s.metrics",
		    state_dir, service, version);
	} else
		default_path(m->path, sizeof m->path, service, version);

	if ((fd = svc_open_shared(m->path, 0644, state_dir == NULL ||
	    *state_dir == '\0')) < 0 ||
	    flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		bson_set_error(error, 0, (uint32_t)errno, "%s: %s", m->path,
		    strerror(errno));
		goto fail;
	}
	/* Under the lock, the first worker lays the table out; the others
	 * find it ready. A file of another layout is laid out again. */
	fresh = st.st_size != (off_t)sizeof *m->seg;
	if (fresh && ftruncate(fd, (off_t)sizeof *m->seg) != 0) {
		bson_set_error(error, 0, (uint32_t)errno, "%s: %s", m->path,
		    strerror(errno));
		goto fail;
	}
	map = mmap(NULL, sizeof *m->seg, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (map == MAP_FAILED) {
		bson_set_error(error, 0, (uint32_t)errno, "%s: mmap: %s",
		    m->path, strerror(errno));
		goto fail;
	}
	m->seg = map;
	if (fresh || m->seg->magic != MX_MAGIC ||
	    m->seg->layout != MX_LAYOUT || m->seg->n_slots != MX_SLOTS) {
		memset(m->seg, 0, sizeof *m->seg);
		m->seg->layout = MX_LAYOUT;
		m->seg->n_slots = MX_SLOTS;
		m->seg->created_ms = svc_now_ms();
		__atomic_store_n(&m->seg->magic, MX_MAGIC, __ATOMIC_RELEASE);
	}
	m->worker = claim_worker(m->seg);
	pthread_mutex_init(&m->memo_lock, NULL);
	flock(fd, LOCK_UN);
	close(fd);
	return m;
fail:
	if (fd >= 0)
		close(fd);
	bson_free(m);
	return NULL;
}

void
svc_metrics_close(struct svc_metrics *m)
{
	int32_t me;

	if (m == NULL)
		return;
	/* The entry is free again (unless a fork of ours holds it). */
	if (m->worker >= 0) {
		me = (int32_t)getpid();
		__atomic_compare_exchange_n(&m->seg->workers[m->worker].pid,
		    &me, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	munmap(m->seg, sizeof *m->seg);
	pthread_mutex_destroy(&m->memo_lock);
	bson_free(m);
}

const char *
svc_metrics_path(const struct svc_metrics *m)
{
	return m != NULL ? m->path : "";
}

/* Waits for a slot another thread or process is filling in. Filling in
 * takes a moment; one whose filler died stays BUSY, and is passed over
 * after a while. */
static uint32_t
wait_ready(struct mx_slot *s)
{
	uint32_t st;
	int i;

	for (i = 0; i < 20000; i++) {
		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st != SLOT_BUSY)
			return st;
		if (i >= 100)
			sched_yield();
	}
	return SLOT_BUSY;
}

/* The slot of a series, claimed on first use; NULL (and counted as an
 * overflow) when the name or the labels are too long, the kind differs
 * from the series', or the table is full. worker is -1 for a shared
 * series. */
struct mx_slot *
mx_slot_get(struct svc_metrics *m, const char *name, const char *labels,
    int kind, int worker)
{
	size_t nlen = strlen(name), llen = strlen(labels), i, start;
	uint64_t h;

	if (nlen >= MX_NAME || llen >= MX_LABELS)
		goto overflow;
	h = series_hash(name, labels, worker);
	start = (size_t)(h % MX_SLOTS);
	for (i = 0; i < MX_SLOTS; i++) {
		struct mx_slot *s = &m->seg->slots[(start + i) % MX_SLOTS];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT_FREE) {
			if (__atomic_compare_exchange_n(&s->state, &st,
			    SLOT_BUSY, false, __ATOMIC_ACQ_REL,
			    __ATOMIC_ACQUIRE)) {
				s->kind = (uint8_t)kind;
				s->worker = (uint16_t)(worker + 1);
				s->hash = h;
				memcpy(s->name, name, nlen + 1);
				memcpy(s->labels, labels, llen + 1);
				__atomic_store_n(&s->state, SLOT_READY,
				    __ATOMIC_RELEASE);
				return s;
			}
			/* Someone else claimed it: st says how far it is. */
		}
		if (st == SLOT_BUSY)
			st = wait_ready(s);
		if (st != SLOT_READY || s->hash != h ||
		    s->worker != (uint16_t)(worker + 1) ||
		    strcmp(s->name, name) != 0 ||
		    strcmp(s->labels, labels) != 0)
			continue;
		if (s->kind != kind)
			break;
		return s;
	}
overflow:
	__atomic_fetch_add(&m->seg->overflow, 1, __ATOMIC_RELAXED);
	return NULL;
}
