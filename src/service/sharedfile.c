/*
 * sharedfile.c - opening a file that the workers of a service share (a
 * metrics table, a generation counter), where other users may write too.
 *
 * Without a state directory these files live in /dev/shm, which every
 * user can write to: another user could have put a symbolic link there
 * (we would write through it, as whoever runs us) or a file of their own
 * (which they could then change under us). So the file is made with
 * O_EXCL|O_NOFOLLOW, and one that exists already is taken only when it is
 * a plain file of ours that nobody else may write.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

int
svc_open_shared(const char *path, mode_t mode, bool untrusted_dir)
{
	struct stat st;
	int fd;

	if (!untrusted_dir)
		return open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    mode);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd >= 0 || errno != EEXIST)
		return fd;
	/* Made before, by another worker of ours, or by someone else. */
	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}
