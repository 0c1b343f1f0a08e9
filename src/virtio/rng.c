/* virtio-rng (virtio 1.2 section 5.4): each request's device-writable segments are filled
 * from getrandom(2), on the vCPU thread that notified; the host's entropy pool never blocks
 * once booted, so no worker thread is needed. */
#include "virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "virtio/transport.h"

/* Fill up to len bytes at p with random data; returns the bytes filled. */
static uint32_t fill_random(uint8_t *p, uint32_t len)
{
	uint32_t done = 0;
	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (uint32_t)n;
	}
	return done;
}

/* Fill len bytes at p from the generator state *s (xorshift64*); returns len. */
static uint32_t fill_prng(uint64_t *s, uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		*s ^= *s >> 12;
		*s ^= *s << 25;
		*s ^= *s >> 27;
		p[i] = (uint8_t)((*s * 0x2545f4914f6cdd1dull) >> 56);
	}
	return len;
}

/* Fill the request's writable segments in order, at most VIRTIO_RNG_MAX_BYTES; returns the
 * bytes written, which are the first bytes of the writable part (2.7.8.2). */
static uint32_t serve(struct virtio_rng *r, const struct virtq_req *req)
{
	uint32_t total = 0;
	for (unsigned i = 0; i < req->nin && total < VIRTIO_RNG_MAX_BYTES; i++) {
		uint32_t want = req->in[i].len;
		if (want > VIRTIO_RNG_MAX_BYTES - total)
			want = VIRTIO_RNG_MAX_BYTES - total;
		uint32_t got = r->prng ? fill_prng(&r->prng, req->in[i].hva, want)
				       : fill_random(req->in[i].hva, want);
		total += got;
		if (got < want)
			break;
	}
	return total;
}

static void rng_queue_notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct virtio_rng *r = opaque;
	if (q != 0)
		return;
	pthread_mutex_lock(&r->lock);
	r->t = t;
	/* A malformed chain (-EINVAL) has made the transport flag the device for reset. */
	while (virtio_pop(t, 0, &r->req) > 0)
		virtio_complete(t, 0, r->req.epoch, r->req.head, serve(r, &r->req));
	pthread_mutex_unlock(&r->lock);
}

/* No configuration space: never called with config_size 0, answered with 0 regardless. */
static uint32_t rng_config_read(void *opaque, uint32_t off, unsigned size)
{
	(void)opaque;
	(void)off;
	(void)size;
	return 0;
}

static void rng_config_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	(void)opaque;
	(void)off;
	(void)size;
	(void)val;
}

/* Requests are served to completion within the notification: nothing is in flight. */
static void rng_reset(void *opaque)
{
	(void)opaque;
}

static void rng_restored(void *opaque, struct virtio_transport *t)
{
	struct virtio_rng *r = opaque;
	pthread_mutex_lock(&r->lock);
	r->t = t;
	pthread_mutex_unlock(&r->lock);
}

int virtio_rng_init(struct virtio_rng *r, struct virtio_dev *dev)
{
	memset(r, 0, sizeof(*r));
	int err = pthread_mutex_init(&r->lock, NULL);
	if (err)
		return -err;
	*dev = (struct virtio_dev){
	    .device_id = VIRTIO_ID_ENTROPY,
	    .features = 0,
	    .num_queues = 1,
	    .config_size = 0,
	    .opaque = r,
	    .config_read = rng_config_read,
	    .config_write = rng_config_write,
	    .queue_notify = rng_queue_notify,
	    .reset = rng_reset,
	    .restored = rng_restored,
	};
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	pthread_mutex_destroy(&r->lock);
}
