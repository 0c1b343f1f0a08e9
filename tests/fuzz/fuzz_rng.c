/* libFuzzer target for virtio-rng (virtio 1.2 section 5.4) behind the virtio-mmio transport.
 * The input is described in fuzz_common.h (no target flags, data or operations of its own).
 * Checks besides those of fuzz_common.h: every request with a writable part gets at least
 * one random byte (5.4.6.1) and at most VIRTIO_RNG_MAX_BYTES; the device has no
 * configuration space, so configuration reads return 0. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "virtio/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct virtio_rng rng;

static void rng_used(void *opaque, unsigned q, uint16_t head, uint32_t len,
		     const struct fz_chain *c)
{
	(void)opaque;
	(void)q;
	(void)head;
	FZ_CHECK(c->in_len == 0 || len > 0, "no random bytes in a buffer of %llu",
		 (unsigned long long)c->in_len);
	FZ_CHECK(len <= VIRTIO_RNG_MAX_BYTES, "%u random bytes in one request", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_begin(data, size))
		return 0;
	struct virtio_dev dev;
	if (virtio_rng_init(&rng, &dev))
		abort();
	const struct fz_target tg = {
	    .nops = FZ_OP_TARGET,
	    .used = rng_used,
	};
	fz_attach(&dev, 1);
	fz_run(&tg);
	fz_finish(&tg);
	fz_detach();
	virtio_rng_destroy(&rng);
	return 0;
}
