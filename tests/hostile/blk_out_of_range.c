/* virtio-blk requests outside the disk: a write at sector = capacity, one straddling the end,
 * one at sector 2^63 (offset overflow), a read at 2^64 - 1, a write whose length is not a
 * whole sector, and an unknown request type. Each is refused with its status byte
 * (VIRTIO_BLK_S_IOERR, or VIRTIO_BLK_S_UNSUPP for the type: virtio 1.2 5.2.6), completed, and
 * the image file does not grow (test_hostile.py checks its size). */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_BLK);
	CHECK(base);
	static struct vq q;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	uint64_t cap = vr(base, VM_CONFIG) | (uint64_t)vr(base, VM_CONFIG + 4) << 32;
	CHECK(cap > 0);
	CHECK_EQ(vq_setup(base, &q, 0, 32), 1);
	vdriver_ok(base);
	struct blk_hdr *hdr = alloc(sizeof(struct blk_hdr) * 8, 16);
	volatile uint8_t *st = alloc(8, 8);
	uint8_t *data = alloc(4096, 4096);
	blk_put(&q, 0, &hdr[0], BLK_T_OUT, cap, data, 512, &st[0]);
	blk_put(&q, 1, &hdr[1], BLK_T_OUT, cap - 1, data, 1024, &st[1]);
	blk_put(&q, 2, &hdr[2], BLK_T_OUT, 1ull << 63, data, 512, &st[2]);
	blk_put(&q, 3, &hdr[3], BLK_T_IN, ~0ull, data, 512, &st[3]);
	blk_put(&q, 4, &hdr[4], BLK_T_OUT, 0, data, 100, &st[4]);
	blk_put(&q, 5, &hdr[5], 0x7fffffff, 0, data, 512, &st[5]);
	vw(base, VM_QUEUE_NOTIFY, 0);
	CHECK_EQ(vq_wait(&q, 6, 5000), 6);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(st[i], BLK_S_IOERR);
	CHECK_EQ(st[5], 2); /* VIRTIO_BLK_S_UNSUPP */
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, 0);
}
