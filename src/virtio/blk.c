/* virtio-blk (virtio 1.2 section 5.2): requests of struct virtio_blk_req (5.2.6) on a raw
 * image or host block device. queue_notify pops requests into a small ring of slots; one
 * worker thread per disk does the host I/O and completes them, so a slow disk never stalls a
 * vCPU. Every field the driver controls is checked before it reaches the host: header and
 * data lengths, sector ranges (overflow-safe), flags, segment counts. */
#include "virtio/blk.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "host/blk_file.h"
#include "host/seccomp.h"
#include "virtio/transport.h"

#define BLK_HDR_SIZE 16 /* type, reserved, sector: the device-readable head of a request */
#define BLK_DWZ_SIZE 16 /* struct virtio_blk_discard_write_zeroes */
/* Data segments per request (seg_max): a chain of VIRTQ_MAX_SEGS less the header and the
 * status descriptor a driver puts around the data. */
#define BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)
/* Sectors in one discard or write-zeroes segment: 2 GiB - 512, so one request keeps the
 * worker busy for a bounded time. */
#define BLK_DWZ_MAX_SECTORS 0x3fffffu
#define BLK_DWZ_MAX_SEG     1
/* discard_sector_alignment, in sectors: 4 KiB, the usual host file system block. */
#define BLK_DISCARD_ALIGN 8

_Static_assert(VIRTQ_MAX_SEGS <= IOV_MAX, "a request's segments must fit one preadv");

/* Offsets in struct virtio_blk_config (5.2.4). */
enum {
	CFG_CAPACITY = 0,
	CFG_SEG_MAX = 12,
	CFG_BLK_SIZE = 20,
	CFG_NUM_QUEUES = 34,
	CFG_MAX_DISCARD_SECTORS = 36,
	CFG_MAX_DISCARD_SEG = 40,
	CFG_DISCARD_SECTOR_ALIGNMENT = 44,
	CFG_MAX_WRITE_ZEROES_SECTORS = 48,
	CFG_MAX_WRITE_ZEROES_SEG = 52,
	CFG_WRITE_ZEROES_MAY_UNMAP = 56,
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Sectors [sector, sector + n) lie on the disk. */
static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t n)
{
	return sector <= b->capacity && n <= b->capacity - sector;
}

/* Fill iov with the len bytes that start skip bytes into the segments. Returns the count of
 * entries (at most nseg). */
