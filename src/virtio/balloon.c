/* virtio-balloon (virtio 1.2 section 5.5; see balloon.h). Page frames come from the guest:
 * each is checked to be a whole 4 KiB page of guest RAM before its memory is punched out of
 * the RAM's memfd (fallocate PUNCH_HOLE), which gives it back to the host and leaves zeroes
 * for the guest's next touch. Lock order: b->lock, then the transport's; the callbacks
 * that run under the transport's (configuration, reset) take no lock (atomics). */
#include "virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "virtio/transport.h"

#define PAGE       4096u
#define PFN_SZ     4u  /* le32 page frame numbers on the inflate and deflate queues */
#define STAT_SZ    10u /* struct virtio_balloon_stat: le16 tag, le64 value, packed */
#define NUM_QUEUES 4

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint32_t balloon_config_read(void *opaque, uint32_t off, unsigned size)
{
	struct virtio_balloon *b = opaque;
	uint32_t cfg[2] = {htole32(load32(&b->target_pages)), htole32(load32(&b->actual_pages))};
	uint32_t v = 0;
	memcpy(&v, (uint8_t *)cfg + off, size); /* within config_size: the transport checked */
	return v;
}

static void balloon_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_balloon *b = opaque;
	if (off == 4 && size == 4) /* actual; num_pages is the device's */
		__atomic_store_n(&b->actual_pages, le32toh(val), __ATOMIC_RELAXED);
}

/* Give [off, off + len) of RAM (offsets, page aligned) back to the host. */
static void give_back(struct virtio_balloon *b, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	/* Translated code on those pages must be seen to change, as after a DMA write. */
	atomic_fetch_add_explicit(&b->mem->dma_writes, 1, memory_order_release);
	/* A hole in the RAM memfd, or, on a restored VM's copy-on-write mapping of its memory
	 * file, the private copies dropped (the file is never written). */
	guest_mem_discard(b->mem, b->mem->base + off, len);
}

/* An inflate request: page frames to give back, coalesced into runs. Returns the pages. */
static uint64_t inflate(struct virtio_balloon *b, const struct virtq_req *req)
{
	uint64_t run_off = 0, run_len = 0, pages = 0;
	for (uint64_t pos = 0; pos + PFN_SZ <= req->out_len; pos += PFN_SZ) {
		uint32_t pfn;
		virtq_read(req, pos, &pfn, sizeof(pfn));
		uint64_t gpa = (uint64_t)le32toh(pfn) * PAGE;
		if (!guest_mem_ptr(b->mem, gpa, PAGE))
			continue; /* not RAM: nothing to give */
		uint64_t off = gpa - b->mem->base;
		if (run_len && off == run_off + run_len) {
			run_len += PAGE;
		} else {
			give_back(b, run_off, run_len);
			run_off = off;
			run_len = PAGE;
		}
		pages++;
	}
	give_back(b, run_off, run_len);
	return pages;
}

/* A free page report: its device-writable buffers are free guest memory. */
static uint64_t report(struct virtio_balloon *b, const struct virtq_req *req)
{
	uint64_t pages = 0;
	for (unsigned i = 0; i < req->nin; i++) {
		uint64_t off = (uint64_t)((uint8_t *)req->in[i].hva - b->mem->hva);
		uint64_t start = (off + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		uint64_t end = (off + req->in[i].len) & ~(uint64_t)(PAGE - 1);
		if (end > start) {
			give_back(b, start, end - start);
			pages += (end - start) / PAGE;
		}
	}
	return pages;
}

/* A statistics buffer: (tag, value) pairs; unknown tags are skipped. */
static void take_stats(struct virtio_balloon *b, const struct virtq_req *req)
{
	for (uint64_t pos = 0; pos + STAT_SZ <= req->out_len; pos += STAT_SZ) {
		uint8_t s[STAT_SZ];
		virtq_read(req, pos, s, sizeof(s));
		uint16_t tag = (uint16_t)(s[0] | s[1] << 8);
		uint64_t v;
		memcpy(&v, s + 2, 8);
		if (tag < VIRTIO_BALLOON_S_NR) {
			b->stats.value[tag] = le64toh(v);
			b->stats.have[tag] = true;
		}
	}
	b->stats_updates++;
}

static void balloon_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_balloon *b = opaque;
	pthread_mutex_lock(&b->lock);
	b->t = t;
	if (q == BALLOON_Q_STATS) {
		/* The driver adds one buffer and waits: hold it until new figures are wanted. */
		struct virtq_req *req = &b->req;
		while (virtio_pop(t, q, req) > 0) {
			take_stats(b, req);
			if (b->have_stats_req) /* a second one: return the older */
				virtio_complete(t, q, b->stats_req.epoch, b->stats_req.head, 0);
			b->stats_req = *req;
			b->have_stats_req = true;
		}
	} else if (q <= BALLOON_Q_REPORTING) {
		while (virtio_pop(t, q, &b->req) > 0) {
			if (q == BALLOON_Q_INFLATE)
				b->inflated += inflate(b, &b->req);
			else if (q == BALLOON_Q_REPORTING)
				b->reported += report(b, &b->req);
			/* Deflated pages need nothing: the guest may use them again at once
			 * (VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered). */
			virtio_complete(t, q, b->req.epoch, b->req.head, 0);
		}
	}
	pthread_mutex_unlock(&b->lock);
}

