/*
 * generation.c - a counter shared by every process of a host, in a small
 * memory-mapped file: a writer bumps it after a write and before its
 * answer; a reader keeps what it built from the database for as long as
 * the counter has not moved. Reading it is one memory load: no system
 * call, no database query.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

#define GEN_SIZE 4096

struct svc_gen {
	uint64_t *counter;
};

void *
svc_shared_map(const char *state_dir, const char *name, size_t size,
    bson_error_t *error)
{
	char path[4096];
	struct stat st;
	bool shm = state_dir == NULL || *state_dir == '\0';
	void *p;
	int fd, saved;

	if (!shm) {
		snprintf(path, sizeof path, "%s/cache", state_dir);
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			goto fail;
		snprintf(path, sizeof path, "%s/cache/%s", state_dir, name);
	} else
		snprintf(path, sizeof path, "/dev/shm/vdispatch-%s", name);
	if ((fd = svc_open_shared(path, 0640, shm)) < 0)
		goto fail;
	/* Growing a file that is long enough already changes nothing, so
	 * processes that open it at once need no lock. */
	if (fstat(fd, &st) != 0 || ((size_t)st.st_size < size &&
	    ftruncate(fd, (off_t)size) != 0)) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	saved = errno;
	close(fd);
	errno = saved;
	if (p == MAP_FAILED)
		goto fail;
	return p;
fail:
	bson_set_error(error, 0, (uint32_t)errno, "%s: %s", path,
	    strerror(errno));
	return NULL;
}

struct svc_gen *
svc_gen_open(const char *state_dir, const char *name, bson_error_t *error)
{
	char file[256];
	struct svc_gen *g;
	void *p;

	snprintf(file, sizeof file, "%s.gen", name);
	if ((p = svc_shared_map(state_dir, file, GEN_SIZE, error)) == NULL)
		return NULL;
	g = bson_malloc0(sizeof *g);
	g->counter = p;
	return g;
}

void
svc_gen_close(struct svc_gen *g)
{
	if (g == NULL)
		return;
	munmap(g->counter, GEN_SIZE);
	bson_free(g);
}

void
svc_gen_bump(struct svc_gen *g)
{
	if (g != NULL)
		__atomic_add_fetch(g->counter, 1, __ATOMIC_RELEASE);
}

uint64_t
svc_gen_read(const struct svc_gen *g)
{
	return g != NULL ? __atomic_load_n(g->counter, __ATOMIC_ACQUIRE) : 0;
}
