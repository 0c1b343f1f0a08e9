/* Block backend on a raw image file or host block device: positioned vectored I/O, fdatasync
 * and fallocate (fallocate(2): FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE). */
#include "host/blk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ZERO_CHUNK (64 * 1024) /* bytes written per call when zeroes must be written out */

int blk_file_open(struct blk_file *f, const char *path, bool readonly)
{
	struct stat st;
	int err;

	f->fd = -1;
	f->size = 0;
	f->readonly = readonly;
	f->blkdev = false;
	f->locked = false;
	/* O_NONBLOCK so that opening a FIFO by mistake fails below instead of waiting for a
	 * writer; it is cleared again once the file is known to be a disk. */
	f->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st) < 0)
		goto fail_errno;
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;
		if (ioctl(f->fd, BLKGETSIZE64, &bytes) < 0)
			goto fail_errno;
		f->size = bytes;
		f->blkdev = true;
	} else {
		err = -ENOTBLK;
		goto fail;
	}
	int fl = fcntl(f->fd, F_GETFL);
	if (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto fail_errno;
	return 0;

fail_errno:
	err = -errno;
fail:
	close(f->fd);
	f->fd = -1;
	return err;
}

/* QEMU's lock bytes and permission bits (block/file-posix.c RAW_LOCK_*_BASE, BLK_PERM_*). */
#define LOCK_PERM_BASE   100
#define LOCK_SHARED_BASE 200
#define PERM_READ        0 /* BLK_PERM_CONSISTENT_READ */
#define PERM_WRITE       1
#define PERM_RESIZE      3

/* Take a shared lock on byte off of the file (F_OFD_SETLK); 0, -EBUSY if another holds it
 * exclusively, or -errno. */
static int lock_byte(int fd, off_t off)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

/* Whether another open file description holds a lock on byte off (F_OFD_GETLK asking for an
 * exclusive lock); 1, 0, or -errno. */
static int byte_taken(int fd, off_t off)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* Release every lock this open file description holds on the file. */
static void unlock_all(int fd)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	fcntl(fd, F_OFD_SETLK, &fl);
}

int blk_file_lock(struct blk_file *f, bool *writer)
{
	unsigned held = 1u << PERM_READ | (f->readonly ? 0 : 1u << PERM_WRITE);
	unsigned unshared = 1u << PERM_WRITE | 1u << PERM_RESIZE;
	int rc;

	*writer = false;
	for (unsigned bit = 0; bit < 4; bit++) {
		if ((held >> bit & 1) && (rc = lock_byte(f->fd, LOCK_PERM_BASE + bit)))
			goto fail;
		if ((unshared >> bit & 1) && (rc = lock_byte(f->fd, LOCK_SHARED_BASE + bit)))
			goto fail;
	}
	/* Conflicts: a permission not shared here that another holds (first, so that another
	 * writer is named as one), or one held here that another does not share. */
	for (unsigned bit = 0; bit < 4; bit++) {
		if ((unshared >> bit & 1) && (rc = byte_taken(f->fd, LOCK_PERM_BASE + bit))) {
			*writer = rc > 0 && bit == PERM_WRITE;
			goto fail;
		}
	}
	for (unsigned bit = 0; bit < 4; bit++)
		if ((held >> bit & 1) && (rc = byte_taken(f->fd, LOCK_SHARED_BASE + bit)))
			goto fail;
	f->locked = true;
	return 0;

fail:
	unlock_all(f->fd); /* drop what was taken */
	return rc > 0 ? -EBUSY : rc;
}

void blk_file_unlock(struct blk_file *f)
{
	if (f->fd >= 0 && f->locked)
		unlock_all(f->fd);
	f->locked = false;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->locked = false;
}

/* Drop the first n bytes from the iovec array, skipping emptied entries. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

static int iov_check(int iovcnt, uint64_t off)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX || off > (uint64_t)INT64_MAX)
		return -EINVAL;
	return 0;
}

int blk_file_preadv(struct blk_file *f, struct iovec *iov, int iovcnt, uint64_t off)
{
	int err = iov_check(iovcnt, off);
	if (err)
		return err;
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt > 0) {
		ssize_t n = preadv(f->fd, iov, iovcnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		iov_advance(&iov, &iovcnt, (size_t)n);
	}
	return 0;
}

int blk_file_pwritev(struct blk_file *f, struct iovec *iov, int iovcnt, uint64_t off)
{
	int err = iov_check(iovcnt, off);
	if (err)
		return err;
	iov_advance(&iov, &iovcnt, 0);
	while (iovcnt > 0) {
		ssize_t n = pwritev(f->fd, iov, iovcnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		iov_advance(&iov, &iovcnt, (size_t)n);
	}
	return 0;
}

int blk_file_flush(struct blk_file *f)
{
	while (fdatasync(f->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static bool range_ok(uint64_t off, uint64_t len)
{
	return off <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - off;
}

/* fallocate with mode over the range; 0 or -errno. */
static int do_fallocate(struct blk_file *f, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(f->fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The host cannot do this kind of fallocate on this file: try something else. */
static bool unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS;
}

int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len)
{
	if (!range_ok(off, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	int err = do_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	return unsupported(err) ? 0 : err;
}

static int write_zeroes_slow(struct blk_file *f, uint64_t off, uint64_t len)
{
	size_t chunk = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
	void *zero = calloc(1, chunk);
	int err = 0;

	if (!zero)
		return -ENOMEM;
	while (len > 0 && !err) {
		struct iovec iov = {zero, len < chunk ? (size_t)len : chunk};
		size_t n = iov.iov_len;
		err = blk_file_pwritev(f, &iov, 1, off);
		off += n;
		len -= n;
	}
	free(zero);
	return err;
}

int blk_file_write_zeroes(struct blk_file *f, uint64_t off, uint64_t len, bool unmap)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	const int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (!range_ok(off, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	int err = do_fallocate(f, unmap ? punch : zero, off, len);
	if (unsupported(err))
		err = do_fallocate(f, unmap ? zero : punch, off, len);
	if (unsupported(err))
		err = write_zeroes_slow(f, off, len);
	return err;
}
