/* A writable buffer of 0xffffffff bytes starting in RAM (so it runs past its end) on
 * virtio-rng: DEVICE_NEEDS_RESET, a configuration change interrupt, nothing returned, no byte
 * of RAM after the buffer's first page touched; a reset recovers. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	uint8_t *buf = alloc(4096, 4096);
	memset_(buf, 0x5a, 4096);
	q.desc[0] = (struct vdesc){(uint64_t)buf, 0xffffffffu, D_WRITE, 0};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	for (unsigned i = 0; i < 4096; i++)
		CHECK_EQ(buf[i], 0x5a);
	rng_sanity(base);
}
