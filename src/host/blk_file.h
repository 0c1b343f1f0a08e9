/* Block backend on a raw image file or a host block device: the host side of a virtio-blk
 * disk. Plain positioned I/O (preadv/pwritev), fdatasync for flushes and fallocate for
 * discard and write-zeroes. Offsets and lengths here are in bytes; the device converts from
 * 512-byte sectors and checks ranges before calling. */
#ifndef RVISOR_HOST_BLK_FILE_H
#define RVISOR_HOST_BLK_FILE_H

#include <stdbool.h>
#include <stdint.h>

struct iovec;

struct blk_file {
	int fd;
	uint64_t size; /* bytes, fixed at open (st_size, or BLKGETSIZE64 for a block device) */
	bool readonly; /* opened O_RDONLY: writes, discards and write-zeroes fail with -EBADF */
	bool blkdev;   /* a host block device rather than a regular file */
	bool locked;   /* blk_file_lock succeeded: the locks go with the descriptor */
};

/* Open path as a disk image: O_RDWR, or O_RDONLY when readonly, always O_CLOEXEC. Accepts a
 * regular file or a block device. Returns 0, -EISDIR for a directory, -ENOTBLK for any other
 * kind of file (FIFO, socket, character device), or the -errno of open/fstat/ioctl. */
int blk_file_open(struct blk_file *f, const char *path, bool readonly);
/* Lock the open image against other VMs the way QEMU does (block/file-posix.c), so that
 * rvisor and QEMU keep out of each other's disks too: open file description locks (fcntl
 * F_OFD_SETLK, shared) on byte 100 + bit of each permission held and on byte 200 + bit of each
 * permission not shared with others, the bits being QEMU's BLK_PERM_* (0 consistent read,
 * 1 write, 3 resize). A read-write image holds read and write and shares neither write nor
 * resize: it is exclusive. A read-only one holds read and shares all but write and resize:
 * read-only users share it. The locks last until the descriptor is closed.
 * Returns 0; -EBUSY when another open file description (another VM, or another open in this
 * one) holds a permission this one does not share or shares none of a permission this one
 * holds (*writer then tells whether that other user writes); or the -errno of fcntl, e.g.
 * -EINVAL or -ENOLCK on a file system without such locks. */
int blk_file_lock(struct blk_file *f, bool *writer);
/* Drop the locks blk_file_lock took (a migration hands the disk to the VM's new process,
 * which locks it; blk_file_lock takes them again if the migration fails). */
void blk_file_unlock(struct blk_file *f);
/* Close the descriptor. Safe to call twice and on a zeroed struct with fd set to -1. */
void blk_file_close(struct blk_file *f);

/* Read the bytes at offset off into the iovcnt buffers of iov (iovcnt <= IOV_MAX), retrying
 * short reads. iov is used as scratch and left modified. Returns 0, -EIO if the file ends
 * before the buffers are full (it shrank since open), or the -errno of preadv. */
int blk_file_preadv(struct blk_file *f, struct iovec *iov, int iovcnt, uint64_t off);
/* Write the iovcnt buffers of iov at offset off, retrying short writes. iov is used as
 * scratch and left modified. Returns 0, -EIO if the host accepts no bytes, or the -errno of
 * pwritev (-EBADF when read-only). The data is not durable until blk_file_flush succeeds. */
int blk_file_pwritev(struct blk_file *f, struct iovec *iov, int iovcnt, uint64_t off);
/* Make every completed write durable (fdatasync). Returns 0 or -errno. */
int blk_file_flush(struct blk_file *f);
/* Deallocate len bytes at off (fallocate PUNCH_HOLE | KEEP_SIZE); later reads of the range
 * return zeroes or the old data. A host file system that cannot punch holes makes this a
 * successful no-op, since discarding is only a hint. Returns 0 or -errno. */
int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len);
/* Make len bytes at off read back as zeroes. With unmap the range may be deallocated
 * (PUNCH_HOLE first), without it allocation is kept (ZERO_RANGE first); either falls back to
 * the other, then to writing zeroes. Returns 0 or -errno. */
int blk_file_write_zeroes(struct blk_file *f, uint64_t off, uint64_t len, bool unmap);

#endif
