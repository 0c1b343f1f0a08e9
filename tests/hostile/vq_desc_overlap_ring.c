/* A virtio-rng request whose writable buffer covers the queue's own descriptor table, avail
 * and used rings (one 4 KiB block holding all three): the driver corrupts its own queue,
 * which the device may not trust afterwards. rvisor must either complete the request or set
 * DEVICE_NEEDS_RESET, touch nothing outside the block, and work after a reset. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	uint8_t *block = alloc(8192, 4096);
	uint8_t *guard = block + 4096;
	memset_(guard, 0xa5, 4096);
	q.desc = (volatile struct vdesc *)block;
	q.avail = (volatile uint16_t *)(block + 0x100);
	q.used = (volatile uint32_t *)(block + 0x200);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	q.desc[0] = (struct vdesc){(uint64_t)block, 4096, D_WRITE, 0};
	vq_kick(base, &q, 0);
	/* Either outcome, but one of them within 5 s. The used idx may itself be random now. */
	uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
	while (!(vr(base, VM_STATUS) & ST_NEEDS_RESET) && !(vr(base, VM_INT_STATUS) & INT_VRING) &&
	       (int64_t)(now_ticks() - end) < 0)
		;
	CHECK(vr(base, VM_INT_STATUS) != 0);
	for (unsigned i = 0; i < 4096; i++)
		CHECK_EQ(guard[i], 0xa5);
	/* More requests on the corrupted ring: whatever they say, no harm beyond the block. */
	for (unsigned i = 0; i < 32; i++)
		vw(base, VM_QUEUE_NOTIFY, 0);
	delay_us(2000);
	for (unsigned i = 0; i < 4096; i++)
		CHECK_EQ(guard[i], 0xa5);
	rng_sanity(base);
}
