/*
 * atomicfile.c - replacing a file whole: readers (nginx serving it, the
 * next worker) see the old content or the new, never a part. The one
 * atomic write of the services (libvdispatch's registry cache has its
 * own, with the same steps: docs/code.md says why they are two).
 *
 * The text goes to a file of its own beside the target (the same file
 * system, so that rename() replaces atomically), is flushed to the disk
 * (fsync: after a crash the name holds the old or the new text, not an
 * empty file), then renamed over the target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

bool
svc_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    bson_error_t *error)
{
	const char *p = data;
	size_t tmplen = strlen(path) + sizeof ".tmp.XXXXXX";
	char *tmp = bson_malloc(tmplen);
	int fd, saved;

	/* A name of its own: processes writing the same file do not meet. */
	snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		bson_set_error(error, 0, (uint32_t)errno, "cannot write %s: %s",
		    path, strerror(errno));
		bson_free(tmp);
		return false;
	}
	/* mkstemp makes it 0600: the mode asked for, whatever the umask. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	bson_free(tmp);
	return true;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	bson_set_error(error, 0, (uint32_t)saved, "cannot write %s: %s", path,
	    strerror(saved));
	bson_free(tmp);
	return false;
}
