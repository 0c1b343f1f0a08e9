/* Zero-length buffers: a lone zero-length writable descriptor, then a chain of eight of them,
 * on virtio-rng. A well-formed if useless request: each is returned with used length 0 and
 * the device stays healthy (no DEVICE_NEEDS_RESET). */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 16);
	uint8_t *buf = alloc(64, 64);
	q.desc[0] = (struct vdesc){(uint64_t)buf, 0, D_WRITE, 0};
	for (unsigned i = 1; i < 9; i++)
		q.desc[i] = (struct vdesc){(uint64_t)buf, 0, D_WRITE | (i < 8 ? D_NEXT : 0),
					   (uint16_t)(i + 1)};
	vq_kick(base, &q, 0);
	vq_kick(base, &q, 1);
	CHECK_EQ(vq_wait(&q, 2, 5000), 2);
	CHECK_EQ(vq_used_len(&q, 0), 0);
	CHECK_EQ(vq_used_len(&q, 1), 0);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, 0);
	rng_sanity(base);
}