/* Driver reset, with the transport lock held, so b->lock is not taken (notifications take
 * it, then the transport's). A statistics request still held belongs to the old rings: its
 * completion carries the old epoch and is dropped. */
static void balloon_reset(void *opaque)
{
	struct virtio_balloon *b = opaque;
	__atomic_store_n(&b->actual_pages, 0, __ATOMIC_RELAXED);
}

/* Loaded from a snapshot: t is the balloon's transport. */
static void balloon_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_balloon *b = opaque;
	pthread_mutex_lock(&b->lock);
	b->t = t;
	pthread_mutex_unlock(&b->lock);
}

int virtio_balloon_init(struct virtio_balloon *b, struct guest_mem *mem, uint32_t amount_mib,
			bool deflate_on_oom, struct virtio_dev *dev)
{
	memset(b, 0, sizeof(*b));
	b->mem = mem;
	b->target_pages = amount_mib * (1u << 20) / PAGE;
	b->deflate_on_oom = deflate_on_oom;
	int rc = -pthread_mutex_init(&b->lock, NULL);
	if (rc)
		return rc;
	*dev = (struct virtio_dev){
	    .device_id = VIRTIO_ID_BALLOON,
	    .features = (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
			(1ull << VIRTIO_BALLOON_F_PAGE_REPORTING) |
			(deflate_on_oom ? 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0),
	    .num_queues = NUM_QUEUES,
	    .config_size = 8,
	    .opaque = b,
	    .config_read = balloon_config_read,
	    .config_write = balloon_config_write,
	    .queue_notify = balloon_queue_notify,
	    .reset = balloon_reset,
	    .restored = balloon_restored};
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	pthread_mutex_destroy(&b->lock);
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib)
{
	__atomic_store_n(&b->target_pages, amount_mib * (1u << 20) / PAGE, __ATOMIC_RELAXED);
	pthread_mutex_lock(&b->lock);
	struct virtio_transport *t = b->t;
	pthread_mutex_unlock(&b->lock);
	if (t)
		virtio_config_changed(t);
}

void virtio_balloon_size(struct virtio_balloon *b, uint32_t *target_mib, uint32_t *actual_mib,
			 uint64_t *returned_pages)
{
	*target_mib = load32(&b->target_pages) / ((1u << 20) / PAGE);
	*actual_mib = load32(&b->actual_pages) / ((1u << 20) / PAGE);
	pthread_mutex_lock(&b->lock);
	*returned_pages = b->inflated + b->reported;
	pthread_mutex_unlock(&b->lock);
}

uint64_t virtio_balloon_stats(struct virtio_balloon *b, bool refresh,
			      struct virtio_balloon_stats *out)
{
	pthread_mutex_lock(&b->lock);
	if (refresh && b->have_stats_req && b->t) {
		/* Returning the buffer asks the driver to refill it with fresh figures. */
		b->have_stats_req = false;
		virtio_complete(b->t, BALLOON_Q_STATS, b->stats_req.epoch, b->stats_req.head, 0);
	}
	*out = b->stats;
	uint64_t n = b->stats_updates;
	pthread_mutex_unlock(&b->lock);
	return n;
}