static int build_iov(struct iovec *iov, const struct virtq_seg *seg, unsigned nseg, uint64_t skip,
		     uint64_t len)
{
	int n = 0;
	for (unsigned i = 0; i < nseg && len > 0; i++) {
		uint64_t l = seg[i].len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		iov[n].iov_base = (uint8_t *)seg[i].hva + skip;
		iov[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

/* VIRTIO_BLK_T_IN: data is every writable byte before the status byte. */
static uint8_t do_read(struct virtio_blk *b, const struct virtq_req *req, uint64_t sector)
{
	uint64_t len = req->in_len - 1;
	if (len % VIRTIO_BLK_SECTOR_SIZE || !range_ok(b, sector, len / VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	int n = build_iov(b->iov, req->in, req->nin, 0, len);
	if (blk_file_preadv(b->file, b->iov, n, sector * VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_OUT: data is every readable byte after the header. */
static uint8_t do_write(struct virtio_blk *b, const struct virtq_req *req, uint64_t sector)
{
	uint64_t len = req->out_len - BLK_HDR_SIZE;
	if (b->readonly || len % VIRTIO_BLK_SECTOR_SIZE ||
	    !range_ok(b, sector, len / VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	int n = build_iov(b->iov, req->out, req->nout, BLK_HDR_SIZE, len);
	if (blk_file_pwritev(b->file, b->iov, n, sector * VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_GET_ID: 20 bytes of NUL-padded id into data (the driver must give 20). */
static uint8_t do_get_id(struct virtio_blk *b, const struct virtq_req *req)
{
	if (req->in_len - 1 < VIRTIO_BLK_ID_BYTES)
		return VIRTIO_BLK_S_IOERR;
	virtq_write(req, 0, b->id, VIRTIO_BLK_ID_BYTES);
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_DISCARD and VIRTIO_BLK_T_WRITE_ZEROES: data is an array of struct
 * virtio_blk_discard_write_zeroes. All segments are checked before any is carried out. */
static uint8_t do_discard_write_zeroes(struct virtio_blk *b, const struct virtq_req *req,
				       uint32_t type)
{
	uint64_t len = req->out_len - BLK_HDR_SIZE;
	uint8_t seg[BLK_DWZ_MAX_SEG][BLK_DWZ_SIZE];

	if (b->readonly || len == 0 || len % BLK_DWZ_SIZE || len / BLK_DWZ_SIZE > BLK_DWZ_MAX_SEG)
		return VIRTIO_BLK_S_IOERR;
	unsigned nseg = (unsigned)(len / BLK_DWZ_SIZE);
	if (virtq_read(req, BLK_HDR_SIZE, seg, len) != len)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < nseg; i++) {
		uint64_t sector = get_le64(seg[i]);
		uint32_t num = get_le32(seg[i] + 8);
		uint32_t flags = get_le32(seg[i] + 12);
		/* 5.2.6.2: unknown flags, or unmap on a discard, are unsupported. */
		if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (type == VIRTIO_BLK_T_DISCARD && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > BLK_DWZ_MAX_SECTORS || !range_ok(b, sector, num))
			return VIRTIO_BLK_S_IOERR;
	}
	for (unsigned i = 0; i < nseg; i++) {
		uint64_t off = get_le64(seg[i]) * VIRTIO_BLK_SECTOR_SIZE;
		uint64_t bytes = (uint64_t)get_le32(seg[i] + 8) * VIRTIO_BLK_SECTOR_SIZE;
		bool unmap = get_le32(seg[i] + 12) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		int err = type == VIRTIO_BLK_T_DISCARD
			      ? blk_file_discard(b->file, off, bytes)
			      : blk_file_write_zeroes(b->file, off, bytes, unmap);
		if (err)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Carry out one request whose status byte exists; returns the status. */
static uint8_t do_request(struct virtio_blk *b, const struct virtq_req *req)
{
	uint8_t hdr[BLK_HDR_SIZE];

	if (req->out_len < BLK_HDR_SIZE || virtq_read(req, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	uint32_t type = get_le32(hdr);
	uint64_t sector = get_le64(hdr + 8);
	uint8_t st;
	uint64_t *count = NULL, *bytes = NULL, n = 0;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		st = do_read(b, req, sector);
		count = &b->stats.reads, bytes = &b->stats.read_bytes, n = req->in_len - 1;
		break;
	case VIRTIO_BLK_T_OUT:
		st = do_write(b, req, sector);
		count = &b->stats.writes, bytes = &b->stats.write_bytes;
		n = req->out_len - BLK_HDR_SIZE;
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = blk_file_flush(b->file) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		count = &b->stats.flushes;
		break;
	case VIRTIO_BLK_T_GET_ID: st = do_get_id(b, req); break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: st = do_discard_write_zeroes(b, req, type); break;
	default: st = VIRTIO_BLK_S_UNSUPP; break;
	}
	if (st != VIRTIO_BLK_S_OK) {
		__atomic_add_fetch(&b->stats.errors, 1, __ATOMIC_RELAXED);
	} else if (count) {
		__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
		if (bytes)
			__atomic_add_fetch(bytes, n, __ATOMIC_RELAXED);
	}
	return st;
}

/* Handle a request and return the used length. The status is the last writable byte; a
 * chain without one cannot be answered and is returned with nothing written. The used
 * length covers every writable byte so that the driver may read the status (2.7.8.1); on
 * failure the data bytes before it are left as they were. */
static uint32_t handle(struct virtio_blk *b, const struct virtq_req *req)
{
	if (req->in_len == 0)
		return 0;
	uint8_t status = do_request(b, req);
	virtq_write(req, req->in_len - 1, &status, 1);
	return req->in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)req->in_len;
}

/* Pop requests into free slots until the ring is empty or the slots are full. Only one
 * thread fills at a time; a caller that finds another filling asks it to look again. The
 * lock is dropped around virtio_pop, which takes the transport lock: reset runs under
 * the transport lock and takes ours, so ours is never held while taking the transport's. */
static void fill(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->lock);
	if (b->filling || b->stop) {
		b->more = true;
		pthread_mutex_unlock(&b->lock);
		return;
	}
	b->filling = true;
	for (;;) {
		int r = 1;
		b->more = false;
		while (b->count < VIRTIO_BLK_QUEUE_DEPTH && !b->stop) {
			/* The worker frees slot[head] only when done with it, so this slot is
			 * unused, and only this filler writes free slots. */
			struct virtq_req *req =
			    &b->slot[(b->head + b->count) % VIRTIO_BLK_QUEUE_DEPTH];
			struct virtio_transport *t = b->t;
			pthread_mutex_unlock(&b->lock);
			r = virtio_pop(t, 0, req);
			pthread_mutex_lock(&b->lock);
			if (r <= 0)
				break;
			/* A reset may have come before the pop or after it; the request's queue
			 * epoch tells which. Popped before: the driver has forgotten it. Popped
			 * after: it is the new rings' and must be served. */
			if ((int32_t)(req->epoch - b->qepoch) < 0)
				continue;
			/* The reset emptied the slots meanwhile: the request goes in the first. */
			struct virtq_req *slot =
			    &b->slot[(b->head + b->count) % VIRTIO_BLK_QUEUE_DEPTH];
			if (slot != req)
				memcpy(slot, req, sizeof(*slot));
			b->count++;
			pthread_cond_signal(&b->work);
		}
		if (b->count == VIRTIO_BLK_QUEUE_DEPTH) {
			b->more = true; /* the worker refills when a slot frees */
			break;
		}
		if (r < 0 || b->stop || !b->more)
			break;
	}
	b->filling = false;
	pthread_cond_broadcast(&b->idle); /* virtio_blk_quiesce waits for filling to end */
	pthread_mutex_unlock(&b->lock);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *cfg)
{
	pthread_mutex_lock(&b->lock);
	b->limited = rate_limiter_active(cfg);
	rate_limiter_init(&b->limiter, cfg, monotonic_ns());
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
}

void virtio_blk_quiesce(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->lock);
	b->draining = true;
	pthread_cond_broadcast(&b->work);
	/* The worker refills the slots from the ring (finishing) until it finds the ring empty;
	 * a fill that ends with requests in the slots leaves them to it. */
	while (b->count || b->busy || b->finishing || b->filling)
		pthread_cond_wait(&b->idle, &b->lock);
	b->draining = false;
	pthread_mutex_unlock(&b->lock);
}

void virtio_blk_set_paused(struct virtio_blk *b, bool paused)
{
	pthread_mutex_lock(&b->lock);
	b->paused = paused;
	pthread_cond_broadcast(&b->work);
	while (paused && b->busy)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

static void build_config(struct virtio_blk *b);

int virtio_blk_set_file(struct virtio_blk *b, struct blk_file *file)
{
	if (file->readonly != b->readonly)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	/* The worker reads b->file only while busy, and takes the lock to become busy. */
	while (b->busy)
		pthread_cond_wait(&b->idle, &b->lock);
	b->file = file;
	b->capacity = file->size / VIRTIO_BLK_SECTOR_SIZE;
	build_config(b);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void *worker_main(void *opaque)
{
	struct virtio_blk *b = opaque;
	seccomp_enter(SECCOMP_DEVICE);

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while ((b->count == 0 || (b->paused && !b->draining)) && !b->stop)
			pthread_cond_wait(&b->work, &b->lock);
		if (b->count == 0)
			break; /* stopped, and every request taken has been completed */
		struct virtq_req *req = &b->slot[b->head];
		if (b->limited && !b->stop && !b->draining) {
			/* The request's data bytes, and one operation: wait for the tokens asleep,
			 * then look again (a reset, a pause or a new limit may have come). */
			uint64_t bytes =
			    (req->out_len > BLK_HDR_SIZE ? req->out_len - BLK_HDR_SIZE : 0) +
			    (req->in_len > 1 ? req->in_len - 1 : 0);
			uint64_t wait = rate_limiter_take(&b->limiter, bytes, monotonic_ns());
			if (wait) {
				__atomic_add_fetch(&b->stats.throttled, 1, __ATOMIC_RELAXED);
				struct timespec ts; /* b->work waits on CLOCK_REALTIME */
				clock_gettime(CLOCK_REALTIME, &ts);
				uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull +
					      (uint64_t)ts.tv_nsec + wait;
				ts.tv_sec = (time_t)(at / 1000000000ull);
				ts.tv_nsec = (long)(at % 1000000000ull);
				pthread_cond_timedwait(&b->work, &b->lock, &ts);
				continue;
			}
		}
		uint64_t epoch = b->epoch;
		struct virtio_transport *t = b->t;
		b->busy = true;
		pthread_mutex_unlock(&b->lock);

		uint32_t len = handle(b, req);
		uint16_t head = req->head;
		uint32_t qepoch = req->epoch;

		pthread_mutex_lock(&b->lock);
		b->busy = false;
		pthread_cond_broadcast(&b->idle);
		/* After a reset the request belongs to no ring any more: drop it. */
		bool current = epoch == b->epoch;
		if (current) {
			b->head = (b->head + 1) % VIRTIO_BLK_QUEUE_DEPTH;
			b->count--;
		}
		bool refill = current && b->more && !b->stop;
		b->finishing = current;
		pthread_mutex_unlock(&b->lock);
		if (current)
			virtio_complete(t, 0, qepoch, head, len);
		if (refill)
			fill(b);
		pthread_mutex_lock(&b->lock);
		if (b->finishing) {
			b->finishing = false;
			pthread_cond_broadcast(&b->idle);
		}
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Runs under the transport lock; b->lock is taken after it, as in blk_reset. */
static uint32_t blk_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_blk *b = opaque;
	uint32_t v = 0;
	if (size > 4 || off > sizeof(b->config) || size > sizeof(b->config) - off)
		return 0;
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)b->config[off + i] << (8 * i);
	pthread_mutex_unlock(&b->lock);
	return v;
}

/* writeback is the only writable field, and only with VIRTIO_BLK_F_CONFIG_WCE, which is not
 * offered: writes are ignored. */
static void blk_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	(void)opaque;
	(void)off;
	(void)size;
	(void)val;
}

static void blk_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_blk *b = opaque;
	if (q != 0)
		return;
	pthread_mutex_lock(&b->lock);
	b->t = t;
	pthread_mutex_unlock(&b->lock);
	fill(b);
}

/* Forget queued requests. The one under I/O is waited for, so nothing touches guest memory
 * after the reset; its completion is then dropped by the worker. A completion already past
 * that check reaches the transport after the reset, which drops it: the request's queue
 * epoch is over. */
static void blk_reset(void *opaque)
{
	struct virtio_blk *b = opaque;
	pthread_mutex_lock(&b->lock);
	b->epoch++;
	/* The transport has reset its queues (this runs under its lock, after): requests popped
	 * from now on carry this queue epoch, those popped before an older one. */
	if (b->t)
		b->qepoch = b->t->vq[0].epoch;
	while (b->busy)
		pthread_cond_wait(&b->idle, &b->lock);
	b->head = 0;
	b->count = 0;
	b->more = false;
	pthread_mutex_unlock(&b->lock);
}

/* Loaded from a snapshot: t is the disk's transport. */
static void blk_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_blk *b = opaque;
	pthread_mutex_lock(&b->lock);
	b->t = t;
	pthread_mutex_unlock(&b->lock);
}

static void build_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;
	memset(c, 0, sizeof(b->config));
	put_le(c + CFG_CAPACITY, b->capacity, 8);
	put_le(c + CFG_SEG_MAX, BLK_SEG_MAX, 4);
	put_le(c + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE, 4);
	put_le(c + CFG_NUM_QUEUES, 1, 2);
	if (!b->readonly) {
		put_le(c + CFG_MAX_DISCARD_SECTORS, BLK_DWZ_MAX_SECTORS, 4);
		put_le(c + CFG_MAX_DISCARD_SEG, BLK_DWZ_MAX_SEG, 4);
		put_le(c + CFG_DISCARD_SECTOR_ALIGNMENT, BLK_DISCARD_ALIGN, 4);
		put_le(c + CFG_MAX_WRITE_ZEROES_SECTORS, BLK_DWZ_MAX_SECTORS, 4);
		put_le(c + CFG_MAX_WRITE_ZEROES_SEG, BLK_DWZ_MAX_SEG, 4);
		/* unmap punches holes: a write-zeroes may deallocate (5.2.6.2). */
		c[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
	}
}

int virtio_blk_init(struct virtio_blk *b, struct blk_file *file, const char *id,
		    struct virtio_dev *dev)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->file = file;
	b->readonly = file->readonly;
	b->capacity = file->size / VIRTIO_BLK_SECTOR_SIZE;
	/* NUL-padded by the memset, unterminated when 20 bytes long (5.2.6). */
	if (id)
		memcpy(b->id, id, strnlen(id, sizeof(b->id)));
	build_config(b);

	b->slot = calloc(VIRTIO_BLK_QUEUE_DEPTH, sizeof(*b->slot));
	b->iov = calloc(VIRTQ_MAX_SEGS, sizeof(*b->iov));
	if (!b->slot || !b->iov) {
		err = -ENOMEM;
		goto fail_mem;
	}
	err = -pthread_mutex_init(&b->lock, NULL);
	if (err)
		goto fail_mem;
	err = -pthread_cond_init(&b->work, NULL);
	if (err)
		goto fail_lock;
	err = -pthread_cond_init(&b->idle, NULL);
	if (err)
		goto fail_work;
	err = -pthread_create(&b->worker, NULL, worker_main, b);
	if (err)
		goto fail_idle;

	uint64_t features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRTIO_BLK_F_FLUSH;
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	*dev = (struct virtio_dev){
	    .device_id = VIRTIO_ID_BLOCK,
	    .features = features,
	    .num_queues = 1,
	    .config_size = sizeof(b->config),
	    .opaque = b,
	    .config_read = blk_config_read,
	    .config_write = blk_config_write,
	    .queue_notify = blk_queue_notify,
	    .reset = blk_reset,
	    .restored = blk_restored,
	};
	return 0;

fail_idle:
	pthread_cond_destroy(&b->idle);
fail_work:
	pthread_cond_destroy(&b->work);
fail_lock:
	pthread_mutex_destroy(&b->lock);
fail_mem:
	free(b->iov);
	free(b->slot);
	b->iov = NULL;
	b->slot = NULL;
	return err;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b->slot)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->worker, NULL);
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	free(b->iov);
	free(b->slot);
	b->iov = NULL;
	b->slot = NULL;
}
