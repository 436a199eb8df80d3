/*
 * metrics-private.h - the layout of the shared metrics file and what the
 * metrics files (metrics.c, metrics-update.c, metrics-render.c) share.
 */
#ifndef METRICS_PRIVATE_H
#define METRICS_PRIVATE_H

#include <limits.h>

#include "service.h"

#define MX_MAGIC 0x7664697370617463ULL    /* "vdispatc" */
#define MX_LAYOUT 1                        /* bump when the layout changes */
#define MX_SLOTS 1024
#define MX_WORKERS 64
#define MX_NAME 64
#define MX_LABELS 192
#define MX_BUCKETS 13                      /* 12 bounds and +Inf */
#define MX_VALUES (MX_BUCKETS + 1)         /* histogram: buckets, sum */

enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_READY = 2 };
enum { KIND_COUNTER = 1, KIND_GAUGE = 2, KIND_HISTOGRAM = 3 };

/* One series. name, labels, kind, worker and hash never change once the
 * slot is READY; only v[] does, atomically. */
struct mx_slot {
	uint32_t state;
	uint8_t kind;
	uint8_t unused;
	uint16_t worker;            /* 0: shared; else a worker index + 1 */
	uint64_t hash;
	char name[MX_NAME];
	char labels[MX_LABELS];
	/* counter: v[0]. gauge: v[0] as int64. histogram: v[0..12] the
	 * count of each bucket (not cumulative), v[13] the sum in us. */
	uint64_t v[MX_VALUES];
};

struct mx_worker {
	int32_t pid;                /* 0: free */
	uint32_t unused;
	uint64_t start;             /* its start time in clock ticks since
	                               boot: a reused pid is not it */
};

struct mx_segment {
	uint64_t magic;
	uint32_t layout;
	uint32_t n_slots;
	int64_t created_ms;
	uint64_t overflow;          /* updates dropped (mx_slot_get) */
	struct mx_worker workers[MX_WORKERS];
	struct mx_slot slots[MX_SLOTS];
};

/* What a request's series are, remembered by the process: the request
 * path needs no formatting and no lookup after the first time. */
#define MEMO_SIZE 64

struct memo {
	const struct svc_route *route;  /* NULL: no route ran */
	int method;                     /* index in methods[] */
	int status;                     /* 0: an empty entry */
	struct mx_slot *count, *hist;
};

struct svc_metrics {
	struct mx_segment *seg;
	int worker;                 /* this process's index, -1 if none */
	pthread_mutex_t memo_lock;  /* guards memo */
	struct memo memo[MEMO_SIZE];
	char service[32];
	char version[64];
	char path[PATH_MAX];
};

/* The histogram's upper bounds (MX_BUCKETS - 1 of them, +Inf aside) and
 * their le labels (MX_BUCKETS, with +Inf). */
extern const double mx_bounds[];
extern const char *const mx_bound_text[];

/* Whether worker entry w is a live process; *pi is what /proc says of it. */
bool mx_worker_alive(const struct mx_worker *w, struct svc_proc *pi);

/* The slot of series name{labels} of this kind, claimed on first use
 * (worker -1: shared by every worker); NULL when it does not fit. */
struct mx_slot *mx_slot_get(struct svc_metrics *m, const char *name,
    const char *labels, int kind, int worker);

/* Counts seconds into histogram slot s. */
void mx_hist_add(struct mx_slot *s, double seconds);

#endif /* METRICS_PRIVATE_H */
