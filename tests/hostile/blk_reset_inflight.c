/* Device reset while the disk's worker has requests in flight: 40 requests (64 KiB writes,
 * reads and flushes) published and notified, then Status = 0 at once. The reset completes
 * when Status reads 0 (virtio 1.2 2.4.2), and from then on the device may neither consume
 * buffers nor write the old rings or buffers: the used ring, status bytes and read buffers,
 * poisoned after the reset, stay poisoned. Then the device works again. Repeated 5 times. */
#include "hostile.h"

#define NREQ  40
#define CHUNK 65536

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_BLK);
	CHECK(base);
	static struct vq q;
	struct blk_hdr *hdr = alloc(sizeof(struct blk_hdr) * NREQ, 16);
	volatile uint8_t *status = alloc(NREQ, 8);
	uint8_t *data = alloc((uint64_t)4 * CHUNK, 4096);
	for (unsigned round = 0; round < 5; round++) {
		q = (struct vq){0};
		q.desc = alloc(16 * 128, 4096);
		q.avail = alloc(4096, 4096);
		q.used = alloc(4096, 4096);
		CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
		CHECK_EQ(vq_setup(base, &q, 0, 128), 1);
		vdriver_ok(base);
		for (unsigned i = 0; i < NREQ; i++) {
			uint32_t type = i % 3 == 0   ? BLK_T_OUT
					: i % 3 == 1 ? BLK_T_IN
						     : BLK_T_FLUSH;
			blk_put(&q, i, &hdr[i], type, (uint64_t)(i % 16) * (CHUNK / 512),
				type == BLK_T_FLUSH ? 0 : data + (i % 4) * CHUNK,
				type == BLK_T_FLUSH ? 0 : CHUNK, &status[i]);
		}
		vw(base, VM_QUEUE_NOTIFY, 0);
		delay_us(round * 300);
		vw(base, VM_STATUS, 0);
		CHECK_EQ(vr(base, VM_STATUS), 0);
		/* Poison everything the device could still write. */
		memset_((void *)q.used, 0xee, 4096);
		memset_((void *)status, 0xee, NREQ);
		memset_(data, 0xee, (uint64_t)4 * CHUNK);
		delay_us(20000);
		for (unsigned i = 0; i < 4096 / 4; i++)
			CHECK_EQ(q.used[i], 0xeeeeeeee);
		for (unsigned i = 0; i < NREQ; i++)
			CHECK_EQ(status[i], 0xee);
		for (uint64_t i = 0; i < (uint64_t)4 * CHUNK; i += 512)
			CHECK_EQ(data[i], 0xee);
	}
	/* A good write and read back. */
	q = (struct vq){0};
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 16), 1);
	vdriver_ok(base);
	for (unsigned i = 0; i < 512; i++)
		data[i] = (uint8_t)(i * 7);
	blk_put(&q, 0, &hdr[0], BLK_T_OUT, 3, data, 512, &status[0]);
	vw(base, VM_QUEUE_NOTIFY, 0);
	CHECK_EQ(vq_wait(&q, 1, 5000), 1);
	CHECK_EQ(status[0], BLK_S_OK);
	memset_(data + 512, 0, 512);
	blk_put(&q, 1, &hdr[1], BLK_T_IN, 3, data + 512, 512, &status[1]);
	vw(base, VM_QUEUE_NOTIFY, 0);
	CHECK_EQ(vq_wait(&q, 2, 5000), 2);
	CHECK_EQ(status[1], BLK_S_OK);
	for (unsigned i = 0; i < 512; i++)
		CHECK_EQ(data[512 + i], (uint8_t)(i * 7));
}
