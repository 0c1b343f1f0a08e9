/* virtio-blk (virtio 1.2 section 5.2): a disk on a host blk_file. One request queue; the
 * vCPU thread that notifies only pops requests and hands them to the disk's worker thread,
 * which does the host I/O and completes them. */
#ifndef RVISOR_VIRTIO_BLK_H
#define RVISOR_VIRTIO_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/rate_limiter.h"
#include "virtio/virtq.h"

struct blk_file;
struct iovec;
struct state_in;
struct state_out;
struct virtio_dev;
struct virtio_transport;

#define VIRTIO_ID_BLOCK 2 /* 5.2.1 */

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2

#define VIRTIO_BLK_SECTOR_SIZE 512 /* bytes; the protocol's unit whatever blk_size says */
#define VIRTIO_BLK_ID_BYTES    20  /* GET_ID string, NUL-padded, no NUL when 20 long */
/* virtio_blk_discard_write_zeroes.flags (5.2.6). */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

/* The bytes of struct virtio_blk_config (5.2.4) up to and including the secure-erase fields;
 * the zoned characteristics are left out as VIRTIO_BLK_F_ZONED is never offered. */
#define VIRTIO_BLK_CONFIG_SIZE 72

/* Requests popped and waiting for (or under) the worker's I/O. */
#define VIRTIO_BLK_QUEUE_DEPTH 8

/* One disk: its constant identity and configuration space, the ring of popped requests
 * shared by the notifying vCPU threads and the worker, and the worker's scratch. */
/* What the disk did, counted atomically: read with __atomic_load_n from any thread. */
struct virtio_blk_stats {
	uint64_t reads, writes, flushes; /* requests done */
	uint64_t read_bytes, write_bytes;
	uint64_t errors;    /* requests answered VIRTIO_BLK_S_IOERR or UNSUPP */
	uint64_t throttled; /* times the rate limiter made the worker wait */
};

struct virtio_blk {
	struct blk_file *file; /* not owned; changed under lock while not busy */
	bool readonly;
	uint64_t capacity; /* 512-byte sectors; as file */
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE]; /* little-endian, under lock */

	pthread_mutex_t lock; /* guards everything below; never held across transport calls */
	pthread_cond_t work;  /* worker: a request was queued, or stop */
	pthread_cond_t idle;  /* reset: the worker finished the request it was doing I/O for */
	struct virtio_transport *t;
	struct virtq_req *slot; /* VIRTIO_BLK_QUEUE_DEPTH, a ring */
	unsigned head, count;   /* slot[head] is the oldest; count slots are taken */
	bool filling;           /* a thread is popping requests into free slots */
	bool more;              /* popping was asked for while full or while filling */
	bool busy;              /* the worker is doing I/O on slot[head] */
	bool stop;
	bool paused;    /* the VM is paused: take no request */
	bool draining;  /* virtio_blk_quiesce: serve the requests held, paused or not */
	bool finishing; /* the worker is completing a request (and refilling) unlocked */
	bool limited;   /* limiter holds a limit */
	struct rate_limiter limiter;
	uint64_t epoch;  /* bumped by reset: requests of an older epoch are dropped */
	uint32_t qepoch; /* the queue's epoch (struct virtq) at the last reset: a request
			  * popped with an older one was popped before that reset */
	pthread_t worker;

	/* Worker-only scratch. */
	struct iovec *iov; /* VIRTQ_MAX_SEGS */

	struct virtio_blk_stats stats;
};

/* Set up a disk on file (opened by the caller, who closes it after virtio_blk_destroy) and
 * fill dev for a transport's init (virtio_mmio_init, virtio_pci_init). id is the serial GET_ID
 * returns (at most 20 bytes are used; NULL or "" gives an empty id). The disk is read-only
 * (VIRTIO_BLK_F_RO) if file was opened read-only; capacity is the file's size in 512-byte sectors,
 * rounded down. Offers VIRTIO_BLK_F_SEG_MAX, F_BLK_SIZE, F_FLUSH, and F_DISCARD with F_WRITE_ZEROES
 * on a writable disk. Starts the worker thread. Returns 0, -ENOMEM or the -errno of pthread_create.
 */
int virtio_blk_init(struct virtio_blk *b, struct blk_file *file, const char *id,
		    struct virtio_dev *dev);
/* Limit the disk's I/O to cfg (Firecracker's rate limiter: bytes and operations; an empty
 * cfg removes the limit), from now on, with full buckets. The worker waits for tokens
 * before each request, asleep. */
void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *cfg);
/* Put the disk on another host file (opened the same way, read-only or not, as the first;
 * the caller closes the old one afterwards): waits for the request under I/O, then the
 * following requests go to file. capacity and the configuration space follow file's size;
 * the caller tells the driver with virtio_config_changed (virtio 1.2 section 2.5.1).
 * Returns 0, or -EINVAL when file's read-only state differs from the disk's. */
int virtio_blk_set_file(struct virtio_blk *b, struct blk_file *file);
/* Pause (true) or resume the worker: paused, it takes no request; pausing returns once the
 * request it was doing I/O for is done. */
void virtio_blk_set_paused(struct virtio_blk *b, bool paused);
/* For a snapshot of the paused VM (the vCPUs parked, virtio_blk_set_paused(b, true)): let the
 * worker carry out and complete every request popped from the ring (in b->slot) and those
 * still available in the ring, as it would running, but without waiting for the rate limiter;
 * returns once none is held, leaving the worker paused. The completions write guest RAM and
 * the used ring (and may interrupt the driver): call this before the RAM and the transport are
 * saved, so that the snapshot holds no request in flight (virtio_blk_state_save fails
 * otherwise). */
void virtio_blk_quiesce(struct virtio_blk *b);
/* Snapshots (see transport.h). Section "virtio-blk", version 1: u64 capacity (512-byte
 * sectors), bool read-only, the 20 bytes of the serial (GET_ID). They follow the image and the
 * configuration: the load checks them equal to the disk's, never takes them. Saving fails the
 * stream, naming the disk, if a request is in flight (virtio_blk_quiesce was not called). */
void virtio_blk_state_save(struct virtio_blk *b, struct state_out *o);
int virtio_blk_state_load(struct virtio_blk *b, struct state_in *in);
/* Stop the worker once the requests it holds are done and completed, then free everything.
 * Call before the transport is destroyed, as completions still use it, and after
 * the vCPUs stopped notifying. A second call does nothing. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif
